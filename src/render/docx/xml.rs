//! XML-level work for the DOCX filler: finds Tera tags in WordprocessingML text, merges the runs Word
//! splits them across, turns docxtpl block tags (`{%p %}`, `{%tr %}`, `{%tc %}`) into plain Tera tags,
//! makes missing variables fail loudly, and checks (and repairs table cells of) the filled XML.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// Name of the filter wrapped around every variable path so that a missing one is an error even where
/// Tera would quietly treat it as false or empty (`{% if unit.nam %}`, `{{ unit.nam | upper }}`).
pub(crate) const STRICT_FILTER: &str = "__vanban_strict";

/// What one template part became: Tera source plus where each tag landed in it.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) source: String,
    /// In source order.
    pub(crate) tags: Vec<TagInfo>,
}

/// One tag as the office wrote it, for error messages and variable listing.
#[derive(Debug, Clone)]
pub(crate) struct TagInfo {
    /// Byte range of the tag's Tera code in `Prepared::source`.
    pub(crate) range: Range<usize>,
    /// The tag as typed, runs merged, entities decoded, smart quotes made ASCII.
    pub(crate) text: String,
    /// Visible text of the paragraph holding the tag (shortened around the tag when long).
    pub(crate) paragraph: String,
    /// First word of a statement tag (`for`, `endif`, ...), block prefix removed.
    pub(crate) keyword: Option<String>,
    /// Variable paths the tag reads (loop variables included; the caller filters them).
    pub(crate) paths: Vec<String>,
    /// Names assigned by `{% set x = .. %}`.
    pub(crate) assigned: Option<String>,
}

/// Why a part could not be turned into a template.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PrepareError {
    /// The part itself is not well-formed XML.
    BadXml(String),
    /// A tag starts in one paragraph and ends in another.
    AcrossParagraphs { tag: String, paragraph: String },
    /// A tag's runs have different parents (a hyperlink, a field, a tracked change...).
    AcrossElements {
        tag: String,
        paragraph: String,
        element: String,
    },
    /// A tag has no closer at all.
    Unclosed {
        tag: String,
        closer: &'static str,
        paragraph: String,
    },
    /// `{%tr %}` outside a table row, and the like.
    BlockOutside {
        tag: String,
        container: BlockLevel,
        paragraph: String,
    },
}

/// The element a docxtpl block tag replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockLevel {
    Paragraph,
    Row,
    Cell,
}

// ---------------------------------------------------------------------------------------------------
// Tokenizing the part

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Start,
    End,
    Empty,
    Text,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    kind: TokKind,
    /// End of the element name (it starts right after `<` or `</`).
    name_end: usize,
}

impl Tok {
    fn name<'a>(&self, xml: &'a str) -> &'a str {
        match self.kind {
            TokKind::Start | TokKind::Empty => &xml[self.start + 1..self.name_end],
            TokKind::End => &xml[self.start + 2..self.name_end],
            TokKind::Text | TokKind::Other => "",
        }
    }
}

fn find_from(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| p + from)
}

fn name_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>') {
        i += 1;
    }
    i
}

fn tokenize(xml: &str) -> Result<Vec<Tok>, String> {
    let b = xml.as_bytes();
    let mut toks = Vec::with_capacity(b.len() / 16);
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            let j = b[i..]
                .iter()
                .position(|&c| c == b'<')
                .map_or(b.len(), |p| p + i);
            toks.push(Tok {
                start: i,
                end: j,
                kind: TokKind::Text,
                name_end: i,
            });
            i = j;
            continue;
        }
        let unclosed = || format!("thẻ XML bắt đầu ở byte {i} không được đóng");
        let rest = &b[i..];
        let (end, kind, nend) = if rest.starts_with(b"<?") {
            let e = find_from(b, i + 2, b"?>").ok_or_else(unclosed)? + 2;
            (e, TokKind::Other, i)
        } else if rest.starts_with(b"<!--") {
            let e = find_from(b, i + 4, b"-->").ok_or_else(unclosed)? + 3;
            (e, TokKind::Other, i)
        } else if rest.starts_with(b"<![CDATA[") {
            let e = find_from(b, i + 9, b"]]>").ok_or_else(unclosed)? + 3;
            (e, TokKind::Other, i)
        } else if rest.starts_with(b"<!") {
            let e = find_from(b, i + 2, b">").ok_or_else(unclosed)? + 1;
            (e, TokKind::Other, i)
        } else if rest.starts_with(b"</") {
            let n = name_end(b, i + 2);
            let e = find_from(b, n, b">").ok_or_else(unclosed)? + 1;
            (e, TokKind::End, n)
        } else {
            let n = name_end(b, i + 1);
            let mut j = n;
            let mut quote: Option<u8> = None;
            loop {
                let Some(&c) = b.get(j) else {
                    return Err(unclosed());
                };
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c == b'>' => break,
                    None => {}
                }
                j += 1;
            }
            let kind = if j > n && b[j - 1] == b'/' {
                TokKind::Empty
            } else {
                TokKind::Start
            };
            (j + 1, kind, n)
        };
        toks.push(Tok {
            start: i,
            end,
            kind,
            name_end: nend,
        });
        i = end;
    }
    Ok(toks)
}

// ---------------------------------------------------------------------------------------------------
// Text pieces and the character stream

const NONE: usize = usize::MAX;

/// The character data of one `<w:t>` element.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Token index of the `<w:t>` start tag.
    wt: usize,
    /// Token index of the element holding the `<w:r>`; two pieces of one tag must share it.
    run_parent: usize,
    /// Token indexes of the innermost enclosing `<w:p>`, `<w:tc>`, `<w:tr>` (or NONE).
    p: usize,
    tc: usize,
    tr: usize,
}

#[derive(Debug, Clone, Copy)]
struct SChar {
    ch: char,
    /// Byte range of the (possibly entity-encoded) character in the part.
    start: usize,
    end: usize,
    piece: usize,
}

fn decode_entity(ent: &str) -> Option<char> {
    match ent {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = ent.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

fn push_decoded(xml: &str, range: Range<usize>, piece: usize, out: &mut Vec<SChar>) {
    let raw = &xml[range.clone()];
    let mut k = 0;
    while k < raw.len() {
        let start = range.start + k;
        if raw.as_bytes()[k] == b'&'
            && let Some(semi) = raw[k..].find(';')
            && let Some(ch) = decode_entity(&raw[k + 1..k + semi])
        {
            out.push(SChar {
                ch,
                start,
                end: start + semi + 1,
                piece,
            });
            k += semi + 1;
            continue;
        }
        let Some(ch) = raw[k..].chars().next() else {
            break;
        };
        out.push(SChar {
            ch,
            start,
            end: start + ch.len_utf8(),
            piece,
        });
        k += ch.len_utf8();
    }
}

struct Structure {
    toks: Vec<Tok>,
    /// For a Start token, the index of its End token.
    match_end: Vec<usize>,
    pieces: Vec<Piece>,
    stream: Vec<SChar>,
}

fn analyse(xml: &str) -> Result<Structure, String> {
    let toks = tokenize(xml)?;
    let mut match_end = vec![NONE; toks.len()];
    let mut stack: Vec<usize> = Vec::with_capacity(32);
    let mut pieces = Vec::new();
    let mut stream = Vec::new();
    for (ti, t) in toks.iter().enumerate() {
        match t.kind {
            TokKind::Start => stack.push(ti),
            TokKind::End => {
                let Some(open) = stack.pop() else {
                    return Err(format!(
                        "thẻ đóng </{}> ở byte {} không có thẻ mở",
                        t.name(xml),
                        t.start
                    ));
                };
                if toks[open].name(xml) != t.name(xml) {
                    return Err(format!(
                        "thẻ đóng </{}> ở byte {} không khớp thẻ mở <{}>",
                        t.name(xml),
                        t.start,
                        toks[open].name(xml)
                    ));
                }
                match_end[open] = ti;
            }
            TokKind::Text => {
                let Some(&top) = stack.last() else { continue };
                if toks[top].name(xml) != "w:t" {
                    continue;
                }
                let find = |name: &str| {
                    stack
                        .iter()
                        .rev()
                        .copied()
                        .find(|&s| toks[s].name(xml) == name)
                        .unwrap_or(NONE)
                };
                let piece = Piece {
                    wt: top,
                    run_parent: if stack.len() >= 3 {
                        stack[stack.len() - 3]
                    } else {
                        NONE
                    },
                    p: find("w:p"),
                    tc: find("w:tc"),
                    tr: find("w:tr"),
                };
                pieces.push(piece);
                push_decoded(xml, t.start..t.end, pieces.len() - 1, &mut stream);
            }
            TokKind::Empty | TokKind::Other => {}
        }
    }
    if let Some(&open) = stack.last() {
        return Err(format!(
            "phần tử <{}> ở byte {} không được đóng",
            toks[open].name(xml),
            toks[open].start
        ));
    }
    Ok(Structure {
        toks,
        match_end,
        pieces,
        stream,
    })
}

// ---------------------------------------------------------------------------------------------------
// Finding tags

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Expr,
    Stmt,
    Comment,
}

#[derive(Debug)]
struct Found {
    /// Stream index range of the tag.
    chars: Range<usize>,
    kind: TagKind,
    /// Normalized text of the whole tag.
    text: String,
    /// The tag as it stands in the document (entities decoded only).
    orig: String,
    /// Inside `{% raw %}`: copied literally.
    literal: bool,
    block: Option<BlockLevel>,
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„')
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '‘' | '’')
}

/// What Word's autocorrect does to code: curly quotes and no-break spaces.
fn normalize_code(c: char) -> char {
    match c {
        '“' | '”' | '„' => '"',
        '‘' | '’' => '\'',
        '\u{a0}' | '\u{202f}' => ' ',
        c => c,
    }
}

/// Searches for the closer of the tag opened at `open`; returns the stream index just past it.
fn find_closer(stream: &[SChar], open: usize, kind: TagKind) -> Option<usize> {
    let closer = match kind {
        TagKind::Expr => '}',
        TagKind::Stmt => '%',
        TagKind::Comment => '#',
    };
    let mut quote: Option<bool> = None; // Some(true) = double
    let mut escaped = false;
    let mut j = open + 2;
    while j < stream.len() {
        let c = stream[j].ch;
        if kind != TagKind::Comment
            && let Some(double) = quote
        {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if (double && is_double_quote(c)) || (!double && is_single_quote(c)) {
                quote = None;
            }
        } else if kind != TagKind::Comment && is_double_quote(c) {
            quote = Some(true);
        } else if kind != TagKind::Comment && is_single_quote(c) {
            quote = Some(false);
        } else if c == closer && stream.get(j + 1).is_some_and(|n| n.ch == '}') {
            return Some(j + 2);
        }
        j += 1;
    }
    None
}

fn closer_text(kind: TagKind) -> &'static str {
    match kind {
        TagKind::Expr => "}}",
        TagKind::Stmt => "%}",
        TagKind::Comment => "#}",
    }
}

/// The statement keyword and the docxtpl block level of a `{% .. %}` tag's inner text.
fn block_prefix(inner: &str) -> Option<(BlockLevel, usize)> {
    for (prefix, level) in [
        ("tr", BlockLevel::Row),
        ("tc", BlockLevel::Cell),
        ("p", BlockLevel::Paragraph),
    ] {
        if let Some(rest) = inner.strip_prefix(prefix)
            && rest.starts_with(char::is_whitespace)
        {
            return Some((level, prefix.len()));
        }
    }
    None
}

fn first_word(body: &str) -> &str {
    let body = body.trim_start_matches('-').trim_start();
    let end = body
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    &body[..end]
}

struct ParaText {
    /// Paragraph token -> visible text.
    texts: HashMap<usize, String>,
    /// Stream index -> char offset inside its paragraph's text.
    offsets: Vec<usize>,
}

fn paragraph_texts(st: &Structure) -> ParaText {
    let mut texts: HashMap<usize, String> = HashMap::new();
    let mut counts: HashMap<usize, usize> = HashMap::new();
    let mut offsets = Vec::with_capacity(st.stream.len());
    for c in &st.stream {
        let p = st.pieces[c.piece].p;
        let n = counts.entry(p).or_insert(0);
        offsets.push(*n);
        *n += 1;
        texts.entry(p).or_default().push(c.ch);
    }
    ParaText { texts, offsets }
}

const EXCERPT_CONTEXT: usize = 60;

/// The paragraph text, cut down to a window around the tag when the paragraph is long.
fn excerpt(para: &ParaText, st: &Structure, at: usize, len: usize) -> String {
    let p = st.pieces[st.stream[at].piece].p;
    let Some(text) = para.texts.get(&p) else {
        return String::new();
    };
    let total = text.chars().count();
    if total <= len + 2 * EXCERPT_CONTEXT + 20 {
        return text.clone();
    }
    let off = para.offsets[at];
    let from = off.saturating_sub(EXCERPT_CONTEXT);
    let to = (off + len + EXCERPT_CONTEXT).min(total);
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.extend(text.chars().skip(from).take(to - from));
    if to < total {
        out.push('…');
    }
    out
}

fn text_of(stream: &[SChar], r: Range<usize>) -> String {
    stream[r].iter().map(|c| c.ch).collect()
}

fn find_tags(xml: &str, st: &Structure, para: &ParaText) -> Result<Vec<Found>, PrepareError> {
    let s = &st.stream;
    let mut found = Vec::new();
    let mut raw_mode = false;
    let mut i = 0;
    while i + 1 < s.len() {
        let kind = match (s[i].ch, s[i + 1].ch) {
            ('{', '{') => TagKind::Expr,
            ('{', '%') => TagKind::Stmt,
            ('{', '#') => TagKind::Comment,
            _ => {
                i += 1;
                continue;
            }
        };
        let para_of = |k: usize| st.pieces[s[k].piece].p;
        let p = para_of(i);
        // End of this paragraph's text in the stream.
        let para_end = (i..s.len()).find(|&k| para_of(k) != p).unwrap_or(s.len());
        let Some(end) = find_closer(s, i, kind) else {
            let tag = text_of(s, i..para_end);
            return Err(PrepareError::Unclosed {
                paragraph: excerpt(para, st, i, para_end - i),
                tag,
                closer: closer_text(kind),
            });
        };
        if end > para_end {
            let next_p = para_of(para_end);
            let next_end = (para_end..s.len())
                .find(|&k| para_of(k) != next_p)
                .unwrap_or(s.len());
            let paragraph = excerpt(para, st, i, para_end - i);
            // Closed in the very next paragraph: a tag broken by Enter. Further away: never closed.
            return Err(if end <= next_end {
                PrepareError::AcrossParagraphs {
                    tag: text_of(s, i..end),
                    paragraph,
                }
            } else {
                PrepareError::Unclosed {
                    tag: text_of(s, i..para_end),
                    closer: closer_text(kind),
                    paragraph,
                }
            });
        }
        let first = st.pieces[s[i].piece];
        let last = st.pieces[s[end - 1].piece];
        let raw_text = text_of(s, i..end);
        if first.run_parent != last.run_parent {
            // Name the element that cuts the tag: the parent that differs.
            let other = if first.run_parent == p {
                last.run_parent
            } else {
                first.run_parent
            };
            let element = st
                .toks
                .get(other)
                .map(|t| t.name(xml).to_string())
                .unwrap_or_default();
            return Err(PrepareError::AcrossElements {
                paragraph: excerpt(para, st, i, end - i),
                tag: raw_text,
                element,
            });
        }
        let text: String = raw_text.chars().map(normalize_code).collect();
        let body = &text[2..text.len() - 2];
        let mut block = None;
        let mut literal = raw_mode;
        if kind == TagKind::Stmt {
            let word = first_word(body);
            if raw_mode {
                if word == "endraw" {
                    raw_mode = false;
                    literal = false;
                }
            } else {
                block = block_prefix(body).map(|(level, _)| level);
                let word = match block {
                    Some(_) => first_word(&body[block_prefix(body).map_or(0, |b| b.1)..]),
                    None => word,
                };
                if word == "raw" {
                    raw_mode = true;
                }
            }
        }
        found.push(Found {
            chars: i..end,
            kind,
            text,
            orig: raw_text,
            literal,
            block,
        });
        i = end;
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------------
// Expressions: strict wrapping and variable paths

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ETok {
    Ident,
    Str,
    Num,
    Op,
}

fn lex_expr(code: &str) -> Vec<(ETok, Range<usize>)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((ETok::Ident, i..end));
        } else if c.is_ascii_digit() {
            let mut end = i + 1;
            while let Some(&(j, d)) = chars.peek() {
                let decimal_point = d == '.' && b.get(j + 1).is_some_and(u8::is_ascii_digit);
                if d.is_ascii_alphanumeric() || d == '_' || decimal_point {
                    end = j + 1;
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((ETok::Num, i..end));
        } else if c == '"' || c == '\'' || c == '`' {
            let mut end = code.len();
            let mut escaped = false;
            for (j, d) in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == c {
                    end = j + 1;
                    break;
                }
            }
            out.push((ETok::Str, i..end));
        } else {
            let two = code.get(i..i + 2).unwrap_or("");
            if matches!(two, "==" | "!=" | "<=" | ">=" | "?." | "?[" | "//" | "**") {
                chars.next();
                out.push((ETok::Op, i..i + 2));
            } else {
                out.push((ETok::Op, i..i + c.len_utf8()));
            }
        }
    }
    out
}

const NOT_VARIABLES: [&str; 21] = [
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "for",
    "true",
    "True",
    "false",
    "False",
    "none",
    "None",
    "null",
    "loop",
    "self",
    "super",
    "continue",
    "break",
    "__tera_context",
];

/// A variable path found in an expression.
struct PathUse {
    path: String,
    /// Where to append the strict filter, if the path must exist.
    strict_at: Option<usize>,
}

fn expr_paths(code: &str, from: usize) -> Vec<PathUse> {
    let toks = lex_expr(code);
    let text = |k: usize| &code[toks[k].1.clone()];
    let is_op = |k: usize, op: &str| toks.get(k).is_some_and(|t| t.0 == ETok::Op) && text(k) == op;
    let is_ident =
        |k: usize, w: &str| toks.get(k).is_some_and(|t| t.0 == ETok::Ident) && text(k) == w;
    let mut uses = Vec::new();
    let mut binding = false; // between `for` and `in` of a comprehension
    let mut k = 0;
    while k < toks.len() {
        let (kind, range) = (toks[k].0, toks[k].1.clone());
        if range.start < from || kind != ETok::Ident {
            k += 1;
            continue;
        }
        let word = text(k);
        if word == "for" {
            binding = true;
        } else if word == "in" {
            binding = false;
        }
        let after_dot_or_pipe =
            k > 0 && (is_op(k - 1, ".") || is_op(k - 1, "|") || is_op(k - 1, "?."));
        let test_name = k > 0
            && (is_ident(k - 1, "is")
                || (is_ident(k - 1, "not") && k > 1 && is_ident(k - 2, "is")));
        if binding || after_dot_or_pipe || test_name || NOT_VARIABLES.contains(&word) {
            k += 1;
            continue;
        }
        let mut path = word.to_string();
        let mut j = k;
        while is_op(j + 1, ".") && toks.get(j + 2).is_some_and(|t| t.0 == ETok::Ident) {
            path.push('.');
            path.push_str(text(j + 2));
            j += 2;
        }
        let next = j + 1;
        let call_or_name = is_op(next, "(") || is_op(next, "=") || is_op(next, ":");
        if call_or_name {
            k = next;
            continue;
        }
        let lenient = is_op(next, "[")
            || is_op(next, "?.")
            || is_op(next, "?[")
            || is_ident(next, "is")
            || (is_op(next, "|") && is_ident(next + 1, "default"));
        uses.push(PathUse {
            path,
            strict_at: (!lenient).then_some(toks[j].1.end),
        });
        k = next;
    }
    uses
}

/// The variable paths one tag (`{{ … }}` or `{% … %}`, delimiters included) reads, as the filler
/// sees them: for the wording file's check of its sentences.
pub(crate) fn tag_paths(tag: &str) -> Vec<String> {
    let Some(body) = tag.get(2..tag.len().saturating_sub(2)) else {
        return Vec::new();
    };
    let uses = if tag.starts_with("{{") {
        expr_paths(body, 0)
    } else if tag.starts_with("{%") {
        let body = body.trim_start_matches(['-', ' ']);
        statement_expr_start(body)
            .map(|from| expr_paths(body, from))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    uses.into_iter().map(|u| u.path).collect()
}

/// Appends the strict filter after every variable path in `code[from..]` that must exist.
fn instrument(code: &str, uses: &[PathUse]) -> String {
    let mut out = String::with_capacity(code.len() + uses.len() * 40);
    let mut pos = 0;
    for u in uses {
        if let Some(at) = u.strict_at {
            out.push_str(&code[pos..at]);
            out.push_str(" | ");
            out.push_str(STRICT_FILTER);
            out.push_str("(p=\"");
            out.push_str(&u.path);
            out.push_str("\")");
            pos = at;
        }
    }
    out.push_str(&code[pos..]);
    out
}

/// Where the expression of a statement starts (None: the statement holds no expression to check).
fn statement_expr_start(body: &str) -> Option<usize> {
    let lead = body.len() - body.trim_start_matches(['-', ' ', '\t', '\n']).len();
    let word = first_word(body);
    let after = lead + word.len();
    match word {
        "if" | "elif" => Some(after),
        "for" => {
            let toks = lex_expr(body);
            toks.iter()
                .find(|(k, r)| *k == ETok::Ident && &body[r.clone()] == "in")
                .map(|(_, r)| r.end)
        }
        "set" | "set_global" => {
            let toks = lex_expr(body);
            toks.iter()
                .find(|(k, r)| *k == ETok::Op && &body[r.clone()] == "=")
                .map(|(_, r)| r.end)
        }
        _ => None,
    }
}

fn assigned_name(body: &str) -> Option<String> {
    let word = first_word(body);
    if word != "set" && word != "set_global" {
        return None;
    }
    let toks = lex_expr(body);
    let has_assign = toks
        .iter()
        .any(|(k, r)| *k == ETok::Op && &body[r.clone()] == "=");
    let name = toks.get(1).filter(|t| t.0 == ETok::Ident)?;
    has_assign.then(|| body[name.1.clone()].to_string())
}

/// The Tera code for one tag, plus what it tells about variables.
struct Compiled {
    code: String,
    keyword: Option<String>,
    paths: Vec<String>,
    assigned: Option<String>,
}

fn compile_tag(f: &Found) -> Compiled {
    if f.literal {
        return Compiled {
            code: escape_text(&f.orig),
            keyword: None,
            paths: Vec::new(),
            assigned: None,
        };
    }
    let open = &f.text[..2];
    let close = &f.text[f.text.len() - 2..];
    let mut body = &f.text[2..f.text.len() - 2];
    match f.kind {
        TagKind::Comment => Compiled {
            code: f.text.clone(),
            keyword: None,
            paths: Vec::new(),
            assigned: None,
        },
        TagKind::Expr => {
            let uses = expr_paths(body, 0);
            Compiled {
                code: format!("{open}{}{close}", instrument(body, &uses)),
                keyword: None,
                paths: uses.into_iter().map(|u| u.path).collect(),
                assigned: None,
            }
        }
        TagKind::Stmt => {
            if let Some((_, len)) = block_prefix(body) {
                body = &body[len..];
            }
            let uses = statement_expr_start(body)
                .map(|from| expr_paths(body, from))
                .unwrap_or_default();
            Compiled {
                code: format!("{open}{}{close}", instrument(body, &uses)),
                keyword: Some(first_word(body).to_string()),
                paths: uses.into_iter().map(|u| u.path).collect(),
                assigned: assigned_name(body),
            }
        }
    }
}

fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// Building the Tera source

/// Copies template XML that holds no tag, hiding from Tera any `{{`, `{%`, `{#` it contains
/// (attribute values, field codes, deleted text).
fn copy_plain(seg: &str, raw_mode: bool, out: &mut String) {
    if raw_mode {
        out.push_str(seg);
        return;
    }
    let b = seg.as_bytes();
    let mut last = 0;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && matches!(b[i + 1], b'{' | b'%' | b'#') {
            out.push_str(&seg[last..i]);
            out.push_str("{% raw %}");
            out.push_str(&seg[i..i + 2]);
            out.push_str("{% endraw %}");
            i += 2;
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&seg[last..]);
}

/// `<w:t>` or `<w:t attr..>` with `xml:space="preserve"`, so values keep their edge spaces.
fn preserve_start_tag(tag: &str) -> String {
    if tag.contains("xml:space") {
        return tag.to_string();
    }
    format!("<w:t xml:space=\"preserve\"{}", &tag[4..])
}

enum EditWhat {
    Tags(Vec<usize>),
    Text(String),
}

struct Edit {
    range: Range<usize>,
    what: EditWhat,
}

/// Word's per-paragraph ids (`w14:paraId`, `w14:textId`) must be unique in a document; a
/// loop would copy them. They are optional and Word makes new ones, so they are dropped from
/// templated parts.
fn strip_paragraph_ids(xml: &str) -> std::borrow::Cow<'_, str> {
    if !xml.contains(" w14:paraId=\"") && !xml.contains(" w14:textId=\"") {
        return std::borrow::Cow::Borrowed(xml);
    }
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    loop {
        let next = ["w14:paraId=\"", "w14:textId=\""]
            .iter()
            .filter_map(|attr| rest.find(&format!(" {attr}")).map(|i| (i, attr.len() + 1)))
            .min();
        let Some((at, prefix)) = next else { break };
        out.push_str(&rest[..at]);
        let value = &rest[at + prefix..];
        match value.find('"') {
            Some(end) => rest = &value[end + 1..],
            None => {
                rest = &rest[at..];
                break;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Turns one template part (document, header or footer XML) into Tera source.
pub(crate) fn prepare(xml: &str) -> Result<Prepared, PrepareError> {
    let xml = strip_paragraph_ids(xml);
    let xml = xml.as_ref();
    let st = analyse(xml).map_err(PrepareError::BadXml)?;
    let para = paragraph_texts(&st);
    let found = find_tags(xml, &st, &para)?;

    // Block tags: the element each one replaces, outermost first.
    let mut blocks: BTreeMap<usize, (Range<usize>, Vec<usize>)> = BTreeMap::new();
    for (n, f) in found.iter().enumerate() {
        let Some(level) = f.block else { continue };
        let piece = st.pieces[st.stream[f.chars.start].piece];
        let elem = match level {
            BlockLevel::Paragraph => piece.p,
            BlockLevel::Row => piece.tr,
            BlockLevel::Cell => piece.tc,
        };
        if elem == NONE || st.match_end[elem] == NONE {
            return Err(PrepareError::BlockOutside {
                tag: f.text.clone(),
                container: level,
                paragraph: excerpt(&para, &st, f.chars.start, f.chars.len()),
            });
        }
        let range = st.toks[elem].start..st.toks[st.match_end[elem]].end;
        blocks
            .entry(range.start)
            .or_insert((range, Vec::new()))
            .1
            .push(n);
    }
    let mut edits: Vec<Edit> = Vec::new();
    let mut covered_until = 0;
    for (range, tags) in blocks.into_values() {
        if range.start < covered_until {
            continue; // inside a row or cell that is replaced as a whole
        }
        covered_until = range.end;
        edits.push(Edit {
            range,
            what: EditWhat::Tags(tags),
        });
    }
    let blocked = |pos: usize| {
        edits
            .binary_search_by(|e| {
                if e.range.end <= pos {
                    std::cmp::Ordering::Less
                } else if e.range.start > pos {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    };
    let mut inline: Vec<Edit> = Vec::new();
    let mut preserved = std::collections::HashSet::new();
    let mut prev_end = 0;
    for (n, f) in found.iter().enumerate() {
        if f.block.is_some() {
            continue;
        }
        let start = st.stream[f.chars.start].start;
        let end = st.stream[f.chars.end - 1].end;
        if blocked(start) {
            continue;
        }
        let wt = st.pieces[st.stream[f.chars.start].piece].wt;
        // A `<w:t>` that an earlier merged tag swallowed is gone; that tag's own `<w:t>` holds this
        // text now, and was handled with it.
        let swallowed = st.toks[wt].start < prev_end;
        prev_end = end;
        if !f.literal && !swallowed && preserved.insert(wt) {
            let t = st.toks[wt];
            inline.push(Edit {
                range: t.start..t.end,
                what: EditWhat::Text(preserve_start_tag(&xml[t.start..t.end])),
            });
        }
        inline.push(Edit {
            range: start..end,
            what: EditWhat::Tags(vec![n]),
        });
    }
    edits.extend(inline);
    edits.sort_by_key(|e| e.range.start);

    let mut source = String::with_capacity(xml.len() + found.len() * 48);
    let mut tags = Vec::with_capacity(found.len());
    let mut pos = 0;
    let mut raw_mode = false;
    for e in &edits {
        copy_plain(&xml[pos..e.range.start], raw_mode, &mut source);
        match &e.what {
            EditWhat::Text(t) => source.push_str(t),
            EditWhat::Tags(list) => {
                for &n in list {
                    let f = &found[n];
                    let c = compile_tag(f);
                    if !f.literal {
                        match c.keyword.as_deref() {
                            Some("raw") => raw_mode = true,
                            Some("endraw") => raw_mode = false,
                            _ => {}
                        }
                    }
                    let at = source.len();
                    source.push_str(&c.code);
                    tags.push(TagInfo {
                        range: at..source.len(),
                        text: f.text.clone(),
                        paragraph: excerpt(&para, &st, f.chars.start, f.chars.len()),
                        keyword: c.keyword,
                        paths: c.paths,
                        assigned: c.assigned,
                    });
                }
            }
        }
        pos = e.range.end;
    }
    copy_plain(&xml[pos..], raw_mode, &mut source);
    Ok(Prepared { source, tags })
}

/// For a template that ends inside an open block: the opener left without its end tag.
pub(crate) fn unclosed_block(tags: &[TagInfo]) -> Option<(&TagInfo, String)> {
    let mut stack: Vec<&TagInfo> = Vec::new();
    for t in tags {
        let Some(k) = t.keyword.as_deref() else {
            continue;
        };
        match k {
            "if" | "for" | "raw" | "filter" | "macro" | "block" | "component" => stack.push(t),
            "set" | "set_global" if t.assigned.is_none() => stack.push(t),
            _ if k.starts_with("end") => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.pop().map(|t| {
        let k = t.keyword.as_deref().unwrap_or_default();
        (t, format!("end{k}"))
    })
}

// ---------------------------------------------------------------------------------------------------
// Checking the filled XML

#[derive(Clone, Copy, PartialEq, Eq)]
enum Elem {
    Cell,
    Para,
    Table,
    /// A block wrapper (`w:sdt`, `w:customXml`) that usually holds paragraphs.
    Wrapper,
    Other,
}

fn classify(name: &[u8]) -> Elem {
    match name {
        b"w:tc" => Elem::Cell,
        b"w:p" => Elem::Para,
        b"w:tbl" => Elem::Table,
        b"w:sdt" | b"w:customXml" => Elem::Wrapper,
        _ => Elem::Other,
    }
}

fn snippet(xml: &str, pos: usize) -> String {
    let mut from = pos.saturating_sub(60).min(xml.len());
    while !xml.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (pos + 60).min(xml.len());
    while !xml.is_char_boundary(to) {
        to += 1;
    }
    xml[from..to].to_string()
}

/// Checks that a filled part is well-formed XML and that every table cell still ends with a
/// paragraph (Word refuses a `<w:tc>` without one, which a `{%p for %}` over an empty list leaves).
/// Returns the part with empty paragraphs added where cells needed them.
pub(crate) fn check_and_repair(xml: String) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(&xml);
    reader.config_mut().check_end_names = true;
    // (kind, whether the last block-level child so far is a paragraph)
    let mut stack: Vec<(Elem, bool)> = Vec::with_capacity(32);
    let mut seen_root = false;
    let mut inserts: Vec<usize> = Vec::new();
    loop {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(pos);
            format!("{e}, gần: {}", snippet(&xml, at))
        })?;
        let (name, push) = match &event {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            Event::End(_) => {
                if let Some((kind, ends_with_p)) = stack.pop()
                    && kind == Elem::Cell
                    && !ends_with_p
                {
                    inserts.push(pos);
                }
                continue;
            }
            Event::GeneralRef(r) => {
                let ok = if r.is_char_ref() {
                    matches!(r.resolve_char_ref(), Ok(Some(_)))
                } else {
                    matches!(&r[..], b"lt" | b"gt" | b"amp" | b"quot" | b"apos")
                };
                if !ok {
                    return Err(format!(
                        "tham chiếu ký tự không hợp lệ, gần: {}",
                        snippet(&xml, pos)
                    ));
                }
                continue;
            }
            // A filled part never carries one (templates with one are refused): entities it
            // declared would expand in whatever opens the document.
            Event::DocType(_) => {
                return Err(format!(
                    "có khai báo <!DOCTYPE …>, gần: {}",
                    snippet(&xml, pos)
                ));
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = name else { continue };
        if stack.is_empty() {
            if seen_root {
                return Err(format!(
                    "có hơn một phần tử gốc, gần: {}",
                    snippet(&xml, pos)
                ));
            }
            seen_root = true;
        }
        for attr in e.attributes() {
            attr.map_err(|err| format!("{err}, gần: {}", snippet(&xml, pos)))?;
        }
        let kind = classify(e.name().as_ref());
        if let Some((Elem::Cell, ends_with_p)) = stack.last_mut() {
            match kind {
                Elem::Para | Elem::Wrapper => *ends_with_p = true,
                Elem::Table => *ends_with_p = false,
                Elem::Cell | Elem::Other => {}
            }
        }
        if push {
            stack.push((kind, false));
        }
    }
    if !stack.is_empty() {
        return Err("phần tử không được đóng ở cuối phần".to_string());
    }
    if !seen_root {
        return Err("không có phần tử gốc".to_string());
    }
    if inserts.is_empty() {
        return Ok(xml);
    }
    let mut out = String::with_capacity(xml.len() + inserts.len() * 6);
    let mut last = 0;
    for at in inserts {
        out.push_str(&xml[last..at]);
        out.push_str("<w:p/>");
        last = at;
    }
    out.push_str(&xml[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(runs: &str) -> String {
        format!("<w:document xmlns:w=\"w\"><w:body><w:p>{runs}</w:p></w:body></w:document>")
    }

    #[test]
    fn tokenizer_handles_gt_in_attributes_and_comments() {
        let xml = "<a x=\"1>2\"><!-- <b> --><c/>t&amp;</a>";
        let toks = tokenize(xml).unwrap();
        let kinds: Vec<TokKind> = toks.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            vec![
                TokKind::Start,
                TokKind::Other,
                TokKind::Empty,
                TokKind::Text,
                TokKind::End
            ]
        );
        assert_eq!(toks[0].name(xml), "a");
        assert_eq!(toks[4].name(xml), "a");
    }

    #[test]
    fn bad_template_xml_is_reported() {
        assert!(matches!(
            prepare("<a><b></a>"),
            Err(PrepareError::BadXml(_))
        ));
        assert!(matches!(prepare("<a"), Err(PrepareError::BadXml(_))));
    }

    #[test]
    fn split_tag_is_merged_into_first_run() {
        let xml = para(
            "<w:r><w:rPr><w:b/></w:rPr><w:t>A {</w:t></w:r><w:proofErr w:type=\"spellStart\"/>\
             <w:r><w:t>{ x</w:t></w:r><w:r><w:t xml:space=\"preserve\"> }</w:t></w:r><w:r><w:t>} B</w:t></w:r>",
        );
        let p = prepare(&xml).unwrap();
        assert_eq!(
            p.source,
            para(
                "<w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">A {{ x | __vanban_strict(p=\"x\") }} B</w:t></w:r>"
            )
        );
        assert_eq!(p.tags.len(), 1);
        assert_eq!(p.tags[0].text, "{{ x }}");
        assert_eq!(p.tags[0].paragraph, "A {{ x }} B");
    }

    #[test]
    fn expression_paths_and_strictness() {
        let uses = expr_paths(" a.b | upper ~ c | default(value=d.e) ", 0);
        let got: Vec<(&str, bool)> = uses
            .iter()
            .map(|u| (u.path.as_str(), u.strict_at.is_some()))
            .collect();
        assert_eq!(got, vec![("a.b", true), ("c", false), ("d.e", true)]);
        let uses = expr_paths(" x is defined and loop.index > 1 and f(k=v) ", 0);
        let got: Vec<(&str, bool)> = uses
            .iter()
            .map(|u| (u.path.as_str(), u.strict_at.is_some()))
            .collect();
        assert_eq!(got, vec![("x", false), ("v", true)]);
        let uses = expr_paths(" [r.a for r in rows if r.b] ", 0);
        let got: Vec<&str> = uses.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(got, vec!["r.a", "rows", "r.b"]);
        let uses = expr_paths(" \"a.b \\\" c\" ~ tên.x ", 0);
        let got: Vec<&str> = uses.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(got, vec!["tên.x"]);
    }

    #[test]
    fn statement_regions() {
        assert_eq!(statement_expr_start(" for r in rows "), Some(9));
        assert_eq!(statement_expr_start(" if a "), Some(3));
        assert_eq!(statement_expr_start(" set x = a "), Some(8));
        assert_eq!(statement_expr_start(" endfor "), None);
        assert_eq!(assigned_name(" set x = a "), Some("x".to_string()));
        assert_eq!(assigned_name(" set x "), None);
    }

    #[test]
    fn repair_adds_paragraph_to_empty_cell() {
        let xml =
            "<w:tbl><w:tr><w:tc><w:tcPr/></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>".to_string();
        let fixed = check_and_repair(xml).unwrap();
        assert_eq!(
            fixed,
            "<w:tbl><w:tr><w:tc><w:tcPr/><w:p/></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>"
        );
        assert!(check_and_repair("<a><b></a>".to_string()).is_err());
        assert!(check_and_repair("<a>&bogus;</a>".to_string()).is_err());
        assert!(check_and_repair("<a/><b/>".to_string()).is_err());
        assert!(check_and_repair("<a x=\"1\" x=\"2\"/>".to_string()).is_err());
    }

    #[test]
    fn paragraph_ids_are_dropped_so_loops_cannot_repeat_them() {
        let xml = r#"<w:p w14:paraId="1A2B3C4D" w14:textId="77777777" w:rsidR="00AB"><w:r><w:t>x</w:t></w:r></w:p>"#;
        assert_eq!(
            strip_paragraph_ids(xml),
            r#"<w:p w:rsidR="00AB"><w:r><w:t>x</w:t></w:r></w:p>"#
        );
        assert_eq!(strip_paragraph_ids("<w:p/>"), "<w:p/>");
    }
}
