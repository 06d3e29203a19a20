//! `vanban submit`: the clerk's "trình duyệt" from a terminal, the same step as the scheduled
//! render job and the page's button (`deliver::submit`).

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::SystemClock;
use vanban::input;

use super::args::SubmitArgs;
use super::shared::on_drafts;

pub fn run(clock: &SystemClock, args: SubmitArgs) -> Result<ExitCode> {
    let SubmitArgs { period, kinds, by } = args;
    let config = input::config::load(&period.config)?;
    on_drafts(clock, &period.period, &config, |env, period_data| {
        let submission = vanban::deliver::submit::submit_drafts(
            &config,
            env,
            period_data,
            &kinds.kinds(),
            by.by.trim(),
        )?;
        outln!("{submission}")?;
        Ok(if submission.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}
