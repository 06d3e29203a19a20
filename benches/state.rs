//! The state database's share of the work, on SQLite and on PostgreSQL with 1, 2 and 3
//! instances at once (each instance its own connection, as separate processes have): numbers
//! issued per second (`Register::reserve`, the next number of one issuer and year), and
//! messages recorded per second (the ledger's three steps around each SMTP exchange: plan,
//! begin = the claim, mark_sent). SMTP itself is left out: it is the same on both databases.
//!
//! `cargo bench --bench state` (needs PostgreSQL's programs: Debian's `postgresql`, as
//! `.ci/run` installs). The PostgreSQL server is started durable (fsync on), as SQLite runs with
//! `synchronous = FULL`.

#[path = "../tests/support/pg.rs"]
mod pg;

use std::sync::Barrier;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use vanban::config::NumberingScheme;
use vanban::deliver::ledger::{DeliveryKey, Ledger};
use vanban::issue::register::Register;
use vanban::model::{Half, PeriodId};
use vanban::state::{PgTarget, Store};

/// Operations per instance per measurement.
const PER_INSTANCE: usize = 300;

#[derive(Clone)]
enum Backend {
    Sqlite(std::path::PathBuf),
    Postgres(PgTarget),
}

impl Backend {
    fn open(&self) -> Store {
        match self {
            Backend::Sqlite(path) => Store::open(path).unwrap(),
            Backend::Postgres(target) => Store::open_postgres(target).unwrap(),
        }
    }
}

/// Runs `work(instance, store)` on `instances` threads at once, each with its own connection
/// (opened before the clock starts); returns operations per second over all of them.
fn rate(backend: &Backend, instances: usize, work: fn(usize, &Store)) -> f64 {
    let ready = Barrier::new(instances + 1);
    let done = Barrier::new(instances + 1);
    std::thread::scope(|scope| {
        for i in 0..instances {
            let (ready, done) = (&ready, &done);
            scope.spawn(move || {
                let store = backend.open();
                ready.wait();
                work(i, &store);
                done.wait();
            });
        }
        ready.wait();
        let start = Instant::now();
        done.wait();
        (instances * PER_INSTANCE) as f64 / start.elapsed().as_secs_f64()
    })
}

fn numbers(instance: usize, store: &Store) {
    let register = Register::new(store);
    let now = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
    for i in 0..PER_INSTANCE {
        register
            .reserve(
                "UBND huyện Đầm Hà",
                2024,
                "BC-UBND",
                NumberingScheme::Single,
                &format!("i{instance}-d{i}-{}", std::process::id()),
                now,
            )
            .unwrap();
    }
}

fn messages(instance: usize, store: &Store) {
    let ledger = Ledger::new(store);
    let now = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
    for i in 0..PER_INSTANCE {
        let key = DeliveryKey::new(
            "UBND huyện Đầm Hà",
            PeriodId::new(2024, Half::First),
            "bao-cao",
            format!("i{instance}-u{i}"),
        );
        ledger.plan(&key, now).unwrap();
        let _ = ledger
            .begin(&key, &format!("<{instance}.{i}@vanban>"), now, false)
            .unwrap();
        ledger.mark_sent(&key, 1, now, "250 Ok").unwrap();
    }
}

fn main() {
    let cluster = pg::PgCluster::start_durable();
    let dir = tempfile::tempdir().unwrap();
    println!("| database | instances | numbers issued/s | messages recorded/s |");
    println!("|---|---|---|---|");
    for instances in 1..=3 {
        for postgres in [false, true] {
            // A fresh database per measurement, so each starts from the same empty register.
            let numbers_db = match postgres {
                false => Backend::Sqlite(dir.path().join(format!("n{instances}.sqlite"))),
                true => Backend::Postgres(PgTarget::new(&cluster.database(), None).unwrap()),
            };
            let messages_db = match postgres {
                false => Backend::Sqlite(dir.path().join(format!("m{instances}.sqlite"))),
                true => Backend::Postgres(PgTarget::new(&cluster.database(), None).unwrap()),
            };
            let n = rate(&numbers_db, instances, numbers);
            let m = rate(&messages_db, instances, messages);
            let name = if postgres { "PostgreSQL" } else { "SQLite" };
            println!("| {name} | {instances} | {n:.0} | {m:.0} |");
        }
    }
}
