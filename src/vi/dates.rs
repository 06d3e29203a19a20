//! Vietnamese dates as Decree 30 writes them: "Đầm Hà, ngày 05 tháng 02 năm 2024" (nd30.md §4).
//!
//! Leading zeros, as Phụ lục I of the decree prescribes: days 1–9 are written 01–09 and months
//! 1–2 are written 01–02; months 3–9 get none ("ngày 05 tháng 3 năm 2020"). The short body-text
//! form uses the same rule, so one date never appears in two spellings in a document.

use chrono::{Datelike, NaiveDate};

/// The gap left for the day in a draft date line, filled in by hand when the document is signed.
/// Plain spaces (six), as drafts type them; a renderer that collapses spaces must keep them.
pub const BLANK_DAY: &str = "      ";

/// "ngày 05 tháng 02 năm 2024", "ngày 21 tháng 6 năm 2024", "ngày 29 tháng 12 năm 2024".
pub fn long_date(d: NaiveDate) -> String {
    format!(
        "ngày {} tháng {} năm {}",
        day(d.day()),
        month(d.month()),
        d.year()
    )
}

/// The place-and-date line: "Đầm Hà, ngày 05 tháng 02 năm 2024". Spaces around `place` are
/// trimmed.
pub fn date_line(place: &str, d: NaiveDate) -> String {
    format!("{}, {}", place.trim(), long_date(d))
}

/// A draft place-and-date line with the day left blank ([`BLANK_DAY`]):
/// "Đầm Hà, ngày      tháng 7 năm 2026". A `month` outside 1–12 is printed as given; callers
/// take it from a real date.
pub fn blank_date_line(place: &str, month_number: u32, year: i32) -> String {
    format!(
        "{}, ngày{BLANK_DAY}tháng {} năm {year}",
        place.trim(),
        month(month_number)
    )
}

/// The short form used in body text ("ngày 05/3/2020"; practice, not regulated by the decree):
/// day and month follow the same leading-zero rule as [`long_date`], so "05/3/2020",
/// "21/6/2024", "30/9/2024", "05/02/2024", "15/12/2024". Without the word "ngày".
pub fn short_date(d: NaiveDate) -> String {
    format!("{}/{}/{}", day(d.day()), month(d.month()), d.year())
}

fn day(d: u32) -> String {
    format!("{d:02}")
}

fn month(m: u32) -> String {
    if m <= 2 {
        format!("{m:02}")
    } else {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn long_dates() {
        assert_eq!(long_date(date(2024, 2, 5)), "ngày 05 tháng 02 năm 2024");
        assert_eq!(long_date(date(2024, 6, 21)), "ngày 21 tháng 6 năm 2024");
        assert_eq!(long_date(date(2024, 12, 29)), "ngày 29 tháng 12 năm 2024");
        assert_eq!(long_date(date(2020, 1, 5)), "ngày 05 tháng 01 năm 2020");
        assert_eq!(long_date(date(2020, 3, 5)), "ngày 05 tháng 3 năm 2020");
        assert_eq!(long_date(date(2019, 6, 29)), "ngày 29 tháng 6 năm 2019");
        assert_eq!(long_date(date(2024, 9, 10)), "ngày 10 tháng 9 năm 2024");
        assert_eq!(long_date(date(2024, 10, 1)), "ngày 01 tháng 10 năm 2024");
        assert_eq!(long_date(date(2024, 11, 30)), "ngày 30 tháng 11 năm 2024");
    }

    #[test]
    fn date_lines() {
        assert_eq!(
            date_line("Đầm Hà", date(2024, 2, 5)),
            "Đầm Hà, ngày 05 tháng 02 năm 2024"
        );
        assert_eq!(
            date_line(" Thành phố Hồ Chí Minh ", date(2019, 6, 29)),
            "Thành phố Hồ Chí Minh, ngày 29 tháng 6 năm 2019"
        );
    }

    #[test]
    fn blank_date_lines() {
        assert_eq!(
            blank_date_line("Đầm Hà", 7, 2026),
            "Đầm Hà, ngày      tháng 7 năm 2026"
        );
        assert_eq!(
            blank_date_line("Quảng Ninh", 1, 2027),
            "Quảng Ninh, ngày      tháng 01 năm 2027"
        );
        assert_eq!(
            blank_date_line("Quảng Ninh", 12, 2026),
            "Quảng Ninh, ngày      tháng 12 năm 2026"
        );
    }

    #[test]
    fn short_dates() {
        assert_eq!(short_date(date(2020, 3, 5)), "05/3/2020");
        assert_eq!(short_date(date(2024, 6, 21)), "21/6/2024");
        assert_eq!(short_date(date(2024, 9, 30)), "30/9/2024");
        assert_eq!(short_date(date(2024, 2, 5)), "05/02/2024");
        assert_eq!(short_date(date(2024, 12, 15)), "15/12/2024");
        assert_eq!(short_date(date(2025, 1, 1)), "01/01/2025");
    }
}
