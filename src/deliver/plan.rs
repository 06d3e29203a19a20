//! The plan of a run: which messages the period has (one per unit with tasks, carrying its
//! assignment letter and the conclusion notice; the review report to each member of the
//! `report_to` group), and what the ledger says should happen to each. Nothing is rendered,
//! numbered or sent here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::error::{DeliverError, SendProblem};
use super::ledger::{
    AttemptOutcome, DeliveryKey, DeliveryRecord, DeliveryState, Ledger, LedgerError,
};
use super::report::{DeliveryReport, Outcome};
use crate::config::Config;
use crate::issue::approval::{Gate, document_label};
use crate::issue::filing::{DocId, ReadyDocument, issuer_key};
use crate::model::{DocumentKind, Period, Unit};
use crate::state::Store;
use chrono::{DateTime, Utc};

/// The kinds of message a period sends, whatever carries them: each names its documents and
/// is the `document` part of the ledger key (an email has a subject and a body template per
/// kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKind {
    /// To each unit with tasks: its assignment letter and the conclusion notice.
    LetterAndNotice,
    /// To each member of the directory's `report_to` group: the review report.
    ReviewReport,
}

impl MessageKind {
    pub const ALL: [MessageKind; 2] = [MessageKind::ReviewReport, MessageKind::LetterAndNotice];

    /// The `document` part of the ledger key, and the email templates' name stem.
    pub fn slug(self) -> &'static str {
        match self {
            MessageKind::LetterAndNotice => "letter-and-notice",
            MessageKind::ReviewReport => "review-report",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The documents attached, in attachment order.
    pub fn documents(self) -> &'static [DocumentKind] {
        match self {
            MessageKind::LetterAndNotice => &[
                DocumentKind::AssignmentLetter,
                DocumentKind::ConclusionNotice,
            ],
            MessageKind::ReviewReport => &[DocumentKind::ReviewReport],
        }
    }

    /// For `status` and the report lines.
    pub fn label_vi(self) -> &'static str {
        match self {
            MessageKind::LetterAndNotice => "công văn giao nhiệm vụ + thông báo kết luận",
            MessageKind::ReviewReport => "báo cáo",
        }
    }

    /// Whether a run restricted to `only` (empty: everything) sends this kind. The letter and the
    /// notice travel together, so naming either selects the message.
    pub fn selected_by(self, only: &[DocumentKind]) -> bool {
        only.is_empty() || self.documents().iter().any(|d| only.contains(d))
    }
}

/// One message to one unit.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: MessageKind,
    pub unit: Unit,
    pub key: DeliveryKey,
    /// The documents it carries, in attachment order.
    pub documents: Vec<DocId>,
}

impl Delivery {
    /// The documents this message carries, from those prepared for the run.
    pub fn carried<'a>(
        &self,
        prepared: &'a BTreeMap<DocId, ReadyDocument>,
    ) -> Vec<&'a ReadyDocument> {
        self.documents
            .iter()
            .filter_map(|id| prepared.get(id))
            .collect()
    }
}

/// The issuer whose ledger keys a message kind uses: that of its principal document.
pub fn ledger_issuer(period: &Period, message: MessageKind) -> String {
    issuer_key(period.issuer_of(message.documents()[0]))
}

pub fn plan_deliveries(period: &Period, only: &[DocumentKind]) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    let key = |message: MessageKind, unit: &Unit| {
        DeliveryKey::new(
            ledger_issuer(period, message),
            period.id(),
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
pub fn ledger_records(
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
        for record in ledger.status(&issuer, period.id())? {
            records.insert(record.key.clone(), record);
        }
    }
    Ok(records)
}

/// What to do with one delivery, decided from the ledger before anything is rendered.
#[derive(Debug, Clone)]
pub enum Decision {
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

pub fn decide(record: Option<&DeliveryRecord>, resend: bool) -> Decision {
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
pub fn maybe_delivered(record: Option<&DeliveryRecord>) -> bool {
    record.is_some_and(|r| {
        r.sends().next().is_some()
            || matches!(r.state, DeliveryState::Unknown | DeliveryState::Sending)
    })
}

/// One message of the run: to whom, what the ledger decided, its Message-ID, and what happened.
#[derive(Debug, Clone)]
pub struct Pending {
    pub delivery: Delivery,
    pub decision: Decision,
    /// The Message-ID used (or that would be used) for this message.
    pub message_id: String,
    pub outcome: Outcome,
}

impl Pending {
    fn new(config: &Config, delivery: Delivery, decision: Decision) -> Pending {
        let (message_id, outcome) = match &decision {
            Decision::Send { tag, .. } => (
                message_id(config, &delivery.key, tag),
                Outcome::NotTried {
                    reason: "lần chạy dừng trước khi gửi thư này".to_owned(),
                },
            ),
            Decision::Done(outcome) => {
                let id = match outcome {
                    Outcome::AlreadySent { message_id, .. }
                    | Outcome::Unknown { message_id, .. }
                    | Outcome::InProgress { message_id, .. } => message_id.clone(),
                    _ => String::new(),
                };
                (id, outcome.clone())
            }
        };
        Pending {
            delivery,
            decision,
            message_id,
            outcome,
        }
    }

    /// Whether this run sends it.
    pub fn to_send(&self) -> bool {
        matches!(self.decision, Decision::Send { .. })
    }

    /// A deliberate second copy of a message sent before (or whose outcome is unknown).
    pub fn again(&self) -> bool {
        matches!(self.decision, Decision::Send { again: true, .. })
    }

    /// Asked for with `--resend` (the ledger allows a new attempt after a send).
    pub fn resend(&self) -> bool {
        matches!(self.decision, Decision::Send { resend: true, .. })
    }

    /// Its line in the run's report.
    pub fn into_report(self) -> DeliveryReport {
        DeliveryReport {
            key: self.delivery.key,
            message: self.delivery.message,
            unit_name: self.delivery.unit.name,
            to: self.delivery.unit.emails,
            message_id: self.message_id,
            outcome: self.outcome,
        }
    }
}

/// What planning found besides the plan.
#[derive(Debug, Default)]
pub struct Findings {
    /// Problems that stop the run (told together with those found when the messages are
    /// checked).
    pub problems: Vec<SendProblem>,
    /// Things worth knowing, for the report.
    pub notes: Vec<String>,
}

/// A run's plan: the period, every message it plans, and the ones this run considers.
pub struct Plan {
    pub period: Period,
    /// Every message the period plans (for "who else carries this document?").
    pub every_delivery: Vec<Delivery>,
    /// The messages this run considers, in plan order: review reports, then the units' letters.
    pub pending: Vec<Pending>,
    records: HashMap<DeliveryKey, DeliveryRecord>,
}

impl Plan {
    /// Plans the period's messages restricted to `only` (empty: all) and, with `resend`, to that
    /// unit, and decides each from the ledger; with what it found.
    pub fn new(
        config: &Config,
        store: &Store,
        period: Period,
        only: &[DocumentKind],
        resend: Option<&str>,
    ) -> Result<(Plan, Findings), DeliverError> {
        let mut found = Findings::default();
        let mut deliveries = plan_deliveries(&period, only);
        if period.directory.report_to.is_none() && MessageKind::ReviewReport.selected_by(only) {
            if only.contains(&DocumentKind::ReviewReport) {
                found.problems.push(SendProblem::NoReportGroup);
            } else {
                found.notes.push(SendProblem::NoReportGroup.to_string());
            }
        }
        if let Some(unit) = resend {
            deliveries.retain(|d| d.unit.id == unit);
            if deliveries.is_empty() {
                return Err(DeliverError::NotARecipient {
                    unit: unit.to_owned(),
                    period: period.key(),
                });
            }
        }
        let records = ledger_records(store, &period)?;
        let pending = deliveries
            .into_iter()
            .map(|d| {
                let decision = decide(records.get(&d.key), resend.is_some());
                Pending::new(config, d, decision)
            })
            .collect();
        let plan = Plan {
            every_delivery: plan_deliveries(&period, &[]),
            period,
            pending,
            records,
        };
        Ok((plan, found))
    }

    /// The messages to send now.
    pub fn to_send(&self) -> impl Iterator<Item = &Pending> {
        self.pending.iter().filter(|p| p.to_send())
    }

    /// The documents the messages to send carry, in numbering order: by kind (report, notice,
    /// letters), letters in directory order.
    pub fn needed_documents(&self) -> Vec<DocId> {
        let mut needed: Vec<DocId> = Vec::new();
        for pending in self.to_send() {
            for id in &pending.delivery.documents {
                if !needed.contains(id) {
                    needed.push(id.clone());
                }
            }
        }
        needed.sort_by_key(|id| id.kind);
        needed
    }

    /// Holds back every message to send that carries a document not approved with its current
    /// content (`gates` has no entry for a document issued before: it goes as filed). Returns
    /// how many were held.
    pub fn hold_unapproved(&mut self, gates: &BTreeMap<DocId, Gate>) -> usize {
        let mut held = 0;
        for pending in self.pending.iter_mut().filter(|p| p.to_send()) {
            let blocked: Vec<(String, Gate)> = pending
                .delivery
                .documents
                .iter()
                .filter_map(|id| match gates.get(id) {
                    Some(Gate::Approved) | None => None,
                    Some(gate) => Some((document_label(id), gate.clone())),
                })
                .collect();
            if blocked.is_empty() {
                continue;
            }
            let outcome = Outcome::NotApproved { documents: blocked };
            pending.decision = Decision::Done(outcome.clone());
            pending.outcome = outcome;
            held += 1;
        }
        held
    }

    /// Sends again each message already sent that carries a document replaced (`vanban
    /// replace`, at the time `replaced` gives) after that copy went: the replacement goes to
    /// every recipient of the old one. Returns how many.
    pub fn resend_replaced(
        &mut self,
        config: &Config,
        replaced: &BTreeMap<DocId, DateTime<Utc>>,
    ) -> usize {
        let mut count = 0;
        for pending in &mut self.pending {
            let Decision::Done(Outcome::AlreadySent { at, .. }) = &pending.decision else {
                continue;
            };
            let newer = pending
                .delivery
                .documents
                .iter()
                .any(|id| replaced.get(id).is_some_and(|r| r > at));
            if !newer {
                continue;
            }
            let decision = decide(self.records.get(&pending.delivery.key), true);
            *pending = Pending::new(config, pending.delivery.clone(), decision);
            count += 1;
        }
        count
    }

    /// Whether some copy of a message carrying `id` may have reached its recipient.
    pub fn delivered(&self, id: &DocId) -> bool {
        self.every_delivery
            .iter()
            .filter(|d| d.documents.contains(id))
            .any(|d| maybe_delivered(self.records.get(&d.key)))
    }

    /// The units a document goes to, as the register records them.
    pub fn recipients(&self, id: &DocId) -> Vec<String> {
        self.every_delivery
            .iter()
            .filter(|d| d.documents.contains(id))
            .map(|d| d.unit.id.clone())
            .collect()
    }
}

fn sender_domain(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

pub fn message_id(config: &Config, key: &DeliveryKey, tag: &str) -> String {
    super::email::mime::message_id_for(
        // The period's key text, as before PeriodId: Message-IDs of earlier sends stay the same.
        &[
            &key.issuer,
            &key.period.key(),
            &key.document,
            &key.recipient,
        ],
        sender_domain(&config.sender.address),
        tag,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::ledger::Attempt;
    use crate::model::Half;
    use chrono::TimeZone;

    #[test]
    fn selection_by_document_kind() {
        assert!(MessageKind::LetterAndNotice.selected_by(&[]));
        assert!(MessageKind::LetterAndNotice.selected_by(&[DocumentKind::ConclusionNotice]));
        assert!(!MessageKind::LetterAndNotice.selected_by(&[DocumentKind::ReviewReport]));
        assert!(MessageKind::ReviewReport.selected_by(&[DocumentKind::ReviewReport]));
        assert_eq!(
            MessageKind::from_slug("letter-and-notice"),
            Some(MessageKind::LetterAndNotice)
        );
    }

    fn record(state: DeliveryState, outcomes: &[(AttemptOutcome, bool)]) -> DeliveryRecord {
        let t = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        DeliveryRecord {
            key: DeliveryKey::new(
                "UBND",
                crate::model::PeriodId::new(2024, Half::First),
                "letter-and-notice",
                "pnn",
            ),
            state,
            planned_at: t,
            updated_at: t,
            attempts: outcomes
                .iter()
                .enumerate()
                .map(|(i, (outcome, resend))| Attempt {
                    number: i as u32 + 1,
                    resend: *resend,
                    message_id: format!("<m{}@x>", i + 1),
                    started_at: t,
                    outcome: outcome.clone(),
                    instance: None,
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
}
