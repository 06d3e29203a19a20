//! Vietnamese text helpers: NFC normalisation, case changes that keep tone marks, and ASCII
//! folding for file names. Every function that returns text returns NFC (nd30.md §7).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `s` in NFC (precomposed): text typed with a decomposing keyboard or pasted from another
/// system compares and renders the same as composed text.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Whether `s` is already in NFC.
pub fn is_nfc(s: &str) -> bool {
    unicode_normalization::is_nfc(s)
}

/// Vietnamese upper case, in NFC: "ủy ban nhân dân" → "ỦY BAN NHÂN DÂN", "đầm hà" → "ĐẦM HÀ",
/// whether the input is composed or decomposed.
pub fn upper(s: &str) -> String {
    // Unicode case mapping covers every precomposed Vietnamese letter and leaves combining tone
    // marks alone, so one NFC pass at the end is enough for either input form.
    s.chars().flat_map(char::to_uppercase).nfc().collect()
}

/// `s` in NFC with its first character in upper case: "tám mươi" → "Tám mươi", "đầm" → "Đầm".
/// Only the very first character changes (a leading space or bracket stays as it is).
pub fn capitalize_first(s: &str) -> String {
    map_first(s, |c, out| out.extend(c.to_uppercase()))
}

/// `s` in NFC with its first character in lower case: "Tám mươi" → "tám mươi", used when a
/// capitalised phrase is placed mid-sentence.
pub fn lower_first(s: &str) -> String {
    map_first(s, |c, out| out.extend(c.to_lowercase()))
}

/// Names whose first syllable keeps its capital though the next one is lower case (Phụ lục II:
/// "Chương trình mục tiêu quốc gia …", "Nghị quyết số …", "Ủy ban nhân dân …").
const NAMES_OPENING_LOWER: &[&str] = &[
    "chương trình",
    "nghị quyết",
    "nghị định",
    "quyết định",
    "thông tư",
    "kế hoạch số",
    "ủy ban",
    "uỷ ban",
    "hội đồng",
    "luật",
];

/// A clause set after a colon in mid-sentence, in NFC: Vietnamese goes on in lower case
/// ("thực hiện nhiệm vụ: hoàn thiện hồ sơ …"), so a clause typed as a sentence ("Hoàn thiện …")
/// loses its capital; one that opens with a name keeps it: an abbreviation ("UBND xã …"), a
/// proper name capitalised syllable by syllable ("Quảng An …"), or a program, body or act
/// ("Chương trình …", "Nghị quyết số …").
pub fn after_colon(s: &str) -> String {
    let composed = nfc(s);
    let mut words = composed.split_whitespace();
    let Some(first) = words.next() else {
        return composed;
    };
    let capitals = first.chars().filter(|c| c.is_uppercase()).count();
    let next_capital = words
        .next()
        .and_then(|w| w.chars().next())
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
    let lower = composed.to_lowercase();
    let named = NAMES_OPENING_LOWER
        .iter()
        .any(|n| lower.starts_with(n) && lower[n.len()..].starts_with([' ', ',', ';']));
    if capitals != 1 || next_capital || named {
        composed
    } else {
        lower_first(&composed)
    }
}

/// Official names the documents write one way throughout (Phụ lục II: a program's name opens
/// with a capital), however the input spells them ("3 chương trình mục tiêu quốc gia").
const OFFICIAL_NAMES: &[&str] = &["Chương trình mục tiêu quốc gia"];

/// `s` in NFC with every official name in `OFFICIAL_NAMES` spelt as listed, so text from the
/// input and the generated wording agree; a name set in capitals (a heading) stays so.
pub fn official_names(s: &str) -> String {
    let mut out = nfc(s);
    for name in OFFICIAL_NAMES {
        let wanted = name.to_lowercase();
        let lower = out.to_lowercase();
        // Vietnamese letters keep their UTF-8 length in lower case; if some other letter does
        // not, byte offsets would not line up, so the text is left as typed.
        let same_offsets = out
            .chars()
            .all(|c| c.to_lowercase().map(char::len_utf8).sum::<usize>() == c.len_utf8());
        if !same_offsets {
            continue;
        }
        let mut fixed = String::with_capacity(out.len());
        let mut at = 0;
        for (start, _) in lower.match_indices(&wanted) {
            let found = &out[start..start + wanted.len()];
            fixed.push_str(&out[at..start]);
            let heading = found.chars().all(|c| !c.is_lowercase());
            fixed.push_str(if heading { found } else { name });
            at = start + wanted.len();
        }
        fixed.push_str(&out[at..]);
        out = fixed;
    }
    out
}

fn map_first(s: &str, change: impl Fn(char, &mut String)) -> String {
    // Normalise first so the first char is the whole base letter with its marks ("ủ", not "u").
    let composed = nfc(s);
    let mut chars = composed.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out = String::with_capacity(composed.len());
    change(first, &mut out);
    out.push_str(chars.as_str());
    // A case change can, in principle, produce a letter that composes differently.
    nfc(&out)
}

/// An ASCII-only version of `s` for file names and mail headers:
/// "Thông báo kết luận" → "Thong bao ket luan", "Đầm Hà" → "Dam Ha".
///
/// - Letters lose their diacritics (canonical decomposition, combining marks dropped), and
///   đ/Đ become d/D; this covers Vietnamese fully and other Latin letters with marks.
/// - ASCII letters, digits, '-', '_' and '.' are kept.
/// - Anything else (whitespace, other punctuation such as '/' or ':', symbols, letters with no
///   ASCII base such as 'ø' or CJK) becomes a space; runs of spaces collapse to one and the
///   ends are trimmed: "Số 125/TB-UBND" → "So 125 TB-UBND".
///
/// The result can be empty (e.g. for "/" alone); callers choosing a file name must handle that.
pub fn ascii_fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        let mapped = match c {
            'đ' => Some('d'),
            'Đ' => Some('D'),
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => Some(c),
            c if is_combining_mark(c) => continue,
            _ => None,
        };
        match mapped {
            Some(c) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c);
            }
            None => pending_space = true,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s` as a decomposing keyboard would type it.
    fn nfd(s: &str) -> String {
        s.nfd().collect()
    }

    #[test]
    fn nfc_normalises_decomposed_text() {
        let decomposed = nfd("Ủy ban nhân dân huyện Đầm Hà");
        assert!(!is_nfc(&decomposed));
        assert_ne!(decomposed, "Ủy ban nhân dân huyện Đầm Hà");
        assert_eq!(nfc(&decomposed), "Ủy ban nhân dân huyện Đầm Hà");
        assert!(is_nfc(&nfc(&decomposed)));
        assert!(is_nfc("Đầm Hà"));
        assert!(is_nfc(""));
        assert_eq!(nfc(""), "");
    }

    #[test]
    fn upper_keeps_tone_marks() {
        assert_eq!(upper("ủy ban nhân dân"), "ỦY BAN NHÂN DÂN");
        assert_eq!(upper("đầm hà"), "ĐẦM HÀ");
        assert_eq!(
            upper("cộng hòa xã hội chủ nghĩa việt nam"),
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
        );
        assert_eq!(upper("thông báo kết luận"), "THÔNG BÁO KẾT LUẬN");
        assert_eq!(upper("ưu tiên ơn"), "ƯU TIÊN ƠN");
        assert_eq!(upper("Số 125/TB-UBND"), "SỐ 125/TB-UBND");
        assert_eq!(upper(""), "");
    }

    #[test]
    fn upper_of_decomposed_input_is_nfc() {
        let result = upper(&nfd("ủy ban nhân dân"));
        assert_eq!(result, "ỦY BAN NHÂN DÂN");
        assert!(is_nfc(&result));
        assert_eq!(upper(&nfd("đầm hà")), "ĐẦM HÀ");
        assert_eq!(upper(&nfd("quảng ninh")), "QUẢNG NINH");
    }

    #[test]
    fn a_clause_after_a_colon_goes_on_in_lower_case_unless_it_opens_with_a_name() {
        assert_eq!(
            after_colon("Hoàn thiện hồ sơ hỗ trợ"),
            "hoàn thiện hồ sơ hỗ trợ"
        );
        assert_eq!(after_colon("Đẩy nhanh tiến độ"), "đẩy nhanh tiến độ");
        assert_eq!(
            after_colon("UBND xã Quảng Tân rà soát"),
            "UBND xã Quảng Tân rà soát"
        );
        assert_eq!(after_colon("Quảng An hoàn thành"), "Quảng An hoàn thành");
        assert_eq!(
            after_colon("Chương trình mục tiêu quốc gia giảm nghèo"),
            "Chương trình mục tiêu quốc gia giảm nghèo"
        );
        assert_eq!(
            after_colon("Nghị quyết số 13 được"),
            "Nghị quyết số 13 được"
        );
        assert_eq!(after_colon("rà soát"), "rà soát");
        assert_eq!(after_colon(""), "");
    }

    #[test]
    fn official_names_are_spelt_one_way() {
        assert_eq!(
            official_names("thực hiện 3 chương trình mục tiêu quốc gia gồm"),
            "thực hiện 3 Chương trình mục tiêu quốc gia gồm"
        );
        assert_eq!(
            official_names("các Chương Trình Mục Tiêu Quốc Gia và chương trình mục tiêu quốc gia"),
            "các Chương trình mục tiêu quốc gia và Chương trình mục tiêu quốc gia"
        );
        assert_eq!(
            official_names("CÁC CHƯƠNG TRÌNH MỤC TIÊU QUỐC GIA"),
            "CÁC CHƯƠNG TRÌNH MỤC TIÊU QUỐC GIA"
        );
        assert_eq!(official_names("không có"), "không có");
    }

    #[test]
    fn capitalize_and_lower_first() {
        assert_eq!(capitalize_first("tám mươi"), "Tám mươi");
        assert_eq!(capitalize_first("đầm"), "Đầm");
        assert_eq!(capitalize_first("ủy ban"), "Ủy ban");
        assert_eq!(capitalize_first(&nfd("ủy ban")), "Ủy ban");
        assert_eq!(capitalize_first("Đã"), "Đã");
        assert_eq!(capitalize_first(""), "");
        assert_eq!(capitalize_first(" a"), " a");
        assert_eq!(lower_first("Tám mươi"), "tám mươi");
        assert_eq!(lower_first("Đầm Hà"), "đầm Hà");
        assert_eq!(lower_first(&nfd("Ủy ban")), "ủy ban");
        assert_eq!(lower_first("UBND"), "uBND");
        assert_eq!(lower_first(""), "");
        assert!(is_nfc(&capitalize_first(&nfd("ở đâu"))));
    }

    #[test]
    fn ascii_fold_examples() {
        assert_eq!(ascii_fold("Thông báo kết luận"), "Thong bao ket luan");
        assert_eq!(ascii_fold("Đầm Hà"), "Dam Ha");
        assert_eq!(ascii_fold("đường"), "duong");
        assert_eq!(ascii_fold(&nfd("Ủy ban nhân dân")), "Uy ban nhan dan");
        assert_eq!(ascii_fold("Quảng Lâm, Quảng An"), "Quang Lam Quang An");
        assert_eq!(ascii_fold("Số 125/TB-UBND"), "So 125 TB-UBND");
        assert_eq!(ascii_fold("bao_cao-2024.h1.pdf"), "bao_cao-2024.h1.pdf");
        assert_eq!(ascii_fold("  a \t b  "), "a b");
        assert_eq!(ascii_fold("Café ø 北京 x"), "Cafe x");
        assert_eq!(ascii_fold("/"), "");
        assert_eq!(ascii_fold(""), "");
        assert!(ascii_fold("Ăn ở Ưu Ơn ỹ Ỵ").is_ascii());
        assert_eq!(ascii_fold("Ăn ở Ưu Ơn ỹ Ỵ"), "An o Uu On y Y");
    }
}
