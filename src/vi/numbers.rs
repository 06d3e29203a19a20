//! Vietnamese number formatting (CLDR `vi`): "." groups thousands, "," marks decimals, "%" follows
//! without a space (nd30.md §8).
//!
//! Rounding is half-up (away from zero on an exact half) and is done on a *decimal* digit string,
//! not on the binary value: `x` is first written with 15 significant digits (what an `f64`
//! reliably holds), which turns `2.675` (stored as 2.67499999…) back into `2.675` and removes the
//! few-ulp noise of divisions such as `74.4 / 75 * 100`. Only then is the digit string rounded.
//!
//! Non-finite values (NaN, ±∞) cannot come from validated input; if one slips through, the
//! formatters print [`NOT_A_NUMBER`] rather than panic or print "NaN" in an official document.

/// What [`decimal`], [`decimal_fixed`] and [`percent_value`] print for NaN or ±∞: a dash, the
/// usual mark for "no figure" in a Vietnamese report table.
pub const NOT_A_NUMBER: &str = "—";

/// The most decimal places the formatters will write. An `f64` holds about 15 significant digits,
/// so more places would only print zeros; the cap also keeps a mistyped per-indicator setting
/// (e.g. 4 000 000 000) from allocating gigabytes.
pub const MAX_DECIMALS: u32 = 20;

/// Significant digits kept before rounding: the precision an `f64` guarantees.
const SIGNIFICANT_DIGITS: usize = 15;

/// Groups an integer by thousands with ".": `1234567` → "1.234.567", `-1234` → "-1.234".
pub fn group_int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let grouped = group_digits(&digits);
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// `x` rounded half-up to at most `max_decimals` places, trailing zeros dropped, decimal comma,
/// grouped integer part: `decimal(1234.5678, 2)` = "1.234,57", `decimal(86447.0, 2)` = "86.447".
///
/// A value that rounds to zero prints "0", never "-0". `max_decimals` above [`MAX_DECIMALS`] is
/// treated as [`MAX_DECIMALS`]; NaN and ±∞ print [`NOT_A_NUMBER`].
pub fn decimal(x: f64, max_decimals: u32) -> String {
    format_rounded(x, max_decimals, false)
}

/// Like [`decimal`] but always writes exactly `decimals` places: `decimal_fixed(52.5, 2)` =
/// "52,50", `decimal_fixed(3.0, 0)` = "3".
pub fn decimal_fixed(x: f64, decimals: u32) -> String {
    format_rounded(x, decimals, true)
}

/// `part` as a percentage of `whole`, rounded half-up to at most 2 places, trailing zeros
/// dropped, "%" attached: `percent(32479.0, 61864.0)` = `Some("52,5%")`.
///
/// `None` when `whole` is 0, when either argument is not finite, or when the quotient overflows:
/// there is no percentage to print, and the caller decides what the document says instead.
pub fn percent(part: f64, whole: f64) -> Option<String> {
    if whole == 0.0 || !whole.is_finite() || !part.is_finite() {
        return None;
    }
    let value = part / whole * 100.0;
    value.is_finite().then(|| percent_value(value))
}

/// A value already in percent, rounded like [`percent`]: `42.857` → "42,86%". NaN and ±∞ print
/// [`NOT_A_NUMBER`] without the "%".
pub fn percent_value(p: f64) -> String {
    if !p.is_finite() {
        return NOT_A_NUMBER.to_string();
    }
    format!("{}%", decimal(p, 2))
}

/// Inserts "." between groups of three digits, counting from the right.
fn group_digits(digits: &str) -> String {
    let len = digits.len();
    let mut out = String::with_capacity(len + len / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

fn format_rounded(x: f64, decimals: u32, fixed: bool) -> String {
    if !x.is_finite() {
        return NOT_A_NUMBER.to_string();
    }
    // MAX_DECIMALS is small, so the cast cannot truncate.
    let decimals = decimals.min(MAX_DECIMALS) as usize;
    let (mut int_digits, mut frac_digits) = decimal_digits(x.abs());

    if frac_digits.len() > decimals {
        let round_up = frac_digits[decimals] >= b'5';
        frac_digits.truncate(decimals);
        if round_up {
            increment(&mut int_digits, &mut frac_digits);
        }
    }
    if fixed {
        frac_digits.resize(decimals, b'0');
    } else {
        while frac_digits.last() == Some(&b'0') {
            frac_digits.pop();
        }
    }

    let is_zero = int_digits.iter().chain(&frac_digits).all(|&d| d == b'0');
    let mut out = String::new();
    if x < 0.0 && !is_zero {
        out.push('-');
    }
    // Both vectors hold ASCII digits only, so the lossy conversion never replaces anything.
    out.push_str(&group_digits(&String::from_utf8_lossy(&int_digits)));
    if !frac_digits.is_empty() {
        out.push(',');
        out.push_str(&String::from_utf8_lossy(&frac_digits));
    }
    out
}

/// The integer and fractional digits (ASCII) of a finite, non-negative `x`, written with
/// [`SIGNIFICANT_DIGITS`] significant digits. The integer part has no leading zeros except a
/// single "0"; the fractional part may be empty.
fn decimal_digits(x: f64) -> (Vec<u8>, Vec<u8>) {
    // "{:.14e}" gives "d.dddddddddddddde<exp>", correctly rounded from the binary value.
    let sci = format!("{:.*e}", SIGNIFICANT_DIGITS - 1, x);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let mantissa: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();

    // The decimal point sits after `exponent + 1` mantissa digits.
    let point = exponent + 1;
    let (int_digits, frac_digits) = if point <= 0 {
        let leading_zeros = usize::try_from(-point).unwrap_or(0);
        let mut frac = vec![b'0'; leading_zeros];
        frac.extend_from_slice(&mantissa);
        (vec![b'0'], frac)
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        if point >= mantissa.len() {
            let mut int = mantissa.clone();
            int.resize(point, b'0');
            (int, Vec::new())
        } else {
            (mantissa[..point].to_vec(), mantissa[point..].to_vec())
        }
    };
    let mut int_digits = int_digits;
    while int_digits.len() > 1 && int_digits[0] == b'0' {
        int_digits.remove(0);
    }
    (int_digits, frac_digits)
}

/// Adds one unit in the last place of `int.frac`, carrying into the integer part (and growing
/// it, 999 → 1000) as needed.
fn increment(int_digits: &mut Vec<u8>, frac_digits: &mut [u8]) {
    for d in frac_digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    for d in int_digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    int_digits.insert(0, b'1');
}

/// A document's number in "Số: 05/TB-UBND": two digits below 10 (Decree 30, Phụ lục I).
pub fn document_number(n: u32) -> String {
    format!("{n:02}")
}

/// One decimal style per table column: every number in `cells` written with as many decimal
/// places as the most precise one, by appending zeros (the printed values were rounded with
/// trailing zeros dropped, so a zero appended says exactly the same figure): a column holding
/// "74,4" and "80" prints "74,4" and "80,0"; "52,5%" and "100%" print "52,5%" and "100,0%".
///
/// A cell may hold several numbers ("14 (0,12%)"); the first numbers of the cells are aligned
/// together, the second ones together, and so on. Cells without a number ("—") are left as
/// they are.
pub fn align_decimals(cells: &mut [String]) {
    let tokens: Vec<Vec<(usize, usize)>> = cells.iter().map(|c| number_tokens(c)).collect();
    let slots = tokens.iter().map(Vec::len).max().unwrap_or(0);
    let places = |cell: &str, (start, end): (usize, usize)| -> usize {
        cell[start..end]
            .find(',')
            .map_or(0, |comma| end - start - comma - 1)
    };
    let wanted: Vec<usize> = (0..slots)
        .map(|slot| {
            cells
                .iter()
                .zip(&tokens)
                .filter_map(|(c, t)| t.get(slot).map(|&tok| places(c, tok)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (cell, toks) in cells.iter_mut().zip(&tokens) {
        // From the last token backwards, so earlier byte offsets stay valid.
        for (slot, &tok) in toks.iter().enumerate().rev() {
            let have = places(cell, tok);
            let want = wanted[slot];
            if have < want {
                let pad = if have == 0 { "," } else { "" }.to_string() + &"0".repeat(want - have);
                cell.insert_str(tok.1, &pad);
            }
        }
    }
}

/// Byte ranges of the numbers in a cell: a digit, then digits with "." groups and one ","
/// decimal part; a trailing "." or "," is punctuation, not part of the number.
fn number_tokens(cell: &str) -> Vec<(usize, usize)> {
    let bytes = cell.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b',')
            {
                i += 1;
            }
            let mut end = i;
            while end > start && !bytes[end - 1].is_ascii_digit() {
                end -= 1;
            }
            out.push((start, end));
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_takes_one_decimal_style() {
        let mut cells: Vec<String> = ["74,4", "80", "—", "1.234", "0,25"]
            .map(String::from)
            .to_vec();
        align_decimals(&mut cells);
        assert_eq!(cells, ["74,40", "80,00", "—", "1.234,00", "0,25"]);
        let mut rates: Vec<String> = ["52,5%", "100%"].map(String::from).to_vec();
        align_decimals(&mut rates);
        assert_eq!(rates, ["52,5%", "100,0%"]);
        // Two numbers in a cell: each aligned with its own kind.
        let mut values: Vec<String> = ["14 (0,12%)", "7,5 (3%)", "9"].map(String::from).to_vec();
        align_decimals(&mut values);
        assert_eq!(values, ["14,0 (0,12%)", "7,5 (3,00%)", "9,0"]);
        // All integers: unchanged.
        let mut ints: Vec<String> = ["80", "1.234.567"].map(String::from).to_vec();
        align_decimals(&mut ints);
        assert_eq!(ints, ["80", "1.234.567"]);
    }

    #[test]
    fn group_int_examples() {
        assert_eq!(group_int(1_234_567), "1.234.567");
        assert_eq!(group_int(-1234), "-1.234");
        assert_eq!(group_int(0), "0");
        assert_eq!(group_int(999), "999");
        assert_eq!(group_int(1000), "1.000");
        assert_eq!(group_int(-999), "-999");
        assert_eq!(group_int(100_000), "100.000");
        assert_eq!(group_int(i64::MAX), "9.223.372.036.854.775.807");
        assert_eq!(group_int(i64::MIN), "-9.223.372.036.854.775.808");
    }

    #[test]
    fn decimal_examples() {
        assert_eq!(decimal(74.4, 2), "74,4");
        assert_eq!(decimal(86447.0, 2), "86.447");
        assert_eq!(decimal(1234.5678, 2), "1.234,57");
        assert_eq!(decimal(0.125, 2), "0,13");
        assert_eq!(decimal(2.675, 2), "2,68");
        assert_eq!(decimal(3056.3, 1), "3.056,3");
        assert_eq!(decimal(36.2, 1), "36,2");
        assert_eq!(decimal(1.25, 2), "1,25");
    }

    #[test]
    fn decimal_rounds_half_up_away_from_zero() {
        assert_eq!(decimal(0.5, 0), "1");
        assert_eq!(decimal(1.5, 0), "2");
        assert_eq!(decimal(2.5, 0), "3");
        assert_eq!(decimal(-2.5, 0), "-3");
        assert_eq!(decimal(-2.675, 2), "-2,68");
        assert_eq!(decimal(1.005, 2), "1,01");
        assert_eq!(decimal(1.0049, 2), "1");
        assert_eq!(decimal(0.1 + 0.2, 2), "0,3");
        assert_eq!(decimal(0.1 + 0.2, 20), "0,3");
    }

    #[test]
    fn decimal_carries_into_the_integer_part() {
        assert_eq!(decimal(999.995, 2), "1.000");
        assert_eq!(decimal(9.96, 1), "10");
        assert_eq!(decimal(99_999.9, 0), "100.000");
        assert_eq!(decimal(-999.5, 0), "-1.000");
    }

    #[test]
    fn decimal_zero_and_sign() {
        assert_eq!(decimal(0.0, 2), "0");
        assert_eq!(decimal(-0.0, 2), "0");
        assert_eq!(decimal(-0.001, 2), "0");
        assert_eq!(decimal(-0.005, 2), "-0,01");
        assert_eq!(decimal(-1234.5, 1), "-1.234,5");
        assert_eq!(decimal(0.004, 2), "0");
    }

    #[test]
    fn decimal_small_and_large_magnitudes() {
        assert_eq!(decimal(0.000_123, 5), "0,00012");
        assert_eq!(decimal(1e-10, 2), "0");
        assert_eq!(decimal(1e15, 2), "1.000.000.000.000.000");
        assert_eq!(decimal(123_456_789_012.345, 2), "123.456.789.012,35");
        assert_eq!(decimal(1e20, 0), "100.000.000.000.000.000.000");
    }

    #[test]
    fn decimal_caps_places() {
        assert_eq!(
            decimal_fixed(1.0, u32::MAX),
            format!("1,{}", "0".repeat(20))
        );
        assert_eq!(decimal(1.5, u32::MAX), "1,5");
    }

    #[test]
    fn decimal_non_finite() {
        assert_eq!(decimal(f64::NAN, 2), NOT_A_NUMBER);
        assert_eq!(decimal(f64::INFINITY, 2), NOT_A_NUMBER);
        assert_eq!(decimal_fixed(f64::NEG_INFINITY, 2), NOT_A_NUMBER);
        assert_eq!(percent_value(f64::NAN), NOT_A_NUMBER);
    }

    #[test]
    fn decimal_fixed_keeps_places() {
        assert_eq!(decimal_fixed(52.5, 2), "52,50");
        assert_eq!(decimal_fixed(3.0, 0), "3");
        assert_eq!(decimal_fixed(2.675, 2), "2,68");
        assert_eq!(decimal_fixed(86447.0, 1), "86.447,0");
        assert_eq!(decimal_fixed(0.0, 2), "0,00");
        assert_eq!(decimal_fixed(-0.001, 2), "0,00");
        assert_eq!(decimal_fixed(1234.5678, 3), "1.234,568");
        assert_eq!(decimal_fixed(0.4, 0), "0");
    }

    #[test]
    fn percent_examples() {
        assert_eq!(percent(32479.0, 61864.0).as_deref(), Some("52,5%"));
        assert_eq!(percent(6.0, 14.0).as_deref(), Some("42,86%"));
        assert_eq!(percent(45210.0, 45210.0).as_deref(), Some("100%"));
        assert_eq!(percent(14.0, 11224.0).as_deref(), Some("0,12%"));
        assert_eq!(percent(165.0, 11224.0).as_deref(), Some("1,47%"));
        assert_eq!(percent(74.4, 75.0).as_deref(), Some("99,2%"));
        assert_eq!(percent(1.0, 3.0).as_deref(), Some("33,33%"));
        assert_eq!(percent(2.0, 3.0).as_deref(), Some("66,67%"));
    }

    #[test]
    fn percent_edge_cases() {
        assert_eq!(percent(1.0, 0.0), None);
        assert_eq!(percent(0.0, 0.0), None);
        assert_eq!(percent(1.0, -0.0), None);
        assert_eq!(percent(f64::NAN, 5.0), None);
        assert_eq!(percent(5.0, f64::INFINITY), None);
        assert_eq!(percent(f64::MAX, f64::MIN_POSITIVE), None);
        assert_eq!(percent(0.0, 7.0).as_deref(), Some("0%"));
        assert_eq!(percent(150.0, 100.0).as_deref(), Some("150%"));
        assert_eq!(percent(1.0, 8.0).as_deref(), Some("12,5%"));
        assert_eq!(percent(1.0, 800.0).as_deref(), Some("0,13%"));
        assert_eq!(percent(-5.0, 100.0).as_deref(), Some("-5%"));
        assert_eq!(percent(12_345.0, 10_000.0).as_deref(), Some("123,45%"));
        assert_eq!(percent(1_234_567.0, 1000.0).as_deref(), Some("123.456,7%"));
    }

    /// Every part/whole with whole ≤ 400 against exact integer arithmetic: half-up at the
    /// second decimal, whatever the binary quotient's noise.
    #[test]
    fn percent_agrees_with_exact_rationals() {
        for whole in 1u64..=400 {
            for part in 0..=whole {
                let hundredths = (part * 10_000 * 2 + whole) / (2 * whole);
                let mut want = (hundredths / 100).to_string();
                let frac = format!("{:02}", hundredths % 100);
                let frac = frac.trim_end_matches('0');
                if !frac.is_empty() {
                    want = format!("{want},{frac}");
                }
                want.push('%');
                assert_eq!(
                    percent(part as f64, whole as f64).as_deref(),
                    Some(want.as_str()),
                    "{part}/{whole}"
                );
            }
        }
    }

    #[test]
    fn percent_value_examples() {
        assert_eq!(percent_value(42.857), "42,86%");
        assert_eq!(percent_value(76.2), "76,2%");
        assert_eq!(percent_value(100.0), "100%");
        assert_eq!(percent_value(0.285), "0,29%");
    }

    #[test]
    fn document_numbers_pad_below_ten() {
        assert_eq!(document_number(5), "05");
        assert_eq!(document_number(10), "10");
        assert_eq!(document_number(125), "125");
    }
}
