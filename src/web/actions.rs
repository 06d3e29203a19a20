//! The work behind the page's forms and views, run on blocking threads: accept an upload and
//! check it exactly as `vanban check` does, render drafts and their page thumbnails, read a
//! period's documents and deliveries, and send through the same `send_period` as the CLI.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::auth::random_token;
use super::drafts;
use super::sessions::SignedIn;
use super::store::Upload;
use super::{App, WebError};
use crate::clock::VIETNAM;
use crate::deliver::email::templates::title_of;
use crate::deliver::ledger::{AttemptOutcome, DeliveryState};
use crate::deliver::status::{Step, check_drafts, period_status};
use crate::deliver::submit;
use crate::input;
use crate::issue::approval::{self, ApprovalError, Decision};
use crate::issue::copies;
use crate::issue::filing::{DocId, IssueEnv};
use crate::issue::register::document_key;
use crate::model::{DocumentKind, Period};
use crate::render::{self, PlannedDocument};
use crate::state::Store;
use crate::workflow::send::{self, DeliverError, SendEnv, SendOptions};

/// Thumbnail resolution: an A4 page (595 pt wide) becomes 446 px, legible when enlarged on a
/// phone and small enough (about 60 KB) to list every page.
const THUMBNAIL_PIXELS_PER_PT: f64 = 0.75;

/// The file types a period may be uploaded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UploadKind {
    Toml,
    Json,
    /// The office's Excel form, read by the same `input::load_period` as `vanban check`.
    Xlsx,
}

impl UploadKind {
    fn extension(self) -> &'static str {
        match self {
            UploadKind::Toml => "toml",
            UploadKind::Json => "json",
            UploadKind::Xlsx => "xlsx",
        }
    }
}

/// Checks a client's file name: it is only ever shown, never used as a path, but a name that
/// tries to leave its folder says the client is not a browser uploading a file, so it is
/// refused outright.
fn upload_kind(name: &str) -> Result<UploadKind, WebError> {
    let bad = name.is_empty()
        || name.chars().count() > 200
        || name.contains(['/', '\\', '\0'])
        || name.contains("..")
        || name.chars().any(char::is_control);
    if bad {
        return Err(WebError::BadRequest(format!(
            "Tên tệp \"{}\" không hợp lệ: tên tệp không được chứa thư mục, \"..\" hay ký tự điều khiển.",
            name.chars().filter(|c| !c.is_control()).collect::<String>()
        )));
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "toml" => Ok(UploadKind::Toml),
        "json" => Ok(UploadKind::Json),
        "xlsx" => Ok(UploadKind::Xlsx),
        // The Excel 97–2003 format is not the form vanban exports.
        "xls" => Err(WebError::BadRequest(format!(
            "Tệp \"{name}\" là bảng tính Excel cũ (.xls); hãy lưu lại dưới dạng .xlsx (Excel 2007 trở lên) rồi tải lên."
        ))),
        _ => Err(WebError::BadRequest(format!(
            "Tệp \"{name}\" không phải .toml, .json hay .xlsx; chỉ nhận ba loại tệp này."
        ))),
    }
}

/// A period key as the page uses it in URLs: "2024-h1".
pub fn valid_period_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == 7
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && &bytes[4..6] == b"-h"
        && matches!(bytes[6], b'1' | b'2')
}

/// A document's file stem or file name as rendered ("03-cong-van-bqlda", "…​.pdf"): lower-case
/// letters, digits, '-', '_' (unit ids may hold one), and one extension; never a path.
pub fn valid_file_part(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 120
        && !text.starts_with(['.', '-'])
        && !text.contains("..")
        && text.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_'
        })
}

/// The most attachments one upload may carry.
pub const MAX_ATTACHMENTS: usize = 50;

/// Why an attachment's file name, as the browser sent it, cannot be stored: it must be a plain
/// PDF file name (the period file's `attachments` name it), never a path.
fn attachment_name_problem(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name.chars().count() <= 80
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control);
    if !plain {
        return Some(format!(
            "Tên tệp kèm theo \"{name}\" không dùng được: cần một tên tệp (không có / hay \\, \
             không bắt đầu bằng dấu chấm, tối đa 80 ký tự)."
        ));
    }
    if !name.to_lowercase().ends_with(".pdf") {
        return Some(format!("Tệp kèm theo \"{name}\" phải là tệp PDF (.pdf)."));
    }
    None
}

/// Stores an uploaded period file under a name vanban makes, checks it, and records both. With
/// `attachments` (PDF files its `attachments` name), the period file and they go into a folder
/// of their own, so the period file finds them beside it as on the clerk's computer.
pub fn accept_upload(
    app: &App,
    who: &SignedIn,
    original_name: &str,
    bytes: &[u8],
    attachments: &[(String, Vec<u8>)],
) -> Result<Upload, WebError> {
    let kind = upload_kind(original_name)?;
    let limit_kb = app.config.web.upload_limit_kb;
    if bytes.len() as u64 > limit_kb * 1024 {
        return Err(WebError::TooLarge { limit_kb });
    }
    let attachments_kb = app.config.web.attachments_limit_kb;
    let total: usize = attachments.iter().map(|(_, b)| b.len()).sum();
    if total as u64 > attachments_kb * 1024 {
        return Err(WebError::TooLarge {
            limit_kb: attachments_kb,
        });
    }
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(WebError::BadRequest(format!(
            "Tối đa {MAX_ATTACHMENTS} tệp kèm theo một lần tải lên."
        )));
    }
    // In NFC, as the period file's names are read (a name typed on a Mac arrives decomposed).
    let attachments: Vec<(String, &[u8])> = attachments
        .iter()
        .map(|(name, bytes)| {
            let name: String =
                unicode_normalization::UnicodeNormalization::nfc(name.as_str()).collect();
            (name, &bytes[..])
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (name, _) in &attachments {
        if let Some(problem) = attachment_name_problem(name) {
            return Err(WebError::BadRequest(problem));
        }
        if !seen.insert(name.clone()) {
            return Err(WebError::BadRequest(format!(
                "Hai tệp kèm theo cùng tên \"{name}\"."
            )));
        }
    }
    match kind {
        // Measured before it is stored or calamine inflates a byte of it.
        UploadKind::Xlsx => {
            crate::input::xlsx::guard::check(original_name, bytes, &app.config.limits)?
        }
        UploadKind::Toml | UploadKind::Json => {
            if std::str::from_utf8(bytes).is_err() {
                return Err(WebError::BadRequest(format!(
                    "Tệp \"{original_name}\" không phải văn bản UTF-8."
                )));
            }
        }
    }
    let dir = app.uploads_dir();
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    // Every upload in a folder of its own, created exclusively under an unpredictable name: the
    // period file's attachments are found beside it, and no other upload's files are.
    let token = random_token()?[..32].to_string();
    let folder = dir.join(&token);
    std::fs::create_dir(&folder).map_err(|e| io_error(&folder, e))?;
    let stored_name = format!("{token}/{token}.{}", kind.extension());
    let path = dir.join(&stored_name);
    let stored = (|| {
        for (name, content) in &attachments {
            let path = folder.join(name);
            crate::files::write_new(&path, content).map_err(|e| io_error(&path, e))?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(&path, e))
    })();
    if let Err(error) = stored {
        // Nothing half-stored stays behind.
        let _ = std::fs::remove_dir_all(&folder);
        return Err(error);
    }

    // Exactly what `vanban check <file> --config <this config>` says of the same file: the one
    // check of crate::check, its lines naming the file as the clerk knows it.
    let request = crate::check::Request {
        period: &path,
        directory: app.config.directory.as_deref(),
        config: Some(&app.config),
        templates: None,
        render: false,
        today: app.clock.today_in(VIETNAM),
    };
    let as_named = |text: String| text.replace(&path.display().to_string(), original_name);
    let (period, problems, warnings) = match crate::check::check(&request) {
        Ok(report) => {
            let lines = |items: Vec<String>| as_named(items.join("\n"));
            let mut problems = lines(report.problems.iter().map(ToString::to_string).collect());
            if problems.contains("không đọc được tệp kèm theo") {
                problems.push_str(
                    "\nTrên trang web: chọn các tệp kèm theo ở ô «Tệp kèm theo» khi tải lên tệp \
                     số liệu; trong tệp số liệu chỉ ghi tên tệp, không ghi thư mục.",
                );
            }
            (
                report.period.as_ref().map(Period::key),
                problems,
                lines(report.warnings.iter().map(ToString::to_string).collect()),
            )
        }
        // The check could not run (the office's templates or the state database): the file is
        // not taken as valid, and the page says why as `vanban check` would.
        Err(error) => (None, as_named(format!("Lỗi: {error}")), String::new()),
    };
    let now = app.clock.now();
    let id = app.store.add_upload(
        &who.user.name,
        original_name,
        &stored_name,
        period.as_deref(),
        &problems,
        now,
    )?;
    // The period's file is this one now: the drafts and thumbnails of the previous one are no
    // longer shown (the page renders again from this file).
    if let (Some(key), true) = (&period, problems.is_empty())
        && let Err(e) = drafts::forget(app, key)
    {
        tracing::warn!(error = %e, period = %key, "trang web: không xóa được ảnh xem trước cũ");
    }
    let mut outcome = match (&period, problems.is_empty()) {
        (Some(p), true) => format!("hợp lệ, kỳ {p}"),
        _ => format!("có lỗi ({} dòng)", problems.lines().count()),
    };
    // A warning does not fail the file (a new issuer may be meant); it is kept in the record.
    if !warnings.is_empty() {
        tracing::warn!("{original_name}: {warnings}");
        outcome.push_str(&format!("; {warnings}"));
    }
    app.store.audit(
        &who.user.name,
        &who.ip,
        "tải lên",
        &format!("{original_name} → {stored_name}: {outcome}"),
        now,
    )?;
    Ok(Upload {
        id,
        at: super::store::time_text(now),
        username: who.user.name.clone(),
        original_name: original_name.to_string(),
        stored_name,
        period,
        problems,
    })
}

fn io_error(path: &Path, e: std::io::Error) -> WebError {
    WebError::Internal(format!(
        "Không ghi hoặc đọc được {}: {}",
        path.display(),
        crate::vi::errors::io_error(&e)
    ))
}

/// The current file of a period and the period read from it.
pub fn load(app: &App, key: &str) -> Result<(Upload, PathBuf, Period), WebError> {
    if !valid_period_key(key) {
        return Err(WebError::NotFound);
    }
    let upload = app.store.current_upload(key)?.ok_or(WebError::NotFound)?;
    let path = app.uploads_dir().join(&upload.stored_name);
    let today = app.clock.today_in(VIETNAM);
    // Valid when uploaded; the directory may have changed since.
    let period =
        input::load_period(&path, app.config.directory.as_deref(), today).map_err(|problems| {
            WebError::BadRequest(format!(
                "Tệp kỳ {key} không còn hợp lệ:\n{}",
                problems
                    .to_string()
                    .replace(&path.display().to_string(), &upload.original_name)
            ))
        })?;
    Ok((upload, path, period))
}

pub fn drafts_dir(app: &App, key: &str) -> PathBuf {
    app.config.output_dir.join(key)
}

fn thumbnail_path(app: &App, key: &str, stem: &str, page: usize) -> PathBuf {
    app.previews_dir()
        .join(key)
        .join(format!("{stem}-{page}.png"))
}

/// Renders every draft (PDF and DOCX, to the output folder as `vanban render` does) and each
/// page's thumbnail, and records what the page now shows: the upload they come from, each
/// draft's content hash as approval computes it, and each file's hash. Returns a line for the
/// page.
pub fn render_drafts(app: &App, who: &SignedIn, key: &str) -> Result<String, WebError> {
    let (upload, _, period) = load(app, key)?;
    let documents = render::plan(&period, None, &|_, _| None);
    let dir = drafts_dir(app, key);
    let written = render::render_to_dir(
        &documents,
        &app.backends.renderers(),
        &dir,
        render::default_threads(),
    )
    .map_err(|e| WebError::BadRequest(format!("Không tạo được bản nháp: {e}")))?;
    let previews = app.previews_dir().join(key);
    // Old thumbnails go first: a document that lost a page must not keep showing it.
    if let Err(e) = std::fs::remove_dir_all(&previews)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(io_error(&previews, e));
    }
    std::fs::create_dir_all(&previews).map_err(|e| io_error(&previews, e))?;
    for document in &documents {
        let pages = app
            .previews
            .pages(document, THUMBNAIL_PIXELS_PER_PT)
            .map_err(|e| WebError::BadRequest(e.to_string()))?;
        for (i, png) in pages.iter().enumerate() {
            let path = thumbnail_path(app, key, &document.file_stem, i + 1);
            std::fs::write(&path, png).map_err(|e| io_error(&path, e))?;
        }
    }
    // The approver's decision is checked against these hashes: they are computed exactly as
    // `approve` computes them, from the same period as the files just written.
    let ids: Vec<DocId> = documents.iter().map(doc_id).collect();
    let store =
        Store::open_state(&app.config.state).map_err(|e| WebError::Internal(e.to_string()))?;
    let renderers = app.backends.renderers();
    let env = issue_env(app, &store, &renderers);
    let contents: BTreeMap<DocId, String> = approval::drafts(&env, &period, &ids)
        .map_err(|e| match e {
            ApprovalError::Store(e) => WebError::Internal(e.to_string()),
            other => WebError::BadRequest(format!("Không tạo được bản nháp: {other}")),
        })?
        .into_iter()
        .map(|d| (d.id, d.content_sha256))
        .collect();
    let mut shown = drafts::Shown {
        upload_id: upload.id,
        documents: BTreeMap::new(),
    };
    for document in &documents {
        let Some(content_sha256) = contents.get(&doc_id(document)) else {
            continue;
        };
        let mut files = BTreeMap::new();
        for path in &written {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let own = name
                .rsplit_once('.')
                .is_some_and(|(stem, _)| stem == document.file_stem);
            if own {
                let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
                files.insert(name.to_string(), crate::issue::filing::sha256_hex(&bytes));
            }
        }
        shown.documents.insert(
            document.file_stem.clone(),
            drafts::ShownDocument {
                content_sha256: content_sha256.clone(),
                files,
            },
        );
    }
    drafts::record(app, key, &shown)?;
    let line = format!(
        "Đã tạo {} tệp bản nháp trong {}.",
        written.len(),
        dir.display()
    );
    app.store.audit(
        &who.user.name,
        &who.ip,
        "tạo bản nháp",
        &format!("kỳ {key}: {} tệp", written.len()),
        app.clock.now(),
    )?;
    Ok(line)
}

fn doc_id(document: &PlannedDocument) -> DocId {
    DocId {
        kind: document.kind,
        unit: document.unit.clone(),
    }
}

/// What issuing needs, for the page's dry runs: no signing (drafts are never signed).
fn issue_env<'a>(
    app: &'a App,
    store: &'a Store,
    renderers: &'a [&'a dyn render::Renderer],
) -> IssueEnv<'a> {
    IssueEnv {
        store,
        clock: &*app.clock,
        numbering: app.config.numbering,
        renderers,
        signing: None,
    }
}

/// One document's row on the period page.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub stem: String,
    pub title: String,
    pub unit_name: Option<String>,
    /// none | draft | waiting | approved | changed | returned | issued | sent | failed | unknown
    pub step: &'static str,
    pub step_label: &'static str,
    pub number: Option<String>,
    /// Its draft, rendered by the page from the period's current file, can be previewed.
    pub rendered: bool,
    /// Returned by the approver: the reason and who.
    pub returned: Option<String>,
    /// What `vanban status` adds: who approved the earlier content of a changed draft, or that
    /// an issued document's data changed after it was issued.
    pub note: Option<String>,
}

/// One message's row.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub unit: String,
    pub message: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub message_id: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitChoice {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodView {
    pub key: String,
    pub label: String,
    pub documents: Vec<DocumentView>,
    pub deliveries: Vec<DeliveryView>,
    pub units: Vec<UnitChoice>,
    pub upload: Upload,
    /// Drafts rendered from an earlier file of the period are on disk, and not shown.
    pub stale_drafts: bool,
    /// The approve and return forms' `shown` field: the content of each draft as the page shows
    /// it (its preview), or, with no preview, as its latest decision names it (the draft
    /// submitted to the approvers by email, or the one last approved or returned).
    pub shown: String,
}

fn state_slug(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Sending => "sending",
        DeliveryState::Sent => "sent",
        DeliveryState::Failed => "failed",
        DeliveryState::Unknown => "unknown",
    }
}

fn step_label(step: &str) -> &'static str {
    match step {
        "draft" => "bản nháp",
        "waiting" => "chờ duyệt",
        "approved" => "đã duyệt",
        // The words of `vanban status` and `send` (approval::Gate::Changed).
        "changed" => "nội dung đã thay đổi sau khi duyệt",
        "returned" => "bị trả lại",
        "issued" => "đã cấp số",
        "sent" => "đã gửi",
        "failed" => "gửi lỗi",
        "unknown" => "không rõ kết quả gửi",
        _ => "chưa tạo",
    }
}

/// What the ledger and register say of each document and message of a period, with each
/// document's step exactly as `vanban status` names it (drafts of approved and issued documents
/// are rendered again to tell whether they changed since).
pub fn period_view(app: &App, key: &str) -> Result<PeriodView, WebError> {
    let (upload, path, period) = load(app, key)?;
    let store =
        Store::open_state(&app.config.state).map_err(|e| WebError::Internal(e.to_string()))?;
    let today = app.clock.today_in(VIETNAM);
    let status_error = |e: DeliverError| match e {
        DeliverError::Period(p) => WebError::BadRequest(p.to_string()),
        other => WebError::Internal(other.to_string()),
    };
    // This process holds the lock: a "sending" row is really in flight.
    let mut status =
        period_status(&app.config, &store, &path, today, true).map_err(status_error)?;
    {
        let renderers = app.backends.renderers();
        let env = issue_env(app, &store, &renderers);
        check_drafts(&mut status, &env, &app.config, &path, today).map_err(status_error)?;
    }
    let documents = render::plan(&period, None, &|_, _| None);
    let drafts = drafts_dir(app, key);
    let shown = drafts::current(app, key, upload.id);
    let views = documents
        .iter()
        .map(|d| document_view(d, &period, &status, &drafts, shown.as_ref()))
        .collect();
    // Drafts on disk that the page no longer shows: made from an earlier file of the period.
    let stale_drafts = shown.is_none()
        && documents
            .iter()
            .any(|d| drafts.join(format!("{}.pdf", d.file_stem)).is_file());
    let mut hashes = BTreeMap::new();
    for document in &documents {
        let previewed = shown
            .as_ref()
            .and_then(|s| s.documents.get(&document.file_stem))
            .map(|d| d.content_sha256.clone());
        let decided = status
            .documents
            .iter()
            .find(|d| d.id == doc_id(document))
            .and_then(|d| d.decision.as_ref())
            .map(|d| d.content_sha256.clone());
        if let Some(sha) = previewed.or(decided) {
            hashes.insert(document.file_stem.clone(), sha);
        }
    }
    let deliveries = status
        .lines
        .iter()
        .map(|line| {
            let latest = line.record.as_ref().and_then(|r| r.latest());
            let state = line
                .record
                .as_ref()
                .map_or(DeliveryState::Pending, |r| r.state);
            let detail = match latest.map(|a| &a.outcome) {
                Some(AttemptOutcome::Failed { reason, .. }) => reason.clone(),
                _ => String::new(),
            };
            DeliveryView {
                unit: line
                    .unit_name
                    .clone()
                    .unwrap_or_else(|| line.key.recipient.clone()),
                message: line
                    .message
                    .map_or_else(|| line.key.document.clone(), |m| m.label_vi().to_string()),
                state: state_slug(state),
                state_label: state.label_vi(),
                message_id: latest.map(|a| a.message_id.clone()).unwrap_or_default(),
                detail,
            }
        })
        .collect();
    let mut units: Vec<UnitChoice> = Vec::new();
    for line in &status.lines {
        if !units.iter().any(|u| u.id == line.key.recipient) {
            units.push(UnitChoice {
                id: line.key.recipient.clone(),
                name: line
                    .unit_name
                    .clone()
                    .unwrap_or_else(|| line.key.recipient.clone()),
            });
        }
    }
    Ok(PeriodView {
        key: key.to_string(),
        label: status.label.clone(),
        documents: views,
        deliveries,
        units,
        upload,
        stale_drafts,
        shown: drafts::shown_field(&hashes),
    })
}

fn document_view(
    document: &PlannedDocument,
    period: &Period,
    status: &crate::deliver::status::PeriodStatus,
    drafts: &Path,
    shown: Option<&drafts::Shown>,
) -> DocumentView {
    let key = document_key(period.id(), document.kind.slug(), document.unit.as_deref());
    let number = status
        .issued
        .iter()
        .find(|e| e.document_key == key)
        .map(|e| e.number_and_symbol());
    let carried: Vec<DeliveryState> = status
        .lines
        .iter()
        .filter(|l| {
            l.message
                .is_some_and(|m| m.documents().contains(&document.kind))
        })
        .filter(|l| {
            !document.kind.per_unit() || document.unit.as_deref() == Some(l.key.recipient.as_str())
        })
        .map(|l| {
            l.record
                .as_ref()
                .map_or(DeliveryState::Pending, |r| r.state)
        })
        .collect();
    let rendered = shown.is_some_and(|s| s.documents.contains_key(&document.file_stem))
        && drafts.join(format!("{}.pdf", document.file_stem)).is_file();
    let found = status.documents.iter().find(|d| d.id == doc_id(document));
    let step = if carried.contains(&DeliveryState::Failed) {
        "failed"
    } else if carried
        .iter()
        .any(|s| matches!(s, DeliveryState::Unknown | DeliveryState::Sending))
    {
        "unknown"
    } else if !carried.is_empty() && carried.iter().all(|s| *s == DeliveryState::Sent) {
        "sent"
    } else if number.is_some() {
        "issued"
    } else {
        match found.map(|d| &d.step) {
            Some(Step::Waiting) => "waiting",
            Some(Step::Approved { .. }) => "approved",
            Some(Step::Changed { .. }) => "changed",
            Some(Step::Returned { .. }) => "returned",
            _ if rendered => "draft",
            _ => "none",
        }
    };
    let returned = found.and_then(|d| match &d.step {
        Step::Returned { by, reason } => Some(format!("{reason} ({by})")),
        _ => None,
    });
    let note = found.and_then(|d| match (&d.step, &d.changed_after_issue) {
        (Step::Changed { .. }, _) => Some(d.step.label_vi()),
        (_, Some(change)) => Some(change.to_string()),
        _ => None,
    });
    DocumentView {
        stem: document.file_stem.clone(),
        title: title_of(document.kind).to_string(),
        unit_name: document
            .unit
            .as_deref()
            .and_then(|u| period.directory.unit(u))
            .map(|u| u.name.clone()),
        step,
        step_label: step_label(step),
        number,
        rendered,
        returned,
        note,
    }
}

/// The preview page's data: the document's title, how many page thumbnails it has, and where
/// each figure of the period file came from (its line, or its sheet and cell).
pub fn preview(
    app: &App,
    key: &str,
    stem: &str,
) -> Result<(DocumentView, usize, Vec<input::sources::FigureSource>), WebError> {
    if !valid_file_part(stem) {
        return Err(WebError::NotFound);
    }
    let (upload, path, period) = load(app, key)?;
    // Only the kind the stem names is planned: the preview answers without building the
    // contexts of every letter of the period.
    let kind = DocumentKind::from_file_stem(stem).ok_or(WebError::NotFound)?;
    let documents = render::plan(&period, Some(kind), &|_, _| None);
    let document = documents
        .iter()
        .find(|d| d.file_stem == stem)
        .ok_or(WebError::NotFound)?;
    let drafts = drafts_dir(app, key);
    // Only a draft rendered from the period's current file is previewed.
    let rendered = drafts::current(app, key, upload.id)
        .is_some_and(|shown| shown.documents.contains_key(stem))
        && drafts.join(format!("{stem}.pdf")).is_file();
    if !rendered {
        return Err(WebError::BadRequest(
            "Văn bản này chưa có bản nháp từ tệp kỳ hiện tại (tệp kỳ có thể vừa được tải lên lại); \
             hãy bấm \"Tạo bản nháp\" ở trang của kỳ."
                .into(),
        ));
    }
    let pages = (1..)
        .take_while(|n| thumbnail_path(app, key, stem, *n).is_file())
        .count();
    let view = DocumentView {
        stem: stem.to_string(),
        title: title_of(document.kind).to_string(),
        unit_name: document
            .unit
            .as_deref()
            .and_then(|u| period.directory.unit(u))
            .map(|u| u.name.clone()),
        step: "draft",
        step_label: step_label("draft"),
        number: None,
        rendered,
        returned: None,
        note: None,
    };
    // The file parsed a moment ago in `load`, so this cannot fail on syntax; an I/O error in
    // between only leaves the sources out.
    let sources = input::sources::figure_sources(&path, &upload.original_name).unwrap_or_default();
    Ok((view, pages, sources))
}

/// The drafts the page shows for `key`: those rendered from its current upload.
fn current_drafts(app: &App, key: &str) -> Result<drafts::Shown, WebError> {
    let upload = app.store.current_upload(key)?.ok_or(WebError::NotFound)?;
    drafts::current(app, key, upload.id).ok_or(WebError::NotFound)
}

/// A rendered draft's bytes (PDF or DOCX), by file name: only a file the page rendered from the
/// period's current upload, with the bytes it rendered.
pub fn draft_file(app: &App, key: &str, name: &str) -> Result<Vec<u8>, WebError> {
    if !valid_period_key(key) || !valid_file_part(name) {
        return Err(WebError::NotFound);
    }
    let shown = current_drafts(app, key)?;
    let bytes = std::fs::read(drafts_dir(app, key).join(name)).map_err(|_| WebError::NotFound)?;
    match shown.serves(name, &bytes) {
        true => Ok(bytes),
        false => Err(WebError::NotFound),
    }
}

/// A page thumbnail's bytes, of a draft rendered from the period's current upload.
pub fn thumbnail(app: &App, key: &str, stem: &str, page: usize) -> Result<Vec<u8>, WebError> {
    if !valid_period_key(key) || !valid_file_part(stem) {
        return Err(WebError::NotFound);
    }
    if !current_drafts(app, key)?.documents.contains_key(stem) {
        return Err(WebError::NotFound);
    }
    std::fs::read(thumbnail_path(app, key, stem, page)).map_err(|_| WebError::NotFound)
}

/// Makes an electronic copy (sao y) of the issued document whose file stem is `stem`, as
/// `vanban copy` does, in the signed-in clerk's name. Returns the message for the page and, when
/// made, the copy's file name (served under /periods/KEY/copies/). A refusal (not issued, no
/// key, an altered file) is the message itself, in Vietnamese, and nothing is written.
pub fn copy_document(
    app: &App,
    who: &SignedIn,
    key: &str,
    stem: &str,
) -> Result<(String, Option<String>), WebError> {
    if !valid_file_part(stem) {
        return Err(WebError::NotFound);
    }
    let (_, _, period) = load(app, key)?;
    let document = render::plan(&period, None, &|_, _| None)
        .into_iter()
        .find(|d| d.file_stem == stem)
        .ok_or(WebError::NotFound)?;
    let store =
        Store::open_state(&app.config.state).map_err(|e| WebError::Internal(e.to_string()))?;
    let request = copies::CopyRequest {
        kind: document.kind,
        unit: document.unit.as_deref(),
        made_by: &who.user.name,
        out: None,
    };
    let made = copies::make_copy(
        &store,
        &*app.clock,
        &period,
        app.config.signing.as_ref(),
        &drafts_dir(app, key),
        &request,
    );
    let (message, file, detail) = match made {
        Ok(made) => {
            let file = made
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            let message = format!(
                "Đã sao y {} số {}: chữ ký số của {} ({}), lúc {}; đã ghi sổ bản sao.",
                made.document,
                made.number,
                made.body,
                made.subject,
                crate::clock::local_time(made.at)
            );
            let detail = format!("kỳ {key}, văn bản số {}", made.number);
            (message, file, detail)
        }
        Err(error) => {
            let detail = format!("kỳ {key}, {stem}: không làm được ({error})");
            (error.to_string(), None, detail)
        }
    };
    app.store
        .audit(&who.user.name, &who.ip, "sao y", &detail, app.clock.now())?;
    Ok((message, file))
}

/// A copy's bytes, by its file name in the period's copies folder.
pub fn copy_file(app: &App, key: &str, name: &str) -> Result<Vec<u8>, WebError> {
    if !valid_period_key(key) || !valid_file_part(name) || !name.ends_with(".pdf") {
        return Err(WebError::NotFound);
    }
    std::fs::read(copies::copies_dir(&drafts_dir(app, key)).join(name))
        .map_err(|_| WebError::NotFound)
}

/// Issues, renders and sends the period's messages (or one unit's again, with a reason), as
/// `vanban send` does. Returns the report the CLI would print.
pub fn send_period(
    app: &App,
    who: &SignedIn,
    key: &str,
    resend: Option<(String, String)>,
) -> Result<String, WebError> {
    let (_, path, _) = load(app, key)?;
    if let Some((unit, reason)) = &resend
        && (unit.trim().is_empty() || reason.trim().chars().count() < 5)
    {
        return Err(WebError::BadRequest(
            "Gửi lại cần chọn đơn vị và ghi lý do (ít nhất 5 ký tự).".into(),
        ));
    }
    let _one_at_a_time = app.sending.lock().unwrap_or_else(|e| e.into_inner());
    let store =
        Store::open_state(&app.config.state).map_err(|e| WebError::Internal(e.to_string()))?;
    let renderers = app.backends.renderers();
    let stop: &crate::shutdown::StopSignal = &app.stop;
    let sleep = |delay: std::time::Duration| stop.wait_timeout(delay);
    let env = SendEnv {
        config: &app.config,
        store: &store,
        lock: &app.lock,
        clock: &*app.clock,
        renderers: &renderers,
        sleep: &sleep,
    };
    let options = SendOptions {
        dry_run: false,
        resend: resend.as_ref().map(|(unit, _)| unit.clone()),
        only: Vec::new(),
        new_issuer: false,
    };
    let (text, summary) = match send::send_period(&env, &path, &options, stop) {
        Ok(report) => {
            let summary = match report.all_delivered() {
                true => "đã gửi hết".to_string(),
                false => "có thư chưa gửi được".to_string(),
            };
            (report.to_string(), summary)
        }
        Err(DeliverError::Period(problems)) => {
            let text = problems
                .to_string()
                .replace(&path.display().to_string(), key);
            (text, "dữ liệu có lỗi, không gửi".into())
        }
        Err(e) => (e.to_string(), "không gửi".into()),
    };
    let (action, detail) = match &resend {
        Some((unit, reason)) => (
            "gửi lại",
            format!("kỳ {key}, đơn vị {unit}, lý do: {reason}: {summary}"),
        ),
        None => ("gửi", format!("kỳ {key}: {summary}")),
    };
    app.store
        .audit(&who.user.name, &who.ip, action, &detail, app.clock.now())?;
    Ok(text)
}

/// Submits the period's drafts for approval in the clerk's name and mails them to the
/// approvers (`deliver::submit`, as the scheduled render job does); an audit row.
pub fn submit(app: &App, who: &SignedIn, key: &str) -> Result<String, WebError> {
    let (_, _, period) = load(app, key)?;
    let store =
        Store::open_state(&app.config.state).map_err(|e| WebError::Internal(e.to_string()))?;
    let renderers = app.backends.renderers();
    let env = issue_env(app, &store, &renderers);
    let submission = submit::submit_drafts(&app.config, &env, &period, &[], &who.user.name)
        .map_err(|e| match e {
            ApprovalError::Store(e) => WebError::Internal(e.to_string()),
            other => WebError::BadRequest(other.to_string()),
        })?;
    let text = submission.to_string();
    app.store.audit(
        &who.user.name,
        &who.ip,
        "trình duyệt",
        &format!("kỳ {key}: {text}"),
        app.clock.now(),
    )?;
    Ok(text)
}

/// The approver's decision on the period's drafts (all, one kind, or one unit's letter), as
/// `vanban approve`/`vanban return` records it, in the signed-in approver's name; the audit log
/// gets a row. `shown` is the form's record of what the page showed of each draft: a draft that
/// renders otherwise now, or was not shown, is refused ([`WebError::Conflict`]) and nothing is
/// recorded.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    app: &App,
    who: &SignedIn,
    key: &str,
    decision: Decision,
    only: &str,
    unit: &str,
    note: &str,
    shown: &str,
) -> Result<String, WebError> {
    let (_, _, period) = load(app, key)?;
    let shown_stems = drafts::parse_shown_field(shown)?;
    let only: Vec<DocumentKind> = match only.trim() {
        "" => Vec::new(),
        slug => vec![
            DocumentKind::from_slug(slug)
                .ok_or_else(|| WebError::BadRequest(format!("Loại văn bản «{slug}» không có.")))?,
        ],
    };
    let unit = Some(unit.trim()).filter(|u| !u.is_empty());
    let note = Some(note.trim()).filter(|n| !n.is_empty());
    let store =
        Store::open_state(&app.config.state).map_err(|e| WebError::Internal(e.to_string()))?;
    let renderers = app.backends.renderers();
    let env = issue_env(app, &store, &renderers);
    let refused = |e: ApprovalError| match e {
        ApprovalError::Store(e) => WebError::Internal(e.to_string()),
        e @ ApprovalError::NotAsShown { .. } => WebError::Conflict(e.to_string()),
        other => WebError::BadRequest(other.to_string()),
    };
    let shown: BTreeMap<DocId, String> = render::plan(&period, None, &|_, _| None)
        .iter()
        .filter_map(|d| Some((doc_id(d), shown_stems.get(&d.file_stem)?.clone())))
        .collect();
    let ids = approval::select(&period, &only, unit).map_err(refused)?;
    let decided =
        approval::decide_as_shown(&env, &period, &ids, decision, &who.user.name, note, &shown);
    let action = match decision {
        Decision::Returned => "trả lại dự thảo",
        _ => "duyệt dự thảo",
    };
    let reports = match decided {
        Ok(reports) => reports,
        Err(e) => {
            let refusal = refused(e);
            // A decision refused because the content moved under the approver is worth a line
            // in the audit log: someone changed the period after it was shown.
            if let WebError::Conflict(text) = &refusal {
                app.store.audit(
                    &who.user.name,
                    &who.ip,
                    action,
                    &format!("kỳ {key}: không ghi — {text}"),
                    app.clock.now(),
                )?;
            }
            return Err(refusal);
        }
    };
    let lines: Vec<String> = reports.iter().map(ToString::to_string).collect();
    let detail = format!(
        "kỳ {key}: {}{}",
        reports
            .iter()
            .map(|r| approval::document_label(&r.id))
            .collect::<Vec<_>>()
            .join(", "),
        note.map(|n| format!("; {n}")).unwrap_or_default()
    );
    app.store
        .audit(&who.user.name, &who.ip, action, &detail, app.clock.now())?;
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_that_leave_their_folder_are_refused() {
        for bad in [
            "../x.toml",
            "a/b.toml",
            "..\\x.toml",
            "x\0.toml",
            "",
            "x\n.toml",
        ] {
            assert!(upload_kind(bad).is_err(), "{bad:?}");
        }
        assert_eq!(upload_kind("Kỳ 2024 H1.TOML").unwrap(), UploadKind::Toml);
        assert_eq!(upload_kind("Biểu mẫu.XLSX").unwrap(), UploadKind::Xlsx);
        assert!(upload_kind("bang.xls").is_err());
        assert!(upload_kind("run.sh").is_err());
        assert!(valid_period_key("2024-h1") && !valid_period_key("2024-h3"));
        assert!(!valid_period_key("../etc"));
        assert!(valid_file_part("03-cong-van-bqlda.pdf"));
        assert!(!valid_file_part("../x.pdf") && !valid_file_part(".hidden"));
        // A unit id may hold an underscore; a slash or a space never passes.
        assert!(valid_file_part("03-cong-van-ubnd_xa.pdf"));
        assert!(!valid_file_part("a/b.pdf") && !valid_file_part("a b.pdf"));
    }
}
