//! The web page over real HTTP: the server started in the test on 127.0.0.1:0, spoken to with
//! hand-written HTTP/1.1 requests, so nothing but Rust is needed. Security first (sessions,
//! roles, CSRF, login throttling, uploads), then a clerk's way from upload to sent messages.

#[path = "support/sink.rs"]
mod sink;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use vanban::clock::FixedClock;
use vanban::config::Config;
use vanban::shutdown::StopSignal;
use vanban::web::{self, auth::Role, store::WebStore};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
const PASSWORD: &str = "mật-khẩu-đủ-dài-1";

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP header");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..line_end])
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// One request on its own connection (`Connection: close`), the whole reply read back.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    // A server that refuses a body by its declared length (413) answers and closes before the
    // client has written it all: the write then fails, and the reply is still there to read.
    if let Err(e) = stream.write_all(body) {
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        );
    }
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        // The reset that follows an early close can also reach the read after the reply.
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    parse_reply(&raw)
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

const BOUNDARY: &str = "----vanbanTestBoundary7MA4YWxk";

fn multipart(csrf: Option<&str>, file_name: &str, content: &[u8]) -> Vec<u8> {
    multipart_with(csrf, file_name, content, &[])
}

/// [`multipart`] with files in the "attachments" field besides the period file.
fn multipart_with(
    csrf: Option<&str>,
    file_name: &str,
    content: &[u8],
    attachments: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(csrf) = csrf {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    for (name, bytes) in attachments {
        body.extend_from_slice(
            format!(
                "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

struct Running {
    server: Option<web::Server>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    config: Config,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

impl Running {
    /// Approval not required: these tests are about the page (approval has its own).
    fn start(smtp_port: Option<u16>) -> Running {
        Running::start_with(smtp_port, "[approval]\nrequired = false\n")
    }

    /// `approval` is the `[approval]` section, empty for the default (required).
    fn start_with(smtp_port: Option<u16>, approval: &str) -> Running {
        let at = chrono::Utc.with_ymd_and_hms(2024, 6, 24, 2, 0, 0).unwrap();
        Running::start_at(smtp_port, approval, at)
    }

    /// With `extra` in the config (more sections), the clock fixed at `now`.
    fn start_at(
        smtp_port: Option<u16>,
        extra: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Running {
        Running::start_full(smtp_port, extra, "", now)
    }

    /// Approval not required, with `web` added to the `[web]` section.
    fn start_web(web: &str) -> Running {
        let at = chrono::Utc.with_ymd_and_hms(2024, 6, 24, 2, 0, 0).unwrap();
        Running::start_full(None, "[approval]\nrequired = false\n", web, at)
    }

    /// [`Running::start_at`] with `web` added to the `[web]` section.
    fn start_full(
        smtp_port: Option<u16>,
        extra: &str,
        web: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let smtp = smtp_port.map_or(String::new(), |port| {
            format!(
                "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nmax_attempts = 1\nretry_delay_seconds = 0\n"
            )
        });
        let text = format!(
            "directory = \"{SAMPLES}/directory.toml\"\noutput_dir = \"out\"\nstate = \"state/vanban.sqlite\"\n\
             [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\naddress = \"vanphong@example.vn\"\n\
             {smtp}{extra}[web]\nlisten = \"127.0.0.1:0\"\nsecure_cookies = false\nupload_limit_kb = 512\n{web}"
        );
        let path = dir.path().join("vanban.toml");
        std::fs::write(&path, &text).unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let config = vanban::input::config::load_without_secrets(&path).unwrap();
        {
            let store = WebStore::open_state(&config.state).unwrap();
            let hash = vanban::web::auth::hash_password(PASSWORD).unwrap();
            let t = chrono::Utc.with_ymd_and_hms(2024, 6, 24, 2, 0, 0).unwrap();
            for (name, role) in [
                ("lan", Role::Clerk),
                ("khuyen", Role::Approver),
                ("it", Role::Admin),
            ] {
                store.add_user(name, role, &hash, t).unwrap();
            }
        }
        let clock = Arc::new(FixedClock::new(now));
        let server = web::start(
            config.clone(),
            None,
            clock,
            Arc::new(StopSignal::new()),
            false,
        )
        .unwrap();
        Running {
            addr: server.addr,
            server: Some(server),
            dir,
            config,
        }
    }

    fn login_reply(&self, user: &str, password: &str) -> Reply {
        self.login_reply_with(user, password, &[])
    }

    /// [`Running::login_reply`] with more request headers (what a reverse proxy adds).
    fn login_reply_with(&self, user: &str, password: &str, headers: &[(&str, &str)]) -> Reply {
        let page = request(self.addr, "GET", "/login", &[], b"");
        let token = page.set_cookie("vanban_login").unwrap();
        assert_eq!(hidden_value(&page.text(), "login_token"), token);
        let cookie = format!("vanban_login={token}");
        let mut all = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", cookie.as_str()),
        ];
        all.extend_from_slice(headers);
        request(
            self.addr,
            "POST",
            "/login",
            &all,
            &form(&[
                ("username", user),
                ("password", password),
                ("login_token", &token),
            ]),
        )
    }

    /// Logs in; returns the session cookie header and the session's CSRF token.
    fn login(&self, user: &str) -> (String, String) {
        let reply = self.login_reply(user, PASSWORD);
        assert_eq!(reply.status, 303, "{}", reply.text());
        let session = reply.set_cookie("vanban_session").unwrap();
        let cookie = format!("vanban_session={session}");
        let home = self.get("/", &cookie);
        assert_eq!(home.status, 200, "{}", home.text());
        (cookie.clone(), hidden_value(&home.text(), "csrf"))
    }

    fn get(&self, path: &str, cookie: &str) -> Reply {
        request(self.addr, "GET", path, &[("Cookie", cookie)], b"")
    }

    fn post(&self, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Reply {
        request(
            self.addr,
            "POST",
            path,
            &[
                ("Cookie", cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &form(pairs),
        )
    }

    fn upload(&self, cookie: &str, csrf: Option<&str>, name: &str, content: &[u8]) -> Reply {
        request(
            self.addr,
            "POST",
            "/upload",
            &[
                ("Cookie", cookie),
                (
                    "Content-Type",
                    &format!("multipart/form-data; boundary={BOUNDARY}"),
                ),
            ],
            &multipart(csrf, name, content),
        )
    }

    fn upload_with(
        &self,
        cookie: &str,
        csrf: &str,
        name: &str,
        content: &[u8],
        attachments: &[(&str, &[u8])],
    ) -> Reply {
        request(
            self.addr,
            "POST",
            "/upload",
            &[
                ("Cookie", cookie),
                (
                    "Content-Type",
                    &format!("multipart/form-data; boundary={BOUNDARY}"),
                ),
            ],
            &multipart_with(Some(csrf), name, content, attachments),
        )
    }

    fn uploads_dir(&self) -> PathBuf {
        self.dir.path().join("state/web/uploads")
    }
}

/// A `[signing]` section with the test fixtures' keys (valid from 29 November 2026 for a year)
/// for the organisation and every signer of the sample, their PIN in a file under `dir`.
fn signing_section(dir: &Path) -> String {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sign");
    let pin = dir.join("pin.txt");
    std::fs::write(&pin, "mat-khau-thu\n").unwrap();
    let pin = pin.display();
    let mut section = format!(
        "[approval]\nrequired = false\n[signing]\norganisation = {{ pkcs12 = \"{fixtures}/organisation.p12\", \
         password_file = \"{pin}\", seal_image = \"{fixtures}/con-dau.png\" }}\n"
    );
    for name in ["Hoàng Vĩnh Khuyến", "Tô Xuân Lợi", "Trần Anh Cường"] {
        section.push_str(&format!(
            "[[signing.signers]]\nname = \"{name}\"\npkcs12 = \"{fixtures}/person.p12\"\n\
             password_file = \"{pin}\"\nsignature_image = \"{fixtures}/chu-ky.png\"\n"
        ));
    }
    section
}

#[test]
fn a_clerk_makes_an_electronic_copy_of_an_issued_document_from_the_page() {
    let sink = sink::Sink::start(&[]);
    let keys = tempfile::tempdir().unwrap();
    let now = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let app = Running::start_at(Some(sink.port), &signing_section(keys.path()), now);
    let (cookie, csrf) = app.login("lan");
    app.upload(&cookie, Some(&csrf), "ky.toml", &sample());
    // Nothing issued yet: no copy button, and a copy asked for anyway is refused in words.
    let page = app.get("/periods/2024-h1", &cookie).text();
    assert!(!page.contains("action=\"/periods/2024-h1/copy\""), "{page}");
    let early = app.post(
        "/periods/2024-h1/copy",
        &cookie,
        &[("csrf", &csrf), ("stem", "02-thong-bao-ket-luan")],
    );
    assert_eq!(early.status, 200);
    assert!(early.text().contains("chưa ban hành"), "{}", early.text());

    let sent = app.post("/periods/2024-h1/send", &cookie, &[("csrf", &csrf)]);
    assert_eq!(sent.status, 200, "{}", sent.text());
    assert!(!sink.received().is_empty());
    let page = app.get("/periods/2024-h1", &cookie).text();
    assert!(page.contains("action=\"/periods/2024-h1/copy\""), "{page}");
    assert!(page.contains("value=\"02-thong-bao-ket-luan\""), "{page}");

    // Without the CSRF token, or as the approver: refused, nothing made.
    let forged = app.post(
        "/periods/2024-h1/copy",
        &cookie,
        &[("stem", "02-thong-bao-ket-luan")],
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    let (approver, approver_csrf) = app.login("khuyen");
    let refused = app.post(
        "/periods/2024-h1/copy",
        &approver,
        &[("csrf", &approver_csrf), ("stem", "02-thong-bao-ket-luan")],
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    let copies = app.dir.path().join("out/2024-h1/ban-sao");
    assert!(files_in(&copies).is_empty());

    let made = app.post(
        "/periods/2024-h1/copy",
        &cookie,
        &[("csrf", &csrf), ("stem", "02-thong-bao-ket-luan")],
    );
    assert_eq!(made.status, 200, "{}", made.text());
    let html = made.text();
    assert!(
        html.contains("Đã sao y Thông báo kết luận số 02/TB-UBND"),
        "{html}"
    );
    let link = "/periods/2024-h1/copies/02-thong-bao-ket-luan-sao-y-20261201-090000.pdf";
    assert!(html.contains(link), "{html}");
    let download = app.get(link, &cookie);
    assert_eq!(download.status, 200);
    let copy = download.body.clone();
    let filed = std::fs::read_dir(app.dir.path().join("out/2024-h1"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("-TB-") && p.extension().is_some_and(|e| e == "pdf"))
        .unwrap();
    assert!(copy.starts_with(&std::fs::read(filed).unwrap()));
    let signatures = vanban::issue::sign::pades::signatures(&copy).unwrap();
    let names: Vec<&str> = signatures.iter().map(|s| s.field_name.as_str()).collect();
    assert_eq!(names, ["ChuKyNguoiKy", "ChuKyCoQuan", "ChuKySaoY"]);
    // A name outside the copies folder is not served.
    assert_eq!(
        app.get("/periods/2024-h1/copies/..%2Fvanban.toml", &cookie)
            .status,
        404
    );
    // Recorded in the clerk's name, and in the audit log.
    let store = WebStore::open_state(&app.config.state).unwrap();
    assert!(
        store
            .audit_recent(20)
            .unwrap()
            .iter()
            .any(|a| a.action == "sao y" && a.detail.contains("02/TB-UBND") && a.username == "lan")
    );
}

/// A period whose notice has an attachment, uploaded with it from the page: the attachment is
/// stored beside the period file in a folder of its own, signed by the organisation at issue with
/// the notice's number, and sent with the notice. A name that is a path is refused.
#[test]
fn a_clerk_uploads_a_period_with_its_attachment_and_it_goes_signed_with_the_notice() {
    let sink = sink::Sink::start(&[]);
    let keys = tempfile::tempdir().unwrap();
    let now = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let app = Running::start_at(Some(sink.port), &signing_section(keys.path()), now);
    let (cookie, csrf) = app.login("lan");
    // A real PDF: the report's draft as vanban renders it.
    let engine =
        vanban::render::pdf::PdfEngine::new(&vanban::render::templates::Templates::builtin())
            .unwrap();
    let period = vanban::input::load_period(
        Path::new(&format!("{SAMPLES}/dam-ha-2024-h1.toml")),
        None,
        chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap(),
    )
    .unwrap();
    let report = &vanban::render::plan(&period, None, &|_, _| None)[0];
    let pdf = vanban::render::Renderer::render(&vanban::render::PdfRenderer::new(engine), report)
        .unwrap();
    let with_attachment = String::from_utf8(sample()).unwrap().replacen(
        "conclusion_notice = { signer",
        "conclusion_notice = { attachments = [\"Biểu số liệu.pdf\"], signer",
        1,
    );

    // A path as the file name never reaches the disk.
    let bad = app.upload_with(
        &cookie,
        &csrf,
        "ky.toml",
        with_attachment.as_bytes(),
        &[("../../vanban.pdf", &pdf)],
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("không dùng được"), "{}", bad.text());
    // Without its attachment the period is refused as check refuses it.
    let missing = app.upload_with(&cookie, &csrf, "ky.toml", with_attachment.as_bytes(), &[]);
    assert_eq!(missing.status, 303);
    let page = app.get(missing.header("location").unwrap(), &cookie).text();
    assert!(
        page.contains("Biểu số liệu.pdf") && page.contains("không có tệp này"),
        "{page}"
    );
    assert!(
        page.contains("chọn các tệp kèm theo ở ô «Tệp kèm theo»"),
        "{page}"
    );

    // Too many files: refused while the body is read, nothing stored.
    let tiny: Vec<(String, &[u8])> = (0..51)
        .map(|i| (format!("{i}.pdf"), &b"%PDF-"[..]))
        .collect();
    let tiny: Vec<(&str, &[u8])> = tiny.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let many = app.upload_with(&cookie, &csrf, "ky.toml", with_attachment.as_bytes(), &tiny);
    assert_eq!(many.status, 400, "{}", many.text());
    assert!(
        many.text().contains("Tối đa 50 tệp kèm theo"),
        "{}",
        many.text()
    );
    let folders_before = files_in(&app.uploads_dir()).len();

    // The name as a Mac sends it (decomposed) finds the period file's (composed) entry.
    let decomposed: String =
        unicode_normalization::UnicodeNormalization::nfd("Biểu số liệu.pdf").collect();
    assert_ne!(decomposed, "Biểu số liệu.pdf");
    let good = app.upload_with(
        &cookie,
        &csrf,
        "ky.toml",
        with_attachment.as_bytes(),
        &[(decomposed.as_str(), &pdf)],
    );
    assert_eq!(files_in(&app.uploads_dir()).len(), folders_before + 1);
    assert_eq!(good.status, 303, "{}", good.text());
    let sent = app.post("/periods/2024-h1/send", &cookie, &[("csrf", &csrf)]);
    assert_eq!(sent.status, 200, "{}", sent.text());
    let filed: Vec<PathBuf> = std::fs::read_dir(app.dir.path().join("out/2024-h1"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.to_string_lossy()
                .contains("Kem theo 1 - Bieu so lieu.pdf")
        })
        .collect();
    assert_eq!(filed.len(), 1, "{filed:?}");
    let signed = std::fs::read(&filed[0]).unwrap();
    assert!(signed.starts_with(&pdf));
    let names: Vec<String> = vanban::issue::sign::pades::signatures(&signed)
        .unwrap()
        .into_iter()
        .map(|s| s.field_name)
        .collect();
    assert_eq!(names, ["ChuKyCoQuan"]);
    let messages = sink::parse_eml(&sink.received());
    assert!(
        messages.iter().any(|m| m["attachments"]
            .to_string()
            .contains("Kèm theo 1 - Biểu số liệu.pdf")),
        "{messages:?}"
    );
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn sample() -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/dam-ha-2024-h1.toml")).unwrap()
}

/// The approver's decision from the page: role and CSRF checked on the server, the reason shown
/// to the clerk, an audit row, and the same record `vanban approve` makes (approving the same
/// content from the command line afterwards records nothing new).
#[test]
fn an_approver_approves_or_returns_from_the_page_and_the_cli_sees_the_same_decision() {
    let app = Running::start(None);
    let (clerk, clerk_csrf) = app.login("lan");
    let reply = app.upload(&clerk, Some(&clerk_csrf), "ky.toml", &sample());
    assert!(reply.status < 400, "{}", reply.text());
    // A clerk cannot approve; the approver needs the session's token.
    let refused = app.post("/periods/2024-h1/approve", &clerk, &[("csrf", &clerk_csrf)]);
    assert_eq!(refused.status, 403, "{}", refused.text());
    // The clerk submits the drafts: each waits for approval; submitting again adds nothing.
    let reply = app.post("/periods/2024-h1/submit", &clerk, &[("csrf", &clerk_csrf)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().contains("Đã trình duyệt 12 văn bản"),
        "{}",
        reply.text()
    );
    let again = app.post("/periods/2024-h1/submit", &clerk, &[("csrf", &clerk_csrf)]);
    assert!(again.text().contains("không trình lại"), "{}", again.text());
    let page = app.get("/periods/2024-h1", &clerk).text();
    assert_eq!(page.matches("step-waiting").count(), 12, "{page}");
    let (boss, csrf) = app.login("khuyen");
    assert_eq!(
        app.post("/periods/2024-h1/submit", &boss, &[("csrf", &csrf)])
            .status,
        403
    );
    assert_eq!(app.post("/periods/2024-h1/approve", &boss, &[]).status, 403);
    let page = app.get("/periods/2024-h1", &boss).text();
    assert!(page.contains("/periods/2024-h1/approve"), "{page}");
    // The forms carry what the page shows of each draft: here, what was submitted by email.
    let shown = hidden_value(&page, "shown");
    assert!(
        !app.get("/periods/2024-h1", &clerk)
            .text()
            .contains("/periods/2024-h1/approve")
    );

    let reply = app.post(
        "/periods/2024-h1/return",
        &boss,
        &[
            ("csrf", &csrf),
            ("only", "conclusion-notice"),
            ("note", "Bổ sung thời hạn cho nhiệm vụ 2"),
            ("shown", &shown),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let page = app.get("/periods/2024-h1", &clerk).text();
    assert!(page.contains("bị trả lại"), "{page}");
    assert!(
        page.contains("Bổ sung thời hạn cho nhiệm vụ 2 (khuyen)"),
        "{page}"
    );

    let reply = app.post(
        "/periods/2024-h1/approve",
        &boss,
        &[
            ("csrf", &csrf),
            ("only", ""),
            ("note", "Đồng ý"),
            ("shown", &shown),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.text().matches(": đã ghi (nội dung sha256").count(),
        12
    );
    let page = app.get("/periods/2024-h1", &clerk).text();
    assert!(
        page.contains("đã duyệt") && !page.contains("bị trả lại"),
        "{page}"
    );

    // The command line renders the same drafts: nothing new to record.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vanban"))
        .arg("approve")
        .arg(format!("{SAMPLES}/dam-ha-2024-h1.toml"))
        .arg("--config")
        .arg(&app.config.path)
        .args(["--by", "Hoàng Vĩnh Khuyến"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.matches("đã ghi trước đó với đúng nội dung này (khuyen,")
            .count(),
        12,
        "{text}"
    );

    let store = WebStore::open_state(&app.config.state).unwrap();
    let audit = store.audit_recent(20).unwrap();
    assert!(
        audit.iter().any(|a| a.username == "khuyen"
            && a.action == "trả lại dự thảo"
            && a.detail.contains("Bổ sung thời hạn")),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.username == "khuyen" && a.action == "duyệt dự thảo"),
        "{audit:?}"
    );
}

#[test]
fn without_a_session_every_page_redirects_to_login_and_shows_nothing() {
    let app = Running::start(None);
    // A real period exists, so a leak would have something to show.
    let (cookie, csrf) = app.login("lan");
    assert_eq!(
        app.upload(&cookie, Some(&csrf), "ky.toml", &sample())
            .status,
        303
    );
    let forged = format!("vanban_session={}", "ab".repeat(32));
    for who in ["", forged.as_str()] {
        for path in [
            "/",
            "/periods/2024-h1",
            "/periods/2024-h1/documents/01-bao-cao-so-ket",
            "/periods/2024-h1/files/01-bao-cao-so-ket.pdf",
            "/admin/users",
            "/admin/ledger",
            "/uploads/1",
        ] {
            let reply = app.get(path, who);
            assert_eq!(reply.status, 303, "{path}");
            assert_eq!(reply.header("location"), Some("/login"), "{path}");
            let text = reply.text();
            assert!(
                !text.contains("Đầm Hà") && !text.contains("2024-h1"),
                "{path}: {text}"
            );
        }
        let reply = app.upload(who, Some("x"), "ky.toml", &sample());
        assert_eq!(reply.status, 303);
        assert_eq!(reply.header("location"), Some("/login"));
    }
    // The cookie carries the flags a session cookie must.
    let reply = app.login_reply("lan", PASSWORD);
    let set = reply.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(reply.header("content-security-policy").is_some());
}

#[test]
fn a_clerk_cannot_reach_admin_pages_or_actions() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    for path in [
        "/admin/users",
        "/admin/units",
        "/admin/jobs",
        "/admin/register",
        "/admin/ledger",
    ] {
        assert_eq!(app.get(path, &cookie).status, 403, "{path}");
    }
    let reply = app.post(
        "/admin/users/add",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "ke-gian"),
            ("role", "admin"),
            ("password", "0123456789ab"),
        ],
    );
    assert_eq!(reply.status, 403);
    let store = WebStore::open_state(&app.config.state).unwrap();
    assert!(store.user("ke-gian").unwrap().is_none());
    // An approver cannot upload or send.
    let (cookie, csrf) = app.login("khuyen");
    assert_eq!(
        app.upload(&cookie, Some(&csrf), "ky.toml", &sample())
            .status,
        403
    );
    assert!(files_in(&app.uploads_dir()).is_empty());
    assert_eq!(
        app.post("/periods/2024-h1/send", &cookie, &[("csrf", &csrf)])
            .status,
        403
    );
    // The admin can.
    let (cookie, csrf) = app.login("it");
    let reply = app.post(
        "/admin/users/add",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "hoa"),
            ("role", "clerk"),
            ("password", "0123456789ab"),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(store.user("hoa").unwrap().unwrap().role, Role::Clerk);
    let users = app.get("/admin/users", &cookie).text();
    assert!(
        users.contains("thêm tài khoản") && users.contains("hoa (clerk)"),
        "{users}"
    );
}

#[test]
fn a_post_without_its_csrf_token_is_refused() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    let reply = app.upload(&cookie, None, "ky.toml", &sample());
    assert_eq!(reply.status, 403);
    assert!(
        reply.text().contains("mã chống giả mạo"),
        "{}",
        reply.text()
    );
    assert_eq!(
        app.upload(&cookie, Some("sai"), "ky.toml", &sample())
            .status,
        403
    );
    assert!(files_in(&app.uploads_dir()).is_empty());
    assert_eq!(app.post("/logout", &cookie, &[]).status, 403);
    assert_eq!(
        app.post("/periods/2024-h1/render", &cookie, &[("csrf", "x")])
            .status,
        403
    );
    // Still signed in: the forged logout did nothing.
    assert_eq!(app.get("/", &cookie).status, 200);
    // A login form without its token is refused too.
    let reply = request(
        app.addr,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("username", "lan"), ("password", PASSWORD)]),
    );
    assert_eq!(reply.status, 403);
    // And the real logout ends the session.
    assert_eq!(app.post("/logout", &cookie, &[("csrf", &csrf)]).status, 303);
    assert_eq!(app.get("/", &cookie).status, 303);
}

#[test]
fn six_wrong_passwords_are_refused_and_slowed_down() {
    let app = Running::start(None);
    for _ in 0..5 {
        let reply = app.login_reply("lan", "sai-mat-khau");
        assert_eq!(reply.status, 401);
        assert!(reply.text().contains("không đúng"));
    }
    let started = std::time::Instant::now();
    // The sixth is refused even with the right password, and answered only after a pause.
    let reply = app.login_reply("lan", PASSWORD);
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert!(reply.text().contains("quá 5 lần"), "{}", reply.text());
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(reply.set_cookie("vanban_session").is_none());
    // Another user is not locked out by lan's guesser.
    app.login("khuyen");
    let store = WebStore::open_state(&app.config.state).unwrap();
    let audit = store.audit_recent(50).unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "đăng nhập sai").count(),
        5
    );
    assert!(audit.iter().any(|a| a.action == "đăng nhập bị chặn"));
}

#[test]
fn a_50_mb_upload_and_a_path_traversal_name_are_refused_cleanly() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    // 50 MB declared: refused from the headers, before the body is read.
    let mut stream = TcpStream::connect(app.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        50 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut reader = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..800 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw);
    writer.join().unwrap();
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 413);
    assert!(reply.text().contains("Tệp quá lớn"), "{}", reply.text());
    // Too large without a declared length (the body is longer than its parts say): the
    // multipart reader stops at the limit.
    let big = vec![b'#'; 600 * 1024];
    let reply = app.upload(&cookie, Some(&csrf), "ky.toml", &big);
    assert_eq!(reply.status, 413, "{}", reply.text());
    // Refused by the period file's own limit as it is read, named as such (not the body's,
    // which leaves room for attachments).
    assert!(
        reply.text().contains("giới hạn là 512 KB"),
        "{}",
        reply.text()
    );

    for name in [
        "../../etc/cron.d/x.toml",
        "..\\..\\x.toml",
        "/etc/passwd.toml",
    ] {
        let reply = app.upload(&cookie, Some(&csrf), name, &sample());
        assert_eq!(reply.status, 400, "{name}");
        assert!(reply.text().contains("không hợp lệ"), "{}", reply.text());
    }
    let reply = app.upload(&cookie, Some(&csrf), "bang.sh", b"rm -rf /");
    assert_eq!(reply.status, 400);
    assert!(files_in(&app.uploads_dir()).is_empty());
    assert!(!app.dir.path().join("etc").exists());
    // The server is still there.
    assert_eq!(app.get("/", &cookie).status, 200);
}

#[test]
fn a_broken_upload_shows_the_problems_as_check_prints_them_and_a_fixed_one_renders() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    let good = String::from_utf8(sample()).unwrap();
    let broken = good.replacen("disbursed = ", "disbursed = -", 1);
    let reply = app.upload(&cookie, Some(&csrf), "ky-2024.toml", broken.as_bytes());
    assert_eq!(reply.status, 303);
    let page = app.get(reply.header("location").unwrap(), &cookie).text();
    // What `vanban check ky-2024.toml` prints for the same file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ky-2024.toml");
    std::fs::write(&path, &broken).unwrap();
    let directory = PathBuf::from(format!("{SAMPLES}/directory.toml"));
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 24).unwrap();
    let expected = vanban::input::load_period(&path, Some(&directory), today)
        .unwrap_err()
        .to_string()
        .replace(&path.display().to_string(), "ky-2024.toml");
    assert!(!expected.is_empty());
    let escaped = vanban::web::pages::escape(&expected);
    assert!(page.contains(&escaped), "{page}\n---\n{escaped}");
    // No period yet.
    assert_eq!(app.get("/periods/2024-h1", &cookie).status, 404);

    let reply = app.upload(&cookie, Some(&csrf), "ky-2024.toml", good.as_bytes());
    let page = app.get(reply.header("location").unwrap(), &cookie).text();
    assert!(page.contains("Tệp hợp lệ: kỳ 2024-h1"), "{page}");
    let reply = app.post("/periods/2024-h1/render", &cookie, &[("csrf", &csrf)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("Đã tạo"), "{}", reply.text());
    let preview = app.get("/periods/2024-h1/documents/02-thong-bao-ket-luan", &cookie);
    assert_eq!(preview.status, 200);
    assert!(
        preview
            .text()
            .contains("/thumbs/02-thong-bao-ket-luan/1.png")
    );
    // The approver sees where each figure came from: the uploaded file's name and the line.
    let text = preview.text();
    assert!(text.contains("Nguồn số liệu"), "{text}");
    assert!(text.contains("programs[1].budget.allocated"), "{text}");
    assert!(text.contains("ky-2024.toml, dòng "), "{text}");
    let png = app.get(
        "/periods/2024-h1/thumbs/02-thong-bao-ket-luan/1.png",
        &cookie,
    );
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert!(png.body.starts_with(b"\x89PNG"));
    let pdf = app.get(
        "/periods/2024-h1/files/02-thong-bao-ket-luan.pdf?download=1",
        &cookie,
    );
    assert!(pdf.body.starts_with(b"%PDF"));
    assert!(
        pdf.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let docx = app.get("/periods/2024-h1/files/02-thong-bao-ket-luan.docx", &cookie);
    assert!(docx.body.starts_with(b"PK"));
    // Traversal through the download route finds nothing.
    for path in [
        "/periods/2024-h1/files/..%2F..%2Fvanban.toml",
        "/periods/2024-h1/files/.pdf",
        "/periods/..%2F/files/x.pdf",
    ] {
        assert_eq!(app.get(path, &cookie).status, 404, "{path}");
    }
}

#[test]
fn an_upload_with_a_figure_its_column_cannot_hold_is_refused_as_check_refuses_it() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    let good = String::from_utf8(sample()).unwrap();
    let wide = good.replacen("value = 3\n", "value = 123456789012345\n", 1);
    assert_ne!(wide, good);
    let reply = app.upload(&cookie, Some(&csrf), "ky-2024.toml", wide.as_bytes());
    assert_eq!(reply.status, 303);
    let page = app.get(reply.header("location").unwrap(), &cookie).text();
    assert!(page.contains("ky-2024.toml: bảng chỉ tiêu"), "{page}");
    assert!(page.contains("123.456.789.012.345"), "{page}");
    assert!(!page.contains("Tệp hợp lệ"), "{page}");
    // Not the period's file: nothing to render or send from it.
    assert_eq!(app.get("/periods/2024-h1", &cookie).status, 404);
}

#[test]
fn a_clerk_sends_from_the_page_and_the_ledger_shows_each_message() {
    let sink = sink::Sink::start(&[]);
    let app = Running::start(Some(sink.port));
    let (cookie, csrf) = app.login("lan");
    app.upload(&cookie, Some(&csrf), "ky.toml", &sample());
    let reply = app.post("/periods/2024-h1/send", &cookie, &[("csrf", &csrf)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let page = reply.text();
    let sent = sink.received().len();
    assert!(sent > 0);
    assert!(page.contains("đã gửi"), "{page}");
    let (admin, _) = app.login("it");
    let ledger = app.get("/admin/ledger", &admin).text();
    assert_eq!(
        ledger.matches("@example.vn&gt;").count() + ledger.matches("@example.vn>").count(),
        sent,
        "{ledger}"
    );
    let one = app.get("/admin/ledger?unit=bqlda", &admin).text();
    assert!(one.contains("bqlda") && !one.contains("quang-lam"), "{one}");
    // Resend one unit with a reason: recorded in the audit log.
    let reply = app.post(
        "/periods/2024-h1/resend",
        &cookie,
        &[
            ("csrf", &csrf),
            ("unit", "bqlda"),
            ("reason", "đơn vị báo chưa nhận được"),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Every message of that unit again (it gets the report as well as its letter), no other.
    let of_unit = one.matches("@example.vn&gt;").count();
    assert!(of_unit >= 1, "{one}");
    assert_eq!(sink.received().len(), sent + of_unit);
    let store = WebStore::open_state(&app.config.state).unwrap();
    assert!(
        store
            .audit_recent(20)
            .unwrap()
            .iter()
            .any(|a| a.action == "gửi lại" && a.detail.contains("đơn vị báo chưa nhận được"))
    );
}

#[test]
#[ignore = "needs chromium, chromium-driver, python3 selenium and aiosmtpd: run .ci/run"]
fn a_clerk_takes_the_sample_from_upload_to_sent_in_a_real_browser() {
    let sink = sink::Sink::start(&[]);
    // Approval required, as an office runs it: the approver approves in the browser too.
    let app = Running::start_with(Some(sink.port), "");
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("dam-ha-2024-h1.toml");
    let text = String::from_utf8(sample()).unwrap();
    std::fs::write(&broken, text.replacen("disbursed = ", "disbursed = -", 1)).unwrap();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/web");
    let _ = std::fs::remove_dir_all(&shots);
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/e2e.py"))
        .arg("--base")
        .arg(format!("http://{}", app.addr))
        .arg("--shots")
        .arg(&shots)
        .arg("--broken")
        .arg(&broken)
        .args(["--clerk", "lan", "--approver", "khuyen", "--admin", "it"])
        .env("VANBAN_E2E_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("LEDGER "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no LEDGER line in {stdout}"));
    let received = sink.received().len();
    assert!(received > 0);
    assert_eq!(
        listed, received,
        "the ledger page lists each message the server received"
    );
    for name in [
        "01-dang-nhap.png",
        "03-loi-tep.png",
        "05-xem-truoc.png",
        "07a-cho-duyet.png",
        "07b-lanh-dao-duyet.png",
        "07-da-gui.png",
        "08-so-gui-thu.png",
    ] {
        let png = std::fs::read(shots.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}");
    }
}

fn sample_workbook() -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/dam-ha-2024-h1.xlsx")).unwrap()
}

/// The same zip with one entry's bytes changed by `edit`, written again by the zip crate.
fn rezip(bytes: &[u8], entry: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut edited = false;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().to_string();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        if name == entry {
            let before = String::from_utf8(content).unwrap();
            let after = edit(before.clone());
            assert_ne!(before, after, "{entry} unchanged");
            content = after.into_bytes();
            edited = true;
        }
        writer
            .start_file(name.as_str(), SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&content).unwrap();
    }
    assert!(edited, "no {entry}");
    writer.finish().unwrap().into_inner()
}

/// One deflated entry of `size` zeros, its local and central headers then made to declare
/// `declared` bytes: what a zip bomb's author controls.
fn zeros_zip(size: usize, declared: u32) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("xl/worksheets/sheet1.xml", SimpleFileOptions::default())
        .unwrap();
    let chunk = vec![0u8; 1024 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        writer.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    let mut bytes = writer.finish().unwrap().into_inner();
    for (signature, offset) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
        let at = bytes.windows(4).position(|w| w == signature).unwrap() + offset;
        bytes[at..at + 4].copy_from_slice(&declared.to_le_bytes());
    }
    let archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
    assert_eq!(archive.decompressed_size(), Some(u128::from(declared)));
    bytes
}

#[test]
fn the_excel_form_uploads_renders_and_previews_like_the_toml() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    let mut pdfs = Vec::new();
    for (name, content) in [
        ("dam-ha-2024-h1.xlsx", sample_workbook()),
        ("dam-ha-2024-h1.toml", sample()),
    ] {
        let reply = app.upload(&cookie, Some(&csrf), name, &content);
        assert_eq!(reply.status, 303, "{name}: {}", reply.text());
        let page = app.get(reply.header("location").unwrap(), &cookie).text();
        assert!(page.contains("Tệp hợp lệ: kỳ 2024-h1"), "{name}: {page}");
        let reply = app.post("/periods/2024-h1/render", &cookie, &[("csrf", &csrf)]);
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        assert!(reply.text().contains("Đã tạo"), "{name}: {}", reply.text());
        let period = app.get("/periods/2024-h1", &cookie).text();
        assert!(period.contains(name), "{name}: {period}");
        let preview = app.get("/periods/2024-h1/documents/02-thong-bao-ket-luan", &cookie);
        assert_eq!(preview.status, 200, "{name}");
        assert!(
            preview
                .text()
                .contains("/thumbs/02-thong-bao-ket-luan/1.png"),
            "{name}"
        );
        // Its figures' sources: a line of the TOML, a sheet and cell of the Excel form.
        let text = preview.text();
        assert!(text.contains("Nguồn số liệu"), "{name}: {text}");
        if name.ends_with(".xlsx") {
            assert!(text.contains("Nguồn vốn!D2"), "{name}: {text}");
        } else {
            assert!(text.contains(", dòng "), "{name}: {text}");
        }
        let png = app.get(
            "/periods/2024-h1/thumbs/02-thong-bao-ket-luan/1.png",
            &cookie,
        );
        assert!(png.body.starts_with(b"\x89PNG"), "{name}");
        let pdf = app.get("/periods/2024-h1/files/02-thong-bao-ket-luan.pdf", &cookie);
        assert!(pdf.body.starts_with(b"%PDF"), "{name}");
        pdfs.push(pdf.body);
    }
    assert!(
        pdfs[0] == pdfs[1],
        "the workbook and the TOML render the same PDF"
    );
    // Stored under names vanban made, inside the state folder only, each upload in a folder of
    // its own.
    let folders = files_in(&app.uploads_dir());
    assert_eq!(folders.len(), 2, "{folders:?}");
    let stored: Vec<String> = folders
        .iter()
        .flat_map(|f| files_in(&app.uploads_dir().join(f)))
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.iter().any(|n| n.ends_with(".xlsx") && n.len() == 37));
    assert!(!stored.iter().any(|n| n.contains("dam-ha")));
}

#[test]
fn a_workbook_with_a_bad_cell_shows_sheet_and_cell_as_check_prints_them() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    // "Chỉ tiêu" is the third sheet; F4 holds 74.4 in the sample.
    let bad = rezip(&sample_workbook(), "xl/worksheets/sheet3.xml", |xml| {
        xml.replace(
            "<c r=\"F4\"><v>74.4</v></c>",
            "<c r=\"F4\" t=\"inlineStr\"><is><t>mười hai</t></is></c>",
        )
    });
    let reply = app.upload(&cookie, Some(&csrf), "bieu-mau.xlsx", &bad);
    assert_eq!(reply.status, 303, "{}", reply.text());
    let page = app.get(reply.header("location").unwrap(), &cookie).text();
    // What `vanban check bieu-mau.xlsx` prints for the same file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bieu-mau.xlsx");
    std::fs::write(&path, &bad).unwrap();
    let directory = PathBuf::from(format!("{SAMPLES}/directory.toml"));
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 24).unwrap();
    let expected = vanban::input::load_period(&path, Some(&directory), today)
        .unwrap_err()
        .to_string()
        .replace(&path.display().to_string(), "bieu-mau.xlsx");
    assert!(
        expected.contains("bieu-mau.xlsx: Chỉ tiêu!F4: giá trị phải là số, không phải «mười hai»"),
        "{expected}"
    );
    let escaped = vanban::web::pages::escape(&expected);
    assert!(page.contains(&escaped), "{page}\n---\n{escaped}");
    assert!(!page.contains(&dir.path().display().to_string()));
    assert_eq!(app.get("/periods/2024-h1", &cookie).status, 404);
}

#[test]
fn a_zip_bomb_or_a_non_zip_named_xlsx_is_refused_before_it_is_read_or_stored() {
    let app = Running::start(None);
    let (cookie, csrf) = app.login("lan");
    // Declares 2 GB uncompressed (the central directory is read, nothing inflated).
    let declared = zeros_zip(1024, 2_000_000_000);
    // Holds 300 MB of zeros in about 300 KB while its headers claim 10 bytes: stopped after
    // the limit's worth is inflated.
    let lying = zeros_zip(300 * 1024 * 1024, 10);
    assert!(lying.len() < 512 * 1024, "{}", lying.len());
    for (name, bytes) in [("bom.xlsx", &declared), ("bom-noi-doi.xlsx", &lying)] {
        let reply = app.upload(&cookie, Some(&csrf), name, bytes);
        assert_eq!(reply.status, 400, "{name}: {}", reply.text());
        let text = reply.text();
        assert!(
            text.contains(&format!(
                "Tệp &quot;{name}&quot; khi giải nén lớn hơn 100 MB"
            )) && text.contains("bom zip")
                && text.contains("docx_max_uncompressed_mb"),
            "{name}: {text}"
        );
    }
    let reply = app.upload(&cookie, Some(&csrf), "so-lieu.xlsx", &sample());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("Tệp &quot;so-lieu.xlsx&quot; không phải bảng tính Excel .xlsx"),
        "{}",
        reply.text()
    );
    let reply = app.upload(&cookie, Some(&csrf), "cu.xls", &sample_workbook());
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains(".xls"), "{}", reply.text());
    // Nothing stored, nothing recorded, and the server still answers.
    assert!(files_in(&app.uploads_dir()).is_empty());
    let store = WebStore::open_state(&app.config.state).unwrap();
    assert!(store.recent_uploads(10).unwrap().is_empty());
    assert_eq!(app.get("/", &cookie).status, 200);
}

/// The sample with its documents dated a day later: every draft renders differently.
fn sample_redated() -> Vec<u8> {
    let text = String::from_utf8(sample()).unwrap();
    let changed = text.replacen("date = 2024-06-25", "date = 2024-06-26", 1);
    assert_ne!(changed, text);
    changed.into_bytes()
}

/// The approver decides on the drafts the page showed, never on what the current file renders:
/// a clerk's new upload hides the old previews, and a decision made on the old page is refused
/// with nothing recorded, until the new drafts are rendered and seen.
#[test]
fn an_approval_binds_to_the_drafts_the_page_showed() {
    let app = Running::start_with(None, "");
    let (clerk, clerk_csrf) = app.login("lan");
    assert_eq!(
        app.upload(&clerk, Some(&clerk_csrf), "ky.toml", &sample())
            .status,
        303
    );
    let reply = app.post("/periods/2024-h1/render", &clerk, &[("csrf", &clerk_csrf)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (boss, csrf) = app.login("khuyen");
    let seen = app.get("/periods/2024-h1", &boss).text();
    let shown = hidden_value(&seen, "shown");
    assert_eq!(shown.split(',').count(), 12, "{shown}");
    assert!(seen.contains("/periods/2024-h1/documents/02-thong-bao-ket-luan"));

    // The clerk uploads a changed file and renders nothing: the old drafts are no longer shown.
    assert_eq!(
        app.upload(&clerk, Some(&clerk_csrf), "ky.toml", &sample_redated())
            .status,
        303
    );
    let page = app.get("/periods/2024-h1", &boss).text();
    assert!(page.contains("id=\"stale-drafts\""), "{page}");
    assert!(
        !page.contains("/periods/2024-h1/documents/02-thong-bao-ket-luan"),
        "{page}"
    );
    let preview = app.get("/periods/2024-h1/documents/02-thong-bao-ket-luan", &boss);
    assert_eq!(preview.status, 400, "{}", preview.text());
    assert!(
        preview.text().contains("tệp kỳ hiện tại"),
        "{}",
        preview.text()
    );
    for path in [
        "/periods/2024-h1/files/02-thong-bao-ket-luan.pdf",
        "/periods/2024-h1/files/02-thong-bao-ket-luan.docx",
        "/periods/2024-h1/thumbs/02-thong-bao-ket-luan/1.png",
    ] {
        assert_eq!(app.get(path, &boss).status, 404, "{path}");
    }

    // "Duyệt" (or "Trả lại") on the page as it was: refused, nothing recorded.
    for (action, note) in [("approve", "Đồng ý"), ("return", "Sửa lại số liệu")] {
        let reply = app.post(
            &format!("/periods/2024-h1/{action}"),
            &boss,
            &[
                ("csrf", &csrf),
                ("only", ""),
                ("note", note),
                ("shown", &shown),
            ],
        );
        assert_eq!(reply.status, 409, "{action}: {}", reply.text());
        let text = reply.text();
        assert!(text.contains("nội dung đã thay đổi, hãy xem lại"), "{text}");
        assert!(text.contains("Chưa ghi quyết định nào"), "{text}");
        assert!(!text.contains("đã ghi (nội dung sha256"), "{text}");
    }
    // The page as it is now shows no draft: nothing to decide on until one is rendered.
    let page = app.get("/periods/2024-h1", &boss).text();
    let now_shown = hidden_value(&page, "shown");
    assert!(now_shown.is_empty(), "{now_shown}");
    let reply = app.post(
        "/periods/2024-h1/approve",
        &boss,
        &[("csrf", &csrf), ("only", ""), ("shown", &now_shown)],
    );
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(
        reply.text().contains("chưa có bản nháp nào của"),
        "{}",
        reply.text()
    );
    let page = app.get("/periods/2024-h1", &clerk).text();
    assert!(
        !page.contains("step-approved") && !page.contains("step-returned"),
        "{page}"
    );
    let store = WebStore::open_state(&app.config.state).unwrap();
    assert!(
        store
            .audit_recent(20)
            .unwrap()
            .iter()
            .any(|a| a.username == "khuyen" && a.detail.contains("không ghi")),
    );

    // Rendered again and seen: the decision goes through, on exactly that content.
    let reply = app.post("/periods/2024-h1/render", &clerk, &[("csrf", &clerk_csrf)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let page = app.get("/periods/2024-h1", &boss).text();
    assert!(!page.contains("id=\"stale-drafts\""), "{page}");
    let fresh = hidden_value(&page, "shown");
    assert_ne!(fresh, shown);
    assert_eq!(
        app.get("/periods/2024-h1/files/02-thong-bao-ket-luan.pdf", &boss)
            .status,
        200
    );
    let reply = app.post(
        "/periods/2024-h1/approve",
        &boss,
        &[("csrf", &csrf), ("only", ""), ("shown", &fresh)],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.text().matches(": đã ghi (nội dung sha256").count(),
        12,
        "{}",
        reply.text()
    );
}

/// The page names a document's step as `vanban status` does: approved content that the period
/// file (or an attachment) has changed since reads "nội dung đã thay đổi sau khi duyệt".
#[test]
fn a_document_changed_after_approval_never_reads_approved_on_the_page() {
    let app = Running::start_with(None, "");
    let (clerk, clerk_csrf) = app.login("lan");
    // The notice with an attachment: two different real PDFs to swap.
    let engine =
        vanban::render::pdf::PdfEngine::new(&vanban::render::templates::Templates::builtin())
            .unwrap();
    let period = vanban::input::load_period(
        Path::new(&format!("{SAMPLES}/dam-ha-2024-h1.toml")),
        None,
        chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap(),
    )
    .unwrap();
    let planned = vanban::render::plan(&period, None, &|_, _| None);
    let renderer = vanban::render::PdfRenderer::new(engine);
    let first = vanban::render::Renderer::render(&renderer, &planned[0]).unwrap();
    let second = vanban::render::Renderer::render(&renderer, &planned[1]).unwrap();
    assert_ne!(first, second);
    let with_attachment = String::from_utf8(sample()).unwrap().replacen(
        "conclusion_notice = { signer",
        "conclusion_notice = { attachments = [\"Biểu số liệu.pdf\"], signer",
        1,
    );
    let upload = |pdf: &[u8]| {
        let reply = app.upload_with(
            &clerk,
            &clerk_csrf,
            "ky.toml",
            with_attachment.as_bytes(),
            &[("Biểu số liệu.pdf", pdf)],
        );
        assert_eq!(reply.status, 303, "{}", reply.text());
    };
    upload(&first);
    let reply = app.post("/periods/2024-h1/render", &clerk, &[("csrf", &clerk_csrf)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (boss, csrf) = app.login("khuyen");
    let shown = hidden_value(&app.get("/periods/2024-h1", &boss).text(), "shown");
    let reply = app.post(
        "/periods/2024-h1/approve",
        &boss,
        &[("csrf", &csrf), ("only", ""), ("shown", &shown)],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let page = app.get("/periods/2024-h1", &clerk).text();
    assert_eq!(page.matches("step-approved").count(), 12, "{page}");

    // Only the attachment changes: the notice is changed, the other documents still approved.
    upload(&second);
    let page = app.get("/periods/2024-h1", &clerk).text();
    assert_eq!(page.matches("step-changed").count(), 1, "{page}");
    assert_eq!(page.matches("step-approved").count(), 11, "{page}");
    let row = page
        .split("<tr>")
        .find(|row| row.contains("<td>Thông báo</td>"))
        .unwrap();
    assert!(
        row.contains("nội dung đã thay đổi sau khi duyệt") && !row.contains("đã duyệt<"),
        "{row}"
    );
    assert!(row.contains("cần duyệt lại"), "{row}");

    // The period file changes: every document.
    let redated = with_attachment.replacen("date = 2024-06-25", "date = 2024-06-26", 1);
    let reply = app.upload_with(
        &clerk,
        &clerk_csrf,
        "ky.toml",
        redated.as_bytes(),
        &[("Biểu số liệu.pdf", &first)],
    );
    assert_eq!(reply.status, 303, "{}", reply.text());
    let page = app.get("/periods/2024-h1", &boss).text();
    assert_eq!(page.matches("step-changed").count(), 12, "{page}");
    assert!(
        !page.contains("step-approved") && !page.contains(">đã duyệt<"),
        "{page}"
    );
    // What `vanban status` says of the same state.
    let dir = tempfile::tempdir().unwrap();
    let period_file = dir.path().join("ky.toml");
    std::fs::write(&period_file, &redated).unwrap();
    std::fs::write(dir.path().join("Biểu số liệu.pdf"), &first).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vanban"))
        .arg("status")
        .arg(&period_file)
        .arg("--config")
        .arg(&app.config.path)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        status
            .matches("nội dung đã thay đổi sau khi duyệt (khuyen duyệt bản trước)")
            .count(),
        12,
        "{status}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Twenty wrong logins with names no account has, from one address (behind a proxy: everyone's
/// address), lock out nobody: the admin still logs in.
#[test]
fn wrong_logins_with_invented_names_lock_out_no_real_account() {
    let app = Running::start(None);
    // Four tries on each of six names: under each name's own limit, past the address's.
    for i in 0..24 {
        let reply = app.login_reply(&format!("khong-co-{}", i % 6), "sai-mat-khau");
        assert_eq!(reply.status, 401, "try {i}: {}", reply.text());
    }
    let reply = app.login_reply("it", PASSWORD);
    assert_eq!(reply.status, 303, "{}", reply.text());
    app.login("lan");
    // An invented name is still throttled by that name: its fifth failure, then refused.
    assert_eq!(app.login_reply("khong-co-0", "sai-mat-khau").status, 401);
    let reply = app.login_reply("khong-co-0", "sai-mat-khau");
    assert_eq!(reply.status, 429, "{}", reply.text());
}

/// Accounts to guess at: more names than one name's own limit allows guesses on.
fn add_accounts(app: &Running, names: &[&str]) {
    let store = WebStore::open_state(&app.config.state).unwrap();
    let hash = vanban::web::auth::hash_password(PASSWORD).unwrap();
    let t = chrono::Utc.with_ymd_and_hms(2024, 6, 24, 2, 0, 0).unwrap();
    for name in names {
        store.add_user(name, Role::Clerk, &hash, t).unwrap();
    }
}

/// Twenty wrong passwords on real accounts from `headers`' client, four per account.
fn guess_twenty(app: &Running, headers: &[(&str, &str)]) {
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        for _ in 0..4 {
            let reply = app.login_reply_with(name, "sai-mat-khau", headers);
            assert_eq!(reply.status, 401, "{name}: {}", reply.text());
        }
    }
}

/// Behind the configured proxy, each client is counted by the address the proxy forwards: a
/// guesser's twenty failures block the guesser, not the office. From anyone else the forwarded
/// headers are ignored (a guesser cannot hop addresses by writing them).
#[test]
fn behind_a_trusted_proxy_each_client_is_throttled_by_its_own_address() {
    let app = Running::start_web("trusted_proxies = [\"127.0.0.1\"]\n");
    add_accounts(&app, &["u1", "u2", "u3", "u4", "u5"]);
    let guesser = [("X-Forwarded-For", "10.0.0.7"), ("X-Real-IP", "10.0.0.7")];
    guess_twenty(&app, &guesser);
    let reply = app.login_reply_with("it", PASSWORD, &guesser);
    assert_eq!(reply.status, 429, "{}", reply.text());
    // The admin at another desk, through the same proxy: not blocked.
    let reply = app.login_reply_with("it", PASSWORD, &[("X-Forwarded-For", "10.0.0.8")]);
    assert_eq!(reply.status, 303, "{}", reply.text());
    // A client's own X-Forwarded-For is left of what the proxy appends: not believed.
    let reply = app.login_reply_with("it", PASSWORD, &[("X-Forwarded-For", "10.0.0.9, 10.0.0.7")]);
    assert_eq!(reply.status, 429, "{}", reply.text());
    let store = WebStore::open_state(&app.config.state).unwrap();
    let audit = store.audit_recent(100).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "đăng nhập sai" && a.ip == "10.0.0.7"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.action == "đăng nhập" && a.username == "it" && a.ip == "10.0.0.8"),
        "{audit:?}"
    );

    // No proxy configured: the headers are anyone's writing and change nothing.
    let app = Running::start(None);
    add_accounts(&app, &["u1", "u2", "u3", "u4", "u5"]);
    guess_twenty(&app, &[("X-Forwarded-For", "10.0.0.7")]);
    let reply = app.login_reply_with("it", PASSWORD, &[("X-Forwarded-For", "10.0.0.8")]);
    assert_eq!(reply.status, 429, "{}", reply.text());
    let store = WebStore::open_state(&app.config.state).unwrap();
    assert!(
        store
            .audit_recent(100)
            .unwrap()
            .iter()
            .all(|a| a.ip == "127.0.0.1"),
    );
}

/// A name tried at the login form is stored and logged cut short, its invisible and control
/// characters written out: it cannot forge an audit line or run to megabytes.
#[test]
fn a_tried_login_name_is_stored_cut_and_with_its_hidden_characters_written_out() {
    let app = Running::start(None);
    let forged = format!(
        "admin\n2024-06-24 09:00 it 127.0.0.1 đăng nhập\u{202e}{}",
        "x".repeat(5000)
    );
    let reply = app.login_reply(&forged, "sai-mat-khau");
    assert_eq!(reply.status, 401, "{}", reply.text());
    let store = WebStore::open_state(&app.config.state).unwrap();
    let audit = store.audit_recent(10).unwrap();
    let row = audit
        .iter()
        .find(|a| a.action == "đăng nhập sai")
        .expect("an audit row");
    assert!(
        row.username.starts_with("admin<U+000A>2024-06-24"),
        "{row:?}"
    );
    assert!(
        !row.username.contains('\n') && !row.username.contains('\u{202e}'),
        "{row:?}"
    );
    assert!(row.username.chars().count() <= 65, "{row:?}");
    assert!(row.username.ends_with('…'), "{row:?}");
    // The name shown back in the form is the same safe text.
    assert!(!reply.text().contains('\u{202e}'));
    // A login body of 100 KB is not read.
    let reply = app.login_reply(&"y".repeat(100 * 1024), "sai-mat-khau");
    assert_eq!(reply.status, 413, "{}", reply.text());
}

/// A client that opens a connection and trickles a request line without ever finishing its
/// headers (slowloris) is disconnected once `header_timeout_seconds` has passed.
#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = Running::start_web("header_timeout_seconds = 1\n");
    let mut stream = TcpStream::connect(app.addr).unwrap();
    // Far longer than the server's timeout: a read that ends before it means the server closed.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-a: ")
        .unwrap();
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "the server kept the connection open: {e}"
        ),
    }
    // Nothing was answered to the unfinished request, and the page still serves others.
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "{rest:?}"
    );
    assert_eq!(request(app.addr, "GET", "/login", &[], b"").status, 200);
}

/// `vanban serve` as an office runs it, in a process of its own (killed when dropped): a
/// workbook that aborts the reader ends that process, and with it every later request, where an
/// in-process server would take the test binary down with it.
struct ServeProcess {
    child: std::process::Child,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vanban serve` on 127.0.0.1 with a clerk account; returns a [`Running`] to speak to
/// it (its `server` None: the process is the server) and the process.
fn serve_in_a_process() -> (Running, ServeProcess) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "directory = \"{SAMPLES}/directory.toml\"\noutput_dir = \"out\"\nstate = \"state/vanban.sqlite\"\n\
         [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\naddress = \"vanphong@example.vn\"\n\
         [approval]\nrequired = false\n[web]\nlisten = \"127.0.0.1:0\"\nsecure_cookies = false\nupload_limit_kb = 512\n"
    );
    let path = dir.path().join("vanban.toml");
    std::fs::write(&path, &text).unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let config = vanban::input::config::load_without_secrets(&path).unwrap();
    {
        let store = WebStore::open_state(&config.state).unwrap();
        let hash = vanban::web::auth::hash_password(PASSWORD).unwrap();
        let t = chrono::Utc.with_ymd_and_hms(2024, 6, 24, 2, 0, 0).unwrap();
        store.add_user("lan", Role::Clerk, &hash, t).unwrap();
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(["serve", "--config"])
        .arg(&path)
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start vanban serve");
    // The log says where it listens; the rest of the log is drained so the pipe never fills.
    let stderr = child.stderr.take().unwrap();
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.split("trang web đang chạy tại http://").nth(1) {
                let _ = found.send(at.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let process = ServeProcess { child };
    let addr: SocketAddr = address
        .recv_timeout(Duration::from_secs(60))
        .expect("vanban serve did not say where it listens")
        .parse()
        .unwrap();
    let app = Running {
        server: None,
        addr,
        dir,
        config,
    };
    (app, process)
}

#[test]
fn a_19_kb_workbook_with_one_cell_at_xfd1048576_is_refused_and_the_page_still_answers() {
    let (app, mut process) = serve_in_a_process();
    let (cookie, csrf) = app.login("lan");
    // The sample form (vanban's own writer) with one number at the last cell a sheet can have,
    // in "Chỉ tiêu": calamine's dense range over it asked for 512 GiB and aborted the process.
    let far = rezip(&sample_workbook(), "xl/worksheets/sheet3.xml", |xml| {
        xml.replace(
            "</sheetData>",
            "<row r=\"1048576\"><c r=\"XFD1048576\"><v>1</v></c></row></sheetData>",
        )
    });
    assert!(far.len() < 20 * 1024, "{}", far.len());
    let reply = app.upload(&cookie, Some(&csrf), "bieu-mau.xlsx", &far);
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().contains(
            "Tệp &quot;bieu-mau.xlsx&quot;, trang tính «Chỉ tiêu»: ô XFD1048576 có dữ liệu nhưng \
             nằm ngoài vùng biểu mẫu đọc được (tối đa 10.000 dòng và 200 cột, từ A1 đến GR10000)"
        ),
        "{}",
        reply.text()
    );
    // The process lives on and the page answers.
    assert!(
        process.child.try_wait().unwrap().is_none(),
        "vanban serve ended"
    );
    assert_eq!(app.get("/", &cookie).status, 200);
    // Nothing of the refused upload is stored or recorded.
    assert!(files_in(&app.uploads_dir()).is_empty());
    let store = WebStore::open_state(&app.config.state).unwrap();
    assert!(store.recent_uploads(10).unwrap().is_empty());
    // And the form itself still uploads.
    let reply = app.upload(
        &cookie,
        Some(&csrf),
        "dam-ha-2024-h1.xlsx",
        &sample_workbook(),
    );
    assert_eq!(reply.status, 303, "{}", reply.text());
    let page = app.get(reply.header("location").unwrap(), &cookie).text();
    assert!(page.contains("Tệp hợp lệ: kỳ 2024-h1"), "{page}");
}
