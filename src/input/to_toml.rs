//! Writes a period tree as a TOML period file (`vanban convert FORM.xlsx --to toml`), laid out
//! like the sample: a section per part, `[[programs]]` and `[[tasks]]` as arrays of tables.

use std::fmt::Write as _;

use super::tree::{Node, Value};

/// The TOML text of a period tree (the root must be a table).
pub fn to_toml(root: &Node) -> String {
    let mut out = String::new();
    let Value::Table(entries) = &root.value else {
        return out;
    };
    let (plain, sections): (Vec<_>, Vec<_>) = entries
        .iter()
        .partition(|(_, n)| !matches!(n.value, Value::Table(_)) && !is_table_array(n));
    for (k, n) in &plain {
        let _ = writeln!(out, "{} = {}", key(&k.name), inline(n, 0));
    }
    for (k, n) in sections {
        if let Value::Table(_) = n.value {
            if !out.is_empty() {
                out.push('\n');
            }
            table(&mut out, &k.name, n);
        } else if let Value::Array(items) = &n.value {
            for item in items {
                out.push('\n');
                array_item(&mut out, &k.name, item);
            }
        }
    }
    out
}

fn is_table_array(n: &Node) -> bool {
    matches!(&n.value, Value::Array(items) if !items.is_empty() && items.iter().all(|i| matches!(i.value, Value::Table(_))))
}

fn table(out: &mut String, path: &str, node: &Node) {
    let _ = writeln!(out, "[{path}]");
    body(out, path, node, false);
}

fn array_item(out: &mut String, path: &str, node: &Node) {
    let _ = writeln!(out, "[[{path}]]");
    body(out, path, node, true);
}

/// A table's keys: values inline, then (in an array item, like a program's indicators) its
/// arrays of tables as `[[path.key]]`.
fn body(out: &mut String, path: &str, node: &Node, in_array: bool) {
    let Value::Table(entries) = &node.value else {
        return;
    };
    let nested = |n: &Node| in_array && is_table_array(n);
    for (k, n) in entries.iter().filter(|(_, n)| !nested(n)) {
        let _ = writeln!(out, "{} = {}", key(&k.name), inline(n, 0));
    }
    for (k, n) in entries.iter().filter(|(_, n)| nested(n)) {
        if let Value::Array(items) = &n.value {
            for item in items {
                array_item(out, &format!("{path}.{}", k.name), item);
            }
        }
    }
}

fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        string(name)
    }
}

fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A value on one line, except a list of long strings, which gets a line per item.
fn inline(node: &Node, depth: usize) -> String {
    match &node.value {
        Value::String(s) => string(s),
        Value::Integer(i) => i.to_string(),
        Value::Float(x) => number(*x),
        Value::Bool(b) => b.to_string(),
        Value::Datetime(d) => d.clone(),
        Value::Null => "\"\"".to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| inline(i, depth + 1)).collect();
            let long = parts.iter().map(|p| p.len() + 2).sum::<usize>() > 80;
            if long && depth == 0 {
                let mut s = String::from("[\n");
                for p in parts {
                    let _ = writeln!(s, "  {p},");
                }
                s.push(']');
                s
            } else {
                format!("[{}]", parts.join(", "))
            }
        }
        Value::Table(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{} = {}", key(&k.name), inline(v, depth + 1)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::{Source, parse_toml};
    use super::*;

    #[test]
    fn a_tree_written_as_toml_reads_back_the_same() {
        let text = "[period]\nyear = 2024\nhalf = 1\n\n[meeting]\ndate = 2024-06-21\nspeakers = [{ name = \"A \\\"B\\\"\", title = \"C\" }]\n\n[[programs]]\nid = \"x\"\nbudget = { allocated = 1.5 }\n[[programs.indicators]]\nname = \"n\"\nvalue = 74.4\n\n[[tasks]]\nto = [\"a\", \"b\"]\n";
        let first = parse_toml(&Source::new("a.toml", text)).unwrap();
        let written = to_toml(&first);
        let again = parse_toml(&Source::new("b.toml", written.clone())).unwrap();
        assert_eq!(strip(&first), strip(&again), "{written}");
        assert!(written.contains("[[programs.indicators]]"), "{written}");
    }

    /// The tree without positions.
    fn strip(node: &Node) -> Value {
        match &node.value {
            Value::Table(entries) => Value::Table(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let mut k = k.clone();
                        k.span = 0..0;
                        (
                            k,
                            Node {
                                value: strip(v),
                                span: 0..0,
                            },
                        )
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| Node {
                        value: strip(v),
                        span: 0..0,
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}
