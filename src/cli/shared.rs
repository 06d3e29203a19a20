//! What several commands open the same way: the office's renderers, the period and state the
//! draft and document commands work on, the stale-template note of the services.

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::config::{Config, TemplateLimits};
use vanban::input;
use vanban::issue::filing::IssueEnv;
use vanban::model::Period;
use vanban::render::{self, Backends, Formats, templates::Templates};
use vanban::state::Store;

use super::args::IssuedDocument;

/// Both formats' renderers for what the office's configuration says: its templates
/// (`templates_dir`, else the built-in ones), its limits and where its PDF comes from.
pub fn office_backends(config: &Config) -> Result<Backends> {
    let templates = config
        .templates_dir
        .clone()
        .map(Templates::with_overrides)
        .unwrap_or_default();
    Ok(Backends::with_pdf_from(
        &templates,
        Formats::Both,
        render_limits(&config.limits),
        config.pdf_from,
    )?)
}

/// The config's `[limits]` for the renderers.
pub fn render_limits(limits: &TemplateLimits) -> render::Limits {
    render::Limits::from_config(limits)
}

/// At a service's start, the office's templates that fell behind an upgrade, in the log.
pub fn warn_stale_templates(config: &Config) {
    for note in vanban::check::stale_template_notes(config.templates_dir.as_deref()) {
        tracing::warn!("{note}");
    }
}

/// The draft commands' common ground (`submit`, `approve`, `return`): the period read, the
/// state opened, and the same renderers as `send`, so the drafts hashed here are the ones
/// `send` compares. A period with problems prints them and exits 1. Says so when
/// `[approval] required = false` makes the step advisory.
pub fn on_drafts(
    clock: &SystemClock,
    period: &std::path::Path,
    config: &Config,
    work: impl FnOnce(&IssueEnv<'_>, &Period) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let store = Store::open_state(&config.state)?;
    let today = clock.today_in(VIETNAM);
    let period_data = match input::load_period(period, config.directory.as_deref(), today) {
        Ok(p) => p,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let backends = office_backends(config)?;
    let renderers = backends.renderers();
    let env = IssueEnv {
        store: &store,
        clock,
        numbering: config.numbering,
        renderers: &renderers,
        signing: None,
    };
    let code = work(&env, &period_data)?;
    if !config.approval.required {
        outln!(
            "Lưu ý: {} đặt [approval] required = false nên send không đòi ý kiến duyệt.",
            config.path.display()
        )?;
    }
    Ok(code)
}

/// The configuration, the state database and the period a document command works on; `None`
/// when the period file has problems (printed as `check` prints them).
pub fn open_document_period(
    args: &IssuedDocument,
    clock: &dyn Clock,
) -> Result<Option<(Config, Store, Period)>> {
    let config = input::config::load_without_secrets(&args.period.config)?;
    let store = Store::open_state(&config.state)?;
    let today = clock.today_in(VIETNAM);
    match input::load_period(&args.period.period, config.directory.as_deref(), today) {
        Ok(period) => Ok(Some((config, store, period))),
        Err(problems) => {
            eprintln!("{problems}");
            Ok(None)
        }
    }
}
