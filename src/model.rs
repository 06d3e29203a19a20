//! The typed period: what the input files say, validated, plus the figures derived from them
//! (rates, shares, totals, who gets which task). Nothing here is formatted for print.

use chrono::NaiveDate;

mod kind;
pub use kind::{Addressed, Carriage, DocumentKind, FileNames, KINDS, KindNames, KindSpec, Signers};

/// Which review: the first half (six months to 30 June) or the whole year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Half {
    First,
    Whole,
}

impl Half {
    pub fn number(self) -> u8 {
        match self {
            Half::First => 1,
            Half::Whole => 2,
        }
    }

    /// 1 or 2, as period files and path patterns write it; anything else is no half.
    pub fn from_number(number: u8) -> Option<Half> {
        match number {
            1 => Some(Half::First),
            2 => Some(Half::Whole),
            _ => None,
        }
    }
}

/// Which period: a year and its half. The one name of a period across the CLI, the ledger, the
/// register and the scheduler; its text form ("2024-h1", [`PeriodId::key`]) is only for file
/// names and database keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodId {
    pub year: i32,
    pub half: Half,
}

impl PeriodId {
    pub fn new(year: i32, half: Half) -> PeriodId {
        PeriodId { year, half }
    }

    /// "2024-h1" / "2024-h2": the period's key in file names, the ledger and the register.
    pub fn key(self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for PeriodId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-h{}", self.year, self.half.number())
    }
}

/// A period key that is not "YYYY-h1" or "YYYY-h2" (read back from a database written by
/// hand, or typed on the command line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("«{0}» không phải mã kỳ báo cáo (dạng 2024-h1 hoặc 2024-h2)")]
pub struct BadPeriodId(pub String);

impl std::str::FromStr for PeriodId {
    type Err = BadPeriodId;

    fn from_str(text: &str) -> Result<PeriodId, BadPeriodId> {
        let bad = || BadPeriodId(text.to_owned());
        let (year, half) = text.split_once("-h").ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(1..=9999).contains(&year) || year.to_string().len() != 4 {
            return Err(bad());
        }
        let half = match half {
            "1" => Half::First,
            "2" => Half::Whole,
            _ => return Err(bad()),
        };
        Ok(PeriodId { year, half })
    }
}

/// Compares with `(year, half number)`, as tables of expected periods write them.
impl PartialEq<(i32, u8)> for PeriodId {
    fn eq(&self, other: &(i32, u8)) -> bool {
        self.year == other.0 && self.half.number() == other.1
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub name: String,
    pub title: String,
}

/// The body that issues a document. Since the 2025 reform it may be a province, a commune or,
/// for documents dated before 1 July 2025, a district: all of it is data.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuer {
    /// Stable key of the issuer in the ledger and the register: `issuer.id` if given, else
    /// "abbr/place" lower-cased ("ubnd/đầm hà"), so re-spelling the name changes nothing.
    pub id: String,
    /// Full official name, e.g. "Ủy ban nhân dân huyện Đầm Hà".
    pub name: String,
    /// Used in symbols: "UBND" in 125/TB-UBND.
    pub abbr: String,
    /// The body above it, printed in the header's first line (not bold).
    pub parent: Option<String>,
    /// Place in the date line, e.g. "Đầm Hà".
    pub place: String,
    /// How the body text names it, e.g. "UBND huyện Đầm Hà".
    pub short: String,
    /// Header lines as the office breaks them ("ỦY BAN NHÂN DÂN" / "HUYỆN ĐẦM HÀ"); upper-cased at print.
    pub header: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Committee {
    pub name: String,
    pub head: Person,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Meeting {
    pub date: NaiveDate,
    pub place: Option<String>,
    /// Who chaired; defaults to the committee head.
    pub chair: Person,
    pub attendees: Option<String>,
    pub speakers: Vec<Person>,
    /// Who presented the draft report at the meeting, e.g. "Phòng Nông nghiệp và PTNT".
    pub reported_by: Option<String>,
}

/// The signature block: authority line (TM./KT./TL. ...), title and name.
#[derive(Debug, Clone, PartialEq)]
pub struct Signer {
    pub authority: Option<String>,
    pub title: String,
    pub name: String,
}

/// How one kind of document is issued.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSettings {
    /// The issuing body, when not the period's issuer (e.g. the Office issues the notice: TB-VP).
    pub issuer: Option<Issuer>,
    /// A number already given by the clerk; otherwise left blank (or taken from the register).
    pub number: Option<u32>,
    pub signer: Signer,
    /// Replaces the computed excerpt (trích yếu).
    pub excerpt: Option<String>,
    /// "Nơi nhận" lines besides the ones vanban derives, e.g. "Thường trực Huyện ủy (b/c)".
    pub cc: Vec<String>,
    /// Abbreviation of the drafting unit in "- Lưu: VT, TH.".
    pub filing: String,
    /// Attachments in separate files (văn bản kèm theo), sent with the document: at issue each
    /// carries the organisation's digital signature with the document's number (Decree 30,
    /// Phụ lục I box 14).
    pub attachments: Vec<AttachedFile>,
    /// Its issue date when it is not [`Documents::date`]: `send` sets it from the register for a
    /// document another one cites ([`KindSpec::cites`]), so a letter issued later cites the
    /// notice as issued. `None`: [`Documents::date`].
    pub issued_on: Option<NaiveDate>,
    /// What only a công văn has (its kind has no type abbreviation): present exactly for those
    /// kinds.
    pub letter: Option<LetterSettings>,
}

/// A PDF sent with a document as a separate file, read when the period file is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedFile {
    /// Its file name as the period file gives it, without folders: "Biểu số liệu chi tiết.pdf".
    pub name: String,
    pub bytes: std::sync::Arc<[u8]>,
}

/// The settings of a công văn besides those every document has.
#[derive(Debug, Clone, PartialEq)]
pub struct LetterSettings {
    /// The drafting unit in the công văn symbol: UBND-NLN.
    pub unit_abbr: String,
    /// The unit results are reported through: "(qua Phòng ...)".
    pub report_via: Option<String>,
    pub report_due: Option<NaiveDate>,
    /// Per-unit reporting deadlines (unit id, date): they win over the tasks' and the period's.
    pub report_due_units: Vec<(String, NaiveDate)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Documents {
    pub date: NaiveDate,
    /// The document the review answers to: "Thực hiện Văn bản số ... của ...".
    pub basis: Option<String>,
    /// Each kind's settings, in the order of [`DocumentKind::ALL`].
    kinds: [DocumentSettings; KINDS.len()],
}

impl Documents {
    /// `kinds` in the order of [`DocumentKind::ALL`].
    pub fn new(
        date: NaiveDate,
        basis: Option<String>,
        kinds: [DocumentSettings; KINDS.len()],
    ) -> Documents {
        Documents { date, basis, kinds }
    }

    /// How `kind` is issued.
    pub fn settings(&self, kind: DocumentKind) -> &DocumentSettings {
        &self.kinds[kind.index()]
    }

    pub fn settings_mut(&mut self, kind: DocumentKind) -> &mut DocumentSettings {
        &mut self.kinds[kind.index()]
    }

    /// The day `kind` is (or was) issued.
    pub fn date_of(&self, kind: DocumentKind) -> NaiveDate {
        self.settings(kind).issued_on.unwrap_or(self.date)
    }
}

/// The prose of the review report that only people can write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportText {
    pub leadership: Vec<String>,
    pub achievements: Vec<String>,
    pub shortcomings: Vec<String>,
    pub next_tasks: Vec<String>,
    pub proposals: Vec<String>,
}

/// The chairman's conclusions besides the per-unit assignments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conclusions {
    pub assessment: Vec<String>,
    pub directions: Vec<String>,
}

/// Money in million VND, as the programs report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub allocated: f64,
    pub disbursed: Option<f64>,
}

impl Budget {
    /// Disbursement as a percentage of the allocation.
    pub fn rate(&self) -> Option<f64> {
        percentage(self.disbursed?, self.allocated)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub name: String,
    pub unit: String,
    pub value: f64,
    /// The target: the document says "đạt X% kế hoạch".
    pub plan: Option<f64>,
    /// The whole this value is part of: the document says "bằng X%" (e.g. all households).
    pub share_of: Option<f64>,
    /// Decimal places to print; default: as written, at most 2.
    pub decimals: Option<u32>,
}

impl Indicator {
    pub fn plan_rate(&self) -> Option<f64> {
        percentage(self.value, self.plan?)
    }

    pub fn share(&self) -> Option<f64> {
        percentage(self.value, self.share_of?)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub id: String,
    pub name: String,
    pub budget: Option<Budget>,
    pub indicators: Vec<Indicator>,
    pub results: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Unit or group ids, as written in the period file.
    pub to: Vec<String>,
    pub with: Vec<String>,
    pub text: String,
    pub due: Option<NaiveDate>,
    /// By when the units report their results on this task (the letter prints the earliest).
    pub report_due: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub short: String,
    pub emails: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
}

/// Units and groups of units; stable across periods.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Directory {
    pub units: Vec<Unit>,
    pub groups: Vec<Group>,
    /// The group that receives the review report.
    pub report_to: Option<String>,
}

impl Directory {
    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.id == id)
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The name of a unit or group id (ids are validated on load).
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.unit(id)
            .map(|u| u.name.as_str())
            .or_else(|| self.group(id).map(|g| g.name.as_str()))
            .unwrap_or(id)
    }

    /// The units an id stands for: itself, or a group's members.
    pub fn expand(&self, id: &str) -> Vec<&Unit> {
        match self.group(id) {
            Some(group) => group.members.iter().filter_map(|m| self.unit(m)).collect(),
            None => self.unit(id).into_iter().collect(),
        }
    }

    /// Who receives the review report: the `report_to` group's members.
    pub fn report_recipients(&self) -> Vec<&Unit> {
        self.report_to
            .as_deref()
            .map(|g| self.expand(g))
            .unwrap_or_default()
    }
}

/// How a unit is concerned by a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// Named in `to` itself.
    Lead,
    /// A member of a group named in `to`; the group's name.
    LeadAsMember(String),
    /// Named (itself or through a group) in `with`.
    Coordinate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitTask<'a> {
    pub task: &'a Task,
    pub role: Role,
}

/// A validated half-year (or year) period with everything the documents need.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub year: i32,
    pub half: Half,
    pub issuer: Issuer,
    pub committee: Committee,
    pub meeting: Meeting,
    pub documents: Documents,
    pub report: ReportText,
    pub conclusions: Conclusions,
    pub programs: Vec<Program>,
    pub tasks: Vec<Task>,
    pub directory: Directory,
}

/// Totals across programs. The disbursed total exists only if every program with a budget
/// reported its disbursement: a partial sum would understate the rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub allocated: f64,
    pub disbursed: Option<f64>,
}

impl Totals {
    pub fn rate(&self) -> Option<f64> {
        percentage(self.disbursed?, self.allocated)
    }
}

impl Period {
    /// Which period this is.
    pub fn id(&self) -> PeriodId {
        PeriodId::new(self.year, self.half)
    }

    /// "2024-h1" / "2024-h2": the period's key in file names, the ledger and the register.
    pub fn key(&self) -> String {
        self.id().key()
    }

    pub fn totals(&self) -> Totals {
        let budgets: Vec<&Budget> = self
            .programs
            .iter()
            .filter_map(|p| p.budget.as_ref())
            .collect();
        let allocated = budgets.iter().map(|b| b.allocated).sum();
        let disbursed = budgets.iter().map(|b| b.disbursed).sum::<Option<f64>>();
        Totals {
            allocated,
            disbursed,
        }
    }

    /// Every task concerning `unit_id`, in the order of the conclusions.
    pub fn tasks_of(&self, unit_id: &str) -> Vec<UnitTask<'_>> {
        let is_in = |ids: &[String]| -> Option<Role> {
            if ids.iter().any(|id| id == unit_id) {
                return Some(Role::Lead);
            }
            ids.iter()
                .filter_map(|id| self.directory.group(id))
                .find(|g| g.members.iter().any(|m| m == unit_id))
                .map(|g| Role::LeadAsMember(g.name.clone()))
        };
        self.tasks
            .iter()
            .filter_map(|task| {
                let role =
                    is_in(&task.to).or_else(|| is_in(&task.with).map(|_| Role::Coordinate))?;
                Some(UnitTask { task, role })
            })
            .collect()
    }

    /// Units that get an assignment letter: those with at least one task, in directory order.
    pub fn units_with_tasks(&self) -> Vec<&Unit> {
        self.directory
            .units
            .iter()
            .filter(|u| !self.tasks_of(&u.id).is_empty())
            .collect()
    }

    /// Every unit or group named in the conclusions, in first-mention order.
    pub fn named_in_tasks(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for id in self
            .tasks
            .iter()
            .flat_map(|t| t.to.iter().chain(t.with.iter()))
        {
            if !seen.contains(&id.as_str()) {
                seen.push(id);
            }
        }
        seen
    }

    /// Settings for one kind of document.
    pub fn settings(&self, kind: DocumentKind) -> &DocumentSettings {
        self.documents.settings(kind)
    }

    /// The body issuing `kind`: the document's own issuer if set, else the period's.
    pub fn issuer_of(&self, kind: DocumentKind) -> &Issuer {
        self.settings(kind).issuer.as_ref().unwrap_or(&self.issuer)
    }

    /// The symbol after the number: "BC-UBND", "TB-VP", "UBND-NLN".
    pub fn symbol(&self, kind: DocumentKind) -> String {
        let issuer = self.issuer_of(kind);
        match (kind.type_abbr(), &self.settings(kind).letter) {
            (Some(abbr), _) => format!("{abbr}-{}", issuer.abbr),
            (None, Some(letter)) => format!("{}-{}", issuer.abbr, letter.unit_abbr),
            // A công văn's settings always name its drafting unit (the period file requires it).
            (None, None) => issuer.abbr.clone(),
        }
    }
}

/// A document that would reach nobody if the period were sent: `check` reports each one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreached {
    /// No `report_to` group (top-level key or a group with that id), or one without addresses.
    ReviewReport,
    /// No unit has a task, so no letter carries the notice.
    ConclusionNotice,
    /// The unit (id) gets a letter but has no email address.
    AssignmentLetter(String),
}

impl Period {
    /// The documents that would reach nobody; empty when every document has a recipient.
    pub fn unreached(&self) -> Vec<Unreached> {
        let mut unreached = Vec::new();
        if self
            .directory
            .report_recipients()
            .iter()
            .all(|u| u.emails.is_empty())
        {
            unreached.push(Unreached::ReviewReport);
        }
        let units = self.units_with_tasks();
        if units.is_empty() {
            unreached.push(Unreached::ConclusionNotice);
        }
        unreached.extend(
            units
                .iter()
                .filter(|u| u.emails.is_empty())
                .map(|u| Unreached::AssignmentLetter(u.id.clone())),
        );
        unreached
    }
}

/// `part` as a percentage of `whole`; None when the whole is zero (nothing to compare with).
pub fn percentage(part: f64, whole: f64) -> Option<f64> {
    (whole != 0.0 && part.is_finite() && whole.is_finite()).then(|| part / whole * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_id_reads_back_what_it_writes_and_nothing_else() {
        for id in [
            PeriodId::new(2024, Half::First),
            PeriodId::new(2026, Half::Whole),
        ] {
            assert_eq!(id.key().parse::<PeriodId>(), Ok(id));
        }
        for bad in [
            "2024", "2024-h3", "2024-h", "24-h1", "-2024-h1", "2024-H1", "h1-2024", "",
        ] {
            let err = bad.parse::<PeriodId>().unwrap_err();
            assert_eq!(err, BadPeriodId(bad.to_owned()));
            assert!(err.to_string().contains("không phải mã kỳ báo cáo"));
        }
    }

    #[test]
    fn budget_rate_is_computed() {
        let budget = Budget {
            allocated: 61864.0,
            disbursed: Some(32479.0),
        };
        assert!((budget.rate().unwrap() - 52.5006).abs() < 1e-3);
        assert_eq!(
            Budget {
                allocated: 86447.0,
                disbursed: None
            }
            .rate(),
            None
        );
        assert_eq!(
            Budget {
                allocated: 0.0,
                disbursed: Some(1.0)
            }
            .rate(),
            None
        );
    }

    #[test]
    fn indicator_plan_and_share() {
        let poor = Indicator {
            name: "Số hộ nghèo giảm".into(),
            unit: "hộ".into(),
            value: 6.0,
            plan: Some(14.0),
            share_of: Some(11224.0),
            decimals: None,
        };
        assert!((poor.plan_rate().unwrap() - 42.857).abs() < 1e-3);
        assert!((poor.share().unwrap() - 0.0535).abs() < 1e-3);
    }
}
