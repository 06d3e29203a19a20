//! What a text field of an input file may hold: line breaks become spaces, invisible marks that
//! change nothing are dropped, controls and direction overrides are refused, every character
//! must be one the shipped fonts can draw, and a field has a length a page can hold.
//!
//! `check` promises that `render` and `send` can deliver; these are the things a name or a
//! task could carry that used to pass here and fail (or crash) there.

use std::sync::OnceLock;

/// The fonts the PDF is set in (the same files `render::pdf` embeds). A character missing from
/// any of them would fail the PDF/A export ("không rõ vị trí"), so it is refused here with its line.
const FONTS: &[(&str, &[u8])] = &[
    (
        "Liberation Serif",
        include_bytes!("../../fonts/LiberationSerif-Regular.ttf"),
    ),
    (
        "Liberation Serif Bold",
        include_bytes!("../../fonts/LiberationSerif-Bold.ttf"),
    ),
    (
        "Liberation Serif Italic",
        include_bytes!("../../fonts/LiberationSerif-Italic.ttf"),
    ),
    (
        "Liberation Serif Bold Italic",
        include_bytes!("../../fonts/LiberationSerif-BoldItalic.ttf"),
    ),
];

/// Characters per text field. The longest paragraph of a real report is about 1,500; a field of
/// 32,768 letters crashed the PDF writer (krilla slices a glyph run at 65,535 bytes).
pub const MAX_FIELD_CHARS: usize = 5_000;

/// Characters of one unbroken word: longer cannot be set in a line of A4 and would run into the
/// margin (a web address is the longest real case).
pub const MAX_WORD_CHARS: usize = 120;

/// What is wrong with one character of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadChar {
    pub ch: char,
    /// Byte offset of the character in the cleaned text.
    pub offset: usize,
    pub message: String,
}

/// A field after cleaning, and every problem left in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub text: String,
    pub bad_chars: Vec<BadChar>,
    /// Too long, or a word too long: message only (the field's position is enough).
    pub too_long: Option<String>,
}

/// "U+202E (RIGHT-TO-LEFT OVERRIDE)", or "U+9EC3 '黃'" for a printable one: the names of the
/// invisible characters are the ones the record's names are checked with (`vi::names`).
pub fn describe(ch: char) -> String {
    crate::vi::names::describe(ch)
}

/// Line breaks and tabs: a name typed over two lines is one name.
fn is_break(ch: char) -> bool {
    matches!(
        ch,
        '\n' | '\r' | '\t' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Invisible marks that change nothing in Vietnamese text (Word and web pages leave them):
/// dropped rather than refused.
fn is_droppable(ch: char) -> bool {
    matches!(
        ch,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{ad}'
    )
}

/// Controls and direction marks: they can make a name read differently from what it says
/// (U+202E turns "gpj.exe" around), or break a mail header; refused so a person decides.
fn is_refused_control(ch: char) -> bool {
    ch.is_control() || is_invisible_control(ch)
}

/// Direction marks, overrides, isolates and other invisible format characters (not C0/C1).
pub fn is_invisible_control(ch: char) -> bool {
    matches!(ch, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}')
        || ch == '\u{fffd}'
        || ('\u{fff9}'..='\u{fffb}').contains(&ch)
}

/// Line breaks become single spaces, runs of spaces one space, and droppable marks go; nothing
/// else is changed. A run of spaces typed inside a name ("Hoàng Vĩnh      Khuyến") would be kept
/// by the DOCX and could break a signature block's name over two lines in the PDF.
pub fn normalise_breaks(text: &str) -> String {
    if !text.chars().any(|c| is_break(c) || is_droppable(c)) && !text.contains("  ") {
        return text.to_string();
    }
    let kept: String = text.chars().filter(|c| !is_droppable(*c)).collect();
    kept.split(|c| is_break(c) || c == ' ')
        .filter(|piece| !piece.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn faces() -> &'static [ttf_parser::Face<'static>] {
    static FACES: OnceLock<Vec<ttf_parser::Face<'static>>> = OnceLock::new();
    FACES.get_or_init(|| {
        FONTS
            .iter()
            .filter_map(|(_, data)| ttf_parser::Face::parse(data, 0).ok())
            .collect()
    })
}

/// The font that lacks `ch`, if any (spaces are drawn without a glyph lookup that matters).
pub fn missing_from(ch: char) -> Option<&'static str> {
    if ch == ' ' {
        return None;
    }
    let faces = faces();
    if faces.len() != FONTS.len() {
        // A shipped font that does not parse is a build defect; name it on every character
        // rather than pretend coverage.
        return Some(FONTS[faces.len().min(FONTS.len() - 1)].0);
    }
    faces
        .iter()
        .zip(FONTS)
        .find(|(face, _)| face.glyph_index(ch).is_none())
        .map(|(_, (name, _))| *name)
}

/// The widest unbroken word a line of body text can hold: the 165 mm text width less the 1 cm
/// first-line indent, at 14 pt bold (the widest face the templates use). Narrower places
/// (table cells, "Nơi nhận") are still guarded by the page check at render.
const MAX_WORD_PT: f64 = 155.0 / 25.4 * 72.0;

/// The width, in points, of `text` in Liberation Serif Regular at `size` points (no kerning).
pub fn regular_width_pt(text: &str, size: f64) -> f64 {
    face_width_pt(0, text, size)
}

/// The width, in points, of `text` in Liberation Serif Bold at `size` points (no kerning).
pub fn bold_width_pt(text: &str, size: f64) -> f64 {
    face_width_pt(1, text, size)
}

/// The width, in points, of `text` set in Liberation Serif Italic at `size` points: glyph
/// advances without kerning (kerning only narrows a Latin line, so this errs on the safe side).
/// `check` uses it for lines the decree keeps on one line, such as the place and date.
pub fn italic_width_pt(text: &str, size: f64) -> f64 {
    face_width_pt(2, text, size)
}

fn face_width_pt(index: usize, text: &str, size: f64) -> f64 {
    let Some(face) = faces().get(index) else {
        return f64::INFINITY;
    };
    let per_unit = size / f64::from(face.units_per_em());
    text.chars()
        .map(|ch| {
            face.glyph_index(ch)
                .and_then(|g| face.glyph_hor_advance(g))
                .map_or(f64::from(face.units_per_em()), f64::from)
        })
        .sum::<f64>()
        * per_unit
}

/// Cleans one text field of a document and lists what cannot go into it.
pub fn clean(text: &str) -> Cleaned {
    let text = normalise_breaks(text);
    let mut bad_chars = Vec::new();
    for (offset, ch) in text.char_indices() {
        let message = if is_refused_control(ch) {
            format!(
                "có ký tự điều khiển vô hình {} không được phép trong văn bản; hãy xoá nó (thường do dán từ trang web hay tin nhắn)",
                describe(ch)
            )
        } else if let Some(font) = missing_from(ch) {
            format!(
                "ký tự {} không có trong phông chữ của văn bản ({font}); hãy thay bằng chữ tiếng Việt hoặc ký hiệu thông thường",
                describe(ch)
            )
        } else {
            continue;
        };
        // One message per distinct character is enough to fix them all.
        if !bad_chars.iter().any(|b: &BadChar| b.ch == ch) {
            bad_chars.push(BadChar {
                ch,
                offset,
                message,
            });
        }
    }
    let chars = text.chars().count();
    let too_long = if chars > MAX_FIELD_CHARS {
        Some(format!(
            "dài {chars} ký tự, quá giới hạn {MAX_FIELD_CHARS} ký tự của một mục; hãy tách thành nhiều mục"
        ))
    } else {
        text.split_whitespace()
            .find(|word| {
                word.chars().count() > MAX_WORD_CHARS || bold_width_pt(word, 14.0) > MAX_WORD_PT
            })
            .map(|word| {
                let start: String = word.chars().take(20).collect();
                format!(
                    "có một từ dài {} ký tự không có dấu cách (\"{start}…\"), quá một dòng của trang A4 thì không xuống dòng được; hãy thêm dấu cách",
                    word.chars().count()
                )
            })
    };
    Cleaned {
        text,
        bad_chars,
        too_long,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_spaces_in_a_name_become_one_space() {
        assert_eq!(
            normalise_breaks("Hoàng Vĩnh                 Khuyến"),
            "Hoàng Vĩnh Khuyến"
        );
        assert_eq!(normalise_breaks(" Tô  Xuân \n  Lợi "), "Tô Xuân Lợi");
        // A no-break space is the office's choice, kept.
        assert_eq!(normalise_breaks("Tô\u{a0}Xuân Lợi"), "Tô\u{a0}Xuân Lợi");
    }

    #[test]
    fn line_breaks_in_a_name_become_one_space() {
        assert_eq!(normalise_breaks("Xã\nQuảng Tân"), "Xã Quảng Tân");
        assert_eq!(normalise_breaks("Xã \r\n  Quảng\tTân\n"), "Xã Quảng Tân");
        assert_eq!(normalise_breaks("Quảng\u{200b}Tân"), "QuảngTân");
        assert_eq!(normalise_breaks("Không đổi  gì"), "Không đổi gì");
    }

    #[test]
    fn vietnamese_text_is_clean() {
        let text = "Ủy ban nhân dân huyện Đầm Hà: đạt 52,5% (kế hoạch) – “Nơi nhận”; ½ № §";
        let cleaned = clean(text);
        assert_eq!(cleaned.bad_chars, vec![], "{text}");
        assert_eq!(cleaned.too_long, None);
    }

    #[test]
    fn controls_overrides_and_undrawable_characters_are_named() {
        for (text, ch, what) in [
            ("a\u{202e}b", '\u{202e}', "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
            ("a\u{0}b", '\0', "U+0000 (NULL)"),
            ("a\u{1b}[31m", '\u{1b}', "U+001B (ESCAPE)"),
            ("Hoàng 黃", '黃', "U+9EC3 '黃'"),
            ("bay ✈", '✈', "U+2708 '✈'"),
        ] {
            let cleaned = clean(text);
            assert_eq!(cleaned.bad_chars.len(), 1, "{text}");
            assert_eq!(cleaned.bad_chars[0].ch, ch);
            assert!(cleaned.bad_chars[0].message.contains(what), "{:?}", cleaned);
        }
    }

    #[test]
    fn long_fields_and_long_words_are_refused() {
        let word = "Đ".repeat(32_768);
        assert!(clean(&word).too_long.unwrap().contains("32768 ký tự"));
        let words = "Quảng Tân ".repeat(600);
        assert!(
            clean(&words)
                .too_long
                .unwrap()
                .contains("quá giới hạn 5000")
        );
        let url = format!("https://{}", "a".repeat(130));
        assert!(clean(&url).too_long.unwrap().contains("không có dấu cách"));
        assert_eq!(clean(&"Quảng Tân ".repeat(400)).too_long, None);
    }
}
