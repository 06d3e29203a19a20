//! `vanban copy`: an electronic copy ("Sao y") of an issued document, signed by the issuing
//! body and recorded in the register of copies.

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::SystemClock;
use vanban::issue::copies;

use super::args::CopyArgs;
use super::shared::open_document_period;

pub fn run(clock: &SystemClock, args: CopyArgs) -> Result<ExitCode> {
    let CopyArgs { document, by, out } = args;
    let Some((config, store, period_data)) = open_document_period(&document, clock)? else {
        return Ok(ExitCode::FAILURE);
    };
    let dir = config.output_dir.join(period_data.key());
    let request = copies::CopyRequest {
        kind: document.kind.into(),
        unit: document.unit.as_deref(),
        made_by: &by.by,
        out: out.as_deref(),
    };
    let made = copies::make_copy(
        &store,
        clock,
        &period_data,
        config.signing.as_ref(),
        &dir,
        &request,
    )?;
    outln!(
        "Đã sao y {} số {}: {}\nChữ ký số của {} ({}), lúc {}; đã ghi sổ bản sao.",
        made.document,
        made.number,
        made.path.display(),
        made.body,
        made.subject,
        vanban::clock::local_time(made.at),
    )?;
    Ok(ExitCode::SUCCESS)
}
