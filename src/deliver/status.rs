//! `vanban status`: what the ledger and the register say of a period's messages and document
//! numbers, read without writing anything, and the report the office reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use chrono::{Datelike, NaiveDate};

use super::email::smtp;
use super::error::DeliverError;
use super::ledger::{AttemptOutcome, DeliveryKey, DeliveryRecord, DeliveryState};
use super::plan::{MessageKind, ledger_records, plan_deliveries};
use crate::clock::local_time;
use crate::config::Config;
use crate::input;
use crate::issue::approval::{self, Decision, DecisionRecord, Gate};
use crate::issue::filing::{DocId, IssueEnv, issuer_key};
use crate::issue::issued_content::{self, ChangedAfterIssue};
use crate::issue::register::{Register, RegisterEntry, base_key, document_key};
use crate::issue::replacement::{self, Replacement};
use crate::issue::signatures::{self, Role, SignatureRecord};
use crate::model::DocumentKind;
use crate::render;
use crate::state::Store;
use crate::vi;

/// One message's line in `status`.
#[derive(Debug, Clone)]
pub struct StatusLine {
    pub key: DeliveryKey,
    /// None for a ledger row the current period no longer plans (e.g. a unit since removed).
    pub message: Option<MessageKind>,
    pub unit_name: Option<String>,
    /// None: never tried (pending).
    pub record: Option<DeliveryRecord>,
}

/// What `vanban status` shows.
#[derive(Debug, Clone)]
pub struct PeriodStatus {
    pub period: String,
    pub label: String,
    pub lines: Vec<StatusLine>,
    /// Numbers issued for this period's documents.
    pub issued: Vec<RegisterEntry>,
    /// Numbers reserved for this period's documents but never issued.
    pub reserved: Vec<RegisterEntry>,
    /// The signatures of each issued document's filed PDFs, by (issuer, document key); only
    /// those that end in the file as filed (a re-issue's earlier signatures are history).
    pub signed: BTreeMap<(String, String), Vec<SignatureRecord>>,
    /// Register key → the document as a clerk names it ("Công văn giao nhiệm vụ – Xã Quảng Tân").
    pub labels: BTreeMap<String, String>,
    /// The issued numbers replaced (`vanban replace`), by (issuer, document key).
    pub replaced: BTreeMap<(String, String), Replacement>,
    /// Electronic copies made of the period's issued documents (`vanban copy`), oldest first.
    pub copies: Vec<crate::issue::copies::CopyRecord>,
    /// A live process holds the lock: "sending" rows are really in flight. Otherwise they were
    /// left by a dead process and are shown as unknown.
    pub sender_alive: bool,
    /// Each of the period's documents and the step it has reached.
    pub documents: Vec<DocumentStatus>,
}

/// Where one document stands: draft → waiting for approval → approved | returned → issued →
/// sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No decision recorded yet.
    Draft {
        approval_required: bool,
    },
    Waiting,
    Returned {
        by: String,
        reason: String,
    },
    Approved {
        by: String,
    },
    /// Approved, but the draft renders differently now (period file or template changed):
    /// found only by [`crate::issue::approval::gates`], which renders.
    Changed {
        by: String,
    },
    /// Numbered and filed; `sent` of `messages` messages carrying it have gone.
    Issued {
        number: String,
        sent: usize,
        messages: usize,
    },
}

impl Step {
    pub fn label_vi(&self) -> String {
        match self {
            Step::Draft {
                approval_required: true,
            } => "nháp (chưa trình duyệt)".to_owned(),
            Step::Draft {
                approval_required: false,
            } => "nháp (không cần duyệt trong vanban)".to_owned(),
            Step::Waiting => "chờ duyệt".to_owned(),
            Step::Returned { by, reason } => format!("bị trả lại: {reason} ({by})"),
            Step::Approved { by } => format!("đã duyệt ({by}); chưa ban hành"),
            Step::Changed { by } => {
                format!("nội dung đã thay đổi sau khi duyệt ({by} duyệt bản trước): cần duyệt lại")
            }
            Step::Issued {
                number,
                sent,
                messages,
            } if sent == messages && *messages > 0 => {
                format!("đã gửi — số {number}, {sent}/{messages} thư")
            }
            Step::Issued {
                number,
                sent,
                messages,
            } => format!("đã ban hành số {number}; đã gửi {sent}/{messages} thư"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DocumentStatus {
    pub id: DocId,
    pub step: Step,
    /// The newest approval decision, if any.
    pub decision: Option<DecisionRecord>,
    /// Issued, and its draft renders differently now than when it was issued: found only by
    /// [`check_drafts`], which renders.
    pub changed_after_issue: Option<ChangedAfterIssue>,
}

/// Reads the ledger and the register for a period, without writing anything. `sender_alive`:
/// whether a sending process holds the lock (see [`InstanceLock::is_held`](crate::state::InstanceLock::is_held)).
pub fn period_status(
    config: &Config,
    store: &Store,
    period_path: &Path,
    today: NaiveDate,
    sender_alive: bool,
) -> Result<PeriodStatus, DeliverError> {
    let period = input::load_period(period_path, config.directory.as_deref(), today)
        .map_err(DeliverError::Period)?;
    let mut records = ledger_records(store, &period)?;
    let mut lines: Vec<StatusLine> = plan_deliveries(&period, &[])
        .into_iter()
        .map(|d| StatusLine {
            record: records.remove(&d.key),
            key: d.key,
            message: Some(d.message),
            unit_name: Some(d.unit.name),
        })
        .collect();
    let mut rest: Vec<DeliveryRecord> = records.into_values().collect();
    rest.sort_by(|a, b| a.key.cmp(&b.key));
    for record in rest {
        lines.push(StatusLine {
            key: record.key.clone(),
            message: MessageKind::from_slug(&record.key.document),
            unit_name: period
                .directory
                .unit(&record.key.recipient)
                .map(|u| u.name.clone()),
            record: Some(record),
        });
    }

    let register = Register::new(store);
    let prefix = format!("{}/", period.key());
    let issuers: BTreeSet<String> = DocumentKind::ALL
        .iter()
        .map(|k| issuer_key(period.issuer_of(*k)))
        .collect();
    // Numbers run per issue year: that of the documents' date, which for a year-end review may
    // be January of the next year.
    let years: BTreeSet<i32> = [period.documents.date.year(), period.year, period.year + 1]
        .into_iter()
        .collect();
    let mut issued = Vec::new();
    let mut reserved = Vec::new();
    for issuer in &issuers {
        for &y in &years {
            issued.extend(
                register
                    .issued(issuer, y)?
                    .into_iter()
                    .filter(|e| e.document_key.starts_with(&prefix)),
            );
            reserved.extend(
                register
                    .reserved_unissued(issuer, y)?
                    .into_iter()
                    .filter(|e| e.document_key.starts_with(&prefix)),
            );
        }
    }
    let mut signed = BTreeMap::new();
    let mut replaced = BTreeMap::new();
    for entry in &issued {
        let Some(done) = &entry.issued else {
            continue;
        };
        if let Some(replacement) = replacement::of_entry(store, &entry.issuer, &entry.document_key)
            .map_err(crate::issue::register::RegisterError::Store)?
        {
            replaced.insert(
                (entry.issuer.clone(), entry.document_key.clone()),
                replacement,
            );
        }
        // Signatures are recorded under the document's own key, a replacement's too.
        let records = signatures::recorded(store, &entry.issuer, base_key(&entry.document_key))
            .map_err(crate::issue::register::RegisterError::Store)?;
        // The filed file's own signatures: the chain of records ending in its hash.
        let mut kept: Vec<SignatureRecord> = Vec::new();
        for file in &done.document.files {
            let Some(last) = records
                .iter()
                .rev()
                .find(|r| r.file_name == file.name && r.sha256 == file.sha256)
            else {
                continue;
            };
            kept.extend(
                records
                    .iter()
                    .filter(|r| r.file_name == file.name && r.signed_at == last.signed_at)
                    .cloned(),
            );
        }
        if !kept.is_empty() {
            signed.insert((entry.issuer.clone(), entry.document_key.clone()), kept);
        }
    }
    let labels = render::plan(&period, None, &|_, _| None)
        .iter()
        .map(|d| {
            let key = document_key(period.id(), d.kind.slug(), d.unit.as_deref());
            (key, d.label_vi())
        })
        .collect();
    let label = render::context::build(&period, DocumentKind::ConclusionNotice, None, None)
        .period
        .label;
    let ids: Vec<DocId> = render::plan(&period, None, &|_, _| None)
        .into_iter()
        .map(|d| DocId {
            kind: d.kind,
            unit: d.unit,
        })
        .collect();
    let mut decisions = approval::latest_decisions(store, &period, &ids)
        .map_err(|e| DeliverError::Approval(Box::new(e)))?;
    let deliveries = plan_deliveries(&period, &[]);
    let mut current = BTreeMap::new();
    for id in &ids {
        // The number a document holds now: after `vanban replace`, its replacement's.
        let issuer = issuer_key(period.issuer_of(id.kind));
        if let Some(entry) = register.find_issued(&issuer, &id.register_key(&period))? {
            current.insert(id.clone(), entry);
        }
    }
    let documents = ids
        .into_iter()
        .map(|id| {
            let decision = decisions.remove(&id);
            let step = if let Some(entry) = current.get(&id) {
                let carrying: Vec<&DeliveryKey> = deliveries
                    .iter()
                    .filter(|d| d.documents.contains(&id))
                    .map(|d| &d.key)
                    .collect();
                // Copies sent since this number was issued: a replaced number's copies do not
                // count for its replacement.
                let issued_at = entry.issued.as_ref().map(|i| i.at);
                let sent = lines
                    .iter()
                    .filter(|l| carrying.contains(&&l.key))
                    .filter(|l| {
                        l.record.as_ref().is_some_and(|r| {
                            r.sends()
                                .any(|a| issued_at.is_none_or(|at| a.started_at >= at))
                        })
                    })
                    .count();
                Step::Issued {
                    number: entry.number_and_symbol(),
                    sent,
                    messages: carrying.len(),
                }
            } else {
                match &decision {
                    None => Step::Draft {
                        approval_required: config.approval.required,
                    },
                    Some(d) => match d.decision {
                        Decision::Submitted => Step::Waiting,
                        Decision::Approved => Step::Approved { by: d.by.clone() },
                        Decision::Returned => Step::Returned {
                            by: d.by.clone(),
                            reason: d.note.clone().unwrap_or_default(),
                        },
                    },
                }
            };
            DocumentStatus {
                id,
                step,
                decision,
                changed_after_issue: None,
            }
        })
        .collect();
    Ok(PeriodStatus {
        period: period.key(),
        label,
        lines,
        issued,
        reserved,
        signed,
        labels,
        replaced,
        copies: crate::issue::copies::copies_of_period(store, &period)
            .map_err(crate::issue::register::RegisterError::Store)?,
        sender_alive,
        documents,
    })
}

/// Renders the drafts of the documents shown as approved and marks those whose content is no
/// longer what was approved (the period file or a template changed since): `send` would hold
/// them; and of the issued documents whose issued content is recorded, marking those whose
/// draft changed after the number was given (`send` re-sends the filed version, never a new
/// one). Only `vanban status` pays for this rendering; the web page shows the recorded step.
pub fn check_drafts(
    status: &mut PeriodStatus,
    env: &IssueEnv<'_>,
    config: &Config,
    period_path: &Path,
    today: NaiveDate,
) -> Result<(), DeliverError> {
    let approved: Vec<DocId> = status
        .documents
        .iter()
        .filter(|d| matches!(d.step, Step::Approved { .. }))
        .map(|d| d.id.clone())
        .collect();
    let issued: Vec<DocId> = status
        .documents
        .iter()
        .filter(|d| matches!(d.step, Step::Issued { .. }))
        .map(|d| d.id.clone())
        .collect();
    if approved.is_empty() && issued.is_empty() {
        return Ok(());
    }
    let period = input::load_period(period_path, config.directory.as_deref(), today)
        .map_err(DeliverError::Period)?;
    let gates = if approved.is_empty() {
        BTreeMap::new()
    } else {
        approval::gates(env, &period, &approved).map_err(|e| DeliverError::Approval(Box::new(e)))?
    };
    let mut changed = if issued.is_empty() {
        BTreeMap::new()
    } else {
        issued_content::check(env, &period, &issued)
            .map_err(|e| DeliverError::Approval(Box::new(e)))?
    };
    for document in &mut status.documents {
        if let (Some(Gate::Changed { by, .. }), Step::Approved { .. }) =
            (gates.get(&document.id), &document.step)
        {
            document.step = Step::Changed { by: by.clone() };
        }
        document.changed_after_issue = changed.remove(&document.id);
    }
    Ok(())
}

impl StatusLine {
    /// The state as shown: a "sending" row with no live sender is unknown.
    pub fn shown_state(&self, sender_alive: bool) -> DeliveryState {
        match self.record.as_ref().map(|r| r.state) {
            None => DeliveryState::Pending,
            Some(DeliveryState::Sending) if !sender_alive => DeliveryState::Unknown,
            Some(state) => state,
        }
    }

    fn detail(&self, sender_alive: bool) -> String {
        let Some(record) = &self.record else {
            return String::new();
        };
        let Some(latest) = record.latest() else {
            return String::new();
        };
        let sends: Vec<_> = record.sends().collect();
        let mut text = match &latest.outcome {
            AttemptOutcome::Sent { at, server_reply } => {
                let mut text = format!("lúc {}, Message-ID {}", local_time(*at), latest.message_id);
                if let Some(refused) = smtp::refused_in_reply(server_reply) {
                    text.push_str(&format!("; không gửi tới được {refused}"));
                }
                text
            }
            AttemptOutcome::Failed {
                at,
                reason,
                permanent,
            } => format!(
                "{} lúc {} (lần thử thứ {}): {reason}",
                if *permanent {
                    "lỗi vĩnh viễn"
                } else {
                    "lỗi tạm thời"
                },
                local_time(*at),
                latest.number
            ),
            AttemptOutcome::Unknown { .. } => format!(
                "bắt đầu gửi lúc {}, Message-ID {}: tìm Message-ID này trong nhật ký máy chủ \
                 thư; nếu đơn vị chưa nhận, dùng {}",
                local_time(latest.started_at),
                latest.message_id,
                resend_hint(&self.key)
            ),
            AttemptOutcome::Sending if sender_alive => format!(
                "từ {}, Message-ID {}",
                local_time(latest.started_at),
                latest.message_id
            ),
            AttemptOutcome::Sending => format!(
                "tiến trình gửi đã dừng giữa chừng lúc gửi (bắt đầu {}), Message-ID {}: tìm \
                 Message-ID này trong nhật ký máy chủ thư; lần send sau không gửi lại thư này",
                local_time(latest.started_at),
                latest.message_id
            ),
        };
        // Several instances on one PostgreSQL database: which one sent (or was sending) it.
        if let Some(instance) = &latest.instance {
            text.push_str(&format!("; tiến trình {instance}"));
        }
        let resends = record.attempts.iter().filter(|a| a.resend).count();
        if sends.len() > 1 || resends > 0 {
            text.push_str(&format!(
                "; đã gửi {} lần ({} lần gửi lại theo yêu cầu)",
                sends.len(),
                resends
            ));
        }
        if !matches!(latest.outcome, AttemptOutcome::Sent { .. })
            && let Some(sent) = sends.last()
            && let AttemptOutcome::Sent { at, .. } = &sent.outcome
        {
            text.push_str(&format!(
                "; lần gửi được gần nhất lúc {}, Message-ID {}",
                local_time(*at),
                sent.message_id
            ));
        }
        text
    }
}

impl fmt::Display for PeriodStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Kỳ {} ({})", self.period, self.label)?;
        writeln!(f, "Văn bản ({}):", self.documents.len())?;
        for document in &self.documents {
            write!(
                f,
                "  {}: {}",
                approval::document_label(&document.id),
                document.step.label_vi()
            )?;
            if let Some(decision) = &document.decision
                && !matches!(document.step, Step::Draft { .. })
            {
                write!(
                    f,
                    " — {} lúc {}, nội dung sha256 {}…",
                    decision.decision.label_vi(),
                    local_time(decision.at),
                    &decision.content_sha256[..12]
                )?;
            }
            if let Some(change) = &document.changed_after_issue {
                write!(
                    f,
                    " — {change}. Muốn thay thế, dùng {}",
                    change.replace_hint(&self.period)
                )?;
            }
            writeln!(f)?;
        }
        writeln!(f, "Thư ({}):", self.lines.len())?;
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for line in &self.lines {
            let state = line.shown_state(self.sender_alive);
            *counts.entry(state.label_vi()).or_default() += 1;
            let what = line
                .message
                .map(MessageKind::label_vi)
                .unwrap_or(line.key.document.as_str());
            let detail = line.detail(self.sender_alive);
            write!(
                f,
                "  {:<17} {} ({}): {what}",
                state.label_vi(),
                line.key.recipient,
                line.unit_name
                    .as_deref()
                    .unwrap_or("không còn trong danh bạ"),
            )?;
            if detail.is_empty() {
                writeln!(f)?;
            } else {
                writeln!(f, " — {detail}")?;
            }
        }
        if self.issued.is_empty() {
            writeln!(f, "Số văn bản đã cấp: chưa có.")?;
        } else {
            writeln!(f, "Số văn bản đã cấp:")?;
            for entry in &self.issued {
                let Some(issued) = &entry.issued else {
                    continue;
                };
                writeln!(
                    f,
                    "  {:<14} ngày {} — {} — {}nơi nhận: {} — tệp: {}",
                    entry.number_and_symbol(),
                    vi::short_date(issued.document.date),
                    entry.document_key,
                    self.label_of(entry),
                    issued.document.recipients.join(", "),
                    issued
                        .document
                        .files
                        .iter()
                        .map(|file| format!("{} (sha256 {}…)", file.name, &file.sha256[..12]))
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
                let key = (entry.issuer.clone(), entry.document_key.clone());
                if let Some(replacement) = self.replaced.get(&key) {
                    writeln!(f, "  {:<14} {replacement}", "")?;
                }
                match self.signed.get(&key) {
                    Some(records) => {
                        let mut seen: Vec<String> = Vec::new();
                        for r in records {
                            let role = match r.role {
                                Role::Signer => "người ký",
                                Role::Organisation => "cơ quan",
                            };
                            let who = format!("{} ({role})", r.subject);
                            if !seen.contains(&who) {
                                seen.push(who);
                            }
                        }
                        writeln!(
                            f,
                            "  {:<14} đã ký số lúc {}: {}",
                            "",
                            local_time(records[0].signed_at),
                            seen.join(", rồi ")
                        )?;
                    }
                    None => writeln!(f, "  {:<14} chưa ký số", "")?,
                }
                let number = entry.number_and_symbol();
                for copy in self.copies.iter().filter(|c| c.number == number) {
                    writeln!(f, "  {:<14} {copy}", "")?;
                }
            }
        }
        if !self.reserved.is_empty() {
            writeln!(
                f,
                "Số đã giữ nhưng chưa cấp (một lần gửi trước dừng trước khi ban hành; lần gửi sau \
                 dùng lại đúng số này cho đúng văn bản này):"
            )?;
            for entry in &self.reserved {
                writeln!(
                    f,
                    "  {:<14} {} — {}giữ lúc {}",
                    entry.number_and_symbol(),
                    entry.document_key,
                    self.label_of(entry),
                    local_time(entry.reserved_at)
                )?;
            }
        }
        let summary: Vec<String> = counts
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
        write!(f, "Tổng: {}.", summary.join(", "))
    }
}

impl PeriodStatus {
    /// "Công văn giao nhiệm vụ – Xã Quảng Tân — " for an entry of a planned document, "" else.
    /// A replacement (`<key>#2`) is labelled as the document it replaces.
    fn label_of(&self, entry: &RegisterEntry) -> String {
        self.labels
            .get(base_key(&entry.document_key))
            .map(|label| format!("{label} — "))
            .unwrap_or_default()
    }
}

/// The command that sends again exactly the message of `key`, and nothing else: without
/// `--only`, `--resend UNIT` would also resend that unit's other, delivered messages.
fn resend_hint(key: &DeliveryKey) -> String {
    match MessageKind::from_slug(&key.document).and_then(|k| k.documents().first().copied()) {
        Some(document) => format!("send --resend {} --only {}", key.recipient, document.slug()),
        None => format!("send --resend {}", key.recipient),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(document: &str) -> DeliveryKey {
        DeliveryKey {
            issuer: "ubnd/đầm hà".into(),
            period: crate::model::PeriodId::new(2024, crate::model::Half::First),
            document: document.into(),
            recipient: "u03".into(),
        }
    }

    #[test]
    fn the_hint_for_an_unknown_message_names_exactly_that_message() {
        assert_eq!(
            resend_hint(&key("letter-and-notice")),
            "send --resend u03 --only assignment-letter"
        );
        assert_eq!(
            resend_hint(&key("review-report")),
            "send --resend u03 --only review-report"
        );
    }
}
