//! What to do, at start, about firings that fell due while the service was down.
//! Missed firings are never replayed one by one: at most the latest one runs.

use crate::config::{CatchUp, CronSchedule};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The decision for one job. Every variant covers all missed firings: after carrying it
/// out (run `due`, or `record_skipped(latest_due)`), the job's last due time is the
/// latest missed firing, so the same misses are never planned again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpPlan {
    NothingMissed,
    /// Policy `once`: claim and run the firing due at `due` now. `skipped` earlier
    /// missed firings (from `first_missed`) are not run.
    RunLatest {
        due: DateTime<Utc>,
        skipped: u64,
        first_missed: DateTime<Utc>,
    },
    /// Policy `skip`: `skipped` firings, from `first_missed` to `latest_due`, are not run;
    /// record `latest_due` as skipped (one row stands for them all).
    SkipAll {
        latest_due: DateTime<Utc>,
        skipped: u64,
        first_missed: DateTime<Utc>,
    },
}

impl CatchUpPlan {
    /// One Vietnamese sentence for the log and the `detail` column, times shown in `tz`.
    pub fn describe(&self, tz: Tz) -> String {
        let local = |t: &DateTime<Utc>| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string();
        match self {
            CatchUpPlan::NothingMissed => "Không lỡ lần chạy nào.".to_owned(),
            CatchUpPlan::RunLatest {
                due, skipped: 0, ..
            } => format!(
                "Chạy bù lần đến hạn {} bị lỡ khi dịch vụ ngừng.",
                local(due)
            ),
            CatchUpPlan::RunLatest {
                due,
                skipped,
                first_missed,
            } => format!(
                "Chạy bù một lần cho lần đến hạn gần nhất {}; bỏ qua {} lần đến hạn trước đó \
                 (từ {}) bị lỡ khi dịch vụ ngừng.",
                local(due),
                skipped,
                local(first_missed)
            ),
            CatchUpPlan::SkipAll {
                latest_due,
                skipped,
                first_missed,
            } => format!(
                "Bỏ qua {} lần đến hạn bị lỡ khi dịch vụ ngừng, từ {} đến {} (catch_up = \"skip\").",
                skipped,
                local(first_missed),
                local(latest_due)
            ),
        }
    }
}

/// Plans catch-up for one job at service start.
///
/// `last_due` is the due time of the latest firing recorded for the job (any outcome);
/// `None` on a fresh database, and then only firings after `first_start` (when the job
/// was first seen) count as missed. Missed firings are those in `(last_due, now]`.
pub fn plan_catch_up(
    schedule: &CronSchedule,
    last_due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: CatchUp,
    first_start: DateTime<Utc>,
) -> CatchUpPlan {
    let from = last_due.unwrap_or(first_start);
    let Some(latest) = schedule.latest_in(from, now) else {
        return CatchUpPlan::NothingMissed;
    };
    let missed = schedule.count_in(from, now).max(1);
    let first_missed = schedule
        .next_after(from)
        .filter(|t| *t <= latest)
        .unwrap_or(latest);
    match policy {
        CatchUp::Once => CatchUpPlan::RunLatest {
            due: latest,
            skipped: missed - 1,
            first_missed,
        },
        CatchUp::Skip => CatchUpPlan::SkipAll {
            latest_due: latest,
            skipped: missed,
            first_missed,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock, VIETNAM};
    use chrono::{Duration, TimeZone};

    fn vn(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        VIETNAM
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn mondays() -> CronSchedule {
        CronSchedule::parse("0 8 * * 1", VIETNAM).unwrap()
    }

    #[test]
    fn three_month_downtime_once_runs_only_the_latest() {
        // Last recorded: Monday 2 March 2026. Down until Wednesday 3 June 2026.
        let clock = FixedClock::new(vn(2026, 3, 2, 9, 0));
        let last_due = Some(vn(2026, 3, 2, 8, 0));
        clock.advance(Duration::days(93));
        assert_eq!(clock.now(), vn(2026, 6, 3, 9, 0));

        let plan = plan_catch_up(
            &mondays(),
            last_due,
            clock.now(),
            CatchUp::Once,
            vn(2026, 1, 1, 0, 0),
        );
        // Mondays 9 March … 1 June 2026: 13 of them.
        assert_eq!(
            plan,
            CatchUpPlan::RunLatest {
                due: vn(2026, 6, 1, 8, 0),
                skipped: 12,
                first_missed: vn(2026, 3, 9, 8, 0),
            }
        );
        let text = plan.describe(VIETNAM);
        assert!(text.contains("01/06/2026 08:00"), "{text}");
        assert!(text.contains("bỏ qua 12"), "{text}");
    }

    #[test]
    fn three_month_downtime_skip_runs_nothing() {
        let plan = plan_catch_up(
            &mondays(),
            Some(vn(2026, 3, 2, 8, 0)),
            vn(2026, 6, 3, 9, 0),
            CatchUp::Skip,
            vn(2026, 1, 1, 0, 0),
        );
        assert_eq!(
            plan,
            CatchUpPlan::SkipAll {
                latest_due: vn(2026, 6, 1, 8, 0),
                skipped: 13,
                first_missed: vn(2026, 3, 9, 8, 0),
            }
        );
        assert!(plan.describe(VIETNAM).contains("Bỏ qua 13"));
    }

    #[test]
    fn half_yearly_job_missed_across_25_june() {
        let s = CronSchedule::parse("0 8 25 6,12 *", VIETNAM).unwrap();
        let plan = plan_catch_up(
            &s,
            Some(vn(2025, 12, 25, 8, 0)),
            vn(2026, 7, 10, 7, 30),
            CatchUp::Once,
            vn(2025, 1, 1, 0, 0),
        );
        assert_eq!(
            plan,
            CatchUpPlan::RunLatest {
                due: vn(2026, 6, 25, 8, 0),
                skipped: 0,
                first_missed: vn(2026, 6, 25, 8, 0),
            }
        );
    }

    #[test]
    fn nothing_missed_when_last_due_is_the_latest_firing() {
        let plan = plan_catch_up(
            &mondays(),
            Some(vn(2026, 6, 1, 8, 0)),
            vn(2026, 6, 8, 7, 59),
            CatchUp::Once,
            vn(2026, 1, 1, 0, 0),
        );
        assert_eq!(plan, CatchUpPlan::NothingMissed);
    }

    #[test]
    fn fresh_database_counts_nothing_before_first_start() {
        // First seen on Tuesday 2 June 2026; the Monday before is not "missed".
        let first_start = vn(2026, 6, 2, 10, 0);
        let plan = plan_catch_up(
            &mondays(),
            None,
            vn(2026, 6, 5, 10, 0),
            CatchUp::Once,
            first_start,
        );
        assert_eq!(plan, CatchUpPlan::NothingMissed);
        // But a Monday between first start and now (service stopped meanwhile) is.
        let plan = plan_catch_up(
            &mondays(),
            None,
            vn(2026, 6, 9, 10, 0),
            CatchUp::Skip,
            first_start,
        );
        assert_eq!(
            plan,
            CatchUpPlan::SkipAll {
                latest_due: vn(2026, 6, 8, 8, 0),
                skipped: 1,
                first_missed: vn(2026, 6, 8, 8, 0),
            }
        );
    }

    #[test]
    fn a_year_of_every_minute_downtime_is_planned_without_replaying() {
        let s = CronSchedule::parse("* * * * *", VIETNAM).unwrap();
        let plan = plan_catch_up(
            &s,
            Some(vn(2026, 1, 1, 0, 0)),
            vn(2027, 1, 1, 0, 0),
            CatchUp::Once,
            vn(2026, 1, 1, 0, 0),
        );
        assert_eq!(
            plan,
            CatchUpPlan::RunLatest {
                due: vn(2027, 1, 1, 0, 0),
                skipped: 365 * 24 * 60 - 1,
                first_missed: vn(2026, 1, 1, 0, 1),
            }
        );
    }

    #[test]
    fn catch_up_uses_lowercase_names() {
        assert_eq!(serde_json::to_string(&CatchUp::Once).unwrap(), "\"once\"");
        assert_eq!(
            serde_json::from_str::<CatchUp>("\"skip\"").unwrap(),
            CatchUp::Skip
        );
        assert!(serde_json::from_str::<CatchUp>("\"all\"").is_err());
    }
}
