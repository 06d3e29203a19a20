//! `vanban`: the command line (src/cli/) over the library; nothing else starts here.

use std::process::ExitCode;

mod cli;
mod cli_vi;

fn main() -> ExitCode {
    cli::main()
}
