//! `vanban approve` and `vanban return`: one decision with two verbs. The chosen drafts are
//! rendered as `send` would render them and the decision recorded on each, with the SHA-256 of
//! exactly that content.

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::SystemClock;
use vanban::input;
use vanban::issue::approval::{self, Decision};

use super::args::{ApproveArgs, Drafts, ReturnArgs};
use super::shared::on_drafts;

pub fn approve(clock: &SystemClock, args: ApproveArgs) -> Result<ExitCode> {
    decide(clock, args.drafts, Decision::Approved, args.note.as_deref())
}

pub fn return_drafts(clock: &SystemClock, args: ReturnArgs) -> Result<ExitCode> {
    decide(clock, args.drafts, Decision::Returned, Some(&args.reason))
}

fn decide(
    clock: &SystemClock,
    drafts: Drafts,
    decision: Decision,
    note: Option<&str>,
) -> Result<ExitCode> {
    let Drafts {
        period,
        kinds,
        unit,
        by,
    } = drafts;
    let by = by.by;
    let config = input::config::load_without_secrets(&period.config)?;
    on_drafts(clock, &period.period, &config, |env, period_data| {
        let ids = approval::select(period_data, &kinds.kinds(), unit.as_deref())?;
        let reports = approval::decide(env, period_data, &ids, decision, &by, note)?;
        let verb = match decision {
            Decision::Returned => "Trả lại",
            _ => "Duyệt",
        };
        outln!("{verb} dự thảo kỳ {} — {}:", period_data.key(), by.trim())?;
        for report in &reports {
            outln!("  {report}")?;
        }
        Ok(ExitCode::SUCCESS)
    })
}
