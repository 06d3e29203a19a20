//! Approval in the scheduled service, with the real parts: the real job executor (Typst and
//! DOCX renderers), the state database, and the tests' SMTP server (tests/support/sink.rs). Time
//! is injected (a fixed clock moved by the waiter), so a day of the service takes seconds.
//! The render job submits the drafts and mails them to the approvers; the send job waits,
//! numberless, until the approver approves, then sends within a minute, once.

use std::cell::Cell;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use vanban::clock::{Clock, FixedClock, VIETNAM};
use vanban::issue::approval::{self, Decision};
use vanban::issue::filing::{IssueEnv, issuer_key};
use vanban::model::DocumentKind;
use vanban::render::{Backends, Formats, templates::Templates};
use vanban::schedule::execute::JobExecutor;
use vanban::schedule::service::{Alert, Service, Waiter};
use vanban::schedule::{RunOutcome, history};
use vanban::shutdown::StopSignal;
use vanban::state::Store;

#[path = "support/sink.rs"]
mod sink;
use sink::{Sink, parse_eml};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

fn vn(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    VIETNAM
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[derive(Default)]
struct Alerts(std::sync::Mutex<Vec<String>>);

impl Alert for Alerts {
    fn alert(&self, subject: &str, _body: &str, _now: DateTime<Utc>) -> Result<(), String> {
        self.0.lock().unwrap().push(subject.to_owned());
        Ok(())
    }
}

/// Moves the clock to each deadline; the first time it passes `approve_at` it runs `approve`
/// (the approver, at that moment); past `end` it stops the service.
struct Day<'a> {
    clock: &'a FixedClock,
    approve_at: DateTime<Utc>,
    end: DateTime<Utc>,
    approve: &'a dyn Fn(),
    approved: Cell<Option<DateTime<Utc>>>,
}

impl Waiter for Day<'_> {
    fn wait_until(&self, _clock: &dyn Clock, deadline: DateTime<Utc>, stop: &StopSignal) {
        if deadline > self.end {
            self.clock.set(self.end);
            stop.request();
            return;
        }
        self.clock.set(deadline.max(self.clock.now()));
        if self.approved.get().is_none() && self.clock.now() >= self.approve_at {
            (self.approve)();
            self.approved.set(Some(self.clock.now()));
        }
    }
}

#[test]
fn the_service_submits_drafts_waits_for_approval_then_sends_once() {
    let sink = Sink::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(SAMPLES).join("directory.toml"),
        dir.path().join("directory.toml"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(SAMPLES).join("dam-ha-2024-h1.toml"),
        dir.path().join("dam-ha-2024-h1.toml"),
    )
    .unwrap();
    let text = format!(
        "directory = \"directory.toml\"\noutput_dir = \"out\"\nstate = \"vanban.sqlite\"\n\
         admin_email = \"it@example.vn\"\n\
         [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\naddress = \"vanphong@example.vn\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nmax_attempts = 1\n\
         retry_delay_seconds = 0\n\
         [approval]\napprovers = [\"vp\"]\napproval_wait = \"1h\"\n\
         [[jobs]]\nname = \"trinh\"\ncron = \"0 7 25 6 *\"\naction = \"render\"\n\
         covers = \"current-half\"\nperiod = \"dam-ha-{{year}}-h{{half}}.toml\"\n\
         [[jobs]]\nname = \"gui\"\ncron = \"0 8 25 6 *\"\naction = \"send\"\n\
         covers = \"current-half\"\nperiod = \"dam-ha-{{year}}-h{{half}}.toml\"\n",
        port = sink.port
    );
    let path = dir.path().join("vanban.toml");
    std::fs::write(&path, &text).unwrap();
    let config = vanban::input::config::load(&path).unwrap();

    let clock = FixedClock::new(vn(2024, 6, 24, 0, 0));
    // The approver runs `vanban approve` at 09:30:20, ninety minutes after the send was due.
    let approve = || {
        let store = Store::open_state(&config.state).unwrap();
        let backends = Backends::new(&Templates::default(), Formats::Both).unwrap();
        let renderers = backends.renderers();
        let env = IssueEnv {
            store: &store,
            clock: &clock,
            numbering: config.numbering,
            renderers: &renderers,
            signing: None,
        };
        let period = vanban::input::load_period(
            &dir.path().join("dam-ha-2024-h1.toml"),
            config.directory.as_deref(),
            clock.today_in(VIETNAM),
        )
        .unwrap();
        // Before approving: the send job has used no number.
        let register = vanban::issue::register::Register::new(&store);
        let issuer = issuer_key(period.issuer_of(DocumentKind::ReviewReport));
        assert!(register.issued(&issuer, 2024).unwrap().is_empty());
        assert!(
            register
                .reserved_unissued(&issuer, 2024)
                .unwrap()
                .is_empty()
        );
        let ids = approval::select(&period, &[], None).unwrap();
        let decided = approval::decide(
            &env,
            &period,
            &ids,
            Decision::Approved,
            "Hoàng Vĩnh Khuyến",
            None,
        )
        .unwrap();
        assert_eq!(decided.len(), 12);
    };
    let waiter = Day {
        clock: &clock,
        approve_at: vn(2024, 6, 25, 9, 30) + Duration::seconds(20),
        end: vn(2024, 6, 26, 0, 0),
        approve: &approve,
        approved: Cell::new(None),
    };
    let executor = JobExecutor::new(&config).unwrap();
    let alerts = Alerts::default();
    let service = Service::start(&config, &clock, &executor, &alerts).unwrap();
    service.run(&waiter, &StopSignal::new()).unwrap();
    drop(service);

    // The render job mailed the drafts to the approvers (vp), attached, with the page's link.
    let messages = parse_eml(&sink.received());
    let to_approver: Vec<_> = messages
        .iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("[vanban] Trình duyệt")
        })
        .collect();
    assert_eq!(to_approver.len(), 1, "{messages:#?}");
    let mail = to_approver[0];
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("http://127.0.0.1:8080/"), "{body}");
    assert!(body.contains("vanban approve"), "{body}");
    // Report and notice as PDF, ten letters as PDF and DOCX.
    assert_eq!(mail["attachments"].as_array().unwrap().len(), 2 + 10 * 2);

    // The send waited (no alert before the hour), then went within a minute of the approval.
    let approved = waiter.approved.get().unwrap();
    let store = Store::open_state(&config.state).unwrap();
    let runs = history(&store.conn(), "gui", 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, RunOutcome::Ok, "{:?}", runs[0].detail);
    let finished = runs[0].finished.unwrap();
    assert!(
        finished >= approved && finished - approved < Duration::minutes(1),
        "{finished} {approved}"
    );
    assert_eq!(messages.len(), 1 + 14, "the send's 14 messages, once each");
    let alerts = alerts.0.lock().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains("vẫn chờ duyệt"), "{alerts:?}");
    let trinh = history(&store.conn(), "trinh", 10).unwrap();
    assert_eq!(trinh[0].outcome, RunOutcome::Ok, "{:?}", trinh[0].detail);
    assert!(
        trinh[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("Đã trình duyệt 12 văn bản"),
        "{:?}",
        trinh[0].detail
    );
}

/// The clerk's "trình duyệt" from a terminal: `vanban submit` records the drafts and mails them
/// to the approvers once; unchanged drafts are not submitted twice; `send` holds everything
/// until `vanban approve`, then sends each message once.
#[test]
fn submit_from_the_command_line_tells_the_approvers_once_then_approve_lets_send_go() {
    let sink = Sink::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    for name in ["directory.toml", "dam-ha-2024-h1.toml"] {
        std::fs::copy(Path::new(SAMPLES).join(name), dir.path().join(name)).unwrap();
    }
    let text = format!(
        "directory = \"directory.toml\"\noutput_dir = \"out\"\nstate = \"vanban.sqlite\"\n\
         [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\naddress = \"vanphong@example.vn\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nmax_attempts = 1\n\
         retry_delay_seconds = 0\n[approval]\napprovers = [\"vp\"]\n",
        port = sink.port
    );
    std::fs::write(dir.path().join("vanban.toml"), text).unwrap();
    let vanban = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vanban"))
            .args(args)
            .arg(dir.path().join("dam-ha-2024-h1.toml"))
            .arg("--config")
            .arg(dir.path().join("vanban.toml"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };

    let (ok, out) = vanban(&["submit", "--by", "Trần Thị Văn Thư"]);
    assert!(ok, "{out}");
    assert!(out.contains("Đã trình duyệt 12 văn bản"), "{out}");
    assert!(out.contains("đã gửi thư cho người duyệt"), "{out}");
    let messages = parse_eml(&sink.received());
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("[vanban] Trình duyệt")
    );
    assert_eq!(
        messages[0]["attachments"].as_array().unwrap().len(),
        2 + 10 * 2
    );

    // Unchanged drafts: nothing recorded, nobody written to again.
    let (ok, out) = vanban(&["submit", "--by", "Trần Thị Văn Thư"]);
    assert!(ok, "{out}");
    assert!(out.contains("không trình lại"), "{out}");
    assert_eq!(parse_eml(&sink.received()).len(), 1);

    // Submitted is not approved: send holds every message, numberless.
    let (ok, out) = vanban(&["send"]);
    assert!(!ok, "{out}");
    assert!(out.contains("chờ duyệt"), "{out}");
    assert_eq!(parse_eml(&sink.received()).len(), 1);

    let (ok, out) = vanban(&["approve", "--by", "Hoàng Vĩnh Khuyến"]);
    assert!(ok, "{out}");
    let (ok, out) = vanban(&["send"]);
    assert!(ok, "{out}");
    assert_eq!(
        parse_eml(&sink.received()).len(),
        1 + 14,
        "the 14 messages, once each"
    );
}

/// The approvers' mail fails (the server is down): nothing is recorded as submitted, so the
/// next `submit` tells them, instead of finding the drafts "unchanged" and telling nobody.
#[test]
fn a_submission_whose_mail_failed_is_not_recorded_and_the_next_one_tells_the_approvers() {
    let sink = Sink::start(&[]);
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    for name in ["directory.toml", "dam-ha-2024-h1.toml"] {
        std::fs::copy(Path::new(SAMPLES).join(name), dir.path().join(name)).unwrap();
    }
    let config = |port: u16| {
        format!(
            "directory = \"directory.toml\"\noutput_dir = \"out\"\nstate = \"vanban.sqlite\"\n\
             [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\naddress = \"vanphong@example.vn\"\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout_seconds = 2\n\
             max_attempts = 1\nretry_delay_seconds = 0\n[approval]\napprovers = [\"vp\"]\n"
        )
    };
    let submit = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vanban"))
            .args(["submit", "--by", "Trần Thị Văn Thư"])
            .arg(dir.path().join("dam-ha-2024-h1.toml"))
            .arg("--config")
            .arg(dir.path().join("vanban.toml"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };

    std::fs::write(dir.path().join("vanban.toml"), config(down)).unwrap();
    let (ok, out) = submit();
    assert!(!ok, "{out}");
    assert!(out.contains("Chưa trình duyệt được 12 văn bản"), "{out}");
    assert!(out.contains("chưa ghi là đã trình"), "{out}");

    std::fs::write(dir.path().join("vanban.toml"), config(sink.port)).unwrap();
    let (ok, out) = submit();
    assert!(ok, "{out}");
    assert!(out.contains("Đã trình duyệt 12 văn bản"), "{out}");
    assert_eq!(parse_eml(&sink.received()).len(), 1);
}
