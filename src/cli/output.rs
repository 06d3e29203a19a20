//! Standard output for the commands: every line a command prints goes through [`say`] (by the
//! `out!` and `outln!` macros of the cli module), so a listing piped into `head` ends quietly.

/// Standard output closed by its reader (`vanban register show | head`): the reader had
/// enough, which is not a failure of the command.
#[derive(Debug, thiserror::Error)]
#[error("đầu ra chuẩn đã bị đóng")]
pub struct StdoutClosed;

/// Writes `text` to standard output. `print!` panics when the reader has gone away (the
/// process ignores SIGPIPE, as the mail and database connections need); here a closed pipe
/// becomes [`StdoutClosed`], which `main` ends on quietly.
pub fn say(text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        done => Ok(done?),
    }
}
