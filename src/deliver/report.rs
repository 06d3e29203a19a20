//! The report of a run: what happened to each message and which documents were issued, as
//! `vanban send` prints it and the service logs it.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::ledger::DeliveryKey;
use super::plan::MessageKind;
use super::transport::SendError;
use crate::clock::local_time;
use crate::issue::approval::Gate;
use crate::model::DocumentKind;

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
    /// Not sent, no number used: a document it carries is not approved with the content it has
    /// now (`[approval] required`). Each such document's name and where it stands.
    NotApproved { documents: Vec<(String, Gate)> },
}

impl Outcome {
    /// The last attempt's error, after `attempts` attempts.
    pub fn failed(error: &SendError, attempts: u32) -> Outcome {
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
            Outcome::NotApproved { documents } => {
                let gates = || documents.iter().map(|(_, gate)| gate);
                if gates().any(|g| matches!(g, Gate::Returned { .. })) {
                    "bị trả lại"
                } else if gates().any(|g| matches!(g, Gate::Changed { .. })) {
                    "đổi sau khi duyệt"
                } else {
                    "chờ duyệt"
                }
            }
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
    /// "Công văn giao nhiệm vụ – Xã Quảng Tân".
    pub label: String,
    pub unit: Option<String>,
    /// "02/TB-UBND", "…/TB-UBND" in a dry run.
    pub number: String,
    /// Where the files are (real runs).
    pub paths: Vec<PathBuf>,
    /// Issued in an earlier run and attached as filed then.
    pub reused: bool,
}

/// The result of one run of `vanban send`, as the send workflow reports it.
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
            } => {
                // The "when" of a retry comes after the count, never "… lần chạy sau sau 3 lần".
                let (what, then) = match permanent {
                    true => ("lỗi vĩnh viễn, không thử lại", ""),
                    false => ("lỗi tạm thời", ", sẽ gửi lại ở lần chạy sau"),
                };
                write!(f, " — {what} sau {attempts} lần thử{then}: {reason}")
            }
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
            Outcome::NotApproved { documents } => {
                let what: Vec<String> = documents
                    .iter()
                    .map(|(label, gate)| format!("{label}: {gate}"))
                    .collect();
                write!(f, " — chưa gửi, chưa cấp số: {}", what.join("; "))
            }
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
            let what = &document.label;
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
        let held = self.count(|o| matches!(o, Outcome::NotApproved { .. }));
        if held > 0 {
            write!(
                f,
                " {held} thư chưa gửi vì văn bản chưa được duyệt đúng nội dung hiện tại \
                 (vanban approve)."
            )?;
        }
        if self.stopped {
            write!(f, " Đã dừng trước khi xong.")?;
        }
        Ok(())
    }
}
