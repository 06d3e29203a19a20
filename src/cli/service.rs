//! The scheduled service's commands: `vanban run` (the service itself), `vanban jobs` (its
//! listing) and `vanban run-job` (one job now, as the scheduler would run it).

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::{Clock, SystemClock};
use vanban::input;
use vanban::schedule::{self, RunOutcome};
use vanban::state::Store;

use super::args::{ConfigFile, RunJobArgs};
use super::shared::warn_stale_templates;

/// `vanban run`: until SIGTERM/SIGINT.
pub fn run(args: ConfigFile) -> Result<ExitCode> {
    let config = input::config::load(&args.config)?;
    schedule::service::init_logging_in(schedule::service::log_zone(&config));
    warn_stale_templates(&config);
    schedule::run::serve(&config)?;
    Ok(ExitCode::SUCCESS)
}

/// `vanban jobs`.
pub fn jobs(clock: &SystemClock, args: ConfigFile) -> Result<ExitCode> {
    let config = input::config::load_without_secrets(&args.config)?;
    // Listing must not create the database of a service that never ran.
    let store = match config.state.exists() {
        true => Some(Store::open_state(&config.state)?),
        false => None,
    };
    let conn = store.as_ref().map(Store::conn);
    let text = schedule::listing::describe_jobs(&config, conn.as_ref(), clock.now())?;
    out!("{text}")?;
    Ok(ExitCode::SUCCESS)
}

/// `vanban run-job`.
pub fn run_job(args: RunJobArgs) -> Result<ExitCode> {
    let RunJobArgs { name, config } = args;
    let config = input::config::load(&config.config)?;
    schedule::service::init_logging_in(schedule::service::log_zone(&config));
    let result = schedule::run::run_job_now(&config, &name)?;
    outln!(
        "Tác vụ \"{name}\" (kỳ {}): {}\n{}",
        result.firing.period_key(),
        result.outcome,
        result.detail
    )?;
    Ok(match result.outcome {
        RunOutcome::Ok => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}
