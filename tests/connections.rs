//! `vanban send` with several SMTP connections and its progress as it happens, end to end: the
//! built binary against the tests' SMTP server (tests/support/sink.rs) made slow (`--delay-ms`:
//! every command answered after a wait), with the review report going to a large group so one batch
//! is hundreds of messages.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[path = "support/sink.rs"]
mod sink;
use sink::Sink;
#[path = "support/big_office.rs"]
mod big_office;
use big_office::{Office, per_recipient, unit};

/// Waits (at most two minutes) until the server has stored at least `n` messages, checking
/// that `child` is still running.
fn wait_for_stored(sink: &Sink, n: u32, child: &mut Child) {
    let start = Instant::now();
    while sink.stored() < n {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("send ended before {n} messages were stored: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} messages stored in two minutes",
            sink.stored()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// "Tổng: chờ gửi 10, không rõ kết quả 2, đã gửi 28." → the count after `what`, 0 if absent.
fn total(status: &str, what: &str) -> usize {
    let line = status
        .lines()
        .find(|l| l.starts_with("Tổng:"))
        .unwrap_or_else(|| panic!("no total in {status}"));
    line.trim_start_matches("Tổng:")
        .trim_end_matches('.')
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix(what)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Four connections to a server that answers every command after 50 ms: 400 messages, each
/// recipient exactly once, four connections open at once (never more), the report in plan
/// order, and every message recorded as sent.
#[test]
fn four_connections_deliver_400_messages_each_recipient_exactly_once() {
    let sink = Sink::start(&["--delay-ms", "50"]);
    let office = Office::new(sink.port, 400, 4);
    let (out, text) = office.send();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("400 thư — đã gửi 400, đã gửi trước đó 0, lỗi 0, không rõ kết quả 0"),
        "{text}"
    );
    let counts = per_recipient(&sink);
    assert_eq!(counts.len(), 400, "{counts:?}");
    for i in 1..=400 {
        let address = format!("{}@example.vn", unit(i));
        assert_eq!(counts.get(&address), Some(&1), "{address}");
    }
    assert_eq!(sink.peak_connections(), 4);
    // The report lists the messages in plan order (the group's order), whatever order the
    // exchanges ended in.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<String> = office
        .report_lines(&stdout)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let planned: Vec<String> = (1..=400).map(unit).collect();
    assert_eq!(listed, planned);
    let status = office.status();
    assert_eq!(total(&status, "đã gửi"), 400, "{status}");
    // A second run sends nothing.
    let (out, text) = office.send();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("đã gửi 0, đã gửi trước đó 400"), "{text}");
    assert_eq!(sink.received().len(), 400);
}

/// SIGKILL in the middle of a batch on four connections, then a second run: no recipient gets
/// a message twice; the messages in flight at the kill (at most four) are reported unknown and
/// stay unknown (never resent automatically); everything else is sent exactly once.
#[test]
fn a_kill_mid_batch_on_four_connections_sends_nothing_twice_and_unknown_stays_unknown() {
    let sink = Sink::start(&["--delay-ms", "50"]);
    let office = Office::new(sink.port, 60, 4);
    let mut child = office.spawn_send();
    wait_for_stored(&sink, 12, &mut child);
    child.kill().unwrap(); // SIGKILL: nothing recorded after this instant
    child.wait().unwrap();

    let status = office.status();
    let unknown_at_kill: Vec<String> = office
        .report_lines(&status)
        .into_iter()
        .filter(|(_, l)| l.contains("không rõ kết quả"))
        .map(|(id, _)| id)
        .collect();
    assert!(
        (1..=4).contains(&unknown_at_kill.len()),
        "one to four messages were in flight: {status}"
    );
    assert!(total(&status, "đã gửi") >= 8, "{status}");

    let (out, text) = office.send();
    assert!(
        !out.status.success(),
        "an unknown outcome is not a success: {text}"
    );
    let status = office.status();
    let unknown_after: Vec<String> = office
        .report_lines(&status)
        .into_iter()
        .filter(|(_, l)| l.contains("không rõ kết quả"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(unknown_after, unknown_at_kill, "{status}");
    assert_eq!(
        total(&status, "đã gửi"),
        60 - unknown_at_kill.len(),
        "{status}"
    );

    let counts = per_recipient(&sink);
    for i in 1..=60 {
        let id = unit(i);
        let got = counts
            .get(&format!("{id}@example.vn"))
            .copied()
            .unwrap_or(0);
        if unknown_at_kill.contains(&id) {
            // Killed before or after the server stored it: at most once, never resent.
            assert!(got <= 1, "{id} got {got}");
        } else {
            assert_eq!(got, 1, "{id}");
        }
    }
}

/// SIGTERM during a batch on four connections: the exchanges in flight finish and are recorded,
/// no new one starts, nothing is unknown, and the next run sends the rest, each once.
#[test]
fn sigterm_on_four_connections_finishes_the_exchanges_in_flight_and_starts_none() {
    let sink = Sink::start(&["--delay-ms", "50"]);
    let office = Office::new(sink.port, 40, 4);
    let mut child = office.spawn_send();
    wait_for_stored(&sink, 8, &mut child);
    // The shell's own kill: a minimal Debian has no procps (/bin/kill).
    let killed = Command::new("sh")
        .args(["-c", "kill -TERM \"$0\"", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("đã dừng theo yêu cầu"), "{text}");
    let stored = sink.received().len();
    assert!(stored < 40, "the batch stopped early: {text}");
    let status = office.status();
    assert_eq!(total(&status, "không rõ kết quả"), 0, "{status}");
    assert_eq!(total(&status, "đã gửi"), stored, "{status}");

    let (out, text) = office.send();
    assert!(out.status.success(), "{text}");
    let counts = per_recipient(&sink);
    assert_eq!(counts.len(), 40);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

/// The progress of a batch reaches stderr as it goes: the first message's line is read while
/// the server is still far from the last message, and with stderr not a terminal there is no
/// progress bar, only lines.
#[test]
fn progress_lines_are_streamed_while_the_batch_is_still_sending() {
    let sink = Sink::start(&["--delay-ms", "50"]);
    let office = Office::new(sink.port, 40, 2);
    let mut child = office.spawn_send();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let first = loop {
        let line = lines
            .next()
            .expect("stderr ended before any progress line")
            .unwrap();
        if line.contains("thư ") {
            break line;
        }
    };
    let stored_then = sink.stored();
    assert!(
        stored_then < 40,
        "the first line came only after all 40 messages: {first}"
    );
    assert!(
        first.contains("/40 (") && first.contains("đã gửi"),
        "{first}"
    );
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{rest:?}");
    let progress = rest.iter().filter(|l| l.contains("thư ")).count() + 1;
    assert_eq!(progress, 40, "{rest:#?}");
    // Not a terminal: plain lines, no bar redrawn with carriage returns or escape sequences.
    for line in std::iter::once(&first).chain(&rest) {
        assert!(
            !line.contains('\r') && !line.contains('\u{1b}'),
            "a progress bar reached a pipe: {line:?}"
        );
    }
}

/// The service's path (`vanban run-job`, as the scheduler runs a firing) logs each message's
/// line as it goes too, with its own time: the first is read while the server is still far from
/// the last message, and the lines' times are not all one.
#[test]
fn a_jobs_batch_logs_each_message_as_it_goes() {
    use chrono::Datelike;
    use vanban::clock::{Clock, SystemClock};
    let sink = Sink::start(&["--delay-ms", "50"]);
    let office = Office::new(sink.port, 40, 2);
    // A job covering the current half-year, and the sample period moved there.
    let today = SystemClock.now().date_naive();
    let (year, half) = (today.year(), if today.month() <= 6 { 1 } else { 2 });
    let sample = std::fs::read_to_string(office.path("dam-ha-2024-h1.toml")).unwrap();
    let moved = sample
        .replace("year = 2024", &format!("year = {year}"))
        .replace("half = 1 ", &format!("half = {half} "))
        .replace("2024-", &format!("{year}-"));
    std::fs::write(office.path(&format!("ky-{year}-h{half}.toml")), moved).unwrap();
    let mut config = std::fs::read_to_string(office.path("vanban.toml")).unwrap();
    config.push_str(
        "\n[[jobs]]\nname = \"bao-cao\"\ncron = \"0 8 15 6,12 *\"\naction = \"send\"\n\
         documents = [\"review-report\"]\ncovers = \"current-half\"\n\
         period = \"ky-{year}-h{half}.toml\"\n",
    );
    std::fs::write(office.path("vanban.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(["run-job", "bao-cao", "--config"])
        .arg(office.path("vanban.toml"))
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = loop {
        let line = lines
            .next()
            .expect("the log ended before any message's line")
            .unwrap();
        if line.contains("thư ") {
            break line;
        }
    };
    assert!(
        sink.stored() < 40,
        "the first line came only after all 40 messages: {first}"
    );
    let rest: Vec<String> = lines
        .map(Result::unwrap)
        .filter(|l| l.contains("thư "))
        .collect();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{rest:#?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(rest.len() + 1, 40, "{rest:#?}");
    // "2026-11-30T06:32:42.123+07:00 INFO thư 1/40 (…)": the times differ from first to last.
    let time = |line: &str| {
        line.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(time(&first).contains("+07:00"), "{first}");
    assert_ne!(
        time(&first),
        time(rest.last().unwrap()),
        "{first}\n{rest:#?}"
    );
}

/// At a terminal, `send` draws a bar (done, remaining, rate, time left, in Vietnamese) instead
/// of a line per message sent. `script` (util-linux) runs it on a pseudo-terminal and copies
/// what it drew.
#[test]
#[ignore = "needs script (util-linux, Debian's bsdutils) for a terminal: run .ci/run"]
fn at_a_terminal_send_draws_a_bar_instead_of_a_line_per_message() {
    let sink = Sink::start(&["--delay-ms", "20"]);
    let office = Office::new(sink.port, 30, 4);
    let command = format!(
        "'{}' send '{}' --config '{}' --only review-report",
        env!("CARGO_BIN_EXE_vanban"),
        office.path("dam-ha-2024-h1.toml").display(),
        office.path("vanban.toml").display(),
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("RUST_LOG")
        .output()
        .expect("script (util-linux) must be installed (.ci/run)");
    let drawn = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{drawn}");
    assert!(
        drawn.contains("/30 thư") && drawn.contains("thư/giây") && drawn.contains("còn khoảng"),
        "no bar: {drawn}"
    );
    assert!(
        !drawn.contains("thư 1/30 ("),
        "a line per message at a terminal: {drawn}"
    );
    // The summary still comes at the end, and every recipient got the message once.
    assert!(drawn.contains("đã gửi 30"), "{drawn}");
    let counts = per_recipient(&sink);
    assert_eq!(counts.len(), 30);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}
