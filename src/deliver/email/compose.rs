//! Composing the email channel's parcels: the email context of each message from the documents
//! it carries, the subject and body from the Tera templates, and the MIME message with its
//! attachments, as a `message/rfc822` parcel.
//! Every template is tried against every message (with draft documents) before any number is
//! issued, and every message is built before any is sent: a failure here sends nothing.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::mime::{self, Attachment, OutgoingMessage};
use super::templates::{
    EmailContext, EmailDocument, EmailError, EmailSender, EmailTemplates, EmailUnit, about,
    title_of,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::deliver::error::{DeliverError, SendProblem, SendProblems, UnitLabel};
use crate::deliver::parcel::Parcel;
use crate::deliver::plan::{Delivery, Plan};
use crate::issue::filing::{
    DocFile, DocId, ReadyDocument, ascii_file_name, attachment_name, issuer_key, number_text,
    unit_short,
};
use crate::model::{DocumentKind, Period};
use crate::render;
use crate::render::context::IssuerText;
use crate::render::templates::Templates;
use crate::render::wording::Wording;
use crate::vi;

/// The letter's reporting line as the office's wording file words it (the letter itself says it
/// so, in both formats).
fn report_line(wording: &Wording, document: &ReadyDocument) -> Result<String, EmailError> {
    if document.planned.context.letter.is_none() {
        return Ok(String::new());
    }
    let failed = |e: String| EmailError::Wording(e);
    let mut data =
        serde_json::to_value(&document.planned.context).map_err(|e| failed(e.to_string()))?;
    wording
        .apply(document.planned.kind, &mut data)
        .map_err(|e| failed(e.to_string()))?;
    Ok(data["wording"]["dong_bao_cao"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn email_document(
    wording: &Wording,
    document: &ReadyDocument,
) -> Result<EmailDocument, EmailError> {
    let context = &document.planned.context;
    let letter = context.letter.as_ref();
    Ok(EmailDocument {
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
        report_line: report_line(wording, document)?,
        files: document
            .files
            .iter()
            .map(|f| f.display_name.clone())
            .collect(),
    })
}

fn email_context(
    emails: &EmailTemplates,
    config: &Config,
    period: &Period,
    delivery: &Delivery,
    documents: &[&ReadyDocument],
    resend: bool,
    draft: bool,
) -> Result<EmailContext, EmailError> {
    let emailed: Vec<EmailDocument> = documents
        .iter()
        .map(|d| email_document(&emails.wording, d))
        .collect::<Result<_, _>>()?;
    let find = |kind: DocumentKind| emailed.iter().find(|d| d.kind == kind.slug()).cloned();
    let period_text = documents
        .first()
        .map(|d| d.planned.context.period.clone())
        .unwrap_or_else(|| {
            render::context::build(period, DocumentKind::ConclusionNotice, None, None).period
        });
    Ok(EmailContext {
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
    })
}

/// Recipients must have an address that a message can be built with.
fn check_addresses(delivery: &Delivery, problems: &mut Vec<SendProblem>) {
    let unit = &delivery.unit;
    if unit.emails.is_empty() {
        problems.push(SendProblem::NoAddress {
            unit: UnitLabel::of(unit),
        });
    }
    for address in &unit.emails {
        if let Err(e) = address.trim().parse::<lettre::Address>() {
            problems.push(SendProblem::BadAddress {
                unit: UnitLabel::of(unit),
                address: address.clone(),
                reason: crate::vi::errors::address_error(&e).to_owned(),
            });
        }
    }
}

/// Everything that can be checked before a number is issued: addresses, numbers typed into
/// the period file, and every email template against every message (with draft documents).
/// The templates, or every problem found.
pub fn check(
    config: &Config,
    plan: &Plan,
    dry_run: bool,
) -> Result<EmailTemplates, Vec<SendProblem>> {
    let mut problems = Vec::new();
    for pending in plan.to_send() {
        check_addresses(&pending.delivery, &mut problems);
    }
    let needed = plan.needed_documents();
    if !dry_run {
        for kind in DocumentKind::ALL {
            if let Some(n) = plan.period.settings(kind).number
                && needed.iter().any(|d| d.kind == kind)
            {
                problems.push(SendProblem::NumberTyped {
                    number: number_text(Some(n), &plan.period.symbol(kind)),
                    kind: kind.slug(),
                });
            }
        }
    }
    let templates = Templates {
        override_dir: config.templates_dir.clone(),
    };
    let emails = match EmailTemplates::load(&templates) {
        Ok(emails) => emails,
        Err(e) => {
            problems.push(SendProblem::Templates(e));
            return Err(problems);
        }
    };
    let period = &plan.period;
    let drafts: BTreeMap<DocId, ReadyDocument> = render::plan(period, None, &|_, _| None)
        .into_iter()
        .map(|planned| {
            let id = DocId {
                kind: planned.kind,
                unit: planned.unit.clone(),
            };
            let symbol = period.symbol(planned.kind);
            let file = attachment_name(
                planned.kind,
                period.half,
                None,
                &symbol,
                unit_short(period, &id),
                "pdf",
            );
            let draft = ReadyDocument {
                number: None,
                issuer: period.issuer_of(planned.kind).name.clone(),
                issuer_key: issuer_key(period.issuer_of(planned.kind)),
                files: vec![DocFile {
                    disk_name: ascii_file_name(&file),
                    display_name: file,
                    content_type: "application/pdf",
                    bytes: Vec::new(),
                    attachment: false,
                }],
                symbol,
                planned,
                reused: false,
                to_issue: false,
                signatures: Vec::new(),
            };
            (id, draft)
        })
        .collect();
    for pending in plan.to_send() {
        let delivery = &pending.delivery;
        let documents = delivery.carried(&drafts);
        let rendered = email_context(&emails, config, period, delivery, &documents, false, true)
            .and_then(|context| emails.render(delivery.message, &context));
        if let Err(error) = rendered {
            problems.push(SendProblem::Email {
                unit: UnitLabel::of(&delivery.unit),
                error,
            });
        }
    }
    if problems.is_empty() {
        Ok(emails)
    } else {
        Err(problems)
    }
}

/// Every message, built before any is sent (one parcel per message to send, in plan order): a
/// failure here sends nothing.
pub fn build_parcels(
    config: &Config,
    clock: &dyn Clock,
    plan: &Plan,
    dry_run: bool,
    emails: &EmailTemplates,
    documents: &BTreeMap<DocId, ReadyDocument>,
) -> Result<Vec<Parcel>, DeliverError> {
    let date = SystemTime::from(clock.now());
    let mut parcels = Vec::new();
    let mut problems = Vec::new();
    for pending in plan.to_send() {
        let delivery = &pending.delivery;
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
        if carried.len() != delivery.documents.len() || carried.iter().any(|d| d.files.is_empty()) {
            problems.push(SendProblem::MissingAttachment {
                unit: UnitLabel::of(&delivery.unit),
            });
            continue;
        }
        let rendered = email_context(
            emails,
            config,
            &plan.period,
            delivery,
            &carried,
            pending.again(),
            dry_run,
        )
        .and_then(|context| emails.render(delivery.message, &context));
        let (subject, body) = match rendered {
            Ok(rendered) => rendered,
            Err(error) => {
                problems.push(SendProblem::Email {
                    unit: UnitLabel::of(&delivery.unit),
                    error,
                });
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
            message_id: pending.message_id.clone(),
            date,
        };
        match mime::build_message(&outgoing) {
            Ok(message) => parcels.push(mime::parcel(delivery.key.clone(), &message)),
            Err(error) => problems.push(SendProblem::Message {
                unit: UnitLabel::of(&delivery.unit),
                error,
            }),
        }
    }
    if problems.is_empty() {
        Ok(parcels)
    } else {
        Err(DeliverError::Invalid(SendProblems(problems)))
    }
}
