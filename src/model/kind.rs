//! The document kinds vanban writes, each described once, in one entry of [`KINDS`]: its names,
//! its Decree-30 type, its files and templates, whom it is addressed to, which message carries it
//! and who signs it. Code elsewhere asks the entry (`kind.spec()`) instead of matching on the
//! kind; only a kind's own context and built-in DOCX template are code of its own.

use super::{Half, Period, Unit};

/// A kind of document. Its variants follow the order of [`KINDS`], which is also the order a
/// period's documents are planned, numbered and listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum DocumentKind {
    ReviewReport,
    ConclusionNotice,
    AssignmentLetter,
}

/// Everything about one kind of document that is not its data, its context or its templates.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: DocumentKind,
    /// Its name on the command line, in job settings, in template file names, in the ledger and
    /// in the register's keys: "review-report".
    pub slug: &'static str,
    /// The table of the period file's `[documents]` holding its settings: "review_report".
    pub settings_key: &'static str,
    pub names: KindNames,
    /// The type abbreviation of Decree 30 (Phụ lục III), in the symbol "BC-UBND". A công văn has
    /// none: its symbol is the issuer's and the drafting unit's ("UBND-NLN"), and its settings
    /// carry that unit ([`super::LetterSettings`]).
    pub type_abbr: Option<&'static str>,
    /// The title printed above the excerpt ("BÁO CÁO"); a công văn has none, its excerpt being
    /// the "V/v …" line under the number.
    pub title: Option<&'static str>,
    /// Its rendered files' names.
    pub file: FileNames,
    /// The Typst template under `templates/typst/`.
    pub typst_template: &'static str,
    /// The DOCX template under `templates/docx/` (built in by code, `templates export` writes it).
    pub docx_template: &'static str,
    /// Its section of the wording file (loi-van.toml): "bao_cao".
    pub wording_section: &'static str,
    /// One document for the period, or one for each of some units.
    pub addressed: Addressed,
    /// Rendered and sent in every configured format (the signed PDF and an editable DOCX the
    /// unit can work from); otherwise as PDF only.
    pub all_formats: bool,
    /// The document it cites by number and date (the letter cites the notice): it is rendered
    /// with this one, and after it is numbered. A cited kind is addressed once.
    pub cites: Option<DocumentKind>,
    /// The message that carries it.
    pub carried_by: Carriage,
    pub signers: Signers,
}

/// How the kind is named in Vietnamese.
#[derive(Debug)]
pub struct KindNames {
    /// For a first-half period, and in lists and reports: "Báo cáo sơ kết".
    pub half_year: &'static str,
    /// For the whole year: "Báo cáo tổng kết".
    pub whole_year: &'static str,
    /// Whatever the period, where none is at hand (approval's messages): "Báo cáo sơ kết/tổng
    /// kết".
    pub any_period: &'static str,
    /// As a reference to it starts ("Báo cáo số …"), in emails: "Báo cáo".
    pub short: &'static str,
}

/// A rendered file's name without extension: "`<order>-<stem>`", and "`-<unit id>`" after it for a
/// document addressed to one unit ("03-cong-van-bqlda"). ASCII, lower case, no spaces.
#[derive(Debug)]
pub struct FileNames {
    /// Its place in the period's folder, written with two digits: 1 → "01-". Unique per kind;
    /// the web page reads the kind back from it.
    pub order: u8,
    pub half_year: &'static str,
    pub whole_year: &'static str,
}

/// Whom a kind's documents are addressed to.
#[derive(Debug, Clone, Copy)]
pub enum Addressed {
    /// One document for the period.
    Once,
    /// One document for each of these units of the directory (in its order), each with its own
    /// number.
    EachUnit(for<'p> fn(&'p Period) -> Vec<&'p Unit>),
}

/// Where a kind travels: in which message (the slug of its email templates and of the ledger
/// key's document part), at which place among the message's attachments (0 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carriage {
    pub message: &'static str,
    pub place: u8,
}

/// Who signs a kind's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signers {
    /// One signer named in the kind's settings (`signer`: the TM./KT./TL. line, the title and
    /// the name), signing for the issuer.
    Named,
}

/// Every kind, in the order of the [`DocumentKind`] variants.
pub static KINDS: [KindSpec; TABLE.len()] = TABLE;

/// The entries, as a constant so that [`DocumentKind::ALL`] is built from them at compile time.
const TABLE: [KindSpec; 3] = [
    KindSpec {
        kind: DocumentKind::ReviewReport,
        slug: "review-report",
        settings_key: "review_report",
        names: KindNames {
            half_year: "Báo cáo sơ kết",
            whole_year: "Báo cáo tổng kết",
            any_period: "Báo cáo sơ kết/tổng kết",
            short: "Báo cáo",
        },
        type_abbr: Some("BC"),
        title: Some("BÁO CÁO"),
        file: FileNames {
            order: 1,
            half_year: "bao-cao-so-ket",
            whole_year: "bao-cao-tong-ket",
        },
        typst_template: "review-report.typ",
        docx_template: "review-report.docx",
        wording_section: "bao_cao",
        addressed: Addressed::Once,
        all_formats: false,
        cites: None,
        carried_by: Carriage {
            message: "review-report",
            place: 0,
        },
        signers: Signers::Named,
    },
    KindSpec {
        kind: DocumentKind::ConclusionNotice,
        slug: "conclusion-notice",
        settings_key: "conclusion_notice",
        names: KindNames {
            half_year: "Thông báo kết luận",
            whole_year: "Thông báo kết luận",
            any_period: "Thông báo kết luận",
            short: "Thông báo",
        },
        type_abbr: Some("TB"),
        title: Some("THÔNG BÁO"),
        file: FileNames {
            order: 2,
            half_year: "thong-bao-ket-luan",
            whole_year: "thong-bao-ket-luan",
        },
        typst_template: "conclusion-notice.typ",
        docx_template: "conclusion-notice.docx",
        wording_section: "thong_bao",
        addressed: Addressed::Once,
        all_formats: false,
        cites: None,
        carried_by: Carriage {
            message: "letter-and-notice",
            place: 1,
        },
        signers: Signers::Named,
    },
    KindSpec {
        kind: DocumentKind::AssignmentLetter,
        slug: "assignment-letter",
        settings_key: "assignment_letter",
        names: KindNames {
            half_year: "Công văn giao nhiệm vụ",
            whole_year: "Công văn giao nhiệm vụ",
            any_period: "Công văn giao nhiệm vụ",
            short: "Công văn",
        },
        type_abbr: None,
        title: None,
        file: FileNames {
            order: 3,
            half_year: "cong-van",
            whole_year: "cong-van",
        },
        typst_template: "assignment-letter.typ",
        docx_template: "assignment-letter.docx",
        wording_section: "cong_van",
        addressed: Addressed::EachUnit(Period::units_with_tasks),
        all_formats: true,
        cites: Some(DocumentKind::ConclusionNotice),
        carried_by: Carriage {
            message: "letter-and-notice",
            place: 0,
        },
        signers: Signers::Named,
    },
];

impl DocumentKind {
    /// Every kind, in the order of [`KINDS`].
    pub const ALL: [DocumentKind; TABLE.len()] = {
        let mut all = [DocumentKind::ReviewReport; TABLE.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = TABLE[i].kind;
            i += 1;
        }
        all
    };

    /// Its entry in [`KINDS`].
    pub fn spec(self) -> &'static KindSpec {
        &KINDS[self.index()]
    }

    /// Its place in [`DocumentKind::ALL`] and [`KINDS`]: per-kind arrays are indexed by it.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used on the command line, in file names and in the ledger.
    pub fn slug(self) -> &'static str {
        self.spec().slug
    }

    /// The kind as a clerk names it in lists and reports: "Báo cáo sơ kết", "Công văn giao
    /// nhiệm vụ".
    pub fn name_vi(self) -> &'static str {
        self.spec().names.half_year
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The type abbreviation of Decree 30 (Phụ lục III); a công văn has none.
    pub fn type_abbr(self) -> Option<&'static str> {
        self.spec().type_abbr
    }

    /// Whether each of its documents goes to one unit, numbered apart.
    pub fn per_unit(self) -> bool {
        matches!(self.spec().addressed, Addressed::EachUnit(_))
    }

    /// The units that get a document of this kind in `period`; empty for a kind addressed once.
    pub fn units(self, period: &Period) -> Vec<&Unit> {
        match self.spec().addressed {
            Addressed::Once => Vec::new(),
            Addressed::EachUnit(units) => units(period),
        }
    }

    /// The kind a rendered file's stem ("03-cong-van-bqlda") was written for, by its order
    /// prefix.
    pub fn from_file_stem(stem: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| stem.starts_with(&k.spec().file.prefix()))
    }

    /// The kinds a message carries, in attachment order.
    pub fn carried_in(message: &str) -> Vec<DocumentKind> {
        let mut kinds: Vec<DocumentKind> = Self::ALL
            .into_iter()
            .filter(|k| k.spec().carried_by.message == message)
            .collect();
        kinds.sort_by_key(|k| k.spec().carried_by.place);
        kinds
    }
}

impl KindSpec {
    /// Its name for a period of `half`: "Báo cáo sơ kết" / "Báo cáo tổng kết".
    pub fn name(&self, half: Half) -> &'static str {
        match half {
            Half::First => self.names.half_year,
            Half::Whole => self.names.whole_year,
        }
    }

    /// A rendered file's name without extension: "01-bao-cao-so-ket", "03-cong-van-bqlda".
    pub fn file_stem(&self, half: Half, unit: Option<&str>) -> String {
        let stem = match half {
            Half::First => self.file.half_year,
            Half::Whole => self.file.whole_year,
        };
        match unit {
            Some(unit) => format!("{}{stem}-{unit}", self.file.prefix()),
            None => format!("{}{stem}", self.file.prefix()),
        }
    }
}

impl FileNames {
    /// "01-".
    fn prefix(&self) -> String {
        format!("{:02}-", self.order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_variants() {
        for (i, spec) in KINDS.iter().enumerate() {
            assert_eq!(spec.kind.index(), i, "{:?}", spec.kind);
            assert_eq!(DocumentKind::ALL[i], spec.kind);
            assert!(std::ptr::eq(spec.kind.spec(), spec));
        }
    }

    #[test]
    fn names_a_kind_is_found_by_are_unique() {
        let unique = |values: Vec<String>| {
            let mut sorted = values.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), values.len(), "{values:?}");
        };
        let all = |f: fn(&KindSpec) -> String| KINDS.iter().map(f).collect::<Vec<_>>();
        unique(all(|s| s.slug.to_owned()));
        unique(all(|s| s.settings_key.to_owned()));
        unique(all(|s| s.file.prefix()));
        unique(all(|s| s.typst_template.to_owned()));
        unique(all(|s| s.docx_template.to_owned()));
        unique(all(|s| s.wording_section.to_owned()));
        unique(all(|s| format!("{:?}", s.carried_by)));
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_slug(kind.slug()), Some(kind));
            for half in [Half::First, Half::Whole] {
                for unit in [None, Some("bqlda")] {
                    let stem = kind.spec().file_stem(half, unit);
                    assert_eq!(DocumentKind::from_file_stem(&stem), Some(kind), "{stem}");
                }
            }
        }
        assert_eq!(DocumentKind::from_slug("minutes"), None);
        assert_eq!(DocumentKind::from_file_stem("09-bien-ban"), None);
        assert_eq!(DocumentKind::from_file_stem("1-bao-cao"), None);
    }

    #[test]
    fn a_cited_kind_is_addressed_once_and_a_cong_van_has_no_title() {
        for spec in &KINDS {
            if let Some(cited) = spec.cites {
                assert!(!cited.per_unit(), "{:?} cites {cited:?}", spec.kind);
            }
            assert_eq!(
                spec.type_abbr.is_none(),
                spec.title.is_none(),
                "{:?}",
                spec.kind
            );
        }
    }

    #[test]
    fn file_stems_and_names_follow_the_half() {
        let report = DocumentKind::ReviewReport.spec();
        assert_eq!(report.file_stem(Half::First, None), "01-bao-cao-so-ket");
        assert_eq!(report.file_stem(Half::Whole, None), "01-bao-cao-tong-ket");
        assert_eq!(report.name(Half::Whole), "Báo cáo tổng kết");
        let letter = DocumentKind::AssignmentLetter.spec();
        assert_eq!(
            letter.file_stem(Half::Whole, Some("bqlda")),
            "03-cong-van-bqlda"
        );
        assert_eq!(
            DocumentKind::carried_in("letter-and-notice"),
            [
                DocumentKind::AssignmentLetter,
                DocumentKind::ConclusionNotice
            ]
        );
        assert_eq!(DocumentKind::carried_in("nothing"), []);
    }
}
