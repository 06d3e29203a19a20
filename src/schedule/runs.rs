//! Run history of scheduled jobs, in the ledger's SQLite database: one row per firing,
//! keyed by (job, due time), so a firing is claimed at most once, ever — even across a
//! crash and restart.
//!
//! Times are stored as RFC 3339 UTC text to the second (`2026-12-25T01:00:00Z`): fixed
//! width, so text order is time order and `MAX(due)` is the latest firing.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::ScheduleError;

const CREATE_JOB_RUNS: &str = "\
CREATE TABLE IF NOT EXISTS job_runs (
    job      TEXT NOT NULL,
    due      TEXT NOT NULL,
    started  TEXT,
    finished TEXT,
    outcome  TEXT NOT NULL
             CHECK (outcome IN ('running', 'ok', 'failed', 'skipped', 'interrupted')),
    detail   TEXT,
    PRIMARY KEY (job, due)
)";

/// SQL for the ledger's migration runner to append, in order.
pub fn migrations() -> &'static [&'static str] {
    &[CREATE_JOB_RUNS]
}

/// The state of one firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    /// Claimed and started; not finished (yet, or ever if the process died).
    Running,
    Ok,
    Failed,
    /// Not run: missed while the service was down (catch-up policy).
    Skipped,
    /// Found still `Running` at service start: the process died mid-run. Never re-run,
    /// since messages may already have gone out; the ledger says which.
    Interrupted,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
            RunOutcome::Skipped => "skipped",
            RunOutcome::Interrupted => "interrupted",
        }
    }

    fn from_db(text: &str) -> Option<RunOutcome> {
        Some(match text {
            "running" => RunOutcome::Running,
            "ok" => RunOutcome::Ok,
            "failed" => RunOutcome::Failed,
            "skipped" => RunOutcome::Skipped,
            "interrupted" => RunOutcome::Interrupted,
            _ => return None,
        })
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the run history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub job: String,
    pub due: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub outcome: RunOutcome,
    pub detail: Option<String>,
}

/// Takes ownership of the firing of `job` due at `due` (stored to the second).
/// Returns false if that firing already has a row — claimed by this or an earlier process,
/// finished, skipped or interrupted — and must not run. The insert is one atomic statement.
pub fn claim_firing(
    conn: &Connection,
    job: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, ScheduleError> {
    let inserted = conn.execute(
        "INSERT INTO job_runs (job, due, started, outcome) VALUES (?1, ?2, ?3, 'running')
         ON CONFLICT (job, due) DO NOTHING",
        params![job, db_time(due), db_time(now)],
    )?;
    Ok(inserted == 1)
}

/// Records how a claimed firing ended (`Ok` or `Failed`, with the validation or delivery
/// messages in `detail`; empty `detail` is stored as NULL). Errors if the firing is not
/// currently `Running`, or if `outcome` is `Running`.
pub fn finish_firing(
    conn: &Connection,
    job: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    outcome: RunOutcome,
    detail: &str,
) -> Result<(), ScheduleError> {
    let not_running = || ScheduleError::NotRunning {
        job: job.to_owned(),
        due: db_time(due),
        outcome: outcome.as_str(),
    };
    if outcome == RunOutcome::Running {
        return Err(not_running());
    }
    let updated = conn.execute(
        "UPDATE job_runs SET finished = ?3, outcome = ?4, detail = ?5
         WHERE job = ?1 AND due = ?2 AND outcome = 'running'",
        params![
            job,
            db_time(due),
            db_time(now),
            outcome.as_str(),
            non_empty(detail)
        ],
    )?;
    if updated == 1 {
        Ok(())
    } else {
        Err(not_running())
    }
}

/// Records a firing that will not run (catch-up `skip`, or the earlier misses a `once`
/// plan stands for). Returns false if the firing already had a row.
pub fn record_skipped(
    conn: &Connection,
    job: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    detail: &str,
) -> Result<bool, ScheduleError> {
    let inserted = conn.execute(
        "INSERT INTO job_runs (job, due, finished, outcome, detail)
         VALUES (?1, ?2, ?3, 'skipped', ?4)
         ON CONFLICT (job, due) DO NOTHING",
        params![job, db_time(due), db_time(now), non_empty(detail)],
    )?;
    Ok(inserted == 1)
}

/// Marks every firing still `Running` as `Interrupted` and returns them, for the log.
/// Call once at service start, while holding the single-instance lock: a `Running` row
/// then can only belong to a process that died. Those firings are not re-run.
pub fn recover_interrupted(
    conn: &Connection,
    now: DateTime<Utc>,
) -> Result<Vec<JobRun>, ScheduleError> {
    let mut stmt = conn.prepare(
        "UPDATE job_runs SET outcome = 'interrupted', finished = ?1, detail = ?2
         WHERE outcome = 'running'
         RETURNING job, due, started, finished, outcome, detail",
    )?;
    let rows = stmt
        .query_map(
            params![
                db_time(now),
                "Dịch vụ đã dừng (sập hoặc bị tắt) khi lần chạy này đang dở. Không chạy lại \
                 để tránh gửi trùng; xem `vanban status` để biết thư nào đã gửi, thư nào chưa."
            ],
            raw_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut runs = rows
        .into_iter()
        .map(JobRun::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    runs.sort_by(|a, b| (&a.job, a.due).cmp(&(&b.job, b.due)));
    Ok(runs)
}

/// Due time of the latest firing recorded for `job`, whatever its outcome.
pub fn last_due(conn: &Connection, job: &str) -> Result<Option<DateTime<Utc>>, ScheduleError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT MAX(due) FROM job_runs WHERE job = ?1",
            params![job],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    text.map(|t| parse_db_time(job, "due", &t)).transpose()
}

/// The `limit` latest firings of `job`, newest first.
pub fn history(conn: &Connection, job: &str, limit: usize) -> Result<Vec<JobRun>, ScheduleError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare(
        "SELECT job, due, started, finished, outcome, detail FROM job_runs
         WHERE job = ?1 ORDER BY due DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![job, limit], raw_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(JobRun::try_from).collect()
}

type RawRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

impl TryFrom<RawRow> for JobRun {
    type Error = ScheduleError;

    fn try_from(
        (job, due, started, finished, outcome, detail): RawRow,
    ) -> Result<Self, Self::Error> {
        let due = parse_db_time(&job, "due", &due)?;
        let started = started
            .map(|t| parse_db_time(&job, "started", &t))
            .transpose()?;
        let finished = finished
            .map(|t| parse_db_time(&job, "finished", &t))
            .transpose()?;
        let outcome =
            RunOutcome::from_db(&outcome).ok_or_else(|| ScheduleError::CorruptHistory {
                job: job.clone(),
                column: "outcome",
                value: outcome.clone(),
            })?;
        Ok(JobRun {
            job,
            due,
            started,
            finished,
            outcome,
            detail,
        })
    }
}

fn db_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_db_time(
    job: &str,
    column: &'static str,
    text: &str,
) -> Result<DateTime<Utc>, ScheduleError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ScheduleError::CorruptHistory {
            job: job.to_owned(),
            column,
            value: text.to_owned(),
        })
}

fn non_empty(detail: &str) -> Option<&str> {
    (!detail.is_empty()).then_some(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock, VIETNAM};
    use crate::schedule::{CatchUp, CatchUpPlan, CronSchedule, plan_catch_up};
    use chrono::{Duration, TimeZone};

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for sql in migrations() {
            conn.execute_batch(sql).unwrap();
        }
        conn
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn migrations_can_run_twice() {
        let conn = db();
        for sql in migrations() {
            conn.execute_batch(sql).unwrap();
        }
    }

    #[test]
    fn a_firing_is_claimed_once() {
        let conn = db();
        let due = utc(2026, 6, 25, 1, 0);
        assert!(claim_firing(&conn, "bao-cao", due, utc(2026, 6, 25, 1, 0)).unwrap());
        assert!(!claim_firing(&conn, "bao-cao", due, utc(2026, 6, 25, 1, 1)).unwrap());
        // Same due time, other job: independent.
        assert!(claim_firing(&conn, "thong-bao", due, utc(2026, 6, 25, 1, 0)).unwrap());
        // Sub-second noise in `due` is the same firing.
        let noisy = due + Duration::milliseconds(400);
        assert!(!claim_firing(&conn, "bao-cao", noisy, utc(2026, 6, 25, 1, 2)).unwrap());

        finish_firing(
            &conn,
            "bao-cao",
            due,
            utc(2026, 6, 25, 1, 3),
            RunOutcome::Ok,
            "",
        )
        .unwrap();
        assert!(!claim_firing(&conn, "bao-cao", due, utc(2026, 6, 25, 2, 0)).unwrap());
        let runs = history(&conn, "bao-cao", 10).unwrap();
        assert_eq!(
            runs,
            vec![JobRun {
                job: "bao-cao".into(),
                due,
                started: Some(utc(2026, 6, 25, 1, 0)),
                finished: Some(utc(2026, 6, 25, 1, 3)),
                outcome: RunOutcome::Ok,
                detail: None,
            }]
        );
    }

    #[test]
    fn finish_requires_a_running_claim() {
        let conn = db();
        let due = utc(2026, 6, 25, 1, 0);
        let now = utc(2026, 6, 25, 1, 5);
        assert!(matches!(
            finish_firing(&conn, "x", due, now, RunOutcome::Ok, ""),
            Err(ScheduleError::NotRunning { .. })
        ));
        claim_firing(&conn, "x", due, now).unwrap();
        assert!(finish_firing(&conn, "x", due, now, RunOutcome::Running, "").is_err());
        finish_firing(
            &conn,
            "x",
            due,
            now,
            RunOutcome::Failed,
            "Thiếu tệp data/2026-h1.toml",
        )
        .unwrap();
        // Already finished: a second finish is refused, the first result stays.
        assert!(finish_firing(&conn, "x", due, now, RunOutcome::Ok, "").is_err());
        let run = &history(&conn, "x", 1).unwrap()[0];
        assert_eq!(run.outcome, RunOutcome::Failed);
        assert_eq!(run.detail.as_deref(), Some("Thiếu tệp data/2026-h1.toml"));
    }

    #[test]
    fn crash_between_claim_and_finish_is_not_rerun_and_shows_interrupted() {
        let schedule = CronSchedule::parse("0 8 25 6,12 *", VIETNAM).unwrap();
        let clock = FixedClock::new(utc(2026, 6, 20, 0, 0));
        let conn = db();

        // First process: the firing comes due, is claimed, and the process dies mid-run.
        let due = schedule.next_after(clock.now()).unwrap();
        assert_eq!(due, utc(2026, 6, 25, 1, 0));
        clock.set(due);
        assert!(claim_firing(&conn, "bao-cao", due, clock.now()).unwrap());

        // Restart ten minutes later.
        clock.advance(Duration::minutes(10));
        let interrupted = recover_interrupted(&conn, clock.now()).unwrap();
        assert_eq!(interrupted.len(), 1);
        assert_eq!(interrupted[0].due, due);
        assert_eq!(interrupted[0].outcome, RunOutcome::Interrupted);
        assert_eq!(interrupted[0].finished, Some(utc(2026, 6, 25, 1, 10)));
        assert!(
            interrupted[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("Không chạy lại")
        );

        // The scheduler's view after restart: nothing to catch up, and the firing
        // cannot be claimed again.
        let last = last_due(&conn, "bao-cao").unwrap();
        assert_eq!(last, Some(due));
        let plan = plan_catch_up(
            &schedule,
            last,
            clock.now(),
            CatchUp::Once,
            utc(2026, 1, 1, 0, 0),
        );
        assert_eq!(plan, CatchUpPlan::NothingMissed);
        assert!(!claim_firing(&conn, "bao-cao", due, clock.now()).unwrap());
        assert_eq!(
            history(&conn, "bao-cao", 5).unwrap()[0].outcome,
            RunOutcome::Interrupted
        );

        // Recovery is idempotent: nothing is left running.
        assert!(recover_interrupted(&conn, clock.now()).unwrap().is_empty());
        // And the next firing is December's.
        assert_eq!(
            schedule.next_after(clock.now()),
            Some(utc(2026, 12, 25, 1, 0))
        );
    }

    #[test]
    fn a_simulated_half_year_runs_each_firing_once() {
        // Drive a fake clock through July–December 2026, firing every Monday at 08:00.
        let schedule = CronSchedule::parse("0 8 * * 1", VIETNAM).unwrap();
        let clock = FixedClock::new(utc(2026, 7, 1, 0, 0));
        let conn = db();
        let end = utc(2027, 1, 1, 0, 0);
        let mut runs = 0;
        while let Some(due) = schedule.next_after(clock.now()).filter(|t| *t < end) {
            clock.set(due);
            assert!(claim_firing(&conn, "tuan", due, clock.now()).unwrap());
            // A duplicate wake-up for the same firing is refused.
            assert!(!claim_firing(&conn, "tuan", due, clock.now()).unwrap());
            clock.advance(Duration::seconds(30));
            finish_firing(&conn, "tuan", due, clock.now(), RunOutcome::Ok, "").unwrap();
            runs += 1;
        }
        // Mondays from 6 July to 28 December 2026.
        assert_eq!(runs, 26);
        assert_eq!(
            last_due(&conn, "tuan").unwrap(),
            Some(utc(2026, 12, 28, 1, 0))
        );
        let recent = history(&conn, "tuan", 3).unwrap();
        assert_eq!(recent.len(), 3);
        assert_eq!(recent[0].due, utc(2026, 12, 28, 1, 0));
        assert_eq!(recent[2].due, utc(2026, 12, 14, 1, 0));
    }

    #[test]
    fn skipped_firings_count_as_recorded() {
        let conn = db();
        let due = utc(2026, 6, 1, 1, 0);
        assert!(
            record_skipped(&conn, "tuan", due, utc(2026, 6, 3, 2, 0), "Bỏ qua 13 lần").unwrap()
        );
        assert!(!record_skipped(&conn, "tuan", due, utc(2026, 6, 3, 2, 0), "").unwrap());
        assert!(!claim_firing(&conn, "tuan", due, utc(2026, 6, 3, 2, 0)).unwrap());
        assert_eq!(last_due(&conn, "tuan").unwrap(), Some(due));
        let run = &history(&conn, "tuan", 1).unwrap()[0];
        assert_eq!(run.outcome, RunOutcome::Skipped);
        assert_eq!(run.started, None);
        assert_eq!(last_due(&conn, "khac").unwrap(), None);
    }

    #[test]
    fn corrupt_rows_are_reported_with_the_job() {
        let conn = db();
        conn.execute(
            "INSERT INTO job_runs (job, due, outcome) VALUES ('hong', 'hôm qua', 'ok')",
            [],
        )
        .unwrap();
        let err = history(&conn, "hong", 5).unwrap_err().to_string();
        assert!(err.contains("hong") && err.contains("hôm qua"), "{err}");
    }
}
