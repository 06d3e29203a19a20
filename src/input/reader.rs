//! Typed, strict reading of a document tree: every missing key, wrong type and unknown key is
//! collected as a problem with its position, and reading goes on.

use std::ops::Range;

use chrono::{Datelike, NaiveDate};

use super::diagnostics::{Problems, did_you_mean};
use super::figures::{self, MAX_EXACT, MAX_FIGURE, MIN_FIGURE, ViNumber};
use super::text;
use super::tree::{Key, Node, Source, Value};

/// Dates outside these years are typing slips (`9999-12-31`), not half-year paperwork.
const DATE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Shared state of one file's reading: its source and the problems found so far.
pub struct Reader<'a> {
    pub source: &'a Source,
    pub problems: Problems,
    /// JSON has no date type, so a date there is a "YYYY-MM-DD" string; in TOML a quoted date
    /// is a slip that hides a typo from the parser, and is refused.
    dates_as_strings: bool,
}

impl<'a> Reader<'a> {
    pub fn new(source: &'a Source) -> Self {
        Self {
            dates_as_strings: source.name.to_ascii_lowercase().ends_with(".json"),
            source,
            problems: Problems::default(),
        }
    }

    /// The value as written in the file (`12.500`, `1e-300`), for messages that quote it.
    fn literal(&self, node: &Node) -> String {
        self.source
            .text
            .get(node.span.clone())
            .map(|s| s.trim().replace('_', ""))
            .unwrap_or_default()
    }

    /// Where `ch` is in the node's text, for a message on its own line (a multi-line string);
    /// the node's start when it was written as an escape.
    fn char_span(&self, node: &Node, ch: char) -> Range<usize> {
        let raw = self.source.text.get(node.span.clone()).unwrap_or_default();
        match raw.find(ch) {
            Some(at) => node.span.start + at..node.span.start + at + ch.len_utf8(),
            None => node.span.clone(),
        }
    }

    pub fn report(&mut self, span: &Range<usize>, path: &str, message: impl Into<String>) {
        let problem = self.source.problem(span, path, message);
        self.problems.push(problem);
    }

    /// Opens `node` as a table that may hold only `known` keys; unknown keys are reported with
    /// the closest known key as a hint. Returns None (and reports) if it is not a table.
    pub fn table<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Table<'n>> {
        let Value::Table(entries) = &node.value else {
            self.report(
                &node.span,
                path,
                format!("phải là một bảng, không phải {}", node.value.kind()),
            );
            return None;
        };
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                let hint = match did_you_mean(&key.name, known.iter().copied()) {
                    Some(close) => format!(" (có phải là \"{close}\"?)"),
                    None => format!(" (các khóa hợp lệ: {})", known.join(", ")),
                };
                self.report(
                    &key.span,
                    &join(path, &key.name),
                    format!("khóa không hợp lệ \"{}\"{hint}", key.name),
                );
            }
        }
        Some(Table {
            entries,
            span: node.span.clone(),
            path: path.to_string(),
        })
    }
}

/// A table being read. Keys are looked up by name; positions come from the tree.
pub struct Table<'n> {
    entries: &'n [(Key, Node)],
    pub span: Range<usize>,
    pub path: String,
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'n> Table<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// A required value: reports a missing key at the table's position.
    pub fn required(&self, r: &mut Reader<'_>, key: &str) -> Option<&'n Node> {
        let node = self.get(key);
        if node.is_none() {
            r.report(
                &self.span,
                &self.key_path(key),
                format!("thiếu khóa bắt buộc \"{key}\""),
            );
        }
        node
    }

    fn typed<T>(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        required: bool,
        read: impl FnOnce(&mut Reader<'_>, &'n Node, &str) -> Option<T>,
    ) -> Option<T> {
        let node = if required {
            self.required(r, key)?
        } else {
            self.get(key)?
        };
        read(r, node, &self.key_path(key))
    }

    pub fn string(&self, r: &mut Reader<'_>, key: &str) -> Option<String> {
        self.typed(r, key, true, read_string)
    }

    pub fn opt_string(&self, r: &mut Reader<'_>, key: &str) -> Option<String> {
        self.typed(r, key, false, read_string)
    }

    pub fn integer(&self, r: &mut Reader<'_>, key: &str) -> Option<i64> {
        self.typed(r, key, true, read_integer)
    }

    pub fn opt_integer(&self, r: &mut Reader<'_>, key: &str) -> Option<i64> {
        self.typed(r, key, false, read_integer)
    }

    /// Money (million VND) and counts: a whole number, read exactly.
    pub fn whole(&self, r: &mut Reader<'_>, key: &str) -> Option<i64> {
        self.typed(r, key, true, read_whole)
    }

    pub fn opt_whole(&self, r: &mut Reader<'_>, key: &str) -> Option<i64> {
        self.typed(r, key, false, read_whole)
    }

    /// Money in million VND: whole đồng (at most 6 decimals), never `12.500` read as 12,5.
    pub fn money(&self, r: &mut Reader<'_>, key: &str) -> Option<f64> {
        self.typed(r, key, true, read_money)
    }

    pub fn opt_money(&self, r: &mut Reader<'_>, key: &str) -> Option<f64> {
        self.typed(r, key, false, read_money)
    }

    pub fn number(&self, r: &mut Reader<'_>, key: &str) -> Option<f64> {
        self.typed(r, key, true, read_number)
    }

    pub fn opt_number(&self, r: &mut Reader<'_>, key: &str) -> Option<f64> {
        self.typed(r, key, false, read_number)
    }

    pub fn date(&self, r: &mut Reader<'_>, key: &str) -> Option<NaiveDate> {
        self.typed(r, key, true, read_date)
    }

    pub fn opt_date(&self, r: &mut Reader<'_>, key: &str) -> Option<NaiveDate> {
        self.typed(r, key, false, read_date)
    }

    pub fn opt_bool(&self, r: &mut Reader<'_>, key: &str) -> Option<bool> {
        self.typed(r, key, false, |r, node, path| match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                r.report(
                    &node.span,
                    path,
                    format!("phải là true hoặc false, không phải {}", node.value.kind()),
                );
                None
            }
        })
    }

    /// A list of strings; a single string is accepted as a list of one.
    pub fn strings(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        required: bool,
    ) -> Vec<(String, Range<usize>)> {
        self.typed(r, key, required, |r, node, path| {
            Some(match &node.value {
                Value::String(_) => read_string(r, node, path)
                    .map(|s| vec![(s, node.span.clone())])
                    .unwrap_or_default(),
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        read_string(r, item, &format!("{path}[{i}]"))
                            .map(|s| (s, item.span.clone()))
                    })
                    .collect(),
                _ => {
                    r.report(
                        &node.span,
                        path,
                        format!("phải là danh sách chuỗi, không phải {}", node.value.kind()),
                    );
                    Vec::new()
                }
            })
        })
        .unwrap_or_default()
    }

    /// A list of items (e.g. `[[programs]]`), each with its own path `key[i]`.
    pub fn list(&self, r: &mut Reader<'_>, key: &str, required: bool) -> Vec<(String, &'n Node)> {
        self.typed(r, key, required, |r, node, path| match &node.value {
            Value::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| (format!("{path}[{i}]"), item))
                    .collect(),
            ),
            _ => {
                r.report(
                    &node.span,
                    path,
                    format!("phải là danh sách, không phải {}", node.value.kind()),
                );
                None
            }
        })
        .unwrap_or_default()
    }
}

fn read_string(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::String(s) => {
            let cleaned = text::clean(s.trim());
            for bad in &cleaned.bad_chars {
                let span = r.char_span(node, bad.ch);
                r.report(&span, path, bad.message.clone());
            }
            if let Some(message) = cleaned.too_long {
                r.report(&node.span, path, message);
            }
            let value = cleaned.text.trim();
            if value.is_empty() {
                r.report(&node.span, path, "không được để trống");
                return None;
            }
            Some(value.to_string())
        }
        other => {
            r.report(
                &node.span,
                path,
                format!("phải là chuỗi, không phải {}", other.kind()),
            );
            None
        }
    }
}

/// A string that holds a number in Vietnamese form ("12.500", "74,4"); None (and a problem)
/// otherwise. A string with no digit at all is a wrong type, said as such.
fn read_vietnamese(r: &mut Reader<'_>, node: &Node, path: &str, s: &str) -> Option<ViNumber> {
    if !s.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    match figures::parse_vietnamese(s) {
        Ok(n) => Some(n),
        Err(message) => {
            r.report(&node.span, path, message);
            None
        }
    }
}

fn read_integer(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<i64> {
    let type_error = |r: &mut Reader<'_>| {
        r.report(
            &node.span,
            path,
            format!("phải là số nguyên, không phải {}", node.value.kind()),
        );
    };
    match &node.value {
        Value::Integer(n) => Some(*n),
        Value::Float(x) if x.fract() == 0.0 && x.abs() < 9e15 => Some(*x as i64),
        Value::String(s) => match read_vietnamese(r, node, path, s) {
            Some(ViNumber::Whole(n)) => Some(n),
            Some(ViNumber::Fraction(_)) => {
                r.report(
                    &node.span,
                    path,
                    format!("phải là số nguyên, không phải \"{s}\""),
                );
                None
            }
            None => {
                if !s.chars().any(|c| c.is_ascii_digit()) {
                    type_error(r);
                }
                None
            }
        },
        _ => {
            type_error(r);
            None
        }
    }
}

/// Money and counts: exact integers. A fraction is refused showing how it was read, and, for
/// `12.500`, the reading a Vietnamese writer meant.
fn read_whole(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<i64> {
    let too_large = |r: &mut Reader<'_>, literal: &str| {
        r.report(
            &node.span,
            path,
            format!(
                "số {literal} quá lớn (tối đa {})",
                crate::vi::group_int(MAX_EXACT)
            ),
        );
    };
    match &node.value {
        Value::Integer(n) if n.unsigned_abs() > MAX_EXACT as u64 => {
            let literal = r.literal(node);
            too_large(r, &literal);
            None
        }
        Value::Integer(n) => Some(*n),
        Value::Float(x) => {
            let literal = r.literal(node);
            let message = if let Some(grouped) = figures::looks_grouped(&literal) {
                format!(
                    "tiền và số đếm phải là số nguyên: {}",
                    figures::two_readings(&literal, *x, grouped)
                )
            } else if !x.is_finite() {
                "số không hợp lệ".to_string()
            } else if x.fract() == 0.0 && x.abs() <= MAX_EXACT as f64 {
                return Some(*x as i64);
            } else if x.abs() > MAX_EXACT as f64 {
                too_large(r, &literal);
                return None;
            } else {
                format!(
                    "tiền và số đếm phải là số nguyên, không phải {literal} (được đọc là {})",
                    crate::vi::decimal(*x, 4)
                )
            };
            r.report(&node.span, path, message);
            None
        }
        Value::String(s) => match read_vietnamese(r, node, path, s) {
            Some(ViNumber::Whole(n)) => Some(n),
            Some(ViNumber::Fraction(_)) => {
                r.report(
                    &node.span,
                    path,
                    format!("tiền và số đếm phải là số nguyên, không phải \"{s}\""),
                );
                None
            }
            None => {
                if !s.chars().any(|c| c.is_ascii_digit()) {
                    r.report(&node.span, path, "phải là số, không phải chuỗi");
                }
                None
            }
        },
        other => {
            r.report(
                &node.span,
                path,
                format!("phải là số nguyên, không phải {}", other.kind()),
            );
            None
        }
    }
}

/// Money in million VND. A budget may have decimals (86.447,6 triệu đồng is a whole number of
/// đồng), but not below one đồng, and `12.500` (Vietnamese grouping, which TOML reads as 12,5)
/// is refused with both readings. Whole amounts are read as integers, exactly.
fn read_money(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<f64> {
    let literal = r.literal(node);
    let (x, decimals) = match &node.value {
        Value::Integer(_) => return read_whole(r, node, path).map(|n| n as f64),
        Value::Float(x) => {
            if let Some(grouped) = figures::looks_grouped(&literal) {
                r.report(
                    &node.span,
                    path,
                    format!(
                        "{}; nếu đúng là {} triệu đồng, viết {}",
                        figures::two_readings(&literal, *x, grouped),
                        crate::vi::decimal(*x, 6),
                        literal.trim_end_matches('0').trim_end_matches('.')
                    ),
                );
                return None;
            }
            let decimals = match literal.split_once('.') {
                Some((_, frac)) if !literal.contains(['e', 'E']) => frac.len(),
                _ => 0,
            };
            (*x, decimals)
        }
        Value::String(s) => match read_vietnamese(r, node, path, s) {
            Some(ViNumber::Whole(n)) => (n as f64, 0),
            Some(ViNumber::Fraction(x)) => (x, s.split_once(',').map_or(0, |(_, f)| f.len())),
            None => {
                if !s.chars().any(|c| c.is_ascii_digit()) {
                    r.report(&node.span, path, "phải là số, không phải chuỗi");
                }
                return None;
            }
        },
        other => {
            r.report(
                &node.span,
                path,
                format!("phải là số, không phải {}", other.kind()),
            );
            return None;
        }
    };
    // Amounts too large for a budget are the period reader's to refuse (it knows the unit).
    if !x.is_finite() {
        r.report(&node.span, path, "số không hợp lệ");
        None
    } else if decimals > 6
        || value_decimals(x) > 6
        || (x != 0.0 && x.abs() < 1e-6)
        || (x * 1e6).fract().abs() > 1e-3
    {
        // As typed in a TOML or JSON file (a number, or a quoted Vietnamese one); a workbook's
        // node has no typed text (its span names the cell), so its value, the Vietnamese way.
        let shown = if literal.parse::<f64>().is_ok() || literal.starts_with(['"', '\'']) {
            literal
        } else {
            format!("{x}").replace('.', ",")
        };
        r.report(
            &node.span,
            path,
            format!(
                "số tiền {shown} triệu đồng có phần lẻ nhỏ hơn một đồng (tối đa 6 chữ số thập phân)"
            ),
        );
        None
    } else {
        Some(x)
    }
}

/// Decimals of the shortest decimal that reads back as `x` (Rust prints an f64 so, and never
/// with an exponent): 61864.00000000001 has 11, whether it was typed so, written `6.186400000000001e4`
/// or saved by Excel as the result of a formula. Counting the typed digits alone let the
/// exponent form through, and a workbook cell has no typed digits; the product with 10^6 is
/// too coarse at that size (61864000000.00001 is within 10^-5 of a whole number).
fn value_decimals(x: f64) -> usize {
    let text = format!("{x}");
    text.split_once('.').map_or(0, |(_, frac)| frac.len())
}

/// A figure that may have decimals (74,4 triệu đồng/người/năm), within what a document can print.
fn read_number(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<f64> {
    let x = match &node.value {
        Value::Integer(n) if n.unsigned_abs() > MAX_FIGURE as u64 => f64::INFINITY,
        Value::Integer(n) => return Some(*n as f64),
        Value::Float(x) => {
            let literal = r.literal(node);
            // "12.500" written for twelve thousand five hundred; "12.5" would be written so.
            if let Some(grouped) = figures::looks_grouped(&literal)
                && literal.ends_with('0')
            {
                r.report(
                    &node.span,
                    path,
                    format!(
                        "{}; nếu đúng là số thập phân, viết {}",
                        figures::two_readings(&literal, *x, grouped),
                        literal.trim_end_matches('0')
                    ),
                );
                return None;
            }
            *x
        }
        Value::String(s) => match read_vietnamese(r, node, path, s) {
            Some(ViNumber::Whole(n)) => n as f64,
            Some(ViNumber::Fraction(x)) => x,
            None => {
                if !s.chars().any(|c| c.is_ascii_digit()) {
                    r.report(&node.span, path, "phải là số, không phải chuỗi");
                }
                return None;
            }
        },
        other => {
            r.report(
                &node.span,
                path,
                format!("phải là số, không phải {}", other.kind()),
            );
            return None;
        }
    };
    let literal = r.literal(node);
    if x.is_nan() {
        r.report(&node.span, path, "số không hợp lệ");
        None
    } else if x.abs() > MAX_FIGURE {
        r.report(
            &node.span,
            path,
            format!(
                "số {literal} quá lớn (tối đa 1.000.000.000.000.000); kiểm tra lại đơn vị tính"
            ),
        );
        None
    } else if x != 0.0 && x.abs() < MIN_FIGURE {
        r.report(
            &node.span,
            path,
            format!("số {literal} quá nhỏ: văn bản in tối đa 4 chữ số thập phân nên sẽ in thành 0"),
        );
        None
    } else {
        Some(x)
    }
}

fn read_date(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<NaiveDate> {
    // TOML has native dates; JSON carries them as "YYYY-MM-DD" strings.
    let (text, quoted) = match &node.value {
        Value::Datetime(s) => (s, false),
        Value::String(s) => (s, !r.dates_as_strings),
        other => {
            r.report(
                &node.span,
                path,
                format!("phải là ngày dạng YYYY-MM-DD, không phải {}", other.kind()),
            );
            return None;
        }
    };
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(_) if quoted => {
            let key = path.rsplit('.').next().unwrap_or(path);
            r.report(
                &node.span,
                path,
                format!("ngày trong tệp TOML viết không có ngoặc kép: {key} = {text}"),
            );
            None
        }
        Ok(date) if DATE_YEARS.contains(&date.year()) => Some(date),
        Ok(date) => {
            r.report(
                &node.span,
                path,
                format!(
                    "ngày {} không hợp lệ (năm phải từ {} đến {})",
                    date.format("%d/%m/%Y"),
                    DATE_YEARS.start(),
                    DATE_YEARS.end()
                ),
            );
            None
        }
        Err(_) => {
            r.report(
                &node.span,
                path,
                format!("ngày không hợp lệ \"{text}\" (cần dạng YYYY-MM-DD, ví dụ 2024-06-21)"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse_toml;
    use super::*;

    #[test]
    fn collects_every_problem_and_keeps_reading() {
        let src = Source::new("p.toml", "[period]\nyaer = 2024\nhalf = \"một\"\n");
        let root = parse_toml(&src).unwrap();
        let mut r = Reader::new(&src);
        let top = r.table(&root, "", &["period"]).unwrap();
        let period = r
            .table(top.get("period").unwrap(), "period", &["year", "half"])
            .unwrap();
        assert_eq!(period.integer(&mut r, "year"), None);
        assert_eq!(period.integer(&mut r, "half"), None);
        let messages: Vec<String> = r
            .problems
            .sorted()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "p.toml:1:1: period.year: thiếu khóa bắt buộc \"year\"",
                "p.toml:2:1: period.yaer: khóa không hợp lệ \"yaer\" (có phải là \"year\"?)",
                "p.toml:3:8: period.half: phải là số nguyên, không phải chuỗi",
            ]
        );
    }

    #[test]
    fn dates_and_lists() {
        let src = Source::new("p.toml", "d = \"2024-13-01\"\ns = \"a\"\nl = [\"x\", 2]\n");
        let root = parse_toml(&src).unwrap();
        let mut r = Reader::new(&src);
        let top = r.table(&root, "", &["d", "s", "l"]).unwrap();
        assert_eq!(top.date(&mut r, "d"), None);
        assert_eq!(top.strings(&mut r, "s", true).len(), 1);
        assert_eq!(top.strings(&mut r, "l", true).len(), 1);
        let text = r.problems.to_string();
        assert!(
            text.contains("p.toml:1:5: d: ngày không hợp lệ \"2024-13-01\""),
            "{text}"
        );
        assert!(
            text.contains("p.toml:3:11: l[2]: phải là chuỗi, không phải số nguyên"),
            "{text}"
        );
    }

    fn read_one<T>(
        text: &str,
        read: impl FnOnce(&Table<'_>, &mut Reader<'_>) -> T,
    ) -> (T, Vec<String>) {
        let src = Source::new("p.toml", text);
        let root = parse_toml(&src).unwrap();
        let mut r = Reader::new(&src);
        let top = r.table(&root, "", &["x"]).unwrap();
        let value = read(&top, &mut r);
        let problems = r.problems.iter().map(ToString::to_string).collect();
        (value, problems)
    }

    #[test]
    fn a_line_break_in_a_name_becomes_a_space() {
        let (name, problems) = read_one(
            "x = \"\"\"Phòng Tài nguyên\r\nvà Môi trường\"\"\"\n",
            |t, r| t.string(r, "x"),
        );
        assert_eq!(name.as_deref(), Some("Phòng Tài nguyên và Môi trường"));
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn a_bidi_override_is_located_on_its_own_line() {
        let (_, problems) = read_one("x = \"\"\"Quảng\nTân \u{202e}xã\"\"\"\n", |t, r| {
            t.string(r, "x")
        });
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "p.toml:2:5: x: có ký tự điều khiển vô hình U+202E (RIGHT-TO-LEFT OVERRIDE)"
            ),
            "{problems:?}"
        );
    }

    #[test]
    fn numbers_in_vietnamese_form_are_read() {
        assert_eq!(
            read_one("x = \"12.500\"", |t, r| t.whole(r, "x")).0,
            Some(12500)
        );
        assert_eq!(
            read_one("x = \"74,4\"", |t, r| t.number(r, "x")).0,
            Some(74.4)
        );
        assert_eq!(read_one("x = 74.4", |t, r| t.number(r, "x")).0, Some(74.4));
        assert_eq!(
            read_one("x = 12500.0", |t, r| t.whole(r, "x")).0,
            Some(12500)
        );
    }

    #[test]
    fn the_12_500_trap_is_refused_with_both_readings() {
        let (value, problems) = read_one("x = 12.500", |t, r| t.whole(r, "x"));
        assert_eq!(value, None);
        assert_eq!(
            problems,
            [
                "p.toml:1:5: x: tiền và số đếm phải là số nguyên: 12.500 được đọc là 12,5; nếu là mười hai nghìn năm trăm, viết 12500"
            ]
        );
    }

    #[test]
    fn money_is_whole_dong_and_never_the_12_500_trap() {
        assert_eq!(
            read_one("x = 86447.6", |t, r| t.money(r, "x")).0,
            Some(86447.6)
        );
        assert_eq!(
            read_one("x = \"86.447,6\"", |t, r| t.money(r, "x")).0,
            Some(86447.6)
        );
        let (value, problems) = read_one("x = 12.500", |t, r| t.money(r, "x"));
        assert_eq!(value, None);
        assert_eq!(
            problems,
            [
                "p.toml:1:5: x: 12.500 được đọc là 12,5; nếu là mười hai nghìn năm trăm, viết 12500; nếu đúng là 12,5 triệu đồng, viết 12.5"
            ]
        );
        // Amounts beyond any budget (1.7e308) are refused by the period reader, unit in hand.
        for text in [
            "x = 1e-300",
            "x = 0.0000001",
            "x = nan",
            "x = 9223372036854775807",
        ] {
            let (value, problems) = read_one(text, |t, r| t.money(r, "x"));
            assert_eq!(value, None, "{text}");
            assert_eq!(problems.len(), 1, "{text}: {problems:?}");
        }
    }

    #[test]
    fn money_below_one_dong_is_refused_however_it_is_written() {
        // The value decides, not the digits typed: an exponent hides 11 decimals.
        assert_eq!(
            read_one("x = 6.1864e4", |t, r| t.money(r, "x")).0,
            Some(61864.0)
        );
        let (value, problems) = read_one("x = 6.186400000000001e4", |t, r| t.money(r, "x"));
        assert_eq!(value, None);
        assert_eq!(
            problems,
            [
                "p.toml:1:5: x: số tiền 6.186400000000001e4 triệu đồng có phần lẻ nhỏ hơn một đồng (tối đa 6 chữ số thập phân)"
            ]
        );
        let (value, problems) = read_one("x = 61864.00000000001", |t, r| t.money(r, "x"));
        assert_eq!((value, problems.len()), (None, 1), "{problems:?}");
        // JSON the same way.
        let src = Source::new("p.json", "{\"x\": 6.186400000000001e4, \"y\": 61864.5}");
        let root = super::super::tree::parse_json(&src).unwrap();
        let mut r = Reader::new(&src);
        let top = r.table(&root, "", &["x", "y"]).unwrap();
        assert_eq!(top.money(&mut r, "x"), None);
        assert_eq!(top.money(&mut r, "y"), Some(61864.5));
        assert_eq!(r.problems.len(), 1, "{}", r.problems);
        assert!(
            r.problems.to_string().contains("phần lẻ nhỏ hơn một đồng"),
            "{}",
            r.problems
        );
    }

    #[test]
    fn figures_a_document_cannot_print_exactly_are_refused() {
        for (text, expected) in [
            ("x = 9223372036854775807", "quá lớn"),
            ("x = 1e-300", "phải là số nguyên"),
            ("x = 1.7e308", "quá lớn"),
        ] {
            let (value, problems) = read_one(text, |t, r| t.whole(r, "x"));
            assert_eq!(value, None, "{text}");
            assert!(problems[0].contains(expected), "{text}: {problems:?}");
        }
        for (text, expected) in [
            ("x = 1e-320", "quá nhỏ"),
            ("x = 1.7e308", "quá lớn"),
            ("x = 9223372036854775807", "quá lớn"),
        ] {
            let (value, problems) = read_one(text, |t, r| t.number(r, "x"));
            assert_eq!(value, None, "{text}");
            assert!(problems[0].contains(expected), "{text}: {problems:?}");
        }
    }

    #[test]
    fn a_quoted_date_in_toml_is_refused_but_not_in_json() {
        let (date, problems) = read_one("x = \"2024-06-21\"", |t, r| t.date(r, "x"));
        assert_eq!(date, None);
        assert!(
            problems[0].contains("không có ngoặc kép: x = 2024-06-21"),
            "{problems:?}"
        );
        let src = Source::new("p.json", "{\"x\": \"2024-06-21\"}");
        let root = super::super::tree::parse_json(&src).unwrap();
        let mut r = Reader::new(&src);
        let top = r.table(&root, "", &["x"]).unwrap();
        assert_eq!(top.date(&mut r, "x"), NaiveDate::from_ymd_opt(2024, 6, 21));
        let (date, problems) = read_one("x = 9999-12-31", |t, r| t.date(r, "x"));
        assert_eq!(date, None);
        assert!(
            problems[0].contains("năm phải từ 2000 đến 2100"),
            "{problems:?}"
        );
    }
}
