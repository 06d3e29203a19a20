//! The `vanban` command line: the arguments (args.rs), one file per command, and here the run
//! itself: parse (in Vietnamese, `cli_vi`), hand the command to its file, report an error.

/// `print!` through [`output::say`]: every listing of the command line survives `| head`.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::say(format_args!($($arg)*)) };
}

/// `println!` through [`output::say`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::say(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod args;
mod check;
mod convert;
mod copy;
mod db;
mod decide;
mod output;
mod register;
mod render;
mod replace;
mod send;
mod service;
mod shared;
mod status;
mod submit;
mod templates;
mod web;

use std::process::ExitCode;

use anyhow::Result;
use vanban::clock::SystemClock;
use vanban::render::worker;

use crate::cli_vi;
use args::{Cli, Command};

/// Runs the command line: the process's exit code.
pub fn main() -> ExitCode {
    // This binary is also the render worker every command renders through: an office template
    // or image that allocates or loops without end stops in that bounded child, not here.
    if let Some(code) = worker::serve_if_asked() {
        return code;
    }
    if let Some(program) = worker::WorkerProgram::this_binary() {
        worker::register(program);
    }
    let cli = match cli_vi::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(code) => code,
        Err(error) if error.chain().any(|e| e.is::<output::StdoutClosed>()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Lỗi: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: many errors already quote their cause in their
/// own text ("không nạp được mẫu Typst: <lỗi>"), which `{:#}` would print a second time.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> Result<ExitCode> {
    let clock = SystemClock;
    match cli.command {
        Command::Check(args) => check::run(&clock, args),
        Command::Render(args) => render::run(&clock, args),
        Command::Send(args) => send::run(&clock, args),
        Command::Submit(args) => submit::run(&clock, args),
        Command::Approve(args) => decide::approve(&clock, args),
        Command::Return(args) => decide::return_drafts(&clock, args),
        Command::Replace(args) => replace::run(&clock, args),
        Command::Copy(args) => copy::run(&clock, args),
        Command::Status(args) => status::run(&clock, args),
        Command::Run(args) => service::run(args),
        Command::Jobs(args) => service::jobs(&clock, args),
        Command::RunJob(args) => service::run_job(args),
        Command::Convert(args) => convert::run(&clock, args),
        Command::Templates { command } => templates::run(&clock, command),
        Command::Register { command } => register::run(&clock, command),
        Command::Db { command } => db::run(command),
        Command::Web(command) => web::run(command),
    }
}
