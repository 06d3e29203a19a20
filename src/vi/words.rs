//! Numbers in Vietnamese words, for "(Bằng chữ: …)" lines under amounts (nd30.md §8).
//!
//! Rules, by three-digit group (units, nghìn, triệu, tỷ):
//! - 10–19 use "mười" (15 = mười lăm), 20–90 "`<n>` mươi";
//! - unit 1 after a tens digit ≥ 2 is "mốt" (21 = hai mươi mốt), after 1 it is "một" (11);
//! - unit 4 after a tens digit ≥ 2 is "tư" by default (24 = hai mươi tư) or "bốn"; 14 = mười bốn;
//! - unit 5 after any tens digit is "lăm" (15, 25); alone or after linh/lẻ it stays "năm" (105);
//! - tens digit 0 with a non-zero unit says "linh" (default) or "lẻ": 105 = một trăm linh năm,
//!   and the unit keeps its plain name after it (104 = một trăm linh bốn);
//! - every group after the leading one is read with all three digits, so a group below 100 says
//!   "không trăm": 1 005 = một nghìn không trăm linh năm;
//! - an all-zero group is skipped entirely: 1 000 500 = một triệu năm trăm, and
//!   1 000 001 = một triệu không trăm linh một (not "… không nghìn …", which nd30.md §8 rejects);
//! - above the tỷ group the count of tỷ is read recursively: 10¹² = một nghìn tỷ,
//!   10¹⁸ = một tỷ tỷ.

use super::text::capitalize_first;

/// How a tens digit 0 followed by a non-zero unit is read (105).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroTens {
    /// "linh": standard, Northern (một trăm linh năm).
    #[default]
    Linh,
    /// "lẻ": Southern (một trăm lẻ năm).
    Le,
}

/// How unit 4 after a tens digit of 2 or more is read (24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Four {
    /// "tư" (hai mươi tư): the usual reading.
    #[default]
    Tu,
    /// "bốn" (hai mươi bốn): also correct.
    Bon,
}

/// The word for 1 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Thousand {
    /// "nghìn": Northern, official, CLDR.
    #[default]
    Nghin,
    /// "ngàn": Southern.
    Ngan,
}

/// Regional choices for [`number_to_words`]; the default (linh, tư, nghìn) is the official style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WordsStyle {
    pub zero_tens: ZeroTens,
    pub four: Four,
    pub thousand: Thousand,
}

const DIGITS: [&str; 10] = [
    "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
];

const BILLION: u64 = 1_000_000_000;

/// `n` in lower-case Vietnamese words: 86447 = "tám mươi sáu nghìn bốn trăm bốn mươi bảy",
/// 0 = "không". See the module documentation for the rules.
pub fn number_to_words(n: u64, style: &WordsStyle) -> String {
    if n == 0 {
        return DIGITS[0].to_string();
    }
    let mut words = Vec::new();
    push_words(n, true, style, &mut words);
    words.join(" ")
}

/// The customary written amount: words, then `unit`, first letter capitalised:
/// `amount_in_words(86447, "triệu đồng", &WordsStyle::default())` =
/// "Tám mươi sáu nghìn bốn trăm bốn mươi bảy triệu đồng". A blank `unit` adds nothing.
pub fn amount_in_words(n: u64, unit: &str, style: &WordsStyle) -> String {
    let words = number_to_words(n, style);
    let unit = unit.trim();
    let text = if unit.is_empty() {
        words
    } else {
        format!("{words} {unit}")
    };
    capitalize_first(&text)
}

/// An amount of money in đồng, as the "(Bằng chữ: …)" line writes it: like
/// [`amount_in_words`] with "đồng", except that a count of tỷ that itself reaches a thousand
/// is closed by a comma, so the reader knows where the tỷ end: 2 345 678 000 000 =
/// "Hai nghìn ba trăm bốn mươi lăm tỷ, sáu trăm bảy mươi tám triệu đồng".
pub fn dong_in_words(n: u64, style: &WordsStyle) -> String {
    let billions = n / BILLION;
    let below = n % BILLION;
    if billions < 1000 || below == 0 {
        return amount_in_words(n, "đồng", style);
    }
    let mut rest = Vec::new();
    push_words(below, false, style, &mut rest);
    capitalize_first(&format!(
        "{} tỷ, {} đồng",
        number_to_words(billions, style),
        rest.join(" ")
    ))
}

/// Appends the words of a non-zero `n`. `leading` is true when nothing precedes `n` in the
/// number, so its first group is read without "không trăm".
fn push_words(n: u64, leading: bool, style: &WordsStyle, out: &mut Vec<&'static str>) {
    let billions = n / BILLION;
    let below = n % BILLION;
    if billions > 0 {
        push_words(billions, leading, style, out);
        out.push("tỷ");
    }

    let thousand = match style.thousand {
        Thousand::Nghin => "nghìn",
        Thousand::Ngan => "ngàn",
    };
    let groups = [
        (below / 1_000_000, Some("triệu")),
        (below / 1000 % 1000, Some(thousand)),
        (below % 1000, None),
    ];
    let mut started = !leading || billions > 0;
    for (group, scale) in groups {
        if group == 0 {
            continue;
        }
        push_group(group, started, style, out);
        if let Some(scale) = scale {
            out.push(scale);
        }
        started = true;
    }
}

/// Appends the words of one group 1..=999. `full` reads all three digits ("không trăm linh
/// năm"), as every group after the first non-zero one is.
fn push_group(group: u64, full: bool, style: &WordsStyle, out: &mut Vec<&'static str>) {
    // group < 1000, so the indices are in 0..10.
    let hundreds = (group / 100) as usize;
    let tens = (group / 10 % 10) as usize;
    let units = (group % 10) as usize;

    if full || hundreds > 0 {
        out.push(DIGITS[hundreds]);
        out.push("trăm");
    }
    let reads_hundreds = full || hundreds > 0;
    match tens {
        0 => {
            if units > 0 {
                if reads_hundreds {
                    out.push(match style.zero_tens {
                        ZeroTens::Linh => "linh",
                        ZeroTens::Le => "lẻ",
                    });
                }
                out.push(DIGITS[units]);
            }
        }
        1 => {
            out.push("mười");
            match units {
                0 => {}
                5 => out.push("lăm"),
                _ => out.push(DIGITS[units]),
            }
        }
        _ => {
            out.push(DIGITS[tens]);
            out.push("mươi");
            match units {
                0 => {}
                1 => out.push("mốt"),
                4 if style.four == Four::Tu => out.push("tư"),
                5 => out.push("lăm"),
                _ => out.push(DIGITS[units]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(n: u64) -> String {
        number_to_words(n, &WordsStyle::default())
    }

    #[test]
    fn nd30_worked_examples() {
        assert_eq!(w(86447), "tám mươi sáu nghìn bốn trăm bốn mươi bảy");
        assert_eq!(w(61864), "sáu mươi mốt nghìn tám trăm sáu mươi tư");
        assert_eq!(w(105), "một trăm linh năm");
        assert_eq!(w(1_000_000), "một triệu");
        assert_eq!(w(1_250_000), "một triệu hai trăm năm mươi nghìn");
        assert_eq!(w(21), "hai mươi mốt");
        assert_eq!(w(24), "hai mươi tư");
        assert_eq!(w(25), "hai mươi lăm");
        assert_eq!(w(15), "mười lăm");
        assert_eq!(w(110), "một trăm mười");
        assert_eq!(w(505), "năm trăm linh năm");
        assert_eq!(w(1005), "một nghìn không trăm linh năm");
        assert_eq!(w(2024), "hai nghìn không trăm hai mươi tư");
        assert_eq!(w(1_000_500), "một triệu năm trăm");
    }

    #[test]
    fn small_numbers() {
        assert_eq!(w(0), "không");
        assert_eq!(w(1), "một");
        assert_eq!(w(4), "bốn");
        assert_eq!(w(5), "năm");
        assert_eq!(w(10), "mười");
        assert_eq!(w(11), "mười một");
        assert_eq!(w(14), "mười bốn");
        assert_eq!(w(20), "hai mươi");
        assert_eq!(w(31), "ba mươi mốt");
        assert_eq!(w(55), "năm mươi lăm");
        assert_eq!(w(99), "chín mươi chín");
        assert_eq!(w(100), "một trăm");
        assert_eq!(w(101), "một trăm linh một");
        assert_eq!(w(104), "một trăm linh bốn");
        assert_eq!(w(111), "một trăm mười một");
        assert_eq!(w(115), "một trăm mười lăm");
        assert_eq!(w(121), "một trăm hai mươi mốt");
        assert_eq!(w(999), "chín trăm chín mươi chín");
    }

    #[test]
    fn groups_and_scales() {
        assert_eq!(w(1000), "một nghìn");
        assert_eq!(w(1001), "một nghìn không trăm linh một");
        assert_eq!(w(1010), "một nghìn không trăm mười");
        assert_eq!(w(1100), "một nghìn một trăm");
        assert_eq!(w(10_000), "mười nghìn");
        assert_eq!(w(15_000), "mười lăm nghìn");
        assert_eq!(w(21_000), "hai mươi mốt nghìn");
        assert_eq!(w(32479), "ba mươi hai nghìn bốn trăm bảy mươi chín");
        assert_eq!(w(148_311), "một trăm bốn mươi tám nghìn ba trăm mười một");
        assert_eq!(w(45210), "bốn mươi lăm nghìn hai trăm mười");
        assert_eq!(w(11224), "mười một nghìn hai trăm hai mươi tư");
        assert_eq!(w(1_000_001), "một triệu không trăm linh một");
        assert_eq!(w(1_005_000), "một triệu không trăm linh năm nghìn");
        assert_eq!(w(1_000_000_000), "một tỷ");
        assert_eq!(w(1_000_000_005), "một tỷ không trăm linh năm");
        assert_eq!(w(2_000_300_000), "hai tỷ ba trăm nghìn");
        assert_eq!(w(1_000_000_000_000), "một nghìn tỷ");
        assert_eq!(
            w(5_000_001_000_000),
            "năm nghìn tỷ không trăm linh một triệu"
        );
        assert_eq!(w(423_000_000_000_000), "bốn trăm hai mươi ba nghìn tỷ");
        assert_eq!(w(1_000_000_000_000_000_000), "một tỷ tỷ");
    }

    #[test]
    fn largest_value() {
        // 18 446 744 073 tỷ + 709 551 615: the count of tỷ is itself read with "tỷ" inside it.
        assert_eq!(
            w(u64::MAX),
            "mười tám tỷ bốn trăm bốn mươi sáu triệu bảy trăm bốn mươi tư nghìn \
             không trăm bảy mươi ba tỷ bảy trăm linh chín triệu năm trăm năm mươi mốt \
             nghìn sáu trăm mười lăm"
        );
    }

    #[test]
    fn southern_style() {
        let south = WordsStyle {
            zero_tens: ZeroTens::Le,
            four: Four::Bon,
            thousand: Thousand::Ngan,
        };
        assert_eq!(number_to_words(105, &south), "một trăm lẻ năm");
        assert_eq!(number_to_words(24, &south), "hai mươi bốn");
        assert_eq!(
            number_to_words(2024, &south),
            "hai ngàn không trăm hai mươi bốn"
        );
        assert_eq!(number_to_words(14, &south), "mười bốn");
        let le_only = WordsStyle {
            zero_tens: ZeroTens::Le,
            ..WordsStyle::default()
        };
        assert_eq!(number_to_words(105, &le_only), "một trăm lẻ năm");
        assert_eq!(number_to_words(64, &le_only), "sáu mươi tư");
    }

    #[test]
    fn money_in_dong_marks_where_the_ty_end() {
        let s = WordsStyle::default();
        // A province's budget: 2.345.678 triệu đồng, read in tỷ as a clerk reads it aloud.
        assert_eq!(
            dong_in_words(2_345_678_000_000, &s),
            "Hai nghìn ba trăm bốn mươi lăm tỷ, sáu trăm bảy mươi tám triệu đồng"
        );
        // Boundaries: below a thousand tỷ no comma is needed; round thousands of tỷ.
        assert_eq!(
            dong_in_words(999_999_000_000, &s),
            "Chín trăm chín mươi chín tỷ chín trăm chín mươi chín triệu đồng"
        );
        assert_eq!(dong_in_words(1_000_000_000_000, &s), "Một nghìn tỷ đồng");
        assert_eq!(
            dong_in_words(1_000_005_000_000, &s),
            "Một nghìn tỷ, không trăm linh năm triệu đồng"
        );
        assert_eq!(dong_in_words(10u64.pow(15), &s), "Một triệu tỷ đồng");
        assert_eq!(
            dong_in_words(10u64.pow(15) - 1, &s),
            "Chín trăm chín mươi chín nghìn chín trăm chín mươi chín tỷ, chín trăm chín mươi \
             chín triệu chín trăm chín mươi chín nghìn chín trăm chín mươi chín đồng"
        );
        // 10¹² triệu đồng, the largest budget the period file accepts.
        assert_eq!(dong_in_words(10u64.pow(18), &s), "Một tỷ tỷ đồng");
        assert_eq!(
            dong_in_words(10u64.pow(18) + 1_000_000, &s),
            "Một tỷ tỷ, không trăm linh một triệu đồng"
        );
    }

    #[test]
    fn default_style_is_official() {
        let style = WordsStyle::default();
        assert_eq!(style.zero_tens, ZeroTens::Linh);
        assert_eq!(style.four, Four::Tu);
        assert_eq!(style.thousand, Thousand::Nghin);
    }

    #[test]
    fn amounts() {
        let style = WordsStyle::default();
        assert_eq!(
            amount_in_words(86447, "triệu đồng", &style),
            "Tám mươi sáu nghìn bốn trăm bốn mươi bảy triệu đồng"
        );
        assert_eq!(
            amount_in_words(1_250_000, "đồng", &style),
            "Một triệu hai trăm năm mươi nghìn đồng"
        );
        assert_eq!(amount_in_words(0, "đồng", &style), "Không đồng");
        assert_eq!(amount_in_words(15, "  ", &style), "Mười lăm");
        assert_eq!(amount_in_words(5, " đồng ", &style), "Năm đồng");
    }
}
