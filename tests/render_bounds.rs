//! Every render the commands and the service make goes through a worker process bounded in
//! memory and CPU (src/render/worker.rs): a template that allocates without bound, an image too
//! large to draw, a loop past its deadline or past its CPU budget stops in the worker, and the
//! process that asked (this test process here, as `vanban serve` or the CLI there) stays alive
//! and small, says so in Vietnamese naming the document and its template, and renders the next
//! document.
//!
//! Every test of this file renders through workers only, so the peak memory of this process
//! measures what the bound leaves in the parent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use vanban::model::DocumentKind;
use vanban::render::templates::Templates;
use vanban::render::worker::{ProcessLimits, WorkerProgram};
use vanban::render::{self, Backends, Formats, Limits, PdfFrom, PlannedDocument, TemplateImage};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn program() -> WorkerProgram {
    WorkerProgram::at(env!("CARGO_BIN_EXE_vanban"))
}

fn sample_documents(only: Option<DocumentKind>) -> Vec<PlannedDocument> {
    let today = NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
    let period =
        vanban::input::load_period(&root().join("samples/dam-ha-2024-h1.toml"), None, today)
            .unwrap();
    render::plan(&period, only, &|_, _| None)
}

fn notice() -> PlannedDocument {
    sample_documents(Some(DocumentKind::ConclusionNotice)).remove(0)
}

fn report() -> PlannedDocument {
    sample_documents(Some(DocumentKind::ReviewReport)).remove(0)
}

/// A templates folder whose conclusion notice is `source` (the other templates built in).
fn typst_notice(source: &str) -> (tempfile::TempDir, Templates) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("typst")).unwrap();
    std::fs::write(dir.path().join("typst/conclusion-notice.typ"), source).unwrap();
    let templates = Templates::with_overrides(dir.path());
    (dir, templates)
}

fn limits(memory_mb: u64, cpu_seconds: u64, deadline_seconds: u64) -> Limits {
    let mut limits = Limits::default();
    limits.pdf.max_time = Duration::from_secs(deadline_seconds);
    limits.process = ProcessLimits {
        max_memory_mb: memory_mb,
        max_cpu: Duration::from_secs(cpu_seconds),
    };
    limits
}

/// A line of /proc/self/status in MB (VmHWM: the peak resident size of this process).
fn own_mb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    kb / 1024
}

fn is_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// An office's Typst template that doubles an array until memory runs out (6.3 GB and an abort
/// when rendered in the serving process).
const DOUBLING: &str = "#let a = (0,)\n#for i in range(64) { a = a + a }\n#a.len()\n";

#[test]
fn a_template_that_doubles_an_array_is_stopped_and_this_process_stays_small() {
    let (dir, templates) = typst_notice(DOUBLING);
    let backends = Backends::isolated(
        &templates,
        Formats::Pdf,
        limits(512, 60, 60),
        PdfFrom::Typst,
        &program(),
    )
    .unwrap();
    let error = render::render_all(&[notice()], &backends.renderers(), 1).unwrap_err();
    let message = error.to_string();
    let template = dir.path().join("typst/conclusion-notice.typ");
    assert_eq!(
        message,
        format!(
            "Thông báo kết luận: tạo văn bản từ mẫu {} cần quá 512 MB bộ nhớ nên đã bị dừng \
             (render_max_memory_mb trong [limits] của vanban.toml); kiểm tra vòng lặp hoặc danh \
             sách nhân đôi trong mẫu",
            template.display()
        )
    );
    // The worker that held the memory is gone; this process never held it.
    assert!(backends.worker_pids().is_empty());
    assert!(own_mb("VmHWM:") < 200, "peak {} MB", own_mb("VmHWM:"));
    // The same backends go on: the next document renders in a new worker.
    let files = render::render_all(&[report()], &backends.renderers(), 1).unwrap();
    assert!(files[0].bytes.starts_with(b"%PDF"));
    assert_eq!(backends.worker_pids().len(), 1);
}

/// A loop that never touches the compiler's world: in-process, the Typst thread ran on after the
/// 30 s answer, a core busy per click.
const SPINNING: &str =
    "#let n = 0\n#for i in range(100000) { for j in range(100000) { n = n + 1 } }\n#n\n";

#[test]
fn a_render_past_its_deadline_is_killed_with_its_worker() {
    let (_dir, templates) = typst_notice(SPINNING);
    let backends = Backends::isolated(
        &templates,
        Formats::Pdf,
        limits(1024, 600, 1),
        PdfFrom::Typst,
        &program(),
    )
    .unwrap();
    // One worker, up and idle after a good document: the slow one goes to it.
    render::render_all(&[report()], &backends.renderers(), 1).unwrap();
    let pids = backends.worker_pids();
    assert_eq!(pids.len(), 1);
    let started = Instant::now();
    let error = render::render_all(&[notice()], &backends.renderers(), 1).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20), "{error}");
    assert_eq!(
        error.to_string(),
        "Thông báo kết luận: mẫu Typst chạy quá 1 giây cho một văn bản nên đã bị dừng \
         (typst_max_seconds trong [limits] của vanban.toml); kiểm tra vòng lặp trong mẫu"
    );
    // Killed and reaped with the answer: nothing of it runs on.
    assert!(!is_alive(pids[0]), "worker {} still runs", pids[0]);
    assert!(backends.worker_pids().is_empty());
}

#[test]
fn the_cpu_budget_stops_a_document_in_the_kernel_whatever_the_deadline() {
    let (dir, templates) = typst_notice(SPINNING);
    let backends = Backends::isolated(
        &templates,
        Formats::Pdf,
        limits(1024, 1, 600),
        PdfFrom::Typst,
        &program(),
    )
    .unwrap();
    let started = Instant::now();
    let error = render::render_all(&[notice()], &backends.renderers(), 1).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(60), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "Thông báo kết luận: tạo văn bản từ mẫu {} dùng quá 1 giây CPU nên đã bị dừng \
             (render_max_cpu_seconds trong [limits] của vanban.toml); kiểm tra vòng lặp trong mẫu",
            dir.path().join("typst/conclusion-notice.typ").display()
        )
    );
    // Each document has its own budget: the worker that replaces it renders the next one.
    assert!(render::render_all(&[report()], &backends.renderers(), 1).is_ok());
}

/// A PNG of `width`×`height` transparent pixels (RGBA), compressed as it is written.
fn blank_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fastest);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; width as usize * 4];
    for _ in 0..height {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

#[test]
fn a_huge_signature_image_is_stopped_in_its_worker() {
    let backends = Backends::isolated(
        &Templates::builtin(),
        Formats::Pdf,
        limits(1024, 60, 120),
        PdfFrom::Typst,
        &program(),
    )
    .unwrap();
    let mut signed = notice();
    signed.context.signer.signature_image = Some("/chu-ky.png".into());
    // 3.6 GB of pixels in a 17 MB file (7.1 GB when it was drawn in the serving process).
    signed.images = vec![TemplateImage {
        path: "/chu-ky.png".into(),
        bytes: blank_png(30_000, 30_000).into(),
    }];
    let error = render::render_all(&[signed], &backends.renderers(), 1).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(
            "Thông báo kết luận: tạo văn bản từ mẫu templates/typst/conclusion-notice.typ (có sẵn) \
             cần quá 1024 MB bộ nhớ nên đã bị dừng (render_max_memory_mb trong [limits] của \
             vanban.toml)"
        ) && message.ends_with(", hoặc ảnh chữ ký, con dấu của văn bản quá lớn"),
        "{message}"
    );
    assert!(own_mb("VmHWM:") < 200, "peak {} MB", own_mb("VmHWM:"));
    assert!(render::render_all(&[notice()], &backends.renderers(), 1).is_ok());
}

/// The command line renders through the worker: `vanban render` with the doubling template in
/// the config's templates_dir ends with the Vietnamese message, not an abort, and writes nothing.
#[test]
fn vanban_render_with_a_doubling_template_says_so_and_writes_nothing() {
    let (dir, _) = typst_notice(DOUBLING);
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("vanban.toml");
    std::fs::write(
        &config,
        format!(
            "templates_dir = \"{}\"\noutput_dir = \"{}\"\n\n[limits]\nrender_max_memory_mb = 400\n\n\
             [sender]\nname = \"Văn phòng\"\naddress = \"vp@example.vn\"\n\n[smtp]\nhost = \"127.0.0.1\"\n",
            dir.path().display(),
            out.path().join("out").display()
        ),
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .arg("render")
        .arg(root().join("samples/dam-ha-2024-h1.toml"))
        .args(["--only", "conclusion-notice", "--format", "pdf", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Lỗi: Thông báo kết luận: tạo văn bản từ mẫu {} cần quá 400 MB bộ nhớ nên đã bị dừng",
            dir.path().join("typst/conclusion-notice.typ").display()
        )),
        "{stderr}"
    );
    assert!(!out.path().join("out").exists());
}

/// A DOCX template inside every `[limits]` value (38 KB zipped, 8 MB unzipped and filled) whose
/// 200 000 page breaks the PDF from DOCX lays out before it can count them: 5 GB in a minute.
fn page_break_docx(breaks: usize) -> Vec<u8> {
    use std::io::Write;
    let body = "<w:p><w:r><w:br w:type=\"page\"/></w:r></w:p>".repeat(breaks);
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document \
         xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}\
         <w:p><w:r><w:t>{{{{ header.number }}}}</w:t></w:r></w:p></w:body></w:document>"
    );
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("[Content_Types].xml", deflated).unwrap();
    zip.write_all(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>",
    )
    .unwrap();
    zip.start_file("word/document.xml", deflated).unwrap();
    zip.write_all(document.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn a_docx_template_whose_pdf_needs_gigabytes_is_stopped_on_the_docx_route() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docx")).unwrap();
    let template = dir.path().join("docx/conclusion-notice.docx");
    std::fs::write(&template, page_break_docx(200_000)).unwrap();
    let mut limits = limits(512, 60, 120);
    // Every other key as an office leaves it.
    let defaults = Limits::default();
    (limits.docx, limits.pdf.max_pages) = (defaults.docx, defaults.pdf.max_pages);
    let backends = Backends::isolated(
        &Templates::with_overrides(dir.path()),
        Formats::Pdf,
        limits,
        PdfFrom::Docx,
        &program(),
    )
    .unwrap();
    let error = render::render_all(&[notice()], &backends.renderers(), 1).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "Thông báo kết luận: tạo văn bản từ mẫu {} cần quá 512 MB bộ nhớ nên đã bị dừng \
             (render_max_memory_mb trong [limits] của vanban.toml); kiểm tra vòng lặp hoặc danh \
             sách nhân đôi trong mẫu",
            template.display()
        )
    );
    assert!(own_mb("VmHWM:") < 200, "peak {} MB", own_mb("VmHWM:"));
}

/// One HTTP request on its own connection; the status, the raw head and the body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
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
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let (mut out, mut rest) = (Vec::new(), &body[..]);
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 4 + size..];
        }
        body = out;
    }
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

fn cookie(head: &str, name: &str) -> String {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.trim().split(';').next()?.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("no cookie {name} in {head}"))
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

fn status_mb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    kb / 1024
}

/// A running `vanban serve`: a clerk's "Tạo bản nháp" with the doubling template in the
/// config's templates_dir is answered with the Vietnamese message, and the server stays up and
/// small (the 6.3 GB and the abort happen in its worker).
#[test]
fn vanban_serve_answers_a_doubling_template_and_stays_up_and_small() {
    use std::io::BufRead;
    let (templates, _) = typst_notice(DOUBLING);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vanban.toml");
    std::fs::write(
        &config,
        format!(
            "directory = \"{root}/samples/directory.toml\"\noutput_dir = \"out\"\nstate = \"vanban.sqlite\"\n\
             templates_dir = \"{templates}\"\n\n[limits]\nrender_max_memory_mb = 512\n\n\
             [sender]\nname = \"Văn phòng\"\naddress = \"vp@example.vn\"\n\n\
             [web]\nlisten = \"127.0.0.1:0\"\nsecure_cookies = false\n",
            root = root().display(),
            templates = templates.path().display()
        ),
    )
    .unwrap();
    let password = "mật-khẩu-đủ-dài-1";
    {
        let loaded = vanban::input::config::load_without_secrets(&config).unwrap();
        let store = vanban::web::store::WebStore::open_state(&loaded.state).unwrap();
        let hash = vanban::web::auth::hash_password(password).unwrap();
        let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2024, 6, 24, 2, 0, 0).unwrap();
        store
            .add_user("lan", vanban::web::auth::Role::Clerk, &hash, at)
            .unwrap();
    }
    let mut server = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(["serve", "--config"])
        .arg(&config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id();
    let mut log = std::io::BufReader::new(server.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(log.read_line(&mut line).unwrap() > 0, "vanban serve ended");
        if let Some((_, rest)) = line.split_once("đang chạy tại http://") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Whatever it logs from now on is drained, so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));

    let (_, head, page) = http(&addr, "GET", "/login", &[], b"");
    let token = cookie(&head, "vanban_login");
    assert_eq!(hidden(&page, "login_token"), token);
    let encoded: String = password.bytes().map(|b| format!("%{b:02X}")).collect();
    let form = format!("username=lan&password={encoded}&login_token={token}");
    let (status, head, _) = http(
        &addr,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &format!("vanban_login={token}")),
        ],
        form.as_bytes(),
    );
    assert_eq!(status, 303, "{head}");
    let session = format!("vanban_session={}", cookie(&head, "vanban_session"));
    let (_, _, home) = http(&addr, "GET", "/", &[("Cookie", &session)], b"");
    let csrf = hidden(&home, "csrf");
    let period = std::fs::read(root().join("samples/dam-ha-2024-h1.toml")).unwrap();
    let boundary = "----vanbanRenderBounds";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ky.toml\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&period);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, head, _) = http(
        &addr,
        "POST",
        "/upload",
        &[
            ("Cookie", &session),
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
        ],
        &body,
    );
    assert_eq!(status, 303, "{head}");

    let (status, _, reply) = http(
        &addr,
        "POST",
        "/periods/2024-h1/render",
        &[
            ("Cookie", &session),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        format!("csrf={csrf}").as_bytes(),
    );
    let template = templates.path().join("typst/conclusion-notice.typ");
    let expected = format!(
        "Không tạo được bản nháp: Thông báo kết luận: tạo văn bản từ mẫu {} cần quá 512 MB bộ nhớ nên đã bị dừng",
        template.display()
    );
    assert!(
        reply.contains(&vanban::web::pages::escape(&expected)),
        "{status}: {reply}"
    );
    // Up, answering, and it never held the memory.
    assert!(server.try_wait().unwrap().is_none(), "vanban serve died");
    let (status, _, _) = http(&addr, "GET", "/", &[("Cookie", &session)], b"");
    assert_eq!(status, 200);
    let peak = status_mb(pid, "VmHWM:");
    assert!(peak < 200, "vanban serve peaked at {peak} MB");
    server.kill().unwrap();
    server.wait().unwrap();
}
