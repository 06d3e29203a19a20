//! `vanban send`: numbers, final documents and each message once, with the process's signals
//! stopping it between messages.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use vanban::clock::{Clock, SystemClock};
use vanban::input;
use vanban::shutdown::{StopSignal, stop_on_signals};
use vanban::state::{InstanceLock, Store};
use vanban::workflow::send::{self, SendEnv, SendOptions};

use super::args::SendArgs;
use super::shared::office_backends;

pub fn run(clock: &SystemClock, args: SendArgs) -> Result<ExitCode> {
    let SendArgs {
        period,
        dry_run,
        resend,
        kinds,
        new_issuer,
    } = args;
    // A dry run never connects, so it needs no password.
    let config = match dry_run {
        true => input::config::load_without_secrets(&period.config)?,
        false => input::config::load(&period.config)?,
    };
    // One line per message on stderr as it goes (deliver::dispatch), in the office's time; a
    // bar instead of the successes' lines when stderr is a terminal.
    vanban::schedule::service::init_logging_in(vanban::schedule::service::log_zone(&config));
    vanban::progress::bar_on_terminal();
    let lock = InstanceLock::acquire_state(&config.state, clock.now())?;
    let store = Store::open_state(&config.state)?;
    let backends = office_backends(&config)?;
    let renderers = backends.renderers();
    // SIGTERM or Ctrl-C: finish and record the message in flight, then stop. A second Ctrl-C
    // exits at once (the ledger then shows that message as unknown, never as lost).
    let stop = Arc::new(StopSignal::new());
    stop_on_signals(Arc::clone(&stop))?;
    let sleep = |delay: Duration| stop.wait_timeout(delay);
    let env = SendEnv {
        config: &config,
        store: &store,
        lock: &lock,
        clock,
        renderers: &renderers,
        sleep: &sleep,
    };
    let options = SendOptions {
        dry_run,
        resend,
        only: kinds.kinds(),
        new_issuer,
    };
    match send::send_period(&env, &period.period, &options, &stop) {
        Ok(report) => {
            outln!("{report}")?;
            Ok(if report.all_delivered() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(send::DeliverError::Period(problems)) => {
            eprintln!("{problems}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
