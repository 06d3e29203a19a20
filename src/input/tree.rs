//! A format-neutral document tree with source positions, built from TOML or JSON.
//!
//! serde stops at the first error and forgets where values were; office staff need every
//! problem at once with its line. So files are first parsed into this tree (all strings NFC),
//! and `reader` walks it, collecting problems.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

use super::diagnostics::Problem;

/// An input file's text, kept to turn byte offsets into lines and columns.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and character column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    pub fn problem(&self, span: &Range<usize>, path: &str, message: impl Into<String>) -> Problem {
        let (line, column) = self.position(span.start);
        Problem {
            file: self.name.clone(),
            line,
            column,
            path: path.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// A TOML date or date-time, as written (`2024-06-21`).
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<(Key, Node)>),
    Null,
}

impl Value {
    /// The type's name as office staff would say it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "chuỗi",
            Value::Integer(_) => "số nguyên",
            Value::Float(_) => "số thực",
            Value::Bool(_) => "true/false",
            Value::Datetime(_) => "ngày",
            Value::Array(_) => "danh sách",
            Value::Table(_) => "bảng",
            Value::Null => "null",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Range<usize>,
}

/// Parses TOML. A syntax error is returned as a problem with its position.
pub fn parse_toml(source: &Source) -> Result<Node, Problem> {
    use toml::de::DeTable;
    let table = DeTable::parse(&source.text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        source.problem(&span, "", toml_syntax_message(e.message()))
    })?;
    let span = 0..source.text.len();
    Ok(Node {
        value: Value::Table(convert_toml_table(table.get_ref())),
        span,
    })
}

/// toml's English syntax error in Vietnamese: "invalid basic string, expected `"`" becomes
/// "lỗi cú pháp TOML: chuỗi trong ngoặc kép không hợp lệ; cần `"`". A message not known here
/// keeps toml's words in parentheses after a Vietnamese sentence.
pub fn toml_syntax_message(message: &str) -> String {
    let message = message.trim();
    let (what, expected) = match message.split_once(", expected ") {
        // "expected nothing": what is there is simply too much.
        Some((what, "nothing")) => (what, None),
        Some((what, expected)) => (what, Some(expected)),
        None => (message, None),
    };
    let Some(what_vi) = toml_error_vi(what) else {
        return format!("lỗi cú pháp TOML, hãy xem lại dòng này ({message})");
    };
    let mut out = format!("lỗi cú pháp TOML: {what_vi}");
    if let Some(expected) = expected {
        let items: Vec<String> = expected
            .split(", ")
            .map(|item| match item {
                "newline" => "xuống dòng".to_owned(),
                "etc" => "…".to_owned(),
                other => toml_expected_vi(other).unwrap_or_else(|| other.to_owned()),
            })
            .collect();
        out.push_str(&format!("; cần {}", items.join(" hoặc ")));
    }
    out
}

/// The Vietnamese of toml's descriptions of what is wrong (toml_parser's and toml's own).
fn toml_error_vi(what: &str) -> Option<&'static str> {
    Some(match what {
        "`_` may only go between digits" => "dấu `_` chỉ được đặt giữa hai chữ số",
        "cannot recurse further; max recursion depth met" => "lồng nhau quá sâu",
        "carriage return must be followed by newline" => {
            "ký tự về đầu dòng phải đi liền xuống dòng"
        }
        "extra `=`" => "thừa dấu `=`",
        "extra assignment between key-value pairs" => "thừa dấu `=` giữa các cặp khóa = giá trị",
        "extra comma in array" => "thừa dấu phẩy trong danh sách",
        "extra comma in inline table" => "thừa dấu phẩy trong bảng viết trên một dòng",
        "integers with a radix cannot be signed" => "số viết theo cơ số khác 10 không được có dấu",
        "invalid comment character" => "ký tự không hợp lệ trong chú thích",
        "invalid inline table element" => "phần tử không hợp lệ trong bảng viết trên một dòng",
        "invalid key-value pair" => "cặp khóa = giá trị không hợp lệ",
        "invalid unquoted key" => {
            "khóa không hợp lệ (khóa có dấu tiếng Việt, dấu cách… phải đặt trong ngoặc kép)"
        }
        "invalid value" => "giá trị không hợp lệ",
        "key with no value" => "khóa chưa có giá trị",
        "keys cannot be multi-line basic strings" | "keys cannot be multi-line literal strings" => {
            "khóa không được viết trên nhiều dòng"
        }
        "missing array opening" => "thiếu `[` mở đầu danh sách",
        "missing assignment between key-value pairs" => "thiếu dấu `=` giữa khóa và giá trị",
        "missing comma between array elements" => "thiếu dấu phẩy giữa các phần tử danh sách",
        "missing comma between key-value pairs" => "thiếu dấu phẩy giữa các cặp khóa = giá trị",
        "missing comment start" => "thiếu `#` mở đầu chú thích",
        "missing escaped value" => "thiếu ký tự sau dấu `\\`",
        "missing inline table opening" => "thiếu `{` mở đầu bảng",
        "missing key for inline table element" => "thiếu khóa trong bảng viết trên một dòng",
        "missing opening quote" => "thiếu ngoặc kép mở đầu chuỗi",
        "missing table open" => "thiếu `[` mở đầu tên bảng",
        "missing value for key" | "missing value" => "thiếu giá trị",
        "radix must be lowercase" => "tiền tố cơ số phải viết thường (0x, 0o, 0b)",
        "redundant integer number prefix" => "thừa tiền tố của số",
        "redundant numeric sign" => "thừa dấu của số",
        "string values must be quoted" => "chuỗi chữ phải đặt trong ngoặc kép",
        "too few unicode value digits" => "mã Unicode thiếu chữ số",
        "unclosed array table" => "tên bảng [[…]] chưa được đóng bằng `]]`",
        "unclosed array" => "danh sách chưa được đóng bằng `]`",
        "unclosed inline table" => "bảng chưa được đóng bằng `}`",
        "unclosed table" => "tên bảng chưa được đóng bằng `]`",
        "unexpected `=` in array" => "dấu `=` không được đặt trong danh sách",
        "unexpected content between comment and newline" => "có nội dung lạ sau chú thích",
        "unexpected content" | "unexpected key or value" => "có nội dung không đúng chỗ",
        "unexpected leading zero" => "số không được bắt đầu bằng chữ số 0",
        "unexpected sign" => "dấu + hoặc - không đúng chỗ",
        "unquoted keys cannot be empty" => "khóa không được để trống",
        "invalid basic string" => "chuỗi trong ngoặc kép không hợp lệ (thiếu ngoặc kép đóng?)",
        "invalid multi-line basic string" => "chuỗi nhiều dòng không hợp lệ",
        "duplicate key" => "khóa bị lặp lại (mỗi khóa chỉ ghi một lần trong một bảng)",
        "invalid date" => "ngày không hợp lệ (viết dạng 2024-06-25)",
        "invalid time" => "giờ không hợp lệ (viết dạng 08:30:00)",
        "invalid date-time" | "invalid datetime" => "ngày giờ không hợp lệ (viết dạng 2024-06-25)",
        "invalid boolean" => "giá trị đúng/sai không hợp lệ (viết true hoặc false)",
        "invalid float" => "số thập phân không hợp lệ (dùng dấu chấm: 74.4)",
        "invalid string" => "chuỗi không hợp lệ",
        other if other.starts_with("invalid") && other.ends_with("integer") => {
            "số nguyên không hợp lệ"
        }
        other if other.starts_with("invalid") => "giá trị không hợp lệ",
        _ => return None,
    })
}

/// The Vietnamese of toml's descriptions of what was expected.
fn toml_expected_vi(what: &str) -> Option<String> {
    let field = |english: &str| {
        Some(match english.trim_end_matches('s') {
            "year" => "năm",
            "month" => "tháng",
            "day" => "ngày",
            "hour" => "giờ",
            "minute" => "phút",
            "second" => "giây",
            _ => return None,
        })
    };
    // "day between 01 and 29", "a two-digit month (MM)".
    if let Some((name, range)) = what.split_once(" between ")
        && let Some((low, high)) = range.split_once(" and ")
    {
        return field(name).map(|name| format!("{name} từ {low} đến {high}"));
    }
    if let Some(rest) = what
        .strip_prefix("a two-digit ")
        .or(what.strip_prefix("a four-digit "))
        && let Some((name, pattern)) = rest.split_once(' ')
    {
        let digits = if what.starts_with("a two") {
            "hai"
        } else {
            "bốn"
        };
        return field(name).map(|name| format!("{name} gồm {digits} chữ số {pattern}"));
    }
    Some(
        match what {
            "basic string" => "chuỗi trong ngoặc kép",
            "characters" | "printable characters" => "ký tự in được",
            "digits" | "numbers" => "chữ số",
            "key" => "khóa",
            "letters" => "chữ cái",
            "literal string" => "chuỗi trong ngoặc đơn",
            "multi-line basic string" => "chuỗi nhiều dòng",
            "non-double-quote visible characters" => "ký tự không phải ngoặc kép",
            "non-single-quote characters" | "non-single-quote visible characters" => {
                "ký tự không phải ngoặc đơn"
            }
            "unicode hexadecimal value" => "mã Unicode hệ mười sáu",
            "value" => "giá trị",
            _ => return None,
        }
        .to_owned(),
    )
}

fn convert_toml_table(table: &toml::de::DeTable<'_>) -> Vec<(Key, Node)> {
    let mut entries: Vec<(Key, Node)> = table
        .iter()
        .map(|(k, v)| {
            let key = Key {
                name: k.get_ref().nfc().collect(),
                span: k.span(),
            };
            (key, convert_toml_value(v.get_ref(), v.span()))
        })
        .collect();
    // The map is ordered by key name; restore file order so problems read top to bottom.
    entries.sort_by_key(|(k, _)| k.span.start);
    entries
}

fn convert_toml_value(value: &toml::de::DeValue<'_>, span: Range<usize>) -> Node {
    use toml::de::DeValue;
    let value = match value {
        DeValue::String(s) => Value::String(s.nfc().collect()),
        DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) => Value::Integer(n),
            Err(_) => Value::Float(f64::NAN),
        },
        DeValue::Float(f) => Value::Float(f.as_str().replace('_', "").parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| convert_toml_value(v.get_ref(), v.span()))
                .collect(),
        ),
        DeValue::Table(t) => Value::Table(convert_toml_table(t)),
    };
    Node { value, span }
}

/// Parses JSON (RFC 8259) keeping every value's position. serde_json forgets positions of
/// values, which validation needs for its messages.
pub fn parse_json(source: &Source) -> Result<Node, Problem> {
    let mut parser = JsonParser {
        text: source.text.as_bytes(),
        pos: 0,
    };
    parser.skip_ws();
    let node = parser
        .value(0)
        .map_err(|(at, msg)| source.problem(&(at..at), "", format!("lỗi cú pháp JSON: {msg}")))?;
    parser.skip_ws();
    if parser.pos < parser.text.len() {
        return Err(source.problem(
            &(parser.pos..parser.pos),
            "",
            "lỗi cú pháp JSON: còn dữ liệu thừa sau giá trị gốc",
        ));
    }
    Ok(node)
}

struct JsonParser<'a> {
    text: &'a [u8],
    pos: usize,
}

type JsonResult<T> = Result<T, (usize, String)>;

impl JsonParser<'_> {
    const MAX_DEPTH: usize = 128;

    fn skip_ws(&mut self) {
        while matches!(self.text.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, msg: impl Into<String>) -> JsonResult<T> {
        Err((self.pos, msg.into()))
    }

    fn expect(&mut self, byte: u8) -> JsonResult<()> {
        if self.text.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(format!("cần ký tự '{}'", byte as char))
        }
    }

    fn value(&mut self, depth: usize) -> JsonResult<Node> {
        if depth > Self::MAX_DEPTH {
            return self.fail("lồng quá sâu");
        }
        let start = self.pos;
        let value = match self.text.get(self.pos) {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::String(self.string()?.nfc().collect()),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return self.fail("giá trị không hợp lệ"),
            None => return self.fail("tệp kết thúc giữa chừng"),
        };
        Ok(Node {
            value,
            span: start..self.pos,
        })
    }

    fn literal(&mut self, word: &str, value: Value) -> JsonResult<Value> {
        if self.text[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            self.fail("giá trị không hợp lệ")
        }
    }

    fn number(&mut self) -> JsonResult<Value> {
        let start = self.pos;
        while matches!(
            self.text.get(self.pos),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        let raw = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("");
        if let Ok(n) = raw.parse::<i64>() {
            return Ok(Value::Integer(n));
        }
        match raw.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Value::Float(x)),
            _ => Err((start, format!("số không hợp lệ: {raw}"))),
        }
    }

    fn string(&mut self) -> JsonResult<String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while !matches!(self.text.get(self.pos), Some(b'"' | b'\\') | None) {
                if self.text[self.pos] < 0x20 {
                    return self.fail("ký tự điều khiển trong chuỗi");
                }
                self.pos += 1;
            }
            match std::str::from_utf8(&self.text[run_start..self.pos]) {
                Ok(s) => out.push_str(s),
                Err(_) => return Err((run_start, "chuỗi không phải UTF-8".into())),
            }
            match self.text.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = match self.text.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let high = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&high) {
                                self.expect(b'\\')?;
                                self.expect(b'u')?;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return self.fail("cặp surrogate không hợp lệ");
                                }
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                high
                            };
                            match char::from_u32(code) {
                                Some(c) => out.push(c),
                                None => return self.fail("mã \\u không hợp lệ"),
                            }
                            continue;
                        }
                        _ => return self.fail("chuỗi thoát không hợp lệ"),
                    };
                    out.push(escaped);
                    self.pos += 1;
                }
                _ => return self.fail("chuỗi chưa đóng"),
            }
        }
    }

    fn hex4(&mut self) -> JsonResult<u32> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok());
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(code) => {
                self.pos += 4;
                Ok(code)
            }
            None => self.fail("mã \\u cần 4 chữ số hex"),
        }
    }

    fn array(&mut self, depth: usize) -> JsonResult<Value> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.text.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return self.fail("cần ',' hoặc ']'"),
            }
        }
    }

    fn object(&mut self, depth: usize) -> JsonResult<Value> {
        self.expect(b'{')?;
        let mut entries: Vec<(Key, Node)> = Vec::new();
        self.skip_ws();
        if self.text.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Table(entries));
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            let name: String = self.string()?.nfc().collect();
            let key = Key {
                name,
                span: key_start..self.pos,
            };
            if entries.iter().any(|(k, _)| k.name == key.name) {
                return Err((key_start, format!("khóa \"{}\" bị lặp", key.name)));
            }
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Table(entries));
                }
                _ => return self.fail("cần ',' hoặc '}'"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_get<'a>(node: &'a Node, key: &str) -> &'a Node {
        match &node.value {
            Value::Table(entries) => &entries.iter().find(|(k, _)| k.name == key).unwrap().1,
            other => panic!("not a table: {other:?}"),
        }
    }

    #[test]
    fn toml_syntax_errors_are_vietnamese_with_their_line() {
        let src = Source::new("vanban.toml", "a = 1\nname = \"Đầm Hà\nb = 2\n");
        let problem = parse_toml(&src).unwrap_err();
        assert_eq!(problem.line, 2, "{problem}");
        assert!(
            problem
                .message
                .starts_with("lỗi cú pháp TOML: chuỗi trong ngoặc kép không hợp lệ"),
            "{problem}"
        );
        assert!(!problem.message.contains("invalid"), "{problem}");
        let src = Source::new(
            "k.toml",
            "[documents]\ndate = 2024-06-25\ndate = 2024-06-26\n",
        );
        let problem = parse_toml(&src).unwrap_err();
        assert_eq!(problem.line, 3, "{problem}");
        assert!(problem.message.contains("khóa bị lặp lại"), "{problem}");
        // Every message toml may give is either translated or wrapped in a Vietnamese sentence.
        assert_eq!(
            toml_syntax_message("unclosed array, expected `]`, newline"),
            "lỗi cú pháp TOML: danh sách chưa được đóng bằng `]`; cần `]` hoặc xuống dòng"
        );
        assert_eq!(
            toml_syntax_message("something new"),
            "lỗi cú pháp TOML, hãy xem lại dòng này (something new)"
        );
    }

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = Source::new("f", "ab\nđầm = 1\n");
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(3), (2, 1));
        // "đầm" is 2+3+1 bytes; the '=' after "đầm " is column 5.
        let eq = src.text.find('=').unwrap();
        assert_eq!(src.position(eq), (2, 5));
    }

    #[test]
    fn toml_values_keep_their_lines_and_are_nfc() {
        let decomposed = "Đa\u{300}m"; // "Đàm" typed with a combining grave accent
        let src = Source::new(
            "p.toml",
            format!("[issuer]\nname = \"{decomposed}\"\n\n[period]\nyear = 2024\n"),
        );
        let root = parse_toml(&src).unwrap();
        let name = table_get(table_get(&root, "issuer"), "name");
        assert_eq!(name.value, Value::String("Đàm".into()));
        assert_eq!(src.position(name.span.start).0, 2);
        let year = table_get(table_get(&root, "period"), "year");
        assert_eq!(year.value, Value::Integer(2024));
        assert_eq!(src.position(year.span.start).0, 5);
    }

    #[test]
    fn toml_dates_and_syntax_errors() {
        let src = Source::new("p.toml", "d = 2024-06-21\n");
        assert_eq!(
            table_get(&parse_toml(&src).unwrap(), "d").value,
            Value::Datetime("2024-06-21".into())
        );
        let bad = Source::new("p.toml", "a = 1\nb = = 2\n");
        let problem = parse_toml(&bad).unwrap_err();
        assert_eq!(problem.line, 2);
        assert!(
            problem.message.starts_with("lỗi cú pháp TOML"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn json_values_keep_their_lines() {
        let src = Source::new(
            "p.json",
            "{\n  \"a\": [1, 2.5, \"x\\u00e0\"],\n  \"b\": {\"c\": null, \"d\": true}\n}",
        );
        let root = parse_json(&src).unwrap();
        let a = table_get(&root, "a");
        assert_eq!(src.position(a.span.start), (2, 8));
        match &a.value {
            Value::Array(items) => {
                assert_eq!(items[0].value, Value::Integer(1));
                assert_eq!(items[1].value, Value::Float(2.5));
                assert_eq!(items[2].value, Value::String("xà".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            table_get(table_get(&root, "b"), "d").value,
            Value::Bool(true)
        );
    }

    #[test]
    fn json_errors_say_where() {
        for (text, line) in [
            ("{\n\"a\": 1,\n}", 3),
            ("{\"a\": 1 \"b\": 2}", 1),
            ("{\"a\": 1, \"a\": 2}", 1),
            ("[1,\n2", 2),
        ] {
            let problem = parse_json(&Source::new("p.json", text)).unwrap_err();
            assert_eq!(problem.line, line, "{text}: {problem}");
            assert!(problem.message.starts_with("lỗi cú pháp JSON"));
        }
    }
}
