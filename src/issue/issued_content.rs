//! What each issued document was issued from: the content hash of its draft (as approval names
//! it) recorded with its number, and the check `send` and `status` make with it — an issued
//! document never silently changes, so a period file or template edited after the number is
//! reported, and the filed version stays the one sent.

use std::collections::BTreeMap;
use std::fmt;

use crate::state::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::approval::{self, ApprovalError};
use super::filing::{DocId, IssueEnv, issuer_key};
use super::register::{Register, RegisterEntry};
use crate::model::Period;
use crate::state::{Store, StoreError, time_to_sql};

/// An issued number, as the register names it.
#[derive(Debug, Clone, Copy)]
pub struct IssuedNumber<'a> {
    pub issuer: &'a str,
    pub year: i32,
    pub symbol: &'a str,
    pub number: u32,
    pub document_key: &'a str,
}

/// Records that `issued` was issued from the draft `content_sha256`. A number re-issued before
/// anyone received it records its new content.
pub fn record(
    store: &Store,
    issued: IssuedNumber<'_>,
    content_sha256: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    store.write(|tx| {
        tx.execute(
            "INSERT INTO issued_content
                   (issuer, year, symbol, number, document_key, content_sha256, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (issuer, year, symbol, number) DO UPDATE SET
                   document_key = excluded.document_key,
                   content_sha256 = excluded.content_sha256,
                   recorded_at = excluded.recorded_at",
            params![
                issued.issuer,
                issued.year,
                issued.symbol,
                issued.number,
                issued.document_key,
                content_sha256,
                time_to_sql(&now)
            ],
        )?;
        Ok(())
    })
}

/// The draft hash the issued number `entry` came from; `None` for a number issued before this
/// was recorded (nothing to compare with).
pub fn recorded(store: &Store, entry: &RegisterEntry) -> Result<Option<String>, StoreError> {
    store.read(|tx| {
        tx.query_row(
            "SELECT content_sha256 FROM issued_content
             WHERE issuer = ?1 AND year = ?2 AND symbol = ?3 AND number = ?4",
            params![entry.issuer, entry.year, entry.symbol, entry.number],
            |r| r.get(0),
        )
        .optional()
    })
}

/// An issued document whose draft renders differently now than when it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedAfterIssue {
    pub id: DocId,
    /// "02/TB-UBND".
    pub number: String,
    /// The draft hash it was issued from, and the one rendered now.
    pub issued_from: String,
    pub now: String,
}

impl ChangedAfterIssue {
    /// The `vanban replace` arguments that name this document.
    pub fn replace_hint(&self, period_key: &str) -> String {
        let unit = self
            .id
            .unit
            .as_ref()
            .map(|u| format!(" --unit {u}"))
            .unwrap_or_default();
        format!(
            "vanban replace «tệp kỳ {}» --config «tệp cấu hình» {}{unit} --by «người quyết định» \
             --reason «lý do»",
            period_key,
            self.id.kind.slug()
        )
    }
}

impl fmt::Display for ChangedAfterIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "văn bản số {} đã ban hành; dữ liệu kỳ báo cáo hoặc mẫu đã đổi sau đó: bản gửi đi \
             vẫn là bản đã ban hành",
            self.number
        )
    }
}

/// Compares the drafts `drafts` (rendered now, as approval renders them) of issued documents
/// with the content each was issued from. Documents not issued, or issued before the content
/// was recorded, are left out.
pub fn compare(
    store: &Store,
    period: &Period,
    drafts: &[approval::Draft],
) -> Result<Vec<ChangedAfterIssue>, ApprovalError> {
    let register = Register::new(store);
    let mut changed = Vec::new();
    for draft in drafts {
        let issuer = issuer_key(period.issuer_of(draft.id.kind));
        let Some(entry) = register.find_issued(&issuer, &draft.id.register_key(period))? else {
            continue;
        };
        if entry.issued.is_none() {
            continue;
        }
        let Some(issued_from) = recorded(store, &entry)? else {
            continue;
        };
        if issued_from != draft.content_sha256 {
            changed.push(ChangedAfterIssue {
                id: draft.id.clone(),
                number: entry.number_and_symbol(),
                issued_from,
                now: draft.content_sha256.clone(),
            });
        }
    }
    Ok(changed)
}

/// Renders the drafts of the issued documents among `ids` that have a recorded content and
/// compares them (`status`).
pub fn check(
    env: &IssueEnv<'_>,
    period: &Period,
    ids: &[DocId],
) -> Result<BTreeMap<DocId, ChangedAfterIssue>, ApprovalError> {
    let register = Register::new(env.store);
    let mut with_content = Vec::new();
    for id in ids {
        let issuer = issuer_key(period.issuer_of(id.kind));
        if let Some(entry) = register.find_issued(&issuer, &id.register_key(period))?
            && entry.issued.is_some()
            && recorded(env.store, &entry)?.is_some()
        {
            with_content.push(id.clone());
        }
    }
    if with_content.is_empty() {
        return Ok(BTreeMap::new());
    }
    let drafts = approval::drafts(env, period, &with_content)?;
    Ok(compare(env.store, period, &drafts)?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing;
    use chrono::TimeZone;

    fn entry(number: u32) -> RegisterEntry {
        RegisterEntry {
            issuer: "ubnd-dam-ha".into(),
            year: 2024,
            series: String::new(),
            number,
            symbol: "TB-UBND".into(),
            document_key: "2024-h1/conclusion-notice".into(),
            reserved_at: Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap(),
            issued: None,
        }
    }

    fn issued(entry: &RegisterEntry) -> IssuedNumber<'_> {
        IssuedNumber {
            issuer: &entry.issuer,
            year: entry.year,
            symbol: &entry.symbol,
            number: entry.number,
            document_key: &entry.document_key,
        }
    }

    #[test]
    fn the_content_is_recorded_per_number_and_a_reissue_records_its_new_content() {
        let store = testing::open_in_memory().unwrap();
        let now = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        let (two, three) = (entry(2), entry(3));
        assert_eq!(recorded(&store, &two).unwrap(), None);
        record(&store, issued(&two), &"a".repeat(64), now).unwrap();
        assert_eq!(recorded(&store, &two).unwrap(), Some("a".repeat(64)));
        assert_eq!(recorded(&store, &three).unwrap(), None);
        // Re-issued under the same number before anyone received it.
        record(&store, issued(&two), &"b".repeat(64), now).unwrap();
        assert_eq!(recorded(&store, &two).unwrap(), Some("b".repeat(64)));
    }

    #[test]
    fn a_content_that_is_not_a_sha256_is_refused() {
        let store = testing::open_in_memory().unwrap();
        let now = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        assert!(record(&store, issued(&entry(2)), "abc", now).is_err());
    }

    #[test]
    fn the_message_names_the_number_and_the_replace_command() {
        let change = ChangedAfterIssue {
            id: DocId {
                kind: crate::model::DocumentKind::AssignmentLetter,
                unit: Some("bqlda".into()),
            },
            number: "02/UBND-NLN".into(),
            issued_from: "a".repeat(64),
            now: "b".repeat(64),
        };
        assert_eq!(
            change.to_string(),
            "văn bản số 02/UBND-NLN đã ban hành; dữ liệu kỳ báo cáo hoặc mẫu đã đổi sau đó: bản \
             gửi đi vẫn là bản đã ban hành"
        );
        assert_eq!(
            change.replace_hint("2024-h1"),
            "vanban replace «tệp kỳ 2024-h1» --config «tệp cấu hình» assignment-letter --unit \
             bqlda --by «người quyết định» --reason «lý do»"
        );
    }

    /// The same tests on PostgreSQL.
    #[test]
    #[ignore = "needs PostgreSQL: run .ci/run"]
    fn the_tests_on_postgres() {
        testing::on_postgres(&[
            (
                "the_content_is_recorded_per_number_and_a_reissue_records_its_new_content",
                the_content_is_recorded_per_number_and_a_reissue_records_its_new_content,
            ),
            (
                "a_content_that_is_not_a_sha256_is_refused",
                a_content_that_is_not_a_sha256_is_refused,
            ),
            (
                "the_message_names_the_number_and_the_replace_command",
                the_message_names_the_number_and_the_replace_command,
            ),
        ]);
    }
}
