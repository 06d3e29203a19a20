//! Scheduling core of `vanban run`: cron expressions read in an office's time zone, the
//! half-year a firing covers, catch-up after downtime, and the run history that keeps a
//! firing from ever running twice.
//!
//! Everything here is pure or takes a `&rusqlite::Connection`; "now" is always passed in,
//! so the service loop can be driven by a [`crate::clock::FixedClock`] in tests.

mod catch_up;
mod cron_expr;
pub mod execute;
pub mod listing;
mod period;
mod runs;
pub mod service;

pub use catch_up::{CatchUp, CatchUpPlan, plan_catch_up};
pub use cron_expr::{CronSchedule, parse_timezone};
pub use period::{Covers, covered_period, period_path};
pub use runs::{
    JobRun, RunOutcome, SCHEMA, Trigger, claim_firing, finish_firing, first_seen, history,
    last_due, record_skipped, recover_interrupted,
};

/// What can go wrong while reading a job's schedule or its run history. The messages are
/// read by the IT admin who wrote `vanban.toml`, so they are in Vietnamese and quote the
/// offending text.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("Biểu thức cron \"{expr}\" không hợp lệ: {reason}")]
    InvalidCron { expr: String, reason: String },

    #[error(
        "Múi giờ \"{name}\" không có trong cơ sở dữ liệu múi giờ IANA; hãy viết dạng \
         Châu_lục/Thành_phố, phân biệt chữ hoa chữ thường, ví dụ \"Asia/Ho_Chi_Minh\""
    )]
    UnknownTimezone { name: String },

    #[error(
        "Mẫu đường dẫn tệp kỳ báo cáo \"{pattern}\" có chỗ thay thế không hỗ trợ \
         \"{{{placeholder}}}\"; chỉ dùng được {{year}} (năm) và {{half}} (kỳ 1 hoặc 2)"
    )]
    UnknownPlaceholder {
        pattern: String,
        placeholder: String,
    },

    #[error("Mẫu đường dẫn tệp kỳ báo cáo \"{pattern}\" có dấu {{ không được đóng bằng }}")]
    UnclosedPlaceholder { pattern: String },

    #[error("Kỳ báo cáo {half} không hợp lệ: chỉ có kỳ 1 (sáu tháng đầu năm) và kỳ 2 (cả năm)")]
    InvalidHalf { half: u8 },

    #[error("Lỗi cơ sở dữ liệu lịch sử chạy tác vụ: {0}")]
    Database(#[from] rusqlite::Error),

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
