//! `vanban send`, the page's "Gửi" and the service's send jobs: one run as its phases, in
//! order — the transport, the plan, replacements, one wording for both formats, the approval
//! gates, the issued-content check, the signing keys, numbers and the final render, signatures,
//! composing, filing and dispatch. Each phase takes what the one before handed on and returns
//! its warnings as values; [`send_period`] only calls them one after another. What happened to
//! each message is read back by `deliver::status`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Datelike;

use crate::clock::{Clock, VIETNAM};
use crate::config::Config;
use crate::deliver::dispatch::{self, Handover, Recording, Route};
use crate::deliver::email::compose;
use crate::deliver::email::outbox::Outbox;
use crate::deliver::email::smtp::SmtpMailer;
use crate::deliver::email::templates::EmailTemplates;
pub use crate::deliver::error::DeliverError;
use crate::deliver::error::{SendProblem, SendProblems};
use crate::deliver::ledger::{DeliveryKey, Ledger};
use crate::deliver::parcel::Parcel;
use crate::deliver::plan::{Pending, Plan};
pub use crate::deliver::report::{DeliveryReport, DocumentReport, Outcome, SendReport};
use crate::deliver::retry::RetryPolicy;
use crate::input;
use crate::issue::approval::{self, Draft};
use crate::issue::filing::{
    self as issue, DocId, IssueEnv, IssueError, NumberedDocument, ReadyDocument, number_text,
};
use crate::issue::issued_content;
use crate::issue::register::{Register, RegisterError};
use crate::issue::replacement;
use crate::issue::signatures::{self, Keys};
use crate::model::{DocumentKind, Period, PeriodId};
use crate::render::Renderer;
use crate::shutdown::StopSignal;
use crate::state::{InstanceLock, Store};

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
    /// The period's issuer key differs from the one its documents were issued under, and the
    /// office says it is a different issuer on purpose (`send --new-issuer`).
    pub new_issuer: bool,
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

/// Sends (or, with `dry_run`, writes to the outbox) the period's messages: one per unit with
/// tasks carrying its assignment letter and the conclusion notice, and the review report to each
/// member of the directory's `report_to` group. Each message is recorded in the ledger before
/// and after it is handed over, so nothing is sent twice and no outcome is lost; documents get
/// their numbers from the register and are filed under `<output_dir>/<period>/`. Nothing is
/// sent unless every message could be built. `stop` is checked between messages: the one in
/// flight is finished and recorded, then the run ends.
pub fn send_period(
    env: &SendEnv<'_>,
    period_path: &Path,
    options: &SendOptions,
    stop: &StopSignal,
) -> Result<SendReport, DeliverError> {
    let dry_run = options.dry_run;
    let mut notes = Notes::default();
    let channel = channel(env.config, dry_run)?;
    let recovered = recover(env, dry_run)?;
    let period = load(env, period_path, options)?;
    let run = Run::new(env.config, &period, dry_run, recovered);
    let planned = notes.take(plan(env, period, options)?);
    let planned = replacements(env, planned, dry_run)?;
    wording_parity(env, &planned)?;
    let gated = approval_gates(env, planned, dry_run)?;
    let gated = notes.take(issued_content_check(env, gated)?);
    if gated.plan.to_send().next().is_none() {
        return nothing_to_send(run, gated, notes);
    }
    let checked = check_messages(env, gated, dry_run)?;
    let keyed = notes.take(keys(env, checked, dry_run)?);
    let numbered = notes.take(number_and_render(env, keyed, dry_run)?);
    let signed = sign(env, numbered)?;
    let composed = compose(env, signed, dry_run)?;
    let filed = notes.take(file(env, composed, dry_run)?);
    let delivered = notes.take(dispatch(env, &channel, &run, filed, stop));
    Ok(run.report(delivered, notes))
}

/// What a phase hands on to the next, and what it found worth telling the office.
struct Phase<T> {
    output: T,
    notes: Vec<String>,
}

impl<T> Phase<T> {
    fn quiet(output: T) -> Phase<T> {
        Phase {
            output,
            notes: Vec::new(),
        }
    }
}

/// The run's warnings, gathered from the phases in the order they ran.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    /// The phase's output; its notes join the run's.
    fn take<T>(&mut self, phase: Phase<T>) -> T {
        self.0.extend(phase.notes);
        phase.output
    }
}

/// What the report says of the run whatever its phases did.
struct Run {
    period: String,
    dry_run: bool,
    /// Deliveries (of any period) that a dead process had left "sending", now "unknown".
    recovered: Vec<DeliveryKey>,
    /// Dry run: the period's outbox.
    outbox: PathBuf,
}

impl Run {
    fn new(config: &Config, period: &Period, dry_run: bool, recovered: Vec<DeliveryKey>) -> Run {
        let key = period.key();
        Run {
            outbox: config.outbox.join(&key),
            period: key,
            dry_run,
            recovered,
        }
    }

    fn report(self, delivered: Delivered, notes: Notes) -> SendReport {
        SendReport {
            period: self.period,
            dry_run: self.dry_run,
            deliveries: delivered
                .plan
                .pending
                .into_iter()
                .map(Pending::into_report)
                .collect(),
            recovered: self.recovered,
            documents: delivered.documents,
            notes: notes.0,
            stopped: delivered.stopped,
            outbox: self.dry_run.then_some(self.outbox),
        }
    }
}

/// Where the run's parcels go: the SMTP server in a real run, the period's `.eml` outbox in a
/// dry run.
enum Channel {
    Smtp {
        /// Boxed: it holds the TLS configuration and the pool, the outbox nothing.
        mailer: Box<SmtpMailer>,
        policy: RetryPolicy,
        connections: usize,
    },
    Outbox,
}

/// The transport, set up before anything else so a bad `[smtp]` section stops the run first.
fn channel(config: &Config, dry_run: bool) -> Result<Channel, DeliverError> {
    if dry_run {
        return Ok(Channel::Outbox);
    }
    let smtp = config.smtp.as_ref().ok_or_else(|| DeliverError::NoSmtp {
        config: config.path.clone(),
    })?;
    Ok(Channel::Smtp {
        mailer: Box::new(SmtpMailer::new(&smtp.settings)?),
        policy: RetryPolicy {
            max_attempts: smtp.max_attempts,
            first_delay: smtp.retry_delay,
            ..RetryPolicy::default()
        },
        connections: smtp.connections,
    })
}

/// Deliveries a dead process left "sending" become "unknown" (a real run holds the lock, so
/// nobody else is sending them).
fn recover(env: &SendEnv<'_>, dry_run: bool) -> Result<Vec<DeliveryKey>, DeliverError> {
    if dry_run {
        return Ok(Vec::new());
    }
    Ok(Ledger::new(env.store).recover(env.lock, env.clock.now())?)
}

/// The period file and directory, read and checked; a period whose issuer changed since its
/// documents were issued is refused unless the office says so.
fn load(
    env: &SendEnv<'_>,
    period_path: &Path,
    options: &SendOptions,
) -> Result<Period, DeliverError> {
    let today = env.clock.today_in(VIETNAM);
    let period = input::load_period(period_path, env.config.directory.as_deref(), today)
        .map_err(DeliverError::Period)?;
    if !options.new_issuer {
        refuse_a_changed_issuer(env.store, period.id(), &issue::issuer_key(&period.issuer))?;
    }
    Ok(period)
}

/// Refuses a period whose documents were issued under another issuer key: a changed name or
/// place ("Đầm Hà" → "huyện Đầm Hà") without `issuer.id` makes a new key, and under it the
/// register and the ledger know nothing, so every document would be numbered and every message
/// sent a second time.
pub fn refuse_a_changed_issuer(
    store: &Store,
    period: PeriodId,
    key: &str,
) -> Result<(), DeliverError> {
    let issuers = Register::new(store).issuers_of_period(period)?;
    if issuers.is_empty() || issuers.iter().any(|issuer| issuer == key) {
        return Ok(());
    }
    Err(DeliverError::IssuerChanged {
        period: period.key(),
        old: issuers.join("», «"),
        new: key.to_owned(),
    })
}

/// The run's plan, and the problems found so far: they stop the run once every message has
/// been checked, so the office reads them all at once.
struct Planned {
    plan: Plan,
    problems: Vec<SendProblem>,
}

/// Plan: which messages, for whom, and what the ledger says of each.
fn plan(
    env: &SendEnv<'_>,
    period: Period,
    options: &SendOptions,
) -> Result<Phase<Planned>, DeliverError> {
    let (plan, found) = Plan::new(
        env.config,
        env.store,
        period,
        &options.only,
        options.resend.as_deref(),
    )?;
    Ok(Phase {
        output: Planned {
            plan,
            problems: found.problems,
        },
        notes: found.notes,
    })
}

/// A document replaced (`vanban replace`) goes again, with its new number, to every unit that
/// received the old one.
fn replacements(
    env: &SendEnv<'_>,
    mut planned: Planned,
    dry_run: bool,
) -> Result<Planned, DeliverError> {
    if dry_run {
        return Ok(planned);
    }
    let plan = &mut planned.plan;
    let every: Vec<DocId> = plan
        .every_delivery
        .iter()
        .flat_map(|d| d.documents.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let replaced =
        replacement::replaced_at(env.store, &plan.period, &every).map_err(RegisterError::Store)?;
    plan.resend_replaced(env.config, &replaced);
    Ok(planned)
}

/// One wording for both formats: a document whose PDF and DOCX say different words (an office
/// template of one format reworded) stops the send here, before any number is reserved or any
/// message built. Issued documents go as filed and are not compared.
fn wording_parity(env: &SendEnv<'_>, planned: &Planned) -> Result<(), DeliverError> {
    let plan = &planned.plan;
    if plan.to_send().next().is_none() {
        return Ok(());
    }
    let templates = env
        .config
        .templates_dir
        .clone()
        .map(crate::render::templates::Templates::with_overrides)
        .unwrap_or_default();
    let ids: Vec<_> = issue::not_issued(env.store, &plan.period, &plan.needed_documents())?
        .into_iter()
        .map(|id| (id.kind, id.unit))
        .collect();
    let documents = crate::render::plan(&plan.period, None, &|_, _| None);
    crate::render::parity::check_documents(&documents, &ids, env.renderers, &templates)?;
    Ok(())
}

/// The plan with the messages whose documents are not approved held back, and the drafts as
/// they render now.
struct Gated {
    plan: Plan,
    problems: Vec<SendProblem>,
    /// Rendered before any number is reserved (`None` in a dry run, or with nothing to send):
    /// what approval names, what a newly issued document is recorded as issued from, and what
    /// an issued one is compared with (it never silently changes).
    drafts: Option<Vec<Draft>>,
}

/// Approval gates: a message goes only if every document it carries is approved with the
/// content it has now; the others wait, numberless.
fn approval_gates(
    env: &SendEnv<'_>,
    planned: Planned,
    dry_run: bool,
) -> Result<Gated, DeliverError> {
    let Planned { mut plan, problems } = planned;
    if dry_run || plan.to_send().next().is_none() {
        return Ok(Gated {
            plan,
            problems,
            drafts: None,
        });
    }
    let approving = |e| DeliverError::Approval(Box::new(e));
    let drafts = approval::drafts(
        &issue_env(env, None),
        &plan.period,
        &plan.needed_documents(),
    )
    .map_err(approving)?;
    if env.config.approval.required {
        let gates = approval::gates_of(env.store, &plan.period, &drafts).map_err(approving)?;
        plan.hold_unapproved(&gates);
    }
    Ok(Gated {
        plan,
        problems,
        drafts: Some(drafts),
    })
}

/// Issued-content check: a document issued before whose data or templates changed since goes
/// again exactly as issued; the office is told which, and how to replace it.
fn issued_content_check(env: &SendEnv<'_>, gated: Gated) -> Result<Phase<Gated>, DeliverError> {
    let Some(drafts) = &gated.drafts else {
        return Ok(Phase::quiet(gated));
    };
    let plan = &gated.plan;
    let changed = issued_content::compare(env.store, &plan.period, drafts)
        .map_err(|e| DeliverError::Approval(Box::new(e)))?;
    let mut notes = Vec::new();
    for change in changed {
        let units: Vec<String> = plan
            .to_send()
            .filter(|p| p.delivery.documents.contains(&change.id))
            .map(|p| p.delivery.unit.id.clone())
            .collect();
        if units.is_empty() {
            continue;
        }
        notes.push(format!(
            "{change}: gửi lại đúng bản đã ban hành cho đơn vị chưa nhận ({}), không dựng \
             lại. Muốn thay thế, dùng {}",
            units.join(", "),
            change.replace_hint(&plan.period.key())
        ));
    }
    Ok(Phase {
        output: gated,
        notes,
    })
}

/// Nothing left to send (delivered before, held, or not selected): the report as planned, or
/// the problems found.
fn nothing_to_send(run: Run, gated: Gated, notes: Notes) -> Result<SendReport, DeliverError> {
    if !gated.problems.is_empty() {
        return Err(DeliverError::Invalid(SendProblems(gated.problems)));
    }
    let delivered = Delivered {
        plan: gated.plan,
        documents: Vec::new(),
        stopped: false,
    };
    Ok(run.report(delivered, notes))
}

/// Every message to send can be composed: its templates loaded and tried.
struct Checked {
    plan: Plan,
    drafts: Vec<Draft>,
    emails: EmailTemplates,
}

/// Everything that can be checked before a number is issued (addresses, numbers typed into the
/// period file, every email template against every message); with the plan's problems, every
/// one is told and nothing is sent.
fn check_messages(env: &SendEnv<'_>, gated: Gated, dry_run: bool) -> Result<Checked, DeliverError> {
    let Gated {
        plan,
        mut problems,
        drafts,
    } = gated;
    match compose::check(env.config, &plan, dry_run) {
        Ok(emails) if problems.is_empty() => Ok(Checked {
            plan,
            drafts: drafts.unwrap_or_default(),
            emails,
        }),
        Ok(_) => Err(DeliverError::Invalid(SendProblems(problems))),
        Err(more) => {
            problems.extend(more);
            Err(DeliverError::Invalid(SendProblems(problems)))
        }
    }
}

/// What issuing works with from here on: the checked run, the documents its messages carry,
/// where they are filed and the signing keys.
struct Issuing {
    plan: Plan,
    drafts: Vec<Draft>,
    emails: EmailTemplates,
    /// The documents the messages to send carry, in numbering order.
    needed: Vec<DocId>,
    /// `<output_dir>/<period>/`.
    dir: PathBuf,
    /// `None`: no `[signing]`, nobody to sign, or a dry run.
    keys: Option<Keys>,
}

/// Signing keys, opened and their certificates checked before any number is reserved: a missing
/// or expired key stops the run with nothing used up.
fn keys(
    env: &SendEnv<'_>,
    checked: Checked,
    dry_run: bool,
) -> Result<Phase<Issuing>, DeliverError> {
    let Checked {
        plan,
        drafts,
        emails,
    } = checked;
    let needed = plan.needed_documents();
    let mut notes = Vec::new();
    let keys = match (&env.config.signing, dry_run) {
        (_, true) => None,
        (None, false) => {
            notes.push(
                "văn bản gửi đi không có chữ ký số: tệp cấu hình chưa có mục [signing] \
                 (khóa ký số của người ký và của cơ quan ban hành, xem README)"
                    .to_owned(),
            );
            None
        }
        (Some(settings), false) => {
            let signers = issue::signers_to_sign(env.store, &plan.period, &needed)?;
            if signers.is_empty() {
                None
            } else {
                let keys = signatures::open_keys(settings, &signers, env.clock.now())
                    .map_err(IssueError::from)?;
                Some(keys)
            }
        }
    };
    let dir = env.config.output_dir.join(plan.period.key());
    Ok(Phase {
        output: Issuing {
            plan,
            drafts,
            emails,
            needed,
            dir,
            keys,
        },
        notes,
    })
}

/// The issuing environment of the run, with the keys when signing is on.
fn issue_env<'a>(env: &'a SendEnv<'a>, keys: Option<&'a Keys>) -> IssueEnv<'a> {
    IssueEnv {
        store: env.store,
        clock: env.clock,
        numbering: env.config.numbering,
        renderers: env.renderers,
        signing: keys,
    }
}

struct Numbered {
    issuing: Issuing,
    documents: BTreeMap<DocId, NumberedDocument>,
}

/// Numbers from the register and the final documents rendered (or read back as filed).
fn number_and_render(
    env: &SendEnv<'_>,
    issuing: Issuing,
    dry_run: bool,
) -> Result<Phase<Numbered>, DeliverError> {
    let mut notes = Vec::new();
    let plan = &issuing.plan;
    let documents = issue::prepare(
        &issue_env(env, issuing.keys.as_ref()),
        &plan.period,
        &issuing.needed,
        &|id| plan.delivered(id),
        dry_run,
        &issuing.dir,
        &mut notes,
    )?;
    Ok(Phase {
        output: Numbered { issuing, documents },
        notes,
    })
}

struct Signed {
    issuing: Issuing,
    documents: BTreeMap<DocId, ReadyDocument>,
}

/// Signatures: each new PDF signed by its signer, then by the organisation.
fn sign(env: &SendEnv<'_>, numbered: Numbered) -> Result<Signed, DeliverError> {
    let Numbered { issuing, documents } = numbered;
    let documents = issue::make_ready(
        documents,
        &issuing.plan.period,
        issuing.keys.as_ref(),
        env.clock.now(),
    )?;
    Ok(Signed { issuing, documents })
}

struct Composed {
    signed: Signed,
    /// One per message to send, in plan order.
    parcels: Vec<Parcel>,
}

/// Every message composed before anything is filed or sent.
fn compose(env: &SendEnv<'_>, signed: Signed, dry_run: bool) -> Result<Composed, DeliverError> {
    let issuing = &signed.issuing;
    let parcels = compose::build_parcels(
        env.config,
        env.clock,
        &issuing.plan,
        dry_run,
        &issuing.emails,
        &signed.documents,
    )?;
    Ok(Composed { signed, parcels })
}

/// The plan, the documents as the report names them, and the parcels to deliver.
struct Filed {
    plan: Plan,
    documents: Vec<DocumentReport>,
    parcels: Vec<Parcel>,
}

/// Filing: the documents issued now written under `<output_dir>/<period>/` and recorded with
/// their hashes and the draft content they were issued from (a dry run files nothing).
fn file(
    env: &SendEnv<'_>,
    composed: Composed,
    dry_run: bool,
) -> Result<Phase<Filed>, DeliverError> {
    let Composed { signed, parcels } = composed;
    let Signed { issuing, documents } = signed;
    let mut notes = Vec::new();
    if !dry_run {
        let plan = &issuing.plan;
        issue::file(
            &issue_env(env, issuing.keys.as_ref()),
            &documents,
            &|id| plan.recipients(id),
            &issuing.dir,
            &mut notes,
        )?;
        record_issued_content(env, &plan.period, &documents, &issuing.drafts)?;
    }
    let reports = issuing
        .needed
        .iter()
        .filter_map(|id| documents.get(id))
        .map(|d| DocumentReport {
            kind: d.planned.kind,
            label: d.planned.label_vi(),
            unit: d.planned.unit.clone(),
            number: number_text(d.number, &d.symbol),
            paths: if dry_run {
                Vec::new()
            } else {
                d.files
                    .iter()
                    .map(|f| issuing.dir.join(&f.disk_name))
                    .collect()
            },
            reused: d.reused,
        })
        .collect();
    Ok(Phase {
        output: Filed {
            plan: issuing.plan,
            documents: reports,
            parcels,
        },
        notes,
    })
}

/// Records, for each document issued now, the draft content it was issued from.
fn record_issued_content(
    env: &SendEnv<'_>,
    period: &Period,
    documents: &BTreeMap<DocId, ReadyDocument>,
    drafts: &[Draft],
) -> Result<(), DeliverError> {
    for (id, document) in documents {
        let (true, Some(number)) = (document.to_issue, document.number) else {
            continue;
        };
        let Some(draft) = drafts.iter().find(|d| &d.id == id) else {
            continue;
        };
        issued_content::record(
            env.store,
            issued_content::IssuedNumber {
                issuer: &document.issuer_key,
                year: document.planned.date.year(),
                symbol: &document.symbol,
                number,
                document_key: &id.register_key(period),
            },
            &draft.content_sha256,
            env.clock.now(),
        )
        .map_err(RegisterError::Store)?;
    }
    Ok(())
}

/// The plan with each message's outcome, and the documents.
struct Delivered {
    plan: Plan,
    documents: Vec<DocumentReport>,
    /// The run stopped early (shutdown requested, or the ledger could not be written).
    stopped: bool,
}

/// Dispatch: each parcel through the channel chosen first, every attempt in the ledger (a dry
/// run records nothing), and each message's outcome written into its plan record.
fn dispatch(
    env: &SendEnv<'_>,
    channel: &Channel,
    run: &Run,
    filed: Filed,
    stop: &StopSignal,
) -> Phase<Delivered> {
    let Filed {
        mut plan,
        documents,
        parcels,
    } = filed;
    let recording = match channel {
        Channel::Outbox => Recording::DryRun,
        Channel::Smtp { .. } => Recording::Ledger {
            ledger: Ledger::new(env.store),
            clock: env.clock,
        },
    };
    let outbox = Outbox::new(run.outbox.clone());
    let route = match channel {
        Channel::Smtp {
            mailer,
            policy,
            connections,
        } => Route {
            transport: mailer.as_ref(),
            policy: policy.clone(),
            connections: *connections,
        },
        // A dry run writes files one after another: nothing to wait for, and the order of the
        // outbox's files stays the plan's.
        Channel::Outbox => Route {
            transport: &outbox,
            policy: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            connections: 1,
        },
    };
    let mut to_send: Vec<&mut Pending> = plan.pending.iter_mut().filter(|p| p.to_send()).collect();
    assert_eq!(
        to_send.len(),
        parcels.len(),
        "one composed parcel per message to send"
    );
    let handovers: Vec<Handover> = to_send
        .iter()
        .zip(parcels)
        .map(|(pending, parcel)| Handover {
            parcel,
            resend: pending.resend(),
            again: pending.again(),
        })
        .collect();
    let dispatched = dispatch::dispatch(&route, &recording, &handovers, stop, env.sleep);
    for (pending, outcome) in to_send.iter_mut().zip(dispatched.outcomes) {
        if let Some(outcome) = outcome {
            pending.outcome = outcome;
        }
    }
    Phase {
        output: Delivered {
            plan,
            documents,
            stopped: dispatched.stopped,
        },
        notes: dispatched.notes,
    }
}

#[cfg(test)]
mod tests;
