//! The tests' SMTP server harness: tests/support/smtp_sink.py (aiosmtpd) as a child process,
//! the messages it stored, parsed back with tests/support/parse_eml.py, and a private CA from
//! tests/support/certs.sh. One copy, included by path from src/deliver/mail.rs's unit tests and
//! from the integration tests (tests/send.rs, tests/service.rs).

// Each includer uses a different part of the harness.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

pub const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support");

/// Whether python3 with aiosmtpd is here; says SKIPPED when not. A test that needs the sink
/// returns early when this is false, so a machine without it still runs the rest.
pub fn have_aiosmtpd() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: python3 with aiosmtpd is not available (pip install aiosmtpd)");
    }
    ok
}

/// The test SMTP server on 127.0.0.1; killed when dropped (and it exits on its own when its
/// stdin closes, so a test process that dies cannot leave it running).
pub struct Sink {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    /// Starts smtp_sink.py with `args` (see its usage) and waits for its "READY <port>".
    pub fn start(args: &[&str]) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(format!("{SUPPORT}/smtp_sink.py"))
            .arg("--dir")
            .arg(dir.path())
            .arg("--exit-on-stdin-eof")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // aiosmtpd logs every refused handshake with a traceback: kept, out of the way.
            .stderr(std::fs::File::create(dir.path().join("sink.log")).unwrap())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(dir.path().join("sink.log")).unwrap_or_default();
                panic!("sink did not start: {line:?}\n{log}")
            });
        Sink {
            child,
            _stdin: stdin,
            port,
            dir,
        }
    }

    /// A sink that requires STARTTLS, with the server certificate of `certs`, then AUTH as
    /// `user_pass` ("USER:PASS").
    pub fn starttls_with_auth(certs: &Certs, user_pass: &str) -> Sink {
        Sink::with_certificate("--starttls", certs, &["--auth", user_pass])
    }

    /// A sink that speaks TLS from the first byte (port-465 style).
    pub fn implicit_tls(certs: &Certs) -> Sink {
        Sink::with_certificate("--tls", certs, &[])
    }

    fn with_certificate(mode: &str, certs: &Certs, more: &[&str]) -> Sink {
        let cert = certs.path("server.pem");
        let key = certs.path("server.key");
        let mut args = vec![mode, cert.to_str().unwrap(), key.to_str().unwrap()];
        args.extend_from_slice(more);
        Sink::start(&args)
    }

    /// The stored messages (.eml), in arrival order.
    pub fn received(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
    }

    /// The envelope stored beside a received message: mail_from, rcpt_tos, tls, auth.
    pub fn envelope(&self, eml: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(eml.with_extension("json")).unwrap()).unwrap()
    }

    /// Waits until the sink holds back its reply (`--stall-data`), for at most a minute;
    /// `check` runs between looks, e.g. to fail early when the client ended first.
    pub fn wait_for_stall(&self, mut check: impl FnMut()) {
        let stalled = self.dir.path().join("stalled");
        let started = Instant::now();
        while !stalled.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the sink never stalled"
            );
            check();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway CA and a server certificate it signs (certs.sh), removed when dropped.
pub struct Certs(tempfile::TempDir);

impl Certs {
    pub fn make() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("sh")
            .arg(format!("{SUPPORT}/certs.sh"))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "certs.sh failed");
        Certs(dir)
    }

    /// `ca.pem`, `ca.key`, `server.pem` or `server.key`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }
}

/// Parses .eml files with Python's `email` package (policy.default), as a mail client would
/// show them (see parse_eml.py).
pub fn parse_eml(files: &[PathBuf]) -> Vec<Value> {
    if files.is_empty() {
        return Vec::new();
    }
    let output = Command::new("python3")
        .arg(format!("{SUPPORT}/parse_eml.py"))
        .args(files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "parse_eml.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Lower-case hex SHA-256, as parse_eml.py gives each attachment's.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
