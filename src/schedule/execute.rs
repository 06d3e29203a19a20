//! What a firing of a scheduled job does for real: find and validate the period file, check it
//! is the period the firing covers, then render the job's documents or send them; and the
//! email that tells the IT admin when a firing failed.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use super::RunOutcome;
use super::service::{Alert, ExecContext, ExecReport, Execute, Firing};
use crate::clock::VIETNAM;
use crate::config::{Action, Config, Job};
use crate::deliver::email::mime::{OutgoingMessage, build_message, message_id_for};
use crate::deliver::email::smtp::SmtpMailer;
use crate::deliver::submit;
use crate::input::Problems;
use crate::issue::filing::IssueEnv;
use crate::model::{DocumentKind, Period};
use crate::render::templates::Templates;
use crate::render::{self, BackendError, Backends, Formats};
use crate::shutdown::StopSignal;
use crate::workflow::send::{DeliverError, Outcome, SendEnv, SendOptions, send_period};

/// The real work of a firing, with the engines built once for the life of the service.
pub struct JobExecutor {
    backends: Backends,
    threads: usize,
}

impl JobExecutor {
    /// Loads the templates (the config's `templates_dir` overrides first): a broken template
    /// stops the service at start rather than failing every firing.
    pub fn new(config: &Config) -> Result<JobExecutor, BackendError> {
        let templates = config
            .templates_dir
            .clone()
            .map(Templates::with_overrides)
            .unwrap_or_default();
        Ok(JobExecutor {
            backends: Backends::with_pdf_from(
                &templates,
                Formats::Both,
                render::Limits::from_config(&config.limits),
                config.pdf_from,
            )?,
            threads: render::default_threads(),
        })
    }

    fn render(&self, ctx: &ExecContext<'_>, job: &Job, period: &Period) -> ExecReport {
        let documents: Vec<_> = render::plan(period, None, &|_, _| None)
            .into_iter()
            .filter(|d| wanted(job, d.kind))
            .collect();
        let dir = ctx.config.output_dir.join(period.key());
        let report =
            match render::render_to_dir(&documents, &self.backends.renderers(), &dir, self.threads)
            {
                Ok(written) => {
                    for path in &written {
                        debug!(job = %job.name, file = %path.display(), "Đã ghi tệp");
                    }
                    ExecReport::ok(format!(
                        "Đã tạo {} tệp trong {}",
                        written.len(),
                        dir.display()
                    ))
                }
                Err(e) => ExecReport::failed(format!("Không tạo được văn bản: {e}")),
            };
        if ctx.config.approval.required {
            report.and_submit(|| self.submit(ctx, job, period))
        } else {
            report
        }
    }

    /// With `[approval] required`: submits the job's drafts for approval and mails them to the
    /// approvers (`deliver::submit`). Returns the line for the run history, and whether it
    /// failed.
    fn submit(&self, ctx: &ExecContext<'_>, job: &Job, period: &Period) -> (String, bool) {
        let renderers = self.backends.renderers();
        let env = IssueEnv {
            store: ctx.store,
            clock: ctx.clock,
            numbering: ctx.config.numbering,
            renderers: &renderers,
            signing: None,
        };
        let by = format!("vanban (tác vụ {})", job.name);
        match submit::submit_drafts(ctx.config, &env, period, &job.documents, &by) {
            Ok(submission) => (submission.to_string(), submission.failed()),
            Err(e) => (format!("Không trình duyệt được: {e}"), true),
        }
    }
}

impl ExecReport {
    /// Adds the submission's line to a render report (when approval is required and the render
    /// went well); a failed submission fails the firing.
    fn and_submit(self, submit: impl FnOnce() -> (String, bool)) -> ExecReport {
        if self.outcome() != RunOutcome::Ok {
            return self;
        }
        let (line, failed) = submit();
        let detail = format!("{}\n{line}", self.detail);
        if failed {
            ExecReport::failed(detail)
        } else {
            ExecReport::ok(detail)
        }
    }
}

impl JobExecutor {
    /// Issues numbers, files and emails the job's documents through the ledger, exactly as
    /// `vanban send` does; logs one line per message.
    fn send(
        &self,
        ctx: &ExecContext<'_>,
        job: &Job,
        firing: &Firing,
        period_file: &Path,
        stop: &StopSignal,
    ) -> ExecReport {
        let renderers = self.backends.renderers();
        // Retry rounds wait here; a shutdown cuts the wait short.
        let sleep = |delay: Duration| stop.wait_timeout(delay);
        let env = SendEnv {
            config: ctx.config,
            store: ctx.store,
            lock: ctx.lock,
            clock: ctx.clock,
            renderers: &renderers,
            sleep: &sleep,
        };
        let options = SendOptions {
            dry_run: false,
            resend: None,
            only: job.documents.clone(),
            // A changed issuer stops a scheduled send: only a person may say it is intended.
            new_issuer: false,
        };
        let report = match send_period(&env, period_file, &options, stop) {
            Ok(report) => report,
            Err(DeliverError::Period(problems)) => return unusable_period(period_file, &problems),
            Err(e) => return ExecReport::failed(format!("Không gửi được: {e}")),
        };
        let period = firing.period_key();
        for delivery in &report.deliveries {
            if delivery.outcome.is_done() {
                info!(job = %job.name, period = %period, "{delivery}");
            } else {
                warn!(job = %job.name, period = %period, "{delivery}");
            }
        }
        for note in &report.notes {
            warn!(job = %job.name, period = %period, "{note}");
        }
        let sent = report.count(|o| matches!(o, Outcome::Sent { .. }));
        let before = report.count(|o| matches!(o, Outcome::AlreadySent { .. }));
        let left = report.deliveries.len() - sent - before;
        let mut detail = format!(
            "Kỳ {}: {} thư; gửi lần này {sent}, đã gửi trước đó {before}, chưa gửi được {left}",
            report.period,
            report.deliveries.len()
        );
        let numbers: Vec<&str> = report.documents.iter().map(|d| d.number.as_str()).collect();
        if !numbers.is_empty() {
            let _ = write!(detail, "; văn bản số {}", numbers.join(", "));
        }
        for delivery in report.deliveries.iter().filter(|d| !d.outcome.is_done()) {
            let _ = write!(detail, "\n{delivery}");
        }
        for note in &report.notes {
            let _ = write!(detail, "\n{note}");
        }
        let held = report.count(|o| matches!(o, Outcome::NotApproved { .. }));
        if report.stopped && stop.is_requested() {
            let _ = write!(
                detail,
                "\nDừng theo tín hiệu; thư chưa gửi sẽ được gửi khi chạy lại: vanban run-job {} \
                 --config {} (thư đã gửi không bị gửi lại)",
                job.name,
                ctx.config.path.display()
            );
            ExecReport::interrupted(detail)
        } else if held > 0
            && report
                .deliveries
                .iter()
                .all(|d| d.outcome.is_done() || matches!(d.outcome, Outcome::NotApproved { .. }))
        {
            let _ = write!(
                detail,
                "\nChờ duyệt: {held} thư chưa gửi; dịch vụ xem lại mỗi phút và gửi ngay khi văn \
                 bản được duyệt"
            );
            ExecReport::waiting(detail)
        } else if report.all_delivered() {
            ExecReport::ok(detail)
        } else {
            ExecReport::failed(detail)
        }
    }
}

/// The failed report for a period file that cannot be read or does not validate.
fn unusable_period(period_file: &Path, problems: &Problems) -> ExecReport {
    ExecReport::failed(format!(
        "Tệp kỳ báo cáo {} không dùng được:\n{problems}",
        period_file.display()
    ))
}

/// Whether the job asks for documents of `kind` (no `documents` list: every kind).
fn wanted(job: &Job, kind: DocumentKind) -> bool {
    job.documents.is_empty() || job.documents.contains(&kind)
}

impl Execute for JobExecutor {
    fn execute(
        &self,
        ctx: &ExecContext<'_>,
        job: &Job,
        firing: &Firing,
        period_file: &Path,
        stop: &StopSignal,
    ) -> ExecReport {
        // The default issue date is today in Vietnam, as for `vanban send`.
        let today = ctx.clock.today_in(VIETNAM);
        let period =
            match crate::input::load_period(period_file, ctx.config.directory.as_deref(), today) {
                Ok(period) => period,
                Err(problems) => return unusable_period(period_file, &problems),
            };
        // A fixed path, or a file copied from last period and not updated, would otherwise
        // issue an old period's documents as if they were this one's.
        if period.id() != firing.period {
            return ExecReport::failed(format!(
                "Tệp {} là kỳ {} nhưng lần chạy đến hạn {} cần kỳ {} (covers = \"{}\"); hãy kiểm \
                 tra [period] trong tệp và mẫu đường dẫn period của tác vụ trong vanban.toml",
                period_file.display(),
                period.key(),
                firing.local.format("%d/%m/%Y %H:%M"),
                firing.period_key(),
                covers_name(job),
            ));
        }
        match job.action {
            Action::Render => self.render(ctx, job, &period),
            Action::Send => self.send(ctx, job, firing, period_file, stop),
        }
    }
}

fn covers_name(job: &Job) -> &'static str {
    match job.covers {
        crate::config::Covers::CurrentHalf => "current-half",
        crate::config::Covers::PreviousHalf => "previous-half",
    }
}

/// Emails `admin_email` through the configured SMTP server, one attempt per alert (the failure
/// is already in the run history and the log; a retry loop here would hold up other jobs).
pub struct MailAlert {
    target: Result<AlertTarget, String>,
}

struct AlertTarget {
    mailer: SmtpMailer,
    from: (String, String),
    to: String,
}

impl MailAlert {
    /// Never fails: without `admin_email` no alert is asked for; a missing `[smtp]` or a
    /// transport that cannot be built is reported when an alert is due.
    pub fn new(config: &Config) -> MailAlert {
        let target = match (&config.admin_email, &config.smtp) {
            (None, _) => Err("chưa đặt admin_email trong vanban.toml".to_owned()),
            (Some(_), None) => Err("vanban.toml không có mục [smtp] để gửi thư".to_owned()),
            (Some(to), Some(smtp)) => SmtpMailer::new(&smtp.settings)
                .map(|mailer| AlertTarget {
                    mailer,
                    from: (config.sender.name.clone(), config.sender.address.clone()),
                    to: to.clone(),
                })
                .map_err(|e| e.to_string()),
        };
        MailAlert { target }
    }
}

impl Alert for MailAlert {
    fn alert(&self, subject: &str, body: &str, now: DateTime<Utc>) -> Result<(), String> {
        let target = self.target.as_ref().map_err(Clone::clone)?;
        let domain = target
            .from
            .1
            .rsplit_once('@')
            .map_or("", |(_, domain)| domain);
        let stamp = now.to_rfc3339();
        let message = OutgoingMessage {
            from: target.from.clone(),
            to: vec![(String::new(), target.to.clone())],
            subject: subject.to_owned(),
            body: body.to_owned(),
            attachments: Vec::new(),
            message_id: message_id_for(&["admin-alert", subject, &stamp], domain, "1"),
            date: now.into(),
        };
        let message = build_message(&message).map_err(|e| e.to_string())?;
        target
            .mailer
            .send(&message)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
