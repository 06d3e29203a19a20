//! Issuing the period's documents: numbers reserved in the register (a document issued before
//! keeps its number, date and files), the final documents rendered, then filed on disk with
//! their hashes in the register. Between [`prepare`] and [`file()`] lies the seam where approval
//! and signing go: [`make_ready`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::org_stamp;
use super::register::{
    IssueOutcome, IssuedDocument, IssuedFile, Register, RegisterError, document_key,
};
use super::signatures::{self, FileRef, Keys, SignatureRecord, SigningError};
use crate::clock::Clock;
use crate::config::NumberingScheme;
use crate::model::{DocumentKind, Half, Issuer, Period};
use crate::render::pdf::PdfEngine;
use crate::render::{self, PlannedDocument, RenderError, Renderer};
use crate::state::Store;
use crate::vi;

/// What issuing works with.
pub struct IssueEnv<'a> {
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    pub numbering: NumberingScheme,
    /// Every format to render; the kinds sent in all formats (`all_formats` of their entry: the
    /// assignment letters) are rendered in each of them, the others as PDF only (all formats if
    /// there is no "pdf" renderer).
    pub renderers: &'a [&'a dyn Renderer],
    /// Signing on: the keys, opened and checked, and the images the issued pages show.
    pub signing: Option<&'a Keys>,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Register(Box<RegisterError>),
    #[error(transparent)]
    Render(Box<RenderError>),
    #[error(transparent)]
    IssuedChanged(IssuedChanged),
    #[error(transparent)]
    Signing(Box<SigningError>),
    #[error("văn bản kèm theo của văn bản số {document}: {error}")]
    Stamp {
        document: String,
        error: org_stamp::StampError,
    },
    #[error(
        "không gửi thư nào vì tệp văn bản trên đĩa không giống bản sẽ gửi:\n{}",
        .0.iter().map(|p| format!("- {p}")).collect::<Vec<_>>().join("\n")
    )]
    Files(Vec<FileProblem>),
}

impl From<RegisterError> for IssueError {
    fn from(error: RegisterError) -> Self {
        IssueError::Register(Box::new(error))
    }
}

impl From<SigningError> for IssueError {
    fn from(error: SigningError) -> Self {
        IssueError::Signing(Box::new(error))
    }
}

impl From<RenderError> for IssueError {
    fn from(error: RenderError) -> Self {
        IssueError::Render(Box::new(error))
    }
}

/// An issued document, already delivered to some units, whose filed files are gone or altered
/// and whose re-rendering differs: sending it would give two versions of one number.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "văn bản số {number} đã ban hành và đã gửi cho một số đơn vị, nhưng tệp của nó trong {dir} \
     đã mất hoặc bị sửa, và bản dựng lại không giống bản đã gửi (dữ liệu kỳ báo cáo hoặc mẫu \
     đã đổi). Không gửi thư nào, để các đơn vị không nhận hai bản khác nhau của cùng một số \
     văn bản; hãy khôi phục {files} từ bản sao lưu."
)]
pub struct IssuedChanged {
    pub number: String,
    pub dir: PathBuf,
    pub files: String,
}

/// A filed document's file that is not on disk as it was written.
#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    #[error("tệp văn bản {} đã bị thay đổi trong lúc chuẩn bị gửi", .path.display())]
    Changed { path: PathBuf },
    #[error("không có tệp văn bản {} ({error})", .path.display())]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A document of the period: its kind, and for a kind addressed to each unit its addressee.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId {
    pub kind: DocumentKind,
    /// The addressee of a document addressed to one unit (an assignment letter).
    pub unit: Option<String>,
}

impl DocId {
    pub fn register_key(&self, period: &Period) -> String {
        document_key(period.id(), self.kind.slug(), self.unit.as_deref())
    }
}

/// The key an issuer has in the ledger and the register: its `id` (see `model::Issuer::id`),
/// never its display name, whose spelling an office may change ("Ủy ban" / "Uỷ ban") after a
/// send without making it another issuer.
pub fn issuer_key(issuer: &Issuer) -> String {
    issuer.id.clone()
}

/// The ASCII form of an attachment name, the file's name on disk and in the register and the
/// fallback mail clients show: Vietnamese letters lose their diacritics
/// (đ→d, NFD then combining marks dropped), and characters that are unsafe in a quoted MIME
/// parameter or a Windows file name are replaced.
pub fn ascii_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.nfd() {
        match c {
            'đ' => out.push('d'),
            'Đ' => out.push('D'),
            c if is_combining_mark(c) => {}
            c if c.is_whitespace() => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            '/' | '\\' | ':' | '|' => out.push('-'),
            '"' | '<' | '>' | '?' | '*' => out.push('_'),
            c if c.is_ascii_graphic() => out.push(c),
            _ => out.push('_'),
        }
    }
    let trimmed = out.trim_matches(|c: char| c == ' ' || c == '.');
    if trimmed.is_empty() {
        "tep-dinh-kem".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// "02/TB-UBND", or "…/TB-UBND" while the number is not issued.
pub fn number_text(number: Option<u32>, symbol: &str) -> String {
    match number {
        Some(n) => format!("{}/{symbol}", vi::document_number(n)),
        None => format!("…/{symbol}"),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn content_type(extension: &str) -> &'static str {
    match extension {
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
}

/// The Vietnamese attachment name: "02-TB-UBND Thông báo kết luận.pdf"; a draft has no number:
/// "TB-UBND Thông báo kết luận (dự thảo).pdf". Mail clients that ignore RFC 2231 show the
/// ASCII fold, "02-TB-UBND Thong bao ket luan.pdf", which is also the file's name on disk.
/// A letter to one unit carries the unit's short name, so the office's folder tells the
/// letters apart: "07-UBND-NLN Công văn giao nhiệm vụ - UBND xã Quảng Tân.pdf".
pub fn attachment_name(
    kind: DocumentKind,
    half: Half,
    number: Option<u32>,
    symbol: &str,
    unit: Option<&str>,
    extension: &str,
) -> String {
    let title = kind.spec().name(half);
    let title = match unit.map(str::trim).filter(|u| !u.is_empty()) {
        Some(unit) => format!("{title} - {unit}"),
        None => title.to_owned(),
    };
    match number {
        Some(n) => format!("{}-{symbol} {title}.{extension}", vi::document_number(n)),
        None => format!("{symbol} {title} (dự thảo).{extension}"),
    }
}

/// The short name of the unit a document goes to alone (an assignment letter), for its file name.
pub fn unit_short<'p>(period: &'p Period, id: &DocId) -> Option<&'p str> {
    let unit = id.unit.as_deref()?;
    period.directory.unit(unit).map(|u| u.short.as_str())
}

/// One file of a document, in memory.
#[derive(Debug, Clone)]
pub struct DocFile {
    /// The Vietnamese name the recipient sees.
    pub display_name: String,
    /// The ASCII name on disk and in the register.
    pub disk_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    /// A separate-file attachment of the document (`attachments` in the period file), not the
    /// document itself: signed by the organisation only, its stamp naming the document's number.
    pub attachment: bool,
}

/// Marks an attachment's name, after the document's own: "… - Kèm theo 1 - Biểu số liệu.pdf".
const ATTACHMENT_MARK: &str = " - Kèm theo ";

/// The Vietnamese name of the `index`-th (from 1) attachment `name` of the document whose PDF
/// is called `document_pdf`: "02-TB-UBND Thông báo kết luận - Kèm theo 1 - Biểu số liệu.pdf".
pub fn attached_file_name(document_pdf: &str, index: usize, name: &str) -> String {
    let stem = document_pdf.strip_suffix(".pdf").unwrap_or(document_pdf);
    // ".pdf" in any case (the period file's name was checked to end so).
    let own = match name.len().checked_sub(4) {
        Some(at) if name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(".pdf") => {
            &name[..at]
        }
        _ => name,
    };
    format!("{stem}{ATTACHMENT_MARK}{index} - {own}.pdf")
}

/// Whether a filed file's name (on disk, ASCII) is an attachment's ("… - Kem theo 1 - ….pdf"),
/// not the document's own file: the register keeps names and hashes, not roles.
pub fn is_attachment_name(disk_name: &str) -> bool {
    let mark = ascii_file_name(ATTACHMENT_MARK);
    disk_name.match_indices(&mark).any(|(at, _)| {
        let rest = &disk_name[at + mark.len()..];
        let rest = rest.trim_start();
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(" - ")
    })
}

/// The period's attachments of a document, as files named after its PDF (`display_pdf`).
fn attached_files(period: &Period, kind: DocumentKind, display_pdf: &str) -> Vec<DocFile> {
    period
        .settings(kind)
        .attachments
        .iter()
        .zip(attached_names(period, kind, display_pdf))
        .map(|(file, (display_name, disk_name))| DocFile {
            display_name,
            disk_name,
            content_type: "application/pdf",
            bytes: file.bytes.to_vec(),
            attachment: true,
        })
        .collect()
}

/// The (display, disk) names of the period's attachments of a document whose PDF is called
/// `display_pdf`.
fn attached_names(period: &Period, kind: DocumentKind, display_pdf: &str) -> Vec<(String, String)> {
    period
        .settings(kind)
        .attachments
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let display = attached_file_name(display_pdf, i + 1, &file.name);
            let disk = ascii_file_name(&display);
            (display, disk)
        })
        .collect()
}

/// A document with its number (none in a dry run), rendered now or read back as filed: the
/// output of [`prepare`]. Not yet approved or signed.
#[derive(Debug, Clone)]
pub struct NumberedDocument {
    pub planned: PlannedDocument,
    pub number: Option<u32>,
    pub symbol: String,
    /// The issuer's name, as the email shows it.
    pub issuer: String,
    /// The issuer's register key, [`issuer_key`].
    pub issuer_key: String,
    pub files: Vec<DocFile>,
    /// Issued before; its files were attached as filed.
    pub reused: bool,
    /// Register outcome still to record (real runs, rendered now).
    pub to_issue: bool,
}

/// A document as it is filed and attached: the output of [`make_ready`], the input of filing and
/// of the messages. Approval and signing (PAdES) go between the two: they take the numbered
/// documents and hand back ready ones, and nothing after this point changes.
#[derive(Debug, Clone)]
pub struct ReadyDocument {
    pub planned: PlannedDocument,
    pub number: Option<u32>,
    pub symbol: String,
    /// The issuer's name, as the email shows it.
    pub issuer: String,
    /// The issuer's register key, [`issuer_key`].
    pub issuer_key: String,
    pub files: Vec<DocFile>,
    /// Issued before; its files were attached as filed.
    pub reused: bool,
    /// Register outcome still to record (real runs, rendered now).
    pub to_issue: bool,
    /// The signatures added to its PDFs now, recorded when it is filed; empty for a document
    /// filed before (signed then) or sent unsigned.
    pub signatures: Vec<SignatureRecord>,
}

/// The `documents` not issued yet: an issued one is re-sent exactly as filed, so what its
/// templates would render now (signatures, wording) no longer concerns it.
pub fn not_issued(
    store: &Store,
    period: &Period,
    documents: &[DocId],
) -> Result<Vec<DocId>, IssueError> {
    let register = Register::new(store);
    let mut left = Vec::new();
    for id in documents {
        let issuer = issuer_key(period.issuer_of(id.kind));
        if let Some(entry) = register.find_issued(&issuer, &id.register_key(period))?
            && entry.issued.is_some()
        {
            continue;
        }
        left.push(id.clone());
    }
    Ok(left)
}

/// Who must sign the `documents` not issued yet (an issued document is re-sent as filed, signed
/// or not): the names in their signature blocks and the bodies issuing them, for
/// [`signatures::open_keys`] before any number is reserved.
pub fn signers_to_sign(
    store: &Store,
    period: &Period,
    documents: &[DocId],
) -> Result<signatures::ToSign, IssueError> {
    let mut to_sign = signatures::ToSign::default();
    for id in not_issued(store, period, documents)? {
        to_sign.add(
            &period.settings(id.kind).signer.name,
            signatures::IssuingBody::of(period, id.kind),
        );
    }
    Ok(to_sign)
}

/// Numbers (or, in a dry run, drafts) `documents` and returns them rendered, or read back as
/// filed when they were issued before. `delivered` says whether some copy of a message carrying
/// a document may have reached its recipient: such a document can only be sent again exactly
/// as it was issued.
pub fn prepare(
    env: &IssueEnv<'_>,
    period: &Period,
    documents: &[DocId],
    delivered: &dyn Fn(&DocId) -> bool,
    dry_run: bool,
    dir: &Path,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<DocId, NumberedDocument>, IssueError> {
    let register = Register::new(env.store);
    let now = env.clock.now();
    let mut numbers: HashMap<DocId, u32> = HashMap::new();
    let mut dates: HashMap<DocId, NaiveDate> = HashMap::new();
    // Files filed at an earlier issue, when they are still intact.
    let mut filed: HashMap<DocId, Vec<DocFile>> = HashMap::new();
    let mut must_match: HashMap<DocId, Vec<IssuedFile>> = HashMap::new();
    for id in documents {
        let issuer = &issuer_key(period.issuer_of(id.kind));
        let symbol = period.symbol(id.kind);
        if dry_run {
            dates.insert(id.clone(), period.documents.date);
            continue;
        }
        let key = id.register_key(period);
        // Issued before, perhaps last year: keep that year's number (and, below, its date).
        let previous = register.find_issued(issuer, &key)?;
        let year = previous
            .as_ref()
            .map_or(period.documents.date.year(), |entry| entry.year);
        let number = register.reserve(issuer, year, &symbol, env.numbering, &key, now)?;
        numbers.insert(id.clone(), number);
        let issued = previous.and_then(|entry| entry.issued);
        let Some(issued) = issued else {
            dates.insert(id.clone(), period.documents.date);
            continue;
        };
        // An issued document keeps its date and its content: re-sent as filed.
        dates.insert(id.clone(), issued.document.date);
        let mut files = Vec::new();
        let display_pdf = attachment_name(
            id.kind,
            period.half,
            Some(number),
            &symbol,
            unit_short(period, id),
            "pdf",
        );
        // Attachments filed with the document keep the names the period gives them now when
        // they still match; otherwise their ASCII names on disk.
        let attached = attached_names(period, id.kind, &display_pdf);
        for file in &issued.document.files {
            let path = dir.join(&file.name);
            match std::fs::read(&path) {
                Ok(bytes) if sha256_hex(&bytes) == file.sha256 => {
                    let extension = file.name.rsplit('.').next().unwrap_or_default();
                    let is_attachment = is_attachment_name(&file.name);
                    let display_name = if is_attachment {
                        attached
                            .iter()
                            .find(|(_, disk)| *disk == file.name)
                            .map_or_else(|| file.name.clone(), |(display, _)| display.clone())
                    } else {
                        attachment_name(
                            id.kind,
                            period.half,
                            Some(number),
                            &symbol,
                            unit_short(period, id),
                            extension,
                        )
                    };
                    files.push(DocFile {
                        display_name,
                        disk_name: file.name.clone(),
                        content_type: content_type(extension),
                        bytes,
                        attachment: is_attachment,
                    });
                }
                _ => break,
            }
        }
        if files.len() == issued.document.files.len() && !files.is_empty() {
            filed.insert(id.clone(), files);
        } else if delivered(id) {
            must_match.insert(id.clone(), issued.document.files.clone());
        }
    }

    // Contexts for every document (the emails quote them), with the issued numbers and dates;
    // a document citing another (a letter, the notice) cites it by its issued number and its
    // own issue date, which may be earlier than the citing document's.
    let mut planned: BTreeMap<DocId, PlannedDocument> = BTreeMap::new();
    let cited: BTreeSet<DocumentKind> = DocumentKind::ALL
        .into_iter()
        .filter_map(|k| k.spec().cites)
        .collect();
    let cited: Vec<(DocumentKind, Option<u32>, Option<NaiveDate>)> = cited
        .into_iter()
        .map(|kind| {
            let id = DocId { kind, unit: None };
            (kind, numbers.get(&id).copied(), dates.get(&id).copied())
        })
        .collect();
    let distinct_dates: BTreeSet<NaiveDate> = dates.values().copied().collect();
    for date in distinct_dates {
        let mut dated = period.clone();
        dated.documents.date = date;
        for (kind, number, issued_on) in &cited {
            let settings = dated.documents.settings_mut(*kind);
            settings.issued_on = issued_on.or(settings.issued_on);
            if number.is_some() {
                settings.number = *number;
            }
        }
        let number_of = |kind: DocumentKind, unit: Option<&str>| {
            numbers
                .get(&DocId {
                    kind,
                    unit: unit.map(str::to_owned),
                })
                .copied()
        };
        for document in render::plan(&dated, None, &number_of) {
            let id = DocId {
                kind: document.kind,
                unit: document.unit.clone(),
            };
            if dates.get(&id) == Some(&date) {
                planned.insert(id, document);
            }
        }
    }

    // Signing on: the pages about to be issued show the signature and the seal.
    if let (Some(keys), false) = (env.signing, dry_run) {
        for (id, document) in planned.iter_mut() {
            if !filed.contains_key(id) {
                keys.add_images(document, &issuer_key(period.issuer_of(id.kind)));
            }
        }
    }

    // Render what is not filed: the kinds sent in all formats (letters) in each, the rest as PDF.
    let pdf_only: Vec<&dyn Renderer> = {
        let pdf: Vec<&dyn Renderer> = env
            .renderers
            .iter()
            .copied()
            .filter(|r| r.name() == "pdf")
            .collect();
        if pdf.is_empty() {
            env.renderers.to_vec()
        } else {
            pdf
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rendered: HashMap<DocId, Vec<DocFile>> = HashMap::new();
    for all_formats in [true, false] {
        let batch: Vec<PlannedDocument> = planned
            .iter()
            .filter(|(id, _)| !filed.contains_key(*id))
            .filter(|(id, _)| id.kind.spec().all_formats == all_formats)
            .map(|(_, d)| d.clone())
            .collect();
        if batch.is_empty() {
            continue;
        }
        let renderers: &[&dyn Renderer] = if all_formats {
            env.renderers
        } else {
            &pdf_only
        };
        for file in render::render_all(&batch, renderers, threads)? {
            let id = DocId {
                kind: file.kind,
                unit: file.unit.clone(),
            };
            let extension = file.file_name.rsplit('.').next().unwrap_or_default();
            let symbol = period.symbol(id.kind);
            let display_name = attachment_name(
                id.kind,
                period.half,
                numbers.get(&id).copied(),
                &symbol,
                unit_short(period, &id),
                extension,
            );
            rendered.entry(id).or_default().push(DocFile {
                disk_name: ascii_file_name(&display_name),
                display_name,
                content_type: content_type(extension),
                bytes: file.bytes,
                attachment: false,
            });
        }
    }
    // Each rendered document's attachments go after its own files, named after its PDF: in
    // drafts too, so the approval's hash covers them.
    for (id, files) in rendered.iter_mut() {
        let display_pdf = attachment_name(
            id.kind,
            period.half,
            numbers.get(id).copied(),
            &period.symbol(id.kind),
            unit_short(period, id),
            "pdf",
        );
        files.extend(attached_files(period, id.kind, &display_pdf));
    }

    let mut ready = BTreeMap::new();
    for (id, document) in planned {
        let symbol = period.symbol(id.kind);
        let issuer = period.issuer_of(id.kind).name.clone();
        let issuer_key = issuer_key(period.issuer_of(id.kind));
        let number = if dry_run {
            period.settings(id.kind).number
        } else {
            numbers.get(&id).copied()
        };
        let (files, reused) = match filed.remove(&id) {
            Some(files) => (files, true),
            None => (rendered.remove(&id).unwrap_or_default(), false),
        };
        if let Some(registered) = must_match.get(&id) {
            let same = registered.len() == files.len()
                && registered
                    .iter()
                    .zip(&files)
                    .all(|(r, f)| r.name == f.disk_name && r.sha256 == sha256_hex(&f.bytes));
            if !same {
                return Err(IssueError::IssuedChanged(IssuedChanged {
                    number: number_text(number, &symbol),
                    dir: dir.to_path_buf(),
                    files: registered
                        .iter()
                        .map(|f| format!("«{}»", f.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                }));
            }
            notes.push(format!(
                "văn bản số {} đã được dựng lại giống hệt bản đã ban hành và ghi lại vào {}",
                number_text(number, &symbol),
                dir.display()
            ));
        }
        ready.insert(
            id,
            NumberedDocument {
                planned: document,
                number,
                symbol,
                issuer,
                issuer_key,
                files,
                reused,
                to_issue: !dry_run && !reused,
            },
        );
    }
    Ok(ready)
}

/// The seam between numbering and filing: with `keys`, each newly issued document's PDFs are
/// signed by the person in its signature block, then by the organisation (DOCX copies stay
/// unsigned). A document filed before is attached as filed, never signed a second time; drafts
/// (no number) are never signed. Approval will gate here too, so neither filing nor delivery
/// changes when it comes.
pub fn make_ready(
    numbered: BTreeMap<DocId, NumberedDocument>,
    period: &Period,
    keys: Option<&Keys>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<BTreeMap<DocId, ReadyDocument>, IssueError> {
    let mut ready = BTreeMap::new();
    // The stamp of attachments is typeset by the PDF engine, made once and only when needed.
    let mut engine: Option<PdfEngine> = None;
    for (id, d) in numbered {
        let mut files = d.files;
        let mut records = Vec::new();
        if let (Some(keys), true, Some(number)) = (keys, d.to_issue, d.number) {
            let issuer = d.issuer_key.clone();
            let key = id.register_key(period);
            let label = number_text(Some(number), &d.symbol);
            let signer = &period.settings(id.kind).signer.name;
            let mut stamp = None;
            for file in files
                .iter_mut()
                .filter(|f| f.content_type == "application/pdf")
            {
                let file_ref = FileRef {
                    issuer: &issuer,
                    document_key: &key,
                    file_name: &file.disk_name,
                    label: &label,
                };
                let (bytes, signed) = if file.attachment {
                    let appearance = match &stamp {
                        Some(appearance) => appearance,
                        None => {
                            let engine = match &mut engine {
                                Some(engine) => engine,
                                None => engine.insert(
                                    PdfEngine::new(&render::templates::Templates::builtin())
                                        .map_err(|e| stamp_failed(&label, e.into()))?,
                                ),
                            };
                            let lines = org_stamp::attachment_lines(&label, now);
                            stamp.insert(
                                org_stamp::appearance(engine, &lines, now)
                                    .map_err(|e| stamp_failed(&label, e))?,
                            )
                        }
                    };
                    signatures::sign_attachment(keys, appearance, &file.bytes, &file_ref, now)?
                } else {
                    signatures::sign_document(keys, signer, &file.bytes, &file_ref, now)?
                };
                file.bytes = bytes;
                records.extend(signed);
            }
        }
        ready.insert(
            id,
            ReadyDocument {
                planned: d.planned,
                number: d.number,
                symbol: d.symbol,
                issuer: d.issuer,
                issuer_key: d.issuer_key,
                files,
                reused: d.reused,
                to_issue: d.to_issue,
                signatures: records,
            },
        );
    }
    Ok(ready)
}

fn stamp_failed(label: &str, error: org_stamp::StampError) -> IssueError {
    IssueError::Stamp {
        document: label.to_owned(),
        error,
    }
}

/// Real runs: writes the newly issued documents to `dir` (atomically, with fsync), checks that
/// every file is on disk as it will be sent, and records the issue in the register with each
/// file's hash. `recipients` names the units a document goes to, for the register.
pub fn file(
    env: &IssueEnv<'_>,
    documents: &BTreeMap<DocId, ReadyDocument>,
    recipients: &dyn Fn(&DocId) -> Vec<String>,
    dir: &Path,
    notes: &mut Vec<String>,
) -> Result<(), IssueError> {
    let fresh: Vec<render::RenderedFile> = documents
        .values()
        .filter(|d| d.to_issue)
        .flat_map(|d| {
            d.files.iter().map(|f| render::RenderedFile {
                file_name: f.disk_name.clone(),
                kind: d.planned.kind,
                unit: d.planned.unit.clone(),
                bytes: f.bytes.clone(),
            })
        })
        .collect();
    render::write_all(dir, &fresh).map_err(|e| IssueError::Render(Box::new(e)))?;
    let mut problems = Vec::new();
    for document in documents.values() {
        for file in &document.files {
            let path = dir.join(&file.disk_name);
            match std::fs::read(&path) {
                Ok(bytes) if bytes == file.bytes => {}
                Ok(_) => problems.push(FileProblem::Changed { path }),
                Err(error) => problems.push(FileProblem::Unreadable { path, error }),
            }
        }
    }
    if !problems.is_empty() {
        return Err(IssueError::Files(problems));
    }
    let register = Register::new(env.store);
    for (id, document) in documents {
        let (true, Some(number)) = (document.to_issue, document.number) else {
            continue;
        };
        // The signing step, recorded once the signed files are on disk.
        signatures::record(env.store, &document.signatures)
            .map_err(|e| IssueError::Register(Box::new(RegisterError::Store(e))))?;
        let issued = IssuedDocument {
            symbol: document.symbol.clone(),
            date: document.planned.date,
            recipients: recipients(id),
            files: document
                .files
                .iter()
                .map(|f| IssuedFile {
                    name: f.disk_name.clone(),
                    sha256: sha256_hex(&f.bytes),
                })
                .collect(),
        };
        let year = document.planned.date.year();
        let outcome =
            register.mark_issued(&document.issuer_key, year, number, &issued, env.clock.now())?;
        if let IssueOutcome::Replaced { previous } = outcome {
            notes.push(format!(
                "văn bản số {} được ban hành lại với nội dung mới (bản trước ghi sổ lúc {} \
                 nhưng chưa gửi cho đơn vị nào)",
                number_text(Some(number), &document.symbol),
                crate::clock::local_time(previous.at)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attachment_is_named_after_its_document_and_known_by_that_name_on_disk() {
        let display =
            attached_file_name("02-TB-UBND Thông báo kết luận.pdf", 1, "Biểu số liệu.Pdf");
        assert_eq!(
            display,
            "02-TB-UBND Thông báo kết luận - Kèm theo 1 - Biểu số liệu.pdf"
        );
        let disk = ascii_file_name(&display);
        assert_eq!(
            disk,
            "02-TB-UBND Thong bao ket luan - Kem theo 1 - Bieu so lieu.pdf"
        );
        assert!(is_attachment_name(&disk));
        assert!(is_attachment_name(
            "07-UBND-NLN Cong van - Kem theo 12 - a.pdf"
        ));
        // The document's own files, even with the words in a unit's name, are not.
        assert!(!is_attachment_name("02-TB-UBND Thong bao ket luan.pdf"));
        assert!(!is_attachment_name(
            "07-UBND-NLN Cong van giao nhiem vu - Kem theo doi xa.pdf"
        ));
    }
}
