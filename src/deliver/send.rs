//! `vanban send`: decides a period's messages, issues the documents' numbers, renders and files
//! the final documents, and delivers each message exactly once through the ledger. What happened
//! to each of them is read back by `status.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use lettre::Message;
use sha2::{Digest, Sha256};

use super::email::{
    EmailContext, EmailDocument, EmailError, EmailSender, EmailTemplates, EmailUnit, MessageKind,
    about, number_text, title_of,
};
use super::ledger::{
    AttemptOutcome, Begin, DeliveryKey, DeliveryRecord, DeliveryState, Ledger, LedgerError,
};
use super::lock::InstanceLock;
use super::mail::{
    self, Attachment, Flow, MailError, OutgoingMessage, RetryPolicy, SendError, SendHooks,
    SmtpMailer,
};
use super::outbox::Outbox;
use super::register::{
    IssueOutcome, IssuedDocument, IssuedFile, Register, RegisterError, document_key,
};
pub use super::status::{PeriodStatus, StatusLine, period_status};
use super::store::Store;
use crate::clock::{Clock, VIETNAM};
use crate::input::config::Config;
use crate::input::{self, Problems};
use crate::model::{DocumentKind, Half, Issuer, Period, Unit};
use crate::render::context::IssuerText;
use crate::render::templates::Templates;
use crate::render::{self, PlannedDocument, RenderError, Renderer};
use crate::vi;

/// What `send` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Write each message as an `.eml` file to the outbox instead of sending it; no number is
    /// issued and the ledger is not written.
    pub dry_run: bool,
    /// A unit id: send that unit's messages again, on purpose, even if they were sent or their
    /// outcome is unknown. Only that unit's messages are considered.
    pub resend: Option<String>,
    /// Only the messages carrying these documents (empty: all). The assignment letter and the
    /// conclusion notice travel in one message, so naming either selects it.
    pub only: Vec<DocumentKind>,
}

/// What `send` works with; the caller holds the lock on `config.state`.
pub struct SendEnv<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub lock: &'a InstanceLock,
    pub clock: &'a dyn Clock,
    /// Every format to render; assignment letters are attached in each of them, the notice and
    /// the report as PDF only (all formats if there is no "pdf" renderer).
    pub renderers: &'a [&'a dyn Renderer],
    /// Waits between retry rounds; the service passes one that returns early on shutdown.
    pub sleep: &'a dyn Fn(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("dữ liệu kỳ báo cáo có lỗi; không gửi thư nào:\n{0}")]
    Period(Problems),
    #[error("không gửi thư nào vì:\n{}", .0.iter().map(|p| format!("- {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
    #[error(
        "tệp cấu hình {config} không có mục [smtp]: cần máy chủ thư để gửi (hoặc dùng --dry-run)"
    )]
    NoSmtp { config: PathBuf },
    #[error("{unit}: đơn vị này không nhận thư nào của kỳ {period} (trong các văn bản được chọn)")]
    NotARecipient { unit: String, period: String },
    #[error(transparent)]
    Mail(Box<MailError>),
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    #[error(transparent)]
    Register(Box<RegisterError>),
    #[error(transparent)]
    Render(Box<RenderError>),
    #[error(transparent)]
    Email(Box<EmailError>),
    #[error(
        "văn bản số {number} đã ban hành và đã gửi cho một số đơn vị, nhưng tệp của nó trong {dir} \
         đã mất hoặc bị sửa, và bản dựng lại không giống bản đã gửi (dữ liệu kỳ báo cáo hoặc mẫu \
         đã đổi). Không gửi thư nào, để các đơn vị không nhận hai bản khác nhau của cùng một số \
         văn bản; hãy khôi phục {files} từ bản sao lưu."
    )]
    IssuedChanged {
        number: String,
        dir: PathBuf,
        files: String,
    },
}

// Boxed: the register's and ledger's errors are large, and this one travels up every call.
macro_rules! boxed_from {
    ($($variant:ident($error:ty)),*) => {$(
        impl From<$error> for DeliverError {
            fn from(error: $error) -> Self {
                DeliverError::$variant(Box::new(error))
            }
        }
    )*};
}

boxed_from!(
    Mail(MailError),
    Ledger(LedgerError),
    Register(RegisterError),
    Render(RenderError),
    Email(EmailError)
);

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the server in this run.
    Sent {
        reply: String,
        attempts: u32,
        resend: bool,
    },
    /// Dry run: written to the outbox.
    Written { path: PathBuf },
    /// Sent in an earlier run; not sent again.
    AlreadySent {
        at: DateTime<Utc>,
        message_id: String,
    },
    /// Not delivered in this run; `permanent` for a refusal (5xx) that retrying cannot fix.
    Failed {
        reason: String,
        permanent: bool,
        attempts: u32,
    },
    /// A process died while sending it, or the connection timed out or dropped after the
    /// message may have been handed over: the server may or may not have it. Never resent
    /// without `--resend`.
    Unknown {
        since: DateTime<Utc>,
        message_id: String,
    },
    /// Recorded as being sent by another attempt still in flight (seen only by a dry run while
    /// another process sends).
    InProgress {
        since: DateTime<Utc>,
        message_id: String,
    },
    /// Not tried: the run was stopped first, or could not record the attempt.
    NotTried { reason: String },
}

impl Outcome {
    /// The last attempt's error, after `attempts` attempts.
    fn failed(error: &SendError, attempts: u32) -> Outcome {
        Outcome::Failed {
            reason: error.reason().to_owned(),
            permanent: !error.is_transient(),
            attempts,
        }
    }

    /// Whether the message has reached (or, in a dry run, would reach) its recipient.
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            Outcome::Sent { .. } | Outcome::Written { .. } | Outcome::AlreadySent { .. }
        )
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Outcome::Sent { resend: false, .. } => "đã gửi",
            Outcome::Sent { resend: true, .. } => "đã gửi lại",
            Outcome::Written { .. } => "đã ghi .eml",
            Outcome::AlreadySent { .. } => "đã gửi trước đó",
            Outcome::Failed { .. } => "gửi lỗi",
            Outcome::Unknown { .. } => "không rõ kết quả",
            Outcome::InProgress { .. } => "đang gửi",
            Outcome::NotTried { .. } => "chưa gửi",
        }
    }
}

/// One message of the run.
#[derive(Debug, Clone)]
pub struct DeliveryReport {
    pub key: DeliveryKey,
    pub message: MessageKind,
    pub unit_name: String,
    pub to: Vec<String>,
    /// The Message-ID used (or that would be used) for this message.
    pub message_id: String,
    pub outcome: Outcome,
}

/// A document the run issued or drafted.
#[derive(Debug, Clone)]
pub struct DocumentReport {
    pub kind: DocumentKind,
    pub unit: Option<String>,
    /// "02/TB-UBND", "…/TB-UBND" in a dry run.
    pub number: String,
    /// Where the files are (real runs).
    pub paths: Vec<PathBuf>,
    /// Issued in an earlier run and attached as filed then.
    pub reused: bool,
}

/// The result of [`send_period`].
#[derive(Debug, Clone)]
pub struct SendReport {
    /// "2024-h1".
    pub period: String,
    pub dry_run: bool,
    /// In plan order: review reports, then the units' letters.
    pub deliveries: Vec<DeliveryReport>,
    /// Deliveries (of any period) that a dead process had left "sending", now "unknown".
    pub recovered: Vec<DeliveryKey>,
    pub documents: Vec<DocumentReport>,
    /// Warnings worth an administrator's eye.
    pub notes: Vec<String>,
    /// The run stopped early (shutdown requested, or the ledger could not be written).
    pub stopped: bool,
    /// Dry run: where the .eml files went.
    pub outbox: Option<PathBuf>,
}

impl SendReport {
    /// Every message is sent (or written, in a dry run): nothing failed, unknown or left over.
    pub fn all_delivered(&self) -> bool {
        !self.stopped && self.deliveries.iter().all(|d| d.outcome.is_done())
    }

    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.deliveries.iter().filter(|d| f(&d.outcome)).count()
    }
}

/// A document of the period, as messages carry it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct DocId {
    kind: DocumentKind,
    /// The addressee of an assignment letter.
    unit: Option<String>,
}

impl DocId {
    fn register_key(&self, period: &Period) -> String {
        document_key(&period.key(), self.kind.slug(), self.unit.as_deref())
    }
}

/// One message to one unit.
#[derive(Debug, Clone)]
pub(super) struct Delivery {
    pub(super) message: MessageKind,
    pub(super) unit: Unit,
    pub(super) key: DeliveryKey,
    documents: Vec<DocId>,
}

impl Delivery {
    /// The documents this message carries, from those prepared for the run.
    fn carried<'a>(&self, prepared: &'a BTreeMap<DocId, ReadyDocument>) -> Vec<&'a ReadyDocument> {
        self.documents
            .iter()
            .filter_map(|id| prepared.get(id))
            .collect()
    }
}

/// The key an issuer has in the ledger and the register: its `id` (see `model::Issuer::id`),
/// never its display name, whose spelling an office may change ("Ủy ban" / "Uỷ ban") after a
/// send without making it another issuer.
pub(super) fn issuer_key(issuer: &Issuer) -> String {
    issuer.id.clone()
}

/// The issuer whose ledger keys a message kind uses: that of its principal document.
fn ledger_issuer(period: &Period, message: MessageKind) -> String {
    issuer_key(period.issuer_of(message.documents()[0]))
}

pub(super) fn plan_deliveries(period: &Period, only: &[DocumentKind]) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    let key = |message: MessageKind, unit: &Unit| {
        DeliveryKey::new(
            ledger_issuer(period, message),
            period.key(),
            message.slug(),
            unit.id.clone(),
        )
    };
    if MessageKind::ReviewReport.selected_by(only) {
        for unit in period.directory.report_recipients() {
            deliveries.push(Delivery {
                message: MessageKind::ReviewReport,
                unit: unit.clone(),
                key: key(MessageKind::ReviewReport, unit),
                documents: vec![DocId {
                    kind: DocumentKind::ReviewReport,
                    unit: None,
                }],
            });
        }
    }
    if MessageKind::LetterAndNotice.selected_by(only) {
        for unit in period.units_with_tasks() {
            deliveries.push(Delivery {
                message: MessageKind::LetterAndNotice,
                unit: unit.clone(),
                key: key(MessageKind::LetterAndNotice, unit),
                documents: vec![
                    DocId {
                        kind: DocumentKind::AssignmentLetter,
                        unit: Some(unit.id.clone()),
                    },
                    DocId {
                        kind: DocumentKind::ConclusionNotice,
                        unit: None,
                    },
                ],
            });
        }
    }
    deliveries
}

/// The ledger's records of a period, by key.
pub(super) fn ledger_records(
    store: &Store,
    period: &Period,
) -> Result<HashMap<DeliveryKey, DeliveryRecord>, LedgerError> {
    let issuers: BTreeSet<String> = MessageKind::ALL
        .iter()
        .map(|m| ledger_issuer(period, *m))
        .collect();
    let ledger = Ledger::new(store);
    let mut records = HashMap::new();
    for issuer in issuers {
        for record in ledger.status(&issuer, &period.key())? {
            records.insert(record.key.clone(), record);
        }
    }
    Ok(records)
}

/// What to do with one delivery, decided from the ledger before anything is rendered.
#[derive(Debug, Clone)]
enum Decision {
    /// `resend`: the user asked for it (passed to the ledger); `again`: a deliberate second copy
    /// of a message that was sent or whose outcome is unknown (a new Message-ID tag, and the
    /// email says so).
    Send {
        resend: bool,
        again: bool,
        tag: String,
    },
    Done(Outcome),
}

fn decide(record: Option<&DeliveryRecord>, resend: bool) -> Decision {
    let first = |resend| Decision::Send {
        resend,
        again: false,
        tag: "1".to_owned(),
    };
    let Some(record) = record else {
        return first(resend);
    };
    let latest = record.latest();
    let latest_id = || latest.map(|a| a.message_id.clone()).unwrap_or_default();
    let latest_start = || latest.map(|a| a.started_at).unwrap_or(record.updated_at);
    if record.state == DeliveryState::Sending {
        return Decision::Done(Outcome::InProgress {
            since: latest_start(),
            message_id: latest_id(),
        });
    }
    let last_sent = record.sends().last();
    if resend {
        // A new tag marks a deliberate second copy; a first delivery keeps the usual one.
        let again = last_sent.is_some() || record.state == DeliveryState::Unknown;
        if !again {
            return first(true);
        }
        return Decision::Send {
            resend: true,
            again,
            tag: format!("r{}", record.attempts.len() + 1),
        };
    }
    if let Some(sent) = last_sent {
        let at = match &sent.outcome {
            AttemptOutcome::Sent { at, .. } => *at,
            _ => sent.started_at,
        };
        return Decision::Done(Outcome::AlreadySent {
            at,
            message_id: sent.message_id.clone(),
        });
    }
    if record.state == DeliveryState::Unknown {
        return Decision::Done(Outcome::Unknown {
            since: latest_start(),
            message_id: latest_id(),
        });
    }
    first(false)
}

/// Whether the ledger shows that some copy of a message may have reached its recipient.
fn maybe_delivered(record: Option<&DeliveryRecord>) -> bool {
    record.is_some_and(|r| {
        r.sends().next().is_some()
            || matches!(r.state, DeliveryState::Unknown | DeliveryState::Sending)
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn content_type(extension: &str) -> &'static str {
    match extension {
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
}

/// The Vietnamese attachment name: "02-TB-UBND Thông báo kết luận.pdf"; a draft has no number:
/// "TB-UBND Thông báo kết luận (dự thảo).pdf". Mail clients that ignore RFC 2231 show the
/// ASCII fold, "02-TB-UBND Thong bao ket luan.pdf", which is also the file's name on disk.
fn attachment_name(
    kind: DocumentKind,
    half: Half,
    number: Option<u32>,
    symbol: &str,
    extension: &str,
) -> String {
    let title = match (kind, half) {
        (DocumentKind::ReviewReport, Half::First) => "Báo cáo sơ kết",
        (DocumentKind::ReviewReport, Half::Whole) => "Báo cáo tổng kết",
        (DocumentKind::ConclusionNotice, _) => "Thông báo kết luận",
        (DocumentKind::AssignmentLetter, _) => "Công văn giao nhiệm vụ",
    };
    match number {
        Some(n) => format!("{}-{symbol} {title}.{extension}", vi::document_number(n)),
        None => format!("{symbol} {title} (dự thảo).{extension}"),
    }
}

/// One file of a document, in memory.
#[derive(Debug, Clone)]
struct DocFile {
    /// The Vietnamese name the recipient sees.
    display_name: String,
    /// The ASCII name on disk and in the register.
    disk_name: String,
    content_type: &'static str,
    bytes: Vec<u8>,
}

/// A document ready to attach.
#[derive(Debug, Clone)]
struct ReadyDocument {
    planned: PlannedDocument,
    number: Option<u32>,
    symbol: String,
    /// The issuer's name, as the email shows it.
    issuer: String,
    /// The issuer's register key, [`issuer_key`].
    issuer_key: String,
    files: Vec<DocFile>,
    /// Issued before; its files were attached as filed.
    reused: bool,
    /// Register outcome still to record (real runs, rendered now).
    to_issue: bool,
}

fn unit_label(unit: &Unit) -> String {
    format!("{} ({})", unit.id, unit.name)
}

/// Issues (or, in a dry run, drafts) `documents` and returns them rendered or read back.
fn prepare_documents(
    env: &SendEnv<'_>,
    period: &Period,
    documents: &[DocId],
    delivered: &dyn Fn(&DocId) -> bool,
    dry_run: bool,
    dir: &Path,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<DocId, ReadyDocument>, DeliverError> {
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
        let number = register.reserve(issuer, year, &symbol, env.config.numbering, &key, now)?;
        numbers.insert(id.clone(), number);
        let issued = previous.and_then(|entry| entry.issued);
        let Some(issued) = issued else {
            dates.insert(id.clone(), period.documents.date);
            continue;
        };
        // An issued document keeps its date and its content: re-sent as filed.
        dates.insert(id.clone(), issued.document.date);
        let mut files = Vec::new();
        for file in &issued.document.files {
            let path = dir.join(&file.name);
            match std::fs::read(&path) {
                Ok(bytes) if sha256_hex(&bytes) == file.sha256 => {
                    let extension = file.name.rsplit('.').next().unwrap_or_default();
                    files.push(DocFile {
                        display_name: attachment_name(
                            id.kind,
                            period.half,
                            Some(number),
                            &symbol,
                            extension,
                        ),
                        disk_name: file.name.clone(),
                        content_type: content_type(extension),
                        bytes,
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
    // the letters cite the notice's number.
    let mut planned: BTreeMap<DocId, PlannedDocument> = BTreeMap::new();
    let notice_number = numbers
        .iter()
        .find(|(id, _)| id.kind == DocumentKind::ConclusionNotice)
        .map(|(_, n)| *n);
    // Letters cite the notice with its own issue date, which may be earlier than theirs.
    let notice_date = dates
        .iter()
        .find(|(id, _)| id.kind == DocumentKind::ConclusionNotice)
        .map(|(_, date)| *date);
    let distinct_dates: BTreeSet<NaiveDate> = dates.values().copied().collect();
    for date in distinct_dates {
        let mut dated = period.clone();
        dated.documents.date = date;
        dated.documents.notice_date = notice_date.or(period.documents.notice_date);
        if notice_number.is_some() {
            dated.documents.conclusion_notice.number = notice_number;
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

    // Render what is not filed: letters in every format, the rest as PDF.
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
    for letters in [true, false] {
        let batch: Vec<PlannedDocument> = planned
            .iter()
            .filter(|(id, _)| !filed.contains_key(*id))
            .filter(|(id, _)| (id.kind == DocumentKind::AssignmentLetter) == letters)
            .map(|(_, d)| d.clone())
            .collect();
        if batch.is_empty() {
            continue;
        }
        let renderers: &[&dyn Renderer] = if letters { env.renderers } else { &pdf_only };
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
                extension,
            );
            rendered.entry(id).or_default().push(DocFile {
                disk_name: mail::ascii_file_name(&display_name),
                display_name,
                content_type: content_type(extension),
                bytes: file.bytes,
            });
        }
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
                return Err(DeliverError::IssuedChanged {
                    number: number_text(number, &symbol),
                    dir: dir.to_path_buf(),
                    files: registered
                        .iter()
                        .map(|f| format!("«{}»", f.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            notes.push(format!(
                "văn bản số {} đã được dựng lại giống hệt bản đã ban hành và ghi lại vào {}",
                number_text(number, &symbol),
                dir.display()
            ));
        }
        ready.insert(
            id,
            ReadyDocument {
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

fn email_document(document: &ReadyDocument) -> EmailDocument {
    let context = &document.planned.context;
    let letter = context.letter.as_ref();
    EmailDocument {
        kind: document.planned.kind.slug(),
        title: title_of(document.planned.kind).to_owned(),
        number: number_text(document.number, &document.symbol),
        numbered: document.number.is_some(),
        symbol: document.symbol.clone(),
        date: vi::short_date(document.planned.date),
        date_long: vi::long_date(document.planned.date),
        excerpt: context.excerpt.clone(),
        about: about(&context.excerpt),
        issuer: document.issuer.clone(),
        signer_title: context.signer.title.clone(),
        signer_name: context.signer.name.clone(),
        tasks: letter.map_or(0, |l| l.tasks.len()),
        report_line: letter.map(|l| l.report_line.clone()).unwrap_or_default(),
        files: document
            .files
            .iter()
            .map(|f| f.display_name.clone())
            .collect(),
    }
}

fn email_context(
    config: &Config,
    period: &Period,
    delivery: &Delivery,
    documents: &[&ReadyDocument],
    resend: bool,
    draft: bool,
) -> EmailContext {
    let emailed: Vec<EmailDocument> = documents.iter().map(|d| email_document(d)).collect();
    let find = |kind: DocumentKind| emailed.iter().find(|d| d.kind == kind.slug()).cloned();
    let period_text = documents
        .first()
        .map(|d| d.planned.context.period.clone())
        .unwrap_or_else(|| {
            render::context::build(period, DocumentKind::ConclusionNotice, None, None).period
        });
    EmailContext {
        unit: EmailUnit {
            id: delivery.unit.id.clone(),
            name: delivery.unit.name.clone(),
            short: delivery.unit.short.clone(),
            emails: delivery.unit.emails.clone(),
        },
        period: period_text,
        issuer: IssuerText {
            name: period.issuer.name.clone(),
            short: period.issuer.short.clone(),
            place: period.issuer.place.clone(),
        },
        sender: EmailSender {
            name: config.sender.name.clone(),
            address: config.sender.address.clone(),
        },
        letter: find(DocumentKind::AssignmentLetter),
        notice: find(DocumentKind::ConclusionNotice),
        report: find(DocumentKind::ReviewReport),
        attachments: emailed.iter().flat_map(|d| d.files.clone()).collect(),
        documents: emailed,
        resend,
        draft,
    }
}

fn sender_domain(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

fn message_id(config: &Config, key: &DeliveryKey, tag: &str) -> String {
    mail::message_id_for(
        &[&key.issuer, &key.period, &key.document, &key.recipient],
        sender_domain(&config.sender.address),
        tag,
    )
}

/// Recipients must have an address that a message can be built with.
fn check_addresses(delivery: &Delivery, problems: &mut Vec<String>) {
    let unit = &delivery.unit;
    if unit.emails.is_empty() {
        problems.push(format!(
            "đơn vị {}: không có địa chỉ thư điện tử trong danh bạ",
            unit_label(unit)
        ));
    }
    for address in &unit.emails {
        if let Err(e) = address.trim().parse::<lettre::Address>() {
            problems.push(format!(
                "đơn vị {}: địa chỉ thư điện tử không hợp lệ «{address}» ({e})",
                unit_label(unit)
            ));
        }
    }
}

/// The ledger's view of each attempt: "sending" before, "sent"/"failed" after.
struct LedgerHooks<'a> {
    ledger: Ledger<'a>,
    clock: &'a dyn Clock,
    stop: &'a AtomicBool,
    keys: Vec<DeliveryKey>,
    message_ids: Vec<String>,
    resend: Vec<bool>,
    ledger_attempt: Vec<Option<u32>>,
    /// When the current attempt of each message began.
    started: Vec<Option<DateTime<Utc>>>,
    /// Set when `begin` refused (sent or unknown meanwhile) or failed.
    decided: Vec<Option<Outcome>>,
    problems: Vec<String>,
    stopped_by_request: bool,
}

impl SendHooks for LedgerHooks<'_> {
    fn before_attempt(&mut self, index: usize, _attempt: u32) -> Flow {
        if self.stop.load(Ordering::SeqCst) {
            self.stopped_by_request = true;
            return Flow::Stop;
        }
        let key = &self.keys[index];
        let now = self.clock.now();
        match self
            .ledger
            .begin(key, &self.message_ids[index], now, self.resend[index])
        {
            Ok(Begin::Proceed { attempt }) => {
                self.ledger_attempt[index] = Some(attempt);
                self.started[index] = Some(now);
                Flow::Continue
            }
            Ok(Begin::AlreadySent { at, message_id }) => {
                self.decided[index] = Some(Outcome::AlreadySent { at, message_id });
                Flow::Skip
            }
            Ok(Begin::Unknown { since, message_id }) => {
                self.decided[index] = Some(Outcome::Unknown { since, message_id });
                Flow::Skip
            }
            Ok(Begin::InProgress { since, message_id }) => {
                self.decided[index] = Some(Outcome::InProgress { since, message_id });
                Flow::Skip
            }
            Err(e) => {
                // Without the "sending" row a crash would lose track of the message: send nothing.
                self.problems.push(format!("{key}: {e}"));
                self.decided[index] = Some(Outcome::NotTried {
                    reason: format!("không ghi được vào sổ gửi: {e}"),
                });
                Flow::Stop
            }
        }
    }

    fn after_attempt(
        &mut self,
        index: usize,
        _attempt: u32,
        outcome: &Result<String, SendError>,
        _will_retry: bool,
    ) -> Flow {
        let key = &self.keys[index];
        let Some(attempt) = self.ledger_attempt[index] else {
            return Flow::Stop;
        };
        let now = self.clock.now();
        let written = match outcome {
            Ok(reply) => self.ledger.mark_sent(key, attempt, now, reply),
            Err(e) if e.is_unknown() => {
                self.decided[index] = Some(Outcome::Unknown {
                    since: self.started[index].unwrap_or(now),
                    message_id: self.message_ids[index].clone(),
                });
                self.ledger.mark_unknown(key, attempt, now, e.reason())
            }
            Err(e) => self
                .ledger
                .mark_failed(key, attempt, now, e.reason(), !e.is_transient()),
        };
        if let Err(e) = written {
            // The row stays "sending": the next run reports it as unknown, never resends it.
            self.problems.push(format!(
                "{key}: không ghi được kết quả gửi vào sổ ({e}); lần chạy sau sẽ báo thư này là «không rõ kết quả»"
            ));
            return Flow::Stop;
        }
        if self.stop.load(Ordering::SeqCst) {
            self.stopped_by_request = true;
            return Flow::Stop;
        }
        Flow::Continue
    }
}

/// Dry run: nothing is recorded; only a shutdown request stops the run.
struct DryHooks<'a> {
    stop: &'a AtomicBool,
}

impl SendHooks for DryHooks<'_> {
    fn before_attempt(&mut self, _: usize, _: u32) -> Flow {
        if self.stop.load(Ordering::SeqCst) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn after_attempt(&mut self, _: usize, _: u32, _: &Result<String, SendError>, _: bool) -> Flow {
        self.before_attempt(0, 0)
    }
}

/// One run: the selected messages, what the ledger says of each, and their Message-IDs.
struct Run<'e, 'a> {
    env: &'e SendEnv<'a>,
    period: Period,
    dry_run: bool,
    /// Every message the period plans (for "who else carries this document?").
    every_delivery: Vec<Delivery>,
    /// The messages this run considers, with a decision and a Message-ID each.
    deliveries: Vec<Delivery>,
    decisions: Vec<Decision>,
    message_ids: Vec<String>,
    /// Indices into `deliveries` of the messages to send now.
    to_send: Vec<usize>,
    records: HashMap<DeliveryKey, DeliveryRecord>,
}

impl Run<'_, '_> {
    fn config(&self) -> &Config {
        self.env.config
    }

    fn again(&self, index: usize) -> bool {
        matches!(self.decisions[index], Decision::Send { again: true, .. })
    }

    /// The documents the messages to send carry, in numbering order: by kind (report, notice,
    /// letters), letters in directory order.
    fn needed_documents(&self) -> Vec<DocId> {
        let mut needed: Vec<DocId> = Vec::new();
        for &i in &self.to_send {
            for id in &self.deliveries[i].documents {
                if !needed.contains(id) {
                    needed.push(id.clone());
                }
            }
        }
        needed.sort_by_key(|id| id.kind);
        needed
    }

    /// Whether some copy of a message carrying `id` may have reached its recipient.
    fn delivered(&self, id: &DocId) -> bool {
        self.every_delivery
            .iter()
            .filter(|d| d.documents.contains(id))
            .any(|d| maybe_delivered(self.records.get(&d.key)))
    }

    /// Everything that can be checked before a number is issued: addresses, numbers typed into
    /// the period file, and every email template against every message (with draft documents).
    fn check(&self, problems: &mut Vec<String>) -> Option<EmailTemplates> {
        for &i in &self.to_send {
            check_addresses(&self.deliveries[i], problems);
        }
        let needed = self.needed_documents();
        if !self.dry_run {
            for kind in DocumentKind::ALL {
                if let Some(n) = self.period.settings(kind).number
                    && needed.iter().any(|d| d.kind == kind)
                {
                    problems.push(format!(
                        "tệp kỳ báo cáo ghi sẵn số {} cho {}; khi gửi, vanban tự cấp số từ sổ \
                         đăng ký văn bản đi nên hãy bỏ khóa number này (hoặc gửi văn bản đó bằng tay)",
                        number_text(Some(n), &self.period.symbol(kind)),
                        kind.slug()
                    ));
                }
            }
        }
        let templates = Templates {
            override_dir: self.config().templates_dir.clone(),
        };
        let emails = match EmailTemplates::load(&templates) {
            Ok(emails) => emails,
            Err(e) => {
                problems.push(e.to_string());
                return None;
            }
        };
        let period = &self.period;
        let drafts: BTreeMap<DocId, ReadyDocument> = render::plan(period, None, &|_, _| None)
            .into_iter()
            .map(|planned| {
                let id = DocId {
                    kind: planned.kind,
                    unit: planned.unit.clone(),
                };
                let symbol = period.symbol(planned.kind);
                let file = attachment_name(planned.kind, period.half, None, &symbol, "pdf");
                let draft = ReadyDocument {
                    number: None,
                    issuer: period.issuer_of(planned.kind).name.clone(),
                    issuer_key: issuer_key(period.issuer_of(planned.kind)),
                    files: vec![DocFile {
                        disk_name: mail::ascii_file_name(&file),
                        display_name: file,
                        content_type: "application/pdf",
                        bytes: Vec::new(),
                    }],
                    symbol,
                    planned,
                    reused: false,
                    to_issue: false,
                };
                (id, draft)
            })
            .collect();
        for &i in &self.to_send {
            let delivery = &self.deliveries[i];
            let documents = delivery.carried(&drafts);
            let context = email_context(self.config(), period, delivery, &documents, false, true);
            if let Err(e) = emails.render(delivery.message, &context) {
                problems.push(format!("thư gửi {}: {e}", unit_label(&delivery.unit)));
            }
        }
        Some(emails)
    }

    /// Every message, built before any is sent: a failure here sends nothing.
    fn build_messages(
        &self,
        emails: &EmailTemplates,
        documents: &BTreeMap<DocId, ReadyDocument>,
    ) -> Result<Vec<Message>, DeliverError> {
        let config = self.config();
        let date = SystemTime::from(self.env.clock.now());
        let mut messages = Vec::with_capacity(self.to_send.len());
        let mut problems = Vec::new();
        for &i in &self.to_send {
            let delivery = &self.deliveries[i];
            let carried = delivery.carried(documents);
            let attachments: Vec<Attachment> = carried
                .iter()
                .flat_map(|d| d.files.iter())
                .map(|f| Attachment {
                    file_name: f.display_name.clone(),
                    content_type: f.content_type.to_owned(),
                    bytes: f.bytes.clone(),
                })
                .collect();
            if carried.len() != delivery.documents.len()
                || carried.iter().any(|d| d.files.is_empty())
            {
                problems.push(format!(
                    "thư gửi {}: thiếu tệp văn bản đính kèm",
                    unit_label(&delivery.unit)
                ));
                continue;
            }
            let context = email_context(
                config,
                &self.period,
                delivery,
                &carried,
                self.again(i),
                self.dry_run,
            );
            let (subject, body) = match emails.render(delivery.message, &context) {
                Ok(rendered) => rendered,
                Err(e) => {
                    problems.push(format!("thư gửi {}: {e}", unit_label(&delivery.unit)));
                    continue;
                }
            };
            let outgoing = OutgoingMessage {
                from: (config.sender.name.clone(), config.sender.address.clone()),
                to: delivery
                    .unit
                    .emails
                    .iter()
                    .map(|e| (delivery.unit.name.clone(), e.trim().to_owned()))
                    .collect(),
                subject,
                body,
                attachments,
                message_id: self.message_ids[i].clone(),
                date,
            };
            match mail::build_message(&outgoing) {
                Ok(message) => messages.push(message),
                Err(e) => problems.push(format!("thư gửi {}: {e}", unit_label(&delivery.unit))),
            }
        }
        if problems.is_empty() {
            Ok(messages)
        } else {
            Err(DeliverError::Invalid(problems))
        }
    }

    /// Real runs: writes the newly rendered documents to `dir`, checks that every attachment is
    /// on disk as it will be sent, and records the issue in the register.
    fn file_documents(
        &self,
        documents: &BTreeMap<DocId, ReadyDocument>,
        dir: &Path,
        notes: &mut Vec<String>,
    ) -> Result<(), DeliverError> {
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
        render::write_all(dir, &fresh)?;
        let mut problems = Vec::new();
        for &i in &self.to_send {
            let delivery = &self.deliveries[i];
            let carried = delivery.carried(documents);
            let files = carried.iter().flat_map(|d| d.files.iter());
            for file in files {
                let path = dir.join(&file.disk_name);
                match std::fs::read(&path) {
                    Ok(bytes) if bytes == file.bytes => {}
                    Ok(_) => problems.push(format!(
                        "thư gửi {}: tệp đính kèm {} đã bị thay đổi trong lúc chuẩn bị gửi",
                        unit_label(&delivery.unit),
                        path.display()
                    )),
                    Err(e) => problems.push(format!(
                        "thư gửi {}: không có tệp đính kèm {} ({e})",
                        unit_label(&delivery.unit),
                        path.display()
                    )),
                }
            }
        }
        if !problems.is_empty() {
            return Err(DeliverError::Invalid(problems));
        }
        let register = Register::new(self.env.store);
        for (id, document) in documents {
            let (true, Some(number)) = (document.to_issue, document.number) else {
                continue;
            };
            let issued = IssuedDocument {
                symbol: document.symbol.clone(),
                date: document.planned.date,
                recipients: self
                    .every_delivery
                    .iter()
                    .filter(|d| d.documents.contains(id))
                    .map(|d| d.unit.id.clone())
                    .collect(),
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
            let outcome = register.mark_issued(
                &document.issuer_key,
                year,
                number,
                &issued,
                self.env.clock.now(),
            )?;
            if let IssueOutcome::Replaced { previous } = outcome {
                notes.push(format!(
                    "văn bản số {} được ban hành lại với nội dung mới (bản trước ghi sổ lúc {} \
                     nhưng chưa gửi cho đơn vị nào)",
                    number_text(Some(number), &document.symbol),
                    local_time(previous.at)
                ));
            }
        }
        Ok(())
    }

    /// Dry run: each message to the outbox.
    fn write_outbox(
        &self,
        messages: &[Message],
        stop: &AtomicBool,
        outcomes: &mut [Outcome],
    ) -> bool {
        let outbox = Outbox::new(self.config().outbox.join(self.period.key()));
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let mut hooks = DryHooks { stop };
        let summary = mail::send_all(&outbox, messages, &policy, &|_| {}, &mut hooks);
        for (position, outcome) in summary.outcomes.into_iter().enumerate() {
            let index = self.to_send[position];
            match outcome.result {
                Some(Ok(path)) => {
                    outcomes[index] = Outcome::Written {
                        path: PathBuf::from(path),
                    }
                }
                Some(Err(e)) => outcomes[index] = Outcome::failed(&e, outcome.attempts),
                None => {}
            }
        }
        summary.stopped
    }

    /// Real run: over SMTP, each attempt recorded in the ledger before and after.
    fn send_smtp(
        &self,
        mailer: &SmtpMailer,
        policy: &RetryPolicy,
        messages: &[Message],
        stop: &AtomicBool,
        outcomes: &mut [Outcome],
        notes: &mut Vec<String>,
    ) -> bool {
        let sleep = |delay: Duration| {
            if !stop.load(Ordering::SeqCst) {
                (self.env.sleep)(delay);
            }
        };
        let mut hooks = LedgerHooks {
            ledger: Ledger::new(self.env.store),
            clock: self.env.clock,
            stop,
            keys: self
                .to_send
                .iter()
                .map(|&i| self.deliveries[i].key.clone())
                .collect(),
            message_ids: self
                .to_send
                .iter()
                .map(|&i| self.message_ids[i].clone())
                .collect(),
            resend: self
                .to_send
                .iter()
                .map(|&i| matches!(self.decisions[i], Decision::Send { resend: true, .. }))
                .collect(),
            ledger_attempt: vec![None; self.to_send.len()],
            started: vec![None; self.to_send.len()],
            decided: vec![None; self.to_send.len()],
            problems: Vec::new(),
            stopped_by_request: false,
        };
        let summary = mail::send_all(mailer, messages, policy, &sleep, &mut hooks);
        for (position, outcome) in summary.outcomes.into_iter().enumerate() {
            let index = self.to_send[position];
            if let Some(decided) = hooks.decided[position].take() {
                outcomes[index] = decided;
                continue;
            }
            match outcome.result {
                Some(Ok(reply)) => {
                    outcomes[index] = Outcome::Sent {
                        reply,
                        attempts: outcome.attempts,
                        resend: self.again(index),
                    }
                }
                Some(Err(e)) => outcomes[index] = Outcome::failed(&e, outcome.attempts),
                None => {}
            }
        }
        if hooks.stopped_by_request {
            notes.push(
                "đã dừng theo yêu cầu: thư đang gửi đã xong và được ghi sổ; các thư còn lại sẽ \
                 được gửi ở lần chạy sau"
                    .to_owned(),
            );
        }
        notes.extend(hooks.problems);
        summary.stopped
    }

    fn report(&self, outcomes: Vec<Outcome>) -> Vec<DeliveryReport> {
        self.deliveries
            .iter()
            .zip(outcomes)
            .zip(&self.message_ids)
            .map(|((d, outcome), id)| DeliveryReport {
                key: d.key.clone(),
                message: d.message,
                unit_name: d.unit.name.clone(),
                to: d.unit.emails.clone(),
                message_id: id.clone(),
                outcome,
            })
            .collect()
    }
}

/// Waits `delay` (between retry rounds) unless `stop` is set first; checked every 100 ms so a
/// SIGTERM never waits out a long backoff.
pub fn sleep_unless_stopped(stop: &AtomicBool, delay: Duration) {
    let step = Duration::from_millis(100);
    let mut left = delay;
    while !left.is_zero() && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(left.min(step));
        left = left.saturating_sub(step);
    }
}

/// Sends (or, with `dry_run`, writes to the outbox) the period's messages: one per unit with
/// tasks carrying its assignment letter and the conclusion notice, and the review report to each
/// member of the directory's `report_to` group. Each message is recorded in the ledger before
/// and after the SMTP exchange, so nothing is sent twice and no outcome is lost; documents get
/// their numbers from the register and are filed under `<output_dir>/<period>/`. Nothing is
/// sent unless every message could be built. `stop` is checked between messages: the one in
/// flight is finished and recorded, then the run ends.
pub fn send_period(
    env: &SendEnv<'_>,
    period_path: &Path,
    options: &SendOptions,
    stop: &AtomicBool,
) -> Result<SendReport, DeliverError> {
    let config = env.config;
    let dry_run = options.dry_run;
    let mailer = if dry_run {
        None
    } else {
        let smtp = config.smtp.as_ref().ok_or_else(|| DeliverError::NoSmtp {
            config: config.path.clone(),
        })?;
        let policy = RetryPolicy {
            max_attempts: smtp.max_attempts,
            first_delay: smtp.retry_delay,
            ..RetryPolicy::default()
        };
        Some((SmtpMailer::new(&smtp.settings)?, policy))
    };
    let recovered = if dry_run {
        Vec::new()
    } else {
        Ledger::new(env.store).recover(env.lock, env.clock.now())?
    };

    let today = env.clock.today_in(VIETNAM);
    let period = input::load_period(period_path, config.directory.as_deref(), today)
        .map_err(DeliverError::Period)?;
    let period_key = period.key();
    let mut notes = Vec::new();
    let mut problems = Vec::new();

    let mut deliveries = plan_deliveries(&period, &options.only);
    if period.directory.report_to.is_none() && MessageKind::ReviewReport.selected_by(&options.only)
    {
        let note = "danh bạ không có nhóm report_to nên báo cáo không được gửi cho ai".to_owned();
        if options.only.contains(&DocumentKind::ReviewReport) {
            problems.push(note);
        } else {
            notes.push(note);
        }
    }
    if let Some(unit) = &options.resend {
        deliveries.retain(|d| &d.unit.id == unit);
        if deliveries.is_empty() {
            return Err(DeliverError::NotARecipient {
                unit: unit.clone(),
                period: period_key,
            });
        }
    }
    let records = ledger_records(env.store, &period)?;
    let decisions: Vec<Decision> = deliveries
        .iter()
        .map(|d| decide(records.get(&d.key), options.resend.is_some()))
        .collect();
    let message_ids = deliveries
        .iter()
        .zip(&decisions)
        .map(|(d, decision)| match decision {
            Decision::Send { tag, .. } => message_id(config, &d.key, tag),
            Decision::Done(
                Outcome::AlreadySent { message_id, .. }
                | Outcome::Unknown { message_id, .. }
                | Outcome::InProgress { message_id, .. },
            ) => message_id.clone(),
            Decision::Done(_) => String::new(),
        })
        .collect();
    let to_send = (0..deliveries.len())
        .filter(|i| matches!(decisions[*i], Decision::Send { .. }))
        .collect();
    let run = Run {
        env,
        every_delivery: plan_deliveries(&period, &[]),
        period,
        dry_run,
        deliveries,
        decisions,
        message_ids,
        to_send,
        records,
    };
    let mut outcomes: Vec<Outcome> = run
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Done(outcome) => outcome.clone(),
            Decision::Send { .. } => Outcome::NotTried {
                reason: "lần chạy dừng trước khi gửi thư này".to_owned(),
            },
        })
        .collect();
    let mut report = SendReport {
        period: period_key.clone(),
        dry_run,
        deliveries: Vec::new(),
        recovered,
        documents: Vec::new(),
        notes: Vec::new(),
        stopped: false,
        outbox: dry_run.then(|| config.outbox.join(&period_key)),
    };

    if !run.to_send.is_empty() {
        let emails = run.check(&mut problems);
        let (Some(emails), true) = (emails, problems.is_empty()) else {
            return Err(DeliverError::Invalid(problems));
        };
        let dir = config.output_dir.join(&period_key);
        let documents = prepare_documents(
            env,
            &run.period,
            &run.needed_documents(),
            &|id| run.delivered(id),
            dry_run,
            &dir,
            &mut notes,
        )?;
        let messages = run.build_messages(&emails, &documents)?;
        if !dry_run {
            run.file_documents(&documents, &dir, &mut notes)?;
        }
        report.documents = run
            .needed_documents()
            .iter()
            .filter_map(|id| documents.get(id))
            .map(|d| DocumentReport {
                kind: d.planned.kind,
                unit: d.planned.unit.clone(),
                number: number_text(d.number, &d.symbol),
                paths: if dry_run {
                    Vec::new()
                } else {
                    d.files.iter().map(|f| dir.join(&f.disk_name)).collect()
                },
                reused: d.reused,
            })
            .collect();
        report.stopped = match &mailer {
            None => run.write_outbox(&messages, stop, &mut outcomes),
            Some((mailer, policy)) => {
                run.send_smtp(mailer, policy, &messages, stop, &mut outcomes, &mut notes)
            }
        };
    } else if !problems.is_empty() {
        return Err(DeliverError::Invalid(problems));
    }
    report.deliveries = run.report(outcomes);
    report.notes = notes;
    Ok(report)
}

/// "25/06/2024 08:00:03" in Vietnam's time.
pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&VIETNAM)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<17} {} ({}) <{}>: {}",
            self.outcome.label_vi(),
            self.key.recipient,
            self.unit_name,
            self.to.join(", "),
            self.message.label_vi()
        )?;
        match &self.outcome {
            Outcome::Sent {
                reply, attempts, ..
            } => {
                write!(f, " — Message-ID {}", self.message_id)?;
                if *attempts > 1 {
                    write!(f, ", sau {attempts} lần thử")?;
                }
                write!(f, "; máy chủ: {reply}")
            }
            Outcome::Written { path } => write!(f, " — {}", path.display()),
            Outcome::AlreadySent { at, message_id } => {
                write!(f, " — lúc {}, Message-ID {message_id}", local_time(*at))
            }
            Outcome::Failed {
                reason,
                permanent,
                attempts,
            } => write!(
                f,
                " — {} sau {attempts} lần thử: {reason}",
                if *permanent {
                    "lỗi vĩnh viễn, không thử lại"
                } else {
                    "lỗi tạm thời, sẽ gửi lại ở lần chạy sau"
                }
            ),
            Outcome::Unknown { since, message_id } => write!(
                f,
                " — bắt đầu gửi lúc {}, Message-ID {message_id}: không gửi lại tự động; tìm \
                 Message-ID này trong nhật ký máy chủ thư, nếu đơn vị chưa nhận thì dùng --resend {}",
                local_time(*since),
                self.key.recipient
            ),
            Outcome::InProgress { since, message_id } => write!(
                f,
                " — một tiến trình khác đang gửi từ {}, Message-ID {message_id}",
                local_time(*since)
            ),
            Outcome::NotTried { reason } if reason.is_empty() => Ok(()),
            Outcome::NotTried { reason } => write!(f, " — {reason}"),
        }
    }
}

impl fmt::Display for SendReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for key in &self.recovered {
            writeln!(
                f,
                "Không rõ kết quả: {key} — một lần chạy trước đã dừng giữa lúc gửi; thư này không \
                 được gửi lại tự động."
            )?;
        }
        for document in &self.documents {
            let what = match &document.unit {
                Some(unit) => format!("{} ({unit})", document.kind.slug()),
                None => document.kind.slug().to_owned(),
            };
            let state = if self.dry_run {
                "dự thảo"
            } else if document.reused {
                "đã ban hành trước đó"
            } else {
                "ban hành"
            };
            writeln!(f, "Văn bản {what}: số {} — {state}", document.number)?;
        }
        for delivery in &self.deliveries {
            writeln!(f, "{delivery}")?;
        }
        for note in &self.notes {
            writeln!(f, "Lưu ý: {note}")?;
        }
        let count = |f: fn(&Outcome) -> bool| self.count(f);
        if self.dry_run {
            write!(
                f,
                "Kỳ {}: {} thư (chạy thử, không gửi) — ghi {} tệp .eml vào {}, đã gửi trước đó {}, lỗi {}, không rõ kết quả {}.",
                self.period,
                self.deliveries.len(),
                count(|o| matches!(o, Outcome::Written { .. })),
                self.outbox
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                count(|o| matches!(o, Outcome::AlreadySent { .. })),
                count(|o| matches!(o, Outcome::Failed { .. })),
                count(|o| matches!(o, Outcome::Unknown { .. } | Outcome::InProgress { .. })),
            )?;
        } else {
            write!(
                f,
                "Kỳ {}: {} thư — đã gửi {}, đã gửi trước đó {}, lỗi {}, không rõ kết quả {}, chưa gửi {}.",
                self.period,
                self.deliveries.len(),
                count(|o| matches!(o, Outcome::Sent { .. })),
                count(|o| matches!(o, Outcome::AlreadySent { .. })),
                count(|o| matches!(o, Outcome::Failed { .. })),
                count(|o| matches!(o, Outcome::Unknown { .. } | Outcome::InProgress { .. })),
                count(|o| matches!(o, Outcome::NotTried { .. })),
            )?;
        }
        if self.stopped {
            write!(f, " Đã dừng trước khi xong.")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use chrono::TimeZone;
    use std::cell::RefCell;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

    /// Stands in for the PDF and DOCX backends: bytes that show the number printed.
    struct Fake(&'static str);

    impl Renderer for Fake {
        fn name(&self) -> &'static str {
            self.0
        }
        fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
            // The content's hash too, so an edited period renders different bytes.
            let content = serde_json::to_vec(&document.context).unwrap();
            Ok(format!(
                "{} {} {} {}",
                self.0,
                document.label(),
                document.context.header.number,
                &sha256_hex(&content)[..8]
            )
            .into_bytes())
        }
    }

    struct Fixture {
        dir: tempfile::TempDir,
        config: Config,
        store: Store,
        lock: InstanceLock,
        clock: FixedClock,
    }

    impl Fixture {
        /// The sample period and directory; SMTP at a port where nothing listens.
        fn new(extra: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            for name in ["dam-ha-2024-h1.toml", "directory.toml"] {
                std::fs::copy(Path::new(SAMPLES).join(name), dir.path().join(name)).unwrap();
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let text = format!(
                "directory = \"directory.toml\"\n{extra}\n[sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\n\
                 address = \"vanphong@damha.example\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
                 security = \"none\"\ntimeout_seconds = 2\nmax_attempts = 2\nretry_delay_seconds = 7\n"
            );
            let config_path = dir.path().join("vanban.toml");
            let config = Config::parse(&config_path, &text, &|_| None).unwrap();
            let store = Store::open(&config.state).unwrap();
            let clock = FixedClock::new(Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap());
            let lock = InstanceLock::acquire(&config.state, clock.now()).unwrap();
            Fixture {
                dir,
                config,
                store,
                lock,
                clock,
            }
        }

        fn period(&self) -> PathBuf {
            self.dir.path().join("dam-ha-2024-h1.toml")
        }

        fn send(
            &self,
            options: &SendOptions,
            slept: &RefCell<Vec<Duration>>,
        ) -> Result<SendReport, DeliverError> {
            let (pdf, docx) = (Fake("pdf"), Fake("docx"));
            let renderers: [&dyn Renderer; 2] = [&pdf, &docx];
            let sleep = |d: Duration| slept.borrow_mut().push(d);
            let env = SendEnv {
                config: &self.config,
                store: &self.store,
                lock: &self.lock,
                clock: &self.clock,
                renderers: &renderers,
                sleep: &sleep,
            };
            send_period(&env, &self.period(), options, &AtomicBool::new(false))
        }

        fn status(&self) -> PeriodStatus {
            period_status(
                &self.config,
                &self.store,
                &self.period(),
                self.clock.today_in(VIETNAM),
                false,
            )
            .unwrap()
        }
    }

    #[test]
    fn dry_run_writes_every_message_and_records_nothing() {
        let f = Fixture::new("");
        let slept = RefCell::new(Vec::new());
        let options = SendOptions {
            dry_run: true,
            ..SendOptions::default()
        };
        let report = f.send(&options, &slept).unwrap();
        // 4 members of report_to, 10 units with tasks.
        assert_eq!(report.deliveries.len(), 14);
        assert!(report.all_delivered(), "{report}");
        assert_eq!(report.count(|o| matches!(o, Outcome::Written { .. })), 14);
        let outbox = f.config.outbox.join("2024-h1");
        assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 14);

        let letter = report
            .deliveries
            .iter()
            .find(|d| d.key.recipient == "bqlda" && d.message == MessageKind::LetterAndNotice)
            .unwrap();
        let Outcome::Written { path } = &letter.outcome else {
            panic!("{letter}")
        };
        // Headers unfolded (RFC 5322: CRLF followed by white space is white space).
        let eml = String::from_utf8(std::fs::read(path).unwrap())
            .unwrap()
            .replace("\r\n ", " ");
        // Letter in both formats, notice as PDF only, numbers blank.
        for name in [
            "UBND-NLN Cong van giao nhiem vu (du thao).pdf",
            "UBND-NLN Cong van giao nhiem vu (du thao).docx",
            "TB-UBND Thong bao ket luan (du thao).pdf",
        ] {
            assert!(eml.contains(&format!("name=\"{name}\"")), "{name}");
        }
        assert!(!eml.contains("Thong bao ket luan (du thao).docx"));
        assert_eq!(eml.matches("Content-Disposition: attachment").count(), 3);
        assert!(eml.contains("Message-ID: <"), "{eml}");
        assert!(eml.contains(&letter.message_id));

        // Nothing in the ledger or the register, no document filed.
        let status = f.status();
        assert!(status.lines.iter().all(|l| l.record.is_none()));
        assert!(status.issued.is_empty() && status.reserved.is_empty());
        assert!(!f.config.output_dir.join("2024-h1").exists());
        assert!(slept.borrow().is_empty());
    }

    #[test]
    fn a_send_after_new_year_keeps_last_years_numbers_dates_and_files() {
        let f = Fixture::new("");
        // No issue date in the period file: the documents are dated the day they are issued.
        let text = std::fs::read_to_string(f.period()).unwrap();
        std::fs::write(f.period(), text.replace("date = 2024-06-25\n", "")).unwrap();
        f.clock
            .set(Utc.with_ymd_and_hms(2024, 12, 31, 3, 0, 0).unwrap());
        let slept = RefCell::new(Vec::new());
        let first = f.send(&SendOptions::default(), &slept).unwrap();
        assert!(!first.all_delivered(), "the server is down: {first}");
        let numbers = |r: &SendReport| -> Vec<String> {
            r.documents.iter().map(|d| d.number.clone()).collect()
        };
        assert_eq!(numbers(&first)[..2], ["01/BC-UBND", "02/TB-UBND"]);
        let filed = f.config.output_dir.join("2024-h1");
        let notice_path = filed.join("02-TB-UBND Thong bao ket luan.pdf");
        let notice = std::fs::read(&notice_path).unwrap();

        // The missing messages go out on 2 January.
        f.clock
            .set(Utc.with_ymd_and_hms(2025, 1, 2, 3, 0, 0).unwrap());
        let second = f.send(&SendOptions::default(), &slept).unwrap();
        assert_eq!(numbers(&second), numbers(&first));
        assert!(second.documents.iter().all(|d| d.reused), "{second}");
        assert_eq!(std::fs::read(&notice_path).unwrap(), notice);
        // Nothing issued or reserved in 2025 (status reads both years).
        let status = f.status();
        assert_eq!(status.issued.len(), 12);
        assert!(status.reserved.is_empty());
        assert!(
            status.issued.iter().all(|e| e.year == 2024
                && e.issued.as_ref().unwrap().document.date
                    == NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()),
            "{:?}",
            status.issued
        );
    }

    #[test]
    fn a_letter_issued_after_the_notice_cites_the_notices_date() {
        /// Files hold the whole context, so the letter's reference to the notice can be read.
        struct Json;
        impl Renderer for Json {
            fn name(&self) -> &'static str {
                "pdf"
            }
            fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
                Ok(serde_json::to_vec(&document.context).unwrap())
            }
        }
        let f = Fixture::new("");
        let text = std::fs::read_to_string(f.period()).unwrap();
        std::fs::write(f.period(), text.replace("date = 2024-06-25\n", "")).unwrap();
        let send = || {
            let renderers: [&dyn Renderer; 1] = [&Json];
            let env = SendEnv {
                config: &f.config,
                store: &f.store,
                lock: &f.lock,
                clock: &f.clock,
                renderers: &renderers,
                sleep: &|_| {},
            };
            send_period(
                &env,
                &f.period(),
                &SendOptions::default(),
                &AtomicBool::new(false),
            )
            .unwrap()
        };
        // 25/6: the notice and the letters are issued (the server is down: nothing delivered).
        send();
        // 28/6: a task for the Office is added; its letter is issued then, the notice reused.
        let text = std::fs::read_to_string(f.period()).unwrap();
        std::fs::write(
            f.period(),
            format!("{text}\n[[tasks]]\nto = [\"vp\"]\ntext = \"Tổng hợp kết quả thực hiện\"\n"),
        )
        .unwrap();
        f.clock
            .set(Utc.with_ymd_and_hms(2024, 6, 28, 3, 0, 0).unwrap());
        let report = send();
        let notice = report
            .documents
            .iter()
            .find(|d| d.kind == DocumentKind::ConclusionNotice)
            .unwrap();
        assert!(notice.reused, "{report}");
        let letter = report
            .documents
            .iter()
            .find(|d| d.unit.as_deref() == Some("vp"))
            .unwrap();
        assert!(!letter.reused);
        let context: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&letter.paths[0]).unwrap()).unwrap();
        let notice_ref = context["letter"]["notice_ref"].as_str().unwrap();
        assert_eq!(notice_ref, "Thông báo số 02/TB-UBND ngày 25/6/2024");
        assert!(
            context["header"]["place_date"]
                .to_string()
                .contains("28 tháng 6 năm 2024"),
            "{}",
            context["header"]
        );
    }

    #[test]
    fn server_down_issues_once_records_transient_failures_and_reuses_the_documents() {
        let f = Fixture::new("");
        let slept = RefCell::new(Vec::new());
        let report = f.send(&SendOptions::default(), &slept).unwrap();
        assert!(!report.all_delivered());
        assert_eq!(
            report.count(|o| matches!(
                o,
                Outcome::Failed {
                    permanent: false,
                    attempts: 2,
                    ..
                }
            )),
            14,
            "{report}"
        );
        // One retry round, with the configured delay.
        assert_eq!(*slept.borrow(), [Duration::from_secs(7)]);
        let numbers: Vec<String> = report.documents.iter().map(|d| d.number.clone()).collect();
        assert_eq!(numbers[..3], ["01/BC-UBND", "02/TB-UBND", "03/UBND-NLN"]);
        assert_eq!(numbers.last().unwrap(), "12/UBND-NLN");
        // Letters numbered in directory order: pnn is the first unit with tasks.
        assert_eq!(report.documents[2].unit.as_deref(), Some("pnn"));
        assert!(report.documents.iter().all(|d| !d.reused));
        let filed = f.config.output_dir.join("2024-h1");
        let notice = std::fs::read(filed.join("02-TB-UBND Thong bao ket luan.pdf")).unwrap();
        assert!(
            String::from_utf8(notice)
                .unwrap()
                .starts_with("pdf conclusion-notice Số: 02/TB-UBND "),
        );
        assert!(
            filed
                .join("03-UBND-NLN Cong van giao nhiem vu.docx")
                .exists()
        );

        let status = f.status();
        assert_eq!(status.issued.len(), 12);
        assert!(status.reserved.is_empty());
        assert!(
            status
                .lines
                .iter()
                .all(|l| l.shown_state(false) == DeliveryState::Failed)
        );
        let text = status.to_string();
        assert!(text.contains("lỗi tạm thời"), "{text}");
        assert!(text.contains("Tổng: gửi lỗi 14."), "{text}");

        // Next run: the same numbers, the documents attached as filed (even if the period file
        // changed meanwhile), two more attempts each.
        let period = std::fs::read_to_string(f.period()).unwrap();
        std::fs::write(
            f.period(),
            period.replace("Đẩy nhanh tiến độ", "Khẩn trương đẩy nhanh"),
        )
        .unwrap();
        f.clock.advance(chrono::Duration::days(1));
        let again = f
            .send(&SendOptions::default(), &RefCell::default())
            .unwrap();
        let numbers_again: Vec<String> = again.documents.iter().map(|d| d.number.clone()).collect();
        assert_eq!(numbers_again, numbers);
        assert!(again.documents.iter().all(|d| d.reused), "{again}");
        let records = ledger_records(&f.store, &load(&f)).unwrap();
        assert!(records.values().all(|r| r.attempts.len() == 4));
    }

    fn load(f: &Fixture) -> Period {
        input::load_period(
            &f.period(),
            f.config.directory.as_deref(),
            f.clock.today_in(VIETNAM),
        )
        .unwrap()
    }

    #[test]
    fn an_issued_document_already_delivered_is_never_sent_in_another_version() {
        let f = Fixture::new("");
        f.send(&SendOptions::default(), &RefCell::default())
            .unwrap();
        // As if pnn had received its letter and the notice.
        let period = load(&f);
        let key = DeliveryKey::new(
            ledger_issuer(&period, MessageKind::LetterAndNotice),
            "2024-h1",
            "letter-and-notice",
            "pnn",
        );
        let ledger = Ledger::new(&f.store);
        let Begin::Proceed { attempt } = ledger.begin(&key, "<x@y>", f.clock.now(), false).unwrap()
        else {
            panic!("not proceed")
        };
        ledger
            .mark_sent(&key, attempt, f.clock.now(), "250 OK")
            .unwrap();

        // The notice's file is lost: rebuilt identical from the same data, and filed again.
        let notice = f
            .config
            .output_dir
            .join("2024-h1/02-TB-UBND Thong bao ket luan.pdf");
        let filed = std::fs::read(&notice).unwrap();
        std::fs::remove_file(&notice).unwrap();
        let report = f
            .send(&SendOptions::default(), &RefCell::default())
            .unwrap();
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("02/TB-UBND") && n.contains("giống hệt")),
            "{report}"
        );
        assert_eq!(std::fs::read(&notice).unwrap(), filed);

        // Lost again after the conclusions changed: refused, nothing sent, file not replaced.
        std::fs::remove_file(&notice).unwrap();
        let text = std::fs::read_to_string(f.period()).unwrap();
        std::fs::write(
            f.period(),
            text.replace("Đẩy nhanh tiến độ", "Khẩn trương đẩy nhanh"),
        )
        .unwrap();
        let error = f
            .send(&SendOptions::default(), &RefCell::default())
            .unwrap_err();
        assert!(
            matches!(error, DeliverError::IssuedChanged { .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("02-TB-UBND Thong bao ket luan.pdf"),
            "{error}"
        );
        assert!(!notice.exists());
        let records = ledger_records(&f.store, &load(&f)).unwrap();
        // 14 messages × 2 attempts, pnn's by hand, 13 × 2 in the second run, none in the third.
        let attempts: usize = records.values().map(|r| r.attempts.len()).sum();
        assert_eq!(attempts, 14 * 2 + 1 + 13 * 2);
    }

    #[test]
    fn a_template_error_sends_nothing_and_issues_no_number() {
        let f = Fixture::new("templates_dir = \"templates\"");
        let email = f.dir.path().join("templates/email");
        std::fs::create_dir_all(&email).unwrap();
        std::fs::write(
            email.join("letter-and-notice.body.txt"),
            "Kính gửi {{ unit.name }}, {{ unit.giam_doc }}",
        )
        .unwrap();
        let error = f
            .send(&SendOptions::default(), &RefCell::default())
            .unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, DeliverError::Invalid(_)), "{text}");
        assert!(text.contains("không gửi thư nào"), "{text}");
        assert!(
            text.contains("quang-lam (Ủy ban nhân dân xã Quảng Lâm)"),
            "{text}"
        );
        assert!(text.contains("giam_doc"), "{text}");
        let status = f.status();
        assert!(status.issued.is_empty() && status.reserved.is_empty());
        assert!(status.lines.iter().all(|l| l.record.is_none()));
    }

    #[test]
    fn a_number_typed_in_the_period_file_is_refused_when_sending() {
        let f = Fixture::new("");
        let period = std::fs::read_to_string(f.period()).unwrap();
        std::fs::write(
            f.period(),
            period.replace(
                "conclusion_notice = { signer",
                "conclusion_notice = { number = 125, signer",
            ),
        )
        .unwrap();
        let text = f
            .send(&SendOptions::default(), &RefCell::default())
            .unwrap_err()
            .to_string();
        assert!(text.contains("125/TB-UBND"), "{text}");
        // A dry run shows it as typed.
        let dry = f
            .send(
                &SendOptions {
                    dry_run: true,
                    ..SendOptions::default()
                },
                &RefCell::default(),
            )
            .unwrap();
        assert!(dry.documents.iter().any(|d| d.number == "125/TB-UBND"));
    }

    #[test]
    fn resend_and_only_select_messages() {
        let f = Fixture::new("");
        let error = f
            .send(
                &SendOptions {
                    resend: Some("khong-co".into()),
                    ..SendOptions::default()
                },
                &RefCell::default(),
            )
            .unwrap_err();
        assert!(
            matches!(error, DeliverError::NotARecipient { .. }),
            "{error}"
        );
        // vp has no task: no letter for it.
        let error = f
            .send(
                &SendOptions {
                    resend: Some("vp".into()),
                    only: vec![DocumentKind::AssignmentLetter],
                    dry_run: true,
                },
                &RefCell::default(),
            )
            .unwrap_err();
        assert!(error.to_string().contains("vp"), "{error}");
        let report = f
            .send(
                &SendOptions {
                    only: vec![DocumentKind::ReviewReport],
                    dry_run: true,
                    ..SendOptions::default()
                },
                &RefCell::default(),
            )
            .unwrap();
        assert_eq!(report.deliveries.len(), 4);
        assert!(
            report
                .deliveries
                .iter()
                .all(|d| d.message == MessageKind::ReviewReport)
        );
        assert_eq!(report.documents.len(), 1);
    }

    #[test]
    fn a_stop_request_before_the_first_message_sends_nothing() {
        let f = Fixture::new("");
        let (pdf, docx) = (Fake("pdf"), Fake("docx"));
        let renderers: [&dyn Renderer; 2] = [&pdf, &docx];
        let env = SendEnv {
            config: &f.config,
            store: &f.store,
            lock: &f.lock,
            clock: &f.clock,
            renderers: &renderers,
            sleep: &|_| {},
        };
        let report = send_period(
            &env,
            &f.period(),
            &SendOptions::default(),
            &AtomicBool::new(true),
        )
        .unwrap();
        assert!(report.stopped);
        assert!(!report.all_delivered());
        assert_eq!(report.count(|o| matches!(o, Outcome::NotTried { .. })), 14);
        assert!(f.status().lines.iter().all(|l| l.record.is_none()));
    }

    fn record(state: DeliveryState, outcomes: &[(AttemptOutcome, bool)]) -> DeliveryRecord {
        let t = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        DeliveryRecord {
            key: DeliveryKey::new("UBND", "2024-h1", "letter-and-notice", "pnn"),
            state,
            planned_at: t,
            updated_at: t,
            attempts: outcomes
                .iter()
                .enumerate()
                .map(|(i, (outcome, resend))| super::super::ledger::Attempt {
                    number: i as u32 + 1,
                    resend: *resend,
                    message_id: format!("<m{}@x>", i + 1),
                    started_at: t,
                    outcome: outcome.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn decisions_follow_the_ledger() {
        let t = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        let sent = AttemptOutcome::Sent {
            at: t,
            server_reply: "250".into(),
        };
        let failed = AttemptOutcome::Failed {
            at: t,
            reason: "451".into(),
            permanent: false,
        };
        let tag = |d: Decision| match d {
            Decision::Send { resend, again, tag } => format!("send {resend} {again} {tag}"),
            Decision::Done(o) => o.label_vi().to_owned(),
        };
        assert_eq!(tag(decide(None, false)), "send false false 1");
        assert_eq!(tag(decide(None, true)), "send true false 1");
        let failed_once = record(DeliveryState::Failed, &[(failed.clone(), false)]);
        assert_eq!(tag(decide(Some(&failed_once), false)), "send false false 1");
        assert_eq!(tag(decide(Some(&failed_once), true)), "send true false 1");
        let delivered = record(
            DeliveryState::Sent,
            &[(failed.clone(), false), (sent.clone(), false)],
        );
        assert_eq!(tag(decide(Some(&delivered), false)), "đã gửi trước đó");
        assert_eq!(tag(decide(Some(&delivered), true)), "send true true r3");
        // A failed resend does not make a sent letter unsent.
        let resend_failed = record(DeliveryState::Failed, &[(sent, false), (failed, true)]);
        assert_eq!(tag(decide(Some(&resend_failed), false)), "đã gửi trước đó");
        let unknown = record(
            DeliveryState::Unknown,
            &[(AttemptOutcome::Unknown { found_at: t }, false)],
        );
        assert_eq!(tag(decide(Some(&unknown), false)), "không rõ kết quả");
        assert_eq!(tag(decide(Some(&unknown), true)), "send true true r2");
        let sending = record(DeliveryState::Sending, &[(AttemptOutcome::Sending, false)]);
        assert_eq!(tag(decide(Some(&sending), true)), "đang gửi");
    }

    #[test]
    fn attachment_names_are_readable_and_fold_to_ascii() {
        let name = attachment_name(
            DocumentKind::ConclusionNotice,
            Half::First,
            Some(125),
            "TB-UBND",
            "pdf",
        );
        assert_eq!(name, "125-TB-UBND Thông báo kết luận.pdf");
        assert_eq!(
            mail::ascii_file_name(&name),
            "125-TB-UBND Thong bao ket luan.pdf"
        );
        assert_eq!(
            attachment_name(
                DocumentKind::ReviewReport,
                Half::Whole,
                Some(3),
                "BC-UBND",
                "pdf"
            ),
            "03-BC-UBND Báo cáo tổng kết.pdf"
        );
        assert_eq!(
            attachment_name(
                DocumentKind::AssignmentLetter,
                Half::First,
                None,
                "UBND-NLN",
                "docx"
            ),
            "UBND-NLN Công văn giao nhiệm vụ (dự thảo).docx"
        );
    }
}
