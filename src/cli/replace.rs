//! `vanban replace`: an issued document replaced, with who decided, when and why; the next send
//! numbers the replacement and sends it wherever the old one went.

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::{Clock, SystemClock};
use vanban::issue::{approval, replacement};

use super::args::ReplaceArgs;
use super::shared::open_document_period;

pub fn run(clock: &SystemClock, args: ReplaceArgs) -> Result<ExitCode> {
    let ReplaceArgs {
        document,
        by,
        reason,
    } = args;
    let Some((config, store, period_data)) = open_document_period(&document, clock)? else {
        return Ok(ExitCode::FAILURE);
    };
    let id = replacement::select(&period_data, document.kind.into(), document.unit.as_deref())?;
    let done = replacement::replace(&store, &period_data, &id, &by.by, &reason, clock.now())?;
    let approve = if config.approval.required {
        ", sau khi nội dung mới được duyệt (vanban approve),"
    } else {
        ""
    };
    outln!(
        "Văn bản số {} ({}) {done}.\nLần gửi sau cấp số mới cho văn bản thay thế{approve} \
         rồi gửi cho mọi nơi đã nhận bản cũ.",
        done.number,
        approval::document_label(&id),
    )?;
    Ok(ExitCode::SUCCESS)
}
