//! `vanban jobs`: each job's schedule, what it does, its next firings in local time and its
//! last run, as text for the IT admin.

use std::fmt::Write as _;

use crate::state::Conn;
use chrono::{DateTime, Datelike, Utc, Weekday};
use chrono_tz::Tz;

use super::{JobRun, RunOutcome, ScheduleError, Trigger, history};
use crate::config::{Action, Config};
use crate::config::{CatchUp, Covers, covered_period};
use crate::model::DocumentKind;

/// How many upcoming firings to show per job.
pub const UPCOMING: usize = 3;

/// The listing. `history_db` is the state database if it exists (a service that never ran has
/// none, and listing must not create one).
pub fn describe_jobs(
    config: &Config,
    history_db: Option<&Conn<'_>>,
    now: DateTime<Utc>,
) -> Result<String, ScheduleError> {
    let mut out = String::new();
    if config.jobs.is_empty() {
        out.push_str("Chưa có tác vụ nào ([[jobs]]) trong tệp cấu hình.\n");
        return Ok(out);
    }
    // Writing to a String cannot fail; the results are ignored with `let _`.
    for (i, job) in config.jobs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let tz = job.schedule.timezone();
        let _ = writeln!(out, "{}", job.name);
        let _ = writeln!(
            out,
            "  lịch (cron):        {}   múi giờ {}",
            job.schedule.expr(),
            tz.name()
        );
        let action = match job.action {
            Action::Render => "render (tạo văn bản)",
            Action::Send => "send (cấp số, tạo và gửi văn bản)",
        };
        let documents = documents_text(&job.documents);
        let _ = writeln!(out, "  việc (action):      {action}: {documents}");
        let covers = match job.covers {
            Covers::CurrentHalf => "current-half (kỳ chứa ngày chạy)",
            Covers::PreviousHalf => "previous-half (kỳ trước ngày chạy)",
        };
        let _ = writeln!(out, "  kỳ (covers):        {covers}");
        let _ = writeln!(out, "  tệp kỳ (period):    {}", job.period);
        let catch_up = match job.catch_up {
            CatchUp::Once => "once (chạy bù một lần)",
            CatchUp::Skip => "skip (bỏ qua, ghi cảnh báo)",
        };
        let _ = writeln!(out, "  lỡ lịch (catch_up): {catch_up}");
        let upcoming = job.schedule.upcoming(now, UPCOMING);
        if upcoming.is_empty() {
            let _ = writeln!(out, "  lần chạy tới:       không còn lần nào");
        }
        for (n, due) in upcoming.iter().enumerate() {
            let local = due.with_timezone(&tz);
            let period = covered_period(job.covers, local.date_naive());
            let label = if n == 0 {
                "  lần chạy tới:      "
            } else {
                "                     "
            };
            let _ = writeln!(out, "{label} {}  → kỳ {period}", local_time(due, tz));
        }
        let last = match history_db {
            Some(conn) => history(conn, &job.name, 1)?.into_iter().next(),
            None => None,
        };
        let _ = writeln!(
            out,
            "  lần chạy gần nhất:  {}",
            match &last {
                Some(run) => describe_run(run, tz),
                None => "chưa chạy lần nào".to_owned(),
            }
        );
    }
    Ok(out)
}

/// "Thứ Hai 15/06/2026 08:00": the weekday helps an admin check a cron line at a glance.
fn local_time(t: &DateTime<Utc>, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    let weekday = match local.weekday() {
        Weekday::Mon => "Thứ Hai",
        Weekday::Tue => "Thứ Ba",
        Weekday::Wed => "Thứ Tư",
        Weekday::Thu => "Thứ Năm",
        Weekday::Fri => "Thứ Sáu",
        Weekday::Sat => "Thứ Bảy",
        Weekday::Sun => "Chủ nhật",
    };
    format!("{weekday} {}", local.format("%d/%m/%Y %H:%M:%S"))
}

fn describe_run(run: &JobRun, tz: Tz) -> String {
    let outcome = match run.outcome {
        RunOutcome::Running => "đang chạy",
        RunOutcome::Ok => "thành công",
        RunOutcome::Failed => "thất bại",
        RunOutcome::Skipped => "bỏ qua",
        RunOutcome::Interrupted => "bị gián đoạn",
        RunOutcome::Waiting => "chờ duyệt",
    };
    let trigger = match run.trigger {
        Trigger::Schedule => "theo lịch",
        Trigger::CatchUp => "chạy bù",
        Trigger::Manual => "run-job",
    };
    let mut text = format!(
        "đến hạn {} ({trigger}) — {outcome} ({})",
        local_time(&run.due, tz),
        run.outcome
    );
    if let Some(finished) = run.finished {
        let _ = write!(text, ", xong {}", local_time(&finished, tz));
    }
    if let Some(detail) = run.detail.as_deref().filter(|d| !d.is_empty()) {
        let first: String = detail
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        let _ = write!(text, "\n                      {first}");
    }
    text
}

/// The documents a job produces ("tất cả" when the job names none).
fn documents_text(documents: &[DocumentKind]) -> String {
    if documents.is_empty() {
        return "tất cả".to_owned();
    }
    documents
        .iter()
        .map(|k| k.slug())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{claim_firing, finish_firing};
    use crate::state::store::JOB_RUNS_SQL as SCHEMA;
    use chrono::TimeZone;
    use std::path::Path;

    const CONFIG: &str = r#"
[sender]
name = "Văn phòng"
address = "vanphong@example.vn"
[[jobs]]
name = "bao-cao"
cron = "0 8 15 6,12 *"
action = "send"
documents = ["review-report"]
covers = "current-half"
period = "data/{year}-h{half}.toml"
[[jobs]]
name = "utc"
cron = "0 18 30 6 *"
timezone = "UTC"
action = "render"
covers = "previous-half"
period = "data/{year}-h{half}.toml"
catch_up = "skip"
"#;

    #[test]
    fn lists_next_three_firings_in_local_time_and_the_last_run() {
        let config =
            crate::input::config::parse(Path::new("/etc/vanban/vanban.toml"), CONFIG, &|_| None)
                .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let text = describe_jobs(&config, None, now).unwrap();
        for expected in [
            "bao-cao\n",
            "0 8 15 6,12 *   múi giờ Asia/Ho_Chi_Minh",
            "send (cấp số, tạo và gửi văn bản): review-report",
            "/etc/vanban/data/{year}-h{half}.toml",
            "lần chạy tới:       Thứ Hai 15/06/2026 08:00:00  → kỳ 2026-h1",
            "Thứ Ba 15/12/2026 08:00:00  → kỳ 2026-h2",
            "Thứ Ba 15/06/2027 08:00:00  → kỳ 2027-h1",
            "chưa chạy lần nào",
            // The UTC job is shown in UTC; previous-half of 30 June is last year's whole.
            "render (tạo văn bản): tất cả",
            "Thứ Ba 30/06/2026 18:00:00  → kỳ 2025-h2",
            "skip (bỏ qua, ghi cảnh báo)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("15/12/2027"), "only three firings:\n{text}");

        let store = crate::state::Store::open_in_memory().unwrap();
        let conn = store.conn();
        conn.execute_batch(SCHEMA).unwrap();
        let due = Utc.with_ymd_and_hms(2025, 12, 15, 1, 0, 0).unwrap();
        claim_firing(&conn, "bao-cao", due, due, Trigger::Schedule).unwrap();
        finish_firing(
            &conn,
            "bao-cao",
            due,
            due + chrono::Duration::seconds(75),
            RunOutcome::Failed,
            "Tệp kỳ báo cáo data/2025-h2.toml không dùng được:\nchi tiết",
        )
        .unwrap();
        let text = describe_jobs(&config, Some(&conn), now).unwrap();
        assert!(
            text.contains(
                "lần chạy gần nhất:  đến hạn Thứ Hai 15/12/2025 08:00:00 (theo lịch) — thất bại \
                 (failed), xong Thứ Hai 15/12/2025 08:01:15\n                      \
                 Tệp kỳ báo cáo data/2025-h2.toml không dùng được:\n"
            ),
            "{text}"
        );
    }
}
