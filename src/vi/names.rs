//! Names of people as the record keeps them (who approved, returned or submitted a draft, who
//! moved the register, who replaced or copied a document, who did what on the web page): one
//! check where a name enters the record, one escape where a stored name is printed.
//!
//! A name is read by people in a terminal, a log and a web page, and compared by vanban. A
//! right-to-left override makes "Hoa\u{202e}nauH" print as another name, a zero-width space
//! makes two spellings of one person differ, an escape sequence repaints the terminal of whoever
//! runs `register show`. None of them belongs in a name, so they are refused when the name is
//! given; a name stored before this check (by an older version) is printed escaped.

use std::borrow::Cow;

/// The longest name kept: a person's full name with a title is far shorter, and a listing line
/// stays readable; room is left for the service's own "vanban (tác vụ <tên tác vụ>)".
pub const MAX_NAME_CHARS: usize = 200;

/// Why a name cannot go into the record. `Display` says it in Vietnamese; the caller adds which
/// argument or field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("tên trống")]
    Empty,
    #[error(
        "tên «{shown}» có ký tự vô hình hoặc ký tự điều khiển {what} (ký tự thứ {position}); hãy gõ \
         lại tên, đừng dán từ trang web hay tin nhắn"
    )]
    Hidden {
        /// The name with its hidden characters escaped.
        shown: String,
        /// "U+202E (RIGHT-TO-LEFT OVERRIDE)".
        what: String,
        /// 1-based, in characters.
        position: usize,
    },
    #[error("tên dài {chars} ký tự, quá giới hạn {MAX_NAME_CHARS} ký tự")]
    TooLong { chars: usize },
}

/// Whether `ch` is invisible or controls how text around it is shown, rather than being a
/// letter, digit, mark, punctuation or space someone can see: C0 and C1 controls (escape,
/// null, tab, line feed…), format characters (direction marks, overrides and isolates,
/// zero-width spaces and joiners, the byte-order mark, the soft hyphen, tag characters), line
/// and paragraph separators, variation selectors and the blank fillers that render as nothing.
pub fn is_hidden(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            // Format characters (general category Cf).
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{890}'..='\u{891}'
                | '\u{8e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
                // Line and paragraph separators.
                | '\u{2028}'
                | '\u{2029}'
                // Invisible marks and fillers.
                | '\u{34f}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{3164}'
                | '\u{ffa0}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{e0100}'..='\u{e01ef}'
                | '\u{fffc}'
                | '\u{fffd}'
        )
}

/// The Unicode name of the invisible characters people actually paste, for messages.
pub fn char_name(ch: char) -> Option<&'static str> {
    Some(match ch {
        '\0' => "NULL",
        '\u{7}' => "BELL",
        '\u{8}' => "BACKSPACE",
        '\t' => "CHARACTER TABULATION",
        '\n' => "LINE FEED",
        '\r' => "CARRIAGE RETURN",
        '\u{b}' => "LINE TABULATION",
        '\u{c}' => "FORM FEED",
        '\u{1b}' => "ESCAPE",
        '\u{7f}' => "DELETE",
        '\u{85}' => "NEXT LINE",
        '\u{9b}' => "CONTROL SEQUENCE INTRODUCER",
        '\u{ad}' => "SOFT HYPHEN",
        '\u{200b}' => "ZERO WIDTH SPACE",
        '\u{200c}' => "ZERO WIDTH NON-JOINER",
        '\u{200d}' => "ZERO WIDTH JOINER",
        '\u{200e}' => "LEFT-TO-RIGHT MARK",
        '\u{200f}' => "RIGHT-TO-LEFT MARK",
        '\u{202a}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202b}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202c}' => "POP DIRECTIONAL FORMATTING",
        '\u{202d}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202e}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{2060}' => "WORD JOINER",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{feff}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{fffd}' => "REPLACEMENT CHARACTER",
        c if c.is_control() => "CONTROL",
        _ => return None,
    })
}

/// "U+202E (RIGHT-TO-LEFT OVERRIDE)", or "U+9EC3 '黃'" for a character that shows.
pub fn describe(ch: char) -> String {
    let code = format!("U+{:04X}", ch as u32);
    match char_name(ch) {
        Some(name) => format!("{code} ({name})"),
        None if is_hidden(ch) => code,
        None => format!("{code} '{ch}'"),
    }
}

/// A name as given (`--by`, a form field), checked and ready to store: Unicode NFC, surrounding
/// spaces removed, every character one a reader sees, at most [`MAX_NAME_CHARS`].
pub fn person_name(given: &str) -> Result<String, NameError> {
    let name = super::text::nfc(given.trim());
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some((position, ch)) = name.chars().enumerate().find(|(_, c)| is_hidden(*c)) {
        return Err(NameError::Hidden {
            shown: shown(&name).into_owned(),
            what: describe(ch),
            position: position + 1,
        });
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong { chars });
    }
    Ok(name)
}

/// `text` as a listing prints it: every hidden character written out as `\u{202E}`, so a name
/// stored before names were checked shows what it holds and can neither turn the line around
/// nor send the terminal an escape sequence. Text without any comes back as it is.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        if is_hidden(ch) {
            out.push_str(&format!("\\u{{{:04X}}}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vietnamese_name_is_kept_in_nfc_without_its_surrounding_spaces() {
        let nfd: String =
            unicode_normalization::UnicodeNormalization::nfd("Nguyễn Thị Hoa").collect();
        assert_eq!(person_name(&format!("  {nfd} ")).unwrap(), "Nguyễn Thị Hoa");
        // Letters of other scripts, apostrophes, dots and no-break spaces are names too.
        for name in [
            "Hoàng Vĩnh Khuyến",
            "Lò Văn A-Páo",
            "Đ. T. O'Neil",
            "Tô\u{a0}Xuân Lợi",
        ] {
            assert_eq!(person_name(name).unwrap(), name);
        }
    }

    #[test]
    fn controls_direction_marks_and_zero_width_characters_are_refused_with_their_place() {
        for (name, what, position) in [
            ("Hoa\u{202e}nauH", "U+202E (RIGHT-TO-LEFT OVERRIDE)", 4),
            ("\u{2066}Hoa", "U+2066 (LEFT-TO-RIGHT ISOLATE)", 1),
            ("Ho\u{200b}a", "U+200B (ZERO WIDTH SPACE)", 3),
            ("Hoa\u{feff}", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)", 4),
            ("Hoa\u{1b}[31m", "U+001B (ESCAPE)", 4),
            ("Hoa\u{9b}31m", "U+009B (CONTROL SEQUENCE INTRODUCER)", 4),
            ("Hoa\nLan", "U+000A (LINE FEED)", 4),
            ("Hoa\u{0}", "U+0000 (NULL)", 4),
            ("Ho\u{ad}a", "U+00AD (SOFT HYPHEN)", 3),
            ("Hoa\u{e0041}", "U+E0041", 4),
            ("Hoa\u{2028}Lan", "U+2028 (LINE SEPARATOR)", 4),
        ] {
            match person_name(name) {
                Err(NameError::Hidden {
                    what: got,
                    position: at,
                    shown,
                }) => {
                    assert_eq!((got.as_str(), at), (what, position), "{name:?}");
                    assert!(!shown.chars().any(is_hidden), "{shown:?}");
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
        let message = person_name("Hoa\u{202e}nauH").unwrap_err().to_string();
        assert_eq!(
            message,
            "tên «Hoa\\u{202E}nauH» có ký tự vô hình hoặc ký tự điều khiển U+202E \
             (RIGHT-TO-LEFT OVERRIDE) (ký tự thứ 4); hãy gõ lại tên, đừng dán từ trang web hay \
             tin nhắn"
        );
    }

    #[test]
    fn an_empty_or_overlong_name_is_refused() {
        assert_eq!(person_name("   "), Err(NameError::Empty));
        assert_eq!(
            person_name(&"Đ".repeat(MAX_NAME_CHARS + 1)),
            Err(NameError::TooLong {
                chars: MAX_NAME_CHARS + 1
            })
        );
        assert!(person_name(&"Đ".repeat(MAX_NAME_CHARS)).is_ok());
    }

    #[test]
    fn shown_writes_hidden_characters_out_and_leaves_the_rest() {
        assert!(matches!(shown("Nguyễn Thị Hoa"), Cow::Borrowed(_)));
        assert_eq!(shown("Hoa\u{202e}nauH"), "Hoa\\u{202E}nauH");
        assert_eq!(shown("a\u{1b}[2Jb\u{200b}"), "a\\u{001B}[2Jb\\u{200B}");
    }
}
