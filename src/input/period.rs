//! Reads the period file (the half-year figures and the meeting's conclusions) into the model,
//! checking every rule of DESIGN.md "Input files" and reporting all problems at once.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{Datelike, NaiveDate};

use super::reader::{Reader, Table};
use super::tree::Node;
use crate::model::{
    AttachedFile, Budget, Committee, Conclusions, Directory, DocumentSettings, Documents, Half,
    Indicator, Issuer, KINDS, KindSpec, LetterSettings, Meeting, Period, Person, Program,
    ReportText, Signer, Task,
};

const TOP_KEYS: &[&str] = &[
    "period",
    "issuer",
    "committee",
    "meeting",
    "documents",
    "report",
    "conclusions",
    "programs",
    "tasks",
];

/// Reads a whole period file. `today` is the default issue date (in Asia/Ho_Chi_Minh).
pub fn read_period(
    r: &mut Reader<'_>,
    root: &Node,
    directory: &Directory,
    today: NaiveDate,
) -> Option<Period> {
    let top = r.table(root, "", TOP_KEYS)?;

    let (year, half) = read_period_table(r, &top);
    let issuer = top
        .required(r, "issuer")
        .and_then(|n| read_issuer(r, n, "issuer", None));
    let committee = top
        .required(r, "committee")
        .and_then(|n| read_committee(r, n));
    let (meeting_date, meeting) = match top.required(r, "meeting") {
        Some(n) => read_meeting(r, n, committee.as_ref(), year),
        None => (None, None),
    };
    let documents = top
        .required(r, "documents")
        .and_then(|n| read_documents(r, n, issuer.as_ref(), directory, today, meeting_date, year));
    let report = match top.get("report") {
        Some(n) => read_report(r, n),
        None => Some(ReportText::default()),
    };
    let conclusions = match top.get("conclusions") {
        Some(n) => read_conclusions(r, n),
        None => Some(Conclusions::default()),
    };
    let programs = read_programs(r, &top);
    // Due dates are checked against the meeting even when another meeting key is wrong.
    let tasks = read_tasks(r, &top, directory, meeting_date);

    Some(Period {
        year: year?,
        half: half?,
        issuer: issuer?,
        committee: committee?,
        meeting: meeting?,
        documents: documents?,
        report: report?,
        conclusions: conclusions?,
        programs,
        tasks,
        directory: directory.clone(),
    })
}

fn read_period_table(r: &mut Reader<'_>, top: &Table<'_>) -> (Option<i32>, Option<Half>) {
    let Some(t) = top
        .required(r, "period")
        .and_then(|n| r.table(n, "period", &["year", "half"]))
    else {
        return (None, None);
    };
    let year = t.integer(r, "year").and_then(|y| {
        if (2000..=2100).contains(&y) {
            Some(y as i32)
        } else {
            let span = t.get("year").map(|n| n.span.clone()).unwrap_or_default();
            r.report(
                &span,
                "period.year",
                format!("năm {y} không hợp lệ (cần từ 2000 đến 2100)"),
            );
            None
        }
    });
    let half = t.integer(r, "half").and_then(|h| match h {
        1 => Some(Half::First),
        2 => Some(Half::Whole),
        _ => {
            let span = t.get("half").map(|n| n.span.clone()).unwrap_or_default();
            r.report(
                &span,
                "period.half",
                format!("phải là 1 (6 tháng đầu năm) hoặc 2 (cả năm), không phải {h}"),
            );
            None
        }
    });
    (year, half)
}

/// Abbreviates the leading "Ủy ban nhân dân" the way body text names a committee.
fn default_short_name(name: &str) -> String {
    for long in ["Ủy ban nhân dân", "Uỷ ban nhân dân", "ỦY BAN NHÂN DÂN"] {
        if let Some(rest) = name.strip_prefix(long) {
            return format!("UBND{rest}");
        }
    }
    name.to_string()
}

fn read_issuer(
    r: &mut Reader<'_>,
    node: &Node,
    path: &str,
    parent_default: Option<&Issuer>,
) -> Option<Issuer> {
    let t = r.table(
        node,
        path,
        &["id", "name", "abbr", "parent", "place", "short", "header"],
    )?;
    let id = t.opt_string(r, "id");
    if let Some(id) = &id
        && !is_issuer_id(id)
    {
        let span = t.get("id").map(|n| n.span.clone()).unwrap_or_default();
        r.report(
            &span,
            &t.key_path("id"),
            format!("mã \"{id}\" chỉ được gồm chữ thường không dấu, số, '-' và '_'"),
        );
    }
    let name = t.string(r, "name");
    let abbr = t.string(r, "abbr");
    if let Some(a) = &abbr {
        let span = t.get("abbr").map(|n| n.span.clone()).unwrap_or_default();
        if !is_symbol_part(a) {
            r.report(
                &span,
                &t.key_path("abbr"),
                format!("chữ viết tắt \"{a}\" chỉ được gồm chữ và số (ví dụ UBND, VP)"),
            );
        } else if has_lowercase(a) {
            r.report(&span, &t.key_path("abbr"), lowercase_symbol(a, "UBND, VP"));
        }
    }
    let parent = t
        .opt_string(r, "parent")
        .or_else(|| parent_default.map(|p| p.name.clone()));
    // A sub-issuer (e.g. the Office) shares the parent's place unless it says otherwise.
    let place = match parent_default {
        Some(p) => t.opt_string(r, "place").or_else(|| Some(p.place.clone())),
        None => t.string(r, "place"),
    };
    if let Some(place) = &place {
        check_place(r, &t, place);
    }
    let short = t.opt_string(r, "short");
    let header: Vec<String> = t
        .strings(r, "header", false)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let name = name?;
    let (abbr, place) = (abbr?, place?);
    Some(Issuer {
        id: id.unwrap_or_else(|| default_issuer_id(&abbr, &place)),
        short: short.unwrap_or_else(|| default_short_name(&name)),
        header: if header.is_empty() {
            vec![name.clone()]
        } else {
            header
        },
        name,
        abbr,
        parent,
        place,
    })
}

/// Where the built-in templates set the place and date line: the right cell of the header, at
/// 13 pt italic. A long place narrows the left column (render/context.rs `wide_date`,
/// templates/typst/nd30.typ `columns: (34%, 1fr)`), leaving the line 105 mm in the PDF and
/// 101 mm inside the DOCX cell's margins (render/docx/builtin.rs `HEAD_LEFT_WIDE`); the
/// narrower decides. A line wider than this wraps, and the page check refuses it.
const DATE_LINE_WIDTH_PT: f64 = 101.0 / 25.4 * 72.0;
const DATE_LINE_SIZE_PT: f64 = 13.0;

/// The date line's place, as the page check (render::page_check) will want it: every syllable
/// capitalised after the kind of unit ("Thành phố Hồ Chí Minh"), short enough for one line.
fn check_place(r: &mut Reader<'_>, t: &Table<'_>, place: &str) {
    let span = t
        .get("place")
        .map_or_else(|| t.span.clone(), |n| n.span.clone());
    let name = ["Thành phố ", "Thị xã ", "Thị trấn "]
        .iter()
        .find_map(|prefix| place.strip_prefix(prefix))
        .unwrap_or(place);
    if name.split_whitespace().any(|w| {
        !w.chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
    }) {
        r.report(
            &span,
            &t.key_path("place"),
            format!(
                "địa danh \"{place}\" phải viết hoa chữ đầu mỗi âm tiết (ví dụ \"Đầm Hà\", \"Thành phố Hồ Chí Minh\")"
            ),
        );
    }
    // The widest date the line can carry: day 28, month 12.
    let line = format!("{place}, ngày 28 tháng 12 năm 2024");
    let width = super::text::italic_width_pt(&line, DATE_LINE_SIZE_PT);
    if width > DATE_LINE_WIDTH_PT {
        r.report(
            &span,
            &t.key_path("place"),
            format!(
                "địa danh \"{place}\" quá dài: dòng \"{place}, ngày … tháng … năm …\" không vừa một dòng dưới Quốc hiệu (rộng {:.0} mm, chỗ có {:.0} mm); ghi tên đơn vị hành chính nơi cơ quan đóng trụ sở, không ghi cấp hành chính (ví dụ \"Đầm Hà\")",
                width / 72.0 * 25.4,
                DATE_LINE_WIDTH_PT / 72.0 * 25.4
            ),
        );
    }
}

/// An `issuer.id`: lower-case ASCII letters, digits, '-' and '_'; or the key vanban derives
/// when a file gives none ("ubnd/đầm hà", see [`default_issuer_id`]), written out so that an
/// office that changes its place keeps the issuer its period was issued under (a new key would
/// number and send every document a second time).
fn is_issuer_id(id: &str) -> bool {
    let plain = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    let derived = id.split_once('/').is_some_and(|(abbr, place)| {
        !abbr.trim().is_empty()
            && !place.trim().is_empty()
            && !place.contains('/')
            && id.chars().all(|c| !c.is_control())
            && default_issuer_id(abbr, place) == id
    });
    plain || derived
}

/// "ubnd/đầm hà": what identifies an issuer when the file gives no `id` (names get re-spelt,
/// "Ủy"/"Uỷ"; the symbol and the seat do not).
fn default_issuer_id(abbr: &str, place: &str) -> String {
    let part = |s: &str| {
        crate::vi::nfc(&s.split_whitespace().collect::<Vec<_>>().join(" ")).to_lowercase()
    };
    format!("{}/{}", part(abbr), part(place))
}

fn read_person(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<Person> {
    let t = r.table(node, path, &["name", "title"])?;
    let name = t.string(r, "name");
    let title = t.string(r, "title");
    Some(Person {
        name: name?,
        title: title?,
    })
}

fn read_committee(r: &mut Reader<'_>, node: &Node) -> Option<Committee> {
    let t = r.table(node, "committee", &["name", "head"])?;
    let name = t.string(r, "name");
    let head = t
        .required(r, "head")
        .and_then(|n| read_person(r, n, "committee.head"));
    Some(Committee {
        name: name?,
        head: head?,
    })
}

/// The meeting's date (if readable) and the whole meeting (if every key is right), so due dates
/// are checked against the meeting even when another meeting key is wrong.
fn read_meeting(
    r: &mut Reader<'_>,
    node: &Node,
    committee: Option<&Committee>,
    year: Option<i32>,
) -> (Option<NaiveDate>, Option<Meeting>) {
    let Some(t) = r.table(
        node,
        "meeting",
        &[
            "date",
            "place",
            "chair",
            "attendees",
            "speakers",
            "reported_by",
        ],
    ) else {
        return (None, None);
    };
    let date = t.date(r, "date");
    if let (Some(date), Some(year)) = (date, year)
        && date.year() > year + 1
    {
        let span = t.get("date").map(|n| n.span.clone()).unwrap_or_default();
        r.report(
            &span,
            "meeting.date",
            format!(
                "ngày họp {} quá xa kỳ báo cáo năm {year} (cần trong năm {year} hoặc tháng đầu năm {})",
                date.format("%d/%m/%Y"),
                year + 1
            ),
        );
    }
    if let (Some(date), Some(year)) = (date, year)
        && date.year() < year
    {
        let span = t.get("date").map(|n| n.span.clone()).unwrap_or_default();
        r.report(
            &span,
            "meeting.date",
            format!(
                "ngày họp {} trước khi kỳ báo cáo năm {year} bắt đầu",
                date.format("%d/%m/%Y")
            ),
        );
    }
    let chair = match t.get("chair") {
        Some(n) => read_person(r, n, "meeting.chair"),
        None => committee.map(|c| c.head.clone()),
    };
    let speakers = t
        .list(r, "speakers", false)
        .into_iter()
        .filter_map(|(path, n)| read_person(r, n, &path))
        .collect();
    let meeting = Meeting {
        place: t.opt_string(r, "place"),
        attendees: t.opt_string(r, "attendees"),
        reported_by: t.opt_string(r, "reported_by"),
        date: match date {
            Some(d) => d,
            None => return (None, None),
        },
        chair: match chair {
            Some(c) => c,
            None => return (date, None),
        },
        speakers,
    };
    (date, Some(meeting))
}

fn read_signer(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<Signer> {
    let t = r.table(node, path, &["authority", "title", "name"])?;
    let authority = t.opt_string(r, "authority");
    let title = t.string(r, "title");
    let name = t.string(r, "name");
    Some(Signer {
        authority,
        title: title?,
        name: name?,
    })
}

const SETTINGS_KEYS: &[&str] = &[
    "issuer",
    "number",
    "signer",
    "excerpt",
    "cc",
    "filing",
    "attachments",
];

/// An attachment larger than this is refused: it goes by email to every recipient.
const ATTACHMENT_MAX_BYTES: usize = 20 << 20;

/// The attachments a document's settings list (`attachments = ["phu-luc.pdf"]`, paths relative
/// to the period file's folder), each read and checked to be a PDF that can be signed: present,
/// readable, not encrypted, with pages, not too large, no two with one name.
fn read_attachments(r: &mut Reader<'_>, t: &Table<'_>) -> Vec<AttachedFile> {
    let base = std::path::Path::new(&r.source.name)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let path_name = t.key_path("attachments");
    let mut files: Vec<AttachedFile> = Vec::new();
    for (given, span) in t.strings(r, "attachments", false) {
        match read_attachment(&base, &given, &files) {
            Ok(file) => files.push(file),
            Err(message) => r.report(&span, &path_name, message),
        }
    }
    let total: usize = files.iter().map(|f| f.bytes.len()).sum();
    if total > ATTACHMENT_MAX_BYTES {
        let span = t
            .get("attachments")
            .map(|n| n.span.clone())
            .unwrap_or_default();
        r.report(
            &span,
            &path_name,
            format!(
                "các tệp kèm theo của văn bản này cộng lại {} MB, quá giới hạn {} MB gửi kèm \
                 một thư",
                total >> 20,
                ATTACHMENT_MAX_BYTES >> 20
            ),
        );
    }
    files
}

/// The longest attachment file name: it goes after the document's own name in the file vanban
/// files and sends ("… - Kèm theo 1 - <tên>.pdf"), which must stay within a file system's 255.
const ATTACHMENT_MAX_NAME: usize = 80;

/// One attachment `given` (a path from the period file's folder `base`), read and checked; the
/// message says what is wrong. Only a plain relative path inside that folder is followed: a
/// period file uploaded on the web page must not reach other files of the server.
fn read_attachment(
    base: &std::path::Path,
    given: &str,
    earlier: &[AttachedFile],
) -> Result<AttachedFile, String> {
    use std::io::Read;
    use std::path::Component;
    let relative = std::path::Path::new(given);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
        || given.contains('\\')
    {
        return Err(format!(
            "tệp kèm theo «{given}»: chỉ ghi đường dẫn trong thư mục của tệp kỳ báo cáo (không \
             bắt đầu bằng /, không có ..)"
        ));
    }
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.to_lowercase().ends_with(".pdf") {
        return Err(format!(
            "tệp kèm theo «{given}» phải là tệp PDF (.pdf): chữ ký số của cơ quan được ký trên \
             chính tệp PDF"
        ));
    }
    if name.chars().count() > ATTACHMENT_MAX_NAME {
        return Err(format!(
            "tên tệp kèm theo «{name}» dài {} ký tự, quá {ATTACHMENT_MAX_NAME}: hãy đặt tên ngắn hơn",
            name.chars().count()
        ));
    }
    if earlier.iter().any(|f| f.name == name) {
        return Err(format!(
            "hai tệp kèm theo cùng tên «{name}»: người nhận không phân biệt được"
        ));
    }
    let unreadable = |e: &std::io::Error| {
        format!(
            "không đọc được tệp kèm theo «{given}» (đường dẫn tính từ thư mục của tệp kỳ báo \
             cáo): {}",
            crate::vi::errors::io_error(e)
        )
    };
    // The path as the file system resolves it: a symbolic link inside the folder (the file's
    // own, or a folder's on the way) can point anywhere, and a plain relative path does not
    // stop it. Only a file whose real path is inside the folder's real path is read, and it
    // is read through that real path.
    let folder = if base.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        base
    };
    let folder = folder.canonicalize().map_err(|e| unreadable(&e))?;
    let path = folder
        .join(relative)
        .canonicalize()
        .map_err(|e| unreadable(&e))?;
    if !path.starts_with(&folder) {
        return Err(format!(
            "tệp kèm theo «{given}» là liên kết tượng trưng (hoặc nằm trong thư mục liên kết) dẫn \
             ra ngoài thư mục của tệp kỳ báo cáo: chỉ gửi kèm tệp nằm thật trong thư mục đó; hãy \
             chép tệp vào thư mục này thay cho liên kết"
        ));
    }
    // The size from the file system first, and never more than the limit read: a device or a
    // pipe named .pdf neither fills the memory nor blocks.
    let metadata = std::fs::metadata(&path).map_err(|e| unreadable(&e))?;
    if !metadata.is_file() {
        return Err(format!("tệp kèm theo «{given}» không phải một tệp thường"));
    }
    let too_large = |size: u64| {
        format!(
            "tệp kèm theo «{given}» lớn {} MB, quá giới hạn {} MB cho một tệp gửi kèm thư",
            size >> 20,
            ATTACHMENT_MAX_BYTES >> 20
        )
    };
    if metadata.len() > ATTACHMENT_MAX_BYTES as u64 {
        return Err(too_large(metadata.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| {
            f.take(ATTACHMENT_MAX_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| unreadable(&e))?;
    if bytes.len() > ATTACHMENT_MAX_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    if let Some(why) = attachment_problem(&bytes) {
        return Err(format!("tệp kèm theo «{given}» {why}"));
    }
    Ok(AttachedFile {
        name,
        bytes: bytes.into(),
    })
}

/// Why `bytes` is not a PDF vanban can sign and send, if it is not.
fn attachment_problem(bytes: &[u8]) -> Option<&'static str> {
    if !bytes.starts_with(b"%PDF-") {
        return Some("không phải tệp PDF (không bắt đầu bằng %PDF-)");
    }
    let Ok(doc) = lopdf::Document::load_mem(bytes) else {
        return Some("là tệp PDF hỏng (không đọc được cấu trúc tệp)");
    };
    if doc.trailer.get(b"Encrypt").is_ok() {
        return Some("có mật khẩu (mã hóa): không ký số được; hãy lưu lại bản không mật khẩu");
    }
    if doc.get_pages().is_empty() {
        return Some("không có trang nào");
    }
    None
}

fn read_settings(
    r: &mut Reader<'_>,
    t: &Table<'_>,
    issuer: Option<&Issuer>,
    default_filing: &str,
) -> Option<DocumentSettings> {
    let own_issuer = match t.get("issuer") {
        Some(n) => Some(read_issuer(r, n, &t.key_path("issuer"), issuer)?),
        None => None,
    };
    let number = t.opt_integer(r, "number").and_then(|n| {
        if (1..=99_999).contains(&n) {
            Some(n as u32)
        } else {
            let span = t.get("number").map(|n| n.span.clone()).unwrap_or_default();
            r.report(
                &span,
                &t.key_path("number"),
                format!("số văn bản {n} không hợp lệ (số thứ tự bắt đầu từ 1)"),
            );
            None
        }
    });
    let signer = t
        .required(r, "signer")
        .and_then(|n| read_signer(r, n, &t.key_path("signer")));
    Some(DocumentSettings {
        issuer: own_issuer,
        number,
        excerpt: t.opt_string(r, "excerpt"),
        cc: t
            .strings(r, "cc", false)
            .into_iter()
            .map(|(s, _)| s)
            .collect(),
        filing: t
            .opt_string(r, "filing")
            .unwrap_or_else(|| default_filing.to_string()),
        attachments: read_attachments(r, t),
        signer: signer?,
        issued_on: None,
        letter: None,
    })
}

fn read_documents(
    r: &mut Reader<'_>,
    node: &Node,
    issuer: Option<&Issuer>,
    directory: &Directory,
    today: NaiveDate,
    meeting: Option<NaiveDate>,
    year: Option<i32>,
) -> Option<Documents> {
    let mut keys = vec!["date", "basis"];
    keys.extend(KINDS.iter().map(|k| k.settings_key));
    let t = r.table(node, "documents", &keys)?;
    let given = t.opt_date(r, "date");
    if let Some(date) = given {
        let span = t.get("date").map(|n| n.span.clone()).unwrap_or_default();
        // A year-end review is issued in January of the next year at the latest.
        if let Some(year) = year
            && !(year..=year + 1).contains(&date.year())
        {
            r.report(
                &span,
                "documents.date",
                format!(
                    "ngày ban hành {} không thuộc kỳ báo cáo năm {year} (cần trong năm {year} hoặc {})",
                    date.format("%d/%m/%Y"),
                    year + 1
                ),
            );
        } else if let Some(meeting) = meeting
            && date < meeting
        {
            r.report(
                &span,
                "documents.date",
                format!(
                    "ngày ban hành {} trước ngày họp {}: thông báo kết luận và công văn ban hành sau cuộc họp",
                    date.format("%d/%m/%Y"),
                    meeting.format("%d/%m/%Y")
                ),
            );
        }
    }
    let date = given.unwrap_or(today);
    let basis = t.opt_string(r, "basis");

    let mut kinds = Vec::with_capacity(KINDS.len());
    for spec in &KINDS {
        let path = format!("documents.{}", spec.settings_key);
        let mut known = SETTINGS_KEYS.to_vec();
        if spec.type_abbr.is_none() {
            known.extend(LETTER_KEYS);
        }
        kinds.push(
            t.required(r, spec.settings_key)
                .and_then(|n| r.table(n, &path, &known))
                .and_then(|s| read_kind(r, &s, spec, issuer, directory, meeting)),
        );
    }
    let kinds: Vec<DocumentSettings> = kinds.into_iter().collect::<Option<_>>()?;
    Some(Documents::new(date, basis, kinds.try_into().ok()?))
}

/// The keys of a công văn's settings besides [`SETTINGS_KEYS`].
const LETTER_KEYS: [&str; 4] = ["unit_abbr", "report_via", "report_due", "report_due_units"];

/// One kind's settings: those of every document, and a công văn's own.
fn read_kind(
    r: &mut Reader<'_>,
    s: &Table<'_>,
    spec: &KindSpec,
    issuer: Option<&Issuer>,
    directory: &Directory,
    meeting: Option<NaiveDate>,
) -> Option<DocumentSettings> {
    if spec.type_abbr.is_some() {
        return read_settings(r, s, issuer, "TH");
    }
    let unit_abbr = s.string(r, "unit_abbr");
    if let Some(abbr) = &unit_abbr {
        let span = s
            .get("unit_abbr")
            .map(|n| n.span.clone())
            .unwrap_or_default();
        if !is_symbol_part(abbr) {
            r.report(
                &span,
                &s.key_path("unit_abbr"),
                format!("chữ viết tắt \"{abbr}\" chỉ được gồm chữ và số (ví dụ NLN, KT, VX)"),
            );
        } else if has_lowercase(abbr) {
            r.report(
                &span,
                &s.key_path("unit_abbr"),
                lowercase_symbol(abbr, "NLN, KT, VX"),
            );
        }
    }
    // Each letter to a unit is its own document with its own number (Decree 30 art. 15): one
    // number for all of them would repeat it.
    if spec.kind.per_unit()
        && let Some(node) = s.get("number")
    {
        r.report(
            &node.span,
            &s.key_path("number"),
            format!(
                "mỗi {} có số riêng; không ghi một số chung cho mọi đơn vị (số do sổ đăng ký cấp khi gửi)",
                crate::vi::lower_first(spec.names.half_year)
            ),
        );
    }
    let report_via = s.opt_string(r, "report_via");
    if let Some(via) = &report_via
        && directory.unit(via).is_none()
    {
        let span = s
            .get("report_via")
            .map(|n| n.span.clone())
            .unwrap_or_default();
        r.report(
            &span,
            &s.key_path("report_via"),
            unknown_id_message(via, directory, false),
        );
    }
    let report_due = s.opt_date(r, "report_due");
    if let (Some(due), Some(meeting)) = (report_due, meeting)
        && due < meeting
    {
        let span = s
            .get("report_due")
            .map(|n| n.span.clone())
            .unwrap_or_default();
        r.report(
            &span,
            &s.key_path("report_due"),
            format!(
                "hạn báo cáo {} trước ngày họp {}",
                due.format("%d/%m/%Y"),
                meeting.format("%d/%m/%Y")
            ),
        );
    }
    // report_due_units = { pnn = 2024-07-10, ... }: a deadline per unit.
    let mut report_due_units = Vec::new();
    if let Some(node) = s.get("report_due_units") {
        // Any unit id is a key here: the table's own keys are the known ones.
        let ids: Vec<String> = match &node.value {
            super::tree::Value::Table(entries) => {
                entries.iter().map(|(k, _)| k.name.clone()).collect()
            }
            _ => Vec::new(),
        };
        let known: Vec<&str> = ids.iter().map(String::as_str).collect();
        let units = r.table(node, &s.key_path("report_due_units"), &known);
        for id in units.iter().flat_map(|_| ids.iter().cloned()) {
            let Some(units) = &units else { break };
            let path = units.key_path(&id);
            let span = units.get(&id).map(|n| n.span.clone()).unwrap_or_default();
            if directory.unit(&id).is_none() {
                r.report(&span, &path, unknown_id_message(&id, directory, false));
            }
            if let Some(due) = units.opt_date(r, &id) {
                if let Some(meeting) = meeting
                    && due < meeting
                {
                    r.report(
                        &span,
                        &path,
                        format!(
                            "hạn báo cáo {} trước ngày họp {}",
                            due.format("%d/%m/%Y"),
                            meeting.format("%d/%m/%Y")
                        ),
                    );
                }
                report_due_units.push((id, due));
            }
        }
    }
    let settings = read_settings(r, s, issuer, unit_abbr.as_deref().unwrap_or("VP"))?;
    Some(DocumentSettings {
        letter: Some(LetterSettings {
            unit_abbr: unit_abbr?,
            report_via,
            report_due,
            report_due_units,
        }),
        ..settings
    })
}

fn read_report(r: &mut Reader<'_>, node: &Node) -> Option<ReportText> {
    let t = r.table(
        node,
        "report",
        &[
            "leadership",
            "achievements",
            "shortcomings",
            "next_tasks",
            "proposals",
        ],
    )?;
    let mut list = |key: &str| -> Vec<String> {
        t.strings(r, key, false)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    };
    Some(ReportText {
        leadership: list("leadership"),
        achievements: list("achievements"),
        shortcomings: list("shortcomings"),
        next_tasks: list("next_tasks"),
        proposals: list("proposals"),
    })
}

fn read_conclusions(r: &mut Reader<'_>, node: &Node) -> Option<Conclusions> {
    let t = r.table(node, "conclusions", &["assessment", "directions"])?;
    let mut list = |key: &str| -> Vec<String> {
        t.strings(r, key, false)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    };
    Some(Conclusions {
        assessment: list("assessment"),
        directions: list("directions"),
    })
}

/// A part of a document symbol ("UBND", "NLN", "HĐND"): letters and digits only, since "/" and
/// "-" separate the parts.
fn is_symbol_part(abbr: &str) -> bool {
    abbr.chars().all(|c| c.is_alphanumeric() || c == '&')
}

/// The symbol ("05/TB-UBND") is written in capitals (Decree 30, Phụ lục I): a lower-case
/// letter in an abbreviation passes as text but the page check would refuse the document.
fn has_lowercase(abbr: &str) -> bool {
    abbr.chars().any(char::is_lowercase)
}

fn lowercase_symbol(abbr: &str, examples: &str) -> String {
    format!(
        "chữ viết tắt \"{abbr}\" đứng trong ký hiệu văn bản nên phải viết in hoa: \"{}\" \
         (ví dụ {examples})",
        abbr.to_uppercase()
    )
}

/// Money above this (million VND, i.e. 10 million billion đồng) is a typing error.
const MAX_MONEY: f64 = 1e10;

/// A figure that must not be negative.
fn non_negative(r: &mut Reader<'_>, t: &Table<'_>, key: &str, value: Option<f64>) -> Option<f64> {
    let v = value?;
    if v < 0.0 {
        let span = t.get(key).map(|n| n.span.clone()).unwrap_or_default();
        r.report(&span, &t.key_path(key), format!("không được là số âm ({v}); ghi số giảm bằng số dương và nói rõ \"giảm\" trong tên chỉ tiêu"));
        return None;
    }
    Some(v)
}

/// Money within what any budget can hold (see MAX_MONEY).
fn not_absurd(r: &mut Reader<'_>, t: &Table<'_>, key: &str, value: Option<f64>) -> Option<f64> {
    let v = value?;
    if v > MAX_MONEY {
        let span = t.get(key).map(|n| n.span.clone()).unwrap_or_default();
        r.report(&span, &t.key_path(key), format!("số tiền {v} triệu đồng quá lớn (tối đa 10.000.000.000 triệu đồng); kiểm tra lại đơn vị tính (triệu đồng)"));
        return None;
    }
    Some(v)
}

fn read_programs(r: &mut Reader<'_>, top: &Table<'_>) -> Vec<Program> {
    let mut programs = Vec::new();
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    for (path, node) in top.list(r, "programs", true) {
        let Some(t) = r.table(
            node,
            &path,
            &["id", "name", "budget", "indicators", "results"],
        ) else {
            continue;
        };
        let id = t.string(r, "id");
        if let Some(id) = &id {
            let span = t.get("id").map(|n| n.span.clone()).unwrap_or_default();
            if seen.contains_key(id) {
                r.report(
                    &span,
                    &t.key_path("id"),
                    format!("mã chương trình \"{id}\" bị trùng"),
                );
            }
            seen.insert(id.clone(), span);
        }
        let name = t.string(r, "name");
        let budget = t
            .get("budget")
            .and_then(|n| read_budget(r, n, &t.key_path("budget")));
        let indicators = t
            .list(r, "indicators", false)
            .into_iter()
            .filter_map(|(path, n)| read_indicator(r, n, &path))
            .collect();
        let results = t
            .strings(r, "results", false)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        if let (Some(id), Some(name)) = (id, name) {
            programs.push(Program {
                id,
                name,
                budget,
                indicators,
                results,
            });
        }
    }
    programs
}

fn read_budget(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<Budget> {
    let t = r.table(node, path, &["allocated", "disbursed"])?;
    let allocated = t.money(r, "allocated");
    let allocated = non_negative(r, &t, "allocated", allocated);
    let allocated = not_absurd(r, &t, "allocated", allocated);
    let disbursed = t.opt_money(r, "disbursed");
    let disbursed = non_negative(r, &t, "disbursed", disbursed);
    let disbursed = not_absurd(r, &t, "disbursed", disbursed);
    if let (Some(a), Some(d)) = (allocated, disbursed)
        && d > a
    {
        let span = t
            .get("disbursed")
            .map(|n| n.span.clone())
            .unwrap_or_default();
        r.report(
            &span,
            &t.key_path("disbursed"),
            format!("vốn giải ngân ({d}) lớn hơn vốn được giao ({a})"),
        );
        return None;
    }
    if allocated == Some(0.0) && disbursed.is_some() {
        r.report(
            &t.span,
            &t.key_path("allocated"),
            "vốn được giao bằng 0 thì không tính được tỷ lệ giải ngân",
        );
        return None;
    }
    Some(Budget {
        allocated: allocated?,
        disbursed,
    })
}

fn read_indicator(r: &mut Reader<'_>, node: &Node, path: &str) -> Option<Indicator> {
    let t = r.table(
        node,
        path,
        &["name", "unit", "value", "plan", "share_of", "decimals"],
    )?;
    let name = t.string(r, "name");
    let unit = t.string(r, "unit");
    let value = t.number(r, "value");
    let value = non_negative(r, &t, "value", value);
    let mut ratio_base = |key: &str, what: &str| -> Option<f64> {
        let v = t.opt_number(r, key);
        let v = non_negative(r, &t, key, v)?;
        if v == 0.0 {
            let span = t.get(key).map(|n| n.span.clone()).unwrap_or_default();
            r.report(
                &span,
                &t.key_path(key),
                format!("{what} bằng 0 nên không tính được tỷ lệ phần trăm"),
            );
            return None;
        }
        Some(v)
    };
    let plan = ratio_base("plan", "kế hoạch");
    let share_of = ratio_base("share_of", "tổng số để tính tỷ lệ");
    let decimals = t.opt_integer(r, "decimals").and_then(|d| {
        if (0..=4).contains(&d) {
            Some(d as u32)
        } else {
            let span = t
                .get("decimals")
                .map(|n| n.span.clone())
                .unwrap_or_default();
            r.report(
                &span,
                &t.key_path("decimals"),
                "số chữ số thập phân phải từ 0 đến 4",
            );
            None
        }
    });
    Some(Indicator {
        name: name?,
        unit: unit?,
        value: value?,
        plan,
        share_of,
        decimals,
    })
}

fn unknown_id_message(id: &str, directory: &Directory, groups_allowed: bool) -> String {
    let mut candidates: Vec<&str> = directory.units.iter().map(|u| u.id.as_str()).collect();
    if groups_allowed {
        candidates.extend(directory.groups.iter().map(|g| g.id.as_str()));
    }
    let what = if groups_allowed {
        "đơn vị hay nhóm"
    } else {
        "đơn vị"
    };
    match super::diagnostics::did_you_mean(id, candidates.iter().copied()) {
        Some(close) => {
            format!("không có {what} nào mã \"{id}\" trong danh bạ (có phải là \"{close}\"?)")
        }
        None => format!("không có {what} nào mã \"{id}\" trong danh bạ"),
    }
}

fn read_tasks(
    r: &mut Reader<'_>,
    top: &Table<'_>,
    directory: &Directory,
    meeting: Option<NaiveDate>,
) -> Vec<Task> {
    let mut tasks = Vec::new();
    for (path, node) in top.list(r, "tasks", true) {
        let Some(t) = r.table(node, &path, &["to", "with", "text", "due", "report_due"]) else {
            continue;
        };
        let mut ids = |key: &str, required: bool| -> Vec<String> {
            let list = t.strings(r, key, required);
            if required && list.is_empty() && t.get(key).is_some() {
                let span = t.get(key).map(|n| n.span.clone()).unwrap_or_default();
                r.report(&span, &t.key_path(key), "phải nêu ít nhất một đơn vị");
            }
            for (id, span) in &list {
                if directory.unit(id).is_none() && directory.group(id).is_none() {
                    r.report(
                        span,
                        &t.key_path(key),
                        unknown_id_message(id, directory, true),
                    );
                }
            }
            list.into_iter().map(|(s, _)| s).collect()
        };
        let to = ids("to", true);
        let with = ids("with", false);
        // A unit named twice, or both leading and coordinating, makes the task's wording wrong
        // ("Ban QLDA ... phối hợp với Ban QLDA").
        let mut seen: Vec<&str> = Vec::new();
        let mut leads: Vec<&str> = Vec::new();
        for (key, ids) in [("to", &to), ("with", &with)] {
            for id in ids.iter() {
                let units: Vec<&str> = match directory.group(id) {
                    Some(group) => group.members.iter().map(String::as_str).collect(),
                    None => vec![id.as_str()],
                };
                let span = t.get(key).map(|n| n.span.clone()).unwrap_or_default();
                if seen.contains(&id.as_str()) {
                    r.report(
                        &span,
                        &t.key_path(key),
                        format!("mã \"{id}\" được nêu hai lần trong nhiệm vụ này"),
                    );
                } else if key == "with"
                    && let Some(unit) = units.iter().find(|u| leads.contains(u))
                {
                    r.report(
                        &span,
                        &t.key_path(key),
                        format!("đơn vị \"{unit}\" vừa chủ trì (to) vừa phối hợp (with) trong nhiệm vụ này"),
                    );
                }
                if key == "to" {
                    leads.extend(units);
                }
                seen.push(id);
            }
        }
        let text = t.string(r, "text");
        let due = t.opt_date(r, "due");
        if let (Some(due), Some(meeting)) = (due, meeting)
            && due < meeting
        {
            let span = t.get("due").map(|n| n.span.clone()).unwrap_or_default();
            r.report(
                &span,
                &t.key_path("due"),
                format!(
                    "hạn hoàn thành {} trước ngày họp {}",
                    due.format("%d/%m/%Y"),
                    meeting.format("%d/%m/%Y")
                ),
            );
        }
        let report_due = t.opt_date(r, "report_due");
        if let (Some(due), Some(meeting)) = (report_due, meeting)
            && due < meeting
        {
            let span = t
                .get("report_due")
                .map(|n| n.span.clone())
                .unwrap_or_default();
            r.report(
                &span,
                &t.key_path("report_due"),
                format!(
                    "hạn báo cáo {} trước ngày họp {}",
                    due.format("%d/%m/%Y"),
                    meeting.format("%d/%m/%Y")
                ),
            );
        }
        if let Some(text) = text
            && !to.is_empty()
        {
            tasks.push(Task {
                to,
                with,
                text,
                due,
                report_due,
            });
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzer: `abbr = "rUBND"` passed check, then the page check refused the
    /// rendered "Số: …/BC-rUBND". The symbol is capitals, so check says so with the line.
    #[test]
    fn a_lower_case_letter_in_a_symbol_is_refused_at_check() {
        let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let text = std::fs::read_to_string(samples.join("dam-ha-2024-h1.toml")).unwrap();
        assert!(text.contains("abbr = \"UBND\""));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ky.toml");
        std::fs::write(
            &path,
            text.replacen("abbr = \"UBND\"", "abbr = \"UBnD\"", 1),
        )
        .unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
        let problems =
            crate::input::load_period(&path, Some(&samples.join("directory.toml")), today)
                .unwrap_err()
                .to_string();
        assert!(problems.contains("issuer.abbr"), "{problems}");
        assert!(
            problems.contains("phải viết in hoa: \"UBND\""),
            "{problems}"
        );
        assert!(problems.contains("ky.toml:12:"), "{problems}");
    }

    #[test]
    fn an_issuer_is_identified_by_symbol_and_seat_unless_given_an_id() {
        assert_eq!(default_issuer_id("UBND", "Đầm  Hà"), "ubnd/đầm hà");
        // The derived key may be written as `issuer.id`, exactly as derived.
        assert!(is_issuer_id("ubnd/đầm hà") && is_issuer_id("ubnd-dam-ha"));
        for bad in [
            "",
            "UBND/Đầm Hà",
            "ubnd/đầm  hà",
            "ubnd/",
            "/đầm hà",
            "a/b/c",
            "DamHa",
        ] {
            assert!(!is_issuer_id(bad), "{bad:?}");
        }
        assert_eq!(
            default_issuer_id("UBND", "Đa\u{0300}m Hà"),
            default_issuer_id("ubnd", "Đàm Hà")
        );
    }

    #[test]
    fn short_name_abbreviates_the_committee_only() {
        assert_eq!(
            default_short_name("Ủy ban nhân dân huyện Đầm Hà"),
            "UBND huyện Đầm Hà"
        );
        assert_eq!(
            default_short_name("Ủy ban nhân dân xã Quảng Tân"),
            "UBND xã Quảng Tân"
        );
        assert_eq!(
            default_short_name("Văn phòng HĐND và UBND"),
            "Văn phòng HĐND và UBND"
        );
    }
}
