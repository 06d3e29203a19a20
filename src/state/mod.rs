//! The state database: the one module that opens it, owns its schema (the ledger's, the
//! register's, the run history's, approval's, signing's and the web page's migrations,
//! `migrations/*.sql`) and holds the lock that keeps
//! one vanban process per database. The queries stay with the module whose records they are
//! (`deliver::ledger`, `issue::register`, `schedule`'s run history), all through [`Store`].

pub mod lock;
pub mod store;

pub use lock::{InstanceLock, LockError};
pub use store::{
    BadTime, DbName, MIGRATIONS, Migration, Store, StoreError, opt_time_from_row, time_from_row,
    time_from_sql, time_to_sql,
};
