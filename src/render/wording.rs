//! The fixed wording of the three documents (opening and closing formulas, the reporting line,
//! section headings): one Vietnamese file, `loi-van.toml`, that both formats read. The built-in
//! DOCX templates are written from it (each sentence placed as it is, Tera tags and all, for the
//! filler), and the PDF's data gets each sentence rendered (`wording` in data.json), so a clerk
//! who rewords a sentence there sees it in both files. An office overrides it with
//! `<templates>/loi-van.toml`; every key must be there, none unknown, each placeholder one the
//! key's document has.

use std::collections::BTreeMap;
use std::sync::Arc;

use tera::{Context, Tera};

use super::templates::{TemplateError, Templates};
use crate::model::DocumentKind;

/// The file's name, at the top of a templates directory.
pub const FILE: &str = "loi-van.toml";

/// The built-in wording: the same words the documents have always had.
pub const BUILTIN: &str = include_str!("../../templates/loi-van.toml");

/// One sentence of the file: where it goes and what it may read.
struct Spec {
    section: &'static str,
    key: &'static str,
    /// Rendered once per item of an array of the context (path, loop variable name), the result
    /// stored in the item's own `wording`; else once per document, in the data's `wording`.
    item: Option<(&'static str, &'static str)>,
    /// Rendered only when this value of the context is present (the sentence reads inside it).
    when: Option<&'static str>,
}

const fn doc(section: &'static str, key: &'static str) -> Spec {
    Spec {
        section,
        key,
        item: None,
        when: None,
    }
}

const PROGRAMS: Option<(&str, &str)> = Some(("report.programs", "p"));
const LETTER_TASKS: Option<(&str, &str)> = Some(("letter.tasks", "t"));
const NOTICE_TASKS: Option<(&str, &str)> = Some(("notice.assignments.*.tasks", "t"));

const SPECS: &[Spec] = &[
    doc("bao_cao", "mo_dau"),
    doc("bao_cao", "muc_lanh_dao"),
    doc("bao_cao", "muc_ket_qua"),
    doc("bao_cao", "muc_nguon_von"),
    Spec {
        when: Some("report.funds"),
        ..doc("bao_cao", "nguon_von")
    },
    Spec {
        item: PROGRAMS,
        ..doc("bao_cao", "muc_chuong_trinh")
    },
    Spec {
        item: PROGRAMS,
        when: Some("p.budget"),
        ..doc("bao_cao", "von_chuong_trinh")
    },
    doc("bao_cao", "cot_tt"),
    doc("bao_cao", "cot_chuong_trinh"),
    doc("bao_cao", "cot_von_giao"),
    doc("bao_cao", "cot_da_giai_ngan"),
    doc("bao_cao", "cot_ty_le_giai_ngan"),
    doc("bao_cao", "cot_chi_tieu"),
    doc("bao_cao", "cot_don_vi_tinh"),
    doc("bao_cao", "cot_thuc_hien"),
    doc("bao_cao", "cot_ke_hoach"),
    doc("bao_cao", "cot_ty_le_ke_hoach"),
    doc("bao_cao", "muc_danh_gia"),
    doc("bao_cao", "muc_ket_qua_dat_duoc"),
    doc("bao_cao", "muc_ton_tai"),
    doc("bao_cao", "muc_nhiem_vu"),
    doc("bao_cao", "muc_de_xuat"),
    doc("bao_cao", "ket_thuc"),
    doc("thong_bao", "mo_dau"),
    doc("thong_bao", "ket_luan"),
    doc("thong_bao", "muc_danh_gia"),
    doc("thong_bao", "muc_nhiem_vu"),
    doc("thong_bao", "muc_phan_cong"),
    Spec {
        item: NOTICE_TASKS,
        ..doc("thong_bao", "dong_nhiem_vu")
    },
    doc("thong_bao", "ket_thuc"),
    doc("cong_van", "mo_dau"),
    Spec {
        item: LETTER_TASKS,
        ..doc("cong_van", "dong_nhiem_vu")
    },
    doc("cong_van", "dong_bao_cao"),
    doc("cong_van", "ket_thuc"),
];

/// The values every document's sentences may read.
const COMMON_VALUES: &[&str] = &[
    "basis",
    "title",
    "excerpt",
    "issuer.name",
    "issuer.short",
    "issuer.place",
    "period.label",
    "period.next_label",
    "period.review",
    "period.meeting_name",
    "period.year",
    "committee.name",
    "committee.head_name",
    "committee.head_title",
    "meeting.date",
    "meeting.date_long",
    "meeting.place",
    "meeting.chair_name",
    "meeting.chair_title",
    "meeting.attendees",
    "meeting.reported_by",
    "meeting.speakers_text",
    "header.number",
    "header.place_date",
    "signer.authority",
    "signer.title",
    "signer.name",
];

/// The values of one document kind's own part of the context.
fn section_values(section: &str) -> &'static [&'static str] {
    match section {
        "bao_cao" => &[
            "report.funds_subject",
            "report.funds.allocated.text",
            "report.funds.allocated_words",
            "report.funds.disbursed.text",
            "report.funds.rate",
            "report.funds_note",
        ],
        "thong_bao" => &["notice.notifier", "notice.assignments_no"],
        "cong_van" => &[
            "letter.notice_ref",
            "letter.notice_issuer",
            "letter.unit.name",
            "letter.unit.short",
            "letter.report_to",
            "letter.report_via",
            "letter.report_due",
        ],
        _ => &[],
    }
}

/// The values of an item a per-item sentence reads, by the items' path.
fn item_values(path: &str) -> &'static [&'static str] {
    match path {
        "report.programs" => &[
            "p.no",
            "p.name",
            "p.budget.allocated.text",
            "p.budget.allocated_words",
            "p.budget.disbursed.text",
            "p.budget.rate",
        ],
        "notice.assignments.*.tasks" => &["t.text", "t.with", "t.due"],
        "letter.tasks" => &[
            "t.no",
            "t.text",
            "t.text_after_colon",
            "t.role",
            "t.group",
            "t.leads",
            "t.with",
            "t.due",
        ],
        _ => &[],
    }
}

/// The file's section of a document kind.
pub fn section_of(kind: DocumentKind) -> &'static str {
    kind.spec().wording_section
}

/// "[bao_cao], [thong_bao], [cong_van]": the sections the file may have, one per kind.
fn known_sections() -> String {
    let sections: Vec<String> = DocumentKind::ALL
        .iter()
        .map(|k| format!("[{}]", section_of(*k)))
        .collect();
    sections.join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum WordingError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{file}, dòng {line}: tệp lời văn không đọc được: {detail}")]
    Syntax {
        file: String,
        line: usize,
        detail: String,
    },
    #[error(
        "{file}, dòng {line}: mục lạ [{section}]; tệp lời văn chỉ có {}",
        known_sections()
    )]
    UnknownSection {
        file: String,
        line: usize,
        section: String,
    },
    #[error(
        "{file}, dòng {line}: khóa lạ «{key}» trong [{section}]; các khóa của mục này: {known}"
    )]
    UnknownKey {
        file: String,
        line: usize,
        section: String,
        key: String,
        known: String,
    },
    #[error(
        "{file}, dòng {line}: [{section}] thiếu khóa «{key}» (xem bản có sẵn: vanban templates export)"
    )]
    MissingKey {
        file: String,
        line: usize,
        section: String,
        key: String,
    },
    #[error("{file}, dòng {line}: «{key}» phải là một câu trong dấu ngoặc kép")]
    NotText {
        file: String,
        line: usize,
        key: String,
    },
    #[error("{file}, dòng {line}: «{key}»: chỗ điền sai: {detail}")]
    BadPlaceholder {
        file: String,
        line: usize,
        key: String,
        detail: String,
    },
    #[error(
        "{file}, dòng {line}: «{key}» dùng giá trị «{value}» mà văn bản này không có; dùng được: {allowed}"
    )]
    UnknownValue {
        file: String,
        line: usize,
        key: String,
        value: String,
        allowed: String,
    },
    #[error("{file}, dòng {line}: «{key}»: không điền được câu: {detail}")]
    Render {
        file: String,
        line: usize,
        key: String,
        detail: String,
    },
}

/// One sentence as the file has it.
#[derive(Debug, Clone)]
struct Entry {
    text: String,
    line: usize,
}

/// The wording in use: the office's file, or the built-in one. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Wording {
    inner: Arc<Inner>,
}

struct Inner {
    origin: String,
    entries: BTreeMap<(String, String), Entry>,
    tera: Tera,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wording")
            .field("origin", &self.origin)
            .field("entries", &self.entries.len())
            .finish()
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |s| s.matches('\n').count() + 1)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Tera's messages for the mistakes a clerk makes, in Vietnamese; others kept as Tera says them.
fn tera_message(message: &str) -> String {
    let message = first_line(message).trim_start_matches("error: ");
    if message.starts_with("Unexpected end of input") {
        return "câu hết mà thẻ {% if %} hay {% for %} chưa đóng (thiếu {% endif %}, {% endfor %}?)"
            .into();
    }
    if let Some(rest) = message.strip_prefix("Unknown filter `") {
        return format!("bộ lọc lạ «{}»", rest.trim_end_matches('`'));
    }
    if let Some(rest) = message.strip_prefix("Variable `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return format!("không có giá trị «{name}»");
    }
    format!("thẻ Tera không hợp lệ ({message})")
}

/// The tags (`{{ … }}`, `{% … %}`) of a sentence, with their byte offsets.
fn tags(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = text[at..].find('{').map(|i| at + i) {
        let closer = match text.get(start + 1..start + 2) {
            Some("{") => "}}",
            Some("%") => "%}",
            Some("#") => "#}",
            _ => {
                at = start + 1;
                continue;
            }
        };
        match text[start + 2..].find(closer) {
            Some(end) => {
                let end = start + 2 + end + 2;
                out.push((start, &text[start..end]));
                at = end;
            }
            None => break,
        }
    }
    out
}

fn known_keys(section: &str) -> String {
    SPECS
        .iter()
        .filter(|s| s.section == section)
        .map(|s| s.key)
        .collect::<Vec<_>>()
        .join(", ")
}

fn lookup<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.')
        .try_fold(value, |v, field| v.get(field))
        .filter(|v| !v.is_null())
}

impl Wording {
    /// The built-in wording.
    pub fn builtin() -> Self {
        // The built-in file is checked by the tests; a broken one is a build mistake.
        Self::parse(&format!("templates/{FILE} (có sẵn)"), BUILTIN)
            .unwrap_or_else(|e| panic!("lời văn có sẵn hỏng: {e}"))
    }

    /// The office's `loi-van.toml` if its templates directory has one, else the built-in.
    pub fn load(templates: &Templates) -> Result<Self, WordingError> {
        match templates.resolve("", FILE, None)? {
            Some(file) => Self::parse(&file.origin, file.text()?),
            None => Ok(Self::builtin()),
        }
    }

    /// Reads and checks a wording file: every key present, none unknown, each sentence valid
    /// Tera reading only the values its document has.
    pub fn parse(origin: &str, text: &str) -> Result<Self, WordingError> {
        type Sections = BTreeMap<
            toml::Spanned<String>,
            toml::Spanned<BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>>,
        >;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let file = origin.to_string();
        let sections: Sections = toml::from_str(text).map_err(|e| WordingError::Syntax {
            file: file.clone(),
            line: e.span().map_or(1, |s| line_at(text, s.start)),
            detail: first_line(e.message()).to_string(),
        })?;
        let mut entries = BTreeMap::new();
        for (section, keys) in &sections {
            let section_line = line_at(text, section.span().start);
            if !SPECS.iter().any(|s| s.section == section.get_ref()) {
                return Err(WordingError::UnknownSection {
                    file,
                    line: section_line,
                    section: section.get_ref().clone(),
                });
            }
            for (key, value) in keys.get_ref() {
                let line = line_at(text, key.span().start);
                if !SPECS
                    .iter()
                    .any(|s| s.section == section.get_ref() && s.key == key.get_ref())
                {
                    return Err(WordingError::UnknownKey {
                        file,
                        line,
                        section: section.get_ref().clone(),
                        key: key.get_ref().clone(),
                        known: known_keys(section.get_ref()),
                    });
                }
                let toml::Value::String(sentence) = value.get_ref() else {
                    return Err(WordingError::NotText {
                        file,
                        line,
                        key: format!("{}.{}", section.get_ref(), key.get_ref()),
                    });
                };
                entries.insert(
                    (section.get_ref().clone(), key.get_ref().clone()),
                    Entry {
                        text: sentence.clone(),
                        line,
                    },
                );
            }
        }
        for spec in SPECS {
            if !entries.contains_key(&(spec.section.to_string(), spec.key.to_string())) {
                let line = sections
                    .iter()
                    .find(|(s, _)| s.get_ref() == spec.section)
                    .map_or(1, |(s, _)| line_at(text, s.span().start));
                return Err(WordingError::MissingKey {
                    file,
                    line,
                    section: spec.section.to_string(),
                    key: spec.key.to_string(),
                });
            }
        }
        let mut tera = Tera::default();
        for spec in SPECS {
            let entry = &entries[&(spec.section.to_string(), spec.key.to_string())];
            let name = format!("{}.{}", spec.section, spec.key);
            check_values(&file, &name, spec, entry)?;
            tera.add_raw_template(&name, &entry.text).map_err(|e| {
                let (detail, offset) = match e.kind() {
                    tera::ErrorKind::SyntaxError(report) => (
                        tera_message(report.message()),
                        Some(report.span().range.start),
                    ),
                    other => (tera_message(&other.to_string()), None),
                };
                WordingError::BadPlaceholder {
                    file: file.clone(),
                    line: entry.line + offset.map_or(0, |o| line_at(&entry.text, o) - 1),
                    key: name.clone(),
                    detail,
                }
            })?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                origin: file,
                entries,
                tera,
            }),
        })
    }

    /// Where this wording came from: the office's file or the built-in one.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// A sentence as the file has it (Tera tags and all), for the DOCX templates.
    pub fn text(&self, section: &str, key: &str) -> &str {
        self.inner
            .entries
            .get(&(section.to_string(), key.to_string()))
            .map_or("", |e| e.text.as_str())
    }

    /// Puts the rendered sentences of `kind` into its data: `wording.<key>` for a document's
    /// sentences, `<item>.wording.<key>` for an item's (a program's heading).
    pub fn apply(
        &self,
        kind: DocumentKind,
        data: &mut serde_json::Value,
    ) -> Result<(), WordingError> {
        let section = section_of(kind);
        let snapshot = data.clone();
        let context = Context::from_serialize(&snapshot).map_err(|e| {
            self.render_error(&format!("{section}.mo_dau"), first_line(&e.to_string()))
        })?;
        let mut own = serde_json::Map::new();
        for spec in SPECS.iter().filter(|s| s.section == section) {
            let name = format!("{section}.{}", spec.key);
            match spec.item {
                None => {
                    let text = match spec.when.map(|w| lookup(&snapshot, w)) {
                        Some(None) => serde_json::Value::Null,
                        _ => self.render(&name, &context)?.into(),
                    };
                    own.insert(spec.key.to_string(), text);
                }
                Some((path, var)) => {
                    let segments: Vec<&str> = path.split('.').collect();
                    let mut failed = None;
                    each_item(data, &segments, &mut |item| {
                        if failed.is_some() {
                            return;
                        }
                        let item_data = serde_json::json!({ var: &*item });
                        let text = match spec.when.map(|w| lookup(&item_data, w)) {
                            Some(None) => serde_json::Value::Null,
                            _ => {
                                let mut with_item = context.clone();
                                with_item.insert(var, &item_data[var]);
                                match self.render(&name, &with_item) {
                                    Ok(text) => text.into(),
                                    Err(e) => {
                                        failed = Some(e);
                                        return;
                                    }
                                }
                            }
                        };
                        if let Some(item) = item.as_object_mut() {
                            let wording = item
                                .entry("wording")
                                .or_insert_with(|| serde_json::json!({}));
                            if let Some(wording) = wording.as_object_mut() {
                                wording.insert(spec.key.to_string(), text);
                            }
                        }
                    });
                    if let Some(e) = failed {
                        return Err(e);
                    }
                }
            }
        }
        if let Some(object) = data.as_object_mut() {
            object.insert("wording".into(), serde_json::Value::Object(own));
        }
        Ok(())
    }

    fn render(&self, name: &str, context: &Context) -> Result<String, WordingError> {
        self.inner.tera.render(name, context).map_err(|e| {
            let detail = match e.kind() {
                tera::ErrorKind::RenderingError(report) => tera_message(report.message()),
                other => tera_message(&other.to_string()),
            };
            self.render_error(name, &detail)
        })
    }

    fn render_error(&self, name: &str, detail: &str) -> WordingError {
        let line = name
            .split_once('.')
            .and_then(|(s, k)| self.inner.entries.get(&(s.to_string(), k.to_string())))
            .map_or(1, |e| e.line);
        WordingError::Render {
            file: self.inner.origin.clone(),
            line,
            key: name.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Calls `f` on each item of the array at `path` ("*" steps into every element of an array on
/// the way: "notice.assignments.*.tasks").
fn each_item(
    value: &mut serde_json::Value,
    path: &[&str],
    f: &mut dyn FnMut(&mut serde_json::Value),
) {
    match path.split_first() {
        None => {
            if let Some(items) = value.as_array_mut() {
                items.iter_mut().for_each(f);
            }
        }
        Some((&"*", rest)) => {
            if let Some(items) = value.as_array_mut() {
                for item in items {
                    each_item(item, rest, f);
                }
            }
        }
        Some((field, rest)) => {
            if let Some(child) = value.get_mut(*field) {
                each_item(child, rest, f);
            }
        }
    }
}

/// Every value a sentence reads must be one its document (and item) has: a misspelt name would
/// otherwise print nothing in an official letter.
fn check_values(file: &str, name: &str, spec: &Spec, entry: &Entry) -> Result<(), WordingError> {
    let mut allowed: Vec<&str> = COMMON_VALUES.to_vec();
    allowed.extend(section_values(spec.section));
    if let Some((path, _)) = spec.item {
        allowed.extend(item_values(path));
    }
    for (offset, tag) in tags(&entry.text) {
        for path in super::docx::tag_paths(tag) {
            let known = allowed
                .iter()
                .any(|a| *a == path || a.starts_with(&format!("{path}.")));
            if !known {
                return Err(WordingError::UnknownValue {
                    file: file.to_string(),
                    line: entry.line + line_at(&entry.text, offset) - 1,
                    key: name.to_string(),
                    value: path,
                    allowed: allowed.join(", "),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_section_and_every_section_is_a_kinds() {
        for kind in DocumentKind::ALL {
            assert!(
                SPECS.iter().any(|s| s.section == section_of(kind)),
                "{kind:?}: no sentence in [{}]",
                section_of(kind)
            );
        }
        for spec in SPECS {
            assert!(
                DocumentKind::ALL
                    .iter()
                    .any(|k| section_of(*k) == spec.section),
                "[{}] belongs to no kind",
                spec.section
            );
        }
        let text = format!("{BUILTIN}\n[bien_ban]\nx = \"y\"\n");
        let line = text[..text.find("[bien_ban]").unwrap()]
            .matches('\n')
            .count()
            + 1;
        let message = Wording::parse("loi-van.toml", &text)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            format!(
                "loi-van.toml, dòng {line}: mục lạ [bien_ban]; tệp lời văn chỉ có [bao_cao], \
                 [thong_bao], [cong_van]"
            )
        );
    }

    fn replaced(from: &str, to: &str) -> String {
        assert!(BUILTIN.contains(from), "{from}");
        BUILTIN.replacen(from, to, 1)
    }

    fn error(text: &str) -> String {
        Wording::parse("loi-van.toml", text)
            .unwrap_err()
            .to_string()
    }

    fn line_of(needle: &str) -> usize {
        line_at(BUILTIN, BUILTIN.find(needle).unwrap())
    }

    #[test]
    fn the_builtin_wording_has_every_key() {
        let w = Wording::builtin();
        for spec in SPECS {
            assert!(!w.text(spec.section, spec.key).is_empty(), "{}", spec.key);
        }
        assert_eq!(
            w.text("cong_van", "ket_thuc"),
            "Yêu cầu {{ letter.unit.name }} nghiêm túc triển khai thực hiện./."
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = replaced("muc_de_xuat =", "muc_de_xuatt =");
        let message = error(&text);
        let line = line_of("muc_de_xuat =");
        assert!(
            message.starts_with(&format!(
                "loi-van.toml, dòng {line}: khóa lạ «muc_de_xuatt»"
            )),
            "{message}"
        );
    }

    #[test]
    fn a_missing_key_is_named_with_its_section() {
        let start = BUILTIN.find("\nket_luan =").unwrap() + 1;
        let end = start + BUILTIN[start..].find('\n').unwrap() + 1;
        let text = format!("{}{}", &BUILTIN[..start], &BUILTIN[end..]);
        let message = error(&text);
        let line = line_of("[thong_bao]");
        assert_eq!(
            message,
            format!(
                "loi-van.toml, dòng {line}: [thong_bao] thiếu khóa «ket_luan» (xem bản có sẵn: \
                 vanban templates export)"
            )
        );
    }

    #[test]
    fn a_misspelt_value_and_a_broken_tag_are_refused_with_their_line() {
        let text = replaced(
            "{{ letter.unit.name }} nghiêm",
            "{{ letter.unit.nam }} nghiêm",
        );
        let message = error(&text);
        let line = line_of("Yêu cầu {{");
        assert!(
            message.starts_with(&format!(
                "loi-van.toml, dòng {line}: «cong_van.ket_thuc» dùng giá trị «letter.unit.nam»"
            )),
            "{message}"
        );
        // A value of another document: the letter has no report.
        let text = replaced(
            "{{ letter.unit.name }} nghiêm",
            "{{ report.funds_note }} nghiêm",
        );
        assert!(error(&text).contains("«report.funds_note»"));
        // An item's value outside its item.
        let text = replaced("{{ issuer.short }}./.", "{{ p.name }}./.");
        assert!(error(&text).contains("«p.name»"));

        // An `if` never closed.
        let text = replaced(
            "{% endif %}{{ issuer.short }} báo cáo",
            "{{ issuer.short }} báo cáo",
        );
        let message = error(&text);
        let line = line_of("mo_dau = \"{% if basis");
        assert!(
            message.starts_with(&format!(
                "loi-van.toml, dòng {line}: «bao_cao.mo_dau»: chỗ điền sai: câu hết mà thẻ \
                 {{% if %}} hay {{% for %}} chưa đóng"
            )),
            "{message}"
        );
        let text = replaced("next_label | upper", "next_label | hoa");
        assert!(
            error(&text).contains("«bao_cao.muc_nhiem_vu»: chỗ điền sai: bộ lọc lạ «hoa»"),
            "{}",
            error(&text)
        );
    }

    #[test]
    fn an_unknown_section_and_a_number_are_refused() {
        let message = error(&format!("{BUILTIN}\n[bao_cao_2]\nmo_dau = \"x\"\n"));
        assert!(message.contains("mục lạ [bao_cao_2]"), "{message}");
        let text = replaced("muc_ket_qua = \"KẾT QUẢ THỰC HIỆN\"", "muc_ket_qua = 2");
        let line = line_of("muc_ket_qua =");
        assert!(
            error(&text).starts_with(&format!(
                "loi-van.toml, dòng {line}: «bao_cao.muc_ket_qua» phải"
            )),
            "{}",
            error(&text)
        );
        let message = error("[bao_cao]\nmo_dau = \"x");
        assert!(
            message.starts_with("loi-van.toml, dòng 2: tệp lời văn không đọc được"),
            "{message}"
        );
    }

    #[test]
    fn sentences_are_rendered_into_the_data_and_items() {
        let w = Wording::builtin();
        let mut data = serde_json::json!({
            "basis": null,
            "issuer": {"short": "UBND huyện"},
            "period": {"review": "sơ kết", "label": "6 tháng đầu năm 2024",
                       "next_label": "6 tháng cuối năm 2024"},
            "report": {"funds": null, "programs": [
                {"no": "1", "name": "A", "budget": null},
                {"no": "2", "name": "B", "budget": {"allocated": {"text": "10"},
                    "disbursed": null, "rate": null}}
            ]}
        });
        w.apply(DocumentKind::ReviewReport, &mut data).unwrap();
        assert_eq!(
            data["wording"]["mo_dau"],
            "UBND huyện báo cáo kết quả sơ kết 6 tháng đầu năm 2024 thực hiện các Chương trình \
             mục tiêu quốc gia; nhiệm vụ, giải pháp trọng tâm 6 tháng cuối năm 2024 như sau:"
        );
        assert_eq!(
            data["wording"]["muc_nhiem_vu"],
            "NHIỆM VỤ, GIẢI PHÁP TRỌNG TÂM 6 THÁNG CUỐI NĂM 2024"
        );
        assert!(data["wording"]["nguon_von"].is_null());
        let programs = &data["report"]["programs"];
        assert_eq!(programs[0]["wording"]["muc_chuong_trinh"], "Chương trình A");
        assert!(programs[0]["wording"]["von_chuong_trinh"].is_null());
        assert_eq!(
            programs[1]["wording"]["von_chuong_trinh"],
            "Vốn được giao 10 triệu đồng."
        );
    }
}
