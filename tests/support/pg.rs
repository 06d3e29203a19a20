//! A real PostgreSQL server for tests: a cluster of its own in a temporary folder (`initdb`),
//! the server started on a free 127.0.0.1 port, stopped and removed on drop. Debian's
//! `postgresql` package provides the programs (installed by `.ci/run`); `initdb` refuses to run
//! as root, so as root the cluster belongs to the `postgres` user and its programs run as that
//! user through `setpriv` — with `--pdeathsig`, so a test process that dies takes its server
//! with it instead of leaving it running.
//!
//! Shared by the library's unit tests (`src/state/mod.rs` includes it) and the integration
//! tests.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One running server; each test takes fresh databases from it with [`PgCluster::database`].
pub struct PgCluster {
    dir: tempfile::TempDir,
    server: Child,
    port: u16,
    bin: PathBuf,
    /// `Some("postgres")` when running as root.
    run_as: Option<String>,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The folder of Debian's PostgreSQL programs (the newest version installed), or the one on
/// PATH that has `initdb`.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(dir) = found.pop() {
        return dir;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").exists() && d.join("postgres").exists())
        .expect(
            "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): \
             install Debian's `postgresql` package, as .ci/run does",
        )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    listener.local_addr().expect("its address").port()
}

impl PgCluster {
    /// initdb + start; panics (failing the test) with the server's log if it does not come up.
    /// Without fsync: a test's data need not survive a power cut.
    pub fn start() -> PgCluster {
        PgCluster::start_with(false)
    }

    /// As durable as a production server (fsync on), for the benchmarks: SQLite there syncs
    /// every commit too (`synchronous = FULL`).
    pub fn start_durable() -> PgCluster {
        PgCluster::start_with(true)
    }

    /// A server that also accepts TLS, with this certificate and key (PEM files).
    pub fn start_tls(cert: &Path, key: &Path) -> PgCluster {
        PgCluster::start_full(false, Some((cert, key)))
    }

    fn start_with(fsync: bool) -> PgCluster {
        PgCluster::start_full(fsync, None)
    }

    fn start_full(fsync: bool, tls: Option<(&Path, &Path)>) -> PgCluster {
        let bin = bin_dir();
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = tempfile::tempdir().expect("a temporary folder for the cluster");
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{user}:"))
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown of the cluster's folder failed");
        }
        let data = dir.path().join("data");
        let out = command(&run_as, &bin.join("initdb"), false)
            .arg("-D")
            .arg(&data)
            .args(["-U", "vanban", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The server reads its key only if the key belongs to it and nobody else may read it.
        let mut tls_args: Vec<String> = Vec::new();
        if let Some((cert, key)) = tls {
            let (cert_to, key_to) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::copy(cert, &cert_to).expect("copy the server certificate");
            std::fs::copy(key, &key_to).expect("copy the server key");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_to, std::fs::Permissions::from_mode(0o600))
                .expect("chmod the server key");
            if let Some(user) = &run_as {
                for file in [&cert_to, &key_to] {
                    let _ = Command::new("chown")
                        .arg(format!("{user}:"))
                        .arg(file)
                        .status();
                }
            }
            tls_args = vec![
                "-c".into(),
                "ssl=on".into(),
                "-c".into(),
                format!("ssl_cert_file={}", cert_to.display()),
                "-c".into(),
                format!("ssl_key_file={}", key_to.display()),
            ];
        }
        let port = free_port();
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).expect("server log");
        if let Some(user) = &run_as {
            let _ = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&log)
                .status();
        }
        let server = command(&run_as, &bin.join("postgres"), true)
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(if fsync { "fsync=on" } else { "fsync=off" })
            .args(["-c", "max_connections=200"])
            .args(&tls_args)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("postgres starts");
        let mut cluster = PgCluster {
            dir,
            server,
            port,
            bin,
            run_as,
        };
        if !cluster.wait_ready(Duration::from_secs(30)) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("PostgreSQL did not start on port {port}:\n{text}");
        }
        cluster
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.server.try_wait() {
                return false;
            }
            if postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `postgres://vanban@127.0.0.1:PORT/NAME?sslmode=disable`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://vanban@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// A new empty database on this server; its URL.
    pub fn database(&self) -> String {
        database_on(self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// A new empty database on the test server listening on `port`; its URL.
pub fn database_on(port: u16) -> String {
    let n = DATABASES.fetch_add(1, Ordering::SeqCst);
    let name = format!("t{}_{n}", std::process::id());
    let admin_url = format!("postgres://vanban@127.0.0.1:{port}/postgres?sslmode=disable");
    let mut admin =
        postgres::Client::connect(&admin_url, postgres::NoTls).expect("connect to the test server");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    format!("postgres://vanban@127.0.0.1:{port}/{name}?sslmode=disable")
}

/// `program` as the cluster's user when running as root; `pdeathsig` for the server.
fn command(run_as: &Option<String>, program: &Path, pdeathsig: bool) -> Command {
    match run_as {
        Some(user) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={user}"))
                .arg(format!("--regid={user}"))
                .arg("--init-groups");
            if pdeathsig {
                c.arg("--pdeathsig=KILL");
            }
            c.arg(program);
            c
        }
        None => Command::new(program),
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // A fast shutdown (SIGINT): the server ends its connections and exits.
        let _ = Command::new("kill")
            .args(["-INT", &self.server.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.server.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
