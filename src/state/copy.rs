//! `vanban db copy`: moves an office's state (ledger, register, run history, approvals,
//! signatures, web accounts) from its SQLite file into an empty PostgreSQL database, in one
//! transaction, and proves nothing changed on the way: every table's rows are compared.

use std::fmt;

use super::sql::{Conn, DbResult, Dialect, Value};
use super::store::{DbName, MIGRATIONS, Store, StoreError};

/// Every table of the schema, parents before the rows that refer to them. `schema_version` is
/// not copied: the target has its own, from the same migrations.
pub const TABLES: &[&str] = &[
    "deliveries",
    "delivery_attempts",
    "register",
    "register_recipients",
    "register_files",
    "job_runs",
    "job_seen",
    "approval_decisions",
    "approval_files",
    "signatures",
    "register_history",
    "issued_content",
    "register_replacements",
    "web_users",
    "web_sessions",
    "web_login_attempts",
    "web_audit",
    "web_uploads",
    "copies",
];

/// Tables whose `id` is generated: the target's counter continues after the copied ids.
const IDENTITY_TABLES: &[&str] = &[
    "deliveries",
    "register",
    "approval_decisions",
    "signatures",
    "register_history",
    "web_users",
    "web_login_attempts",
    "web_audit",
    "web_uploads",
    "copies",
];

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "Cơ sở dữ liệu đích {db} đã có dữ liệu (bảng {table}: {rows} dòng); chỉ chép vào một cơ \
         sở dữ liệu trống, để không trộn hai sổ với nhau"
    )]
    TargetNotEmpty {
        db: DbName,
        table: &'static str,
        rows: i64,
    },
    #[error(
        "Chép sang {db} không khớp ở bảng {table}: nguồn {source_rows} dòng, đích {target_rows} dòng \
         hoặc nội dung khác; không ghi gì vào đích"
    )]
    Mismatch {
        db: DbName,
        table: &'static str,
        source_rows: usize,
        target_rows: usize,
    },
    #[error("Chép cơ sở dữ liệu: nguồn phải là tệp SQLite, đích phải là PostgreSQL")]
    WrongDirection,
}

/// A table read from the source: its name, columns and rows.
type TableData = (&'static str, Vec<String>, Vec<Vec<Value>>);

/// What was copied: rows per table, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, usize)>,
}

impl fmt::Display for CopyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (table, rows) in &self.tables {
            writeln!(f, "  {table}: {rows} dòng")?;
        }
        Ok(())
    }
}

/// Copies every table of `source` (SQLite) into `target` (PostgreSQL, empty, same schema
/// version): all in one transaction of the target, committed only when every table reads back
/// row for row as in the source.
pub fn copy(source: &Store, target: &Store) -> Result<CopyReport, CopyError> {
    if source.dialect() != Dialect::Sqlite || target.dialect() != Dialect::Postgres {
        return Err(CopyError::WrongDirection);
    }
    // Both were opened through Store, so both are at MIGRATIONS.len().
    debug_assert_eq!(source.schema_version()?, MIGRATIONS.len() as i64);
    let data: Vec<TableData> = source.read(|tx| {
        TABLES
            .iter()
            .map(|table| {
                let columns = sqlite_columns(tx, table)?;
                let rows = all_rows(tx, table, &columns)?;
                Ok((*table, columns, rows))
            })
            .collect::<DbResult<Vec<_>>>()
    })?;
    let db = target.name().clone();
    let report = target.immediate(|tx| {
        for table in TABLES {
            let rows: i64 =
                tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            if rows > 0 {
                return Ok(Err(CopyError::TargetNotEmpty {
                    db: db.clone(),
                    table,
                    rows,
                }));
            }
        }
        let mut report = Vec::new();
        for (table, columns, rows) in &data {
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                placeholders.join(", ")
            );
            for row in rows {
                tx.execute(&insert, row.clone())?;
            }
            let back = all_rows(tx, table, columns)?;
            if sorted(back.clone()) != sorted(rows.clone()) {
                return Ok(Err(CopyError::Mismatch {
                    db: db.clone(),
                    table,
                    source_rows: rows.len(),
                    target_rows: back.len(),
                }));
            }
            report.push((*table, rows.len()));
        }
        for table in IDENTITY_TABLES {
            tx.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   COALESCE(max(id), 0) + 1, false) FROM {table}"
                ),
                [],
                |_| Ok(()),
            )?;
        }
        Ok(Ok(CopyReport { tables: report }))
    })??;
    Ok(report)
}

fn sqlite_columns(tx: &Conn<'_>, table: &str) -> DbResult<Vec<String>> {
    tx.query_map(
        "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        [table],
        |r| r.get(0),
    )
}

fn all_rows(tx: &Conn<'_>, table: &str, columns: &[String]) -> DbResult<Vec<Vec<Value>>> {
    tx.query_map(
        &format!("SELECT {} FROM {table}", columns.join(", ")),
        [],
        |r| Ok(r.values().to_vec()),
    )
}

/// Rows in one order whatever order the database returned them in.
fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by_key(|r| format!("{r:?}"));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::PgTarget;

    #[test]
    fn the_list_of_tables_is_the_whole_schema() {
        let store = Store::open_in_memory().unwrap();
        let mut tables: Vec<String> = store
            .conn()
            .query_map(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version' ORDER BY name",
                [],
                |r| r.get(0),
            )
            .unwrap();
        tables.sort();
        let mut known: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        known.sort();
        assert_eq!(
            tables, known,
            "a new table must be added to state::copy::TABLES"
        );
    }

    #[test]
    #[ignore = "needs PostgreSQL: run .ci/run"]
    fn a_sqlite_office_moves_to_postgres_unchanged_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let source = Store::open(&dir.path().join("vanban.sqlite")).unwrap();
        source
            .conn()
            .execute_batch(
                "INSERT INTO deliveries (id, issuer, period, document, recipient, state, attempts,
                     planned_at, updated_at)
                 VALUES (7, 'UBND huyện Đầm Hà', '2024-h1', 'bao-cao', 'bqlda', 'sent', 1,
                         '2024-06-25T01:00:00.000000Z', '2024-06-25T01:00:05.000000Z');
                 INSERT INTO delivery_attempts (delivery_id, attempt, resend, message_id,
                     started_at, state, finished_at, detail, permanent)
                 VALUES (7, 1, 0, '<m1@vanban>', '2024-06-25T01:00:00.000000Z', 'sent',
                         '2024-06-25T01:00:05.000000Z', '250 Ok', NULL);
                 INSERT INTO register (id, issuer, year, series, number, symbol, document_key,
                     reserved_at, issue_date, issued_at)
                 VALUES (3, 'UBND huyện Đầm Hà', 2024, 'BC', 12, 'BC-UBND', 'k1',
                         '2024-06-25T01:00:00.000000Z', '2024-06-25', '2024-06-25T01:00:00.000000Z');
                 INSERT INTO register_recipients (entry_id, position, recipient)
                 VALUES (3, 0, 'bqlda');
                 INSERT INTO job_runs (job, due, started, outcome, started_by)
                 VALUES ('gui', '2024-06-25T01:00:00.000000Z', '2024-06-25T01:00:01.000000Z',
                         'running', 'schedule');
                 INSERT INTO web_users (name, role, password_hash, created_at, updated_at)
                 VALUES ('lan', 'clerk', 'h', 't', 't');",
            )
            .unwrap();
        let cluster = crate::state::test_pg::PgCluster::start();
        let target =
            Store::open_postgres(&PgTarget::new(&cluster.database(), None).unwrap()).unwrap();
        let report = copy(&source, &target).unwrap();
        let rows = |t: &str| report.tables.iter().find(|(n, _)| *n == t).unwrap().1;
        assert_eq!(rows("deliveries"), 1);
        assert_eq!(rows("register"), 1);
        assert_eq!(rows("web_users"), 1);
        // The number and the sent record, as they were.
        let (number, symbol): (i64, String) = target
            .conn()
            .query_row(
                "SELECT number, symbol FROM register WHERE id = 3",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((number, symbol.as_str()), (12, "BC-UBND"));
        let sent: String = target
            .conn()
            .query_row(
                "SELECT a.message_id FROM delivery_attempts a JOIN deliveries d
                 ON d.id = a.delivery_id WHERE d.state = 'sent'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sent, "<m1@vanban>");
        // Ids continue after the copied ones.
        let next: i64 = target
            .conn()
            .query_row(
                "INSERT INTO register (issuer, year, series, number, symbol, document_key,
                     reserved_at) VALUES ('u', 2024, 'BC', 13, 'BC-UBND', 'k2', 'x') RETURNING id",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(next, 4);
        // A second copy into the now non-empty database is refused, and writes nothing.
        let err = copy(&source, &target).unwrap_err();
        assert!(matches!(err, CopyError::TargetNotEmpty { .. }), "{err:?}");
        assert!(err.to_string().contains("đã có dữ liệu"), "{err}");
        let deliveries: i64 = target
            .conn()
            .query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(deliveries, 1);
    }
}
