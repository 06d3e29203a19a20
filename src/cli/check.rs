//! `vanban check`: prints what the library's one check (`vanban::check`) finds in a period,
//! problems and warnings on stderr, the verdict on stdout; exit 1 on any problem.

use std::process::ExitCode;

use anyhow::Result;
use vanban::check::{Report, Request, check};
use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::input;

use super::args::CheckArgs;

pub fn run(clock: &SystemClock, args: CheckArgs) -> Result<ExitCode> {
    let CheckArgs {
        period,
        directory,
        render,
        templates,
        config,
    } = args;
    let settings = config
        .as_deref()
        .map(input::config::load_without_secrets)
        .transpose()?;
    // With --config, the period is read against the config's directory, as `send` reads it
    // (--directory still wins): otherwise check could pass a period that send refuses.
    let directory = directory.or_else(|| settings.as_ref().and_then(|s| s.directory.clone()));
    let report = check(&Request {
        period: &period,
        directory: directory.as_deref(),
        config: settings.as_ref(),
        templates: templates.as_deref(),
        render,
        today: clock.today_in(VIETNAM),
    })?;
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    let Report {
        period: Some(p),
        problems,
        warnings,
        laid_out,
    } = &report
    else {
        return Ok(ExitCode::FAILURE);
    };
    if problems.is_empty()
        && let Some(count) = laid_out
    {
        outln!(
            "{}: {count} văn bản đúng thể thức Nghị định 30/2020/NĐ-CP.",
            period.display(),
        )?;
    }
    for warning in warnings {
        eprintln!("{warning}");
    }
    if !problems.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    outln!(
        "{}: hợp lệ — {} chương trình, {} nhiệm vụ, {} đơn vị nhận công văn.",
        period.display(),
        p.programs.len(),
        p.tasks.len(),
        p.units_with_tasks().len()
    )?;
    Ok(ExitCode::SUCCESS)
}
