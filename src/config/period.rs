//! Which half-year period a firing covers, and where that period's input file lives.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::SettingError;
use crate::model::{Half, PeriodId};

/// Which period a job's firing works on, relative to the firing's local date.
/// Half 1 is the six months to 30 June; half 2 is the whole year (the year-end review).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Covers {
    /// The half the firing falls in: e.g. the review report sent in June.
    CurrentHalf,
    /// The half before it: e.g. the conclusion notice sent in January for last year.
    PreviousHalf,
}

/// The period a firing on local date `firing_local_date` covers.
pub fn covered_period(covers: Covers, firing_local_date: NaiveDate) -> PeriodId {
    let year = firing_local_date.year();
    let half = if firing_local_date.month() <= 6 {
        Half::First
    } else {
        Half::Whole
    };
    match (covers, half) {
        (Covers::CurrentHalf, half) => PeriodId::new(year, half),
        (Covers::PreviousHalf, Half::First) => PeriodId::new(year - 1, Half::Whole),
        (Covers::PreviousHalf, Half::Whole) => PeriodId::new(year, Half::First),
    }
}

/// Fills a period file pattern such as `data/{year}-h{half}.toml`.
/// Only `{year}` and `{half}` are known; anything else in braces is an error, so a typo
/// like `{yaer}` is caught when the config is read instead of producing a wrong path.
pub fn period_path(pattern: &str, period: PeriodId) -> Result<String, SettingError> {
    let (year, half) = (period.year, period.half.number());
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let inside = &rest[open + 1..];
        let close = inside
            .find('}')
            .ok_or_else(|| SettingError::UnclosedPlaceholder {
                pattern: pattern.to_owned(),
            })?;
        // Writing to a String cannot fail.
        let _ = match inside[..close].trim() {
            "year" => write!(out, "{year}"),
            "half" => write!(out, "{half}"),
            other => {
                return Err(SettingError::UnknownPlaceholder {
                    pattern: pattern.to_owned(),
                    placeholder: other.to_owned(),
                });
            }
        };
        rest = &inside[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn every_month_maps_to_its_half() {
        for month in 1..=12 {
            for day in [1, 28] {
                let d = date(2026, month, day);
                let current = covered_period(Covers::CurrentHalf, d);
                let previous = covered_period(Covers::PreviousHalf, d);
                if month <= 6 {
                    assert_eq!(current, (2026, 1), "month {month}");
                    assert_eq!(previous, (2025, 2), "month {month}");
                } else {
                    assert_eq!(current, (2026, 2), "month {month}");
                    assert_eq!(previous, (2026, 1), "month {month}");
                }
            }
        }
    }

    #[test]
    fn half_boundaries_are_30_june_and_1_july() {
        assert_eq!(
            covered_period(Covers::CurrentHalf, date(2026, 6, 30)),
            (2026, 1)
        );
        assert_eq!(
            covered_period(Covers::CurrentHalf, date(2026, 7, 1)),
            (2026, 2)
        );
        assert_eq!(
            covered_period(Covers::CurrentHalf, date(2026, 12, 31)),
            (2026, 2)
        );
        assert_eq!(
            covered_period(Covers::PreviousHalf, date(2027, 1, 1)),
            (2026, 2)
        );
    }

    #[test]
    fn covers_uses_kebab_case_names() {
        assert_eq!(
            serde_json::to_string(&Covers::CurrentHalf).unwrap(),
            "\"current-half\""
        );
        let parsed: Covers = serde_json::from_str("\"previous-half\"").unwrap();
        assert_eq!(parsed, Covers::PreviousHalf);
        assert!(serde_json::from_str::<Covers>("\"previous_half\"").is_err());
    }

    #[test]
    fn path_pattern_fills_year_and_half() {
        assert_eq!(
            period_path("data/{year}-h{half}.toml", PeriodId::new(2026, Half::Whole)).unwrap(),
            "data/2026-h2.toml"
        );
        assert_eq!(
            period_path(
                "ky/{half}/{year}/{year}.toml",
                PeriodId::new(2025, Half::First)
            )
            .unwrap(),
            "ky/1/2025/2025.toml"
        );
        assert_eq!(
            period_path("fixed.toml", PeriodId::new(2025, Half::First)).unwrap(),
            "fixed.toml"
        );
    }

    #[test]
    fn path_pattern_rejects_unknown_or_unclosed_placeholders() {
        let err =
            period_path("data/{yaer}-h{half}.toml", PeriodId::new(2026, Half::First)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("{yaer}"), "{msg}");
        assert!(msg.contains("data/{yaer}-h{half}.toml"), "{msg}");
        assert!(matches!(
            period_path("data/{year", PeriodId::new(2026, Half::First)),
            Err(SettingError::UnclosedPlaceholder { .. })
        ));
        // A third half cannot reach a pattern: there is no such `Half`.
        assert_eq!(Half::from_number(3), None);
    }
}
