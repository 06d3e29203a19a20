//! The built-in DOCX templates, one per document kind, written with docx-rs at start: the same
//! Decree-30 page as the Typst templates (templates/typst/), with Tera tags where the PDF places
//! a value of the context. They are ordinary Word files: `templates export` writes them out for an
//! office to reword in Word or LibreOffice, and the filler fills them like any other.
//!
//! The wording of every fixed sentence comes from the wording file (loi-van.toml, the office's
//! or the built-in one), placed as it is, Tera tags and all; the PDF renders the same sentences
//! (wording.rs). Nothing here formats a figure, it only places the context's ready-made strings.

use std::io::Cursor;

use docx_rs::{
    AlignmentType, BorderType, Docx, Header, LineSpacing, LineSpacingType, PageMargin, PageNum,
    Paragraph, ParagraphBorder, ParagraphBorderPosition, ParagraphBorders, Run, RunFonts,
    SpecialIndentType, Table, TableBorder, TableBorderPosition, TableBorders, TableCell,
    TableCellMargins, TableLayoutType, TableRow, VAlignType, WidthType,
};

use super::schema;
use crate::model::DocumentKind;
use crate::render::wording::Wording;

/// Decree 30 prescribes Times New Roman (Phụ lục I); Word and LibreOffice substitute a
/// metric-compatible face where it is missing.
const FONT: &str = "Times New Roman";

/// Twips (1/1440 inch) from millimetres.
const fn mm(v: u32) -> u32 {
    // Rounded: v / 25.4 * 1440 = v * 14400 / 254.
    (v * 14400 + 127) / 254
}

/// A4 portrait, in twips.
const PAGE_W: u32 = 11906;
const PAGE_H: u32 = 16838;
const MARGIN_TOP: u32 = mm(20);
const MARGIN_BOTTOM: u32 = mm(20);
const MARGIN_LEFT: u32 = mm(30);
const MARGIN_RIGHT: u32 = mm(15);
/// The page number sits in the top margin (Decree 30: centred in the top margin, from page 2).
const HEADER_DISTANCE: u32 = mm(8);
/// Text width: 210 - 30 - 15 = 165 mm.
const TEXT_W: u32 = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT;
/// Word's default left and right cell margin (0.19 cm); the rules are centred inside it.
const CELL_MARGIN: u32 = 108;

/// Sizes in half-points, as `w:sz` wants them.
const BODY: usize = 28; // 14 pt
const HEAD_SMALL: usize = 24; // 12 pt: issuing body, national motto
const HEAD_LARGE: usize = 26; // 13 pt: slogan, place and date
const NUMBER: usize = 26; // 13 pt: "Số: ..." (fixed by the decree)
const VV: usize = 24; // 12 pt: "V/v ..." of a công văn
const TABLE: usize = 24; // 12 pt: tables of figures
const RECIPIENTS_LABEL: usize = 24; // 12 pt bold italic: "Nơi nhận:"
const RECIPIENTS: usize = 22; // 11 pt: its items

/// Body line spacing: 1.1 lines, close to the PDF's 1.25 em pitch and within the decree's
/// single-to-1.5 range; 6 pt after every paragraph (the decree's minimum).
const BODY_LINE: i32 = 264;
const AFTER: u32 = 120;
/// First-line indent of body paragraphs: 1 cm.
const INDENT: i32 = mm(10) as i32;

/// Header table: the left column is 40% of the text width, as in the PDF, plus the gutter.
const HEAD_LEFT: u32 = mm(68);
/// With a long place ("Thành phố Hồ Chí Minh, ngày … tháng … năm …") the date line needs more
/// than 60%: the left column narrows to 35% plus the gutter, as HCMC offices set it
/// (`header.wide_date`, chosen in context.rs by measuring the line; nd30.typ does the same).
const HEAD_LEFT_WIDE: u32 = mm(60);
/// Signature table: "Nơi nhận" on the left (45%), signature on the right.
const SIGN_LEFT: u32 = mm(74);
const SIGN_RIGHT: u32 = TEXT_W - SIGN_LEFT;

/// The lengths, in mm, a measured rule (under the issuing body, under the excerpt) can take in
/// the DOCX: Word cannot measure text, so vanban measures it (context.rs, with the shipped
/// fonts) and the template holds one rule per even length, the context choosing one. Rounding
/// to 2 mm keeps 0.4 of a line within the decree's 1/3-1/2 for any line over 15 mm.
const RULE_LENGTHS_MM: std::ops::RangeInclusive<u32> = 3..=32;
/// Rule under the slogan: as long as "Độc lập - Tự do - Hạnh phúc" at 13 pt bold (56 mm).
const SLOGAN_RULE: u32 = mm(56);

/// File names of the built-in templates, under `docx/` in a templates directory.
pub fn file_name(kind: DocumentKind) -> &'static str {
    kind.spec().docx_template
}

/// Builds the built-in template of one kind, worded by `wording`: a complete .docx holding Tera
/// tags. Each kind's layout is code of its own, below.
pub fn template(kind: DocumentKind, wording: &Wording) -> Result<Vec<u8>, String> {
    let docx = match kind {
        DocumentKind::ReviewReport => review_report(wording),
        DocumentKind::ConclusionNotice => conclusion_notice(wording),
        DocumentKind::AssignmentLetter => assignment_letter(wording),
    };
    let mut raw = Cursor::new(Vec::new());
    docx.build().pack(&mut raw).map_err(|e| e.to_string())?;
    // docx-rs's XML put into schema order, the language set, every part deflated.
    schema::normalize_package(&raw.into_inner())
}

// -------------------------------------------------------------------------------------------------
// Paragraph helpers

fn spacing(before: u32, after: u32, line: i32, rule: LineSpacingType) -> LineSpacing {
    LineSpacing::new()
        .before(before)
        .after(after)
        .line(line)
        .line_rule(rule)
}

#[derive(Clone, Copy, Default)]
struct Style {
    size: usize,
    bold: bool,
    italic: bool,
}

const fn style(size: usize) -> Style {
    Style {
        size,
        bold: false,
        italic: false,
    }
}

impl Style {
    const fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
    const fn italic(mut self) -> Self {
        self.italic = true;
        self
    }
}

fn run(text: &str, s: Style) -> Run {
    let mut r = Run::new().add_text(text).size(s.size);
    if s.bold {
        r = r.bold();
    }
    if s.italic {
        r = r.italic();
    }
    r
}

/// Mark formatting of a paragraph, so an empty one (or one a clerk types into) has the size of
/// its neighbours.
fn mark(mut p: Paragraph, s: Style) -> Paragraph {
    p = p.size(s.size);
    if s.bold {
        p = p.bold();
    }
    if s.italic {
        p = p.italic();
    }
    p
}

/// A body paragraph: justified, 1 cm first-line indent, 6 pt after.
fn body(text: &str) -> Paragraph {
    body_styled(text, style(BODY))
}

fn body_styled(text: &str, s: Style) -> Paragraph {
    mark(Paragraph::new().add_run(run(text, s)), s)
        .align(AlignmentType::Both)
        .indent(None, Some(SpecialIndentType::FirstLine(INDENT)), None, None)
        .line_spacing(spacing(0, AFTER, BODY_LINE, LineSpacingType::Auto))
}

/// A bold clause heading such as "I. CÔNG TÁC LÃNH ĐẠO ..." or "1. Nguồn vốn": indented and
/// justified like the body, as in the PDF.
fn heading(text: &str) -> Paragraph {
    // Left-aligned, never justified: Word would stretch a short heading's spaces.
    body_styled(text, style(BODY).bold())
        .align(AlignmentType::Left)
        .keep_next(true)
}

/// The body's last paragraph (ending "./."): kept whole and with the signature block that
/// follows, so the signature never stands alone on a page (nd30.typ's `ending`).
fn ending(text: &str) -> Paragraph {
    body(text).keep_next(true).keep_lines(true)
}

/// A paragraph holding only a docxtpl block tag (`{%p for .. %}`): the filler replaces the whole
/// paragraph, so its formatting never shows.
fn block(tag: &str) -> Paragraph {
    Paragraph::new().add_run(run(tag, style(BODY)))
}

/// A centred line of the header or signature block, single-spaced, no indent.
fn centred(text: &str, s: Style) -> Paragraph {
    mark(Paragraph::new().add_run(run(text, s)), s)
        .align(AlignmentType::Center)
        .line_spacing(spacing(0, 0, 240, LineSpacingType::Auto))
}

/// A short horizontal rule of `length` twips, centred in a space `within` twips wide: the bottom
/// border of an empty 1 pt paragraph, shortened by equal indents. docx-rs cannot draw a line
/// shape, and a border keeps the rule where the text is when a clerk edits around it.
fn rule(length: u32, within: u32, before: u32, after: u32) -> Paragraph {
    let side = (within.saturating_sub(length) / 2) as i32;
    let mut p = Paragraph::new()
        .size(2)
        .indent(Some(side), None, Some(side), None)
        .line_spacing(spacing(before, after, 20, LineSpacingType::Exact));
    p.property = p.property.set_borders(
        ParagraphBorders::with_empty().set(
            ParagraphBorder::new(ParagraphBorderPosition::Bottom)
                .val(BorderType::Single)
                .size(6)
                .space(1),
        ),
    );
    p
}

/// A rule whose length the context gives in mm (`var`, an even number): one `rule` per length
/// of [`RULE_LENGTHS_MM`], each in its own `{%p if %}`, so the filled document keeps exactly one.
fn measured_rule(var: &str, within: u32, before: u32, after: u32) -> Vec<Paragraph> {
    RULE_LENGTHS_MM
        .flat_map(|half| {
            let length = half * 2;
            [
                block(&format!("{{%p if {var} == {length} %}}")),
                rule(mm(length), within, before, after),
                block("{%p endif %}"),
            ]
        })
        .collect()
}

/// An empty paragraph of a fixed height in twips, for vertical space that Word keeps exactly.
fn gap(height: i32) -> Paragraph {
    Paragraph::new()
        .size(2)
        .line_spacing(spacing(0, 0, height, LineSpacingType::Exact))
}

fn cell(width: u32, paragraphs: Vec<Paragraph>) -> TableCell {
    paragraphs
        .into_iter()
        .fold(TableCell::new(), TableCell::add_paragraph)
        .width(width as usize, WidthType::Dxa)
}

/// A borderless layout table (header, signature block) with fixed column widths.
fn layout_table(widths: &[u32], rows: Vec<TableRow>) -> Table {
    Table::without_borders(rows)
        .set_grid(widths.iter().map(|w| *w as usize).collect())
        .width(widths.iter().sum::<u32>() as usize, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)
}

// -------------------------------------------------------------------------------------------------
// The frame every document shares (nd30.typ's `official-document`)

/// The header table (ô 1-5b): issuing body, number and, for a công văn, "V/v ..." on the left;
/// motto, slogan, place and date on the right.
fn header_table(letter: bool, head_left: u32) -> Table {
    let head_right = TEXT_W - head_left;
    let inner_left = head_left - 2 * CELL_MARGIN;
    let inner_right = head_right - 2 * CELL_MARGIN;
    let issuer = style(HEAD_SMALL).bold();
    let left = cell(
        head_left,
        vec![
            block("{%p if header.parent %}"),
            centred("{{ header.parent }}", style(HEAD_SMALL)),
            block("{%p endif %}"),
            block("{%p for line in header.issuer %}"),
            centred("{{ line }}", issuer),
            block("{%p endfor %}"),
        ]
        .into_iter()
        .chain(measured_rule("header.issuer_rule_mm", inner_left, 30, 0))
        .collect(),
    );
    let right = cell(
        head_right,
        vec![
            centred(
                "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                style(HEAD_SMALL).bold(),
            ),
            centred("Độc lập - Tự do - Hạnh phúc", style(HEAD_LARGE).bold()),
            rule(SLOGAN_RULE, inner_right, 30, 0),
        ],
    );
    let number = cell(
        head_left,
        vec![
            centred("{{ header.number }}", style(NUMBER)).line_spacing(spacing(
                160,
                0,
                240,
                LineSpacingType::Auto,
            )),
        ],
    );
    let date =
        cell(
            head_right,
            vec![
                centred("{{ header.place_date }}", style(HEAD_LARGE).italic())
                    .line_spacing(spacing(160, 0, 240, LineSpacingType::Auto)),
            ],
        );
    let mut rows = vec![
        TableRow::new(vec![left, right]),
        TableRow::new(vec![number, date]),
    ];
    if letter {
        // Công văn: "V/v ..." under the number (ô 5b), 12 pt, 6 pt below the Số line.
        rows.push(TableRow::new(vec![
            cell(
                head_left,
                vec![
                    // The PDF sets it 2 mm in from each side of the column.
                    centred("{{ header.excerpt }}", style(VV))
                        .indent(Some(mm(2) as i32), None, Some(mm(2) as i32), None)
                        .line_spacing(spacing(120, 0, 240, LineSpacingType::Auto)),
                ],
            ),
            cell(head_right, vec![centred("", style(VV))]),
        ]));
    }
    layout_table(&[head_left, head_right], rows)
}

/// Title and excerpt of a typed document (ô 5a), centred and bold, with a short rule.
fn title_block() -> Vec<Paragraph> {
    let s = style(BODY).bold();
    let side = (TEXT_W / 16) as i32; // the PDF sets the excerpt in 88% of the width
    let mut paragraphs = vec![
        centred("{{ title }}", s).line_spacing(spacing(360, 0, 240, LineSpacingType::Auto)),
        centred("{{ header.excerpt }}", s).indent(Some(side), None, Some(side), None),
    ];
    paragraphs.extend(measured_rule("header.excerpt_rule_mm", TEXT_W, 40, 240));
    paragraphs
}

/// The signature block (ô 7) beside "Nơi nhận" (ô 9b), as a borderless two-column table.
fn closing() -> Table {
    let label = style(RECIPIENTS_LABEL).bold().italic();
    let item = style(RECIPIENTS);
    let left =
        cell(
            SIGN_LEFT,
            vec![
                mark(Paragraph::new().add_run(run("Nơi nhận:", label)), label)
                    .line_spacing(spacing(0, 0, 240, LineSpacingType::Auto)),
                block("{%p for item in recipients %}"),
                // A wrapped item hangs under its text, not under the dash ("- " is 0.58 em
                // of 11 pt: 128 twips), as the PDF sets it.
                mark(Paragraph::new().add_run(run("{{ item }}", item)), item)
                    .indent(Some(132), Some(SpecialIndentType::Hanging(132)), None, None)
                    .line_spacing(spacing(0, 0, 240, LineSpacingType::Auto)),
                block("{%p endfor %}"),
            ],
        );
    let signer = style(BODY).bold();
    let right = cell(
        SIGN_RIGHT,
        vec![
            block("{%p if signer.authority %}"),
            centred("{{ signer.authority }}", signer),
            block("{%p endif %}"),
            centred("{{ signer.title }}", signer),
            // Room for the signature and seal: 6.5 em of the body size, as in the PDF.
            gap(1820),
            centred("{{ signer.name }}", signer),
        ],
    );
    // Pulled left by the cell margin so "Nơi nhận" starts at the page margin (Phụ lục I).
    layout_table(
        &[SIGN_LEFT, SIGN_RIGHT],
        vec![TableRow::new(vec![left, right]).cant_split()],
    )
    .indent(-(CELL_MARGIN as i32))
}

/// The page: A4, Decree-30 margins, Times New Roman 14 pt, and the page number centred in the
/// top margin from page 2 (a PAGE field in the default header, an empty first-page header).
fn page() -> Docx {
    let number = Paragraph::new()
        .align(AlignmentType::Center)
        .size(BODY)
        .add_page_num(PageNum::new());
    Docx::new()
        .page_size(PAGE_W, PAGE_H)
        .page_margin(
            PageMargin::new()
                .top(MARGIN_TOP as i32)
                .bottom(MARGIN_BOTTOM as i32)
                .left(MARGIN_LEFT as i32)
                .right(MARGIN_RIGHT as i32)
                .header(HEADER_DISTANCE as i32)
                .footer(HEADER_DISTANCE as i32)
                .gutter(0),
        )
        .default_fonts(
            RunFonts::new()
                .ascii(FONT)
                .hi_ansi(FONT)
                .cs(FONT)
                .east_asia(FONT),
        )
        .default_size(BODY)
        .header(Header::new().add_paragraph(number))
        .first_header(Header::new().add_paragraph(Paragraph::new().size(BODY)))
        .title_pg()
}

/// A page with the document's header, title and the given body, then the signature block.
fn document(letter: bool, body: Vec<BodyPart>) -> Docx {
    // One header table per column split; the context keeps the one its date line needs.
    let mut docx = page()
        .add_paragraph(block("{%p if header.wide_date %}"))
        .add_table(header_table(letter, HEAD_LEFT_WIDE))
        .add_paragraph(block("{%p else %}"))
        .add_table(header_table(letter, HEAD_LEFT))
        .add_paragraph(block("{%p endif %}"));
    if !letter {
        for p in title_block() {
            docx = docx.add_paragraph(p);
        }
    }
    for part in body {
        docx = match part {
            BodyPart::P(p) => docx.add_paragraph(*p),
            BodyPart::T(t) => docx.add_table(*t).add_paragraph(gap(120)),
        };
    }
    docx.add_paragraph(gap(160).keep_next(true))
        .add_table(closing())
}

enum BodyPart {
    P(Box<Paragraph>),
    T(Box<Table>),
}

fn ps(paragraphs: impl IntoIterator<Item = Paragraph>) -> Vec<BodyPart> {
    paragraphs
        .into_iter()
        .map(|p| BodyPart::P(Box::new(p)))
        .collect()
}

// -------------------------------------------------------------------------------------------------
// Tables of figures

#[derive(Clone, Copy)]
enum Align {
    Left,
    Center,
    Right,
}

impl From<Align> for AlignmentType {
    fn from(a: Align) -> Self {
        match a {
            Align::Left => AlignmentType::Left,
            Align::Center => AlignmentType::Center,
            Align::Right => AlignmentType::Right,
        }
    }
}

/// A cell of a table of figures; `keep` holds its row with the next one (Word's keep-with-next
/// on a row's paragraphs), so a header or a last row never stands alone on a page.
fn figure_cell(width: u32, text: &str, align: Align, s: Style, keep: bool) -> TableCell {
    let p = mark(Paragraph::new().add_run(run(text, s)), s)
        .align(align.into())
        .line_spacing(spacing(0, 0, 240, LineSpacingType::Auto));
    cell(width, vec![if keep { p.keep_next(true) } else { p }]).vertical_align(VAlignType::Center)
}

/// A ruled table of figures: header row bold and centred (it repeats on every page), one row per
/// item of `items` (a `{%tr for %}` loop), and an optional bold total row.
fn figures_table(
    columns: &[(f64, Align)],
    head: &[&str],
    (var, items): (&str, &str),
    cells: &[&str],
    total: Option<&[&str]>,
) -> Table {
    let fixed: f64 = columns.iter().map(|(w, _)| *w).filter(|w| *w > 0.0).sum();
    let widths: Vec<u32> = columns
        .iter()
        .map(|(w, _)| {
            let share = if *w > 0.0 { *w } else { 1.0 - fixed };
            (f64::from(TEXT_W) * share).round() as u32
        })
        .collect();
    let plain = style(TABLE);
    let bold = style(TABLE).bold();
    let header = TableRow::new(
        head.iter()
            .zip(&widths)
            .map(|(h, w)| figure_cell(*w, h, Align::Center, bold, true))
            .collect(),
    )
    .cant_split();
    // The loop rows hold only the tag in their first cell; the filler replaces them whole.
    let tag_row = |tag: &str| {
        TableRow::new(
            widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    figure_cell(*w, if i == 0 { tag } else { "" }, Align::Left, plain, false)
                })
                .collect(),
        )
    };
    let data = TableRow::new(
        cells
            .iter()
            .zip(&widths)
            .zip(columns)
            // With a total row, every item row holds to the next: the total never goes alone.
            .map(|((c, w), (_, a))| figure_cell(*w, c, *a, plain, total.is_some()))
            .collect(),
    )
    .cant_split();
    let mut rows = vec![
        header,
        tag_row(&format!("{{%tr for {var} in {items} %}}")),
        data,
        tag_row("{%tr endfor %}"),
    ];
    if let Some(total) = total {
        rows.push(
            TableRow::new(
                total
                    .iter()
                    .zip(&widths)
                    .zip(columns)
                    .map(|((c, w), (_, a))| figure_cell(*w, c, *a, bold, false))
                    .collect(),
            )
            .cant_split(),
        );
    }
    let line = |pos| {
        TableBorder::new(pos)
            .border_type(BorderType::Single)
            .size(4)
            .color("000000")
    };
    let borders = [
        TableBorderPosition::Top,
        TableBorderPosition::Left,
        TableBorderPosition::Bottom,
        TableBorderPosition::Right,
        TableBorderPosition::InsideH,
        TableBorderPosition::InsideV,
    ]
    .into_iter()
    .fold(TableBorders::with_empty(), |b, pos| b.set(line(pos)));
    Table::new(rows)
        .set_borders(borders)
        .set_grid(widths.iter().map(|w| *w as usize).collect())
        .width(TEXT_W as usize, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)
        // 4 pt left and right as the PDF's table inset; 3 pt above and below, since Word's single
        // line is taller than the PDF's 0.4 em leading.
        .margins(TableCellMargins::new().margin(60, 80, 60, 80))
}

// -------------------------------------------------------------------------------------------------
// The three documents

/// Báo cáo sơ kết / tổng kết (review-report.typ).
fn review_report(wording: &Wording) -> Docx {
    let w = |key| wording.text("bao_cao", key);
    // A numbered heading: the number from the context, the words from the wording file.
    let numbered = |no: &str, key| format!("{no}. {}", w(key));
    let mut b: Vec<BodyPart> = ps([
        body(w("mo_dau")),
        block("{%p if report.sections.leadership %}"),
        heading(&numbered(
            "{{ report.sections.leadership }}",
            "muc_lanh_dao",
        )),
        block("{%p for p in report.leadership %}"),
        body("{{ p }}"),
        block("{%p endfor %}"),
        block("{%p endif %}"),
        heading(&numbered("{{ report.sections.results }}", "muc_ket_qua")),
        // No program reports a budget: no funds clause, no table.
        block("{%p if report.funds %}"),
        heading(&numbered("1", "muc_nguon_von")),
        body(w("nguon_von")),
    ]);
    b.push(BodyPart::T(Box::new(figures_table(
        &[
            (0.09, Align::Center),
            (0.0, Align::Left),
            (0.17, Align::Right),
            (0.18, Align::Right),
            (0.15, Align::Right),
        ],
        &[
            w("cot_tt"),
            w("cot_chuong_trinh"),
            w("cot_von_giao"),
            w("cot_da_giai_ngan"),
            w("cot_ty_le_giai_ngan"),
        ],
        ("b", "report.budget_rows"),
        &[
            "{{ b.no }}",
            "{{ b.name }}",
            "{{ b.allocated }}",
            "{{ b.disbursed }}",
            "{{ b.rate }}",
        ],
        Some(&[
            "",
            "{{ report.budget_total.name }}",
            "{{ report.budget_total.allocated }}",
            "{{ report.budget_total.disbursed }}",
            "{{ report.budget_total.rate }}",
        ]),
    ))));
    b.extend(ps([
        block("{%p endif %}"),
        block("{%p for p in report.programs %}"),
        heading(&numbered("{{ p.no }}", "muc_chuong_trinh")),
        block("{%p if p.budget %}"),
        body(w("von_chuong_trinh")),
        block("{%p endif %}"),
        block("{%p for x in p.results %}"),
        body("- {{ x }}."),
        block("{%p endfor %}"),
        block("{%p if p.indicators %}"),
    ]));
    b.push(BodyPart::T(Box::new(figures_table(
        &[
            (0.09, Align::Center),
            (0.0, Align::Left),
            (0.14, Align::Center),
            (0.15, Align::Right),
            (0.12, Align::Right),
            (0.12, Align::Right),
        ],
        &[
            w("cot_tt"),
            w("cot_chi_tieu"),
            w("cot_don_vi_tinh"),
            w("cot_thuc_hien"),
            w("cot_ke_hoach"),
            w("cot_ty_le_ke_hoach"),
        ],
        ("i", "p.indicators"),
        &[
            "{{ i.no }}",
            "{{ i.name }}",
            "{{ i.unit }}",
            "{{ i.value_cell }}",
            "{{ i.plan_cell }}",
            "{{ i.plan_rate_cell }}",
        ],
        None,
    ))));
    b.extend(ps([
        block("{%p endif %}"),
        block("{%p endfor %}"),
        block("{%p if report.sections.assessment %}"),
        heading(&numbered(
            "{{ report.sections.assessment }}",
            "muc_danh_gia",
        )),
        // Numbered "1." and "2." only when both exist (the context leaves a lone one out).
        block("{%p if report.achievements_heading %}"),
        heading(&numbered("1", "muc_ket_qua_dat_duoc")),
        block("{%p endif %}"),
        block("{%p for p in report.achievements %}"),
        body("{{ p }}"),
        block("{%p endfor %}"),
        block("{%p if report.shortcomings_heading %}"),
        heading(&numbered("2", "muc_ton_tai")),
        block("{%p endif %}"),
        block("{%p for p in report.shortcomings %}"),
        body("{{ p }}"),
        block("{%p endfor %}"),
        block("{%p endif %}"),
        heading(&numbered("{{ report.sections.tasks }}", "muc_nhiem_vu")),
        block("{%p for t in report.next_tasks %}"),
        body("{{ loop.index }}. {{ t }}."),
        block("{%p endfor %}"),
        block("{%p if report.sections.proposals %}"),
        heading(&numbered("{{ report.sections.proposals }}", "muc_de_xuat")),
        block("{%p for p in report.proposals %}"),
        body("{{ p }}"),
        block("{%p endfor %}"),
        block("{%p endif %}"),
        ending(w("ket_thuc")),
    ]));
    document(false, b)
}

/// Thông báo kết luận (conclusion-notice.typ).
fn conclusion_notice(wording: &Wording) -> Docx {
    let w = |key| wording.text("thong_bao", key);
    document(
        false,
        ps([
            body(w("mo_dau")),
            body(w("ket_luan")),
            block("{%p for s in notice.sections %}"),
            heading(&format!(
                "{{{{ s.no }}}}. {{% if s.assessment %}}{}{{% else %}}{}{{% endif %}}",
                w("muc_danh_gia"),
                w("muc_nhiem_vu")
            )),
            block("{%p for p in s.paragraphs %}"),
            body("{{ p }}"),
            block("{%p endfor %}"),
            block("{%p endfor %}"),
            block("{%p if notice.assignments_heading %}"),
            heading(&format!(
                "{{{{ notice.assignments_no }}}}. {}",
                w("muc_phan_cong")
            )),
            block("{%p endif %}"),
            block("{%p for a in notice.assignments %}"),
            heading("{{ a.no }}. {{ a.units }}:"),
            block("{%p for t in a.tasks %}"),
            body(w("dong_nhiem_vu")),
            block("{%p endfor %}"),
            block("{%p endfor %}"),
            ending(w("ket_thuc")),
        ]),
    )
}

/// Công văn giao nhiệm vụ (assignment-letter.typ).
fn assignment_letter(wording: &Wording) -> Docx {
    let w = |key| wording.text("cong_van", key);
    // "Kính gửi:" set in from the left, as the PDF pads it by 22% of the width.
    let addressee = mark(
        Paragraph::new().add_run(run("Kính gửi: {{ letter.unit.name }}", style(BODY))),
        style(BODY),
    )
    .indent(Some((TEXT_W * 22 / 100) as i32), None, None, None)
    .line_spacing(spacing(360, 240, 240, LineSpacingType::Auto));
    document(
        true,
        ps([
            addressee,
            body(w("mo_dau")),
            block("{%p for t in letter.tasks %}"),
            body(w("dong_nhiem_vu")),
            block("{%p endfor %}"),
            body(w("dong_bao_cao")),
            ending(w("ket_thuc")),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millimetres_convert_to_twips() {
        assert_eq!(mm(20), 1134);
        assert_eq!(mm(30), 1701);
        assert_eq!(mm(15), 850);
        assert_eq!(mm(10), 567);
        assert_eq!(TEXT_W, 9355);
    }
}
