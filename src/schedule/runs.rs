//! Run history of scheduled jobs, in the ledger's SQLite database: one row per firing,
//! keyed by (job, due time), so a firing is claimed at most once, ever — even across a
//! crash and restart.
//!
//! Times are stored in the database's one time format (`crate::state::time_to_sql`,
//! `2026-12-25T01:00:00.000000Z`): fixed width, so text order is time order and `MAX(due)` is
//! the latest firing. A firing's due time is cut to the whole second before it is stored.

use std::fmt;

use crate::state::{Conn, DbResult, OptionalExtension, params};
use chrono::{DateTime, SubsecRound as _, Utc};

use super::ScheduleError;

/// Who started a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// The service, at the firing's due time (or a little later when it was busy).
    Schedule,
    /// The service at start, for a firing missed while it was down (policy `once`), or the
    /// `skipped` row that stands for missed firings (policy `skip`).
    CatchUp,
    /// `vanban run-job`: due is the moment it was run. Manual runs do not count as the
    /// job's last due time, so they never hide a scheduled firing from catch-up.
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch-up",
            Trigger::Manual => "manual",
        }
    }

    fn from_db(text: &str) -> Option<Trigger> {
        Some(match text {
            "schedule" => Trigger::Schedule,
            "catch-up" => Trigger::CatchUp,
            "manual" => Trigger::Manual,
            _ => return None,
        })
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Found still `Running` at service start: the process died mid-run. Resumed once at
    /// the service's next start (the ledger keeps messages already sent from going twice);
    /// not again if it dies while resumed.
    Interrupted,
    /// A send whose documents are not approved yet: the service looks again every minute and
    /// finishes it (ok or failed) once they are.
    Waiting,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
            RunOutcome::Skipped => "skipped",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Waiting => "waiting",
        }
    }

    fn from_db(text: &str) -> Option<RunOutcome> {
        Some(match text {
            "running" => RunOutcome::Running,
            "ok" => RunOutcome::Ok,
            "failed" => RunOutcome::Failed,
            "skipped" => RunOutcome::Skipped,
            "interrupted" => RunOutcome::Interrupted,
            "waiting" => RunOutcome::Waiting,
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
    pub trigger: Trigger,
}

/// Takes ownership of the firing of `job` due at `due` (stored to the second).
/// Returns false if that firing already has a row — claimed by this or an earlier process,
/// finished, skipped or interrupted — and must not run. The insert is one atomic statement.
pub fn claim_firing(
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    trigger: Trigger,
) -> Result<bool, ScheduleError> {
    let inserted = conn.execute(
        "INSERT INTO job_runs (job, due, started, outcome, started_by)
         VALUES (?1, ?2, ?3, 'running', ?4)
         ON CONFLICT (job, due) DO NOTHING",
        params![job, due_key(due), db_time(now), trigger.as_str()],
    )?;
    Ok(inserted == 1)
}

/// Records how a claimed firing ended (`Ok` or `Failed`, with the validation or delivery
/// messages in `detail`; empty `detail` is stored as NULL). Errors if the firing is not
/// currently `Running`, or if `outcome` is `Running`.
pub fn finish_firing(
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    outcome: RunOutcome,
    detail: &str,
) -> Result<(), ScheduleError> {
    let not_running = || ScheduleError::NotRunning {
        job: job.to_owned(),
        due: due_key(due),
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
            due_key(due),
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
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    detail: &str,
) -> Result<bool, ScheduleError> {
    let inserted = conn.execute(
        "INSERT INTO job_runs (job, due, finished, outcome, detail, started_by)
         VALUES (?1, ?2, ?3, 'skipped', ?4, 'catch-up')
         ON CONFLICT (job, due) DO NOTHING",
        params![job, due_key(due), db_time(now), non_empty(detail)],
    )?;
    Ok(inserted == 1)
}

/// The detail of a firing a dead process left running, to be resumed at the service's next
/// start. Resuming is safe for a send: the ledger keeps each message already sent sent, so
/// running the firing again sends only what had not gone yet.
pub const INTERRUPTED_TO_RESUME: &str = "Dịch vụ đã dừng (sập hoặc bị tắt) khi lần chạy này \
     đang dở; dịch vụ chạy tiếp lần chạy này khi khởi động (thư đã gửi không gửi lại).";

/// How the detail of a firing stopped by SIGTERM/SIGINT part-way begins: the service runs it on
/// from where it stopped at its next start (a restart for an upgrade must not leave half a batch
/// unsent until someone runs `vanban run-job`). What was done follows on the next lines.
pub const STOPPED_TO_RESUME: &str = "Dừng theo tín hiệu khi lần chạy này đang dở; dịch vụ chạy \
     tiếp lần chạy này khi khởi động lại (thư đã gửi không gửi lại).";

/// Whether a firing's record is to be resumed: interrupted by a death or by a stop, not yet
/// resumed. `detail` is matched in SQL as `?1` (a death) or as starting with `?2` (a stop).
const RESUMABLE: &str = "outcome = 'interrupted' AND (detail IS NOT DISTINCT FROM ?1 \
     OR substr(detail, 1, length(CAST(?2 AS TEXT))) = ?2)";

/// The detail of a resumed firing while it runs: if the process dies again, the firing is
/// not resumed a second time (whatever killed it would likely kill it again).
pub const RESUMED: &str = "Đang chạy tiếp sau khi bị gián đoạn.";

/// The detail of a firing interrupted again after it was resumed.
pub const INTERRUPTED_AGAIN: &str = "Dịch vụ lại dừng đột ngột khi đang chạy tiếp lần chạy \
     này; không tự chạy lại nữa. Xem `vanban status` để biết thư nào đã gửi, thư nào chưa, rồi \
     chạy lại bằng `vanban run-job`.";

/// Marks every firing still `Running` as `Interrupted` and returns them, for the log and the
/// admin. Call once at service start, while holding the single-instance lock: a `Running`
/// row then can only belong to a process that died. A firing interrupted for the first time
/// is left to be resumed ([`resumable_firings`]); one interrupted while being resumed is not.
pub fn recover_interrupted(
    conn: &Conn<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<JobRun>, ScheduleError> {
    let mut stmt = conn.prepare(
        "UPDATE job_runs SET outcome = 'interrupted', finished = ?1,
             detail = CASE WHEN detail IS NOT DISTINCT FROM ?2 THEN ?3 ELSE ?4 END
         WHERE outcome = 'running'
         RETURNING job, due, started, finished, outcome, detail, started_by",
    )?;
    let rows = stmt
        .query_map(
            params![
                db_time(now),
                RESUMED,
                INTERRUPTED_AGAIN,
                INTERRUPTED_TO_RESUME
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

/// Every interrupted firing still to be resumed, oldest first.
pub fn resumable_firings(conn: &Conn<'_>) -> Result<Vec<JobRun>, ScheduleError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT job, due, started, finished, outcome, detail, started_by FROM job_runs
             WHERE {RESUMABLE} ORDER BY due, job"
    ))?;
    let rows = stmt
        .query_map(params![INTERRUPTED_TO_RESUME, STOPPED_TO_RESUME], raw_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(JobRun::try_from).collect()
}

/// Takes an interrupted firing back to resume it: `interrupted` → `running`, in one
/// statement, so it is resumed once however many look. False if it is not to be resumed.
pub fn reclaim_interrupted(
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
) -> Result<bool, ScheduleError> {
    let updated = conn.execute(
        &format!(
            "UPDATE job_runs SET outcome = 'running', finished = NULL, detail = ?5
             WHERE job = ?3 AND due = ?4 AND {RESUMABLE}"
        ),
        params![
            INTERRUPTED_TO_RESUME,
            STOPPED_TO_RESUME,
            job,
            due_key(due),
            RESUMED
        ],
    )?;
    Ok(updated == 1)
}

/// Takes or renews the lease on a running firing for `instance` until `until` (instances on
/// one PostgreSQL database). False if the firing is no longer running or another instance
/// holds it: then this instance must stop working on it.
pub fn hold_lease(
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
    instance: &str,
    until: DateTime<Utc>,
) -> Result<bool, ScheduleError> {
    let updated = conn.execute(
        "UPDATE job_runs SET instance = ?3, lease_until = ?4
         WHERE job = ?1 AND due = ?2 AND outcome = 'running'
           AND (instance IS NULL OR instance = ?3)",
        params![job, due_key(due), instance, db_time(until)],
    )?;
    Ok(updated == 1)
}

/// Makes `instance` the holder of a running firing it has just reclaimed (a waiting send
/// taken back to run again), whoever held it before. Call in the transaction that reclaimed it.
pub fn take_lease(
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
    instance: &str,
    until: DateTime<Utc>,
) -> Result<bool, ScheduleError> {
    let updated = conn.execute(
        "UPDATE job_runs SET instance = ?3, lease_until = ?4
         WHERE job = ?1 AND due = ?2 AND outcome = 'running'",
        params![job, due_key(due), instance, db_time(until)],
    )?;
    Ok(updated == 1)
}

/// Running firings whose lease expired before `now` (their instance died or hung), each taken
/// over by `instance` until `until`, with the instance that held it. Call inside a writing
/// transaction, so two instances cannot take the same one.
pub fn take_expired(
    conn: &Conn<'_>,
    instance: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> DbResult<Vec<(JobRun, String)>> {
    let expired = conn.query_map(
        "SELECT job, due, started, finished, outcome, detail, started_by, instance FROM job_runs
         WHERE outcome = 'running' AND lease_until IS NOT NULL AND lease_until < ?1
           AND instance IS NOT NULL AND instance <> ?2
         ORDER BY due, job",
        params![db_time(now), instance],
        |r| Ok((raw_row(r)?, r.get::<_, String>(7)?)),
    )?;
    let mut taken = Vec::new();
    for (raw, dead) in expired {
        let (job, due) = (raw.0.clone(), raw.1.clone());
        conn.execute(
            "UPDATE job_runs SET instance = ?3, lease_until = ?4
             WHERE job = ?1 AND due = ?2 AND instance = ?5",
            params![job, due, instance, db_time(until), dead],
        )?;
        // A row the history cannot read is left to `vanban status` to report.
        if let Ok(run) = JobRun::try_from(raw) {
            taken.push((run, dead));
        }
    }
    Ok(taken)
}

/// Every firing waiting for approval, oldest first.
pub fn waiting_firings(conn: &Conn<'_>) -> Result<Vec<JobRun>, ScheduleError> {
    let mut stmt = conn.prepare(
        "SELECT job, due, started, finished, outcome, detail, started_by FROM job_runs
         WHERE outcome = 'waiting' ORDER BY due, job",
    )?;
    let rows = stmt
        .query_map([], raw_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(JobRun::try_from).collect()
}

/// Takes a waiting firing back to run it again: `waiting` → `running`, in one statement, so
/// it runs once however many look. False if it is no longer waiting.
pub fn reclaim_waiting(
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
) -> Result<bool, ScheduleError> {
    let updated = conn.execute(
        "UPDATE job_runs SET outcome = 'running'
         WHERE job = ?1 AND due = ?2 AND outcome = 'waiting'",
        params![job, due_key(due)],
    )?;
    Ok(updated == 1)
}

/// Marks that the admin was told this firing waits too long. True only the first time, so
/// the alert goes once.
pub fn mark_wait_alerted(
    conn: &Conn<'_>,
    job: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, ScheduleError> {
    let updated = conn.execute(
        "UPDATE job_runs SET waiting_alerted = ?3
         WHERE job = ?1 AND due = ?2 AND waiting_alerted IS NULL",
        params![job, due_key(due), db_time(now)],
    )?;
    Ok(updated == 1)
}

/// Due time of the latest scheduled firing recorded for `job`, whatever its outcome;
/// manual runs (`run-job`) are not counted.
pub fn last_due(conn: &Conn<'_>, job: &str) -> Result<Option<DateTime<Utc>>, ScheduleError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT MAX(due) FROM job_runs WHERE job = ?1 AND started_by <> 'manual'",
            params![job],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    text.map(|t| parse_db_time(job, "due", &t)).transpose()
}

/// When the service first saw `job`: recorded as `now` on the first call, returned unchanged
/// ever after. Catch-up counts no firing before it as missed.
pub fn first_seen(
    conn: &Conn<'_>,
    job: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    conn.execute(
        "INSERT INTO job_seen (job, first_seen) VALUES (?1, ?2) ON CONFLICT (job) DO NOTHING",
        params![job, db_time(now)],
    )?;
    let text: String = conn.query_row(
        "SELECT first_seen FROM job_seen WHERE job = ?1",
        params![job],
        |row| row.get(0),
    )?;
    parse_db_time(job, "first_seen", &text)
}

/// The `limit` latest firings of `job`, newest first.
pub fn history(conn: &Conn<'_>, job: &str, limit: usize) -> Result<Vec<JobRun>, ScheduleError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare(
        "SELECT job, due, started, finished, outcome, detail, started_by FROM job_runs
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
    String,
);

fn raw_row(row: &crate::state::Row) -> DbResult<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

impl TryFrom<RawRow> for JobRun {
    type Error = ScheduleError;

    fn try_from(
        (job, due, started, finished, outcome, detail, trigger): RawRow,
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
        let trigger = Trigger::from_db(&trigger).ok_or_else(|| ScheduleError::CorruptHistory {
            job: job.clone(),
            column: "started_by",
            value: trigger.clone(),
        })?;
        Ok(JobRun {
            job,
            due,
            started,
            finished,
            outcome,
            detail,
            trigger,
        })
    }
}

/// Whole seconds: a firing is keyed by its due second, so sub-second noise in `due` (a clock
/// read a little late) is the same firing.
fn due_key(due: DateTime<Utc>) -> String {
    db_time(due.trunc_subsecs(0))
}

fn db_time(t: DateTime<Utc>) -> String {
    crate::state::time_to_sql(&t)
}

fn parse_db_time(
    job: &str,
    column: &'static str,
    text: &str,
) -> Result<DateTime<Utc>, ScheduleError> {
    crate::state::time_from_sql(text).map_err(|_| ScheduleError::CorruptHistory {
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
    use crate::config::{CatchUp, CronSchedule};
    use crate::schedule::{CatchUpPlan, plan_catch_up};
    use crate::state::testing;
    use chrono::{Duration, TimeZone};

    /// A database with the full schema (the run history's tables among it).
    fn db() -> crate::state::Store {
        testing::open_in_memory().unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn schema_can_run_twice() {
        let store = db();
        let conn = store.conn();
        conn.execute_batch(crate::state::store::JOB_RUNS_SQL)
            .unwrap();
    }

    #[test]
    fn a_firing_is_claimed_once() {
        let store = db();
        let conn = store.conn();
        let due = utc(2026, 6, 25, 1, 0);
        assert!(
            claim_firing(
                &conn,
                "bao-cao",
                due,
                utc(2026, 6, 25, 1, 0),
                Trigger::Schedule
            )
            .unwrap()
        );
        assert!(
            !claim_firing(
                &conn,
                "bao-cao",
                due,
                utc(2026, 6, 25, 1, 1),
                Trigger::Schedule
            )
            .unwrap()
        );
        // Same due time, other job: independent.
        assert!(
            claim_firing(
                &conn,
                "thong-bao",
                due,
                utc(2026, 6, 25, 1, 0),
                Trigger::Schedule
            )
            .unwrap()
        );
        // Sub-second noise in `due` is the same firing.
        let noisy = due + Duration::milliseconds(400);
        assert!(
            !claim_firing(
                &conn,
                "bao-cao",
                noisy,
                utc(2026, 6, 25, 1, 2),
                Trigger::Schedule
            )
            .unwrap()
        );

        finish_firing(
            &conn,
            "bao-cao",
            due,
            utc(2026, 6, 25, 1, 3),
            RunOutcome::Ok,
            "",
        )
        .unwrap();
        assert!(
            !claim_firing(
                &conn,
                "bao-cao",
                due,
                utc(2026, 6, 25, 2, 0),
                Trigger::Schedule
            )
            .unwrap()
        );
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
                trigger: Trigger::Schedule,
            }]
        );
    }

    #[test]
    fn finish_requires_a_running_claim() {
        let store = db();
        let conn = store.conn();
        let due = utc(2026, 6, 25, 1, 0);
        let now = utc(2026, 6, 25, 1, 5);
        assert!(matches!(
            finish_firing(&conn, "x", due, now, RunOutcome::Ok, ""),
            Err(ScheduleError::NotRunning { .. })
        ));
        claim_firing(&conn, "x", due, now, Trigger::Schedule).unwrap();
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
    fn crash_between_claim_and_finish_is_not_claimed_again_but_resumed_once() {
        let schedule = CronSchedule::parse("0 8 25 6,12 *", VIETNAM).unwrap();
        let clock = FixedClock::new(utc(2026, 6, 20, 0, 0));
        let store = db();
        let conn = store.conn();

        // First process: the firing comes due, is claimed, and the process dies mid-run.
        let due = schedule.next_after(clock.now()).unwrap();
        assert_eq!(due, utc(2026, 6, 25, 1, 0));
        clock.set(due);
        assert!(claim_firing(&conn, "bao-cao", due, clock.now(), Trigger::Schedule).unwrap());

        // Restart ten minutes later.
        clock.advance(Duration::minutes(10));
        let interrupted = recover_interrupted(&conn, clock.now()).unwrap();
        assert_eq!(interrupted.len(), 1);
        assert_eq!(interrupted[0].due, due);
        assert_eq!(interrupted[0].outcome, RunOutcome::Interrupted);
        assert_eq!(interrupted[0].finished, Some(utc(2026, 6, 25, 1, 10)));
        // A firing cut short by a crash is resumed, not given up (by the service, see
        // `resume_interrupted`): the ledger keeps what it had sent sent.
        assert_eq!(
            interrupted[0].detail.as_deref(),
            Some(INTERRUPTED_TO_RESUME)
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
        assert!(!claim_firing(&conn, "bao-cao", due, clock.now(), Trigger::Schedule).unwrap());
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

        // Resumed once: reclaimed by one taker only.
        let resumable = resumable_firings(&conn).unwrap();
        assert_eq!(resumable.len(), 1);
        assert_eq!(resumable[0].due, due);
        assert!(reclaim_interrupted(&conn, "bao-cao", due).unwrap());
        assert!(!reclaim_interrupted(&conn, "bao-cao", due).unwrap());
        assert!(resumable_firings(&conn).unwrap().is_empty());
        // Dying again while resumed: interrupted for good.
        let again = recover_interrupted(&conn, clock.now()).unwrap();
        assert_eq!(again[0].detail.as_deref(), Some(INTERRUPTED_AGAIN));
        assert!(resumable_firings(&conn).unwrap().is_empty());
        assert!(!reclaim_interrupted(&conn, "bao-cao", due).unwrap());
        // A resumed firing that finishes is finished like any other.
        let store2 = db();
        let conn2 = store2.conn();
        assert!(claim_firing(&conn2, "bao-cao", due, clock.now(), Trigger::Schedule).unwrap());
        recover_interrupted(&conn2, clock.now()).unwrap();
        assert!(reclaim_interrupted(&conn2, "bao-cao", due).unwrap());
        finish_firing(&conn2, "bao-cao", due, clock.now(), RunOutcome::Ok, "xong").unwrap();
        assert_eq!(
            history(&conn2, "bao-cao", 5).unwrap()[0].outcome,
            RunOutcome::Ok
        );
    }

    #[test]
    fn a_simulated_half_year_runs_each_firing_once() {
        // Drive a fake clock through July–December 2026, firing every Monday at 08:00.
        let schedule = CronSchedule::parse("0 8 * * 1", VIETNAM).unwrap();
        let clock = FixedClock::new(utc(2026, 7, 1, 0, 0));
        let store = db();
        let conn = store.conn();
        let end = utc(2027, 1, 1, 0, 0);
        let mut runs = 0;
        while let Some(due) = schedule.next_after(clock.now()).filter(|t| *t < end) {
            clock.set(due);
            assert!(claim_firing(&conn, "tuan", due, clock.now(), Trigger::Schedule).unwrap());
            // A duplicate wake-up for the same firing is refused.
            assert!(!claim_firing(&conn, "tuan", due, clock.now(), Trigger::Schedule).unwrap());
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
        let store = db();
        let conn = store.conn();
        let due = utc(2026, 6, 1, 1, 0);
        assert!(
            record_skipped(&conn, "tuan", due, utc(2026, 6, 3, 2, 0), "Bỏ qua 13 lần").unwrap()
        );
        assert!(!record_skipped(&conn, "tuan", due, utc(2026, 6, 3, 2, 0), "").unwrap());
        assert!(
            !claim_firing(&conn, "tuan", due, utc(2026, 6, 3, 2, 0), Trigger::Schedule).unwrap()
        );
        assert_eq!(last_due(&conn, "tuan").unwrap(), Some(due));
        let run = &history(&conn, "tuan", 1).unwrap()[0];
        assert_eq!(run.outcome, RunOutcome::Skipped);
        assert_eq!(run.started, None);
        assert_eq!(last_due(&conn, "khac").unwrap(), None);
    }

    #[test]
    fn a_waiting_firing_is_taken_back_once_and_alerted_once() {
        // The full schema: `waiting` and `waiting_alerted` come with migration 5.
        let store = testing::open_in_memory().unwrap();
        let conn = &store.conn();
        let due = utc(2026, 6, 25, 1, 0);
        assert!(claim_firing(conn, "gui", due, due, Trigger::Schedule).unwrap());
        // Not waiting yet: nothing to take back.
        assert!(!reclaim_waiting(conn, "gui", due).unwrap());
        finish_firing(conn, "gui", due, due, RunOutcome::Waiting, "chờ duyệt").unwrap();
        let waiting = waiting_firings(conn).unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].outcome, RunOutcome::Waiting);
        assert!(reclaim_waiting(conn, "gui", due).unwrap());
        assert!(!reclaim_waiting(conn, "gui", due).unwrap(), "taken once");
        assert!(waiting_firings(conn).unwrap().is_empty());
        let later = due + chrono::Duration::minutes(1);
        finish_firing(conn, "gui", due, later, RunOutcome::Waiting, "chờ duyệt").unwrap();
        assert!(mark_wait_alerted(conn, "gui", due, later).unwrap());
        assert!(
            !mark_wait_alerted(conn, "gui", due, later).unwrap(),
            "alerted once"
        );
        assert!(reclaim_waiting(conn, "gui", due).unwrap());
        finish_firing(conn, "gui", due, later, RunOutcome::Ok, "đã gửi").unwrap();
        assert!(waiting_firings(conn).unwrap().is_empty());
        assert_eq!(history(conn, "gui", 5).unwrap()[0].outcome, RunOutcome::Ok);
        // The firing itself is never claimed again.
        assert!(!claim_firing(conn, "gui", due, later, Trigger::Schedule).unwrap());
    }

    #[test]
    fn corrupt_rows_are_reported_with_the_job() {
        let store = db();
        let conn = store.conn();
        conn.execute(
            "INSERT INTO job_runs (job, due, outcome) VALUES ('hong', 'hôm qua', 'ok')",
            [],
        )
        .unwrap();
        let err = history(&conn, "hong", 5).unwrap_err().to_string();
        assert!(err.contains("hong") && err.contains("hôm qua"), "{err}");
    }

    #[test]
    fn manual_runs_do_not_count_as_the_last_due_time() {
        let store = db();
        let conn = store.conn();
        let scheduled = utc(2026, 6, 25, 1, 0);
        assert!(claim_firing(&conn, "tb", scheduled, scheduled, Trigger::Schedule).unwrap());
        finish_firing(&conn, "tb", scheduled, scheduled, RunOutcome::Ok, "").unwrap();
        let manual = utc(2026, 7, 2, 3, 4);
        assert!(claim_firing(&conn, "tb", manual, manual, Trigger::Manual).unwrap());
        finish_firing(&conn, "tb", manual, manual, RunOutcome::Ok, "").unwrap();
        assert_eq!(last_due(&conn, "tb").unwrap(), Some(scheduled));
        // The history still shows the manual run first, marked as such.
        let runs = history(&conn, "tb", 5).unwrap();
        assert_eq!(runs[0].due, manual);
        assert_eq!(runs[0].trigger, Trigger::Manual);
        assert_eq!(runs[1].trigger, Trigger::Schedule);
        // A job with only manual runs has no last due time.
        assert!(claim_firing(&conn, "khac", manual, manual, Trigger::Manual).unwrap());
        assert_eq!(last_due(&conn, "khac").unwrap(), None);
    }

    /// A database written before the one time format (run history to the whole second) opens,
    /// its rows are rewritten to the one format, and the schedule carries on from them.
    #[test]
    fn a_database_in_the_old_time_format_is_rewritten_on_open() {
        use crate::state::store::{JOB_RUNS_SQL, LEDGER_SQL, REGISTER_SQL};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vanban.sqlite");
        {
            // Schema version 3, as the previous release left it, with rows in its spelling.
            let old = rusqlite::Connection::open(&path).unwrap();
            for sql in [LEDGER_SQL, REGISTER_SQL, JOB_RUNS_SQL] {
                old.execute_batch(sql).unwrap();
            }
            old.pragma_update(None, "user_version", 3).unwrap();
            old.execute_batch(
                "INSERT INTO job_runs (job, due, started, finished, outcome, started_by) VALUES
                   ('bao-cao', '2026-06-25T01:00:00Z', '2026-06-25T01:00:02Z',
                    '2026-06-25T01:03:00Z', 'ok', 'schedule'),
                   ('bao-cao', '2026-12-25T01:00:00Z', '2026-12-25T01:00:01Z', NULL,
                    'running', 'schedule');
                 INSERT INTO job_seen (job, first_seen) VALUES ('bao-cao', '2026-01-05T02:00:00Z');",
            )
            .unwrap();
        }
        let store = crate::state::Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            crate::state::MIGRATIONS.len() as i64
        );
        let conn = &store.conn();
        let texts: Vec<(String, Option<String>, Option<String>)> = conn
            .prepare("SELECT due, started, finished FROM job_runs ORDER BY due")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            texts,
            vec![
                (
                    "2026-06-25T01:00:00.000000Z".to_owned(),
                    Some("2026-06-25T01:00:02.000000Z".to_owned()),
                    Some("2026-06-25T01:03:00.000000Z".to_owned())
                ),
                (
                    "2026-12-25T01:00:00.000000Z".to_owned(),
                    Some("2026-12-25T01:00:01.000000Z".to_owned()),
                    None
                ),
            ]
        );
        let seen: String = conn
            .query_row("SELECT first_seen FROM job_seen", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, "2026-01-05T02:00:00.000000Z");

        // The old rows read back as the same times, and still key their firings.
        let december = utc(2026, 12, 25, 1, 0);
        assert_eq!(last_due(conn, "bao-cao").unwrap(), Some(december));
        assert_eq!(
            first_seen(conn, "bao-cao", utc(2026, 12, 30, 0, 0)).unwrap(),
            utc(2026, 1, 5, 2, 0)
        );
        let interrupted = recover_interrupted(conn, utc(2026, 12, 25, 2, 0)).unwrap();
        assert_eq!(interrupted.len(), 1);
        assert_eq!(interrupted[0].due, december);
        assert!(!claim_firing(conn, "bao-cao", december, december, Trigger::Schedule).unwrap());
        let runs = history(conn, "bao-cao", 5).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].finished, Some(utc(2026, 6, 25, 1, 3)));
    }

    #[test]
    fn first_seen_is_recorded_once() {
        let store = db();
        let conn = store.conn();
        let t1 = utc(2026, 1, 5, 2, 0);
        assert_eq!(first_seen(&conn, "a", t1).unwrap(), t1);
        assert_eq!(first_seen(&conn, "a", utc(2026, 3, 1, 0, 0)).unwrap(), t1);
        let t2 = utc(2026, 3, 1, 0, 0);
        assert_eq!(first_seen(&conn, "b", t2).unwrap(), t2);
    }

    #[test]
    fn a_firing_whose_lease_expired_is_taken_over_once() {
        let store = db();
        let conn = store.conn();
        let due = utc(2026, 6, 25, 1, 0);
        let t0 = utc(2026, 6, 25, 1, 0);
        assert!(claim_firing(&conn, "gui", due, t0, Trigger::Schedule).unwrap());
        assert!(hold_lease(&conn, "gui", due, "a:1", t0 + Duration::minutes(2)).unwrap());
        // Renewed by its holder; refused to anyone else.
        assert!(hold_lease(&conn, "gui", due, "a:1", t0 + Duration::minutes(3)).unwrap());
        assert!(!hold_lease(&conn, "gui", due, "b:2", t0 + Duration::minutes(3)).unwrap());
        // Not expired yet: nothing to take.
        let later = t0 + Duration::minutes(2);
        assert!(
            take_expired(&conn, "b:2", later, later + Duration::minutes(2))
                .unwrap()
                .is_empty()
        );
        // Expired: taken once, by b, from a.
        let expired = t0 + Duration::minutes(4);
        let taken = take_expired(&conn, "b:2", expired, expired + Duration::minutes(2)).unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!((taken[0].0.due, taken[0].1.as_str()), (due, "a:1"));
        assert!(
            take_expired(&conn, "c:3", expired, expired + Duration::minutes(2))
                .unwrap()
                .is_empty()
        );
        // a cannot renew what b holds now; b can.
        assert!(!hold_lease(&conn, "gui", due, "a:1", expired).unwrap());
        assert!(hold_lease(&conn, "gui", due, "b:2", expired + Duration::minutes(2)).unwrap());
        // A firing reclaimed by another instance (a waiting send) becomes that one's.
        assert!(take_lease(&conn, "gui", due, "c:3", expired + Duration::minutes(2)).unwrap());
        assert!(!hold_lease(&conn, "gui", due, "b:2", expired).unwrap());
        assert!(hold_lease(&conn, "gui", due, "c:3", expired + Duration::minutes(2)).unwrap());
        // A finished firing has no lease to take.
        finish_firing(&conn, "gui", due, expired, RunOutcome::Ok, "").unwrap();
        let much_later = t0 + Duration::hours(1);
        assert!(
            take_expired(&conn, "c:3", much_later, much_later)
                .unwrap()
                .is_empty()
        );
    }

    /// The same tests on PostgreSQL (but the SQLite file upgrade).
    #[test]
    #[ignore = "needs PostgreSQL: run .ci/run"]
    fn the_tests_on_postgres() {
        testing::on_postgres(&[
            ("schema_can_run_twice", schema_can_run_twice),
            ("a_firing_is_claimed_once", a_firing_is_claimed_once),
            (
                "finish_requires_a_running_claim",
                finish_requires_a_running_claim,
            ),
            (
                "crash_between_claim_and_finish_is_not_claimed_again_but_resumed_once",
                crash_between_claim_and_finish_is_not_claimed_again_but_resumed_once,
            ),
            (
                "a_simulated_half_year_runs_each_firing_once",
                a_simulated_half_year_runs_each_firing_once,
            ),
            (
                "skipped_firings_count_as_recorded",
                skipped_firings_count_as_recorded,
            ),
            (
                "a_waiting_firing_is_taken_back_once_and_alerted_once",
                a_waiting_firing_is_taken_back_once_and_alerted_once,
            ),
            (
                "corrupt_rows_are_reported_with_the_job",
                corrupt_rows_are_reported_with_the_job,
            ),
            (
                "a_firing_whose_lease_expired_is_taken_over_once",
                a_firing_whose_lease_expired_is_taken_over_once,
            ),
            (
                "manual_runs_do_not_count_as_the_last_due_time",
                manual_runs_do_not_count_as_the_last_due_time,
            ),
            ("first_seen_is_recorded_once", first_seen_is_recorded_once),
        ]);
    }
}
