//! Where a Vietnamese heading line may break: the phrase structure of an issuing body's name
//! and of an excerpt ("V/v …"), so a narrow header cell breaks between phrases ("ỦY BAN NHÂN
//! DÂN / HUYỆN ĐẦM HÀ", "V/v triển khai nhiệm vụ / theo kết luận …"), never inside a word of
//! several syllables ("kết / luận") or between an administrative level and its name.
//!
//! Vietnamese writes every syllable as a separate "word", so a space is not a word boundary. Each
//! place between two syllables is a [`Joint`] of some strength: phrases (before a preposition or
//! conjunction, before an administrative level, after "," and ";"), then words (a lexicon of the
//! compound words these documents use, numbers with their noun), which a renderer joins with
//! no-break spaces as far as its line allows.

/// The no-break space that joins the syllables of one phrase or word.
pub const NBSP: char = '\u{a0}';

/// Words that open a new phrase (compared case-insensitively, on whole syllables).
const PHRASE_OPENERS: &[&str] = &[
    "của",
    "tại",
    "theo",
    "về",
    "cho",
    "với",
    "trong",
    "đối với",
    "để",
    "và",
    "các",
    "những",
];

/// Administrative levels: the level and the name after it are one phrase ("huyện Đầm Hà").
const LEVELS: &[&str] = &[
    "tỉnh",
    "thành phố",
    "huyện",
    "quận",
    "thị xã",
    "thị trấn",
    "xã",
    "phường",
    "đặc khu",
];

/// Bodies named in a header: never broken ("ỦY BAN NHÂN DÂN", Phụ lục I).
const BODIES: &[&str] = &[
    "ủy ban nhân dân",
    "uỷ ban nhân dân",
    "hội đồng nhân dân",
    "văn phòng",
    "hđnd và ubnd",
];

/// Words of two or more syllables that the generated and typical input wording uses. A break
/// inside one reads as a typo to a Vietnamese reader ("kết / luận").
const WORDS: &[&str] = &[
    "chương trình",
    "mục tiêu",
    "quốc gia",
    "kết luận",
    "nhiệm vụ",
    "triển khai",
    "thực hiện",
    "hội nghị",
    "sơ kết",
    "tổng kết",
    "đánh giá",
    "giải pháp",
    "trọng tâm",
    "kết quả",
    "báo cáo",
    "thông báo",
    "công văn",
    "đồng chí",
    "chủ tịch",
    "phó chủ tịch",
    "ủy ban",
    "uỷ ban",
    "nhân dân",
    "hội đồng",
    "văn phòng",
    "nông nghiệp",
    "phát triển",
    "nông thôn",
    "nông thôn mới",
    "giảm nghèo",
    "bền vững",
    "kinh tế",
    "xã hội",
    "dân tộc",
    "thiểu số",
    "miền núi",
    "tài chính",
    "kế hoạch",
    "đầu tư",
    "ngân sách",
    "giải ngân",
    "lãnh đạo",
    "chỉ đạo",
    "điều hành",
    "đầu năm",
    "cuối năm",
    "tình hình",
    "công tác",
    "hướng dẫn",
    "đôn đốc",
    "kiểm tra",
    "giám sát",
    "phối hợp",
    "tổ chức",
    "cơ quan",
    "đơn vị",
    "địa phương",
    "tài nguyên",
    "môi trường",
    "văn hóa",
    "văn hoá",
    "thông tin",
    "lao động",
    "thương binh",
    "giáo dục",
    "đào tạo",
    "y tế",
    "nội vụ",
    "tư pháp",
    "thanh tra",
    "hạ tầng",
    "xây dựng",
    "giao thông",
    "vận tải",
    "công thương",
    "trên địa bàn",
    "địa bàn",
    "tiếp tục",
    "nâng cao",
    "hiệu quả",
    "chất lượng",
    "giai đoạn",
    "thành phố",
    "thị xã",
    "thị trấn",
    "đặc khu",
    "trình bày",
    "dự án",
    "tiểu dự án",
    "nguồn vốn",
    "hoàn thành",
    "hoàn thiện",
];

/// How strongly the text holds together at a break point between two syllables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Joint {
    /// Between phrases: the preferred place to break.
    Phrase,
    /// Between words of one phrase: a break when the phrase alone is wider than the line.
    Word,
    /// Inside a body's name or a level's name ("ỦY BAN NHÂN DÂN", "HUYỆN ĐẦM HÀ"): a break only
    /// when the name alone is wider than the line.
    Name,
    /// Inside a word, a body's name, or a level and its name: never broken.
    Never,
}

/// The syllables of `text` (split on any whitespace) and, between each pair, how they hold.
pub fn joints(text: &str) -> (Vec<&str>, Vec<Joint>) {
    let syllables: Vec<&str> = text.split_whitespace().collect();
    let lower: Vec<String> = syllables.iter().map(|s| s.to_lowercase()).collect();
    let mut joints = vec![Joint::Word; syllables.len().saturating_sub(1)];
    let starts_with = |i: usize, words: &str| -> usize {
        let parts: Vec<&str> = words.split(' ').collect();
        let fits = parts.len() <= lower.len() - i
            && parts
                .iter()
                .zip(&lower[i..])
                .all(|(p, s)| *p == s.trim_end_matches([',', ';', ':']));
        if fits { parts.len() } else { 0 }
    };
    let longest =
        |i: usize, list: &[&str]| list.iter().map(|w| starts_with(i, w)).max().unwrap_or(0);
    let mut i = 0;
    // The end of the body's or level's name being read: no phrase starts inside it.
    let mut held_until = 0;
    while i < syllables.len() {
        // A body's name, and a level with the whole name after it, are phrases of their own:
        // breaks go before and after them; inside, only between words when a line is too
        // narrow for the whole.
        let body = if i >= held_until {
            longest(i, BODIES)
        } else {
            0
        };
        let level = if i >= held_until && body == 0 && (i == 0 || !ends_clause(syllables[i - 1])) {
            longest(i, LEVELS)
        } else {
            0
        };
        let mut end = i + body.max(level);
        if level > 0 {
            // The name: capitalised syllables (or all of an upper-case line) after the level.
            while end < syllables.len()
                && starts_capital(syllables[end])
                && longest(end, LEVELS) == 0
                && longest(end, BODIES) == 0
                && !ends_clause(syllables[end - 1])
            {
                end += 1;
            }
            if end == i + level {
                end = i;
            }
        }
        if end > i {
            if i > 0 && joints[i - 1] != Joint::Never {
                joints[i - 1] = Joint::Phrase;
            }
            if end < syllables.len() {
                joints[end - 1] = Joint::Phrase;
            }
            for j in joints.iter_mut().take(end - 1).skip(i) {
                *j = Joint::Name;
            }
            held_until = end;
        }
        let opener = if i >= held_until {
            longest(i, PHRASE_OPENERS)
        } else {
            0
        };
        if opener > 0 {
            if i > 0 && joints[i - 1] != Joint::Never {
                joints[i - 1] = Joint::Phrase;
            }
            // A preposition holds to the word after it ("tại / Hội nghị" reads as a stray
            // word at a line's end).
            glue(&mut joints, i, opener + 1);
            i += opener;
            continue;
        }
        let word = longest(i, WORDS);
        if word > 1 {
            glue(&mut joints, i, word);
            i += word;
            continue;
        }
        // A number holds to its noun ("6 tháng") and a year to "năm" ("năm 2025").
        if i + 1 < syllables.len() && syllables[i].chars().all(|c| c.is_ascii_digit()) {
            joints[i] = Joint::Never;
        }
        if i > 0 && syllables[i].chars().all(|c| c.is_ascii_digit()) && lower[i - 1] == "năm" {
            joints[i - 1] = Joint::Never;
        }
        i += 1;
    }
    for (i, s) in syllables.iter().enumerate().take(joints.len()) {
        if ends_clause(s) && joints[i] != Joint::Never {
            joints[i] = Joint::Phrase;
        }
    }
    (syllables, joints)
}

fn glue(joints: &mut [Joint], start: usize, len: usize) {
    for j in joints.iter_mut().skip(start).take(len.saturating_sub(1)) {
        *j = Joint::Never;
    }
}

fn ends_clause(s: &str) -> bool {
    s.ends_with([',', ';'])
}

fn starts_capital(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

/// `text` laid out for a line `width` wide, `measure` giving a string's width: phrases that fit
/// a line are held together with no-break spaces, a phrase wider than the line is held together
/// word by word, and syllables of one word always. Only the spaces left are break points, so the
/// renderer (Typst or Word) breaks between phrases wherever the text allows.
pub fn hold_phrases(text: &str, width: f64, measure: impl Fn(&str) -> f64) -> String {
    let (syllables, joints) = joints(text);
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    // Phrase by phrase: the syllables between two Phrase joints.
    for end in 1..=syllables.len() {
        let phrase_ends = end == syllables.len() || joints[end - 1] == Joint::Phrase;
        if !phrase_ends {
            continue;
        }
        let phrase = syllables[start..end].join(" ");
        let fits = measure(&phrase) <= width;
        for i in start..end {
            out.push_str(syllables[i]);
            if i + 1 < end {
                let hold = fits || joints[i] == Joint::Never;
                // A name too wide for a line breaks between its words, never inside one.
                out.push(if hold { NBSP } else { ' ' });
            }
        }
        if end < syllables.len() {
            out.push(' ');
        }
        start = end;
    }
    out
}

/// Lines of at most `width` for `text`, broken between phrases where it can, between words
/// where a phrase alone is too wide: for templates that take a list of lines (the issuing
/// body's header lines), so both formats break at the same places.
pub fn break_lines(text: &str, width: f64, measure: impl Fn(&str) -> f64) -> Vec<String> {
    let held = hold_phrases(text, width, &measure);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for unit in held.split(' ') {
        let plain = unit.replace(NBSP, " ");
        let candidate = if current.is_empty() {
            plain.clone()
        } else {
            format!("{current} {plain}")
        };
        if current.is_empty() || measure(&candidate) <= width {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, plain));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Whether a line that ends with `last` and a next line that starts with `next` split a word,
/// a body's name or a level from its name: what [`break_lines`] never does unless the name
/// alone is wider than the line.
pub fn splits_phrase(last: &str, next: &str) -> bool {
    let joined = format!("{last} {next}");
    let (_, j) = joints(&joined);
    // Only the joint between the two given pieces matters.
    let at = last.split_whitespace().count();
    at > 0 && j.get(at - 1).is_some_and(|j| *j >= Joint::Name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// About half an em per character at 12 pt.
    fn approx(s: &str) -> f64 {
        s.chars().count() as f64 * 6.0
    }

    #[test]
    fn the_body_and_its_level_stay_whole() {
        let lines = break_lines("ỦY BAN NHÂN DÂN HUYỆN ĐẦM HÀ", 120.0, approx);
        assert_eq!(lines, ["ỦY BAN NHÂN DÂN", "HUYỆN ĐẦM HÀ"]);
        let lines = break_lines("VĂN PHÒNG HĐND VÀ UBND XÃ QUẢNG TÂN", 100.0, approx);
        assert_eq!(lines, ["VĂN PHÒNG", "HĐND VÀ UBND", "XÃ QUẢNG TÂN"]);
        // A line wide enough keeps the whole name on one line.
        assert_eq!(
            break_lines("ỦY BAN NHÂN DÂN HUYỆN ĐẦM HÀ", 400.0, approx),
            ["ỦY BAN NHÂN DÂN HUYỆN ĐẦM HÀ"]
        );
    }

    #[test]
    fn an_excerpt_breaks_between_phrases_never_inside_a_word() {
        let text = "V/v triển khai nhiệm vụ theo kết luận tại Hội nghị sơ kết 6 tháng đầu năm 2025 các Chương trình mục tiêu quốc gia";
        let lines = break_lines(text, 175.0, approx);
        assert!(lines.len() > 1);
        for pair in lines.windows(2) {
            assert!(!splits_phrase(&pair[0], &pair[1]), "{lines:?}");
            assert!(approx(&pair[0]) <= 175.0, "{lines:?}");
        }
        assert_eq!(lines[0], "V/v triển khai nhiệm vụ");
        assert_eq!(lines[1], "theo kết luận tại Hội nghị");
        assert!(splits_phrase("theo kết", "luận"));
        // The old header's break, inside the level's name.
        assert!(splits_phrase("ỦY BAN NHÂN DÂN HUYỆN", "ĐẦM HÀ"));
        assert!(!splits_phrase("ỦY BAN NHÂN DÂN", "HUYỆN ĐẦM HÀ"));
        assert!(splits_phrase("theo kết", "luận tại"));
    }

    #[test]
    fn held_text_keeps_phrases_with_no_break_spaces() {
        let held = hold_phrases("V/v triển khai nhiệm vụ theo kết luận", 175.0, approx);
        assert_eq!(
            held,
            "V/v\u{a0}triển\u{a0}khai\u{a0}nhiệm\u{a0}vụ theo\u{a0}kết\u{a0}luận"
        );
        // Narrower than the phrase: only the words stay whole.
        let held = hold_phrases("V/v triển khai nhiệm vụ", 60.0, approx);
        assert_eq!(held, "V/v triển\u{a0}khai nhiệm\u{a0}vụ");
    }
}
