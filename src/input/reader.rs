//! Typed, strict reading of a document tree: every missing key, wrong type and unknown key is
//! collected as a problem with its position, and reading goes on.

use std::ops::Range;

use chrono::NaiveDate;

use super::diagnostics::{Problems, did_you_mean};
use super::tree::{Key, Node, Source, Value};

/// Shared state of one file's reading: its source and the problems found so far.
pub struct Reader<'a> {
    pub source: &'a Source,
    pub problems: Problems,
}

impl<'a> Reader<'a> {
    pub fn new(source: &'a Source) -> Self {
        Self {
            source,
            problems: Problems::default(),
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
                Value::String(s) => vec![(s.clone(), node.span.clone())],
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
        Value::String(s) if s.trim().is_empty() => {
            r.report(&node.span, path, "không được để trống");
            None
        }
        Value::String(s) => Some(s.trim().to_string()),
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

fn read_integer(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<i64> {
    match node.value {
        Value::Integer(n) => Some(n),
        Value::Float(x) if x.fract() == 0.0 && x.abs() < 9e15 => Some(x as i64),
        _ => {
            r.report(
                &node.span,
                path,
                format!("phải là số nguyên, không phải {}", node.value.kind()),
            );
            None
        }
    }
}

fn read_number(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<f64> {
    match node.value {
        Value::Integer(n) => Some(n as f64),
        Value::Float(x) if x.is_finite() => Some(x),
        Value::Float(_) => {
            r.report(&node.span, path, "số không hợp lệ");
            None
        }
        _ => {
            r.report(
                &node.span,
                path,
                format!("phải là số, không phải {}", node.value.kind()),
            );
            None
        }
    }
}

fn read_date(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<NaiveDate> {
    // TOML has native dates; JSON carries them as "YYYY-MM-DD" strings.
    let text = match &node.value {
        Value::Datetime(s) | Value::String(s) => s,
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
        Ok(date) => Some(date),
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
            text.contains("p.toml:3:11: l[1]: phải là chuỗi, không phải số nguyên"),
            "{text}"
        );
    }
}
