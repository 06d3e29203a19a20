//! `vanban replace`: an issued document replaced on purpose, never by a silent re-render. The
//! decision (who, when, why) is recorded against the issued number, which stays in the register
//! marked replaced; the next send, once the new content is approved, numbers the replacement
//! anew (Decree 30: a replacing document carries its own number, `register::current_key`) and
//! sends it to every recipient of the old one.

use std::collections::BTreeMap;
use std::fmt;

use crate::state::{Conn, DbResult, OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::approval::{document_label, per_unit_names};
use super::filing::{DocId, issuer_key};
use super::register::{base_key, current_key, format_number};
use crate::clock::local_time;
use crate::model::{DocumentKind, Period};
use crate::render;
use crate::state::{Store, StoreError, time_from_row, time_to_sql};
use crate::vi;
use crate::vi::names::shown;

#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cần ghi tên người quyết định thay thế (--by)")]
    NoName,
    #[error("tên người quyết định thay thế (--by) không dùng được: {0}")]
    BadName(crate::vi::names::NameError),
    #[error("thay thế văn bản đã ban hành cần ghi lý do (--reason)")]
    NoReason,
    #[error(
        "{}: cần --unit MÃ_ĐƠN_VỊ để chọn {} gửi đơn vị nào",
        vi::lower_first(.0.spec().names.any_period),
        vi::lower_first(.0.spec().names.short)
    )]
    NoUnit(DocumentKind),
    #[error(
        "đơn vị «{unit}» không có {} trong kỳ {period} (đơn vị không có nhiệm vụ, hoặc mã đơn \
         vị sai)",
        vi::lower_first(.kind.spec().names.any_period)
    )]
    NoLetter {
        kind: DocumentKind,
        unit: String,
        period: String,
    },
    #[error("chỉ {} gửi riêng từng đơn vị; bỏ --unit cho {}", per_unit_names(), .0)]
    UnitNotWanted(String),
    #[error(
        "{0} chưa ban hành (chưa có số): không có gì để thay thế; sửa dự thảo rồi trình duyệt lại"
    )]
    NotIssued(String),
    #[error(
        "văn bản số {number} đã được đánh dấu thay thế ({}, lúc {}); bản thay thế được cấp \
         số mới ở lần gửi sau (nếu phải duyệt: khi nội dung mới đã được duyệt)",
        shown(.by),
        local_time(*.at)
    )]
    AlreadyReplaced {
        number: String,
        by: String,
        at: DateTime<Utc>,
    },
}

/// One recorded replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub issuer: String,
    /// The replaced number's register key.
    pub document_key: String,
    /// The replaced number, "02/TB-UBND".
    pub number: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The register key the replacement is numbered under.
    pub replacement_key: String,
    /// The replacement's number once issued.
    pub replaced_by: Option<String>,
}

impl fmt::Display for Replacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.replaced_by {
            Some(number) => write!(f, "đã thay thế bằng số {number}")?,
            None => write!(
                f,
                "đã quyết định thay thế; bản thay thế chưa ban hành (cấp số mới ở lần gửi sau, \
                 nếu phải duyệt: khi nội dung mới đã được duyệt)"
            )?,
        }
        write!(
            f,
            " — {} quyết định lúc {}: {}",
            shown(&self.by),
            local_time(self.at),
            shown(&self.reason)
        )
    }
}

/// The document `vanban replace KIND [--unit ID]` names.
pub fn select(
    period: &Period,
    kind: DocumentKind,
    unit: Option<&str>,
) -> Result<DocId, ReplaceError> {
    match (kind.per_unit(), unit) {
        (true, None) => Err(ReplaceError::NoUnit(kind)),
        (true, Some(unit)) => {
            let planned = render::plan(period, Some(kind), &|_, _| None)
                .into_iter()
                .any(|d| d.unit.as_deref() == Some(unit));
            if planned {
                Ok(DocId {
                    kind,
                    unit: Some(unit.to_owned()),
                })
            } else {
                Err(ReplaceError::NoLetter {
                    kind,
                    unit: unit.to_owned(),
                    period: period.key(),
                })
            }
        }
        (false, Some(_)) => Err(ReplaceError::UnitNotWanted(document_label(&DocId {
            kind,
            unit: None,
        }))),
        (false, None) => Ok(DocId { kind, unit: None }),
    }
}

/// Records that the number `id` holds now is replaced, by `by` for `reason`: the next send
/// numbers the replacement anew. Refused for a document not issued, or whose replacement is
/// already waiting for its number.
pub fn replace(
    store: &Store,
    period: &Period,
    id: &DocId,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Replacement, ReplaceError> {
    let by = &crate::vi::names::person_name(by).map_err(|error| match error {
        crate::vi::names::NameError::Empty => ReplaceError::NoName,
        error => ReplaceError::BadName(error),
    })?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ReplaceError::NoReason);
    }
    let issuer = issuer_key(period.issuer_of(id.kind));
    let key = id.register_key(period);
    let label = document_label(id);
    let outcome = store.immediate(|tx| {
        let current = current_key(tx, &issuer, &key)?;
        let issued: Option<(i32, String, u32)> = tx
            .query_row(
                "SELECT year, symbol, number FROM register
                 WHERE issuer = ?1 AND document_key = ?2 AND issued_at IS NOT NULL
                 ORDER BY year DESC LIMIT 1",
                params![issuer, current],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((year, symbol, number)) = issued else {
            // Replaced already, its replacement not numbered yet.
            if let Some(pending) = load(tx, "replacement_key = ?2", &issuer, &current)? {
                return Ok(Err(ReplaceError::AlreadyReplaced {
                    number: pending.number,
                    by: pending.by,
                    at: pending.at,
                }));
            }
            return Ok(Err(ReplaceError::NotIssued(label.clone())));
        };
        let revision = current
            .rsplit_once('#')
            .and_then(|(_, n)| n.parse::<u32>().ok())
            .unwrap_or(1);
        let replacement_key = format!("{}#{}", base_key(&current), revision + 1);
        tx.execute(
            "INSERT INTO register_replacements
               (issuer, document_key, year, symbol, number, by_name, at, reason, replacement_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                issuer,
                current,
                year,
                symbol,
                number,
                by,
                time_to_sql(&now),
                reason,
                replacement_key
            ],
        )?;
        Ok(Ok(Replacement {
            issuer: issuer.clone(),
            document_key: current,
            number: format!("{}/{symbol}", format_number(number)),
            by: by.to_owned(),
            at: now,
            reason: reason.to_owned(),
            replacement_key,
            replaced_by: None,
        }))
    })??;
    Ok(outcome)
}

/// The replacement recorded where `column_is` (a condition on `?2`) holds, for `issuer`.
fn load(
    tx: &Conn<'_>,
    column_is: &str,
    issuer: &str,
    value: &str,
) -> DbResult<Option<Replacement>> {
    let row = tx
        .query_row(
            &format!(
                "SELECT document_key, symbol, number, by_name, at, reason, replacement_key
                 FROM register_replacements WHERE issuer = ?1 AND {column_is}"
            ),
            params![issuer, value],
            |r| {
                Ok(Replacement {
                    issuer: issuer.to_owned(),
                    document_key: r.get(0)?,
                    number: format!("{}/{}", format_number(r.get(2)?), r.get::<_, String>(1)?),
                    by: r.get(3)?,
                    at: time_from_row(r, 4)?,
                    reason: r.get(5)?,
                    replacement_key: r.get(6)?,
                    replaced_by: None,
                })
            },
        )
        .optional()?;
    let Some(mut replacement) = row else {
        return Ok(None);
    };
    replacement.replaced_by = tx
        .query_row(
            "SELECT number, symbol FROM register
             WHERE issuer = ?1 AND document_key = ?2 AND issued_at IS NOT NULL
             ORDER BY year DESC LIMIT 1",
            params![issuer, replacement.replacement_key],
            |r| {
                Ok(format!(
                    "{}/{}",
                    format_number(r.get(0)?),
                    r.get::<_, String>(1)?
                ))
            },
        )
        .optional()?;
    Ok(Some(replacement))
}

/// The replacement of the number registered under (`issuer`, `document_key`), if any.
pub fn of_entry(
    store: &Store,
    issuer: &str,
    document_key: &str,
) -> Result<Option<Replacement>, StoreError> {
    store.read(|tx| load(tx, "document_key = ?2", issuer, document_key))
}

/// For `send`: when each of `ids` was last replaced (its newest replacement's decision), so
/// that every unit whose copy is older gets the replacement.
pub fn replaced_at(
    store: &Store,
    period: &Period,
    ids: &[DocId],
) -> Result<BTreeMap<DocId, DateTime<Utc>>, StoreError> {
    store.read(|tx| {
        let mut out = BTreeMap::new();
        for id in ids {
            let issuer = issuer_key(period.issuer_of(id.kind));
            let mut key = id.register_key(period);
            while let Some(r) = load(tx, "document_key = ?2", &issuer, &key)? {
                out.insert(id.clone(), r.at);
                key = r.replacement_key;
            }
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NumberingScheme;
    use crate::issue::register::{IssuedDocument, IssuedFile, Register};
    use crate::state::testing;
    use chrono::{Datelike, NaiveDate, TimeZone};
    use std::path::Path;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

    fn period() -> Period {
        crate::input::load_period(
            &Path::new(SAMPLES).join("dam-ha-2024-h1.toml"),
            Some(&Path::new(SAMPLES).join("directory.toml")),
            NaiveDate::from_ymd_opt(2024, 6, 25).unwrap(),
        )
        .unwrap()
    }

    fn notice() -> DocId {
        DocId {
            kind: DocumentKind::ConclusionNotice,
            unit: None,
        }
    }

    /// Reserves and issues the notice's current number, as `send` does; returns it.
    fn issue(store: &Store, period: &Period, at: DateTime<Utc>) -> u32 {
        let register = Register::new(store);
        let issuer = issuer_key(period.issuer_of(DocumentKind::ConclusionNotice));
        let symbol = period.symbol(DocumentKind::ConclusionNotice);
        let year = period.documents.date.year();
        let number = register
            .reserve(
                &issuer,
                year,
                &symbol,
                NumberingScheme::Single,
                &notice().register_key(period),
                at,
            )
            .unwrap();
        let document = IssuedDocument {
            symbol,
            date: period.documents.date,
            recipients: vec!["pnn".into()],
            files: vec![IssuedFile {
                name: format!("{number:02}-TB-UBND Thong bao ket luan.pdf"),
                sha256: "a".repeat(64),
            }],
        };
        register
            .mark_issued(&issuer, year, number, &document, at)
            .unwrap();
        number
    }

    #[test]
    fn a_replaced_number_stays_and_the_replacement_gets_a_new_one() {
        let store = testing::open_in_memory().unwrap();
        let period = period();
        let t0 = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2024, 6, 26, 1, 0, 0).unwrap();
        let issuer = issuer_key(period.issuer_of(DocumentKind::ConclusionNotice));
        let key = notice().register_key(&period);
        let register = Register::new(&store);

        let error = replace(&store, &period, &notice(), "Lan", "Sai số liệu", t0).unwrap_err();
        assert!(matches!(error, ReplaceError::NotIssued(_)), "{error}");
        let first = issue(&store, &period, t0);

        let done = replace(&store, &period, &notice(), " Lan ", "Sai số liệu", t1).unwrap();
        assert_eq!(done.number, format!("{first:02}/TB-UBND"));
        assert_eq!(done.replacement_key, format!("{key}#2"));
        assert_eq!((done.by.as_str(), done.replaced_by.as_ref()), ("Lan", None));
        // Until the replacement is issued, the document has no current number: the next send
        // renders, approves and numbers it anew.
        assert_eq!(register.find_issued(&issuer, &key).unwrap(), None);
        let again = replace(&store, &period, &notice(), "Lan", "Lần nữa", t1).unwrap_err();
        assert!(
            matches!(&again, ReplaceError::AlreadyReplaced { number, .. } if *number == done.number),
            "{again}"
        );
        assert_eq!(
            replaced_at(&store, &period, &[notice()]).unwrap(),
            BTreeMap::from([(notice(), t1)])
        );

        let second = issue(&store, &period, t1);
        assert_eq!(second, first + 1);
        let current = register.find_issued(&issuer, &key).unwrap().unwrap();
        assert_eq!(current.number, second);
        assert_eq!(base_key(&current.document_key), key);
        // The old number is still in the register, marked replaced by the new one.
        let held = register.lookup(&issuer, 2024, &key).unwrap().unwrap();
        assert_eq!(held.number, second, "lookup follows to the current number");
        let replaced = of_entry(&store, &issuer, &key).unwrap().unwrap();
        assert_eq!(replaced.replaced_by, Some(format!("{second:02}/TB-UBND")));
        assert!(
            replaced.to_string().starts_with(&format!(
                "đã thay thế bằng số {second:02}/TB-UBND — Lan quyết định lúc"
            )),
            "{replaced}"
        );
        let numbers: Vec<u32> = register
            .issued(&issuer, 2024)
            .unwrap()
            .iter()
            .map(|e| e.number)
            .collect();
        assert_eq!(numbers, [first, second]);
        // A replacement can be replaced in its turn, under a third key.
        let third = replace(&store, &period, &notice(), "Lan", "Lại sai", t1).unwrap();
        assert_eq!(third.replacement_key, format!("{key}#3"));
        assert_eq!(third.number, format!("{second:02}/TB-UBND"));
        // A number the clerk takes by hand for the replacement goes to it, not to the
        // document it replaces (which already holds its own).
        register
            .assign(
                &issuer,
                2024,
                "TB-UBND",
                crate::config::NumberingScheme::PerType,
                &key,
                125,
                "Hoa",
                t1,
            )
            .unwrap();
        let held = register.lookup(&issuer, 2024, &key).unwrap().unwrap();
        assert_eq!((held.number, held.document_key), (125, format!("{key}#3")));
    }

    #[test]
    fn a_replacement_needs_a_name_a_reason_and_the_right_document() {
        let store = testing::open_in_memory().unwrap();
        let period = period();
        let now = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        issue(&store, &period, now);
        assert!(matches!(
            replace(&store, &period, &notice(), " ", "Sai", now),
            Err(ReplaceError::NoName)
        ));
        assert!(matches!(
            replace(&store, &period, &notice(), "Lan", "  ", now),
            Err(ReplaceError::NoReason)
        ));
        assert!(matches!(
            select(&period, DocumentKind::AssignmentLetter, None),
            Err(ReplaceError::NoUnit(DocumentKind::AssignmentLetter))
        ));
        assert!(matches!(
            select(&period, DocumentKind::AssignmentLetter, Some("khong-co")),
            Err(ReplaceError::NoLetter { .. })
        ));
        assert!(matches!(
            select(&period, DocumentKind::ReviewReport, Some("bqlda")),
            Err(ReplaceError::UnitNotWanted(_))
        ));
        assert_eq!(
            select(&period, DocumentKind::AssignmentLetter, Some("bqlda")).unwrap(),
            DocId {
                kind: DocumentKind::AssignmentLetter,
                unit: Some("bqlda".into())
            }
        );
    }

    /// The same tests on PostgreSQL.
    #[test]
    #[ignore = "needs PostgreSQL: run .ci/run"]
    fn the_tests_on_postgres() {
        testing::on_postgres(&[
            (
                "a_replaced_number_stays_and_the_replacement_gets_a_new_one",
                a_replaced_number_stays_and_the_replacement_gets_a_new_one,
            ),
            (
                "a_replacement_needs_a_name_a_reason_and_the_right_document",
                a_replacement_needs_a_name_a_reason_and_the_right_document,
            ),
        ]);
    }
}
