//! The one serializable value each document is rendered from. Every figure is formatted here,
//! once, in Vietnamese, and the raw value travels beside it; the Typst and DOCX templates only
//! place these strings, so no figure is formatted twice.

use serde::{Deserialize, Serialize};

use crate::input::text as text_width;
use crate::model::{DocumentKind, Half, Indicator, Period, Role, Unit};
use crate::vi;

/// Printed where a figure is not reported.
pub const NO_FIGURE: &str = "—";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentContext {
    #[serde(deserialize_with = "kind_slug")]
    pub kind: FixedWord,
    pub header: Header,
    /// "BÁO CÁO", "THÔNG BÁO"; none for a công văn.
    pub title: Option<String>,
    /// The excerpt under the title (typed documents) or the "V/v ..." line (công văn).
    pub excerpt: String,
    pub period: PeriodText,
    pub issuer: IssuerText,
    pub committee: CommitteeText,
    pub meeting: MeetingText,
    pub basis: Option<String>,
    pub report: Option<ReportContext>,
    pub notice: Option<NoticeContext>,
    pub letter: Option<LetterContext>,
    pub signer: SignerText,
    /// "Nơi nhận" lines, ready to print: "- X;" and the last "- Lưu: VT, TH.".
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// The parent body's line, upper case, not bold; none for a body without one in its header.
    pub parent: Option<String>,
    /// The issuing body's lines, upper case, bold.
    pub issuer: Vec<String>,
    /// "Số: 125/TB-UBND", or with the number left blank for the clerk.
    pub number: String,
    /// The excerpt as the header prints it: its phrases held together with no-break spaces so
    /// the narrow cell breaks between them (`excerpt` stays plain for mail and metadata).
    pub excerpt: String,
    /// The DOCX rules' lengths in whole even mm, measured with the shipped fonts: 0.4 of the
    /// issuing body's widest line and of the excerpt's widest line (Decree 30: 1/3 to 1/2).
    /// The PDF measures the same lines in Typst.
    pub issuer_rule_mm: u32,
    pub excerpt_rule_mm: u32,
    /// The place and date line needs more than the right column's usual 60% (a long place
    /// such as "Thành phố Hồ Chí Minh"): both formats narrow the left column.
    pub wide_date: bool,
    pub symbol: String,
    pub place_date: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeriodText {
    pub key: String,
    pub year: i32,
    pub half: u8,
    /// "6 tháng đầu năm 2024" / "năm 2024".
    pub label: String,
    /// "6 tháng cuối năm 2024" / "năm 2025".
    pub next_label: String,
    /// "sơ kết" / "tổng kết".
    pub review: String,
    /// "Hội nghị sơ kết 6 tháng đầu năm, triển khai nhiệm vụ 6 tháng cuối năm 2024".
    pub meeting_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerText {
    pub name: String,
    pub short: String,
    pub place: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitteeText {
    pub name: String,
    pub head_name: String,
    pub head_title: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonText {
    pub name: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeetingText {
    /// "21/6/2024".
    pub date: String,
    /// "ngày 21 tháng 6 năm 2024".
    pub date_long: String,
    pub place: Option<String>,
    pub chair_name: String,
    pub chair_title: String,
    pub attendees: Option<String>,
    pub reported_by: Option<String>,
    pub speakers: Vec<PersonText>,
    /// "đồng chí A, Phó Chủ tịch UBND huyện, đồng chí B, ..." or none.
    pub speakers_text: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignerText {
    pub authority: Option<String>,
    pub title: String,
    pub name: String,
    /// Virtual path of the signer's signature image (PNG), drawn between the title and the name
    /// when the document is issued with signing on; absent on drafts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_image: Option<String>,
    /// Virtual path of the organisation's seal image, drawn over the left third of the signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal_image: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Money {
    /// "61.864" (million VND).
    pub text: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BudgetText {
    pub allocated: Money,
    /// "Sáu mươi mốt nghìn tám trăm sáu mươi tư triệu đồng".
    pub allocated_words: String,
    pub disbursed: Option<Money>,
    /// "52,5%".
    pub rate: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndicatorText {
    pub no: String,
    pub name: String,
    pub unit: String,
    pub value: String,
    pub raw_value: f64,
    pub plan: Option<String>,
    /// "42,86%": value as a share of the plan.
    pub plan_rate: Option<String>,
    /// "0,12%": value as a share of the whole it is part of.
    pub share: Option<String>,
    /// The "Thực hiện" cell: "14 (0,12%)".
    pub value_cell: String,
    pub plan_cell: String,
    pub plan_rate_cell: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramText {
    /// Its clause number under section II ("2", "3", ...).
    pub no: String,
    pub name: String,
    pub budget: Option<BudgetText>,
    pub results: Vec<String>,
    pub indicators: Vec<IndicatorText>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BudgetRow {
    pub no: String,
    pub name: String,
    pub allocated: String,
    pub disbursed: String,
    pub rate: String,
}

/// Roman section numbers of the report; a section without content is left out and the
/// following ones move up, as a clerk would number them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportSections {
    /// None when the period has no leadership text: the section is left out, not left empty.
    pub leadership: Option<String>,
    pub results: String,
    pub assessment: Option<String>,
    pub tasks: String,
    pub proposals: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportContext {
    pub sections: ReportSections,
    pub leadership: Vec<String>,
    /// All programs' money; none when no program reports a budget (the section is left out).
    pub funds: Option<BudgetText>,
    /// What the total covers: "các Chương trình" when every program has a budget, else the
    /// programs by name ("Chương trình A và Chương trình B").
    pub funds_subject: String,
    /// The programs the total leaves out, as a sentence; none when it covers all of them.
    pub funds_note: Option<String>,
    /// The sub-clause headings of "ĐÁNH GIÁ CHUNG": numbered when both exist; none for a
    /// lone one (a "1." without a "2." reads as a slip).
    pub achievements_heading: Option<String>,
    pub shortcomings_heading: Option<String>,
    pub budget_rows: Vec<BudgetRow>,
    pub budget_total: Option<BudgetRow>,
    pub programs: Vec<ProgramText>,
    pub achievements: Vec<String>,
    pub shortcomings: Vec<String>,
    pub next_tasks: Vec<String>,
    pub proposals: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeSection {
    pub no: String,
    pub title: String,
    /// The assessment clause ("Đánh giá chung"), else the directions: which heading of the
    /// wording file the documents print.
    pub assessment: bool,
    pub paragraphs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeTask {
    pub text: String,
    /// Coordinating units' names, "UBND xã Quảng Lâm, UBND xã Quảng An".
    pub with: Option<String>,
    pub due: Option<String>,
    /// The printed line: "- text, phối hợp với ...; hoàn thành trước ngày 30/9/2024."
    pub line: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignment {
    /// "3.1".
    pub no: String,
    /// Who leads: "Ban Quản lý dự án đầu tư xây dựng huyện".
    pub units: String,
    pub tasks: Vec<NoticeTask>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeContext {
    pub sections: Vec<NoticeSection>,
    pub assignments_no: String,
    /// "2. Phân công nhiệm vụ"; none when it would be the notice's only numbered clause.
    pub assignments_heading: Option<String>,
    pub assignments: Vec<Assignment>,
    /// "Ủy ban nhân dân huyện Đầm Hà" (whoever issues the notice).
    pub notifier: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitText {
    pub id: String,
    pub name: String,
    pub short: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LetterTask {
    pub no: String,
    pub text: String,
    /// "lead", "member" (through a group) or "coordinate".
    #[serde(deserialize_with = "role_name")]
    pub role: FixedWord,
    pub group: Option<String>,
    /// For "coordinate": who leads the task.
    pub leads: Option<String>,
    /// Other units coordinating (this unit excluded).
    pub with: Option<String>,
    pub due: Option<String>,
    /// The text as it goes on after "…thực hiện nhiệm vụ:" (lower case unless it opens with a
    /// name), for the wording file's line of a coordinating unit.
    pub text_after_colon: String,
    /// The printed paragraph with the built-in wording (the documents word it from
    /// loi-van.toml's `dong_nhiem_vu`).
    pub line: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LetterContext {
    pub unit: UnitText,
    /// "Thông báo số      /TB-UBND ngày 25/6/2024".
    pub notice_ref: String,
    pub notice_issuer: String,
    pub tasks: Vec<LetterTask>,
    /// "Báo cáo kết quả thực hiện về UBND huyện Đầm Hà (qua ...) trước ngày ... để tổng hợp."
    /// (the built-in wording, for the message body; the documents word it from loi-van.toml).
    pub report_line: String,
    /// Its parts, for the wording file: who the unit reports to, through whom, by when.
    pub report_to: String,
    pub report_via: Option<String>,
    pub report_due: Option<String>,
}

/// One of a fixed set of words. A name of its own, because serde's derive takes a field written
/// `&'static str` for text borrowed from the input and would read the context only from
/// `'static` bytes; it is read back as the same static word by `kind_slug` and `role_name`.
pub type FixedWord = &'static str;

/// The context travels to a render worker as JSON (render/worker.rs) and is read back there:
/// its fixed words come back as the same static strings.
fn one_of<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    known: &[&'static str],
) -> Result<&'static str, D::Error> {
    let text = String::deserialize(deserializer)?;
    known
        .iter()
        .find(|k| **k == text)
        .copied()
        .ok_or_else(|| serde::de::Error::unknown_variant(&text, &[]))
}

fn kind_slug<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    one_of(deserializer, &DocumentKind::ALL.map(DocumentKind::slug))
}

fn role_name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    one_of(deserializer, &["lead", "member", "coordinate"])
}

/// A sentence fragment without its final punctuation, so templates can add their own.
/// Official names are spelt one way through the document ([`vi::official_names`]).
fn clause(text: &str) -> String {
    vi::official_names(text.trim().trim_end_matches(['.', ';', ',']).trim_end())
}

/// Paragraphs from the input, printed as typed but for the spelling of official names.
fn paragraphs(texts: &[String]) -> Vec<String> {
    texts.iter().map(|t| vi::official_names(t)).collect()
}

/// Points per millimetre.
const MM: f64 = 72.0 / 25.4;
/// The header's left column as both formats set it: 66 mm in nd30.typ (40% of 165 mm), 64 mm
/// inside the DOCX cell's margins; the narrower one decides where lines break.
const ISSUER_WIDTH: f64 = 64.0 * MM;
/// The same column when a long date line narrows it: 34% (56 mm) in nd30.typ, 56 mm inside
/// the DOCX cell. A công văn's "V/v" takes the column less 2 mm each side.
const ISSUER_WIDTH_WIDE: f64 = 56.0 * MM;
/// The widest place and date line the usual right column holds: 95 mm in nd30.typ, 93 mm
/// inside the DOCX cell, less a millimetre for kerning the measure leaves out.
const DATE_WIDTH: f64 = 92.0 * MM;
/// A typed document's excerpt: 88% of the text width (nd30.typ; 87.5% in the DOCX).
const TITLE_EXCERPT_WIDTH: f64 = 144.0 * MM;

/// The header's left column (points): where the issuing body and the "Số:" line go.
pub(crate) fn issuer_column_pt(wide_date: bool) -> f64 {
    if wide_date {
        ISSUER_WIDTH_WIDE
    } else {
        ISSUER_WIDTH
    }
}

/// The length of a rule under lines of these widths (points): 0.4 of the widest, in mm rounded
/// to an even number (the lengths the DOCX template holds), at least 6 and at most 64.
fn rule_mm(widths: impl Iterator<Item = f64>) -> u32 {
    let widest = widths.fold(0.0_f64, f64::max) / MM;
    ((widest * 0.2).round() as u32 * 2).clamp(6, 64)
}

fn regular_12(s: &str) -> f64 {
    text_width::regular_width_pt(s, 12.0)
}
fn bold_12(s: &str) -> f64 {
    text_width::bold_width_pt(s, 12.0)
}
fn bold_14(s: &str) -> f64 {
    text_width::bold_width_pt(s, 14.0)
}

/// The parent body's header line, with "Ủy ban nhân dân" shortened to "UBND" as Phụ lục I
/// allows for the line above the issuing body, so it fits the column without breaking
/// inside a phrase ("UBND TỈNH QUẢNG NINH").
fn parent_line(parent: &str) -> String {
    for long in [
        "Ủy ban nhân dân",
        "Uỷ ban nhân dân",
        "ỦY BAN NHÂN DÂN",
        "UỶ BAN NHÂN DÂN",
    ] {
        if let Some(rest) = parent.strip_prefix(long) {
            return format!("UBND{rest}");
        }
    }
    parent.to_string()
}

fn money(value: f64) -> Money {
    Money {
        text: vi::decimal(value, 2),
        value,
    }
}

/// The printed amount (million VND, as `money` prints it) in words: in millions when whole
/// and below a million millions, otherwise in đồng (with tỷ), so the words always say exactly
/// the printed figure and never read "… triệu … triệu đồng".
fn amount_words(million: f64) -> String {
    let style = vi::WordsStyle::default();
    let printed = (million.max(0.0) * 100.0).round() / 100.0;
    if printed.fract() == 0.0 && printed < 1_000_000.0 {
        vi::amount_in_words(printed as u64, "triệu đồng", &style)
    } else if printed.fract() == 0.0 {
        // Whole millions: exact in integers (f64 holds them exactly up to 2⁵³).
        vi::dong_in_words((printed as u64).saturating_mul(1_000_000), &style)
    } else {
        vi::dong_in_words((printed * 1_000_000.0).round() as u64, &style)
    }
}

fn budget_text(allocated: f64, disbursed: Option<f64>) -> BudgetText {
    BudgetText {
        allocated: money(allocated),
        allocated_words: amount_words(allocated),
        disbursed: disbursed.map(money),
        rate: disbursed.and_then(|d| vi::percent(d, allocated)),
    }
}

fn number_text(value: f64, decimals: Option<u32>) -> String {
    vi::decimal(value, decimals.unwrap_or(2))
}

fn indicator_text(no: usize, indicator: &Indicator) -> IndicatorText {
    let value = number_text(indicator.value, indicator.decimals);
    let share = indicator
        .share_of
        .and_then(|whole| vi::percent(indicator.value, whole));
    let plan = indicator.plan.map(|p| number_text(p, indicator.decimals));
    let plan_rate = indicator.plan.and_then(|p| vi::percent(indicator.value, p));
    IndicatorText {
        no: no.to_string(),
        name: indicator.name.clone(),
        unit: indicator.unit.clone(),
        value_cell: match &share {
            Some(s) => format!("{value} ({s})"),
            None => value.clone(),
        },
        plan_cell: plan.clone().unwrap_or_else(|| NO_FIGURE.into()),
        plan_rate_cell: plan_rate.clone().unwrap_or_else(|| NO_FIGURE.into()),
        value,
        raw_value: indicator.value,
        plan,
        plan_rate,
        share,
    }
}

/// Gives one table column (a field of each row) a single decimal style ([`vi::align_decimals`]).
fn align_column<T>(rows: &mut [&mut T], field: impl Fn(&mut T) -> &mut String) {
    let mut cells: Vec<String> = rows.iter_mut().map(|r| std::mem::take(field(r))).collect();
    vi::align_decimals(&mut cells);
    for (row, cell) in rows.iter_mut().zip(cells) {
        *field(row) = cell;
    }
}

const ROMAN: [&str; 10] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"];

fn period_text(period: &Period) -> PeriodText {
    let year = period.year;
    let (label, next_label, review) = match period.half {
        Half::First => (
            format!("6 tháng đầu năm {year}"),
            format!("6 tháng cuối năm {year}"),
            "sơ kết",
        ),
        Half::Whole => (
            format!("năm {year}"),
            format!("năm {}", year + 1),
            "tổng kết",
        ),
    };
    let meeting_name = match period.half {
        Half::First => {
            format!("Hội nghị sơ kết 6 tháng đầu năm, triển khai nhiệm vụ 6 tháng cuối năm {year}")
        }
        Half::Whole => format!(
            "Hội nghị tổng kết năm {year}, triển khai nhiệm vụ năm {}",
            year + 1
        ),
    };
    PeriodText {
        key: period.key(),
        year,
        half: period.half.number(),
        label,
        next_label,
        review: review.into(),
        meeting_name,
    }
}

/// Joins names the way Vietnamese lists read: "A, B và C".
fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} và {last}", rest.join(", ")),
    }
}

/// Renders the context of one document. `unit` is the addressee of an assignment letter.
/// `number` overrides the period file's number (the register gives it when sending).
pub fn build(
    period: &Period,
    kind: DocumentKind,
    unit: Option<&Unit>,
    number: Option<u32>,
) -> DocumentContext {
    let settings = period.settings(kind);
    let issuer = period.issuer_of(kind);
    let symbol = period.symbol(kind);
    let number = number.or(settings.number);
    let number_line = match number {
        Some(n) => format!("Số: {}/{symbol}", vi::document_number(n)),
        // Drafts leave room for the clerk to write the number in (Phụ lục III).
        None => format!("Số:{}/{symbol}", vi::dates::BLANK_DAY),
    };
    let place_date = vi::date_line(&issuer.place, period.documents.date);
    let wide_date = text_width::italic_width_pt(&place_date, 13.0) > DATE_WIDTH;
    let issuer_width = if wide_date {
        ISSUER_WIDTH_WIDE
    } else {
        ISSUER_WIDTH
    };
    let header = Header {
        parent: issuer.parent.as_deref().map(|p| {
            vi::phrases::hold_phrases(&vi::upper(&parent_line(p)), issuer_width, regular_12)
        }),
        issuer: issuer
            .header
            .iter()
            .flat_map(|l| vi::phrases::break_lines(&vi::upper(l), issuer_width, bold_12))
            .collect(),
        number: number_line,
        excerpt: String::new(),
        issuer_rule_mm: 0,
        excerpt_rule_mm: 0,
        wide_date,
        symbol: symbol.clone(),
        place_date,
    };
    let period_text = period_text(period);
    let meeting = &period.meeting;
    let title = kind.spec().title.map(str::to_owned);
    let part = kind_part(period, kind, unit, &period_text);
    let excerpt = part.excerpt;

    let mut header = header;
    header.issuer_rule_mm = rule_mm(header.issuer.iter().map(|l| bold_12(l)));
    header.excerpt_rule_mm = rule_mm(
        vi::phrases::break_lines(&excerpt, TITLE_EXCERPT_WIDTH, bold_14)
            .iter()
            .map(|l| bold_14(l)),
    );
    header.excerpt = if title.is_none() {
        vi::phrases::hold_phrases(&excerpt, issuer_width - 4.0 * MM, regular_12)
    } else {
        vi::phrases::hold_phrases(&excerpt, TITLE_EXCERPT_WIDTH, bold_14)
    };
    let mut context = DocumentContext {
        kind: kind.slug(),
        header,
        title,
        excerpt,
        period: period_text,
        issuer: IssuerText {
            name: issuer.name.clone(),
            short: issuer.short.clone(),
            place: issuer.place.clone(),
        },
        committee: CommitteeText {
            name: period.committee.name.clone(),
            head_name: period.committee.head.name.clone(),
            head_title: period.committee.head.title.clone(),
        },
        meeting: MeetingText {
            date: vi::short_date(meeting.date),
            date_long: vi::long_date(meeting.date),
            place: meeting.place.clone(),
            chair_name: meeting.chair.name.clone(),
            chair_title: meeting.chair.title.clone(),
            attendees: meeting.attendees.clone(),
            reported_by: meeting.reported_by.clone(),
            speakers: meeting
                .speakers
                .iter()
                .map(|p| PersonText {
                    name: p.name.clone(),
                    title: p.title.clone(),
                })
                .collect(),
            speakers_text: (!meeting.speakers.is_empty()).then(|| {
                let speakers: Vec<String> = meeting
                    .speakers
                    .iter()
                    .map(|p| format!("đồng chí {}, {}", p.name, p.title))
                    .collect();
                speakers.join(", ")
            }),
        },
        basis: period.documents.basis.clone(),
        report: part.report,
        notice: part.notice,
        letter: part.letter,
        signer: SignerText {
            authority: settings.signer.authority.as_deref().map(vi::upper),
            title: vi::upper(&settings.signer.title),
            name: settings.signer.name.clone(),
            signature_image: None,
            seal_image: None,
        },
        recipients: Vec::new(),
    };

    let mut recipients = part.recipients;
    let mut seen = Vec::new();
    recipients.retain(|r| {
        let fresh = !seen.contains(r);
        seen.push(r.clone());
        fresh
    });
    context.recipients = recipients
        .iter()
        .map(|r| format!("- {};", clause(r)))
        .collect();
    context
        .recipients
        .push(format!("- Lưu: VT, {}.", settings.filing));
    context
}

/// What a kind of document adds to the context every document has.
#[derive(Default)]
struct KindPart {
    /// The excerpt (trích yếu): the settings' own, or the one the kind composes.
    excerpt: String,
    report: Option<ReportContext>,
    notice: Option<NoticeContext>,
    letter: Option<LetterContext>,
    /// "Nơi nhận" before "Lưu", unprinted.
    recipients: Vec<String>,
}

/// Each kind's own part of its context: the one place a kind's content is told apart.
fn kind_part(
    period: &Period,
    kind: DocumentKind,
    unit: Option<&Unit>,
    period_text: &PeriodText,
) -> KindPart {
    let settings = period.settings(kind);
    let excerpt = |composed: String| settings.excerpt.clone().unwrap_or(composed);
    let meeting = &period.meeting;
    match kind {
        DocumentKind::ReviewReport => KindPart {
            excerpt: excerpt(format!(
                "{} thực hiện các Chương trình mục tiêu quốc gia; nhiệm vụ, giải pháp trọng tâm {}",
                vi::capitalize_first(&format!("{} {}", period_text.review, period_text.label)),
                period_text.next_label
            )),
            report: Some(report_context(period)),
            recipients: settings
                .cc
                .iter()
                .cloned()
                .chain(
                    period
                        .directory
                        .report_to
                        .as_deref()
                        .and_then(|g| period.directory.group(g))
                        .map(|group| group.name.clone()),
                )
                .collect(),
            ..KindPart::default()
        },
        DocumentKind::ConclusionNotice => KindPart {
            excerpt: excerpt(format!(
                "Kết luận của đồng chí {}, {} tại {} của {}",
                meeting.chair.name,
                meeting.chair.title,
                period_text.meeting_name,
                period.committee.name
            )),
            notice: Some(notice_context(period)),
            recipients: settings
                .cc
                .iter()
                .cloned()
                .chain(
                    notice_addressees(period)
                        .into_iter()
                        .map(|id| short_of(period, id)),
                )
                .collect(),
            ..KindPart::default()
        },
        DocumentKind::AssignmentLetter => KindPart {
            excerpt: excerpt(format!(
                "V/v triển khai nhiệm vụ theo kết luận tại Hội nghị {} {} các Chương trình mục tiêu quốc gia",
                period_text.review, period_text.label
            )),
            letter: unit.map(|unit| letter_context(period, unit)),
            recipients: std::iter::once("Như trên".to_owned())
                .chain(settings.cc.iter().cloned())
                .collect(),
            ..KindPart::default()
        },
    }
}

/// The units and groups named in the conclusions, without those a listed group already
/// covers: "UBND các xã" makes "UBND xã Quảng An" redundant in "Nơi nhận".
fn notice_addressees(period: &Period) -> Vec<&str> {
    let named = period.named_in_tasks();
    let directory = &period.directory;
    let members = |id: &str| -> Vec<&str> {
        directory
            .expand(id)
            .into_iter()
            .map(|u| u.id.as_str())
            .collect()
    };
    named
        .iter()
        .enumerate()
        .filter(|&(i, id)| {
            let own = members(id);
            !named.iter().enumerate().any(|(j, other)| {
                if i == j || directory.group(other).is_none() {
                    return false;
                }
                let covering = members(other);
                let covered = own.iter().all(|m| covering.contains(m));
                // Two groups with the same members: keep the first one named.
                covered && (covering.len() > own.len() || directory.group(id).is_none() || j < i)
            })
        })
        .map(|(_, id)| *id)
        .collect()
}

/// Names units the way a reader meets them: the full name the first time a document names a
/// unit, its short form ("Phòng NN&PTNT") after that, so an abbreviation never comes before the
/// name it stands for.
struct Mentions<'a> {
    period: &'a Period,
    seen: std::collections::HashSet<String>,
}

impl<'a> Mentions<'a> {
    fn new(period: &'a Period) -> Self {
        Self {
            period,
            seen: std::collections::HashSet::new(),
        }
    }

    /// `id` was named in full (a heading, "Kính gửi").
    fn saw(&mut self, id: &str) {
        self.seen.insert(id.to_string());
    }

    fn name(&mut self, id: &str) -> String {
        let short = short_of(self.period, id);
        if self.seen.insert(id.to_string()) && !reads_without_introduction(&short) {
            self.period.directory.name_of(id).to_string()
        } else {
            short
        }
    }
}

/// Whether a short name needs no full name before it: its only abbreviations are the ones
/// every reader of an administrative document knows ("UBND xã Quảng An", "HĐND huyện").
fn reads_without_introduction(short: &str) -> bool {
    short
        .split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_uppercase()).count() > 1)
        .all(|w| matches!(w, "UBND" | "HĐND"))
}

impl Mentions<'_> {
    fn names<'i>(&mut self, ids: impl IntoIterator<Item = &'i String>) -> String {
        let names: Vec<String> = ids.into_iter().map(|id| self.name(id)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        join_names(&refs)
    }
}

fn short_of(period: &Period, id: &str) -> String {
    match period.directory.unit(id) {
        Some(unit) => unit.short.clone(),
        None => period.directory.name_of(id).to_string(),
    }
}

pub(crate) fn report_context(period: &Period) -> ReportContext {
    let totals = period.totals();
    let has_funds = period.programs.iter().any(|p| p.budget.is_some());
    // Clause 1 of section II is the funds, when there are any; the programs follow.
    let mut no = usize::from(has_funds);
    let mut budget_rows = Vec::new();
    let mut programs = Vec::new();
    for program in &period.programs {
        let budget = program
            .budget
            .map(|b| budget_text(b.allocated, b.disbursed));
        if let Some(b) = &budget {
            budget_rows.push(BudgetRow {
                no: (budget_rows.len() + 1).to_string(),
                name: program.name.clone(),
                allocated: b.allocated.text.clone(),
                disbursed: b
                    .disbursed
                    .as_ref()
                    .map_or(NO_FIGURE.into(), |d| d.text.clone()),
                rate: b.rate.clone().unwrap_or_else(|| NO_FIGURE.into()),
            });
        }
        no += 1;
        programs.push(ProgramText {
            no: no.to_string(),
            name: program.name.clone(),
            budget,
            results: program.results.iter().map(|r| clause(r)).collect(),
            indicators: program
                .indicators
                .iter()
                .enumerate()
                .map(|(i, ind)| indicator_text(i + 1, ind))
                .collect(),
        });
    }
    let funds = has_funds.then(|| budget_text(totals.allocated, totals.disbursed));
    let mut budget_total = funds.as_ref().map(|funds| BudgetRow {
        no: String::new(),
        name: "Tổng cộng".into(),
        allocated: funds.allocated.text.clone(),
        disbursed: funds
            .disbursed
            .as_ref()
            .map_or(NO_FIGURE.into(), |d| d.text.clone()),
        rate: funds.rate.clone().unwrap_or_else(|| NO_FIGURE.into()),
    });
    // One decimal style per table column, the total row included.
    {
        let mut rows: Vec<&mut BudgetRow> = budget_rows.iter_mut().collect();
        let mut total = budget_total;
        rows.extend(total.as_mut());
        align_column(&mut rows, |r| &mut r.allocated);
        align_column(&mut rows, |r| &mut r.disbursed);
        align_column(&mut rows, |r| &mut r.rate);
        budget_total = total;
    }
    for program in &mut programs {
        let mut rows: Vec<&mut IndicatorText> = program.indicators.iter_mut().collect();
        align_column(&mut rows, |r| &mut r.value_cell);
        align_column(&mut rows, |r| &mut r.plan_cell);
        align_column(&mut rows, |r| &mut r.plan_rate_cell);
    }
    let report = &period.report;
    // Without written next tasks, the chairman's conclusions are the next half's tasks.
    let next_tasks: Vec<String> = if report.next_tasks.is_empty() {
        period.tasks.iter().map(|t| clause(&t.text)).collect()
    } else {
        report.next_tasks.iter().map(|t| clause(t)).collect()
    };
    let mut roman = ROMAN.iter().map(|s| s.to_string());
    let mut next = || roman.next().unwrap_or_default();
    let sections = ReportSections {
        leadership: (!report.leadership.is_empty()).then(&mut next),
        results: next(),
        assessment: (!report.achievements.is_empty() || !report.shortcomings.is_empty())
            .then(&mut next),
        tasks: next(),
        proposals: (!report.proposals.is_empty()).then(&mut next),
    };
    let unbudgeted: Vec<String> = period
        .programs
        .iter()
        .filter(|p| p.budget.is_none())
        .map(|p| format!("Chương trình {}", p.name))
        .collect();
    let budgeted: Vec<String> = period
        .programs
        .iter()
        .filter(|p| p.budget.is_some())
        .map(|p| format!("Chương trình {}", p.name))
        .collect();
    let (funds_subject, funds_note) = if unbudgeted.is_empty() || budgeted.is_empty() {
        ("các Chương trình".to_string(), None)
    } else {
        fn refs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        (
            join_names(&refs(&budgeted)),
            Some(format!(
                "{} chưa có số liệu vốn nên chưa tính vào tổng số trên",
                join_names(&refs(&unbudgeted))
            )),
        )
    };
    let both = !report.achievements.is_empty() && !report.shortcomings.is_empty();
    ReportContext {
        sections,
        leadership: paragraphs(&report.leadership),
        funds_subject,
        funds_note,
        achievements_heading: both.then(|| "1. Kết quả đạt được".to_string()),
        shortcomings_heading: both.then(|| "2. Tồn tại, hạn chế".to_string()),
        funds,
        budget_rows,
        budget_total,
        programs,
        achievements: paragraphs(&report.achievements),
        shortcomings: paragraphs(&report.shortcomings),
        next_tasks,
        proposals: paragraphs(&report.proposals),
    }
}

/// The notice's assessment clause, as the built-in wording titles it.
const ASSESSMENT: &str = "Đánh giá chung";

fn notice_context(period: &Period) -> NoticeContext {
    let mut sections = Vec::new();
    let conclusions = &period.conclusions;
    if !conclusions.assessment.is_empty() {
        sections.push((ASSESSMENT, conclusions.assessment.clone()));
    }
    if !conclusions.directions.is_empty() {
        sections.push((
            "Nhiệm vụ trọng tâm thời gian tới",
            conclusions.directions.clone(),
        ));
    }
    let sections: Vec<NoticeSection> = sections
        .into_iter()
        .enumerate()
        .map(|(i, (title, texts))| NoticeSection {
            no: (i + 1).to_string(),
            assessment: title == ASSESSMENT,
            title: title.into(),
            paragraphs: paragraphs(&texts),
        })
        .collect();
    let assignments_no = (sections.len() + 1).to_string();

    // Tasks with the same lead units are listed together, in order of first mention.
    // Grouped by who leads, in order of first appearance, then named in print order: a
    // group's units (in full), then its tasks' partners.
    let mut groups: Vec<(&Vec<String>, Vec<&crate::model::Task>)> = Vec::new();
    for task in &period.tasks {
        match groups.iter_mut().find(|(to, _)| **to == task.to) {
            Some((_, tasks)) => tasks.push(task),
            None => groups.push((&task.to, vec![task])),
        }
    }
    let mut mentions = Mentions::new(period);
    let assignments = groups
        .into_iter()
        .enumerate()
        .map(|(i, (to, tasks))| {
            let names: Vec<&str> = to.iter().map(|id| period.directory.name_of(id)).collect();
            for id in to {
                mentions.saw(id);
            }
            let tasks = tasks
                .into_iter()
                .map(|task| {
                    let with = (!task.with.is_empty()).then(|| mentions.names(&task.with));
                    let due = task.due.map(vi::short_date);
                    let mut line = format!("- {}", clause(&task.text));
                    if let Some(with) = &with {
                        line.push_str(&format!(", phối hợp với {with}"));
                    }
                    if let Some(due) = &due {
                        line.push_str(&format!("; hoàn thành trước ngày {due}"));
                    }
                    line.push('.');
                    NoticeTask {
                        text: clause(&task.text),
                        with,
                        due,
                        line,
                    }
                })
                .collect();
            Assignment {
                no: format!("{assignments_no}.{}", i + 1),
                units: join_names(&names),
                tasks,
            }
        })
        .collect();
    NoticeContext {
        assignments_heading: (!sections.is_empty())
            .then(|| format!("{assignments_no}. Phân công nhiệm vụ")),
        sections,
        assignments_no,
        assignments,
        notifier: period
            .issuer_of(DocumentKind::ConclusionNotice)
            .name
            .clone(),
    }
}

fn letter_context(period: &Period, unit: &Unit) -> LetterContext {
    let notice = DocumentKind::ConclusionNotice;
    let notice_number = match period.settings(notice).number {
        Some(n) => vi::document_number(n),
        None => vi::dates::BLANK_DAY.to_string(),
    };
    let notice_ref = format!(
        "Thông báo số {notice_number}/{} ngày {}",
        period.symbol(notice),
        vi::short_date(period.documents.date_of(notice))
    );
    // "Kính gửi" names the unit in full; others in full the first time a line names them.
    let mut mentions = Mentions::new(period);
    mentions.saw(&unit.id);
    let tasks = period
        .tasks_of(&unit.id)
        .into_iter()
        .enumerate()
        .map(|(i, unit_task)| {
            let task = unit_task.task;
            let others: Vec<&String> = task.with.iter().filter(|id| *id != &unit.id).collect();
            let coordinates = matches!(unit_task.role, Role::Coordinate);
            // A coordinating unit's line names the leads, not the other partners.
            let with = (!others.is_empty() && !coordinates).then(|| mentions.names(others));
            let due = task.due.map(vi::short_date);
            let no = (i + 1).to_string();
            let text = clause(&task.text);
            let text_after_colon = vi::after_colon(&text);
            let (role, group, leads, mut line) = match &unit_task.role {
                Role::Lead => ("lead", None, None, format!("{no}. {text}.")),
                Role::LeadAsMember(group) => (
                    "member",
                    Some(group.clone()),
                    None,
                    format!("{no}. {text} (nhiệm vụ chung của {group})."),
                ),
                Role::Coordinate => {
                    let leads = mentions.names(&task.to);
                    // Mid-sentence after the colon: no capital unless the task opens with a name.
                    let line = format!(
                        "{no}. Phối hợp với {leads} thực hiện nhiệm vụ: {text_after_colon}."
                    );
                    ("coordinate", None, Some(leads), line)
                }
            };
            if role != "coordinate"
                && let Some(with) = &with
            {
                line.push_str(&format!(" Đơn vị phối hợp: {with}."));
            }
            if let Some(due) = &due {
                line.push_str(&format!(" Thời hạn hoàn thành: trước ngày {due}."));
            }
            LetterTask {
                no,
                text,
                role,
                group,
                leads,
                with,
                due,
                text_after_colon,
                line,
            }
        })
        .collect();
    let letter = period
        .settings(DocumentKind::AssignmentLetter)
        .letter
        .as_ref();
    let report_to = period.issuer.short.clone();
    let mut report_line = format!("Báo cáo kết quả thực hiện về {report_to}");
    // The reporting channel itself reports directly, not "through itself".
    let report_via = letter
        .and_then(|l| l.report_via.as_deref())
        .filter(|id| *id != unit.id)
        .and_then(|id| period.directory.unit(id))
        .map(|via| via.name.clone());
    if let Some(via) = &report_via {
        report_line.push_str(&format!(" (qua {via})"));
    }
    // The unit's own deadline, else the earliest of its tasks', else the period's.
    let due = letter
        .and_then(|l| l.report_due_units.iter().find(|(id, _)| *id == unit.id))
        .map(|(_, d)| *d)
        .or_else(|| {
            period
                .tasks_of(&unit.id)
                .iter()
                .filter_map(|t| t.task.report_due)
                .min()
        })
        .or(letter.and_then(|l| l.report_due));
    let report_due = due.map(vi::short_date);
    if let Some(due) = &report_due {
        report_line.push_str(&format!(" trước ngày {due}"));
    }
    report_line.push_str(" để tổng hợp.");
    LetterContext {
        unit: UnitText {
            id: unit.id.clone(),
            name: unit.name.clone(),
            short: unit.short.clone(),
        },
        notice_ref,
        notice_issuer: period.issuer_of(notice).short.clone(),
        tasks,
        report_line,
        report_to,
        report_via,
        report_due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_lose_their_final_punctuation() {
        assert_eq!(clause("Đẩy nhanh tiến độ.  "), "Đẩy nhanh tiến độ");
        assert_eq!(clause("a;"), "a");
    }

    #[test]
    fn amounts_past_a_million_trieu_are_read_in_ty() {
        // A province's budget past a million triệu is read in tỷ; and the boundaries on each
        // side of the switch.
        assert_eq!(
            amount_words(2_345_678.0),
            "Hai nghìn ba trăm bốn mươi lăm tỷ, sáu trăm bảy mươi tám triệu đồng"
        );
        assert_eq!(
            amount_words(999_999.0),
            "Chín trăm chín mươi chín nghìn chín trăm chín mươi chín triệu đồng"
        );
        assert_eq!(amount_words(1_000_000.0), "Một nghìn tỷ đồng");
        assert_eq!(
            amount_words(1_000_001.0),
            "Một nghìn tỷ, không trăm linh một triệu đồng"
        );
        assert_eq!(amount_words(1e9), "Một triệu tỷ đồng");
        assert_eq!(amount_words(1e12), "Một tỷ tỷ đồng");
        assert_eq!(
            amount_words(1_000_000.5),
            "Một nghìn tỷ, năm trăm nghìn đồng"
        );
    }

    #[test]
    fn the_parent_line_is_shortened() {
        assert_eq!(
            parent_line("Ủy ban nhân dân tỉnh Quảng Ninh"),
            "UBND tỉnh Quảng Ninh"
        );
        assert_eq!(parent_line("Bộ Nội vụ"), "Bộ Nội vụ");
    }

    #[test]
    fn names_join_with_va() {
        assert_eq!(join_names(&["A"]), "A");
        assert_eq!(join_names(&["A", "B"]), "A và B");
        assert_eq!(join_names(&["A", "B", "C"]), "A, B và C");
    }
}
