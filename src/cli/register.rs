//! `vanban register`: continue the office's own register (`set-next`), record a number given
//! elsewhere (`assign`), list a year's register (`show`).

use std::process::ExitCode;

use anyhow::Result;
use chrono::Datelike;
use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::input;
use vanban::issue::approval;
use vanban::issue::filing::{DocId, issuer_key};
use vanban::issue::register::{NextScope, Register, checked_number, checked_year, format_number};
use vanban::model::DocumentKind;
use vanban::state::Store;

use super::args::RegisterCommand;

pub fn run(clock: &SystemClock, command: RegisterCommand) -> Result<ExitCode> {
    match command {
        RegisterCommand::SetNext {
            number,
            config,
            year,
            symbol,
            issuer,
            by,
        } => {
            let by = by.by;
            // Out of range is said before the database is opened: nothing is created for it.
            let (number, year) = (checked_number(number)?, checked_year(year)?);
            let config = input::config::load_without_secrets(&config.config)?;
            let store = Store::open_state(&config.state)?;
            let scope = NextScope { issuer, symbol };
            Register::new(&store).set_next(
                &scope,
                config.numbering,
                year,
                number,
                &by,
                clock.now(),
            )?;
            outln!("Đã ghi vào sổ: số tiếp theo năm {year} là {number} (người ghi: {by}).")?;
        }
        RegisterCommand::Assign {
            period,
            kind,
            number,
            unit,
            config,
            by,
        } => {
            let by = by.by;
            let number = checked_number(number)?;
            let config = input::config::load_without_secrets(&config.config)?;
            let p = match input::load_period(
                &period,
                config.directory.as_deref(),
                clock.today_in(VIETNAM),
            ) {
                Ok(p) => p,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let kind = DocumentKind::from(kind);
            let names = &kind.spec().names;
            match &unit {
                None if kind.per_unit() => anyhow::bail!(
                    "{} có một số cho mỗi đơn vị: cần --unit <mã đơn vị>",
                    vanban::vi::lower_first(names.any_period)
                ),
                Some(_) if !kind.per_unit() => anyhow::bail!(
                    "chỉ {} mới gửi riêng từng đơn vị: bỏ --unit",
                    approval::per_unit_names()
                ),
                Some(u) if !kind.units(&p).iter().any(|t| t.id == *u) => anyhow::bail!(
                    "{}: đơn vị \"{u}\" không được giao nhiệm vụ trong kỳ này, nên không có {}",
                    period.display(),
                    vanban::vi::lower_first(names.short)
                ),
                _ => {}
            }
            let id = DocId { kind, unit };
            let symbol = p.symbol(kind);
            Register::new(&Store::open_state(&config.state)?).assign(
                &issuer_key(p.issuer_of(kind)),
                p.documents.date.year(),
                &symbol,
                config.numbering,
                &id.register_key(&p),
                number,
                &by,
                clock.now(),
            )?;
            outln!(
                "Đã ghi vào sổ: số {}/{symbol} cho «{}» (người ghi: {by}); lệnh send sẽ cấp số này.",
                format_number(number),
                id.register_key(&p)
            )?;
        }
        RegisterCommand::Show { config, year } => {
            let year = checked_year(year)?;
            let config = input::config::load_without_secrets(&config.config)?;
            // Read only: a database that does not exist yet is not created.
            let store = if config.state.exists() {
                Store::open_state(&config.state)?
            } else {
                Store::open_in_memory()?
            };
            out!("{}", Register::new(&store).listing(year)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
