//! The send workflow end to end, on the sample period with renderers that stand in for the PDF
//! and DOCX backends (or the real ones), SMTP at a port where nothing listens, and the outbox.

use super::*;
use crate::clock::FixedClock;
use crate::deliver::ledger::{Begin, DeliveryKey, DeliveryState};
use crate::deliver::plan::{MessageKind, ledger_issuer, ledger_records};
use crate::deliver::status::{PeriodStatus, period_status};
use crate::issue::filing::ascii_file_name;
use crate::issue::filing::{attachment_name, sha256_hex};
use crate::model::Half;
use crate::model::Period;
use crate::render::{PlannedDocument, RenderError};
use chrono::NaiveDate;
use chrono::TimeZone;
use chrono::Utc;
use std::cell::RefCell;
use std::path::PathBuf;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

/// Stands in for the PDF and DOCX backends: bytes that show the number printed.
struct Fake(&'static str);

impl Renderer for Fake {
    fn name(&self) -> &'static str {
        self.0
    }
    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
        // The content's hash too, so an edited period renders different bytes.
        let content = serde_json::to_vec(&document.context).unwrap();
        Ok(format!(
            "{} {} {} {}",
            self.0,
            document.label(),
            document.context.header.number,
            &sha256_hex(&content)[..8]
        )
        .into_bytes())
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    config: Config,
    store: Store,
    lock: InstanceLock,
    clock: FixedClock,
}

impl Fixture {
    /// The sample period and directory; SMTP at a port where nothing listens; approval
    /// not required (these tests are about sending).
    fn new(extra: &str) -> Fixture {
        Fixture::build(extra, "[approval]\nrequired = false\n")
    }

    /// Like [`Fixture::new`], with approval required (the default).
    fn approving(extra: &str) -> Fixture {
        Fixture::build(extra, "")
    }

    fn build(extra: &str, tail: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for name in ["dam-ha-2024-h1.toml", "directory.toml"] {
            std::fs::copy(Path::new(SAMPLES).join(name), dir.path().join(name)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = format!(
            "directory = \"directory.toml\"\n{extra}\n[sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\n\
             address = \"vanphong@damha.example\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
             security = \"none\"\ntimeout_seconds = 2\nmax_attempts = 2\nretry_delay_seconds = 7\n\
             {tail}"
        );
        let config_path = dir.path().join("vanban.toml");
        let config = crate::input::config::parse(&config_path, &text, &|_| None).unwrap();
        let store = Store::open_state(&config.state).unwrap();
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap());
        let lock = InstanceLock::acquire_state(&config.state, clock.now()).unwrap();
        Fixture {
            dir,
            config,
            store,
            lock,
            clock,
        }
    }

    fn period(&self) -> PathBuf {
        self.dir.path().join("dam-ha-2024-h1.toml")
    }

    fn send(
        &self,
        options: &SendOptions,
        slept: &RefCell<Vec<Duration>>,
    ) -> Result<SendReport, DeliverError> {
        let sleep = |d: Duration| slept.borrow_mut().push(d);
        self.send_stopping(options, &sleep, &StopSignal::new())
    }

    /// [`send`](Self::send) with the sleep and the stop signal given.
    fn send_stopping(
        &self,
        options: &SendOptions,
        sleep: &dyn Fn(Duration),
        stop: &StopSignal,
    ) -> Result<SendReport, DeliverError> {
        let (pdf, docx) = (Fake("pdf"), Fake("docx"));
        let renderers: [&dyn Renderer; 2] = [&pdf, &docx];
        let env = SendEnv {
            config: &self.config,
            store: &self.store,
            lock: &self.lock,
            clock: &self.clock,
            renderers: &renderers,
            sleep,
        };
        send_period(&env, &self.period(), options, stop)
    }

    /// Runs `f` with the issue environment of the office (the fake renderers, no signing).
    fn with_issue_env<T>(&self, f: impl FnOnce(&IssueEnv<'_>) -> T) -> T {
        let (pdf, docx) = (Fake("pdf"), Fake("docx"));
        let renderers: [&dyn Renderer; 2] = [&pdf, &docx];
        f(&IssueEnv {
            store: &self.store,
            clock: &self.clock,
            numbering: self.config.numbering,
            renderers: &renderers,
            signing: None,
        })
    }

    /// Records `decision` on the chosen documents as `vanban approve`/`return` does.
    fn decide(
        &self,
        only: &[DocumentKind],
        unit: Option<&str>,
        decision: approval::Decision,
        note: Option<&str>,
    ) -> Vec<approval::DecisionReport> {
        let period = load(self);
        let ids = approval::select(&period, only, unit).unwrap();
        self.with_issue_env(|env| {
            approval::decide(env, &period, &ids, decision, "Hoàng Vĩnh Khuyến", note).unwrap()
        })
    }

    /// Adds to `status` what rendering the drafts now shows (approval, changes after issue).
    fn check_drafts(&self, status: &mut PeriodStatus) {
        self.with_issue_env(|env| {
            crate::deliver::status::check_drafts(
                status,
                env,
                &self.config,
                &self.period(),
                self.clock.today_in(VIETNAM),
            )
            .unwrap()
        })
    }

    fn status(&self) -> PeriodStatus {
        period_status(
            &self.config,
            &self.store,
            &self.period(),
            self.clock.today_in(VIETNAM),
            false,
        )
        .unwrap()
    }
}

#[test]
fn dry_run_writes_every_message_and_records_nothing() {
    let f = Fixture::new("");
    let slept = RefCell::new(Vec::new());
    let options = SendOptions {
        dry_run: true,
        ..SendOptions::default()
    };
    let report = f.send(&options, &slept).unwrap();
    // 4 members of report_to, 10 units with tasks.
    assert_eq!(report.deliveries.len(), 14);
    assert!(report.all_delivered(), "{report}");
    assert_eq!(report.count(|o| matches!(o, Outcome::Written { .. })), 14);
    let outbox = f.config.outbox.join("2024-h1");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 14);

    let letter = report
        .deliveries
        .iter()
        .find(|d| d.key.recipient == "bqlda" && d.message == MessageKind::LetterAndNotice)
        .unwrap();
    let Outcome::Written { path } = &letter.outcome else {
        panic!("{letter}")
    };
    // Headers unfolded (RFC 5322: CRLF followed by white space is white space).
    let eml = String::from_utf8(std::fs::read(path).unwrap())
        .unwrap()
        .replace("\r\n ", " ");
    // Letter in both formats, notice as PDF only, numbers blank.
    for name in [
        "UBND-NLN Cong van giao nhiem vu - Ban QLDA DTXD huyen (du thao).pdf",
        "UBND-NLN Cong van giao nhiem vu - Ban QLDA DTXD huyen (du thao).docx",
        "TB-UBND Thong bao ket luan (du thao).pdf",
    ] {
        assert!(eml.contains(&format!("name=\"{name}\"")), "{name}");
    }
    assert!(!eml.contains("Thong bao ket luan (du thao).docx"));
    assert_eq!(eml.matches("Content-Disposition: attachment").count(), 3);
    assert!(eml.contains("Message-ID: <"), "{eml}");
    assert!(eml.contains(&letter.message_id));

    // Nothing in the ledger or the register, no document filed.
    let status = f.status();
    assert!(status.lines.iter().all(|l| l.record.is_none()));
    assert!(status.issued.is_empty() && status.reserved.is_empty());
    assert!(!f.config.output_dir.join("2024-h1").exists());
    assert!(slept.borrow().is_empty());
}

#[test]
fn a_send_after_new_year_keeps_last_years_numbers_dates_and_files() {
    let f = Fixture::new("");
    // No issue date in the period file: the documents are dated the day they are issued.
    let text = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(f.period(), text.replace("date = 2024-06-25\n", "")).unwrap();
    f.clock
        .set(Utc.with_ymd_and_hms(2024, 12, 31, 3, 0, 0).unwrap());
    let slept = RefCell::new(Vec::new());
    let first = f.send(&SendOptions::default(), &slept).unwrap();
    assert!(!first.all_delivered(), "the server is down: {first}");
    let numbers =
        |r: &SendReport| -> Vec<String> { r.documents.iter().map(|d| d.number.clone()).collect() };
    assert_eq!(numbers(&first)[..2], ["01/BC-UBND", "02/TB-UBND"]);
    let filed = f.config.output_dir.join("2024-h1");
    let notice_path = filed.join("02-TB-UBND Thong bao ket luan.pdf");
    let notice = std::fs::read(&notice_path).unwrap();

    // The missing messages go out on 2 January.
    f.clock
        .set(Utc.with_ymd_and_hms(2025, 1, 2, 3, 0, 0).unwrap());
    let second = f.send(&SendOptions::default(), &slept).unwrap();
    assert_eq!(numbers(&second), numbers(&first));
    assert!(second.documents.iter().all(|d| d.reused), "{second}");
    assert_eq!(std::fs::read(&notice_path).unwrap(), notice);
    // Nothing issued or reserved in 2025 (status reads both years).
    let status = f.status();
    assert_eq!(status.issued.len(), 12);
    assert!(status.reserved.is_empty());
    assert!(
        status.issued.iter().all(|e| e.year == 2024
            && e.issued.as_ref().unwrap().document.date
                == NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()),
        "{:?}",
        status.issued
    );
}

#[test]
fn a_letter_issued_after_the_notice_cites_the_notices_date() {
    /// Files hold the whole context, so the letter's reference to the notice can be read.
    struct Json;
    impl Renderer for Json {
        fn name(&self) -> &'static str {
            "pdf"
        }
        fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
            Ok(serde_json::to_vec(&document.context).unwrap())
        }
    }
    let f = Fixture::new("");
    let text = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(f.period(), text.replace("date = 2024-06-25\n", "")).unwrap();
    let send = || {
        let renderers: [&dyn Renderer; 1] = [&Json];
        let env = SendEnv {
            config: &f.config,
            store: &f.store,
            lock: &f.lock,
            clock: &f.clock,
            renderers: &renderers,
            sleep: &|_| {},
        };
        send_period(
            &env,
            &f.period(),
            &SendOptions::default(),
            &StopSignal::new(),
        )
        .unwrap()
    };
    // 25/6: the notice and the letters are issued (the server is down: nothing delivered).
    send();
    // 28/6: a task for the Office is added; its letter is issued then, the notice reused.
    let text = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(
        f.period(),
        format!("{text}\n[[tasks]]\nto = [\"vp\"]\ntext = \"Tổng hợp kết quả thực hiện\"\n"),
    )
    .unwrap();
    f.clock
        .set(Utc.with_ymd_and_hms(2024, 6, 28, 3, 0, 0).unwrap());
    let report = send();
    let notice = report
        .documents
        .iter()
        .find(|d| d.kind == DocumentKind::ConclusionNotice)
        .unwrap();
    assert!(notice.reused, "{report}");
    let letter = report
        .documents
        .iter()
        .find(|d| d.unit.as_deref() == Some("vp"))
        .unwrap();
    assert!(!letter.reused);
    let context: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&letter.paths[0]).unwrap()).unwrap();
    let notice_ref = context["letter"]["notice_ref"].as_str().unwrap();
    assert_eq!(notice_ref, "Thông báo số 02/TB-UBND ngày 25/6/2024");
    assert!(
        context["header"]["place_date"]
            .to_string()
            .contains("28 tháng 6 năm 2024"),
        "{}",
        context["header"]
    );
}

#[test]
fn server_down_issues_once_records_transient_failures_and_reuses_the_documents() {
    let f = Fixture::new("");
    let slept = RefCell::new(Vec::new());
    let report = f.send(&SendOptions::default(), &slept).unwrap();
    assert!(!report.all_delivered());
    assert_eq!(
        report.count(|o| matches!(
            o,
            Outcome::Failed {
                permanent: false,
                attempts: 2,
                ..
            }
        )),
        14,
        "{report}"
    );
    // One retry round, with the configured delay.
    assert_eq!(*slept.borrow(), [Duration::from_secs(7)]);
    let numbers: Vec<String> = report.documents.iter().map(|d| d.number.clone()).collect();
    assert_eq!(numbers[..3], ["01/BC-UBND", "02/TB-UBND", "03/UBND-NLN"]);
    assert_eq!(numbers.last().unwrap(), "12/UBND-NLN");
    // Letters numbered in directory order: pnn is the first unit with tasks.
    assert_eq!(report.documents[2].unit.as_deref(), Some("pnn"));
    assert!(report.documents.iter().all(|d| !d.reused));
    let filed = f.config.output_dir.join("2024-h1");
    let notice = std::fs::read(filed.join("02-TB-UBND Thong bao ket luan.pdf")).unwrap();
    assert!(
        String::from_utf8(notice)
            .unwrap()
            .starts_with("pdf conclusion-notice Số: 02/TB-UBND "),
    );
    assert!(
        filed
            .join(crate::issue::filing::ascii_file_name(
                "03-UBND-NLN Công văn giao nhiệm vụ - Phòng NN&PTNT.docx"
            ))
            .exists()
    );

    let status = f.status();
    assert_eq!(status.issued.len(), 12);
    assert!(status.reserved.is_empty());
    assert!(
        status
            .lines
            .iter()
            .all(|l| l.shown_state(false) == DeliveryState::Failed)
    );
    let text = status.to_string();
    assert!(text.contains("lỗi tạm thời"), "{text}");
    assert!(text.contains("Tổng: gửi lỗi 14."), "{text}");

    // Next run: the same numbers, the documents attached as filed (even if the period file
    // changed meanwhile), two more attempts each.
    let period = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(
        f.period(),
        period.replace("Đẩy nhanh tiến độ", "Khẩn trương đẩy nhanh"),
    )
    .unwrap();
    f.clock.advance(chrono::Duration::days(1));
    let again = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    let numbers_again: Vec<String> = again.documents.iter().map(|d| d.number.clone()).collect();
    assert_eq!(numbers_again, numbers);
    assert!(again.documents.iter().all(|d| d.reused), "{again}");
    let records = ledger_records(&f.store, &load(&f)).unwrap();
    assert!(records.values().all(|r| r.attempts.len() == 4));
}

fn load(f: &Fixture) -> Period {
    input::load_period(
        &f.period(),
        f.config.directory.as_deref(),
        f.clock.today_in(VIETNAM),
    )
    .unwrap()
}

#[test]
fn an_issued_document_already_delivered_is_never_sent_in_another_version() {
    let f = Fixture::new("");
    f.send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    // As if pnn had received its letter and the notice.
    let period = load(&f);
    let key = DeliveryKey::new(
        ledger_issuer(&period, MessageKind::LetterAndNotice),
        period.id(),
        "letter-and-notice",
        "pnn",
    );
    let ledger = Ledger::new(&f.store);
    let Begin::Proceed { attempt } = ledger.begin(&key, "<x@y>", f.clock.now(), false).unwrap()
    else {
        panic!("not proceed")
    };
    ledger
        .mark_sent(&key, attempt, f.clock.now(), "250 OK")
        .unwrap();

    // The notice's file is lost: rebuilt identical from the same data, and filed again.
    let notice = f
        .config
        .output_dir
        .join("2024-h1/02-TB-UBND Thong bao ket luan.pdf");
    let filed = std::fs::read(&notice).unwrap();
    std::fs::remove_file(&notice).unwrap();
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("02/TB-UBND") && n.contains("giống hệt")),
        "{report}"
    );
    assert_eq!(std::fs::read(&notice).unwrap(), filed);

    // Lost again after the conclusions changed: refused, nothing sent, file not replaced.
    std::fs::remove_file(&notice).unwrap();
    let text = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(
        f.period(),
        text.replace("Đẩy nhanh tiến độ", "Khẩn trương đẩy nhanh"),
    )
    .unwrap();
    let error = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap_err();
    assert!(
        matches!(error, DeliverError::IssuedChanged { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("02-TB-UBND Thong bao ket luan.pdf"),
        "{error}"
    );
    assert!(!notice.exists());
    let records = ledger_records(&f.store, &load(&f)).unwrap();
    // 14 messages × 2 attempts, pnn's by hand, 13 × 2 in the second run, none in the third.
    let attempts: usize = records.values().map(|r| r.attempts.len()).sum();
    assert_eq!(attempts, 14 * 2 + 1 + 13 * 2);
}

#[test]
fn a_template_error_sends_nothing_and_issues_no_number() {
    let f = Fixture::new("templates_dir = \"templates\"");
    let email = f.dir.path().join("templates/email");
    std::fs::create_dir_all(&email).unwrap();
    std::fs::write(
        email.join("letter-and-notice.body.txt"),
        "Kính gửi {{ unit.name }}, {{ unit.giam_doc }}",
    )
    .unwrap();
    let error = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, DeliverError::Invalid(_)), "{text}");
    assert!(text.contains("không gửi thư nào"), "{text}");
    assert!(
        text.contains("quang-lam (Ủy ban nhân dân xã Quảng Lâm)"),
        "{text}"
    );
    assert!(text.contains("giam_doc"), "{text}");
    let status = f.status();
    assert!(status.issued.is_empty() && status.reserved.is_empty());
    assert!(status.lines.iter().all(|l| l.record.is_none()));
}

/// A send through the real PDF and DOCX backends, the office's templates applied.
fn send_rendered(f: &Fixture, options: &SendOptions) -> Result<SendReport, DeliverError> {
    let templates =
        crate::render::templates::Templates::with_overrides(f.dir.path().join("templates"));
    let backends = crate::render::Backends::new(&templates, crate::render::Formats::Both).unwrap();
    let renderers = backends.renderers();
    let sleep = |_: Duration| {};
    let env = SendEnv {
        config: &f.config,
        store: &f.store,
        lock: &f.lock,
        clock: &f.clock,
        renderers: &renderers,
        sleep: &sleep,
    };
    send_period(&env, &f.period(), options, &StopSignal::new())
}

#[test]
fn the_letters_email_repeats_the_reporting_line_as_the_office_worded_it() {
    let f = Fixture::new("templates_dir = \"templates\"");
    let dir = f.dir.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    let builtin = crate::render::wording::BUILTIN;
    assert!(builtin.contains("để tổng hợp.\""));
    let reworded = builtin.replace("để tổng hợp.\"", "để tổng hợp, báo cáo Chủ tịch.\"");
    std::fs::write(dir.join("loi-van.toml"), reworded).unwrap();
    let options = SendOptions {
        dry_run: true,
        ..SendOptions::default()
    };
    send_rendered(&f, &options).unwrap();
    let mut letters = 0;
    let period_outbox = f.config.outbox.join("2024-h1");
    for entry in std::fs::read_dir(&period_outbox).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let body = parsed.body_text(0).unwrap_or_default().into_owned();
        if body.contains("Báo cáo kết quả thực hiện") {
            letters += 1;
            assert!(body.contains("để tổng hợp, báo cáo Chủ tịch."), "{body}");
        }
    }
    assert!(
        letters > 0,
        "no letter's email in {}",
        period_outbox.display()
    );
}

/// The built-in letter template with its closing sentence reworded, as a Word edit would.
fn letter_template_reworded_in_word() -> Vec<u8> {
    use std::io::{Read, Write};
    let (_, bytes) = crate::render::docx::builtin_templates()
        .unwrap()
        .into_iter()
        .find(|(name, _)| *name == "assignment-letter.docx")
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let name = file.name().to_string();
        let mut data = String::new();
        file.read_to_string(&mut data).unwrap();
        if name == "word/document.xml" {
            assert!(data.contains(" nghiêm túc triển khai"));
            data = data.replace(" nghiêm túc triển khai", " khẩn trương triển khai");
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(data.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn an_issued_document_is_resent_as_filed_whatever_its_templates_say_now() {
    let f = Fixture::new("templates_dir = \"templates\"");
    // Issued and filed; the server is down, so the messages wait.
    let _ = send_rendered(&f, &SendOptions::default());
    assert!(!f.status().issued.is_empty());
    // Then the clerk rewords the DOCX template alone: the filed documents are not
    // compared again, and the waiting messages can still go.
    let docx_dir = f.dir.path().join("templates/docx");
    std::fs::create_dir_all(&docx_dir).unwrap();
    std::fs::write(
        docx_dir.join("assignment-letter.docx"),
        letter_template_reworded_in_word(),
    )
    .unwrap();
    if let Err(DeliverError::Wording(e)) = send_rendered(&f, &SendOptions::default()) {
        panic!("an issued document was held back by the wording guard: {e}");
    }
}

#[test]
fn a_template_of_one_format_edited_alone_stops_the_send_before_any_number() {
    let f = Fixture::new("templates_dir = \"templates\"");
    let docx_dir = f.dir.path().join("templates/docx");
    std::fs::create_dir_all(&docx_dir).unwrap();
    // The clerk's Word edit: the closing sentence of the letter reworded in the DOCX only.
    let path = docx_dir.join("assignment-letter.docx");
    std::fs::write(&path, letter_template_reworded_in_word()).unwrap();

    for dry_run in [true, false] {
        let options = SendOptions {
            dry_run,
            ..SendOptions::default()
        };
        let error = send_rendered(&f, &options).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, DeliverError::Wording(_)), "{text}");
        assert!(text.starts_with("Công văn giao nhiệm vụ – "), "{text}");
        assert!(
            text.contains("khẩn trương triển khai thực hiện./."),
            "{text}"
        );
        assert!(
            text.contains("nghiêm túc triển khai thực hiện./."),
            "{text}"
        );
        assert!(text.contains(path.to_str().unwrap()), "{text}");
    }
    let status = f.status();
    assert!(status.issued.is_empty() && status.reserved.is_empty());
    assert!(status.lines.iter().all(|l| l.record.is_none()));
    assert!(!f.config.outbox.exists(), "a dry run wrote nothing either");

    // A Typst template edited alone (a sentence added to the notice's PDF) is caught too.
    std::fs::remove_file(&path).unwrap();
    let typst_dir = f.dir.path().join("templates/typst");
    std::fs::create_dir_all(&typst_dir).unwrap();
    let (_, notice) = crate::render::templates::TYPST
        .iter()
        .find(|(name, _)| *name == "conclusion-notice.typ")
        .unwrap();
    assert!(notice.contains("#para(w.ket_luan)"));
    let typst = typst_dir.join("conclusion-notice.typ");
    std::fs::write(
        &typst,
        notice.replace(
            "#para(w.ket_luan)",
            "#para(w.ket_luan)\n#para[Hội nghị thống nhất các nội dung sau.]",
        ),
    )
    .unwrap();
    let error = send_rendered(&f, &SendOptions::default()).unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("Thông báo kết luận: "), "{text}");
    assert!(
        text.contains("«Hội nghị thống nhất các nội dung sau.»"),
        "{text}"
    );
    assert!(text.contains(typst.to_str().unwrap()), "{text}");
    let status = f.status();
    assert!(status.issued.is_empty() && status.reserved.is_empty());

    // Without the overrides the built-in templates agree, and the dry run goes through.
    std::fs::remove_file(&typst).unwrap();
    let report = send_rendered(
        &f,
        &SendOptions {
            dry_run: true,
            ..SendOptions::default()
        },
    )
    .unwrap();
    assert!(!report.deliveries.is_empty());
}

#[test]
fn a_number_typed_in_the_period_file_is_refused_when_sending() {
    let f = Fixture::new("");
    let period = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(
        f.period(),
        period.replace(
            "conclusion_notice = { signer",
            "conclusion_notice = { number = 125, signer",
        ),
    )
    .unwrap();
    let text = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap_err()
        .to_string();
    assert!(text.contains("125/TB-UBND"), "{text}");
    // A dry run shows it as typed.
    let dry = f
        .send(
            &SendOptions {
                dry_run: true,
                ..SendOptions::default()
            },
            &RefCell::default(),
        )
        .unwrap();
    assert!(dry.documents.iter().any(|d| d.number == "125/TB-UBND"));
}

#[test]
fn resend_and_only_select_messages() {
    let f = Fixture::new("");
    let error = f
        .send(
            &SendOptions {
                resend: Some("khong-co".into()),
                ..SendOptions::default()
            },
            &RefCell::default(),
        )
        .unwrap_err();
    assert!(
        matches!(error, DeliverError::NotARecipient { .. }),
        "{error}"
    );
    // vp has no task: no letter for it.
    let error = f
        .send(
            &SendOptions {
                resend: Some("vp".into()),
                only: vec![DocumentKind::AssignmentLetter],
                dry_run: true,
                new_issuer: false,
            },
            &RefCell::default(),
        )
        .unwrap_err();
    assert!(error.to_string().contains("vp"), "{error}");
    let report = f
        .send(
            &SendOptions {
                only: vec![DocumentKind::ReviewReport],
                dry_run: true,
                ..SendOptions::default()
            },
            &RefCell::default(),
        )
        .unwrap();
    assert_eq!(report.deliveries.len(), 4);
    assert!(
        report
            .deliveries
            .iter()
            .all(|d| d.message == MessageKind::ReviewReport)
    );
    assert_eq!(report.documents.len(), 1);
}

fn held(report: &SendReport) -> usize {
    report.count(|o| matches!(o, Outcome::NotApproved { .. }))
}

#[test]
fn unapproved_documents_are_not_sent_and_use_no_number() {
    let f = Fixture::approving("");
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert_eq!(held(&report), 14, "{report}");
    assert!(report.documents.is_empty());
    let text = report.to_string();
    assert!(text.contains("chờ duyệt"), "{text}");
    assert!(text.contains("Thông báo kết luận: chờ duyệt"), "{text}");
    let status = f.status();
    assert!(status.issued.is_empty() && status.reserved.is_empty());
    assert!(status.lines.iter().all(|l| l.record.is_none()));
    assert!(!f.config.output_dir.join("2024-h1").exists());
    let shown = status.to_string();
    assert!(
        shown.contains("Thông báo kết luận: nháp (chưa trình duyệt)"),
        "{shown}"
    );
}

#[test]
fn approved_documents_go_and_the_others_wait() {
    let f = Fixture::approving("");
    let decided = f.decide(
        &[DocumentKind::ReviewReport],
        None,
        approval::Decision::Approved,
        Some("Đồng ý ban hành"),
    );
    assert_eq!(decided.len(), 1);
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    // The four report messages were tried (the server is down), the ten letters wait.
    assert_eq!(held(&report), 10, "{report}");
    assert_eq!(
        report.count(|o| matches!(o, Outcome::Failed { .. })),
        4,
        "{report}"
    );
    let numbers: Vec<&str> = report.documents.iter().map(|d| d.number.as_str()).collect();
    assert_eq!(numbers, ["01/BC-UBND"]);
    let status = f.status();
    assert_eq!(status.issued.len(), 1);
    assert!(status.reserved.is_empty());
    let shown = status.to_string();
    assert!(
        shown.contains("Công văn giao nhiệm vụ gửi bqlda: nháp"),
        "{shown}"
    );
    assert!(
        shown.contains("đã ban hành số 01/BC-UBND; đã gửi 0/4 thư"),
        "{shown}"
    );
}

#[test]
fn a_unit_letter_approved_alone_still_waits_for_the_notice() {
    let f = Fixture::approving("");
    f.decide(&[], Some("bqlda"), approval::Decision::Approved, None);
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert_eq!(held(&report), 14, "{report}");
    let bqlda = report
        .deliveries
        .iter()
        .find(|d| d.key.recipient == "bqlda" && d.message == MessageKind::LetterAndNotice)
        .unwrap();
    let Outcome::NotApproved { documents } = &bqlda.outcome else {
        panic!("{bqlda}")
    };
    assert_eq!(documents.len(), 1, "{bqlda}");
    assert_eq!(documents[0].0, "Thông báo kết luận");
    // Then the notice: bqlda's message goes, the other units' letters still wait.
    f.decide(
        &[DocumentKind::ConclusionNotice],
        None,
        approval::Decision::Approved,
        None,
    );
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert_eq!(held(&report), 13, "{report}");
    let numbers: Vec<&str> = report.documents.iter().map(|d| d.number.as_str()).collect();
    assert_eq!(numbers, ["01/TB-UBND", "02/UBND-NLN"]);
}

#[test]
fn an_issued_document_whose_period_file_changed_is_reported_and_resent_as_filed() {
    let f = Fixture::new("");
    // Nothing listens for SMTP: the documents are issued and filed, no message goes.
    let first = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert!(!first.documents.is_empty(), "{first}");
    let recorded: i64 = f
        .store
        .read(|tx| tx.query_row("SELECT count(*) FROM issued_content", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(recorded as usize, first.documents.len());
    // The same period file again: nothing to report.
    let again = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert!(!again.to_string().contains("đã đổi sau đó"), "{again}");

    let text = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(
        f.period(),
        text.replace("Đẩy nhanh tiến độ", "Khẩn trương đẩy nhanh"),
    )
    .unwrap();
    let filed: Vec<Vec<u8>> = first
        .documents
        .iter()
        .flat_map(|d| d.paths.iter().map(|p| std::fs::read(p).unwrap()))
        .collect();
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    let shown = report.to_string();
    let notice = first
        .documents
        .iter()
        .find(|d| d.kind == DocumentKind::ConclusionNotice)
        .unwrap();
    assert!(
        shown.contains(&format!(
            "văn bản số {} đã ban hành; dữ liệu kỳ báo cáo hoặc mẫu đã đổi sau đó: bản gửi \
             đi vẫn là bản đã ban hành: gửi lại đúng bản đã ban hành cho đơn vị chưa nhận (",
            notice.number
        )),
        "{shown}"
    );
    assert!(
        shown.contains(
            "vanban replace «tệp kỳ 2024-h1» --config «tệp cấu hình» conclusion-notice --by"
        ),
        "{shown}"
    );
    // pnn's letter quotes no changed task: nothing said of it.
    let pnn_letter = first
        .documents
        .iter()
        .find(|d| d.unit.as_deref() == Some("pnn"))
        .unwrap();
    assert!(
        !shown.contains(&format!("văn bản số {} đã ban hành", pnn_letter.number)),
        "{shown}"
    );
    // Never a silent re-render: the same numbers, the files as filed.
    assert!(report.documents.iter().all(|d| d.reused), "{report}");
    let numbers =
        |r: &SendReport| -> Vec<String> { r.documents.iter().map(|d| d.number.clone()).collect() };
    assert_eq!(numbers(&report), numbers(&first));
    let now: Vec<Vec<u8>> = report
        .documents
        .iter()
        .flat_map(|d| d.paths.iter().map(|p| std::fs::read(p).unwrap()))
        .collect();
    assert_eq!(now, filed);

    // `status` says it too, once it renders the drafts.
    let mut status = f.status();
    assert!(!status.to_string().contains("đã đổi sau đó"));
    f.check_drafts(&mut status);
    let changed: Vec<&issue::DocId> = status
        .documents
        .iter()
        .filter(|d| d.changed_after_issue.is_some())
        .map(|d| &d.id)
        .collect();
    assert!(
        changed.contains(&&issue::DocId {
            kind: DocumentKind::ConclusionNotice,
            unit: None
        }),
        "{status}"
    );
    assert!(
        !changed.iter().any(|id| id.unit.as_deref() == Some("pnn")),
        "{status}"
    );
    let shown = status.to_string();
    assert!(
        shown.contains(&format!(
            "Thông báo kết luận: đã ban hành số {}; đã gửi 0/",
            notice.number
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "— văn bản số {} đã ban hành; dữ liệu kỳ báo cáo hoặc mẫu đã đổi sau đó: bản \
             gửi đi vẫn là bản đã ban hành. Muốn thay thế, dùng vanban replace «tệp kỳ 2024-h1»",
            notice.number
        )),
        "{shown}"
    );
}

#[test]
fn a_period_file_changed_after_approval_is_refused_until_approved_again() {
    let f = Fixture::approving("");
    f.decide(&[], None, approval::Decision::Approved, None);
    let text = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(
        f.period(),
        text.replace("Đẩy nhanh tiến độ", "Khẩn trương đẩy nhanh"),
    )
    .unwrap();
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    let shown = report.to_string();
    // The report does not quote the changed task: it still goes; the notice and the
    // letters that quote it do not.
    assert!(
        shown.contains("nội dung đã thay đổi sau khi duyệt"),
        "{shown}"
    );
    assert!(held(&report) > 0, "{shown}");
    assert!(
        report
            .deliveries
            .iter()
            .filter(|d| d.message == MessageKind::LetterAndNotice)
            .all(|d| matches!(d.outcome, Outcome::NotApproved { .. })),
        "{shown}"
    );
    assert!(
        report
            .documents
            .iter()
            .all(|d| d.kind != DocumentKind::ConclusionNotice)
    );
    // `status` shows it too, once it renders the approved drafts to compare.
    let mut status = f.status();
    let shown = status.to_string();
    assert!(shown.contains("Thông báo kết luận: đã duyệt"), "{shown}");
    f.check_drafts(&mut status);
    let shown = status.to_string();
    assert!(
        shown.contains(
            "Thông báo kết luận: nội dung đã thay đổi sau khi duyệt (Hoàng Vĩnh Khuyến duyệt \
             bản trước): cần duyệt lại"
        ),
        "{shown}"
    );
    // Approved again as it is now: everything goes.
    f.decide(&[], None, approval::Decision::Approved, None);
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert_eq!(held(&report), 0, "{report}");
}

#[test]
fn returned_drafts_are_not_sent_and_status_shows_the_reason() {
    let f = Fixture::approving("");
    f.decide(
        &[DocumentKind::ConclusionNotice],
        None,
        approval::Decision::Returned,
        Some("Sửa thời hạn nhiệm vụ 3"),
    );
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert_eq!(held(&report), 14, "{report}");
    let shown = report.to_string();
    assert!(
        shown.contains("bị trả lại: Sửa thời hạn nhiệm vụ 3"),
        "{shown}"
    );
    let status = f.status().to_string();
    assert!(
        status.contains(
            "Thông báo kết luận: bị trả lại: Sửa thời hạn nhiệm vụ 3 (Hoàng Vĩnh Khuyến)"
        ),
        "{status}"
    );
    assert!(f.status().issued.is_empty());
    // The clerk corrects the notice: the new version waits for the approver.
    let text = std::fs::read_to_string(f.period()).unwrap();
    std::fs::write(
        f.period(),
        text.replace("Đẩy nhanh tiến độ", "Khẩn trương đẩy nhanh"),
    )
    .unwrap();
    let report = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    let shown = report.to_string();
    assert!(shown.contains("Thông báo kết luận: chờ duyệt"), "{shown}");
    assert!(!shown.contains("bị trả lại"), "{shown}");
}

#[test]
fn approving_the_same_content_twice_records_it_once() {
    let f = Fixture::approving("");
    let first = f.decide(&[], None, approval::Decision::Approved, None);
    assert_eq!(first.len(), 12);
    assert!(
        first
            .iter()
            .all(|d| d.recorded == approval::Recorded::Recorded)
    );
    let second = f.decide(&[], None, approval::Decision::Approved, None);
    assert!(
        second
            .iter()
            .all(|d| matches!(d.recorded, approval::Recorded::AlreadyDone { .. })),
    );
    assert!(
        second[0].to_string().contains("đã ghi trước đó"),
        "{}",
        second[0]
    );
    assert_eq!(
        first.iter().map(|d| &d.content_sha256).collect::<Vec<_>>(),
        second.iter().map(|d| &d.content_sha256).collect::<Vec<_>>()
    );
    let rows: i64 = f
        .store
        .conn()
        .query_row("SELECT count(*) FROM approval_decisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 12);
    // A return with no reason is refused before anything is recorded.
    let period = load(&f);
    let ids = approval::select(&period, &[], None).unwrap();
    let error = f
        .with_issue_env(|env| {
            approval::decide(
                env,
                &period,
                &ids,
                approval::Decision::Returned,
                "An",
                Some(" "),
            )
        })
        .unwrap_err();
    assert!(error.to_string().contains("lý do"), "{error}");
}

#[test]
fn an_issued_document_cannot_be_approved_again() {
    let f = Fixture::approving("");
    f.decide(&[], None, approval::Decision::Approved, None);
    f.send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    let period = load(&f);
    let ids = approval::select(&period, &[DocumentKind::ReviewReport], None).unwrap();
    let error = f
        .with_issue_env(|env| {
            approval::decide(
                env,
                &period,
                &ids,
                approval::Decision::Returned,
                "An",
                Some("muộn"),
            )
        })
        .unwrap_err();
    assert!(error.to_string().contains("đã ban hành"), "{error}");
    // The next send re-sends the issued documents as filed, approval not asked again.
    f.clock.advance(chrono::Duration::days(1));
    let again = f
        .send(&SendOptions::default(), &RefCell::default())
        .unwrap();
    assert_eq!(held(&again), 0, "{again}");
    assert!(again.documents.iter().all(|d| d.reused));
}

#[test]
fn a_stop_request_before_the_first_message_sends_nothing() {
    let f = Fixture::new("");
    let stop = StopSignal::new();
    stop.request();
    let report = f
        .send_stopping(&SendOptions::default(), &|_| {}, &stop)
        .unwrap();
    assert!(report.stopped);
    assert!(!report.all_delivered());
    assert_eq!(report.count(|o| matches!(o, Outcome::NotTried { .. })), 14);
    assert!(f.status().lines.iter().all(|l| l.record.is_none()));
}

#[test]
fn attachment_names_are_readable_and_fold_to_ascii() {
    let name = attachment_name(
        DocumentKind::ConclusionNotice,
        Half::First,
        Some(125),
        "TB-UBND",
        None,
        "pdf",
    );
    assert_eq!(name, "125-TB-UBND Thông báo kết luận.pdf");
    assert_eq!(ascii_file_name(&name), "125-TB-UBND Thong bao ket luan.pdf");
    assert_eq!(
        attachment_name(
            DocumentKind::ReviewReport,
            Half::Whole,
            Some(3),
            "BC-UBND",
            None,
            "pdf"
        ),
        "03-BC-UBND Báo cáo tổng kết.pdf"
    );
    assert_eq!(
        attachment_name(
            DocumentKind::AssignmentLetter,
            Half::First,
            None,
            "UBND-NLN",
            None,
            "docx"
        ),
        "UBND-NLN Công văn giao nhiệm vụ (dự thảo).docx"
    );
    let letter = attachment_name(
        DocumentKind::AssignmentLetter,
        Half::First,
        Some(7),
        "UBND-NLN",
        Some("UBND xã Quảng Tân"),
        "pdf",
    );
    assert_eq!(
        letter,
        "07-UBND-NLN Công văn giao nhiệm vụ - UBND xã Quảng Tân.pdf"
    );
    assert_eq!(
        ascii_file_name(&letter),
        "07-UBND-NLN Cong van giao nhiem vu - UBND xa Quang Tan.pdf"
    );
}
