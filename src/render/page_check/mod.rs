//! The Decree-30 page check: measures a laid-out document page by page against the layout
//! rules of Phụ lục I (margins, page numbers, motto, issuing body and its rule, "Số", date
//! line, "./.", signature block, "Nơi nhận", typefaces and sizes, line pitch) and names each
//! rule a page breaks. It reads a neutral [`Layout`] (text runs and rules with positions in
//! points), built in-process from Typst's frames ([`frames`]) or, in tests, from the word
//! boxes of a PDF that LibreOffice made from a DOCX.

pub mod frames;
pub mod word_boxes;

use std::fmt;

/// Points per millimetre.
pub const MM: f64 = 72.0 / 25.4;
/// How far a measured position may stray from the rule (rounding, glyph side bearings).
const TOLERANCE: f64 = 1.5;

/// The decree's page: A4 portrait; minimum and maximum margins (Phụ lục I, Phần I, Mục I).
const A4: (f64, f64) = (210.0 * MM, 297.0 * MM);
const MARGIN_TOP: f64 = 20.0 * MM;
const MARGIN_BOTTOM: f64 = 20.0 * MM;
const MARGIN_LEFT: (f64, f64) = (30.0 * MM, 35.0 * MM);
const MARGIN_RIGHT: f64 = 15.0 * MM;
/// Typefaces metric-compatible with Times New Roman, the decree's typeface.
const TYPEFACES: &[&str] = &["Times New Roman", "Liberation Serif", "Tinos"];
/// Single line spacing of Times New Roman (ascender + descender): 1.107 em; a line pitch
/// below this crowds the diacritics of the line below into the one above.
const SINGLE_SPACING: f64 = 1.1;

pub const MOTTO: &str = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM";
pub const SLOGAN: &str = "Độc lập - Tự do - Hạnh phúc";
pub const RECIPIENTS_LABEL: &str = "Nơi nhận:";

/// A run of text as laid out: one style, one baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRun {
    pub text: String,
    /// Left and right edges and the baseline, in points from the page's top-left corner.
    pub x0: f64,
    pub x1: f64,
    pub baseline: f64,
    /// Font size in points; None when the source does not say (word boxes of a PDF).
    pub size: Option<f64>,
    /// The typeface; None when the source does not say.
    pub face: Option<Face>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    pub family: String,
    pub bold: bool,
    pub italic: bool,
}

/// A straight stroke: horizontal (y0 == y1) or vertical (x0 == x1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stroke {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Stroke {
    fn horizontal(&self) -> bool {
        (self.y0 - self.y1).abs() < 0.5 && (self.x1 - self.x0).abs() > 2.0
    }
    fn vertical(&self) -> bool {
        (self.x0 - self.x1).abs() < 0.5 && (self.y1 - self.y0).abs() > 2.0
    }
    fn length(&self) -> f64 {
        (self.x1 - self.x0).abs().max((self.y1 - self.y0).abs())
    }
    fn centre(&self) -> f64 {
        (self.x0 + self.x1) / 2.0
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub width: f64,
    pub height: f64,
    pub runs: Vec<TextRun>,
    /// Drawn strokes; None when the source cannot see them (word boxes of a PDF).
    pub strokes: Option<Vec<Stroke>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub pages: Vec<Page>,
}

/// A rule of Decree 30 the check enforces; `Display` names it for the clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    PageSize,
    Margins,
    PageNumber,
    Motto,
    MottoRule,
    IssuingBody,
    IssuerRule,
    Number,
    Excerpt,
    DateLine,
    Ending,
    SignatureAlone,
    Signature,
    Recipients,
    Typeface,
    TypeSize,
    LineSpacing,
    Overlap,
}

impl Rule {
    pub const ALL: [Rule; 18] = [
        Rule::PageSize,
        Rule::Margins,
        Rule::PageNumber,
        Rule::Motto,
        Rule::MottoRule,
        Rule::IssuingBody,
        Rule::IssuerRule,
        Rule::Number,
        Rule::Excerpt,
        Rule::DateLine,
        Rule::Ending,
        Rule::SignatureAlone,
        Rule::Signature,
        Rule::Recipients,
        Rule::Typeface,
        Rule::TypeSize,
        Rule::LineSpacing,
        Rule::Overlap,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::PageSize => "khổ giấy A4 đứng",
            Rule::Margins => "lề trang (trên, dưới 20–25 mm; trái 30–35 mm; phải 15–20 mm)",
            Rule::PageNumber => "số trang (từ trang 2, giữa lề trên, cỡ 13–14)",
            Rule::Motto => "Quốc hiệu và Tiêu ngữ",
            Rule::MottoRule => "đường kẻ dưới Tiêu ngữ (dài bằng dòng chữ)",
            Rule::IssuingBody => "tên cơ quan ban hành",
            Rule::IssuerRule => "đường kẻ dưới tên cơ quan (1/3–1/2 độ dài dòng chữ)",
            Rule::Number => "số, ký hiệu (\"Số: 05/TB-UBND\")",
            Rule::Excerpt => "trích yếu \"V/v\" của công văn",
            Rule::DateLine => "địa danh và thời gian ban hành",
            Rule::Ending => "nội dung kết thúc bằng \"./.\"",
            Rule::SignatureAlone => "trang chữ ký phải có nội dung văn bản",
            Rule::Signature => "chức vụ, họ tên người ký",
            Rule::Recipients => "nơi nhận",
            Rule::Typeface => "phông chữ Times New Roman (hoặc tương thích)",
            Rule::TypeSize => "cỡ chữ",
            Rule::LineSpacing => "khoảng cách dòng tối thiểu một dòng đơn",
            Rule::Overlap => "chữ không được đè lên chữ",
        })
    }
}

/// One breach: the rule, the page (1-based) and what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub page: usize,
    pub rule: Rule,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trang {}: {}: {}", self.page, self.rule, self.detail)
    }
}

/// Every breach of a document; never empty.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PageCheckError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for PageCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "văn bản không đúng thể thức Nghị định 30/2020/NĐ-CP:")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// How far a line is past one margin, if it is.
type Breach<'a> = dyn Fn(&Line) -> Option<f64> + 'a;

/// Text runs of one visual line (same baseline, no wide gap), joined.
#[derive(Debug, Clone)]
struct Line {
    page: usize,
    text: String,
    x0: f64,
    x1: f64,
    baseline: f64,
    /// The largest size on the line, when known.
    size: Option<f64>,
    sizes: Vec<f64>,
    /// All runs bold / italic; None when unknown.
    bold: Option<bool>,
    italic: Option<bool>,
    families: Vec<String>,
}

impl Line {
    fn centre(&self) -> f64 {
        (self.x0 + self.x1) / 2.0
    }
    fn width(&self) -> f64 {
        self.x1 - self.x0
    }
    /// The size for vertical measures: known, or guessed from a 13 pt line.
    fn em(&self) -> f64 {
        self.size.unwrap_or(13.0)
    }
}

fn lines_of(page_no: usize, page: &Page) -> Vec<Line> {
    let mut runs: Vec<&TextRun> = page
        .runs
        .iter()
        .filter(|r| !r.text.trim().is_empty())
        .collect();
    runs.sort_by(|a, b| {
        a.baseline
            .total_cmp(&b.baseline)
            .then(a.x0.total_cmp(&b.x0))
    });
    let mut lines: Vec<Vec<&TextRun>> = Vec::new();
    for run in runs {
        // Word boxes (no size) are single words, spread by justification and by the blank
        // number of a draft ("Số:      /TB-UBND"): allow a wider gap between them. Columns
        // are further apart than either.
        let em = run.size.unwrap_or(13.0 * 1.6);
        // Join a run to a line on the same baseline whose last run ends close to its start:
        // wide gaps separate the header's and the closing's two columns.
        let found = lines.iter_mut().rev().take(4).find(|l| {
            let last = l[l.len() - 1];
            // Word boxes: a wide gap across the page's middle is the header's column gutter.
            let gutter = run.size.is_none()
                && last.x1 < page.width / 2.0
                && run.x0 > page.width / 2.0 - 10.0 * MM
                && run.x0 - last.x1 > 12.0;
            (last.baseline - run.baseline).abs() < 1.0
                && run.x0 - last.x1 < 1.5 * em
                && run.x0 > last.x0
                && !gutter
        });
        match found {
            Some(line) => line.push(run),
            None => lines.push(vec![run]),
        }
    }
    lines
        .into_iter()
        .map(|runs| {
            let mut text = String::new();
            let mut prev_x1: Option<f64> = None;
            for run in &runs {
                if let Some(x1) = prev_x1 {
                    let em = run.size.unwrap_or(13.0);
                    if run.x0 - x1 > 0.12 * em && !text.ends_with(' ') && !run.text.starts_with(' ')
                    {
                        text.push(' ');
                    }
                }
                text.push_str(&run.text);
                prev_x1 = Some(run.x1);
            }
            let sizes: Vec<f64> = runs.iter().filter_map(|r| r.size).collect();
            let faces: Vec<&Face> = runs.iter().filter_map(|r| r.face.as_ref()).collect();
            let known = faces.len() == runs.len();
            Line {
                page: page_no,
                text: text.trim().to_string(),
                x0: runs.iter().map(|r| r.x0).fold(f64::INFINITY, f64::min),
                x1: runs.iter().map(|r| r.x1).fold(f64::NEG_INFINITY, f64::max),
                baseline: runs[0].baseline,
                size: sizes.iter().copied().reduce(f64::max),
                sizes,
                bold: known.then(|| faces.iter().all(|f| f.bold)),
                italic: known.then(|| faces.iter().all(|f| f.italic)),
                families: faces.iter().map(|f| f.family.clone()).collect(),
            }
        })
        .collect()
}

fn mm(points: f64) -> String {
    format!("{:.1} mm", points / MM)
}

fn pt(points: f64) -> String {
    format!("{points:.1} pt")
}

fn in_range(value: f64, (lo, hi): (f64, f64)) -> bool {
    value >= lo - 0.05 && value <= hi + 0.05
}

fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        format!("\"{cut}…\"")
    } else {
        format!("\"{cut}\"")
    }
}

/// Checks a whole document; Err lists every breach, in page order.
pub fn check(layout: &Layout) -> Result<(), PageCheckError> {
    let mut checker = Checker {
        problems: Vec::new(),
    };
    checker.run(layout);
    let mut problems = checker.problems;
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by_key(|p| (p.page, p.rule));
    problems.dedup_by(|a, b| a.page == b.page && a.rule == b.rule && a.detail == b.detail);
    Err(PageCheckError { problems })
}

struct Checker {
    problems: Vec<Problem>,
}

/// Where the fixed parts of the first page and of the closing are.
struct Anchors {
    number: Option<Line>,
    date: Option<Line>,
    motto: Option<Line>,
    slogan: Option<Line>,
    /// The issuing body's lines (the parent's line first, when there is one).
    issuer: Vec<Line>,
    /// The công văn's "V/v" lines.
    excerpt: Vec<Line>,
    /// (page index, baseline) of "Nơi nhận:".
    recipients_label: Option<Line>,
}

impl Checker {
    fn report(&mut self, page: usize, rule: Rule, detail: impl Into<String>) {
        self.problems.push(Problem {
            page: page + 1,
            rule,
            detail: detail.into(),
        });
    }

    fn run(&mut self, layout: &Layout) {
        if layout.pages.is_empty() {
            self.report(0, Rule::PageSize, "văn bản không có trang nào");
            return;
        }
        let pages: Vec<Vec<Line>> = layout
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| lines_of(i, p))
            .collect();
        for (i, page) in layout.pages.iter().enumerate() {
            self.page_frame(i, page, &pages[i]);
            self.overlaps(i, page);
        }
        let mut anchors = self.first_page(&layout.pages[0], &pages[0]);
        self.closing(layout, &pages, &mut anchors);
        for (i, lines) in pages.iter().enumerate() {
            self.type_and_spacing(i, lines, layout.pages[i].strokes.as_deref(), &anchors);
        }
    }

    /// Text drawn over text: a word too wide for its table cell runs into the next cell, where
    /// no margin or spacing rule sees it. Two runs collide when their boxes cross: they overlap
    /// across, and their baselines are closer than the glyphs are tall.
    fn overlaps(&mut self, i: usize, page: &Page) {
        let mut runs: Vec<&TextRun> = page
            .runs
            .iter()
            .filter(|r| !r.text.trim().is_empty())
            .collect();
        runs.sort_by(|a, b| a.baseline.total_cmp(&b.baseline));
        // Runs further down than the tallest glyph on the page cannot touch: the scan stops
        // there, whatever the sizes of the runs in between.
        let tallest = 0.7
            * runs
                .iter()
                .map(|r| r.size.unwrap_or(13.0))
                .fold(0.0, f64::max);
        for (n, a) in runs.iter().enumerate() {
            for b in &runs[n + 1..] {
                if b.baseline - a.baseline >= tallest {
                    break;
                }
                let height = 0.7 * a.size.unwrap_or(13.0).min(b.size.unwrap_or(13.0));
                if b.baseline - a.baseline >= height {
                    continue;
                }
                let across = a.x1.min(b.x1) - a.x0.max(b.x0);
                if across > 0.5 {
                    self.report(
                        i,
                        Rule::Overlap,
                        format!("{} đè lên {}", excerpt(&a.text), excerpt(&b.text)),
                    );
                    return;
                }
            }
        }
    }

    /// Page size, margins, page numbers.
    fn page_frame(&mut self, i: usize, page: &Page, lines: &[Line]) {
        if (page.width - A4.0).abs() > 2.0 || (page.height - A4.1).abs() > 2.0 {
            self.report(
                i,
                Rule::PageSize,
                format!("trang {} × {}", mm(page.width), mm(page.height)),
            );
        }
        let (numbers, body): (Vec<&Line>, Vec<&Line>) = lines
            .iter()
            .partition(|l| l.baseline < MARGIN_TOP + TOLERANCE);
        // Page numbers: none on page 1; from page 2 the page's own number, centred in the top
        // margin across the text area, 13–14 pt.
        if i == 0 {
            if let Some(l) = numbers.first() {
                self.report(
                    i,
                    Rule::PageNumber,
                    format!(
                        "trang 1 không đánh số, nhưng lề trên có {}",
                        excerpt(&l.text)
                    ),
                );
            }
        } else {
            let expected = (i + 1).to_string();
            match numbers.as_slice() {
                [] => self.report(i, Rule::PageNumber, "thiếu số trang ở lề trên"),
                [n] if n.text == expected => {
                    let centre = (MARGIN_LEFT.0 + page.width - MARGIN_RIGHT) / 2.0;
                    if (n.centre() - centre).abs() > 3.0 * MM {
                        self.report(
                            i,
                            Rule::PageNumber,
                            format!("số trang lệch tâm {}", mm(n.centre() - centre)),
                        );
                    }
                    if let Some(size) = n.size
                        && !in_range(size, (13.0, 14.0))
                    {
                        self.report(i, Rule::PageNumber, format!("số trang cỡ {}", pt(size)));
                    }
                }
                other => self.report(
                    i,
                    Rule::PageNumber,
                    format!(
                        "lề trên phải chỉ có số trang {expected}, nhưng có {}",
                        excerpt(
                            &other
                                .iter()
                                .map(|l| l.text.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        )
                    ),
                ),
            }
        }
        // Nothing outside the text area: one problem per side and page, with the first line
        // and how many there are.
        let sides: [(&str, &Breach); 3] = [
            ("lấn lề trái", &|l: &Line| {
                (l.x0 < MARGIN_LEFT.0 - TOLERANCE).then_some(l.x0)
            }),
            ("lấn lề phải", &|l: &Line| {
                (l.x1 > page.width - MARGIN_RIGHT + TOLERANCE).then_some(page.width - l.x1)
            }),
            ("nằm trong lề dưới", &|l: &Line| {
                (l.baseline > page.height - MARGIN_BOTTOM + TOLERANCE)
                    .then_some(page.height - l.baseline)
            }),
        ];
        for (what, breach) in sides {
            let out: Vec<(&Line, f64)> = body
                .iter()
                .filter_map(|l| breach(l).map(|d| (*l, d)))
                .collect();
            if let Some((first, distance)) = out.first() {
                let more = match out.len() {
                    1 => String::new(),
                    n => format!(" và {} dòng khác", n - 1),
                };
                self.report(
                    i,
                    Rule::Margins,
                    format!(
                        "{} {what} (cách mép {}){more}",
                        excerpt(&first.text),
                        mm(*distance)
                    ),
                );
            }
        }
        // The text area starts within the left margin's range: the leftmost line of a page
        // (a paragraph's continuation, "Nơi nhận", a table) sits at most 35 mm from the edge.
        if let Some(left) = body.iter().map(|l| l.x0).reduce(f64::min)
            && left > MARGIN_LEFT.1 + TOLERANCE
        {
            self.report(
                i,
                Rule::Margins,
                format!("lề trái rộng {} (tối đa 35 mm)", mm(left)),
            );
        }
    }

    fn first_page(&mut self, page: &Page, lines: &[Line]) -> Anchors {
        let centre = page.width / 2.0;
        let find = |pred: &dyn Fn(&Line) -> bool| lines.iter().find(|l| pred(l)).cloned();
        let motto = find(&|l| l.text == MOTTO);
        let slogan = find(&|l| l.text == SLOGAN);
        let number = find(&|l| l.text.starts_with("Số") && l.centre() < centre);
        let date = number.as_ref().and_then(|n| {
            lines
                .iter()
                .find(|l| l.centre() > centre && (l.baseline - n.baseline).abs() < 4.0)
                .cloned()
        });
        let mut anchors = Anchors {
            number,
            date,
            motto,
            slogan,
            issuer: Vec::new(),
            excerpt: Vec::new(),
            recipients_label: None,
        };
        self.motto(page, &anchors);
        self.number_and_issuer(page, lines, &mut anchors);
        self.date_line(&anchors);
        anchors
    }

    fn motto(&mut self, page: &Page, a: &Anchors) {
        let Some(motto) = &a.motto else {
            self.report(0, Rule::Motto, format!("thiếu Quốc hiệu \"{MOTTO}\""));
            return;
        };
        if motto.x0 < page.width / 2.0 - 10.0 * MM {
            self.report(0, Rule::Motto, "Quốc hiệu phải ở nửa phải đầu trang");
        }
        if motto.bold == Some(false) {
            self.report(0, Rule::Motto, "Quốc hiệu phải in đậm");
        }
        if let Some(size) = motto.size
            && !in_range(size, (12.0, 13.0))
        {
            self.report(0, Rule::Motto, format!("Quốc hiệu cỡ {} (12–13)", pt(size)));
        }
        let Some(slogan) = &a.slogan else {
            self.report(0, Rule::Motto, format!("thiếu Tiêu ngữ \"{SLOGAN}\""));
            return;
        };
        if slogan.baseline < motto.baseline || slogan.baseline - motto.baseline > 2.5 * slogan.em()
        {
            self.report(0, Rule::Motto, "Tiêu ngữ phải ở ngay dưới Quốc hiệu");
        }
        if (slogan.centre() - motto.centre()).abs() > TOLERANCE {
            self.report(
                0,
                Rule::Motto,
                format!(
                    "Tiêu ngữ không canh giữa dưới Quốc hiệu (lệch {})",
                    pt(slogan.centre() - motto.centre())
                ),
            );
        }
        if slogan.bold == Some(false) {
            self.report(0, Rule::Motto, "Tiêu ngữ phải in đậm");
        }
        if let Some(size) = slogan.size
            && !in_range(size, (13.0, 14.0))
        {
            self.report(0, Rule::Motto, format!("Tiêu ngữ cỡ {} (13–14)", pt(size)));
        }
        let Some(strokes) = &page.strokes else {
            return;
        };
        let below = strokes.iter().find(|s| {
            s.horizontal()
                && s.y0 > slogan.baseline
                && s.y0 < slogan.baseline + slogan.em()
                && (s.centre() - slogan.centre()).abs() < slogan.width() / 2.0
        });
        match below {
            None => self.report(0, Rule::MottoRule, "thiếu đường kẻ dưới Tiêu ngữ"),
            Some(s) => {
                if (s.length() - slogan.width()).abs() > TOLERANCE.max(0.02 * slogan.width()) {
                    self.report(
                        0,
                        Rule::MottoRule,
                        format!(
                            "đường kẻ dài {}, dòng Tiêu ngữ dài {}",
                            mm(s.length()),
                            mm(slogan.width())
                        ),
                    );
                }
                if (s.centre() - slogan.centre()).abs() > TOLERANCE {
                    self.report(0, Rule::MottoRule, "đường kẻ không canh giữa dưới Tiêu ngữ");
                }
            }
        }
    }

    fn number_and_issuer(&mut self, page: &Page, lines: &[Line], a: &mut Anchors) {
        let Some(number) = a.number.clone() else {
            self.report(0, Rule::Number, "thiếu dòng \"Số: …/…\" dưới tên cơ quan");
            return;
        };
        if let Err(why) = number_form(&number.text) {
            self.report(0, Rule::Number, format!("{}: {why}", excerpt(&number.text)));
        }
        if let Some(size) = number.size
            && (size - 13.0).abs() > 0.05
        {
            self.report(0, Rule::Number, format!("cỡ {} (phải 13)", pt(size)));
        }
        // The issuing body: the left column's lines above "Số".
        let column = number.x1.max(page.width / 2.0 - 5.0 * MM);
        a.issuer = lines
            .iter()
            .filter(|l| {
                l.baseline < number.baseline - 1.0
                    && l.baseline > MARGIN_TOP + TOLERANCE
                    && l.x1 < column + 10.0 * MM
                    && a.motto.as_ref().is_none_or(|m| l.x1 < m.x0)
            })
            .cloned()
            .collect();
        if a.issuer.is_empty() {
            self.report(0, Rule::IssuingBody, "thiếu tên cơ quan ban hành");
            return;
        }
        let centre = |ls: &[Line]| {
            let x0 = ls.iter().map(|l| l.x0).fold(f64::INFINITY, f64::min);
            let x1 = ls.iter().map(|l| l.x1).fold(f64::NEG_INFINITY, f64::max);
            (x0 + x1) / 2.0
        };
        let issuer_centre = centre(&a.issuer);
        if (number.centre() - issuer_centre).abs() > 3.0 {
            self.report(
                0,
                Rule::Number,
                format!(
                    "dòng số không canh giữa dưới tên cơ quan (lệch {})",
                    pt(number.centre() - issuer_centre)
                ),
            );
        }
        for l in &a.issuer {
            if (l.centre() - issuer_centre).abs() > 3.0 {
                self.report(
                    0,
                    Rule::IssuingBody,
                    format!("{} không canh giữa", excerpt(&l.text)),
                );
            }
            if let Some(size) = l.size
                && !in_range(size, (12.0, 13.0))
            {
                self.report(
                    0,
                    Rule::IssuingBody,
                    format!("{} cỡ {} (12–13)", excerpt(&l.text), pt(size)),
                );
            }
            if l.text.chars().any(char::is_lowercase) {
                self.report(
                    0,
                    Rule::IssuingBody,
                    format!("{} phải viết in hoa", excerpt(&l.text)),
                );
            }
        }
        // The issuing body proper is bold; a parent body above it is not.
        let bold: Vec<&Line> = a.issuer.iter().filter(|l| l.bold == Some(true)).collect();
        if a.issuer.iter().all(|l| l.bold.is_some()) && bold.is_empty() {
            self.report(0, Rule::IssuingBody, "tên cơ quan ban hành phải in đậm");
        }
        if let Some(strokes) = &page.strokes
            && !bold.is_empty()
        {
            let widest = bold.iter().map(|l| l.width()).fold(0.0, f64::max);
            let last = bold.iter().map(|l| l.baseline).fold(0.0, f64::max);
            let rule = strokes.iter().find(|s| {
                s.horizontal()
                    && s.y0 > last
                    && s.y0 < number.baseline - number.em() * 0.7
                    && (s.centre() - issuer_centre).abs() < widest / 2.0
            });
            match rule {
                None => self.report(0, Rule::IssuerRule, "thiếu đường kẻ dưới tên cơ quan"),
                Some(s) => {
                    let ratio = s.length() / widest;
                    if !(1.0 / 3.0 - 0.01..=0.5 + 0.01).contains(&ratio) {
                        self.report(
                            0,
                            Rule::IssuerRule,
                            format!(
                                "đường kẻ dài {} bằng {:.0}% dòng chữ ({})",
                                mm(s.length()),
                                ratio * 100.0,
                                mm(widest)
                            ),
                        );
                    }
                    if (s.centre() - issuer_centre).abs() > TOLERANCE {
                        self.report(0, Rule::IssuerRule, "đường kẻ không canh giữa");
                    }
                }
            }
        }
        // A công văn's "V/v …" under the number: 12–13 pt, 6 pt below the number line.
        let mut excerpt_lines: Vec<Line> = Vec::new();
        for l in lines.iter().filter(|l| {
            l.baseline > number.baseline + 1.0
                && l.x1 < page.width / 2.0
                && l.baseline < number.baseline + 8.0 * number.em()
        }) {
            let starts = excerpt_lines.is_empty() && l.text.starts_with("V/v");
            let continues = excerpt_lines
                .last()
                .is_some_and(|p| l.baseline - p.baseline < 2.0 * p.em());
            if starts || continues {
                excerpt_lines.push(l.clone());
            } else {
                break;
            }
        }
        if let Some(first) = excerpt_lines.first() {
            // 6 pt between the lines, on top of single spacing.
            let gap = first.baseline - number.baseline;
            if gap < first.em() * SINGLE_SPACING + 6.0 - TOLERANCE {
                self.report(
                    0,
                    Rule::Excerpt,
                    format!("\"V/v\" cách dòng số {} (cần thêm 6 pt)", pt(gap)),
                );
            }
            for l in &excerpt_lines {
                if let Some(size) = l.size
                    && !in_range(size, (12.0, 13.0))
                {
                    self.report(0, Rule::Excerpt, format!("cỡ {} (12–13)", pt(size)));
                }
                if (l.centre() - number.centre()).abs() > 6.0 * MM {
                    self.report(
                        0,
                        Rule::Excerpt,
                        format!("{} không canh giữa dưới số", excerpt(&l.text)),
                    );
                }
            }
        }
        a.excerpt = excerpt_lines;
    }

    fn date_line(&mut self, a: &Anchors) {
        let Some(date) = &a.date else {
            if a.number.is_some() {
                self.report(0, Rule::DateLine, "thiếu dòng địa danh, ngày tháng năm");
            }
            return;
        };
        if let Err(why) = date_form(&date.text) {
            self.report(0, Rule::DateLine, format!("{}: {why}", excerpt(&date.text)));
        }
        if date.italic == Some(false) {
            self.report(0, Rule::DateLine, "phải in nghiêng");
        }
        if let Some(size) = date.size
            && !in_range(size, (13.0, 14.0))
        {
            self.report(0, Rule::DateLine, format!("cỡ {} (13–14)", pt(size)));
        }
        if let Some(slogan) = &a.slogan
            && (date.centre() - slogan.centre()).abs() > 3.0
        {
            self.report(
                0,
                Rule::DateLine,
                format!(
                    "không canh giữa dưới Tiêu ngữ (lệch {})",
                    pt(date.centre() - slogan.centre())
                ),
            );
        }
    }

    /// "./.", the signature block's page, "Nơi nhận".
    fn closing(&mut self, layout: &Layout, pages: &[Vec<Line>], a: &mut Anchors) {
        let last_page = pages.len() - 1;
        let label = pages
            .iter()
            .flatten()
            .find(|l| l.text == RECIPIENTS_LABEL)
            .cloned();
        let ending = pages
            .iter()
            .flatten()
            .rfind(|l| l.text.contains("./."))
            .cloned();
        let Some(label) = label else {
            self.report(last_page, Rule::Recipients, "thiếu \"Nơi nhận:\"");
            if ending.is_none() {
                self.report(
                    last_page,
                    Rule::Ending,
                    "không có dòng nào kết thúc bằng \"./.\"",
                );
            }
            return;
        };
        a.recipients_label = Some(label.clone());
        let page = label.page;
        let lines = &pages[page];
        // The body's last line: the last line above the closing that is not a page number.
        let body_last = pages[..=page].iter().flatten().rfind(|l| {
            l.baseline > MARGIN_TOP + TOLERANCE
                && (l.page < page || l.baseline < label.baseline - 1.0)
        });
        match (&ending, body_last) {
            (None, _) => self.report(
                page,
                Rule::Ending,
                "không có dòng nào kết thúc bằng \"./.\"",
            ),
            (Some(end), Some(last)) if !last.text.ends_with("./.") || end.page != last.page => {
                self.report(
                    last.page,
                    Rule::Ending,
                    format!("dòng cuối của nội dung là {}", excerpt(&last.text)),
                );
            }
            _ => {}
        }
        // The signature page carries body text: the line ending "./." is on it.
        if ending.as_ref().is_some_and(|e| e.page != page)
            || !lines
                .iter()
                .any(|l| l.baseline > MARGIN_TOP + TOLERANCE && l.baseline < label.baseline - 1.0)
        {
            self.report(
                page,
                Rule::SignatureAlone,
                "chữ ký và nơi nhận nằm một mình trên trang, không kèm đoạn cuối của nội dung",
            );
        }
        // Nothing after the closing but its own lines, and the closing on one page.
        for later in pages.iter().skip(page + 1) {
            if let Some(l) = later.iter().find(|l| l.baseline > MARGIN_TOP + TOLERANCE) {
                self.report(
                    l.page,
                    Rule::Signature,
                    format!("khối chữ ký bị tách sang trang sau: {}", excerpt(&l.text)),
                );
                break;
            }
        }
        self.recipients(layout, lines, &label);
        self.signature(lines, &label);
    }

    fn recipients(&mut self, layout: &Layout, lines: &[Line], label: &Line) {
        let page = label.page;
        let width = layout.pages[page].width;
        if label.bold == Some(false) || label.italic == Some(false) {
            self.report(page, Rule::Recipients, "\"Nơi nhận:\" phải in đậm, nghiêng");
        }
        if let Some(size) = label.size
            && (size - 12.0).abs() > 0.05
        {
            self.report(
                page,
                Rule::Recipients,
                format!("\"Nơi nhận:\" cỡ {} (12)", pt(size)),
            );
        }
        if label.x0 > MARGIN_LEFT.1 + TOLERANCE {
            self.report(page, Rule::Recipients, "\"Nơi nhận:\" phải sát lề trái");
        }
        let column: Vec<&Line> = lines
            .iter()
            .filter(|l| l.baseline > label.baseline + 1.0 && l.x1 < width / 2.0 + 10.0 * MM)
            .collect();
        // Items start "- "; a wrapped item continues under its text, not under the dash.
        let mut items: Vec<(Line, Vec<&Line>)> = Vec::new();
        for l in column {
            if l.text.starts_with("- ") || l.text.starts_with("-\u{a0}") {
                items.push((l.clone(), Vec::new()));
            } else if let Some((_, rest)) = items.last_mut() {
                rest.push(l);
            } else {
                self.report(
                    page,
                    Rule::Recipients,
                    format!("{} không bắt đầu bằng \"- \"", excerpt(&l.text)),
                );
            }
        }
        if items.is_empty() {
            self.report(page, Rule::Recipients, "không có nơi nhận nào");
            return;
        }
        let count = items.len();
        for (n, (first, rest)) in items.iter().enumerate() {
            let whole = std::iter::once(first.text.as_str())
                .chain(rest.iter().map(|l| l.text.as_str()))
                .collect::<Vec<_>>()
                .join(" ");
            let last = n + 1 == count;
            if last && !(whole.starts_with("- Lưu") && whole.ends_with('.')) {
                self.report(
                    page,
                    Rule::Recipients,
                    format!(
                        "dòng cuối phải là \"- Lưu: VT, ….\", không phải {}",
                        excerpt(&whole)
                    ),
                );
            }
            if !last && !whole.ends_with(';') {
                self.report(
                    page,
                    Rule::Recipients,
                    format!("{} phải kết thúc bằng \";\"", excerpt(&whole)),
                );
            }
            if first.x0 > label.x0 + TOLERANCE {
                self.report(
                    page,
                    Rule::Recipients,
                    format!("{} phải bắt đầu sát lề", excerpt(&whole)),
                );
            }
            for l in rest {
                if l.x0 < first.x0 + 2.0 {
                    self.report(
                        page,
                        Rule::Recipients,
                        format!(
                            "dòng tiếp của {} phải thụt vào dưới chữ, không dưới gạch đầu dòng",
                            excerpt(&first.text)
                        ),
                    );
                }
            }
            for l in std::iter::once(first).chain(rest.iter().copied()) {
                if let Some(size) = l.size
                    && (size - 11.0).abs() > 0.05
                {
                    self.report(
                        page,
                        Rule::Recipients,
                        format!("{} cỡ {} (11)", excerpt(&l.text), pt(size)),
                    );
                }
            }
        }
    }

    fn signature(&mut self, lines: &[Line], label: &Line) {
        let page = label.page;
        let column: Vec<&Line> = lines
            .iter()
            .filter(|l| l.baseline > label.baseline - 2.0 && l.x0 > label.x1 + 5.0 * MM)
            .collect();
        if column.len() < 2 {
            self.report(page, Rule::Signature, "thiếu chức vụ hoặc họ tên người ký");
            return;
        }
        let centre = column[0].centre();
        for l in &column {
            if l.bold == Some(false) {
                self.report(
                    page,
                    Rule::Signature,
                    format!("{} phải in đậm", excerpt(&l.text)),
                );
            }
            if let Some(size) = l.size
                && !in_range(size, (13.0, 14.0))
            {
                self.report(
                    page,
                    Rule::Signature,
                    format!("{} cỡ {} (13–14)", excerpt(&l.text), pt(size)),
                );
            }
            if (l.centre() - centre).abs() > 3.0 {
                self.report(
                    page,
                    Rule::Signature,
                    format!("{} không canh giữa", excerpt(&l.text)),
                );
            }
        }
        // Authority and title lines in upper case; the name in name case.
        for l in &column[..column.len() - 1] {
            if l.text.chars().any(char::is_lowercase) {
                self.report(
                    page,
                    Rule::Signature,
                    format!("{} phải viết in hoa", excerpt(&l.text)),
                );
            }
        }
    }

    /// Typefaces, sizes and line pitch over a page.
    fn type_and_spacing(
        &mut self,
        i: usize,
        lines: &[Line],
        strokes: Option<&[Stroke]>,
        a: &Anchors,
    ) {
        let in_table = |l: &Line| {
            strokes.is_some_and(|s| {
                let left = s.iter().any(|s| {
                    s.vertical()
                        && s.x0 <= l.x0
                        && s.y0.min(s.y1) < l.baseline
                        && s.y0.max(s.y1) > l.baseline
                });
                let right = s.iter().any(|s| {
                    s.vertical()
                        && s.x0 >= l.x1
                        && s.y0.min(s.y1) < l.baseline
                        && s.y0.max(s.y1) > l.baseline
                });
                left && right
            })
        };
        let header_end = if i == 0 {
            a.excerpt
                .last()
                .or(a.number.as_ref())
                .or(a.date.as_ref())
                .map(|l| l.baseline + 1.0)
                .unwrap_or(0.0)
        } else {
            MARGIN_TOP + TOLERANCE
        };
        let closing_start = a
            .recipients_label
            .as_ref()
            .filter(|l| l.page == i)
            .map(|l| l.baseline - 1.0)
            .unwrap_or(f64::INFINITY);
        let mut families: Vec<&str> = Vec::new();
        for l in lines {
            for family in &l.families {
                if !TYPEFACES.contains(&family.as_str()) && !families.contains(&family.as_str()) {
                    families.push(family);
                    self.report(
                        i,
                        Rule::Typeface,
                        format!("phông \"{family}\" ở {}", excerpt(&l.text)),
                    );
                }
            }
            // Every element of Phụ lục I is set in 11 to 14 pt; body text in 13 to 14 pt.
            let body = l.baseline > header_end && l.baseline < closing_start && !in_table(l);
            let range = if body { (13.0, 14.0) } else { (11.0, 14.0) };
            for size in &l.sizes {
                if !in_range(*size, range) {
                    self.report(
                        i,
                        Rule::TypeSize,
                        format!(
                            "{} cỡ {} ({}–{} pt)",
                            excerpt(&l.text),
                            pt(*size),
                            range.0,
                            range.1
                        ),
                    );
                    break;
                }
            }
        }
        // Line pitch: each line against the nearest line above it in the same column.
        for (n, l) in lines.iter().enumerate() {
            let Some(size) = l.size else { continue };
            let above = lines[..n]
                .iter()
                .rev()
                .find(|p| p.baseline < l.baseline - 1.0 && p.x0 < l.x1 && l.x0 < p.x1);
            if let Some(p) = above {
                let pitch = l.baseline - p.baseline;
                // The lower line's size: its ascenders are what would touch the line above.
                let needed = SINGLE_SPACING * size;
                if pitch < needed - 0.05 {
                    self.report(
                        i,
                        Rule::LineSpacing,
                        format!(
                            "{} cách dòng trên {} (cỡ {}: cần ít nhất {})",
                            excerpt(&l.text),
                            pt(pitch),
                            pt(size),
                            pt(needed)
                        ),
                    );
                }
            }
        }
    }
}

/// "Số: 05/TB-UBND", or a draft's "Số:      /TB-UBND": numbers below 10 with a leading zero,
/// a slash, then the symbol's groups joined by hyphens without spaces.
pub fn number_form(text: &str) -> Result<(), String> {
    let Some(rest) = text.strip_prefix("Số:") else {
        return Err("phải bắt đầu bằng \"Số:\"".into());
    };
    let Some((number, symbol)) = rest.split_once('/') else {
        return Err("thiếu dấu \"/\" giữa số và ký hiệu".into());
    };
    let number = number.trim_matches(|c: char| c.is_whitespace());
    if !number.is_empty() {
        if !number.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("số \"{number}\" không phải chữ số"));
        }
        if number.len() < 2 {
            return Err("số nhỏ hơn 10 phải có số 0 phía trước".into());
        }
    }
    if symbol.is_empty() || symbol.contains(char::is_whitespace) {
        return Err("ký hiệu không được có khoảng trắng".into());
    }
    let groups: Vec<&str> = symbol.split('-').collect();
    if groups.len() < 2 || groups.iter().any(|g| g.is_empty()) {
        return Err("ký hiệu phải gồm các nhóm chữ viết tắt nối bằng \"-\"".into());
    }
    if groups
        .iter()
        .any(|g| !g.chars().next().is_some_and(char::is_uppercase))
    {
        return Err("ký hiệu phải viết in hoa".into());
    }
    Ok(())
}

/// "Đầm Hà, ngày 05 tháng 02 năm 2024", or a draft's blank day: days 1–9 and months 1–2
/// with a leading zero, every syllable of the place capitalised (after "Thành phố", "Thị xã" or
/// "Thị trấn"), a comma after it.
pub fn date_form(text: &str) -> Result<(), String> {
    let Some((place, rest)) = text.split_once(", ngày") else {
        return Err("phải có dạng \"<Địa danh>, ngày … tháng … năm …\"".into());
    };
    // The decree's own example is "Thành phố Hồ Chí Minh": the unit's kind before a name keeps
    // its second syllable lower case; every syllable of the name itself is capitalised.
    let name = ["Thành phố ", "Thị xã ", "Thị trấn "]
        .iter()
        .find_map(|prefix| place.strip_prefix(prefix))
        .unwrap_or(place);
    if name.trim().is_empty()
        || name.split_whitespace().any(|w| {
            !w.chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        })
    {
        return Err(format!(
            "địa danh \"{place}\" phải viết hoa chữ đầu mỗi âm tiết"
        ));
    }
    let Some((day, rest)) = rest.split_once(" tháng") else {
        return Err("thiếu \"tháng\"".into());
    };
    let Some((month, year)) = rest.split_once(" năm ") else {
        return Err("thiếu \"năm\"".into());
    };
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if !day.is_empty() {
        let ok = day.len() == 2
            && day.chars().all(|c| c.is_ascii_digit())
            && (1..=31).contains(&day.parse::<u32>().unwrap_or(0));
        if !ok {
            return Err(format!("ngày \"{day}\" phải có hai chữ số (01–31)"));
        }
    }
    if !month.is_empty() {
        let value = month.parse::<u32>().unwrap_or(0);
        let expected = match value {
            1 | 2 => format!("{value:02}"),
            3..=12 => value.to_string(),
            _ => return Err(format!("tháng \"{month}\" không hợp lệ")),
        };
        if month != expected {
            return Err(format!("tháng {value} phải viết \"{expected}\""));
        }
    }
    if year.len() != 4 || !year.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("năm \"{year}\" phải có bốn chữ số"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
