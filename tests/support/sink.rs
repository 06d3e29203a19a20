//! The tests' SMTP server harness: an SMTP server written for the tests (threads on 127.0.0.1,
//! STARTTLS or implicit TLS with rustls, AUTH PLAIN/LOGIN, the scripted failures the delivery
//! tests need), a private CA made in-process with rcgen, and the stored messages parsed back
//! with mail-parser. tests/support/smtp_sink.py (aiosmtpd) stays as a second, independent
//! implementation for the interop tests (`Sink::aiosmtpd`, ignored by default: .ci/run).
//! One copy, included by path from src/deliver/email/mod.rs (the email channel's unit tests)
//! and from the integration tests (tests/send.rs, tests/service.rs).

// Each includer uses a different part of the harness.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support");

/// The test SMTP server on 127.0.0.1. Each accepted message is written to DIR/NNNNN.eml (the
/// bytes exactly as received, after dot-unstuffing, with the CRLF before the final dot) and its
/// envelope to DIR/NNNNN.json, both before the 250 reply, so a test can read them as soon as the
/// client returns. Stopped when dropped.
pub struct Sink {
    server: Server,
    /// The Rust server's shared state (None for aiosmtpd).
    shared: Option<Arc<Shared>>,
    pub port: u16,
    dir: tempfile::TempDir,
}

enum Server {
    Rust {
        stop: Arc<AtomicBool>,
        accept: Option<JoinHandle<()>>,
    },
    Aiosmtpd {
        child: Child,
        _stdin: ChildStdin,
    },
}

/// What the server is told to do; the flags are smtp_sink.py's, so one script of failures
/// reads the same for either server.
#[derive(Clone, Default)]
struct Script {
    port: u16,
    /// Server certificate chain and key (PEM) and whether TLS starts at once (port 465).
    tls: Option<(Vec<u8>, Vec<u8>, bool)>,
    auth: Option<(String, String)>,
    fail_first: u32,
    fail_code: u16,
    fail_at_rcpt: bool,
    rejects: Vec<String>,
    reject_code: u16,
    stall_at: u32,
    stall_seconds: f64,
    /// Milliseconds the server waits before answering each command (and the message's end):
    /// a slow or distant server, for the tests and the benchmark of several connections.
    delay_ms: u64,
    /// Milliseconds before the reply to each message's end only (a server that scans what it
    /// receives), on top of `delay_ms`.
    delay_message_ms: u64,
}

impl Script {
    /// Reads smtp_sink.py's flags (see its usage); an unknown flag is a mistake in the test.
    fn from_args(args: &[&str]) -> Script {
        let mut script = Script {
            fail_code: 451,
            reject_code: 550,
            stall_seconds: 30.0,
            ..Script::default()
        };
        let mut args = args.iter();
        fn value(flag: &str, args: &mut std::slice::Iter<&str>) -> String {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .to_string()
        }
        while let Some(flag) = args.next() {
            match *flag {
                "--port" => script.port = value(flag, &mut args).parse().unwrap(),
                "--fail-first" => script.fail_first = value(flag, &mut args).parse().unwrap(),
                "--fail-code" => script.fail_code = value(flag, &mut args).parse().unwrap(),
                "--fail-stage" => script.fail_at_rcpt = value(flag, &mut args) == "rcpt",
                "--reject" => script.rejects.push(value(flag, &mut args).to_lowercase()),
                "--reject-code" => script.reject_code = value(flag, &mut args).parse().unwrap(),
                "--stall-data" => script.stall_at = value(flag, &mut args).parse().unwrap(),
                "--stall-seconds" => script.stall_seconds = value(flag, &mut args).parse().unwrap(),
                "--delay-ms" => script.delay_ms = value(flag, &mut args).parse().unwrap(),
                "--delay-message-ms" => {
                    script.delay_message_ms = value(flag, &mut args).parse().unwrap()
                }
                "--auth" => {
                    let pair = value(flag, &mut args);
                    let (user, password) = pair.split_once(':').expect("--auth USER:PASS");
                    script.auth = Some((user.to_owned(), password.to_owned()));
                }
                other => panic!("the test SMTP server has no flag {other}"),
            }
        }
        script
    }
}

impl Sink {
    /// Starts the Rust server with smtp_sink.py's flags: --port N, --fail-first N
    /// [--fail-code C] [--fail-stage data|rcpt], --reject ADDRESS [--reject-code C],
    /// --stall-data N [--stall-seconds S], --auth USER:PASS; and, this server only, --delay-ms N
    /// (N ms before each reply but the greeting) and --delay-message-ms N (before the reply to
    /// each message's end).
    pub fn start(args: &[&str]) -> Sink {
        Sink::serve(Script::from_args(args))
    }

    /// A server that requires STARTTLS, with the server certificate of `certs`, then AUTH as
    /// `user_pass` ("USER:PASS").
    pub fn starttls_with_auth(certs: &Certs, user_pass: &str) -> Sink {
        let mut script = Script::from_args(&["--auth", user_pass]);
        script.tls = Some((certs.server_pem(), certs.server_key(), false));
        Sink::serve(script)
    }

    /// A server that speaks TLS from the first byte (port-465 style).
    pub fn implicit_tls(certs: &Certs) -> Sink {
        let mut script = Script::from_args(&[]);
        script.tls = Some((certs.server_pem(), certs.server_key(), true));
        Sink::serve(script)
    }

    fn serve(script: Script) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind(("127.0.0.1", script.port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let tls = script
            .tls
            .as_ref()
            .map(|(cert, key, _)| server_config(cert, key));
        let state = Arc::new(Shared {
            script,
            tls,
            dir: dir.path().to_owned(),
            count: Mutex::new(0),
            failed: AtomicU32::new(0),
            open: AtomicU32::new(0),
            peak: AtomicU32::new(0),
            noops: AtomicU32::new(0),
        });
        let shared = Some(state.clone());
        let accept = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = state.clone();
                    std::thread::spawn(move || {
                        let open = state.open.fetch_add(1, Ordering::SeqCst) + 1;
                        state.peak.fetch_max(open, Ordering::SeqCst);
                        // A client that goes away mid-conversation ends only this connection.
                        let _ = serve_connection(stream, &state);
                        state.open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            })
        };
        Sink {
            server: Server::Rust {
                stop,
                accept: Some(accept),
            },
            shared,
            port,
            dir,
        }
    }

    /// tests/support/smtp_sink.py (aiosmtpd) with `args` (see its usage), for the interop tests:
    /// it must be installed (.ci/run installs it); a missing one fails the test.
    pub fn aiosmtpd(args: &[&str]) -> Sink {
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
            .expect("python3 with aiosmtpd (pip install aiosmtpd): run .ci/run");
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
                panic!("aiosmtpd did not start (pip install aiosmtpd): {line:?}\n{log}")
            });
        Sink {
            server: Server::Aiosmtpd {
                child,
                _stdin: stdin,
            },
            shared: None,
            port,
            dir,
        }
    }

    /// smtp_sink.py requiring STARTTLS with `certs`, then AUTH as `user_pass`.
    pub fn aiosmtpd_starttls_with_auth(certs: &Certs, user_pass: &str) -> Sink {
        let cert = certs.path("server.pem");
        let key = certs.path("server.key");
        Sink::aiosmtpd(&[
            "--starttls",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            "--auth",
            user_pass,
        ])
    }

    /// The stored messages (.eml), in arrival order.
    /// The most client connections the (Rust) server had open at once.
    pub fn peak_connections(&self) -> u32 {
        let shared = self
            .shared
            .as_ref()
            .expect("counted by the Rust server only");
        shared.peak.load(Ordering::SeqCst)
    }

    /// How many NOOP commands the (Rust) server answered.
    pub fn noops(&self) -> u32 {
        let shared = self
            .shared
            .as_ref()
            .expect("counted by the Rust server only");
        shared.noops.load(Ordering::SeqCst)
    }

    /// How many messages were stored so far (the Rust server).
    pub fn stored(&self) -> u32 {
        let shared = self
            .shared
            .as_ref()
            .expect("counted by the Rust server only");
        *shared.count.lock().unwrap()
    }

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

    /// Waits until the server holds back its reply (`--stall-data`), for at most a minute;
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
        match &mut self.server {
            Server::Rust { stop, accept } => {
                stop.store(true, Ordering::SeqCst);
                // Wakes the blocking accept so the thread sees the flag; the port is free after.
                let _ = TcpStream::connect(("127.0.0.1", self.port));
                if let Some(accept) = accept.take() {
                    let _ = accept.join();
                }
            }
            Server::Aiosmtpd { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// What every connection of one server shares.
struct Shared {
    script: Script,
    tls: Option<Arc<rustls::ServerConfig>>,
    dir: PathBuf,
    /// Messages stored so far; the lock also orders the writes of concurrent connections.
    count: Mutex<u32>,
    failed: AtomicU32,
    /// Connections open now, and the most open at once.
    open: AtomicU32,
    peak: AtomicU32,
    /// NOOP commands received (a client checking a kept connection).
    noops: AtomicU32,
}

impl Shared {
    /// "451 … Temporary failure N" for the first `--fail-first` commands at the failing stage.
    fn temporary_failure(&self) -> Option<String> {
        let failed = self
            .failed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.script.fail_first).then_some(n + 1)
            })
            .ok()?;
        Some(format!(
            "{} 4.3.0 Temporary failure {}, try again later",
            self.script.fail_code,
            failed + 1
        ))
    }
}

fn server_config(cert: &[u8], key: &[u8]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    Arc::new(config)
}

/// The connection's socket, in clear or under TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One client: lines in, replies out. STARTTLS takes the socket back out of the reader (the
/// client sends nothing between our 220 and its handshake, so nothing buffered is lost).
struct Connection {
    reader: Option<BufReader<Stream>>,
}

impl Connection {
    fn stream(&mut self) -> &mut Stream {
        self.reader.as_mut().unwrap().get_mut()
    }

    /// One line with its line ending, or None when the client closed.
    fn line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let n = self.reader.as_mut().unwrap().read_until(b'\n', &mut line)?;
        Ok((n > 0).then_some(line))
    }

    /// One write per reply: two small segments would meet Nagle's algorithm and the client's
    /// delayed ACK (tens of milliseconds a reply).
    fn reply(&mut self, text: &str) -> std::io::Result<()> {
        let stream = self.stream();
        stream.write_all(format!("{text}\r\n").as_bytes())?;
        stream.flush()
    }

    fn start_tls(&mut self, config: &Arc<rustls::ServerConfig>) -> std::io::Result<()> {
        let reader = self.reader.take().unwrap();
        assert!(
            reader.buffer().is_empty(),
            "client spoke before the TLS handshake"
        );
        let Stream::Plain(tcp) = reader.into_inner() else {
            panic!("TLS started twice")
        };
        let connection =
            rustls::ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
        let tls = rustls::StreamOwned::new(connection, tcp);
        self.reader = Some(BufReader::new(Stream::Tls(Box::new(tls))));
        Ok(())
    }

    fn is_tls(&self) -> bool {
        matches!(
            self.reader.as_ref().map(BufReader::get_ref),
            Some(Stream::Tls(_))
        )
    }
}

fn serve_connection(tcp: TcpStream, shared: &Shared) -> std::io::Result<()> {
    // A client that vanishes without closing must not keep this thread forever.
    tcp.set_read_timeout(Some(Duration::from_secs(120)))?;
    tcp.set_nodelay(true)?;
    let mut connection = Connection {
        reader: Some(BufReader::new(Stream::Plain(tcp))),
    };
    let script = &shared.script;
    let implicit_tls = matches!(script.tls, Some((_, _, true)));
    if implicit_tls {
        connection.start_tls(shared.tls.as_ref().unwrap())?;
    }
    let require_starttls = shared.tls.is_some() && !implicit_tls;
    connection.reply("220 sink.test vanban test SMTP server")?;
    let mut authenticated = false;
    let mut greeted = false;
    let mut mail_from: Option<String> = None;
    let mut rcpt_tos: Vec<String> = Vec::new();
    let delay = Duration::from_millis(script.delay_ms);
    while let Some(line) = connection.line()? {
        std::thread::sleep(delay);
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" => {
                greeted = true;
                mail_from = None;
                rcpt_tos.clear();
                let mut lines = vec![
                    "sink.test".to_owned(),
                    "SIZE 33554432".to_owned(),
                    "8BITMIME".to_owned(),
                    "SMTPUTF8".to_owned(),
                ];
                if require_starttls && !connection.is_tls() {
                    lines.push("STARTTLS".to_owned());
                }
                // Like aiosmtpd with auth_require_tls: AUTH only over TLS.
                if script.auth.is_some() && connection.is_tls() {
                    lines.push("AUTH LOGIN PLAIN".to_owned());
                }
                lines.push("HELP".to_owned());
                let last = lines.len() - 1;
                let text: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                connection.reply(&text.join("\r\n"))?;
            }
            "STARTTLS" if require_starttls && !connection.is_tls() => {
                connection.reply("220 Ready to start TLS")?;
                connection.start_tls(shared.tls.as_ref().unwrap())?;
                greeted = false;
                authenticated = false;
            }
            "NOOP" => {
                shared.noops.fetch_add(1, Ordering::SeqCst);
                connection.reply("250 OK")?
            }
            "RSET" => {
                mail_from = None;
                rcpt_tos.clear();
                connection.reply("250 OK")?;
            }
            "QUIT" => {
                connection.reply("221 Bye")?;
                let _ = connection.stream().tcp().shutdown(Shutdown::Both);
                return Ok(());
            }
            _ if !greeted => connection.reply("503 Error: send HELO first")?,
            _ if require_starttls && !connection.is_tls() => {
                connection.reply("530 Must issue a STARTTLS command first")?
            }
            "AUTH" if script.auth.is_some() && connection.is_tls() && !authenticated => {
                let (user, password) = script.auth.as_ref().unwrap();
                let given = authenticate(&mut connection, rest)?;
                if given.as_ref() == Some(&(user.clone(), password.clone())) {
                    authenticated = true;
                    connection.reply("235 2.7.0 Authentication successful")?;
                } else {
                    connection.reply("535 5.7.8 Authentication credentials invalid")?;
                }
            }
            _ if script.auth.is_some() && !authenticated => {
                connection.reply("530 5.7.0 Authentication required")?
            }
            "MAIL" => {
                let address = path_of(rest, "FROM:");
                mail_from = Some(address);
                rcpt_tos.clear();
                connection.reply("250 OK")?;
            }
            "RCPT" if mail_from.is_none() => connection.reply("503 Error: need MAIL command")?,
            "RCPT" => {
                let address = path_of(rest, "TO:");
                if script.rejects.contains(&address.to_lowercase()) {
                    connection.reply(&format!(
                        "{} 5.1.1 <{address}>: Recipient address rejected: User unknown",
                        script.reject_code
                    ))?;
                } else if let Some(failure) = script
                    .fail_at_rcpt
                    .then(|| shared.temporary_failure())
                    .flatten()
                {
                    connection.reply(&failure)?;
                } else {
                    rcpt_tos.push(address);
                    connection.reply("250 2.1.5 OK")?;
                }
            }
            "DATA" if rcpt_tos.is_empty() => connection.reply("503 Error: need RCPT command")?,
            "DATA" => {
                connection.reply("354 End data with <CR><LF>.<CR><LF>")?;
                let mut content = Vec::new();
                loop {
                    let Some(line) = connection.line()? else {
                        // Dropped mid-message: nothing stored, as a real server does.
                        return Ok(());
                    };
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    content.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
                }
                std::thread::sleep(delay + Duration::from_millis(script.delay_message_ms));
                // aiosmtpd keeps the CRLF before the final dot; so does this server.
                let from = mail_from.take().unwrap_or_default();
                let to = std::mem::take(&mut rcpt_tos);
                if let Some(failure) = (!script.fail_at_rcpt)
                    .then(|| shared.temporary_failure())
                    .flatten()
                {
                    connection.reply(&failure)?;
                    continue;
                }
                let number = store(
                    shared,
                    &content,
                    &json!({
                        "mail_from": from,
                        "rcpt_tos": to,
                        "tls": connection.is_tls(),
                        "auth": authenticated,
                    }),
                )?;
                if number == script.stall_at {
                    std::fs::write(shared.dir.join("stalled"), format!("{number:05}\n"))?;
                    std::thread::sleep(Duration::from_secs_f64(script.stall_seconds));
                }
                connection.reply(&format!("250 2.0.0 OK queued as {number:05}"))?;
            }
            _ => connection.reply("500 Error: command not recognized")?,
        }
    }
    Ok(())
}

/// The address of "FROM:<a@b> BODY=8BITMIME" or "TO:<a@b>".
fn path_of(rest: &str, prefix: &str) -> String {
    let rest = rest.trim();
    let rest = if rest.len() >= prefix.len() && rest[..prefix.len()].eq_ignore_ascii_case(prefix) {
        &rest[prefix.len()..]
    } else {
        rest
    };
    let path = rest.trim_start().split(' ').next().unwrap_or("");
    path.trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// AUTH PLAIN (initial response or not) and AUTH LOGIN; the (user, password) given, or None.
fn authenticate(
    connection: &mut Connection,
    rest: &str,
) -> std::io::Result<Option<(String, String)>> {
    let (mechanism, initial) = rest.split_once(' ').unwrap_or((rest, ""));
    let ask = |connection: &mut Connection, prompt: &str| -> std::io::Result<Option<Vec<u8>>> {
        connection.reply(&format!("334 {prompt}"))?;
        let line = connection.line()?.unwrap_or_default();
        Ok(base64_decode(String::from_utf8_lossy(&line).trim()))
    };
    match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => {
            let response = if initial.is_empty() {
                ask(connection, "")?
            } else {
                base64_decode(initial.trim())
            };
            let Some(response) = response else {
                return Ok(None);
            };
            let mut fields = response.split(|&b| b == 0);
            let (_authzid, user, password) = (fields.next(), fields.next(), fields.next());
            Ok(user.zip(password).and_then(|(u, p)| {
                Some((
                    String::from_utf8(u.to_vec()).ok()?,
                    String::from_utf8(p.to_vec()).ok()?,
                ))
            }))
        }
        "LOGIN" => {
            let user = if initial.is_empty() {
                ask(connection, "VXNlcm5hbWU6")?
            } else {
                base64_decode(initial.trim())
            };
            let password = ask(connection, "UGFzc3dvcmQ6")?;
            Ok(user
                .zip(password)
                .and_then(|(u, p)| Some((String::from_utf8(u).ok()?, String::from_utf8(p).ok()?))))
        }
        _ => Ok(None),
    }
}

/// Standard base64 (RFC 4648), padding optional; None on any other character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// Writes the next NNNNN.json and NNNNN.eml (temp file + rename: a reader never sees half a
/// message) and returns N.
fn store(shared: &Shared, content: &[u8], envelope: &Value) -> std::io::Result<u32> {
    let mut count = shared.count.lock().unwrap();
    *count += 1;
    let stem = shared.dir.join(format!("{:05}", *count));
    for (suffix, data) in [
        ("json", serde_json::to_vec(envelope).unwrap()),
        ("eml", content.to_vec()),
    ] {
        let tmp = stem.with_extension(format!("{suffix}.tmp"));
        std::fs::write(&tmp, data)?;
        std::fs::rename(&tmp, stem.with_extension(suffix))?;
    }
    Ok(*count)
}

/// A throwaway CA and a server certificate it signs (for localhost and 127.0.0.1), made
/// in-process with rcgen; written as ca.pem, ca.key, server.pem, server.key for the settings
/// that name a CA file and for aiosmtpd; removed when dropped. rustls refuses a self-signed
/// certificate used directly as the server's (CaUsedAsEndEntity), so the leaf is a separate
/// CA:FALSE certificate.
pub struct Certs(tempfile::TempDir);

impl Certs {
    pub fn make() -> Certs {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "vanban test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server.is_ca = IsCa::ExplicitNoCa;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &Issuer::from_params(&ca, &ca_key))
            .unwrap();
        for (name, pem) in [
            ("ca.pem", ca_cert.pem()),
            ("ca.key", ca_key.serialize_pem()),
            ("server.pem", server_cert.pem()),
            ("server.key", server_key.serialize_pem()),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        Certs(dir)
    }

    /// `ca.pem`, `ca.key`, `server.pem` or `server.key`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    fn server_pem(&self) -> Vec<u8> {
        std::fs::read(self.path("server.pem")).unwrap()
    }

    fn server_key(&self) -> Vec<u8> {
        std::fs::read(self.path("server.key")).unwrap()
    }
}

/// Parses .eml files with mail-parser into what a mail client would show: subject, from, to
/// (RFC 2047 decoded from the raw header, the whitespace between adjacent encoded words
/// dropped as the RFC says), Message-ID, date, the plain-text body, and for each attachment its
/// file name (RFC 2231 decoded), the Content-Type `name` parameter, content type, size and
/// sha256; `defects` lists what a strict reader would complain about.
pub fn parse_eml(files: &[PathBuf]) -> Vec<Value> {
    files
        .iter()
        .map(|path| describe(&std::fs::read(path).unwrap()))
        .collect()
}

fn describe(raw: &[u8]) -> Value {
    use mail_parser::{MessageParser, MimeHeaders, PartType};
    let message = MessageParser::default()
        .parse(raw)
        .unwrap_or_else(|| panic!("not a message: {}", String::from_utf8_lossy(raw)));
    let header = |name: &str| {
        raw_header(raw, name)
            .map(|v| decode_words(&v))
            .map_or(Value::Null, Value::from)
    };
    let mut body = Value::Null;
    let mut attachments = Vec::new();
    let mut defects = header_defects(raw);
    for part in &message.parts {
        if part.is_encoding_problem {
            defects.push(format!("badly encoded part at byte {}", part.offset_header));
        }
        let content_type = part.content_type();
        let mime = content_type.map_or("text/plain".to_owned(), |t| {
            format!("{}/{}", t.ctype(), t.subtype().unwrap_or("")).to_lowercase()
        });
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let is_attachment = part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
        if is_attachment {
            let data = part.contents();
            attachments.push(json!({
                "filename": part.attachment_name(),
                "name": content_type.and_then(|t| t.attribute("name")),
                "content_type": mime,
                "size": data.len(),
                "sha256": sha256_hex(data),
            }));
        } else if mime == "text/plain" && body.is_null() {
            body = part.text_contents().map_or(Value::Null, Value::from);
        }
    }
    json!({
        "subject": message.subject(),
        "from": header("from"),
        "to": header("to"),
        "message_id": raw_header(raw, "message-id").map(|v| v.trim().to_owned()),
        "date": raw_header(raw, "date").map(|v| v.trim().to_owned()),
        "body": body,
        "attachments": attachments,
        "defects": defects,
    })
}

/// The top-level header section's lines: a line of more than 998 octets, 8-bit bytes in a
/// header, a line that is neither a field nor a continuation.
fn header_defects(raw: &[u8]) -> Vec<String> {
    let mut defects = Vec::new();
    for line in header_lines(raw) {
        if line.len() > 998 {
            defects.push(format!(
                "header line longer than 998 octets: {}",
                line.len()
            ));
        }
        if !line.is_ascii() {
            defects.push(format!("8-bit header: {}", String::from_utf8_lossy(line)));
        }
        let folded = line.starts_with(b" ") || line.starts_with(b"\t");
        if !folded && !line.contains(&b':') {
            defects.push(format!("not a header: {}", String::from_utf8_lossy(line)));
        }
    }
    defects
}

fn header_lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

/// A top-level header's raw value, unfolded; None when absent.
fn raw_header(raw: &[u8], name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in header_lines(raw) {
        let line = String::from_utf8_lossy(line);
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push_str(&line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((field, rest)) = line.split_once(':')
            && field.trim().eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim_start().to_owned());
        }
    }
    value
}

/// RFC 2047 encoded words (B and Q, UTF-8) decoded; whitespace between two encoded words is
/// dropped, other text kept as it is.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in split_keeping_space(value) {
        if token.trim().is_empty() {
            pending_space.push_str(token);
            continue;
        }
        match decode_word(token) {
            Some(text) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&text);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(token);
                last_was_word = false;
            }
        }
        pending_space.clear();
    }
    out.push_str(&pending_space);
    out
}

fn split_keeping_space(value: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in value.char_indices() {
        let space = c == ' ' || c == '\t';
        if in_space.is_some_and(|s| s != space) {
            tokens.push(&value[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < value.len() {
        tokens.push(&value[start..]);
    }
    tokens
}

fn decode_word(token: &str) -> Option<String> {
    let inner = token.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let charset = parts.next()?.to_ascii_lowercase();
    let encoding = parts.next()?.to_ascii_uppercase();
    let text = parts.next()?;
    if charset != "utf-8" && charset != "us-ascii" {
        return None;
    }
    let bytes = match encoding.as_str() {
        "B" => base64_decode(text)?,
        "Q" => {
            let mut out = Vec::new();
            let bytes = text.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

/// Lower-case hex SHA-256, as parse_eml gives each attachment's.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
