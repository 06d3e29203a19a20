//! `vanban status`: each recipient's message and each document's step, read without creating
//! anything; approvals and numbers the drafts have since outgrown are shown as such.

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::deliver::status;
use vanban::input;
use vanban::issue::filing::IssueEnv;
use vanban::state::{InstanceLock, Store};
use vanban::workflow::send::DeliverError;

use super::args::PeriodConfig;
use super::shared::office_backends;

pub fn run(clock: &SystemClock, args: PeriodConfig) -> Result<ExitCode> {
    let PeriodConfig { period, config } = args;
    let config = input::config::load_without_secrets(&config)?;
    // Read only: a database that does not exist yet is not created.
    let store = if config.state.exists() {
        Store::open_state(&config.state)?
    } else {
        Store::open_in_memory()?
    };
    let alive = InstanceLock::is_held_state(&config.state)?;
    let today = clock.today_in(VIETNAM);
    match status::period_status(&config, &store, &period, today, alive) {
        Ok(mut status) => {
            // An approval the period file or a template has since outdated, and an issued
            // document whose draft changed after its number, are shown as such: the drafts of
            // approved and issued documents are rendered and compared.
            {
                let backends = office_backends(&config)?;
                let renderers = backends.renderers();
                let env = IssueEnv {
                    store: &store,
                    clock,
                    numbering: config.numbering,
                    renderers: &renderers,
                    signing: None,
                };
                status::check_drafts(&mut status, &env, &config, &period, today)?;
            }
            outln!("{status}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(DeliverError::Period(problems)) => {
            eprintln!("{problems}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
