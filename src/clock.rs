//! The one place that reads the system time; everything else is handed "now" as a value.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The time zone of Vietnamese offices: issue dates and schedules are read in it unless
/// configured otherwise. It has no daylight saving time.
pub const VIETNAM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// "25/06/2024 08:00:03": an instant as an office reads it, in Vietnam's time.
pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&VIETNAM)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

/// A source of "now". The service and the CLI use [`SystemClock`]; tests use [`FixedClock`]
/// and move it by hand, so schedules and dates are tested without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in `tz` (an office's "today" begins at 00:00 local time, not UTC).
    fn today_in(&self, tz: Tz) -> NaiveDate {
        self.now().with_timezone(&tz).date_naive()
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single sanctioned read of the system time
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved; for tests and for `--now` overrides.
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(now))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *guard += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn today_is_local_not_utc() {
        // 2024-06-24 18:30 UTC is already 25 June 01:30 in Vietnam.
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2024, 6, 24, 18, 30, 0).unwrap());
        assert_eq!(
            clock.today_in(VIETNAM),
            NaiveDate::from_ymd_opt(2024, 6, 25).unwrap()
        );
        assert_eq!(
            clock.today_in(chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2024, 6, 24).unwrap()
        );
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
        clock.advance(chrono::Duration::hours(36));
        assert_eq!(
            clock.now(),
            Utc.with_ymd_and_hms(2024, 1, 2, 12, 0, 0).unwrap()
        );
    }
}
