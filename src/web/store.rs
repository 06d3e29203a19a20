//! The web page's own tables in the state database (accounts, sessions, login attempts, audit
//! log, uploads), and the read-only queries its admin pages make of the ledger and register.

use std::path::Path;
use std::sync::Mutex;

use crate::state::{Conn, Dialect, OptionalExtension, Params, Store, params};
use chrono::{DateTime, Utc};

use super::auth::Role;
use crate::vi::names::shown;

#[derive(Debug, thiserror::Error)]
pub enum WebStoreError {
    #[error("Lỗi cơ sở dữ liệu của trang web: {0}")]
    Sqlite(#[from] crate::state::DbError),
    #[error(transparent)]
    State(#[from] crate::state::StoreError),
    #[error("Tài khoản \"{0}\" đã có")]
    UserExists(String),
    #[error("Không có tài khoản \"{0}\"")]
    NoSuchUser(String),
}

/// Times as text that sorts in time order: the database's one format (`state::time_to_sql`).
pub fn time_text(t: DateTime<Utc>) -> String {
    crate::state::time_to_sql(&t)
}

/// A stored time; one not in the database's format (hand-edited) reads as none, and the
/// session it belongs to as expired.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    crate::state::time_from_sql(text).ok()
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    pub at: String,
    pub username: String,
    pub ip: String,
    pub action: String,
    pub detail: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Upload {
    pub id: i64,
    pub at: String,
    pub username: String,
    pub original_name: String,
    pub stored_name: String,
    /// "2024-h1" when the file said which period it is.
    pub period: Option<String>,
    /// Exactly what `vanban check` prints; empty when the file is valid.
    pub problems: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LedgerRow {
    pub issuer: String,
    pub period: String,
    pub document: String,
    pub recipient: String,
    pub state: String,
    pub attempt: Option<i64>,
    pub resend: bool,
    pub message_id: Option<String>,
    pub started_at: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RegisterRow {
    pub issuer: String,
    pub year: i64,
    pub number: i64,
    pub symbol: String,
    pub document_key: String,
    pub issue_date: Option<String>,
}

/// One connection, shared behind a mutex: every statement here is short, and the database
/// serialises writers anyway.
pub struct WebStore {
    store: Mutex<Store>,
}

impl WebStore {
    /// Opens the state database, its schema (the web tables included) brought up to date by
    /// the state module, which owns it.
    pub fn open(path: &Path) -> Result<Self, WebStoreError> {
        Ok(Self::new(Store::open(path)?))
    }

    /// Opens the configured state database (a SQLite file or PostgreSQL).
    pub fn open_state(state: &crate::config::StateLocation) -> Result<Self, WebStoreError> {
        Ok(Self::new(Store::open_state(state)?))
    }

    /// Over a database already open (a SQLite file or PostgreSQL).
    pub fn new(store: Store) -> Self {
        Self {
            store: Mutex::new(store),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), WebStoreError> {
        let now = time_text(now);
        let inserted = self.store().conn().execute(
            "INSERT INTO web_users (name, role, password_hash, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (name) DO NOTHING",
            params![name, role.as_str(), password_hash, now],
        )?;
        match inserted {
            0 => Err(WebStoreError::UserExists(name.to_string())),
            _ => Ok(()),
        }
    }

    /// Changes a user's role or disables the account; a disabled user's sessions end at once.
    pub fn update_user(
        &self,
        name: &str,
        role: Role,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<(), WebStoreError> {
        self.store().immediate(|tx| {
            let changed = tx.execute(
                "UPDATE web_users SET role = ?2, active = ?3, updated_at = ?4 WHERE name = ?1",
                params![name, role.as_str(), active, time_text(now)],
            )?;
            if changed == 0 {
                return Ok(Err(WebStoreError::NoSuchUser(name.to_string())));
            }
            // A changed role takes effect at the next login, never with a session granted before.
            tx.execute(
                "DELETE FROM web_sessions WHERE user_id = (SELECT id FROM web_users WHERE name = ?1)",
                params![name],
            )?;
            Ok(Ok(()))
        })?
    }

    pub fn user(&self, name: &str) -> Result<Option<User>, WebStoreError> {
        Ok(self
            .store()
            .conn()
            .query_row(
                "SELECT id, name, role, password_hash, active FROM web_users WHERE name = ?1",
                params![name],
                user_row,
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<User>, WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        let mut stmt = conn
            .prepare("SELECT id, name, role, password_hash, active FROM web_users ORDER BY name")?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
        ip: &str,
    ) -> Result<(), WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        // Expired sessions are swept at each login, so the table stays small.
        conn.execute(
            "DELETE FROM web_sessions WHERE expires_at <= ?1",
            params![time_text(now)],
        )?;
        conn.execute(
            "INSERT INTO web_sessions (id_hash, user_id, csrf, created_at, expires_at, ip)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id_hash,
                user_id,
                csrf,
                time_text(now),
                time_text(expires),
                ip
            ],
        )?;
        Ok(())
    }

    /// The live session with this id hash, of an active user; None if unknown or expired.
    pub fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, WebStoreError> {
        let found = self
            .store()
            .conn()
            .query_row(
                "SELECT u.id, u.name, u.role, u.password_hash, u.active, s.csrf, s.expires_at
                 FROM web_sessions s JOIN web_users u ON u.id = s.user_id
                 WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND u.active = 1",
                params![id_hash, time_text(now)],
                |row| {
                    Ok((
                        user_row(row)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()?;
        Ok(found.and_then(|(user, csrf, expires)| {
            Some(Session {
                user,
                csrf,
                expires_at: parse_time(&expires)?,
            })
        }))
    }

    pub fn delete_session(&self, id_hash: &str) -> Result<(), WebStoreError> {
        self.store().conn().execute(
            "DELETE FROM web_sessions WHERE id_hash = ?1",
            params![id_hash],
        )?;
        Ok(())
    }

    pub fn record_attempt(
        &self,
        username: &str,
        ip: &str,
        ok: bool,
        now: DateTime<Utc>,
    ) -> Result<(), WebStoreError> {
        self.store().conn().execute(
            "INSERT INTO web_login_attempts (at, username, ip, ok) VALUES (?1, ?2, ?3, ?4)",
            params![time_text(now), username, ip, ok],
        )?;
        Ok(())
    }

    /// Failed logins since `since` for this user name and from this address.
    pub fn failures_since(
        &self,
        username: &str,
        ip: &str,
        since: DateTime<Utc>,
    ) -> Result<(u32, u32), WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        let count = |column: &str, value: &str| -> Result<u32, crate::state::DbError> {
            conn.query_row(
                &format!(
                    "SELECT count(*) FROM web_login_attempts
                     WHERE {column} = ?1 AND ok = 0 AND at > ?2"
                ),
                params![value, time_text(since)],
                |row| row.get(0),
            )
        };
        Ok((count("username", username)?, count("ip", ip)?))
    }

    /// Failed logins since `since` from this address on the names of existing accounts. Names
    /// no account has are left out: the address limit is there to stop guessing at real
    /// accounts, and invented names must not lock out everyone behind a shared address.
    pub fn account_failures_from(
        &self,
        ip: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, WebStoreError> {
        Ok(self.store().conn().query_row(
            "SELECT count(*) FROM web_login_attempts
             WHERE ip = ?1 AND ok = 0 AND at > ?2
               AND username IN (SELECT name FROM web_users)",
            params![ip, time_text(since)],
            |row| row.get(0),
        )?)
    }

    /// Records one act on the page. The audit log must keep even an attempt made under a name
    /// no account could have (a failed login with a direction override typed into the form), so
    /// such a name is not refused here: its invisible and control characters are stored
    /// written out (`vi::names::shown`), never as themselves, and so is the detail.
    pub fn audit(
        &self,
        username: &str,
        ip: &str,
        action: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), WebStoreError> {
        let (username, detail) = (shown(username), shown(detail));
        self.store().conn().execute(
            "INSERT INTO web_audit (at, username, ip, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                time_text(now),
                username.as_ref(),
                ip,
                action,
                detail.as_ref()
            ],
        )?;
        Ok(())
    }

    pub fn audit_recent(&self, limit: u32) -> Result<Vec<AuditRow>, WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        let mut stmt = conn.prepare(
            "SELECT at, username, ip, action, detail FROM web_audit ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |row| {
            // Rows written before names were checked are shown written out too.
            let text = |i: usize| -> Result<String, crate::state::DbError> {
                Ok(shown(&row.get::<_, String>(i)?).into_owned())
            };
            Ok(AuditRow {
                at: row.get(0)?,
                username: text(1)?,
                ip: text(2)?,
                action: text(3)?,
                detail: text(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_upload(
        &self,
        username: &str,
        original_name: &str,
        stored_name: &str,
        period: Option<&str>,
        problems: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        Ok(conn.query_row(
            "INSERT INTO web_uploads (at, username, original_name, stored_name, period, problems)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![
                time_text(now),
                username,
                original_name,
                stored_name,
                period,
                problems
            ],
            |row| row.get(0),
        )?)
    }

    pub fn recent_uploads(&self, limit: u32) -> Result<Vec<Upload>, WebStoreError> {
        self.uploads_where("1 = 1 ORDER BY id DESC LIMIT ?1", params![limit])
    }

    /// The newest valid upload of each period, newest period first.
    pub fn periods(&self) -> Result<Vec<Upload>, WebStoreError> {
        self.uploads_where(
            "id IN (SELECT max(id) FROM web_uploads WHERE problems = '' AND period IS NOT NULL
                    GROUP BY period) ORDER BY period DESC",
            [],
        )
    }

    /// The newest valid upload of `period`: the file the page renders and sends.
    pub fn current_upload(&self, period: &str) -> Result<Option<Upload>, WebStoreError> {
        Ok(self
            .uploads_where(
                "period = ?1 AND problems = '' ORDER BY id DESC LIMIT 1",
                params![period],
            )?
            .pop())
    }

    fn uploads_where(
        &self,
        condition: &str,
        params: impl Params,
    ) -> Result<Vec<Upload>, WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, at, username, original_name, stored_name, period, problems
             FROM web_uploads WHERE {condition}"
        ))?;
        let rows = stmt.query_map(params, |row| {
            Ok(Upload {
                id: row.get(0)?,
                at: row.get(1)?,
                username: row.get(2)?,
                original_name: row.get(3)?,
                stored_name: row.get(4)?,
                period: row.get(5)?,
                problems: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every delivery with its attempts (newest first), optionally of one unit (by id, or a
    /// part of it).
    pub fn ledger(&self, unit: &str) -> Result<Vec<LedgerRow>, WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        // The ledger's tables exist once the state database has been opened by the deliverer;
        // a fresh database has none yet, which is an empty ledger.
        if !table_exists(&conn, "deliveries")? {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare(
            "SELECT d.issuer, d.period, d.document, d.recipient, d.state, a.attempt, a.resend,
                    a.message_id, a.started_at, a.detail
             FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id
             WHERE ?1 = '' OR d.recipient LIKE '%' || ?1 || '%'
             ORDER BY d.period DESC, d.recipient, d.document, a.attempt DESC LIMIT 500",
        )?;
        let rows = stmt.query_map(params![unit], |row| {
            Ok(LedgerRow {
                issuer: row.get(0)?,
                period: row.get(1)?,
                document: row.get(2)?,
                recipient: row.get(3)?,
                state: row.get(4)?,
                attempt: row.get(5)?,
                resend: row.get::<_, Option<bool>>(6)?.unwrap_or(false),
                message_id: row.get(7)?,
                started_at: row.get(8)?,
                detail: row.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn register(&self) -> Result<Vec<RegisterRow>, WebStoreError> {
        let store = self.store();
        let conn = store.conn();
        if !table_exists(&conn, "register")? {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare(
            "SELECT issuer, year, number, symbol, document_key, issue_date FROM register
             ORDER BY year DESC, issuer, number DESC LIMIT 1000",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(RegisterRow {
                issuer: row.get(0)?,
                year: row.get(1)?,
                number: row.get(2)?,
                symbol: row.get(3)?,
                document_key: row.get(4)?,
                issue_date: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn table_exists(conn: &Conn<'_>, name: &str) -> Result<bool, crate::state::DbError> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        Dialect::Postgres => "SELECT count(*) FROM pg_tables WHERE tablename = ?1",
    };
    conn.query_row(sql, params![name], |row| row.get::<_, i64>(0))
        .map(|n| n > 0)
}

fn user_row(row: &crate::state::Row) -> Result<User, crate::state::DbError> {
    let role: String = row.get(2)?;
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        // The CHECK constraint admits only the three roles.
        role: Role::parse(&role).unwrap_or(Role::Clerk),
        password_hash: row.get(3)?,
        active: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing;
    use chrono::TimeZone;

    #[test]
    fn the_audit_log_never_keeps_a_hidden_or_control_character_as_itself() {
        let store = WebStore::new(testing::open_in_memory().unwrap());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap();
        // A failed login typed under a name no account can have: kept, written out.
        store
            .audit("lan\u{202e}nimda", "10.0.0.1", "đăng nhập sai", "", t0)
            .unwrap();
        let stored: String = store
            .store()
            .conn()
            .query_row("SELECT username FROM web_audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, "lan\\u{202E}nimda");
        // A row an older version wrote as it came is read back written out.
        store
            .store()
            .conn()
            .execute(
                "INSERT INTO web_audit (at, username, ip, action, detail)
                 VALUES (?1, ?2, '10.0.0.1', 'đăng nhập sai', ?3)",
                params![time_text(t0), "x\u{1b}[2J", "\u{2066}chi tiết"],
            )
            .unwrap();
        let rows = store.audit_recent(10).unwrap();
        assert_eq!(rows[0].username, "x\\u{001B}[2J");
        assert_eq!(rows[0].detail, "\\u{2066}chi tiết");
    }

    #[test]
    fn sessions_expire_and_end_when_the_role_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = WebStore::new(testing::open(&dir.path().join("s.sqlite")).unwrap());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap();
        store.add_user("lan", Role::Clerk, "h", t0).unwrap();
        assert!(matches!(
            store.add_user("lan", Role::Admin, "h", t0),
            Err(WebStoreError::UserExists(_))
        ));
        let user = store.user("lan").unwrap().unwrap();
        let hash = "a".repeat(64);
        let expires = t0 + chrono::Duration::hours(8);
        store
            .create_session(&hash, user.id, "c", t0, expires, "127.0.0.1")
            .unwrap();
        assert!(store.session(&hash, t0).unwrap().is_some());
        assert!(store.session(&hash, expires).unwrap().is_none());
        store.update_user("lan", Role::Approver, true, t0).unwrap();
        assert!(store.session(&hash, t0).unwrap().is_none());
        assert_eq!(store.user("lan").unwrap().unwrap().role, Role::Approver);
    }

    #[test]
    fn the_admin_pages_queries_read_back_what_was_written() {
        let store = WebStore::new(testing::open_in_memory().unwrap());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap();
        store.record_attempt("lan", "10.0.0.1", false, t0).unwrap();
        store.record_attempt("lan", "10.0.0.2", false, t0).unwrap();
        store.record_attempt("lan", "10.0.0.1", true, t0).unwrap();
        let since = t0 - chrono::Duration::minutes(1);
        assert_eq!(
            store.failures_since("lan", "10.0.0.1", since).unwrap(),
            (2, 1)
        );
        store
            .audit("lan", "10.0.0.1", "tải lên", "kỳ 2024-h1", t0)
            .unwrap();
        let audit = store.audit_recent(10).unwrap();
        assert_eq!((audit.len(), audit[0].action.as_str()), (1, "tải lên"));
        let first = store
            .add_upload("lan", "ky.xlsx", "a.xlsx", Some("2024-h1"), "", t0)
            .unwrap();
        let second = store
            .add_upload("lan", "ky2.xlsx", "b.xlsx", Some("2024-h1"), "", t0)
            .unwrap();
        store
            .add_upload("lan", "hong.xlsx", "c.xlsx", None, "lỗi", t0)
            .unwrap();
        assert!(second > first);
        assert_eq!(store.recent_uploads(2).unwrap().len(), 2);
        assert_eq!(store.periods().unwrap()[0].id, second);
        assert_eq!(store.current_upload("2024-h1").unwrap().unwrap().id, second);
        assert!(store.current_upload("2025-h1").unwrap().is_none());
        // The ledger and register pages: empty, then with a delivery and a number.
        assert!(store.ledger("").unwrap().is_empty());
        {
            let db = store.store();
            let conn = db.conn();
            conn.execute(
                "INSERT INTO deliveries (issuer, period, document, recipient, state, planned_at,
                 updated_at) VALUES ('u', '2024-h1', 'bao-cao', 'bqlda', 'pending', 'x', 'x')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO register (issuer, year, series, number, symbol, document_key,
                 reserved_at) VALUES ('u', 2024, 'BC', 1, 'BC-UBND', 'k', 'x')",
                [],
            )
            .unwrap();
        }
        let ledger = store.ledger("bql").unwrap();
        assert_eq!((ledger.len(), ledger[0].attempt), (1, None));
        assert!(store.ledger("xa").unwrap().is_empty());
        assert_eq!(store.register().unwrap()[0].number, 1);
        assert_eq!(store.users().unwrap().len(), 0);
    }

    #[test]
    fn an_address_counts_only_its_failures_on_real_accounts() {
        let store = WebStore::new(testing::open_in_memory().unwrap());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap();
        store.add_user("lan", Role::Clerk, "h", t0).unwrap();
        for name in ["khong-co", "admin", "root"] {
            store.record_attempt(name, "10.0.0.1", false, t0).unwrap();
        }
        store.record_attempt("lan", "10.0.0.1", false, t0).unwrap();
        store.record_attempt("lan", "10.0.0.2", false, t0).unwrap();
        store.record_attempt("lan", "10.0.0.1", true, t0).unwrap();
        let since = t0 - chrono::Duration::minutes(1);
        assert_eq!(store.account_failures_from("10.0.0.1", since).unwrap(), 1);
        assert_eq!(store.account_failures_from("10.0.0.3", since).unwrap(), 0);
        assert_eq!(store.account_failures_from("10.0.0.1", t0).unwrap(), 0);
    }

    /// The same tests on PostgreSQL.
    #[test]
    #[ignore = "needs PostgreSQL: run .ci/run"]
    fn the_tests_on_postgres() {
        testing::on_postgres(&[
            (
                "sessions_expire_and_end_when_the_role_changes",
                sessions_expire_and_end_when_the_role_changes,
            ),
            (
                "the_admin_pages_queries_read_back_what_was_written",
                the_admin_pages_queries_read_back_what_was_written,
            ),
            (
                "an_address_counts_only_its_failures_on_real_accounts",
                an_address_counts_only_its_failures_on_real_accounts,
            ),
        ]);
    }
}
