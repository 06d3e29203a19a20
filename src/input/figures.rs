//! Numbers as Vietnamese offices type them: "12.500" (dot groups thousands), "74,4" (comma
//! before decimals), and the trap where TOML reads `allocated = 12.500` as twelve and a half.
//! Money and counts are whole numbers, read exactly as integers, never through a float.

use crate::vi;

/// Largest whole number read exactly: every integer up to 2^53 is exact in the f64 the
/// documents compute rates with.
pub const MAX_EXACT: i64 = 1 << 53;

/// Largest figure a document prints: 10^15 already has 16 digits, more would break a table
/// column (a 309-digit `1.7e308` did).
pub const MAX_FIGURE: f64 = 1e15;

/// Smallest non-zero magnitude: documents print at most 4 decimals, so anything smaller would
/// print as 0 (and a ratio on it would be nonsense: "0/0, đạt 100%").
pub const MIN_FIGURE: f64 = 1e-4;

/// A number read from a string in Vietnamese form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViNumber {
    Whole(i64),
    Fraction(f64),
}

/// Reads "12.500", "1.234.567", "74,4", "-3", "12.500,75". Dots group thousands (groups of
/// exactly three), a comma starts the decimals. The error says how to write it instead.
pub fn parse_vietnamese(text: &str) -> Result<ViNumber, String> {
    let t = text.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t),
    };
    let (int_part, frac_part) = match body.split_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let groups: Vec<&str> = int_part.split('.').collect();
    let grouped_ok = !groups[0].is_empty()
        && groups[0].len() <= if groups.len() > 1 { 3 } else { usize::MAX }
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
        && groups[1..].iter().all(|g| g.len() == 3);
    let frac_ok = frac_part.is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
    if !grouped_ok || !frac_ok {
        let hint = if frac_part.is_none() && groups.len() == 2 {
            let comma = body.replace('.', ",");
            format!(
                "; theo cách viết Việt Nam dấu chấm ngăn hàng nghìn (12.500) và dấu phẩy đứng trước phần thập phân: nếu là số thập phân, viết \"{comma}\""
            )
        } else {
            String::new()
        };
        return Err(format!(
            "\"{text}\" không phải là một số (ví dụ đúng: \"12.500\", \"74,4\"){hint}"
        ));
    }
    let digits: String = groups.concat();
    let sign = if negative { "-" } else { "" };
    match frac_part {
        None => format!("{sign}{digits}")
            .parse::<i64>()
            .ok()
            .filter(|n| n.unsigned_abs() <= MAX_EXACT as u64)
            .map(ViNumber::Whole)
            .ok_or_else(|| format!("\"{text}\" quá lớn")),
        Some(frac) => format!("{sign}{digits}.{frac}")
            .parse::<f64>()
            .map(ViNumber::Fraction)
            .map_err(|_| format!("\"{text}\" không phải là một số")),
    }
}

/// Whether a TOML literal looks like Vietnamese thousands grouping read as a decimal point:
/// "12.500", "1.250", "-7.000" (1 to 3 digits, a dot, exactly 3 digits).
pub fn looks_grouped(literal: &str) -> Option<i64> {
    let body = literal.trim().trim_start_matches(['-', '+']);
    let (int, frac) = body.split_once('.')?;
    let ok = (1..=3).contains(&int.len())
        && frac.len() == 3
        && int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit());
    ok.then(|| format!("{int}{frac}").parse().ok()).flatten()
}

/// The two readings of a figure like `12.500`: "12.500 được đọc là 12,5; nếu là mười hai nghìn
/// năm trăm, viết 12500".
pub fn two_readings(literal: &str, read_as: f64, grouped: i64) -> String {
    let words = vi::words::number_to_words(grouped.unsigned_abs(), &Default::default());
    format!(
        "{literal} được đọc là {}; nếu là {words}, viết {grouped}",
        vi::numbers::decimal(read_as, 4)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vietnamese_forms() {
        assert_eq!(parse_vietnamese("12.500"), Ok(ViNumber::Whole(12500)));
        assert_eq!(
            parse_vietnamese("1.234.567"),
            Ok(ViNumber::Whole(1_234_567))
        );
        assert_eq!(parse_vietnamese(" 86447 "), Ok(ViNumber::Whole(86447)));
        assert_eq!(parse_vietnamese("74,4"), Ok(ViNumber::Fraction(74.4)));
        assert_eq!(
            parse_vietnamese("12.500,75"),
            Ok(ViNumber::Fraction(12500.75))
        );
        assert_eq!(parse_vietnamese("-3"), Ok(ViNumber::Whole(-3)));
    }

    #[test]
    fn refuses_what_is_not_a_vietnamese_number() {
        let e = parse_vietnamese("74.4").unwrap_err();
        assert!(e.contains("viết \"74,4\""), "{e}");
        for bad in [
            "",
            "12.50",
            "1.2345",
            "12,",
            "abc",
            "1.000.00",
            "9.223.372.036.854.775.807",
        ] {
            assert!(parse_vietnamese(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_12_500_trap_shows_both_readings() {
        assert_eq!(looks_grouped("12.500"), Some(12500));
        assert_eq!(looks_grouped("74.4"), None);
        assert_eq!(looks_grouped("1234.500"), None);
        assert_eq!(
            two_readings("12.500", 12.5, 12500),
            "12.500 được đọc là 12,5; nếu là mười hai nghìn năm trăm, viết 12500"
        );
    }
}
