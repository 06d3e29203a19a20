//! Tests of the modules that keep state run on both databases: [`open`] and
//! [`open_in_memory`] give a SQLite store, or, inside [`on_postgres`], a fresh PostgreSQL
//! database on a real server started for the run (one database per test file path, so a test
//! that reopens its file reopens the same database).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::test_pg::PgCluster;
use super::{PgTarget, Store, StoreError};

struct OnPostgres {
    cluster_url: String,
    databases: HashMap<PathBuf, String>,
}

/// Databases made so far by this test process: each gets a new name.
static MADE: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static POSTGRES: RefCell<Option<OnPostgres>> = const { RefCell::new(None) };
}

/// The store of the database file `path`, or of its PostgreSQL stand-in.
pub fn open(path: &Path) -> Result<Store, StoreError> {
    let url = POSTGRES.with(|pg| {
        let mut pg = pg.borrow_mut();
        let pg = pg.as_mut()?;
        if let Some(url) = pg.databases.get(path) {
            return Some(url.clone());
        }
        // Named after the file, so messages that name the database name it on both.
        let file = path.file_name()?.to_string_lossy().into_owned();
        let url = create(pg, &file);
        pg.databases.insert(path.to_path_buf(), url.clone());
        Some(url)
    });
    match url {
        Some(url) => Store::open_postgres(&PgTarget::new(&url, None)?),
        None => Store::open(path),
    }
}

/// A private store: SQLite in memory, or a new PostgreSQL database.
pub fn open_in_memory() -> Result<Store, StoreError> {
    let url = POSTGRES.with(|pg| pg.borrow_mut().as_mut().map(|pg| create(pg, "memory")));
    match url {
        Some(url) => Store::open_postgres(&PgTarget::new(&url, None)?),
        None => Store::open_in_memory(),
    }
}

fn create(pg: &mut OnPostgres, label: &str) -> String {
    let n = MADE.fetch_add(1, Ordering::SeqCst);
    let name = format!("s{}_{n}_{label}", std::process::id());
    let mut admin =
        postgres::Client::connect(&format!("{}/postgres", pg.cluster_url), postgres::NoTls)
            .expect("connect to the test server");
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .expect("create a test database");
    format!("{}/{name}?sslmode=disable", pg.cluster_url)
}

/// Runs each test case against PostgreSQL: one server for all, a fresh database per case.
pub fn on_postgres(cases: &[(&str, fn())]) {
    let cluster = PgCluster::start();
    for (name, case) in cases {
        eprintln!("PostgreSQL: {name}");
        POSTGRES.with(|pg| {
            *pg.borrow_mut() = Some(OnPostgres {
                cluster_url: format!("postgres://vanban@127.0.0.1:{}", cluster.port()),
                databases: HashMap::new(),
            })
        });
        case();
        POSTGRES.with(|pg| *pg.borrow_mut() = None);
    }
    drop(cluster);
}
