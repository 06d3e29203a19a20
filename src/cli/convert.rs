//! `vanban convert`: a period file between TOML and the Excel form, only once it checks.

use std::process::ExitCode;

use anyhow::{Context, Result};
use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::input;
use vanban::render;

use super::args::{ConvertArgs, ConvertTo};

pub fn run(clock: &SystemClock, args: ConvertArgs) -> Result<ExitCode> {
    let ConvertArgs {
        file,
        to,
        out,
        directory,
        force,
    } = args;
    let (format, extension) = match to {
        ConvertTo::Toml => (input::Format::Toml, "toml"),
        ConvertTo::Xlsx => (input::Format::Xlsx, "xlsx"),
    };
    let out = out.unwrap_or_else(|| file.with_extension(extension));
    if out.exists() && !force {
        anyhow::bail!("{} đã có; dùng --force để ghi đè", out.display());
    }
    match input::convert_period(&file, directory.as_deref(), clock.today_in(VIETNAM), format) {
        Ok(bytes) => {
            render::templates::write_atomically(&out, &bytes)
                .with_context(|| format!("không ghi được {}", out.display()))?;
            outln!("{}", out.display())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(input::ConvertError::Period(problems)) => {
            eprintln!("{problems}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
