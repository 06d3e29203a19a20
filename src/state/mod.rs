//! The state database: the one module that opens it (a SQLite file, or a PostgreSQL database
//! shared by several instances), owns its schema (the ledger's, the register's, the run
//! history's, approval's, signing's and the web page's migrations, `migrations/*.sql` and their
//! PostgreSQL text in `migrations/postgres/`), gives every other module one SQL surface over
//! both ([`Conn`]), and holds the lock that keeps one vanban process per SQLite file. The
//! queries stay with the module whose records they are (`deliver::ledger`, `issue::register`,
//! `schedule`'s run history), all through [`Store`].

pub mod copy;
pub mod lock;
pub mod sql;
pub mod store;
#[cfg(test)]
#[path = "../../tests/support/pg.rs"]
pub(crate) mod test_pg;
#[cfg(test)]
pub(crate) mod testing;

pub use lock::{InstanceLock, LockError};
pub(crate) use sql::params;
pub use sql::{
    Conn, DbError, DbResult, Dialect, FromValue, OptionalExtension, Params, Row, ToValue, Value,
};
pub use store::{
    BadTime, DbName, MIGRATIONS, Migration, PASSWORD_ENV, PgTarget, Store, StoreError,
    opt_time_from_row, scrub_url, time_from_row, time_from_sql, time_to_sql,
};
