//! How a long batch (`render`'s files, `send`'s messages) shows its progress as it goes: for a
//! person at a terminal, a progress bar on stderr (done, failed, remaining, rate, time left, in
//! Vietnamese); everywhere else (the service, a pipe, a file, the journal) nothing here, and the
//! caller writes its one log line per item instead.
//!
//! Like the logger, the front end decides once per process: only the command line turns the bar
//! on ([`bar_on_terminal`]); the service never does, so its log keeps one line per message even
//! when it was started from a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

static BAR_ON_TERMINAL: AtomicBool = AtomicBool::new(false);

/// Batches shorter than this end before a bar would tell anyone anything.
pub const BAR_FROM: usize = 5;

/// The command line's choice: show a bar for batches of [`BAR_FROM`] items or more when stderr
/// is a terminal.
pub fn bar_on_terminal() {
    BAR_ON_TERMINAL.store(true, Ordering::SeqCst);
}

/// "2 phút 05 giây", "45 giây": a duration as a clerk reads it.
fn duration_vi(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 3600, seconds / 60 % 60, seconds % 60) {
        (0, 0, s) => format!("{s} giây"),
        (0, m, s) => format!("{m} phút {s:02} giây"),
        (h, m, _) => format!("{h} giờ {m:02} phút"),
    }
}

/// "3,5" per second with a decimal comma, as Vietnamese write it.
fn rate_vi(per_second: f64) -> String {
    format!("{per_second:.1}").replace('.', ",")
}

/// A batch's progress: a bar when [`bar_on_terminal`] was called, stderr is a terminal and the
/// batch is long enough; otherwise [`Progress::shows_bar`] is false and the caller logs lines.
pub struct Progress {
    bar: Option<ProgressBar>,
    failed: AtomicU64,
}

impl Progress {
    /// A batch of `total` items called `noun`; `done_verb` says what happened to one that
    /// succeeded ("đã gửi", "đã tạo").
    pub fn start(total: usize, noun: &'static str, done_verb: &'static str) -> Self {
        let wanted = BAR_ON_TERMINAL.load(Ordering::SeqCst)
            && total >= BAR_FROM
            && std::io::stderr().is_terminal();
        let bar = wanted.then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(u64::try_from(total).unwrap_or(u64::MAX)),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(style(noun, done_verb));
            bar.set_message(String::new());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Self {
            bar,
            failed: AtomicU64::new(0),
        }
    }

    /// Whether a bar is drawn (then per-item success lines would only scroll it away).
    pub fn shows_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// One item done (`ok`), or given up on for now (failed, outcome unknown, not tried).
    pub fn item_done(&self, ok: bool) {
        let Some(bar) = &self.bar else { return };
        if !ok {
            let failed = self.failed.fetch_add(1, Ordering::SeqCst) + 1;
            bar.set_message(format!(" · không thành công {failed}"));
        }
        bar.inc(1);
    }

    /// Runs `log` with the bar lifted (or plainly when there is none), so a warning is read
    /// whole and the bar is drawn again under it.
    pub fn above(&self, log: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(log),
            None => log(),
        }
    }

    /// Removes the bar; the caller's summary follows on stdout.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// "#####>----- đã gửi 120/400 thư · không thành công 2 · còn 278 · 7,9 thư/giây · còn khoảng 35 giây"
fn style(noun: &'static str, done_verb: &'static str) -> ProgressStyle {
    let template = format!(
        "{{wide_bar}} {done_verb} {{pos}}/{{len}} {noun}{{msg}} · {{con_lai}} · {{toc_do}} · {{thoi_gian}}"
    );
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-")
        .with_key(
            "con_lai",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let left = state.len().unwrap_or(0).saturating_sub(state.pos());
                let _ = write!(w, "còn {left}");
            },
        )
        .with_key(
            "toc_do",
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} {noun}/giây", rate_vi(state.per_sec()));
            },
        )
        .with_key(
            "thoi_gian",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "còn khoảng {}", duration_vi(state.eta()));
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates_read_as_vietnamese() {
        assert_eq!(duration_vi(Duration::from_secs(45)), "45 giây");
        assert_eq!(duration_vi(Duration::from_secs(125)), "2 phút 05 giây");
        assert_eq!(
            duration_vi(Duration::from_secs(3 * 3600 + 120)),
            "3 giờ 02 phút"
        );
        assert_eq!(rate_vi(7.94), "7,9");
    }

    #[test]
    fn a_short_batch_has_no_bar_and_its_lines_are_written_as_they_are() {
        // Whether stderr is a terminal depends on where the tests run; a short batch never has
        // a bar (tests/connections.rs checks a piped stderr gets lines only).
        bar_on_terminal();
        let short = Progress::start(BAR_FROM - 1, "thư", "đã gửi");
        assert!(!short.shows_bar());
        let mut logged = false;
        short.above(|| logged = true);
        assert!(logged, "without a bar the line is written as is");
        short.item_done(false);
        short.finish();
    }
}
