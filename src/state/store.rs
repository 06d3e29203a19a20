//! The SQLite connection (one file, WAL): opening, pragmas, transactions, and the schema
//! migrations (`migrations/*.sql`, applied in order) of the ledger, the register, the run
//! history, approval, signing and the web page's tables: one schema owns the database.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::config::{PostgresUrl, StateLocation};

use super::sql::{Conn, DbError, DbResult, Dialect, PgHandle, Row, params};

/// The ledger's tables: deliveries and their attempts.
pub const LEDGER_SQL: &str = include_str!("migrations/001_ledger.sql");
/// The register of issued documents, its recipients and filed files.
pub const REGISTER_SQL: &str = include_str!("migrations/002_register.sql");
/// The scheduler's run history (idempotent: `CREATE TABLE IF NOT EXISTS`).
pub const JOB_RUNS_SQL: &str = include_str!("migrations/003_job_runs.sql");
/// The run history's times rewritten from whole seconds to [`time_to_sql`]'s one format.
pub const JOB_RUNS_TIMES_SQL: &str = include_str!("migrations/004_job_runs_times.sql");
/// Approval of drafts (decisions and the files they cover), and the run history's `waiting`.
pub const APPROVAL_SQL: &str = include_str!("migrations/005_approval.sql");
/// The signing step of issued documents.
pub const SIGNATURES_SQL: &str = include_str!("migrations/006_signatures.sql");
/// The register's history: where the office's register continues, numbers taken by hand.
pub const REGISTER_HISTORY_SQL: &str = include_str!("migrations/007_register_history.sql");
/// The draft content each issued document was issued from; replacements of issued documents.
pub const ISSUED_CONTENT_SQL: &str = include_str!("migrations/008_issued_content.sql");
/// The web page's accounts, sessions, login attempts, audit log and uploads.
pub const WEB_SQL: &str = include_str!("migrations/009_web.sql");
/// The web tables' times rewritten to the one format of [`time_to_sql`].
pub const WEB_TIMES_SQL: &str = include_str!("migrations/010_web_times.sql");
/// The instance that made each delivery attempt.
pub const INSTANCES_SQL: &str = include_str!("migrations/011_instances.sql");
/// The instance running each firing, and until when it holds it.
pub const LEASES_SQL: &str = include_str!("migrations/012_leases.sql");
/// Electronic copies (sao y) of issued documents.
pub const COPIES_SQL: &str = include_str!("migrations/013_copies.sql");

/// One step of the schema. Its version is its position in [`MIGRATIONS`] plus one, recorded as a
/// row of the `schema_version` table (and, for tools that only look there, in SQLite's
/// `user_version`).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Shown in errors, so a failed upgrade says which step broke.
    pub name: &'static str,
    /// The step in SQLite's dialect.
    pub sql: &'static str,
    /// The same step in PostgreSQL's (`migrations/postgres/`): the same tables, columns and
    /// constraints, with the types and trigger syntax PostgreSQL needs; steps that only rewrote
    /// old SQLite rows are no-ops there.
    pub postgres: &'static str,
}

/// The schema, oldest first. Append only: a database in the field has already run every entry
/// before its `user_version`, so editing or reordering an entry would leave old and new databases
/// with different schemas under the same version number.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "sổ gửi (deliveries, delivery_attempts)",
        sql: LEDGER_SQL,
        postgres: include_str!("migrations/postgres/001_ledger.sql"),
    },
    Migration {
        name: "sổ đăng ký văn bản đi (register, register_recipients, register_files)",
        sql: REGISTER_SQL,
        postgres: include_str!("migrations/postgres/002_register.sql"),
    },
    Migration {
        name: "lịch sử chạy tác vụ theo lịch (job_runs, job_seen)",
        sql: JOB_RUNS_SQL,
        postgres: include_str!("migrations/postgres/003_job_runs.sql"),
    },
    Migration {
        name: "thời điểm trong lịch sử chạy tác vụ viết theo một dạng (job_runs, job_seen)",
        sql: JOB_RUNS_TIMES_SQL,
        postgres: include_str!("migrations/postgres/004_job_runs_times.sql"),
    },
    Migration {
        name: "duyệt dự thảo (approval_decisions, approval_files) và tác vụ chờ duyệt (job_runs)",
        sql: APPROVAL_SQL,
        postgres: include_str!("migrations/postgres/005_approval.sql"),
    },
    Migration {
        name: "chữ ký số trên văn bản ban hành (signatures)",
        sql: SIGNATURES_SQL,
        postgres: include_str!("migrations/postgres/006_signatures.sql"),
    },
    Migration {
        name: "lịch sử sổ đăng ký: số tiếp theo, số ghi tay (register_history)",
        sql: REGISTER_HISTORY_SQL,
        postgres: include_str!("migrations/postgres/007_register_history.sql"),
    },
    Migration {
        name: "nội dung dự thảo của văn bản đã ban hành và văn bản thay thế (issued_content, register_replacements)",
        sql: ISSUED_CONTENT_SQL,
        postgres: include_str!("migrations/postgres/008_issued_content.sql"),
    },
    Migration {
        name: "trang web: tài khoản, phiên, đăng nhập, nhật ký, tệp tải lên (web_*)",
        sql: WEB_SQL,
        postgres: include_str!("migrations/postgres/009_web.sql"),
    },
    Migration {
        name: "thời điểm trong các bảng của trang web viết theo một dạng (web_*)",
        sql: WEB_TIMES_SQL,
        postgres: include_str!("migrations/postgres/010_web_times.sql"),
    },
    Migration {
        name: "tiến trình đã gửi từng thư (delivery_attempts.instance)",
        sql: INSTANCES_SQL,
        postgres: include_str!("migrations/postgres/011_instances.sql"),
    },
    Migration {
        name: "tiến trình giữ lần chạy và thời hạn giữ (job_runs.instance, job_runs.lease_until)",
        sql: LEASES_SQL,
        postgres: include_str!("migrations/postgres/012_leases.sql"),
    },
    Migration {
        name: "bản sao điện tử của văn bản đã ban hành (copies)",
        sql: COPIES_SQL,
        postgres: include_str!("migrations/postgres/013_copies.sql"),
    },
];

/// How long a writer waits for another connection's transaction before giving up. Transactions
/// here are a few statements long and never span an SMTP exchange, so a wait this long means
/// something is wrong rather than merely busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The key of the PostgreSQL advisory lock every writing transaction takes first (the bytes of
/// "vanban" as a number): the single-writer rule SQLite's `BEGIN IMMEDIATE` gives, across every
/// instance on one database, so each read-then-write step (next register number, ledger claim,
/// firing claim) is decided by one instance at a time. Readers never take it.
const PG_WRITER_LOCK: i64 = 0x76_61_6e_62_61_6e;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Không mở được cơ sở dữ liệu trạng thái {db}: {source}")]
    Open {
        db: DbName,
        #[source]
        source: DbError,
    },
    #[error(
        "Cơ sở dữ liệu {db} không bật được chế độ WAL (đang là «{mode}»); \
         hãy đặt tệp trên ổ đĩa cục bộ, không đặt trên thư mục mạng dùng chung"
    )]
    NoWal { db: DbName, mode: String },
    #[error(
        "Cơ sở dữ liệu {db} có phiên bản lược đồ {found}, mới hơn phiên bản {known} mà bản vanban \
         này biết; hãy dùng bản vanban mới hơn"
    )]
    TooNew {
        db: DbName,
        found: i64,
        known: usize,
    },
    #[error("Nâng cấp cơ sở dữ liệu {db} lên phiên bản {version} ({name}) thất bại: {source}")]
    Migration {
        db: DbName,
        version: usize,
        name: &'static str,
        #[source]
        source: DbError,
    },
    #[error("Lỗi cơ sở dữ liệu {db}: {source}")]
    Sqlite {
        db: DbName,
        #[source]
        source: DbError,
    },
    #[error("Địa chỉ cơ sở dữ liệu PostgreSQL {db} không đúng: {reason}")]
    BadUrl { db: DbName, reason: String },
    #[error("Không đọc được tệp mật khẩu cơ sở dữ liệu {path}: {source}")]
    PasswordFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Không dựng được kết nối TLS tới cơ sở dữ liệu {db}: {reason}")]
    Tls { db: DbName, reason: String },
}

/// The database's name as shown in messages: its file path, ":memory:", or a PostgreSQL URL
/// without its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbName(pub String);

impl fmt::Display for DbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PostgreSQL database to open: its URL (`postgres://user@host/db`, `sslmode=require` for
/// TLS) and the password, kept apart from the URL so it is never shown.
#[derive(Clone)]
pub struct PgTarget {
    url: String,
    password: Option<String>,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &scrub_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The environment variable the database password is read from.
pub const PASSWORD_ENV: &str = "VANBAN_DB_PASSWORD";

impl PgTarget {
    /// `url` as written in the configuration; the password, when not in the URL, from
    /// `password_file` (first line) or else from [`PASSWORD_ENV`].
    pub fn new(url: &str, password_file: Option<&Path>) -> Result<PgTarget, StoreError> {
        let password = match password_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| StoreError::PasswordFile {
                        path: path.display().to_string(),
                        source,
                    })?;
                Some(text.lines().next().unwrap_or("").to_owned())
            }
            None => std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()),
        };
        Ok(PgTarget {
            url: url.to_owned(),
            password,
        })
    }

    /// The URL as shown in messages: without any password written into it.
    pub fn name(&self) -> DbName {
        DbName(scrub_url(&self.url))
    }

    /// Whether a configured `state` value names a PostgreSQL database rather than a file.
    pub fn is_url(text: &str) -> bool {
        PostgresUrl::is_url(text)
    }

    fn connect(&self) -> Result<postgres::Client, StoreError> {
        let name = self.name();
        // `sslrootcert=FILE` (as libpq spells it): a CA to trust besides the system's, for a
        // database whose certificate an office's own CA signed. The driver does not know the
        // option, so it is taken out of the URL here.
        let (url, root_file) = split_root_cert(&self.url);
        let mut config: postgres::Config =
            url.parse()
                .map_err(|e: postgres::Error| StoreError::BadUrl {
                    db: name.clone(),
                    reason: scrub_text(&e.to_string(), self),
                })?;
        if let Some(password) = &self.password {
            config.password(password);
        }
        config.connect_timeout(BUSY_TIMEOUT);
        let open = |source: postgres::Error| StoreError::Open {
            db: name.clone(),
            source: DbError::Postgres(source),
        };
        match config.get_ssl_mode() {
            postgres::config::SslMode::Disable => config.connect(postgres::NoTls).map_err(open),
            _ => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A certificate the system store has but rustls cannot parse is skipped:
                    // the server's own chain decides.
                    let _ = roots.add(cert);
                }
                if let Some(file) = &root_file {
                    use rustls::pki_types::{CertificateDer, pem::PemObject};
                    let bad = |reason: String| StoreError::Tls {
                        db: name.clone(),
                        reason: format!("sslrootcert={file}: {reason}"),
                    };
                    let certs = CertificateDer::pem_file_iter(file)
                        .map_err(|e| bad(e.to_string()))?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| bad(e.to_string()))?;
                    if certs.is_empty() {
                        return Err(bad("không có chứng thư nào".to_owned()));
                    }
                    for cert in certs {
                        roots.add(cert).map_err(|e| bad(e.to_string()))?;
                    }
                }
                let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| StoreError::Tls {
                    db: name.clone(),
                    reason: e.to_string(),
                })?
                .with_root_certificates(roots)
                .with_no_client_auth();
                config
                    .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
                    .map_err(open)
            }
        }
    }
}

/// The URL without its `sslrootcert=` query parameter, and that parameter's value.
fn split_root_cert(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut root = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("sslrootcert=") {
            Some(value) => {
                root = Some(value.to_owned());
                false
            }
            None => true,
        })
        .collect();
    let url = match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    };
    (url, root)
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`: a URL as it may be shown.
pub fn scrub_url(url: &str) -> String {
    PostgresUrl(url.to_owned()).scrubbed()
}

/// Removes the password from any text about the target (a driver's message may quote the URL).
fn scrub_text(text: &str, target: &PgTarget) -> String {
    let mut text = text.replace(&target.url, &scrub_url(&target.url));
    if let Some(p) = target.password.as_deref().filter(|p| !p.is_empty()) {
        text = text.replace(p, "***");
    }
    text
}

enum Backend {
    Sqlite(Connection),
    Postgres(RefCell<postgres::Client>),
}

/// An open state database. Each thread or process opens its own: a connection is not shared.
pub struct Store {
    backend: Backend,
    /// Canonical path of the file (None in memory or on PostgreSQL), so the lock beside it can
    /// be matched.
    path: Option<PathBuf>,
    name: DbName,
    /// This process as other instances see it ("host:pid"), on a shared PostgreSQL database.
    instance: Option<String>,
}

/// "host:pid": the machine's name (Linux) and this process.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.name)
            .field("dialect", &self.dialect())
            .finish()
    }
}

impl Store {
    /// Opens (creating if absent) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = DbName(path.display().to_string());
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            db: shown.clone(),
            source: source.into(),
        })?;
        // The file exists now, so it can be canonicalised; a failure only costs a nicer name.
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let store = Store {
            backend: Backend::Sqlite(conn),
            path: Some(canonical),
            name: shown,
            instance: None,
        };
        store.configure(true)?;
        store.migrate()?;
        Ok(store)
    }

    /// The configured state database, SQLite or PostgreSQL, its schema brought up to date.
    pub fn open_state(location: &StateLocation) -> Result<Store, StoreError> {
        match location {
            StateLocation::File(path) => Store::open(path),
            StateLocation::Postgres { url, password_file } => {
                Store::open_postgres(&PgTarget::new(&url.0, password_file.as_deref())?)
            }
        }
    }

    /// A private database for tests and dry runs; it has the full schema but no file and no WAL.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let name = DbName(":memory:".to_owned());
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            db: name.clone(),
            source: source.into(),
        })?;
        let store = Store {
            backend: Backend::Sqlite(conn),
            path: None,
            name,
            instance: None,
        };
        store.configure(false)?;
        store.migrate()?;
        Ok(store)
    }

    /// Connects to a PostgreSQL database shared by several instances and brings its schema up
    /// to date (the same migrations as SQLite's, in their PostgreSQL text).
    pub fn open_postgres(target: &PgTarget) -> Result<Store, StoreError> {
        let client = target.connect()?;
        let store = Store {
            backend: Backend::Postgres(RefCell::new(client)),
            path: None,
            name: target.name(),
            instance: Some(instance_name()),
        };
        store.migrate()?;
        Ok(store)
    }

    /// A handle for statements outside a transaction (each one commits by itself).
    pub fn conn(&self) -> Conn<'_> {
        match &self.backend {
            Backend::Sqlite(c) => Conn::sqlite(c),
            Backend::Postgres(c) => Conn::pg(PgHandle::Client(c.borrow_mut())),
        }
    }

    /// This instance's name ("host:pid") on a shared PostgreSQL database; `None` on SQLite,
    /// where one instance owns the file.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// The SQLite connection, for SQLite-only maintenance and tests; `None` on PostgreSQL.
    pub fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The canonical path of the database file; `None` in memory and on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The name to put in messages.
    pub fn name(&self) -> &DbName {
        &self.name
    }

    /// Wraps a database error with this database's name.
    pub fn sql_error(&self, source: impl Into<DbError>) -> StoreError {
        StoreError::Sqlite {
            db: self.name.clone(),
            source: source.into(),
        }
    }

    /// The schema version recorded in the database: the last migration applied.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        recorded_version(&self.conn()).map_err(|e| self.sql_error(e))
    }

    /// `wal` for a file database opened by [`Store::open`].
    pub fn journal_mode(&self) -> Result<String, StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => c
                .pragma_query_value(None, "journal_mode", |row| row.get(0))
                .map_err(|e| self.sql_error(e)),
            Backend::Postgres(_) => Ok("postgres".to_owned()),
        }
    }

    /// Runs `f` in a writing transaction: on SQLite `BEGIN IMMEDIATE`, the write lock taken at
    /// the start; on PostgreSQL a transaction that first takes the writers' advisory lock. Either
    /// way two processes cannot both read "number 5 is free" and both take it. Commits only when
    /// `f` returns `Ok(Ok(_))`; a domain refusal (`Ok(Err(_))`) or a SQL error rolls back.
    pub fn immediate<T, E>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> DbResult<Result<T, E>>,
    ) -> Result<Result<T, E>, StoreError> {
        self.in_transaction(true, f)
    }

    /// [`immediate`](Self::immediate) for writes with no refusal of their own: commits when `f`
    /// returns `Ok`.
    pub fn write<T>(&self, f: impl FnOnce(&Conn<'_>) -> DbResult<T>) -> Result<T, StoreError> {
        self.in_transaction(true, |tx| f(tx).map(Ok::<T, std::convert::Infallible>))
            .map(|r| match r {
                Ok(v) => v,
                Err(never) => match never {},
            })
    }

    /// Runs read-only `f` in one transaction, so several queries see one snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> DbResult<T>) -> Result<T, StoreError> {
        self.in_transaction(false, |tx| f(tx).map(Ok::<T, std::convert::Infallible>))
            .map(|r| match r {
                Ok(v) => v,
                Err(never) => match never {},
            })
    }

    fn in_transaction<T, E>(
        &self,
        write: bool,
        f: impl FnOnce(&Conn<'_>) -> DbResult<Result<T, E>>,
    ) -> Result<Result<T, E>, StoreError> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                let behavior = match write {
                    true => TransactionBehavior::Immediate,
                    false => TransactionBehavior::Deferred,
                };
                // new_unchecked because the Store is shared by reference; nesting is prevented
                // by every transaction living inside one of these calls.
                let tx =
                    Transaction::new_unchecked(conn, behavior).map_err(|e| self.sql_error(e))?;
                let outcome = f(&Conn::sqlite(&tx));
                match outcome.map_err(|e| self.sql_error(e))? {
                    Ok(value) => {
                        tx.commit().map_err(|e| self.sql_error(e))?;
                        Ok(Ok(value))
                    }
                    Err(refusal) => {
                        tx.rollback().map_err(|e| self.sql_error(e))?;
                        Ok(Err(refusal))
                    }
                }
            }
            Backend::Postgres(client) => {
                let mut client = client.borrow_mut();
                let mut builder = client.build_transaction();
                if !write {
                    builder = builder
                        .isolation_level(postgres::IsolationLevel::RepeatableRead)
                        .read_only(true);
                }
                let tx = builder.start().map_err(|e| self.sql_error(e))?;
                let conn = Conn::pg(PgHandle::Tx(tx));
                if write {
                    conn.execute("SELECT pg_advisory_xact_lock(?1)", [PG_WRITER_LOCK])
                        .map_err(|e| self.sql_error(e))?;
                }
                let outcome = f(&conn);
                let Some(PgHandle::Tx(tx)) = conn.into_pg() else {
                    unreachable!("a PostgreSQL transaction handle stays one")
                };
                // Dropping a postgres::Transaction rolls it back.
                match outcome.map_err(|e| self.sql_error(e))? {
                    Ok(value) => {
                        tx.commit().map_err(|e| self.sql_error(e))?;
                        Ok(Ok(value))
                    }
                    Err(refusal) => {
                        tx.rollback().map_err(|e| self.sql_error(e))?;
                        Ok(Err(refusal))
                    }
                }
            }
        }
    }

    fn configure(&self, file: bool) -> Result<(), StoreError> {
        let Backend::Sqlite(conn) = &self.backend else {
            return Ok(());
        };
        let sql = |e| self.sql_error(e);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql)?;
        if file {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(sql)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::NoWal {
                    db: self.name.clone(),
                    mode,
                });
            }
        }
        // FULL, not WAL's usual NORMAL: a "sent" row lost to a power cut would mean the message
        // is sent again, and a few fsyncs per message cost nothing next to an SMTP exchange.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        Ok(())
    }

    /// Brings the schema up to date: what `vanban db migrate` runs, and every open.
    pub fn migrate(&self) -> Result<(), StoreError> {
        let db = self.name.clone();
        let dialect = self.dialect();
        // Read the version inside the write transaction: two processes starting together must not
        // both run the same step (on PostgreSQL the writers' lock orders them).
        self.immediate(|tx| {
            tx.execute_batch(SCHEMA_VERSION_SQL)?;
            let found = recorded_version(tx)?;
            let applied = usize::try_from(found).unwrap_or(usize::MAX);
            if applied > MIGRATIONS.len() {
                return Ok(Err(StoreError::TooNew {
                    db: db.clone(),
                    found,
                    known: MIGRATIONS.len(),
                }));
            }
            // Steps applied before the table existed get their rows now.
            for (index, migration) in MIGRATIONS.iter().enumerate().take(applied) {
                tx.execute(
                    "INSERT INTO schema_version (version, name) VALUES (?1, ?2)
                     ON CONFLICT (version) DO NOTHING",
                    params![(index + 1) as i64, migration.name],
                )?;
            }
            for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
                let text = match dialect {
                    Dialect::Sqlite => migration.sql,
                    Dialect::Postgres => migration.postgres,
                };
                if let Err(source) = tx.execute_batch(text) {
                    return Ok(Err(StoreError::Migration {
                        db: db.clone(),
                        version: index + 1,
                        name: migration.name,
                        source,
                    }));
                }
                tx.execute(
                    "INSERT INTO schema_version (version, name) VALUES (?1, ?2)",
                    params![(index + 1) as i64, migration.name],
                )?;
            }
            if applied < MIGRATIONS.len()
                && let Some(conn) = tx.as_sqlite()
            {
                conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
            }
            Ok(Ok(()))
        })?
    }
}

/// The table of applied migrations, one row each. SQLite databases made before it existed
/// recorded only `user_version`; their steps are entered here the first time they are opened.
const SCHEMA_VERSION_SQL: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT PRIMARY KEY,
    name    TEXT NOT NULL
);";

/// The last migration applied: on SQLite the highest of the table and `user_version` (a
/// database from before the table has only `user_version`; [`Store::migrate`] fills in its
/// rows), on PostgreSQL the table's.
fn recorded_version(conn: &Conn<'_>) -> DbResult<i64> {
    let (pragma, has_table) = match conn.as_sqlite() {
        Some(c) => {
            let pragma: i64 = c.pragma_query_value(None, "user_version", |row| row.get(0))?;
            let has_table: bool = c.query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                [],
                |row| row.get(0),
            )?;
            (pragma, has_table)
        }
        None => {
            let has_table: bool = conn.query_row(
                "SELECT to_regclass('schema_version') IS NOT NULL",
                [],
                |row| row.get(0),
            )?;
            (0, has_table)
        }
    };
    if !has_table {
        return Ok(pragma);
    }
    let table: i64 = conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )?;
    Ok(table.max(pragma))
}

/// A stored time that is not in the one format [`time_to_sql`] writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("thời điểm «{text}» không đúng dạng YYYY-MM-DDTHH:MM:SS.ffffffZ (giờ UTC)")]
pub struct BadTime {
    pub text: String,
}

/// Every time in the database (ledger, register, run history) is this one text: RFC 3339 in UTC
/// to the microsecond, "2024-06-25T01:02:03.000000Z". Fixed width, so text order is time order
/// (`MAX(due)`, `ORDER BY`), and one spelling, so equal times are equal keys.
pub fn time_to_sql(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a time written by [`time_to_sql`]. Only that exact spelling is accepted (an offset, a
/// missing fraction or a nanosecond would sort wrongly against the rest), so a hand-edited or
/// foreign value is reported rather than silently misordered.
pub fn time_from_sql(text: &str) -> Result<DateTime<Utc>, BadTime> {
    let bad = || BadTime {
        text: text.to_owned(),
    };
    let t = DateTime::parse_from_rfc3339(text)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    if time_to_sql(&t) == text {
        Ok(t)
    } else {
        Err(bad())
    }
}

/// Reads a time column written by [`time_to_sql`]; anything else is reported as a conversion
/// error of that column.
pub fn time_from_row(row: &Row, idx: usize) -> DbResult<DateTime<Utc>> {
    let text: String = row.get(idx)?;
    parse_time(idx, &text)
}

/// Like [`time_from_row`] for a nullable column.
pub fn opt_time_from_row(row: &Row, idx: usize) -> DbResult<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| parse_time(idx, &t)).transpose()
}

fn parse_time(idx: usize, text: &str) -> DbResult<DateTime<Utc>> {
    time_from_sql(text).map_err(|e| DbError::conversion(idx, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn file_database_is_wal_with_foreign_keys_and_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vanban.sqlite");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.journal_mode().unwrap(), "wal");
        let fk: i64 = store
            .sqlite()
            .unwrap()
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert!(path.exists());
    }

    #[test]
    fn reopening_keeps_data_and_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vanban.sqlite");
        {
            let store = Store::open(&path).unwrap();
            store
                .conn()
                .execute(
                    "INSERT INTO deliveries (issuer, period, document, recipient, state, \
                     planned_at, updated_at) VALUES ('u', 'p', 'd', 'r', 'pending', 'x', 'x')",
                    [],
                )
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let n: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_database_the_web_store_set_up_itself_migrates_with_its_accounts() {
        // Before the web tables were a migration, the web page created them itself, IF NOT
        // EXISTS, in a database at the sixth migration.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vanban.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..6] {
                conn.execute_batch(migration.sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 6).unwrap();
            conn.execute_batch(WEB_SQL).unwrap();
            conn.execute(
                "INSERT INTO web_users (name, role, password_hash, created_at, updated_at)
                 VALUES ('lan', 'clerk', 'x', 't', 't')",
                [],
            )
            .unwrap();
            // The web page wrote milliseconds then.
            conn.execute(
                "INSERT INTO web_audit (at, username, ip, action, detail)
                 VALUES ('2026-11-29T20:00:00.123Z', 'lan', '127.0.0.1', 'gửi', 'kỳ 2024-h1')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let users: Vec<String> = store
            .read(|tx| {
                let mut st = tx.prepare("SELECT name FROM web_users")?;
                st.query_map([], |r| r.get(0))?.collect()
            })
            .unwrap();
        assert_eq!(users, ["lan"]);
        // Its times now in the database's one format, read by the one reader.
        let at: String = store
            .read(|tx| tx.query_row("SELECT at FROM web_audit", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(at, "2026-11-29T20:00:00.123000Z");
        assert_eq!(
            time_to_sql(&time_from_sql(&at).unwrap()),
            "2026-11-29T20:00:00.123000Z"
        );
        // And a new database has the web tables from its migrations.
        let fresh = Store::open_in_memory().unwrap();
        let tables: i64 = fresh
            .read(|tx| {
                tx.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
                     ('web_users', 'web_sessions', 'web_login_attempts', 'web_audit',
                      'web_uploads')",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(tables, 5);
    }

    #[test]
    fn newer_schema_is_refused_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vanban.sqlite");
        {
            let store = Store::open(&path).unwrap();
            store
                .sqlite()
                .unwrap()
                .pragma_update(None, "user_version", 999)
                .unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::TooNew { found: 999, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("vanban.sqlite"), "{msg}");
        assert!(msg.contains("999"), "{msg}");
    }

    #[test]
    fn missing_directory_is_an_open_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("vanban.sqlite");
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-dir"), "{err}");
    }

    /// A domain refusal inside a writing transaction rolls it back; Ok commits. One check for
    /// both databases.
    fn assert_a_refusal_rolls_back(store: &Store) {
        let insert = "INSERT INTO deliveries (issuer, period, document, recipient, state, \
                      planned_at, updated_at) VALUES (?1, 'p', 'd', 'r', 'pending', 'x', 'x')";
        let refused = store
            .immediate(|tx| {
                tx.execute(insert, ["a"])?;
                Ok(Err::<(), &str>("no"))
            })
            .unwrap();
        assert_eq!(refused, Err("no"));
        store
            .immediate(|tx| {
                tx.execute(insert, ["b"])?;
                Ok(Ok::<(), ()>(()))
            })
            .unwrap()
            .unwrap();
        let issuers: Vec<String> = store
            .read(|tx| tx.query_map("SELECT issuer FROM deliveries", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(issuers, vec!["b".to_owned()]);
    }

    #[test]
    fn refusal_rolls_back_and_ok_commits() {
        assert_a_refusal_rolls_back(&Store::open_in_memory().unwrap());
    }

    #[test]
    fn times_round_trip_and_sort_as_text() {
        let a = Utc.with_ymd_and_hms(2024, 6, 25, 1, 2, 3).unwrap();
        let b = a + chrono::Duration::milliseconds(1500);
        assert_eq!(time_to_sql(&a), "2024-06-25T01:02:03.000000Z");
        assert!(time_to_sql(&a) < time_to_sql(&b));
        assert_eq!(parse_time(0, &time_to_sql(&b)).unwrap(), b);
        assert!(parse_time(0, "hôm qua").is_err());
    }

    #[test]
    fn only_the_one_spelling_is_read() {
        let a = Utc.with_ymd_and_hms(2026, 12, 25, 1, 0, 0).unwrap();
        assert_eq!(time_from_sql("2026-12-25T01:00:00.000000Z"), Ok(a));
        // Same instant, other spellings: each would sort or compare wrongly against the rest.
        for other in [
            "2026-12-25T01:00:00Z",
            "2026-12-25T01:00:00.000Z",
            "2026-12-25T08:00:00.000000+07:00",
            "2026-12-25T01:00:00.000000+00:00",
            "2026-12-25t01:00:00.000000z",
        ] {
            let err = time_from_sql(other).unwrap_err();
            assert_eq!(err.text, other);
            assert!(err.to_string().contains(other), "{err}");
        }
    }

    #[test]
    fn the_root_certificate_option_is_taken_out_of_the_url() {
        assert_eq!(
            split_root_cert("postgres://v@db/v?sslmode=require&sslrootcert=/etc/ca.pem"),
            (
                "postgres://v@db/v?sslmode=require".to_owned(),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            split_root_cert("postgres://v@db/v?sslrootcert=ca.pem"),
            ("postgres://v@db/v".to_owned(), Some("ca.pem".to_owned()))
        );
        assert_eq!(
            split_root_cert("postgres://v@db/v"),
            ("postgres://v@db/v".to_owned(), None)
        );
    }

    #[test]
    fn a_password_never_shows_in_the_database_name() {
        assert_eq!(
            scrub_url("postgres://vanban:bí-mật@db.example.vn:5432/vanban?sslmode=require"),
            "postgres://vanban@db.example.vn:5432/vanban?sslmode=require"
        );
        assert_eq!(
            scrub_url("postgresql://vanban@db/vanban?password=bí-mật&sslmode=require"),
            "postgresql://vanban@db/vanban?sslmode=require"
        );
        let target = PgTarget {
            url: "postgres://vanban:bí-mật@db/vanban".to_owned(),
            password: Some("khác".to_owned()),
        };
        assert_eq!(target.name().0, "postgres://vanban@db/vanban");
        let shown = format!("{target:?}");
        assert!(
            !shown.contains("bí-mật") && !shown.contains("khác"),
            "{shown}"
        );
        assert!(PgTarget::is_url("postgres://x/y"));
        assert!(!PgTarget::is_url("/var/lib/vanban/vanban.sqlite"));
    }

    #[test]
    #[ignore = "needs PostgreSQL: run .ci/run"]
    fn postgres_gets_the_same_schema_from_the_same_migrations() {
        let cluster = crate::state::test_pg::PgCluster::start();
        let target = PgTarget::new(&cluster.database(), None).unwrap();
        let store = Store::open_postgres(&target).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(store);
        // Opening again runs nothing again.
        let store = Store::open_postgres(&target).unwrap();
        let steps: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(steps, MIGRATIONS.len() as i64);

        // Every table and column SQLite has, PostgreSQL has.
        let sqlite = Store::open_in_memory().unwrap();
        let sqlite_columns: Vec<(String, String)> = sqlite
            .conn()
            .query_map(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' ORDER BY 1, 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let pg_columns: Vec<(String, String)> = store
            .conn()
            .query_map(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' ORDER BY 1, 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(pg_columns, sqlite_columns);

        // The register's numbers cannot be deleted there either, with the same message.
        store
            .conn()
            .execute(
                "INSERT INTO register (issuer, year, series, number, symbol, document_key,
                 reserved_at) VALUES ('u', 2024, 'BC', 1, 'BC-UBND', 'k', 'x')",
                [],
            )
            .unwrap();
        let err = store
            .conn()
            .execute("DELETE FROM register", [])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("số văn bản đã cấp không được xóa khỏi sổ đăng ký"),
            "{err}"
        );

        // A refusal rolls back, Ok commits, as on SQLite.
        assert_a_refusal_rolls_back(&store);
    }
}
