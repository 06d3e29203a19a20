//! Scheduling core of `vanban run`: cron expressions read in an office's time zone, the
//! half-year a firing covers, catch-up after downtime, and the run history that keeps a
//! firing from ever running twice.
//!
//! Everything here is pure or takes a `&rusqlite::Connection`; "now" is always passed in,
//! so the service loop can be driven by a [`crate::clock::FixedClock`] in tests.

mod catch_up;
pub mod execute;
pub mod listing;
pub mod run;
mod runs;
pub mod service;

pub use catch_up::{CatchUpPlan, plan_catch_up};
pub use runs::{
    INTERRUPTED_AGAIN, INTERRUPTED_TO_RESUME, JobRun, RunOutcome, STOPPED_TO_RESUME, Trigger,
    claim_firing, finish_firing, first_seen, history, last_due, mark_wait_alerted,
    reclaim_interrupted, reclaim_waiting, record_skipped, recover_interrupted, resumable_firings,
    waiting_firings,
};

/// What can go wrong while reading a job's schedule or its run history. The messages are
/// read by the IT admin who wrote `vanban.toml`, so they are in Vietnamese and quote the
/// offending text.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("Lỗi cơ sở dữ liệu lịch sử chạy tác vụ: {0}")]
    Database(#[from] crate::state::DbError),

    #[error(
        "Lịch sử chạy của tác vụ \"{job}\" có giá trị hỏng ở cột {column}: \"{value}\" \
         (cơ sở dữ liệu đã bị sửa tay hoặc hỏng)"
    )]
    CorruptHistory {
        job: String,
        column: &'static str,
        value: String,
    },

    #[error(
        "Không thể ghi kết quả \"{outcome}\" cho lần chạy tác vụ \"{job}\" đến hạn {due}: \
         lần chạy này chưa được nhận hoặc đã kết thúc"
    )]
    NotRunning {
        job: String,
        due: String,
        outcome: &'static str,
    },
}
