//! One check, two doors: the page's upload and `vanban check` give the same problems, line for
//! line, for the same file under the same configuration. The server runs in the test on
//! 127.0.0.1:0 and is spoken to with hand-written HTTP/1.1, as in tests/web.rs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use vanban::clock::FixedClock;
use vanban::shutdown::StopSignal;
use vanban::web::{self, auth::Role, store::WebStore};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sign");
const PASSWORD: &str = "mật-khẩu-đủ-dài-1";
const BOUNDARY: &str = "----vanbanCheckBoundary9QX";

/// One request on its own connection; the status, the headers and the body (not chunked: the
/// page's replies here are small and whole).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = match head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        true => unchunk(body),
        false => body.to_string(),
    };
    (status, head.to_string(), body)
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn cookie(head: &str, name: &str) -> String {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.trim().split(';').next()?.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("no cookie {name} in {head}"))
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// Signs in as `user`; the session cookie header and the session's CSRF token.
fn login(addr: SocketAddr, user: &str) -> (String, String) {
    let (_, head, page) = request(addr, "GET", "/login", &[], b"");
    let token = cookie(&head, "vanban_login");
    assert_eq!(hidden_value(&page, "login_token"), token);
    let form = format!(
        "username={user}&password={}&login_token={token}",
        PASSWORD
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let (status, head, body) = request(
        addr,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &format!("vanban_login={token}")),
        ],
        form.as_bytes(),
    );
    assert_eq!(status, 303, "{body}");
    let session = format!("vanban_session={}", cookie(&head, "vanban_session"));
    let (_, _, home) = request(addr, "GET", "/", &[("Cookie", &session)], b"");
    let csrf = hidden_value(&home, "csrf");
    (session, csrf)
}

/// Uploads `content` as `name` and returns the page that shows its check.
fn upload(addr: SocketAddr, session: &str, csrf: &str, name: &str, content: &[u8]) -> String {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let (status, head, reply) = request(
        addr,
        "POST",
        "/upload",
        &[
            ("Cookie", session),
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
        ],
        &body,
    );
    assert_eq!(status, 303, "{reply}");
    let location = header(&head, "location").unwrap();
    request(addr, "GET", location, &[("Cookie", session)], b"").2
}

/// The page's `<pre id="problems">`, escaped as the page writes it.
fn problems_on(page: &str) -> &str {
    let start = page
        .find("<pre class=\"problems\" id=\"problems\">")
        .unwrap_or_else(|| panic!("no problems on the page:\n{page}"));
    let text = &page[start..];
    &text[text.find('>').unwrap() + 1..text.find("</pre>").unwrap()]
}

/// The office of the test: a directory that names no group to send the report to, a
/// `[signing]` section that lacks one of the period's signers, and the page on 127.0.0.1:0.
fn office(dir: &Path) -> std::path::PathBuf {
    let directory = std::fs::read_to_string(format!("{SAMPLES}/directory.toml"))
        .unwrap()
        .replace("report_to = \"thanh-vien-bcd\"\n", "");
    std::fs::write(dir.join("danh-ba.toml"), directory).unwrap();
    let pin = dir.join("pin.txt");
    std::fs::write(&pin, "mat-khau-thu\n").unwrap();
    let pin = pin.display();
    let mut text = format!(
        "directory = \"danh-ba.toml\"\noutput_dir = \"out\"\nstate = \"state/vanban.sqlite\"\n\
         [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\naddress = \"vanphong@example.vn\"\n\
         [approval]\nrequired = false\n\
         [web]\nlisten = \"127.0.0.1:0\"\nsecure_cookies = false\nupload_limit_kb = 512\n\
         [signing]\norganisation = {{ pkcs12 = \"{FIXTURES}/organisation.p12\", \
         password_file = \"{pin}\", seal_image = \"{FIXTURES}/con-dau.png\" }}\n"
    );
    // "Trần Anh Cường" signs the letters and has no entry.
    for name in ["Hoàng Vĩnh Khuyến", "Tô Xuân Lợi"] {
        text.push_str(&format!(
            "[[signing.signers]]\nname = \"{name}\"\npkcs12 = \"{FIXTURES}/person.p12\"\n\
             password_file = \"{pin}\"\nsignature_image = \"{FIXTURES}/chu-ky.png\"\n"
        ));
    }
    let path = dir.join("vanban.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    path
}

#[test]
fn the_upload_and_vanban_check_give_the_same_problems_for_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = office(dir.path());
    let config = vanban::input::config::load(&config_path).unwrap();
    {
        let store = WebStore::open_state(&config.state).unwrap();
        let hash = vanban::web::auth::hash_password(PASSWORD).unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2024, 6, 24, 2, 0, 0).unwrap();
        store.add_user("lan", Role::Clerk, &hash, at).unwrap();
    }
    let now = chrono::Utc.with_ymd_and_hms(2024, 6, 24, 2, 0, 0).unwrap();
    let server = web::start(
        config.clone(),
        None,
        Arc::new(FixedClock::new(now)),
        Arc::new(StopSignal::new()),
        false,
    )
    .unwrap();
    let addr = server.addr;

    // A figure its column cannot hold, besides what the office's files lack.
    let sample = std::fs::read_to_string(format!("{SAMPLES}/dam-ha-2024-h1.toml")).unwrap();
    let bad = sample.replacen("value = 3\n", "value = 123456789012345\n", 1);
    assert_ne!(bad, sample);
    let (session, csrf) = login(addr, "lan");
    let page = upload(addr, &session, &csrf, "ky-2024.toml", bad.as_bytes());
    let on_page = problems_on(&page);

    // The clerk's own copy, checked where it lies, so `check` names it as the page does; the
    // directory is the config's, as the page's.
    let desk = dir.path().join("ban-lam-viec");
    std::fs::create_dir_all(&desk).unwrap();
    std::fs::write(desk.join("ky-2024.toml"), &bad).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .current_dir(&desk)
        .arg("check")
        .arg("ky-2024.toml")
        .arg("--config")
        .arg(&config_path)
        .output()
        .unwrap();
    server.stop();
    let printed = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{printed}");

    // Each kind of problem is there, so the two agree on something.
    for expected in [
        "ky-2024.toml: báo cáo không được gửi cho ai",
        "ky-2024.toml: bảng chỉ tiêu",
        "[signing]: văn bản do «Trần Anh Cường» ký",
    ] {
        assert!(printed.contains(expected), "{expected}\n{printed}");
    }
    assert_eq!(
        on_page,
        vanban::web::pages::escape(printed.trim_end()),
        "the page:\n{page}"
    );
}
