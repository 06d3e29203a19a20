//! DOCX template filler: fills the Tera tags an office typed into a Word file (body, headers, footers)
//! from a JSON context, copying every other part of the .docx byte for byte.
//!
//! Tags follow docxtpl: `{{ value }}`, `{% if %}`/`{% for %}` inside a paragraph, and `{%p .. %}`,
//! `{%tr .. %}`, `{%tc .. %}` that stand for their whole paragraph, table row or table cell. Values are
//! always XML-escaped; a newline in a value becomes a line break. A variable missing from the context
//! is an error, reported with the paragraph it sits in, never an empty string.

use std::collections::{BTreeSet, HashSet};
use std::io::{Cursor, Read, Write};
use std::sync::Arc;

use tera::{Context, ErrorKind, Kwargs, State, Tera, Value};
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::xml::{self, PrepareError, TagInfo};

/// The main document part; a .docx without it is not a Word document.
const DOCUMENT_PART: &str = "word/document.xml";

/// Prefix of the strict filter's error message, so the missing path can be told apart from other errors.
const MISSING_MARK: &str = "\u{1}missing:";

/// Deflate level for the filled parts: zlib's default, a good size/speed balance for ~100 KB of XML.
const DEFLATE_LEVEL: i64 = 6;

/// What an office's DOCX template may cost. Checked from the zip's directory before anything is
/// inflated (a 1 MB template that expands to 1 GB used 5 GB of memory), and while filling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocxLimits {
    /// Total uncompressed size of all entries (the built-in templates are about 30 KB).
    pub max_uncompressed: u64,
    /// Number of zip entries (a Word file has 10 to 40).
    pub max_entries: usize,
    /// Size of one filled part: a loop over loops in a template stops here.
    pub max_filled: usize,
}

impl Default for DocxLimits {
    fn default() -> Self {
        Self {
            max_uncompressed: 100 << 20,
            max_entries: 1_000,
            max_filled: 50 << 20,
        }
    }
}

/// A writer that refuses to grow past `limit` bytes, so a runaway loop stops with an error
/// instead of exhausting memory.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("quá giới hạn"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn megabytes(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Everything that can go wrong while reading or filling a DOCX template. Messages are for the office
/// staff who edit templates: they name the template, the tag and the paragraph it is in.
#[derive(Debug, thiserror::Error)]
pub enum FillError {
    #[error("{template}: không đọc được tệp .docx (tệp zip hỏng hoặc không phải .docx): {source}")]
    NotZip {
        template: String,
        #[source]
        source: ZipError,
    },
    #[error("{template}: không phải văn bản Word .docx (thiếu phần {DOCUMENT_PART})")]
    NoDocument { template: String },
    #[error("{location}: phần {part} không đọc được: {detail}")]
    BadPart {
        location: String,
        part: String,
        detail: String,
    },
    #[error(
        "{location}: thẻ \"{tag}\" bắt đầu ở một đoạn văn và kết thúc ở đoạn sau (đoạn: \"{paragraph}\"); hãy gõ cả thẻ trong cùng một đoạn"
    )]
    TagAcrossParagraphs {
        location: String,
        tag: String,
        paragraph: String,
    },
    #[error(
        "{location}: thẻ \"{tag}\" nằm vắt qua ranh giới của một phần tử <{element}> (liên kết, trường, vùng theo dõi sửa đổi...) (đoạn: \"{paragraph}\"); hãy xoá và gõ lại cả thẻ"
    )]
    TagAcrossElements {
        location: String,
        tag: String,
        element: String,
        paragraph: String,
    },
    #[error("{location}: thẻ \"{tag}\" không có dấu đóng \"{closer}\" (đoạn: \"{paragraph}\")")]
    UnclosedTag {
        location: String,
        tag: String,
        closer: String,
        paragraph: String,
    },
    #[error("{location}: thẻ \"{tag}\" phải nằm trong {container} (đoạn: \"{paragraph}\")")]
    BlockTagOutside {
        location: String,
        tag: String,
        container: String,
        paragraph: String,
    },
    #[error("{location}: thẻ \"{tag}\" viết sai: {detail} (đoạn: \"{paragraph}\")")]
    Syntax {
        location: String,
        tag: String,
        detail: String,
        paragraph: String,
    },
    #[error(
        "{location}: thẻ \"{tag}\" không có thẻ đóng {{% {closer} %}} tương ứng (đoạn: \"{paragraph}\")"
    )]
    UnclosedBlock {
        location: String,
        tag: String,
        closer: String,
        paragraph: String,
    },
    #[error("{location}: mẫu viết sai: {detail}")]
    SyntaxUnlocated { location: String, detail: String },
    #[error("{location}: biến \"{variable}\" không có trong dữ liệu (đoạn: \"{paragraph}\")")]
    MissingVariable {
        location: String,
        variable: String,
        tag: String,
        paragraph: String,
    },
    #[error("{location}: không điền được thẻ \"{tag}\": {detail} (đoạn: \"{paragraph}\")")]
    Render {
        location: String,
        tag: String,
        detail: String,
        paragraph: String,
    },
    #[error("{template}: dữ liệu để điền mẫu phải là một đối tượng JSON, không phải {found}")]
    ContextNotObject { template: String, found: String },
    #[error(
        "{location}: sau khi điền, {part} không còn là XML hợp lệ ({detail}); thường do một thẻ {{% if %}} hoặc {{% for %}} mở ở đoạn này và đóng ở đoạn khác: với khối nhiều đoạn hãy dùng {{%p if %}}, {{%p for %}}"
    )]
    Malformed {
        location: String,
        part: String,
        detail: String,
    },
    #[error(
        "{template}: mẫu DOCX có {found}, quá giới hạn {limit} ({key} trong [limits] của vanban.toml); tệp có thể là \"bom zip\" hoặc chứa tệp lạ"
    )]
    TooBig {
        template: String,
        found: String,
        limit: String,
        key: &'static str,
    },
    #[error(
        "{location}: sau khi điền, phần {part} vượt {limit_mb} MB (docx_max_filled_mb trong [limits] của vanban.toml); kiểm tra các vòng lặp {{% for %}} lồng nhau trong mẫu"
    )]
    FilledTooBig {
        location: String,
        part: String,
        limit_mb: u64,
    },
    #[error(
        "{template}: phần {part} có khai báo <!DOCTYPE …>; Word và LibreOffice không bao giờ ghi khai báo này vào tệp .docx, và nó có thể khai báo thực thể (entity) làm phình văn bản ở máy người nhận hoặc trỏ ra tệp bên ngoài. Hãy mở mẫu bằng Word hoặc LibreOffice và lưu lại thành .docx"
    )]
    Doctype { template: String, part: String },
    #[error("{template}: không ghi được tệp .docx kết quả: {source}")]
    Write {
        template: String,
        #[source]
        source: ZipError,
    },
}

/// One templated part (document body, header or footer).
struct Part {
    name: String,
    /// The Tera source, kept to quote the code an error points at.
    source: String,
    tags: Vec<TagInfo>,
    last_modified: Option<zip::DateTime>,
}

/// A zip entry of the output, in the template's order.
enum Entry {
    Filled(usize),
    Copied(usize),
}

/// A parsed DOCX template: tags merged, Tera compiled, the original zip kept for raw copying.
/// Parse once, render many times (from any thread).
pub struct DocxTemplate {
    name: String,
    tera: Tera,
    archive: ZipArchive<Cursor<Arc<[u8]>>>,
    limits: DocxLimits,
    entries: Vec<Entry>,
    parts: Vec<Part>,
    variables: Vec<String>,
    size_hint: usize,
}

impl std::fmt::Debug for DocxTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocxTemplate")
            .field("name", &self.name)
            .field(
                "parts",
                &self.parts.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn is_templated(entry: &str) -> bool {
    if entry == DOCUMENT_PART {
        return true;
    }
    let Some(rest) = entry.strip_prefix("word/") else {
        return false;
    };
    (rest.starts_with("header") || rest.starts_with("footer"))
        && rest.ends_with(".xml")
        && !rest.contains('/')
}

/// A part of the package that holds XML: every `.xml` and `.rels` entry (the content types, the
/// relationships, styles, settings, numbering …).
fn is_xml_part(entry: &str) -> bool {
    let lower = entry.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".rels")
}

/// Refuses a part that carries a document type declaration. Word never writes one; in a
/// template it could declare entities that expand without end (the "billion laughs") or fetch
/// an outside file in whatever opens the documents vanban sends, or here. No XML reader of
/// vanban expands entities, but the part would travel to every recipient as it is, so the
/// template is refused rather than the declaration cut out of it (the office sees why).
/// Looked for in any case and in UTF-16 too; a `<!DOCTYPE` quoted in a CDATA section is refused
/// as well (Word writes none of those either).
fn refuse_doctype(template: &str, part: &str, bytes: &[u8]) -> Result<(), FillError> {
    const NEEDLE: &[u8] = b"<!doctype";
    let utf16 = match bytes {
        [0xFF, 0xFE, ..] | [b'<', 0, ..] => Some(u16::from_le_bytes as fn([u8; 2]) -> u16),
        [0xFE, 0xFF, ..] | [0, b'<', ..] => Some(u16::from_be_bytes as fn([u8; 2]) -> u16),
        _ => None,
    };
    let narrowed: Vec<u8>;
    let text = match utf16 {
        Some(unit) => {
            // Each UTF-16 unit kept only if ASCII: enough to see the declaration.
            narrowed = bytes
                .chunks_exact(2)
                .map(|pair| unit([pair[0], pair[1]]))
                .map(|u| u8::try_from(u).unwrap_or(0))
                .collect();
            &narrowed[..]
        }
        None => bytes,
    };
    let found = text
        .windows(NEEDLE.len())
        .any(|w| w.eq_ignore_ascii_case(NEEDLE));
    if found {
        return Err(FillError::Doctype {
            template: template.to_string(),
            part: part.to_string(),
        });
    }
    Ok(())
}

/// How errors name where they happened: the template, plus the header or footer part when not the body.
fn location(template: &str, part: &str) -> String {
    let rest = part.strip_prefix("word/").unwrap_or(part);
    if rest.starts_with("header") {
        format!("{template}, đầu trang ({part})")
    } else if rest.starts_with("footer") {
        format!("{template}, chân trang ({part})")
    } else {
        template.to_string()
    }
}

const BREAK: &[u8] = b"</w:t><w:br/><w:t xml:space=\"preserve\">";
const TAB: &[u8] = b"</w:t><w:tab/><w:t xml:space=\"preserve\">";

/// Characters XML 1.0 allows; the rest (most C0 controls, U+FFFE, U+FFFF) cannot be written at all.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Tera's escape function for every value: values land inside `<w:t>`, so markup characters are
/// escaped, line breaks and tabs become Word's own elements, and characters XML cannot hold are dropped.
fn escape_value(input: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let bytes = input.as_bytes();
    let mut last = 0;
    let mut chars = input.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let rep: &[u8] = match c {
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            '"' => b"&quot;",
            '\'' => b"&apos;",
            '\n' => BREAK,
            '\r' if matches!(chars.peek(), Some((_, '\n'))) => b"",
            '\r' => BREAK,
            '\t' => TAB,
            c if is_xml_char(c) => continue,
            _ => b"",
        };
        out.write_all(&bytes[last..i])?;
        out.write_all(rep)?;
        last = i + c.len_utf8();
    }
    out.write_all(&bytes[last..])
}

/// Wrapped around every variable path the template reads: Tera itself lets a missing key through as
/// "undefined" in conditions and filters, which would silently drop text from an official letter.
fn strict(value: Value, kwargs: Kwargs, _: &State) -> tera::TeraResult<Value> {
    if value.is_undefined() {
        let path: &str = kwargs.must_get("p")?;
        return Err(tera::Error::message(format!("{MISSING_MARK}{path}")));
    }
    Ok(value)
}

/// Replaces `safe` and the HTML-oriented filters: a value must never reach the XML unescaped, and
/// HTML escaping or `<br>` would be wrong in WordprocessingML anyway.
fn plain(value: Value, _: Kwargs, _: &State) -> Value {
    match value.as_str() {
        Some(s) => Value::from(s),
        None => value,
    }
}

fn new_tera() -> Tera {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".xml"]);
    tera.set_escape_fn(escape_value);
    tera.register_filter(xml::STRICT_FILTER, strict);
    for name in ["safe", "escape_html", "escape_xml", "newlines_to_br"] {
        tera.register_filter(name, plain);
    }
    tera
}

/// The tag holding byte `offset` of a part's Tera source, else the nearest one before it.
fn tag_at(tags: &[TagInfo], offset: usize) -> Option<&TagInfo> {
    let idx = tags.partition_point(|t| t.range.start <= offset);
    match idx {
        0 => tags.first(),
        n => tags.get(n - 1),
    }
}

/// Byte offset of a 1-based line and column (in characters), as Tera's reports print them.
fn offset_of(source: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match source[start..].find('\n') {
            Some(p) => start += p + 1,
            None => break,
        }
    }
    source[start..]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(source.len(), |(i, _)| start + i)
}

/// Entry count and total uncompressed size, from the zip's central directory: nothing inflated.
fn check_sizes(
    name: &str,
    archive: &mut ZipArchive<Cursor<Arc<[u8]>>>,
    limits: &DocxLimits,
) -> Result<(), FillError> {
    if archive.len() > limits.max_entries {
        return Err(FillError::TooBig {
            template: name.to_string(),
            found: format!("{} tệp bên trong", archive.len()),
            limit: format!("{} tệp", limits.max_entries),
            key: "docx_max_entries",
        });
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|source| FillError::NotZip {
                template: name.to_string(),
                source,
            })?;
        total = total.saturating_add(entry.size());
    }
    if total > limits.max_uncompressed {
        return Err(FillError::TooBig {
            template: name.to_string(),
            found: format!("{} MB khi giải nén", megabytes(total)),
            limit: format!("{} MB", megabytes(limits.max_uncompressed)),
            key: "docx_max_uncompressed_mb",
        });
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Text between the first pair of backticks (Tera quotes names that way).
fn backticked(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

impl DocxTemplate {
    /// Reads and compiles a .docx template. `name` is what errors call the template, e.g.
    /// "assignment-letter.docx".
    pub fn parse(name: &str, bytes: &[u8]) -> Result<DocxTemplate, FillError> {
        Self::parse_with_limits(name, bytes, DocxLimits::default())
    }

    /// [`parse`](Self::parse) under an office's [`DocxLimits`].
    pub fn parse_with_limits(
        name: &str,
        bytes: &[u8],
        limits: DocxLimits,
    ) -> Result<DocxTemplate, FillError> {
        let not_zip = |source| FillError::NotZip {
            template: name.to_string(),
            source,
        };
        let data: Arc<[u8]> = Arc::from(bytes);
        let mut archive = ZipArchive::new(Cursor::new(data)).map_err(not_zip)?;
        check_sizes(name, &mut archive, &limits)?;
        let mut entries = Vec::with_capacity(archive.len());
        let mut parts: Vec<Part> = Vec::new();
        let mut size_hint = bytes.len();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).map_err(not_zip)?;
            let entry = file.name().to_string();
            if !is_templated(&entry) {
                // Copied byte for byte into every document sent: its XML is looked at first.
                if is_xml_part(&entry) {
                    let mut bytes = Vec::new();
                    (&mut file)
                        .take(limits.max_uncompressed + 1)
                        .read_to_end(&mut bytes)
                        .map_err(|e| FillError::BadPart {
                            location: location(name, &entry),
                            part: entry.clone(),
                            detail: e.to_string(),
                        })?;
                    refuse_doctype(name, &entry, &bytes)?;
                }
                entries.push(Entry::Copied(i));
                continue;
            }
            let bad = |detail: String| FillError::BadPart {
                location: location(name, &entry),
                part: entry.clone(),
                detail,
            };
            let mut text = String::new();
            // The directory's sizes were checked, but an entry can lie about its size: read
            // no more than the limit allows.
            (&mut file)
                .take(limits.max_uncompressed + 1)
                .read_to_string(&mut text)
                .map_err(|e| bad(format!("không phải văn bản UTF-8 ({e})")))?;
            if text.len() as u64 > limits.max_uncompressed {
                return Err(FillError::TooBig {
                    template: name.to_string(),
                    found: format!(
                        "phần {entry} trên {} MB",
                        megabytes(limits.max_uncompressed)
                    ),
                    limit: format!("{} MB", megabytes(limits.max_uncompressed)),
                    key: "docx_max_uncompressed_mb",
                });
            }
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            refuse_doctype(name, &entry, text.as_bytes())?;
            let prepared = xml::prepare(text).map_err(|e| prepare_error(name, &entry, e))?;
            size_hint += prepared.source.len() / 4;
            entries.push(Entry::Filled(parts.len()));
            parts.push(Part {
                last_modified: file.last_modified(),
                name: entry,
                source: prepared.source,
                tags: prepared.tags,
            });
        }
        if !parts.iter().any(|p| p.name == DOCUMENT_PART) {
            return Err(FillError::NoDocument {
                template: name.to_string(),
            });
        }
        let mut tera = new_tera();
        tera.add_raw_templates(parts.iter().map(|p| (p.name.as_str(), p.source.as_str())))
            .map_err(|e| syntax_error(name, &parts, &e))?;
        let variables = collect_variables(&tera, &parts);
        Ok(DocxTemplate {
            name: name.to_string(),
            tera,
            archive,
            limits,
            entries,
            parts,
            variables,
            size_hint,
        })
    }

    /// Fills the template; the result is a complete .docx (filled parts deflate-compressed and checked
    /// to be well-formed XML, every other part copied unchanged).
    pub fn render(&self, context: &serde_json::Value) -> Result<Vec<u8>, FillError> {
        let found = match context {
            serde_json::Value::Object(_) => None,
            serde_json::Value::Null => Some("null"),
            serde_json::Value::Bool(_) => Some("giá trị đúng/sai"),
            serde_json::Value::Number(_) => Some("một số"),
            serde_json::Value::String(_) => Some("một chuỗi"),
            serde_json::Value::Array(_) => Some("một danh sách"),
        };
        if let Some(found) = found {
            return Err(FillError::ContextNotObject {
                template: self.name.clone(),
                found: found.to_string(),
            });
        }
        let ctx = Context::from_serialize(context).map_err(|e| FillError::ContextNotObject {
            template: self.name.clone(),
            found: first_line(&e.to_string()).to_string(),
        })?;

        // Fill every part before writing anything, so an error leaves no half-made file behind.
        let mut filled = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let mut out = Bounded {
                buf: Vec::with_capacity(part.source.len() + part.source.len() / 4),
                limit: self.limits.max_filled,
                exceeded: false,
            };
            let rendered = self.tera.render_to(&part.name, &ctx, &mut out);
            if out.exceeded {
                return Err(FillError::FilledTooBig {
                    location: location(&self.name, &part.name),
                    part: part.name.clone(),
                    limit_mb: megabytes(self.limits.max_filled as u64),
                });
            }
            rendered.map_err(|e| self.render_error(part, &e))?;
            let buf = out.buf;
            let malformed = |detail: String| FillError::Malformed {
                location: location(&self.name, &part.name),
                part: part.name.clone(),
                detail,
            };
            let text = String::from_utf8(buf).map_err(|e| malformed(e.to_string()))?;
            filled.push(xml::check_and_repair(text).map_err(malformed)?);
        }

        let write_err = |source| FillError::Write {
            template: self.name.clone(),
            source,
        };
        let mut archive = self.archive.clone();
        let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(self.size_hint)));
        for entry in &self.entries {
            match *entry {
                Entry::Filled(k) => {
                    let part = &self.parts[k];
                    let mut options = SimpleFileOptions::default()
                        .compression_method(CompressionMethod::Deflated)
                        .compression_level(Some(DEFLATE_LEVEL));
                    if let Some(t) = part.last_modified {
                        options = options.last_modified_time(t);
                    }
                    out.start_file(part.name.as_str(), options)
                        .map_err(write_err)?;
                    out.write_all(filled[k].as_bytes())
                        .map_err(|e| write_err(ZipError::from(e)))?;
                }
                Entry::Copied(i) => {
                    let file = archive.by_index_raw(i).map_err(write_err)?;
                    out.raw_copy_file(file).map_err(write_err)?;
                }
            }
        }
        Ok(out.finish().map_err(write_err)?.into_inner())
    }

    /// Every variable path the template reads from the context (loop and `set` variables excluded),
    /// sorted, like docxtpl's `get_undeclared_template_variables`.
    pub fn variables(&self) -> Vec<String> {
        self.variables.clone()
    }

    /// The name errors use for this template.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn render_error(&self, part: &Part, e: &tera::Error) -> FillError {
        let location = location(&self.name, &part.name);
        let (message, span) = match e.kind() {
            ErrorKind::RenderingError(report) => (
                report.message().to_string(),
                Some(report.span().range.clone()),
            ),
            other => (first_line(&other.to_string()).to_string(), None),
        };
        let tag = span.as_ref().and_then(|r| tag_at(&part.tags, r.start));
        let (tag_text, paragraph, paths) = match tag {
            Some(t) => (t.text.clone(), t.paragraph.clone(), t.paths.as_slice()),
            None => (String::new(), String::new(), &[][..]),
        };
        let missing = |variable: String| FillError::MissingVariable {
            location: location.clone(),
            variable,
            tag: tag_text.clone(),
            paragraph: paragraph.clone(),
        };
        if let Some(path) = message.strip_prefix(MISSING_MARK) {
            return missing(path.to_string());
        }
        if message.starts_with("Variable `")
            && let Some(name) = backticked(&message)
        {
            return missing(name.to_string());
        }
        if message.starts_with("Field `")
            && let Some(field) = backticked(&message)
        {
            // Name the path up to the missing field, as written in the tag.
            let prefix = paths.iter().find_map(|p| {
                let parts: Vec<&str> = p.split('.').collect();
                let at = parts.iter().skip(1).position(|s| *s == field)?;
                Some(parts[..at + 2].join("."))
            });
            return missing(prefix.unwrap_or_else(|| field.to_string()));
        }
        if message.contains("undefined")
            && let Some(r) = span
            && let Some(code) = part.source.get(r)
        {
            let code = code.split(" | ").next().unwrap_or(code);
            return missing(code.trim().to_string());
        }
        FillError::Render {
            location,
            tag: tag_text,
            detail: message,
            paragraph,
        }
    }
}

fn prepare_error(template: &str, part: &str, e: PrepareError) -> FillError {
    let location = location(template, part);
    match e {
        PrepareError::BadXml(detail) => FillError::BadPart {
            location,
            part: part.to_string(),
            detail: format!("XML không hợp lệ: {detail}"),
        },
        PrepareError::AcrossParagraphs { tag, paragraph } => FillError::TagAcrossParagraphs {
            location,
            tag,
            paragraph,
        },
        PrepareError::AcrossElements {
            tag,
            paragraph,
            element,
        } => FillError::TagAcrossElements {
            location,
            tag,
            element,
            paragraph,
        },
        PrepareError::Unclosed {
            tag,
            closer,
            paragraph,
        } => FillError::UnclosedTag {
            location,
            tag,
            closer: closer.to_string(),
            paragraph,
        },
        PrepareError::BlockOutside {
            tag,
            container,
            paragraph,
        } => FillError::BlockTagOutside {
            location,
            tag,
            container: match container {
                xml::BlockLevel::Paragraph => "một đoạn văn",
                xml::BlockLevel::Row => "một hàng của bảng",
                xml::BlockLevel::Cell => "một ô của bảng",
            }
            .to_string(),
            paragraph,
        },
    }
}

/// Maps a Tera compile error back to the tag the office typed.
fn syntax_error(template: &str, parts: &[Part], e: &tera::Error) -> FillError {
    let (part_name, message, offset) = match e.kind() {
        ErrorKind::SyntaxError(report) => (
            report.filename().to_string(),
            report.message().to_string(),
            Some(report.span().range.start),
        ),
        other => {
            // Reference errors (unknown filter, test, function) come as text:
            // "error: MESSAGE\n --> PART:LINE:COL\n ...".
            let text = other.to_string();
            let message = first_line(&text).trim_start_matches("error: ").to_string();
            let place = text
                .lines()
                .find_map(|l| l.trim_start().strip_prefix("--> "))
                .and_then(|p| {
                    let mut it = p.rsplitn(3, ':');
                    let col: usize = it.next()?.parse().ok()?;
                    let line: usize = it.next()?.parse().ok()?;
                    Some((it.next()?.to_string(), line, col))
                });
            match place {
                Some((name, line, col)) => {
                    let offset = parts
                        .iter()
                        .find(|p| p.name == name)
                        .map(|p| offset_of(&p.source, line, col));
                    (name, message, offset)
                }
                None => (DOCUMENT_PART.to_string(), message, None),
            }
        }
    };
    let location = location(template, &part_name);
    let Some(part) = parts.iter().find(|p| p.name == part_name) else {
        return FillError::SyntaxUnlocated {
            location,
            detail: message,
        };
    };
    if message.starts_with("Unexpected end of input")
        && let Some((tag, closer)) = xml::unclosed_block(&part.tags)
    {
        return FillError::UnclosedBlock {
            location,
            tag: tag.text.clone(),
            closer,
            paragraph: tag.paragraph.clone(),
        };
    }
    match offset.and_then(|o| tag_at(&part.tags, o)) {
        Some(tag) => FillError::Syntax {
            location,
            tag: tag.text.clone(),
            detail: message,
            paragraph: tag.paragraph.clone(),
        },
        None => FillError::SyntaxUnlocated {
            location,
            detail: message,
        },
    }
}

fn collect_variables(tera: &Tera, parts: &[Part]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for part in parts {
        let Ok(roots) = tera.get_template_variables(&part.name) else {
            continue;
        };
        let assigned: HashSet<&str> = part
            .tags
            .iter()
            .filter_map(|t| t.assigned.as_deref())
            .collect();
        for path in part.tags.iter().flat_map(|t| &t.paths) {
            let root = path.split('.').next().unwrap_or_default();
            if roots.contains(root) && !assigned.contains(root) {
                out.insert(path.clone());
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use serde_json::json;

    const W_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
    const R_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/><Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/></Types>"#;
    const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
    const DOC_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/></Relationships>"#;
    const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:cs="Times New Roman"/><w:sz w:val="28"/></w:rPr></w:rPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style><w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/><w:tblPr><w:tblBorders><w:top w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:left w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:bottom w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:right w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:insideH w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:insideV w:val="single" w:sz="4" w:space="0" w:color="auto"/></w:tblBorders></w:tblPr></w:style></w:styles>"#;

    fn document(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"{W_NS}\" xmlns:r=\"{R_NS}\"><w:body>{body}<w:sectPr><w:headerReference w:type=\"default\" r:id=\"rId2\"/><w:footerReference w:type=\"default\" r:id=\"rId3\"/><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1134\" w:right=\"850\" w:bottom=\"1134\" w:left=\"1701\" w:header=\"720\" w:footer=\"720\" w:gutter=\"0\"/></w:sectPr></w:body></w:document>"
        )
    }

    fn header(root: &str, body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:{root} xmlns:w=\"{W_NS}\" xmlns:r=\"{R_NS}\">{body}</w:{root}>"
        )
    }

    /// A minimal but complete .docx: styles stored uncompressed, the rest deflated, plus a binary-ish
    /// entry, so raw copying of both kinds is exercised.
    fn build_docx(body: &str, header_body: &str, footer_body: &str) -> Vec<u8> {
        let deflate = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let doc = document(body);
        let head = header("hdr", header_body);
        let foot = header("ftr", footer_body);
        let entries: [(&str, &[u8], SimpleFileOptions); 8] = [
            ("[Content_Types].xml", CONTENT_TYPES.as_bytes(), deflate),
            ("_rels/.rels", ROOT_RELS.as_bytes(), deflate),
            ("word/document.xml", doc.as_bytes(), deflate),
            ("word/_rels/document.xml.rels", DOC_RELS.as_bytes(), deflate),
            ("word/styles.xml", STYLES.as_bytes(), stored),
            ("word/header1.xml", head.as_bytes(), deflate),
            ("word/footer1.xml", foot.as_bytes(), deflate),
            (
                "word/media/blob.bin",
                &[0u8, 1, 2, 255, 254, 0, 7][..],
                deflate,
            ),
        ];
        for (name, data, options) in entries {
            w.start_file(name, options).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn p(runs: &str) -> String {
        format!("<w:p>{runs}</w:p>")
    }

    fn r(text: &str) -> String {
        format!("<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r>")
    }

    /// Word's worst habits: the text cut into runs of 5 characters with rsids, language tags,
    /// proofing marks and a bookmark between them.
    fn split_runs(text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::new();
        for (n, chunk) in chars.chunks(5).enumerate() {
            let chunk: String = chunk.iter().collect();
            // Word marks the runs whose edge spaces matter; LibreOffice drops them otherwise.
            let space = if chunk.starts_with(' ') || chunk.ends_with(' ') {
                " xml:space=\"preserve\""
            } else {
                ""
            };
            let chunk = chunk
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            out.push_str(&format!(
                "<w:r w:rsidR=\"00A1B2C{n}\"><w:rPr><w:rFonts w:ascii=\"Times New Roman\"/><w:lang w:val=\"vi-VN\"/></w:rPr><w:t{space}>{chunk}</w:t></w:r>"
            ));
            match n % 3 {
                0 => out.push_str("<w:proofErr w:type=\"spellStart\"/>"),
                1 => out.push_str(&format!("<w:bookmarkStart w:id=\"{n}\" w:name=\"_GoBack\"/><w:bookmarkEnd w:id=\"{n}\"/>")),
                _ => out.push_str("<w:proofErr w:type=\"spellEnd\"/>"),
            }
        }
        out
    }

    fn part(docx: &[u8], name: &str) -> String {
        let mut archive = ZipArchive::new(Cursor::new(docx)).unwrap();
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// The visible text of a part, one string per paragraph (`<w:br/>` as "\n", `<w:tab/>` as "\t").
    fn paragraphs(xml: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out = Vec::new();
        let mut in_t = false;
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) if e.name().as_ref() == b"w:p" => out.push(String::new()),
                Event::Empty(e) if e.name().as_ref() == b"w:p" => out.push(String::new()),
                Event::Start(e) if e.name().as_ref() == b"w:t" => in_t = true,
                Event::End(e) if e.name().as_ref() == b"w:t" => in_t = false,
                Event::Empty(e) if e.name().as_ref() == b"w:br" => {
                    out.last_mut().unwrap().push('\n')
                }
                Event::Empty(e) if e.name().as_ref() == b"w:tab" => {
                    out.last_mut().unwrap().push('\t')
                }
                Event::Text(t) if in_t => out.last_mut().unwrap().push_str(&t.decode().unwrap()),
                Event::GeneralRef(g) if in_t => {
                    let c = match &g[..] {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => g.resolve_char_ref().unwrap().unwrap(),
                    };
                    out.last_mut().unwrap().push(c);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    fn fill(body: &str, ctx: serde_json::Value) -> Result<Vec<u8>, FillError> {
        DocxTemplate::parse("mau.docx", &build_docx(body, &p(&r("đầu")), &p(&r("chân"))))?
            .render(&ctx)
    }

    fn body_text(body: &str, ctx: serde_json::Value) -> Vec<String> {
        let out = fill(body, ctx).unwrap();
        paragraphs(&part(&out, DOCUMENT_PART))
    }

    fn err(body: &str, ctx: serde_json::Value) -> String {
        match fill(body, ctx) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn ctx() -> serde_json::Value {
        json!({
            "unit": {"ten": "Phòng Tài chính - Kế hoạch", "so": 3},
            "ngay": "25/6/2024",
            "rows": [{"stt": 1, "ten": "Giao thông", "muc": ["a", "b"]}, {"stt": 2, "ten": "Thuỷ lợi", "muc": []}],
            "muc": ["Một", "Hai", "Ba"],
            "co": true,
            "khong": false,
            "cols": ["Q1", "Q2", "Q3"],
            "trong": [],
        })
    }

    #[test]
    fn fills_tags_split_across_five_char_runs_with_noise() {
        let body = [
            p(&split_runs("Kính gửi: {{ unit.ten }}.")),
            p(&split_runs("Ngày {{ngay}}, số {{ unit.so }}{# ghi chú #}!")),
            p(&split_runs("{% if co %}Có{% else %}Không{% endif %} / {% if khong %}X{% endif %}.")),
            // Braces themselves split, a bookmark and a proofing mark in the middle of the tag.
            p(&format!(
                "{}<w:proofErr w:type=\"spellStart\"/>{}<w:bookmarkStart w:id=\"9\" w:name=\"b\"/>{}<w:proofErr w:type=\"spellEnd\"/>{}",
                r("Cơ quan: {"),
                r("{ unit"),
                r(".ten }"),
                r("} hết")
            )),
        ]
        .concat();
        let got = body_text(&body, ctx());
        assert_eq!(
            got,
            vec![
                "Kính gửi: Phòng Tài chính - Kế hoạch.",
                "Ngày 25/6/2024, số 3!",
                "Có / .",
                "Cơ quan: Phòng Tài chính - Kế hoạch hết",
            ]
        );
    }

    #[test]
    fn merged_tag_keeps_first_run_formatting_and_preserves_space() {
        let body = p(
            "<w:r><w:rPr><w:b/></w:rPr><w:t>{{ un</w:t></w:r><w:r><w:rPr><w:i/></w:rPr><w:t>it.ten }}</w:t></w:r>",
        );
        let out = fill(&body, ctx()).unwrap();
        let xml = part(&out, DOCUMENT_PART);
        assert!(
            xml.contains("<w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">Phòng Tài chính - Kế hoạch</w:t></w:r></w:p>"),
            "{xml}"
        );
        assert!(!xml.contains("<w:i/>"), "{xml}");
    }

    #[test]
    fn fills_libreoffice_shaped_template() {
        // LibreOffice merges equal runs, repeats rPr variants and writes xml:space itself.
        let body = "<w:p><w:pPr><w:pStyle w:val=\"Normal\"/><w:jc w:val=\"center\"/><w:rPr></w:rPr></w:pPr><w:r><w:rPr><w:rFonts w:ascii=\"Times New Roman\" w:hAnsi=\"Times New Roman\"/><w:b/><w:bCs/><w:sz w:val=\"28\"/><w:szCs w:val=\"28\"/></w:rPr><w:t xml:space=\"preserve\">Kính gửi: {{ unit.ten }} </w:t></w:r><w:r><w:rPr><w:rFonts w:ascii=\"Times New Roman\" w:hAnsi=\"Times New Roman\"/><w:i/><w:iCs/></w:rPr><w:t>ngày {{ ngay }}</w:t></w:r></w:p><w:p><w:pPr><w:pStyle w:val=\"Normal\"/><w:rPr></w:rPr></w:pPr><w:r><w:rPr></w:rPr><w:t>{% if n &gt; 1 and unit.ten != “” %}nhiều{% endif %}</w:t></w:r></w:p>";
        let mut c = ctx();
        c["n"] = json!(2);
        let out = fill(body, c).unwrap();
        let xml = part(&out, DOCUMENT_PART);
        assert_eq!(
            paragraphs(&xml),
            vec![
                "Kính gửi: Phòng Tài chính - Kế hoạch ngày 25/6/2024",
                "nhiều"
            ]
        );
        // The already-preserving w:t is not given a second xml:space.
        assert!(!xml.contains("xml:space=\"preserve\" xml:space"), "{xml}");
        assert!(
            xml.contains("<w:t xml:space=\"preserve\">ngày 25/6/2024</w:t>"),
            "{xml}"
        );
    }

    fn cell(content: &str) -> String {
        format!("<w:tc><w:tcPr><w:tcW w:w=\"2000\" w:type=\"dxa\"/></w:tcPr>{content}</w:tc>")
    }

    fn row(cells: &[String]) -> String {
        format!(
            "<w:tr><w:trPr><w:trHeight w:val=\"300\"/></w:trPr>{}</w:tr>",
            cells.concat()
        )
    }

    fn table(rows: &[String]) -> String {
        format!(
            "<w:tbl><w:tblPr><w:tblStyle w:val=\"TableGrid\"/><w:tblW w:w=\"6000\" w:type=\"dxa\"/></w:tblPr><w:tblGrid><w:gridCol w:w=\"2000\"/><w:gridCol w:w=\"2000\"/><w:gridCol w:w=\"2000\"/></w:tblGrid>{}</w:tbl>",
            rows.concat()
        )
    }

    /// Rows of a table, each as its cells' paragraph texts joined by "|".
    fn table_rows(xml: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let (mut rows, mut in_t) = (Vec::<Vec<String>>::new(), false);
        loop {
            match reader.read_event().unwrap() {
                Event::End(e) if e.name().as_ref() == b"w:tbl" => break,
                Event::Start(e) if e.name().as_ref() == b"w:tr" => rows.push(Vec::new()),
                Event::Start(e) if e.name().as_ref() == b"w:tc" => {
                    rows.last_mut().unwrap().push(String::new())
                }
                Event::Start(e) if e.name().as_ref() == b"w:p" => {
                    if let Some(c) = rows.last_mut().and_then(|r| r.last_mut())
                        && !c.is_empty()
                    {
                        c.push('/');
                    }
                }
                Event::Start(e) if e.name().as_ref() == b"w:t" => in_t = true,
                Event::End(e) if e.name().as_ref() == b"w:t" => in_t = false,
                Event::Text(t) if in_t => {
                    if let Some(c) = rows.last_mut().and_then(|r| r.last_mut()) {
                        c.push_str(&t.decode().unwrap());
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        rows.into_iter().map(|r| r.join("|")).collect()
    }

    fn loops_body() -> String {
        let header_row = row(&[
            cell(&p(&r("STT"))),
            cell(&p(&r("Lĩnh vực"))),
            cell(&p(&r("Mục"))),
        ]);
        let open = row(&[
            cell(&p(&split_runs("{%tr for x in rows %}"))),
            cell(&p("")),
            cell(&p("")),
        ]);
        let item = row(&[
            cell(&p(&r("{{ x.stt }}"))),
            cell(&p(&r("{{ x.ten }}"))),
            cell(
                &[
                    p(&r("{%p for m in x.muc %}")),
                    p(&r("- {{ m }}")),
                    p(&r("{%p endfor %}")),
                ]
                .concat(),
            ),
        ]);
        let close = row(&[cell(&p(&r("{%tr endfor %}"))), cell(&p("")), cell(&p(""))]);
        let cols = row(&[
            cell(&p(&r("{%tc for c in cols %}"))),
            cell(&p(&r("{{ c }}"))),
            cell(&p(&r("{%tc endfor %}"))),
        ]);
        [
            table(&[header_row, open, item, close, cols]),
            p(&r("{%p for m in muc %}")),
            p(&r("Mục {{ loop.index }}: {{ m }}")),
            p(&r("{%p endfor %}")),
            p(&split_runs("{%p if co %}")),
            p(&r("Có")),
            p(&r("{%p else %}")),
            p(&r("Không")),
            p(&r("{%p endif %}")),
            p(&r("{%p if trong %}")),
            p(&r("Không in")),
            p(&r("{%p endif %}")),
        ]
        .concat()
    }

    #[test]
    fn row_cell_and_paragraph_loops() {
        let out = fill(&loops_body(), ctx()).unwrap();
        let xml = part(&out, DOCUMENT_PART);
        assert_eq!(
            table_rows(&xml),
            vec![
                "STT|Lĩnh vực|Mục",
                "1|Giao thông|- a/- b",
                "2|Thuỷ lợi|",
                "Q1|Q2|Q3"
            ]
        );
        let paras = paragraphs(&xml);
        let after_table: Vec<&str> = paras
            .iter()
            .map(String::as_str)
            .filter(|s| s.starts_with("Mục ") || *s == "Có" || *s == "Không" || *s == "Không in")
            .collect();
        assert_eq!(
            after_table,
            vec!["Mục 1: Một", "Mục 2: Hai", "Mục 3: Ba", "Có"]
        );
        // No leftover docxtpl syntax, no row or cell markup duplicated by mistake.
        assert!(!xml.contains("{%") && !xml.contains("%}"), "{xml}");
    }

    #[test]
    fn empty_paragraph_loop_in_cell_gets_a_paragraph() {
        let out = fill(&loops_body(), ctx()).unwrap();
        let xml = part(&out, DOCUMENT_PART);
        // The "Thuỷ lợi" row loops over an empty list: its cell must still hold a paragraph.
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut stack: Vec<(Vec<u8>, bool)> = Vec::new();
        let mut cells = 0;
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) => {
                    let name = e.name().as_ref().to_vec();
                    if name == b"w:p"
                        && let Some(top) = stack.last_mut()
                    {
                        top.1 = true;
                    }
                    stack.push((name, false));
                }
                Event::Empty(e) => {
                    if e.name().as_ref() == b"w:p"
                        && let Some(top) = stack.last_mut()
                    {
                        top.1 = true;
                    }
                }
                Event::End(_) => {
                    let (name, has_p) = stack.pop().unwrap();
                    if name == b"w:tc" {
                        cells += 1;
                        assert!(has_p, "a cell without a paragraph in {xml}");
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(cells, 3 * 4);
        assert!(xml.contains("<w:p/></w:tc>"), "{xml}");
    }

    #[test]
    fn header_and_footer_are_filled() {
        let tpl = build_docx(
            &p(&r("{{ ngay }}")),
            &p(&split_runs("UBND {{ unit.ten }}")),
            &p(&r("Trang {{ unit.so }}")),
        );
        let out = DocxTemplate::parse("mau.docx", &tpl)
            .unwrap()
            .render(&ctx())
            .unwrap();
        assert_eq!(
            paragraphs(&part(&out, "word/header1.xml")),
            vec!["UBND Phòng Tài chính - Kế hoạch"]
        );
        assert_eq!(paragraphs(&part(&out, "word/footer1.xml")), vec!["Trang 3"]);

        let tpl = build_docx(&p(&r("x")), &p(&r("UBND {{ unit.nam }}")), &p(&r("y")));
        let e = DocxTemplate::parse("mau.docx", &tpl)
            .unwrap()
            .render(&ctx())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "mau.docx, đầu trang (word/header1.xml): biến \"unit.nam\" không có trong dữ liệu (đoạn: \"UBND {{ unit.nam }}\")"
        );
    }

    #[test]
    fn hostile_values_come_out_literally() {
        let hostile =
            "R&D <thử> \"A&B\" 'x' {{ unit.ten }} {% if %} {# c #} # * _ $ ] @ [x](y) `z` \\ #set";
        let vietnamese = "Đầm Hà: Nghị quyết số 12/NQ-HĐND; Ủy ban nhân dân huyện";
        let c = json!({
            "a": hostile,
            "b": vietnamese,
            "c": "dòng 1\ndòng 2\r\ndòng 3\rdòng 4\tcột",
            "d": "bỏ\u{1}\u{8}\u{b}\u{c}\u{1f}\u{fffe}\u{ffff} ký tự\u{7f} lạ",
            "e": "  hai đầu  ",
        });
        let body = [
            p(&r("{{ a }}")),
            p(&split_runs("{{ b }}")),
            p(&r("[{{ c }}]")),
            p(&r("{{ d }}")),
            p(&r("|{{ e }}|")),
            p(&r("{{ a | safe }}|{{ a | escape_xml }}|{{ a | escape_html }}|{{ c | newlines_to_br }}")),
        ]
        .concat();
        let out = fill(&body, c).unwrap();
        let xml = part(&out, DOCUMENT_PART);
        let got = paragraphs(&xml);
        assert_eq!(got[0], hostile);
        assert_eq!(got[1], vietnamese);
        assert_eq!(got[2], "[dòng 1\ndòng 2\ndòng 3\ndòng 4\tcột]");
        assert_eq!(got[3], "bỏ ký tự\u{7f} lạ");
        assert_eq!(got[4], "|  hai đầu  |");
        assert_eq!(
            got[5],
            format!("{hostile}|{hostile}|{hostile}|dòng 1\ndòng 2\ndòng 3\ndòng 4\tcột")
        );
        assert!(
            xml.contains("R&amp;D &lt;thử&gt; &quot;A&amp;B&quot; &apos;x&apos; {{ unit.ten }}"),
            "{xml}"
        );
        assert!(
            xml.contains("dòng 1</w:t><w:br/><w:t xml:space=\"preserve\">dòng 2"),
            "{xml}"
        );
        assert!(
            !xml.contains("Phòng Tài chính"),
            "a value was rendered as a template: {xml}"
        );
    }

    #[test]
    fn missing_variable_names_tag_and_paragraph() {
        let cases = [
            (
                p(&split_runs("Kính gửi: {{ unit.nam }}")),
                "unit.nam",
                "Kính gửi: {{ unit.nam }}",
            ),
            (
                p(&r("{{ unit.nam | upper }}")),
                "unit.nam",
                "{{ unit.nam | upper }}",
            ),
            (
                p(&r("A{% if unit.nam %}B{% endif %}")),
                "unit.nam",
                "A{% if unit.nam %}B{% endif %}",
            ),
            (
                [
                    p(&r("{%p if khong_co %}")),
                    p(&r("x")),
                    p(&r("{%p endif %}")),
                ]
                .concat(),
                "khong_co",
                "{%p if khong_co %}",
            ),
            (
                p(&r("{% for r in ds %}{{ r }}{% endfor %}")),
                "ds",
                "{% for r in ds %}{{ r }}{% endfor %}",
            ),
            (p(&r("{{ nope.a.b }}")), "nope", "{{ nope.a.b }}"),
            (p(&r("{{ unit.x.y }}")), "unit.x", "{{ unit.x.y }}"),
            (
                p(&r("{% for x in rows %}{{ x.khong }}{% endfor %}")),
                "x.khong",
                "{% for x in rows %}{{ x.khong }}{% endfor %}",
            ),
            (
                p(&r("{{ unit.ten ~ ghi_chu }}")),
                "ghi_chu",
                "{{ unit.ten ~ ghi_chu }}",
            ),
        ];
        for (body, var, para) in cases {
            assert_eq!(
                err(&body, ctx()),
                format!("mau.docx: biến \"{var}\" không có trong dữ liệu (đoạn: \"{para}\")"),
                "{body}"
            );
        }
        // Leniency the template asks for explicitly is kept.
        let body = p(&r(
            "[{{ ghi_chu | default(value=\"-\") }}]{% if ghi_chu is defined %}X{% endif %}",
        ));
        assert_eq!(body_text(&body, ctx()), vec!["[-]"]);
    }

    #[test]
    fn long_paragraph_is_shortened_around_the_tag() {
        let long = "x".repeat(300);
        let e = err(&p(&r(&format!("{long} {{{{ thieu }}}} {long}"))), ctx());
        assert!(e.contains("biến \"thieu\""), "{e}");
        assert!(
            e.contains("…") && e.contains("{{ thieu }}") && e.chars().count() < 260,
            "{e}"
        );
    }

    #[test]
    fn tag_split_across_paragraphs_is_refused() {
        let body = [p(&r("Kính gửi: {{ unit.")), p(&r("ten }} và"))].concat();
        assert_eq!(
            err(&body, ctx()),
            "mau.docx: thẻ \"{{ unit.ten }}\" bắt đầu ở một đoạn văn và kết thúc ở đoạn sau (đoạn: \"Kính gửi: {{ unit.\"); hãy gõ cả thẻ trong cùng một đoạn"
        );
        let body = [p(&r("A {{ unit.ten")), p(&r("B")), p(&r("C }}"))].concat();
        assert_eq!(
            err(&body, ctx()),
            "mau.docx: thẻ \"{{ unit.ten\" không có dấu đóng \"}}\" (đoạn: \"A {{ unit.ten\")"
        );
        let body = p(&format!(
            "{}<w:hyperlink r:id=\"x\">{}</w:hyperlink>",
            r("{{ unit"),
            r(".ten }}")
        ));
        let e = err(&body, ctx());
        assert!(e.starts_with("mau.docx: thẻ \"{{ unit.ten }}\" nằm vắt qua ranh giới của một phần tử <w:hyperlink>"), "{e}");
    }

    #[test]
    fn syntax_errors_show_the_tag_not_an_offset() {
        let filler = p(&r(&"Văn bản dài. ".repeat(200)));
        let cases = [
            (
                p(&r("Số {{ unit.so unit }} ngày")),
                "thẻ \"{{ unit.so unit }}\" viết sai",
                "(đoạn: \"Số {{ unit.so unit }} ngày\")",
            ),
            (
                p(&r("{{ unit.ten | khong_co_loc }}")),
                "thẻ \"{{ unit.ten | khong_co_loc }}\" viết sai: Unknown filter `khong_co_loc`",
                "",
            ),
            (
                [p(&r("{%p for r in rows %}")), p(&r("{{ r.ten }}"))].concat(),
                "thẻ \"{%p for r in rows %}\" không có thẻ đóng {% endfor %} tương ứng",
                "",
            ),
            (p(&r("{% endif %}")), "thẻ \"{% endif %}\" viết sai", ""),
        ];
        for (body, want, want_para) in cases {
            let e = err(&format!("{filler}{body}{filler}"), ctx());
            assert!(e.starts_with(&format!("mau.docx: {want}")), "{e}");
            assert!(e.contains(want_para), "{e}");
            assert!(
                !e.contains("<w:") && !e.contains("-->") && e.len() < 400,
                "{e}"
            );
        }
        let e = err(&p(&r("{%tr for r in rows %}")), ctx());
        assert!(e.contains("phải nằm trong một hàng của bảng"), "{e}");
    }

    #[test]
    fn output_is_well_formed_deflated_and_other_parts_are_identical() {
        let tpl = build_docx(&loops_body(), &p(&r("{{ ngay }}")), &p(&r("{{ unit.so }}")));
        let out = DocxTemplate::parse("mau.docx", &tpl)
            .unwrap()
            .render(&ctx())
            .unwrap();
        let mut a = ZipArchive::new(Cursor::new(&tpl[..])).unwrap();
        let mut b = ZipArchive::new(Cursor::new(&out[..])).unwrap();
        let names_a: Vec<String> = a.file_names().map(str::to_string).collect();
        let names_b: Vec<String> = b.file_names().map(str::to_string).collect();
        assert_eq!(names_a, names_b);
        for i in 0..a.len() {
            let name = a.by_index(i).unwrap().name().to_string();
            let mut fb = b.by_index_raw(i).unwrap();
            if is_templated(&name) {
                assert_eq!(fb.compression(), CompressionMethod::Deflated, "{name}");
                let mut text = String::new();
                drop(fb);
                b.by_index(i).unwrap().read_to_string(&mut text).unwrap();
                xml::check_and_repair(text.clone()).unwrap();
                assert!(!text.contains("__vanban"), "{text}");
            } else {
                let mut raw_b = Vec::new();
                fb.read_to_end(&mut raw_b).unwrap();
                let method_b = fb.compression();
                drop(fb);
                let mut fa = a.by_index_raw(i).unwrap();
                let mut raw_a = Vec::new();
                fa.read_to_end(&mut raw_a).unwrap();
                assert_eq!(raw_a, raw_b, "{name} changed");
                assert_eq!(fa.compression(), method_b, "{name}");
            }
        }
        // Same input, same bytes.
        let again = DocxTemplate::parse("mau.docx", &tpl)
            .unwrap()
            .render(&ctx())
            .unwrap();
        assert_eq!(out, again);
    }

    #[test]
    fn brace_sequences_outside_text_and_raw_blocks_stay_literal() {
        let body = [
            p(&format!(
                "<w:bookmarkStart w:id=\"1\" w:name=\"{{{{b}}}}\"/><w:r><w:instrText>QUOTE \"{{% x %}}\"</w:instrText></w:r>{}",
                r("{{ ngay }}")
            )),
            p(&r("{% raw %}{{ không phải thẻ }} {% if %} &lt;b&gt;{% endraw %}")),
            p(&split_runs("{% raw %}{{ x }}{% endraw %}")),
        ]
        .concat();
        let out = fill(&body, ctx()).unwrap();
        let xml = part(&out, DOCUMENT_PART);
        assert!(xml.contains("w:name=\"{{b}}\""), "{xml}");
        assert!(xml.contains("QUOTE \"{% x %}\""), "{xml}");
        assert_eq!(
            paragraphs(&xml),
            vec!["25/6/2024", "{{ không phải thẻ }} {% if %} <b>", "{{ x }}"]
        );
    }

    #[test]
    fn variables_lists_paths_read_from_the_context() {
        let tpl = build_docx(
            &loops_body(),
            &p(&r("{{ ngay }} {% set dem = 1 %}{{ dem }}")),
            &p(&r("{{ unit.so | default(value=0) }}")),
        );
        let t = DocxTemplate::parse("mau.docx", &tpl).unwrap();
        assert_eq!(
            t.variables(),
            vec!["co", "cols", "muc", "ngay", "rows", "trong", "unit.so"]
        );
    }

    #[test]
    fn template_is_reusable_and_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DocxTemplate>();
        let t = Arc::new(
            DocxTemplate::parse("mau.docx", &build_docx(&p(&r("{{ ngay }}")), "", "")).unwrap(),
        );
        let handles: Vec<_> = ["1/1/2024", "2/2/2024"]
            .into_iter()
            .map(|d| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    paragraphs(&part(
                        &t.render(&json!({"ngay": d})).unwrap(),
                        DOCUMENT_PART,
                    ))
                })
            })
            .collect();
        let got: Vec<Vec<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            got,
            vec![vec!["1/1/2024".to_string()], vec!["2/2/2024".to_string()]]
        );
        assert!(matches!(
            t.render(&json!([1])),
            Err(FillError::ContextNotObject { .. })
        ));
    }

    #[test]
    fn rejects_files_that_are_not_docx() {
        let e = DocxTemplate::parse("mau.docx", b"not a zip").unwrap_err();
        assert!(matches!(e, FillError::NotZip { .. }), "{e}");
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("a.txt", SimpleFileOptions::default()).unwrap();
        let zip = w.finish().unwrap().into_inner();
        let e = DocxTemplate::parse("mau.docx", &zip).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mau.docx: không phải văn bản Word .docx (thiếu phần word/document.xml)"
        );
    }

    /// `docx` with the entry `name` holding `bytes` instead.
    fn with_part(docx: &[u8], name: &str, bytes: &[u8]) -> Vec<u8> {
        let mut archive = ZipArchive::new(Cursor::new(docx)).unwrap();
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            let entry = file.name().to_string();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            w.start_file(entry.as_str(), SimpleFileOptions::default())
                .unwrap();
            w.write_all(if entry == name { bytes } else { &data })
                .unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_template_with_a_doctype_in_any_xml_part_is_refused_naming_the_part() {
        let docx = build_docx(&p(&r("{{ ngay }}")), "", "");
        let laughs = "<!DOCTYPE w:document [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>";
        let prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
        let body = document(&p(&r("{{ ngay }} &b;")));
        let body = body.replacen(prolog, &format!("{prolog}{laughs}\n"), 1);
        let styles = STYLES.replacen(
            prolog,
            &format!("{prolog}<!doctype w:styles SYSTEM \"file:///etc/passwd\">\n"),
            1,
        );
        // UTF-16 with its byte-order mark, as an XML part may be stored.
        let styles_utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                STYLES
                    .replacen("encoding=\"UTF-8\"", "encoding=\"UTF-16\"", 1)
                    .replacen(
                        prolog.replacen("UTF-8", "UTF-16", 1).as_str(),
                        &format!("{}{laughs}", prolog.replacen("UTF-8", "UTF-16", 1)),
                        1,
                    )
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        for (part, bytes) in [
            (DOCUMENT_PART, body.into_bytes()),
            ("word/styles.xml", styles.into_bytes()),
            ("word/styles.xml", styles_utf16),
            (
                "[Content_Types].xml",
                CONTENT_TYPES
                    .replacen(prolog, &format!("{prolog}{laughs}"), 1)
                    .into_bytes(),
            ),
        ] {
            let template = with_part(&docx, part, &bytes);
            let error = DocxTemplate::parse("mau/docx/x.docx", &template).unwrap_err();
            assert!(
                matches!(&error, FillError::Doctype { part: p, .. } if p == part),
                "{part}: {error}"
            );
            let message = error.to_string();
            assert!(
                message.starts_with(&format!(
                    "mau/docx/x.docx: phần {part} có khai báo <!DOCTYPE …>"
                )),
                "{message}"
            );
        }
        // The same template without the declaration fills.
        assert!(DocxTemplate::parse("mau/docx/x.docx", &docx).is_ok());
    }

    #[test]
    fn a_filled_part_with_a_doctype_is_refused() {
        let xml = "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>".to_string();
        let error = xml::check_and_repair(xml).unwrap_err();
        assert!(error.contains("<!DOCTYPE"), "{error}");
    }

    /// Real consumers: python-docx reads the filled file, LibreOffice converts it to PDF, and a
    /// template re-saved by LibreOffice (its own XML) fills the same way.
    #[test]
    #[ignore = "needs python-docx and LibreOffice: run .ci/run"]
    fn python_docx_and_libreoffice_open_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let body = [
            p(&split_runs("Kính gửi: {{ unit.ten }}")),
            p(&split_runs("Giá trị: {{ a }}")),
            loops_body(),
        ]
        .concat();
        let tpl = build_docx(
            &body,
            &p(&split_runs("UBND {{ ngay }}")),
            &p(&r("Trang {{ unit.so }}")),
        );
        let mut c = ctx();
        c["a"] = json!("R&D <thử> \"x\" {{ y }}\ndòng hai");
        let out = DocxTemplate::parse("mau.docx", &tpl)
            .unwrap()
            .render(&c)
            .unwrap();
        let out_path = dir.path().join("out.docx");
        std::fs::write(&out_path, &out).unwrap();

        {
            let script = "import docx, sys\nd = docx.Document(sys.argv[1])\nfor p in d.paragraphs: print('P:' + p.text.replace('\\n', '\\\\n'))\nfor t in d.tables:\n  for r in t.rows: print('R:' + '|'.join(c.text for c in r.cells))\nprint('H:' + d.sections[0].header.paragraphs[0].text)";
            let o = std::process::Command::new("python3")
                .args(["-c", script])
                .arg(&out_path)
                .output()
                .expect("python3 with python-docx: run .ci/run");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let text = String::from_utf8(o.stdout).unwrap();
            assert!(
                text.contains("P:Kính gửi: Phòng Tài chính - Kế hoạch\n"),
                "{text}"
            );
            assert!(
                text.contains("P:Giá trị: R&D <thử> \"x\" {{ y }}\\ndòng hai\n"),
                "{text}"
            );
            assert!(text.contains("R:1|Giao thông|- a\n- b\n"), "{text}");
            assert!(text.contains("R:Q1|Q2|Q3\n"), "{text}");
            assert!(text.contains("H:UBND 25/6/2024\n"), "{text}");
        }

        let profile = format!(
            "-env:UserInstallation=file://{}/profile",
            dir.path().display()
        );
        let soffice = |args: &[&str]| {
            let o = std::process::Command::new("soffice")
                .arg(&profile)
                .args(["--headless", "--norestore"])
                .args(args)
                .arg("--outdir")
                .arg(dir.path().join("conv"))
                .output()
                .expect("LibreOffice (soffice): run .ci/run");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        soffice(&["--convert-to", "pdf", out_path.to_str().unwrap()]);
        let pdf = std::fs::read(dir.path().join("conv/out.pdf")).unwrap();
        assert!(pdf.starts_with(b"%PDF") && pdf.len() > 1000);

        // LibreOffice re-saves the split-run template with its own XML; it must fill the same way.
        let tpl_path = dir.path().join("tpl.docx");
        std::fs::write(&tpl_path, &tpl).unwrap();
        soffice(&[
            "--convert-to",
            "docx:MS Word 2007 XML",
            tpl_path.to_str().unwrap(),
        ]);
        let lo_tpl = std::fs::read(dir.path().join("conv/tpl.docx")).unwrap();
        let lo_out = DocxTemplate::parse("lo.docx", &lo_tpl)
            .unwrap()
            .render(&c)
            .unwrap();
        let ours = paragraphs(&part(&out, DOCUMENT_PART));
        let theirs = paragraphs(&part(&lo_out, DOCUMENT_PART));
        let visible = |v: Vec<String>| v.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>();
        assert_eq!(visible(theirs), visible(ours));
        let lo_path = dir.path().join("lo-out.docx");
        std::fs::write(&lo_path, &lo_out).unwrap();
        soffice(&["--convert-to", "pdf", lo_path.to_str().unwrap()]);
        assert!(dir.path().join("conv/lo-out.pdf").exists());
    }
}
