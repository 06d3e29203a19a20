//! Submitting drafts for approval (trình duyệt): each draft whose exact content has no
//! decision yet is recorded as submitted, and the approvers (`[approval] approvers`, directory
//! groups or units) get one email with those drafts attached, how to approve them, and the web
//! page's address. Used by the scheduled render job and the web page's "Trình duyệt" button.

use std::fmt;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::email::mime::{Attachment, OutgoingMessage, build_message, message_id_for};
use super::email::smtp::SmtpMailer;
use crate::config::Config;
use crate::issue::approval::{self, ApprovalError, Approvals, Decision, Draft};
use crate::issue::filing::{DocId, IssueEnv};
use crate::model::{DocumentKind, Period};

/// Whom a submission told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// Nothing new was submitted, so nobody was written to.
    Nothing,
    /// `[approval] approvers` is empty.
    NoApprovers,
    /// The addresses written to.
    Sent(String),
    /// The email could not be built or sent: why.
    Failed(String),
}

/// What [`submit_drafts`] did.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The drafts submitted now, recorded unless telling the approvers failed (a draft already
    /// submitted, approved or returned with this exact content is left alone).
    pub submitted: Vec<DocId>,
    pub told: Told,
}

impl Submission {
    /// The approvers were to be told and could not be.
    pub fn failed(&self) -> bool {
        matches!(self.told, Told::Failed(_))
    }
}

impl fmt::Display for Submission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.submitted.is_empty() {
            return f.write_str("Dự thảo không đổi so với lần trình trước; không trình lại");
        }
        if let Told::Failed(reason) = &self.told {
            return write!(
                f,
                "Chưa trình duyệt được {} văn bản: không gửi được thư cho người duyệt ({reason}); \
                 chưa ghi là đã trình, lần trình sau sẽ gửi lại",
                self.submitted.len()
            );
        }
        let names: Vec<String> = self
            .submitted
            .iter()
            .map(approval::document_label)
            .collect();
        write!(
            f,
            "Đã trình duyệt {} văn bản: {}",
            self.submitted.len(),
            names.join(", ")
        )?;
        match &self.told {
            Told::Nothing => Ok(()),
            Told::NoApprovers => f.write_str(
                "; chưa đặt [approval] approvers trong vanban.toml nên không báo ai (người duyệt \
                 xem bằng vanban status hoặc trang web)",
            ),
            Told::Sent(to) => write!(f, "; đã gửi thư cho người duyệt: {to}"),
            // Said in full above: a failed submission is not recorded.
            Told::Failed(_) => Ok(()),
        }
    }
}

/// Submits the period's drafts of the kinds in `only` (empty: all) in the name of `by` and
/// tells the approvers. A draft that already has a decision on this exact content is not
/// submitted again, so a render that runs twice neither undoes an approval nor writes twice.
pub fn submit_drafts(
    config: &Config,
    env: &IssueEnv<'_>,
    period: &Period,
    only: &[DocumentKind],
    by: &str,
) -> Result<Submission, ApprovalError> {
    let approvals = Approvals::new(env.store);
    let ids = approval::select(period, only, None)?;
    let now = env.clock.now();
    let mut submitted = Vec::new();
    for draft in approval::drafts(env, period, &ids)? {
        let known = approvals
            .latest(&draft.issuer, &draft.document_key)?
            .is_some_and(|l| l.content_sha256 == draft.content_sha256);
        if !known {
            submitted.push(draft);
        }
    }
    let told = if submitted.is_empty() {
        Told::Nothing
    } else if config.approval.approvers.is_empty() {
        Told::NoApprovers
    } else {
        match tell_approvers(config, period, &submitted, now) {
            Ok(to) => Told::Sent(to),
            Err(reason) => Told::Failed(reason),
        }
    };
    // Recorded only once the approvers were told (or there is nobody to tell): a submission
    // whose mail failed stays unsubmitted, so the next render or `submit` tries again instead
    // of finding the drafts "unchanged" and telling nobody.
    if !matches!(told, Told::Failed(_)) {
        for draft in &submitted {
            approvals.record(draft, Decision::Submitted, by, None, now)?;
        }
    }
    Ok(Submission {
        submitted: submitted.into_iter().map(|d| d.id).collect(),
        told,
    })
}

/// Emails the approvers (`[approval] approvers`: directory groups or units) the drafts waiting
/// for them, attached, with how to approve them and the web page's address. Returns the
/// addresses written to.
fn tell_approvers(
    config: &Config,
    period: &Period,
    drafts: &[Draft],
    now: DateTime<Utc>,
) -> Result<String, String> {
    let mut to: Vec<(String, String)> = Vec::new();
    for id in &config.approval.approvers {
        for unit in period.directory.expand(id) {
            for email in &unit.emails {
                if !to.iter().any(|(_, e)| e == email) {
                    to.push((unit.name.clone(), email.clone()));
                }
            }
        }
    }
    if to.is_empty() {
        return Err(
            "[approval] approvers không chỉ đến đơn vị nào có địa chỉ thư trong danh bạ".to_owned(),
        );
    }
    let smtp = config
        .smtp
        .as_ref()
        .ok_or_else(|| "vanban.toml không có mục [smtp] để gửi thư".to_owned())?;
    let mailer = SmtpMailer::new(&smtp.settings).map_err(|e| e.to_string())?;
    let mut list = String::new();
    for draft in drafts {
        let _ = writeln!(
            list,
            "- {} (sha256 {})",
            approval::document_label(&draft.id),
            draft.content_sha256
        );
    }
    let body = format!(
        "Kính gửi lãnh đạo,\n\nVăn thư trình duyệt dự thảo văn bản kỳ {key} (đính kèm):\n\n{list}\n\
         Xem và duyệt trên trang web: http://{listen}/\n\nHoặc bằng dòng lệnh:\n\n    vanban approve \
         <tệp kỳ báo cáo> --config {config} --by \"<họ tên>\" [--only LOẠI] [--unit MÃ]\n    \
         vanban return <tệp kỳ báo cáo> --config {config} --by \"<họ tên>\" --reason \"<lý do>\"\n\n\
         Văn bản chỉ được cấp số và gửi sau khi được duyệt, đúng nội dung đã duyệt.\n",
        key = period.key(),
        listen = config.web.listen,
        config = config.path.display(),
    );
    let attachments = drafts
        .iter()
        .flat_map(|d| &d.files)
        .map(|f| Attachment {
            file_name: f.display_name.clone(),
            content_type: f.content_type.to_owned(),
            bytes: f.bytes.clone(),
        })
        .collect();
    let domain = config
        .sender
        .address
        .rsplit_once('@')
        .map_or("", |(_, domain)| domain);
    let hashes: Vec<&str> = drafts.iter().map(|d| d.content_sha256.as_str()).collect();
    let mut key = vec!["approval", "submitted"];
    let period_key = period.key();
    key.push(&period_key);
    key.extend(hashes);
    let message = OutgoingMessage {
        from: (config.sender.name.clone(), config.sender.address.clone()),
        to: to.clone(),
        subject: format!("[vanban] Trình duyệt dự thảo văn bản kỳ {}", period.key()),
        body,
        attachments,
        message_id: message_id_for(&key, domain, "1"),
        date: now.into(),
    };
    let message = build_message(&message).map_err(|e| e.to_string())?;
    mailer.send(&message).map_err(|e| e.to_string())?;
    Ok(to
        .iter()
        .map(|(_, e)| e.as_str())
        .collect::<Vec<_>>()
        .join(", "))
}
