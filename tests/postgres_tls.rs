//! The state database over TLS: `state = "postgres://…?sslmode=require"` connects to a real
//! PostgreSQL that has a certificate from the office's own CA (`sslrootcert=`), the connection
//! is encrypted, and a server whose certificate nobody vouches for is refused.

#[path = "support/pg.rs"]
mod pg;
#[path = "support/sink.rs"]
mod sink;

use vanban::state::{PgTarget, Store};

#[test]
#[ignore = "needs PostgreSQL: run .ci/run"]
fn sslmode_require_connects_over_tls_and_checks_the_certificate() {
    let certs = sink::Certs::make();
    let cluster = pg::PgCluster::start_tls(&certs.path("server.pem"), &certs.path("server.key"));
    // The test cluster's URLs say sslmode=disable: the same database, over TLS instead.
    let url = cluster
        .database()
        .replace("sslmode=disable", "sslmode=require");
    let trusted = format!("{url}&sslrootcert={}", certs.ca().display());
    let store = Store::open_postgres(&PgTarget::new(&trusted, None).unwrap()).unwrap();
    let encrypted: bool = store
        .conn()
        .query_row(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(encrypted);

    // Without the office's CA, the server's certificate is not trusted: refused.
    let err = Store::open_postgres(&PgTarget::new(&url, None).unwrap()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Không mở được cơ sở dữ liệu"), "{text}");
    assert!(text.contains("certificate"), "{text}");
}
