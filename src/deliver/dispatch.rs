//! Dispatch: hands each composed message to the transport (SMTP, or the `.eml` outbox of a dry
//! run), retries transient failures in rounds, and records every attempt in the ledger before
//! and after the exchange, so nothing is sent twice and no outcome is lost. The transport is
//! injected; this file does not know which one it has.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::Message;

use super::ledger::{Begin, Ledger};
use super::plan::Pending;
use super::report::Outcome;
use super::retry::{self, Flow, RetryPolicy, SendHooks};
use super::transport::{SendError, Transport};
use crate::clock::Clock;
use crate::progress::Progress;
use crate::shutdown::StopSignal;

/// Whether attempts are recorded: a real run writes the ledger; a dry run records nothing.
pub enum Recording<'a> {
    Ledger {
        ledger: Ledger<'a>,
        clock: &'a dyn Clock,
    },
    DryRun,
}

/// One message in flight: its plan record and what the ledger said of its current attempt.
struct InFlight<'p> {
    pending: &'p mut Pending,
    /// The ledger's attempt number for the current attempt.
    ledger_attempt: Option<u32>,
    /// When the current attempt began.
    started: Option<DateTime<Utc>>,
    /// Set when the ledger decided the outcome instead of the transport (sent or unknown
    /// meanwhile, or the ledger could not be written).
    decided: bool,
}

/// The ledger's view of each attempt: "sending" before, "sent"/"failed"/"unknown" after.
struct Hooks<'a, 'p> {
    recording: &'a Recording<'a>,
    stop: &'a StopSignal,
    messages: Vec<InFlight<'p>>,
    problems: Vec<String>,
    stopped_by_request: bool,
    /// The bar of a `send` at a terminal; otherwise the lines below are the progress.
    progress: Progress,
}

impl SendHooks for Hooks<'_, '_> {
    fn before_attempt(&mut self, index: usize, _attempt: u32) -> Flow {
        if self.stop.is_requested() {
            self.stopped_by_request = true;
            return Flow::Stop;
        }
        let Recording::Ledger { ledger, clock } = self.recording else {
            return Flow::Continue;
        };
        let item = &mut self.messages[index];
        let key = &item.pending.delivery.key;
        let now = clock.now();
        let resend = item.pending.resend();
        let decided = match ledger.begin(key, &item.pending.message_id, now, resend) {
            Ok(Begin::Proceed { attempt }) => {
                item.ledger_attempt = Some(attempt);
                item.started = Some(now);
                return Flow::Continue;
            }
            Ok(Begin::AlreadySent { at, message_id }) => Outcome::AlreadySent { at, message_id },
            Ok(Begin::Unknown { since, message_id }) => Outcome::Unknown { since, message_id },
            Ok(Begin::InProgress { since, message_id }) => {
                Outcome::InProgress { since, message_id }
            }
            Err(e) => {
                // Without the "sending" row a crash would lose track of the message: send nothing.
                self.problems.push(format!("{key}: {e}"));
                item.pending.outcome = Outcome::NotTried {
                    reason: format!("không ghi được vào sổ gửi: {e}"),
                };
                item.decided = true;
                return Flow::Stop;
            }
        };
        // Sent before: done; unknown or in progress elsewhere: not sent by this run.
        self.progress
            .item_done(matches!(decided, Outcome::AlreadySent { .. }));
        item.pending.outcome = decided;
        item.decided = true;
        Flow::Skip
    }

    fn after_attempt(
        &mut self,
        index: usize,
        attempt: u32,
        outcome: &Result<String, SendError>,
        will_retry: bool,
    ) -> Flow {
        // One line per message as it happens (the service's log, the command's stderr), so a
        // slow batch shows its progress instead of everything at the end.
        let line = progress_line(
            index + 1,
            self.messages.len(),
            &self.messages[index].pending.delivery.key.to_string(),
            attempt,
            outcome,
            will_retry,
            matches!(self.recording, Recording::DryRun),
        );
        // At a terminal the bar counts the successes; failures are still told, above it.
        match outcome {
            Ok(_) if self.progress.shows_bar() => {}
            Ok(_) => tracing::info!("{line}"),
            Err(_) => self.progress.above(|| tracing::warn!("{line}")),
        }
        if !will_retry {
            self.progress.item_done(outcome.is_ok());
        }
        if let Recording::Ledger { ledger, clock } = self.recording {
            let item = &mut self.messages[index];
            let key = &item.pending.delivery.key;
            let Some(attempt) = item.ledger_attempt else {
                return Flow::Stop;
            };
            let now = clock.now();
            let written = match outcome {
                Ok(reply) => ledger.mark_sent(key, attempt, now, reply),
                Err(e) if e.is_unknown() => {
                    item.pending.outcome = Outcome::Unknown {
                        since: item.started.unwrap_or(now),
                        message_id: item.pending.message_id.clone(),
                    };
                    item.decided = true;
                    ledger.mark_unknown(key, attempt, now, e.reason())
                }
                Err(e) => ledger.mark_failed(key, attempt, now, e.reason(), !e.is_transient()),
            };
            if let Err(e) = written {
                // The row stays "sending": the next run reports it as unknown, never resends it.
                self.problems.push(format!(
                    "{key}: không ghi được kết quả gửi vào sổ ({e}); lần chạy sau sẽ báo thư này là «không rõ kết quả»"
                ));
                return Flow::Stop;
            }
        }
        if self.stop.is_requested() {
            self.stopped_by_request = true;
            return Flow::Stop;
        }
        Flow::Continue
    }
}

/// "thư 3/14 (ubnd / 2024-h1 / review-report → pnn): đã gửi, lần thử 1" — the progress line of
/// one attempt.
fn progress_line(
    number: usize,
    total: usize,
    key: &str,
    attempt: u32,
    outcome: &Result<String, SendError>,
    will_retry: bool,
    dry_run: bool,
) -> String {
    let what = match outcome {
        Ok(_) if dry_run => "đã ghi tệp .eml".to_owned(),
        Ok(_) => "đã gửi".to_owned(),
        Err(e) if will_retry => format!("chưa gửi được, sẽ thử lại ({})", e.reason()),
        Err(e) if e.is_unknown() => format!("không rõ kết quả ({})", e.reason()),
        Err(e) => format!("không gửi được ({})", e.reason()),
    };
    format!("thư {number}/{total} ({key}): {what}, lần thử {attempt}")
}

/// Sends `messages`, one per pending message to send (in plan order), through `transport`, and
/// writes each one's outcome into its [`Pending`]. Up to `connections` exchanges run at once;
/// the ledger is written on this thread only (see [`retry::send_all`]), each claim before its
/// exchange and each outcome as it comes. `sleep` waits between retry rounds. Returns whether
/// the run stopped early (shutdown requested, or the ledger could not be written).
#[allow(clippy::too_many_arguments)]
pub fn dispatch(
    transport: &dyn Transport,
    policy: &RetryPolicy,
    connections: usize,
    recording: &Recording<'_>,
    pending: &mut [Pending],
    messages: &[Message],
    stop: &StopSignal,
    sleep: &dyn Fn(Duration),
    notes: &mut Vec<String>,
) -> bool {
    let dry_run = matches!(recording, Recording::DryRun);
    let in_flight: Vec<InFlight<'_>> = pending
        .iter_mut()
        .filter(|p| p.to_send())
        .map(|pending| InFlight {
            pending,
            ledger_attempt: None,
            started: None,
            decided: false,
        })
        .collect();
    assert_eq!(
        in_flight.len(),
        messages.len(),
        "one composed message per message to send"
    );
    let progress = Progress::start(
        in_flight.len(),
        "thư",
        if dry_run { "đã ghi" } else { "đã gửi" },
    );
    let mut hooks = Hooks {
        recording,
        stop,
        messages: in_flight,
        problems: Vec::new(),
        stopped_by_request: false,
        progress,
    };
    let wait = |delay: Duration| {
        if !stop.is_requested() {
            sleep(delay);
        }
    };
    let summary = retry::send_all(transport, messages, policy, connections, &wait, &mut hooks);
    hooks.progress.finish();
    for (item, outcome) in hooks.messages.iter_mut().zip(summary.outcomes) {
        if item.decided {
            continue;
        }
        let again = item.pending.again();
        match outcome.result {
            Some(Ok(path)) if dry_run => {
                item.pending.outcome = Outcome::Written {
                    path: PathBuf::from(path),
                }
            }
            Some(Ok(reply)) => {
                item.pending.outcome = Outcome::Sent {
                    reply,
                    attempts: outcome.attempts,
                    resend: again,
                }
            }
            Some(Err(e)) => item.pending.outcome = Outcome::failed(&e, outcome.attempts),
            None => {}
        }
    }
    if hooks.stopped_by_request && !dry_run {
        notes.push(
            "đã dừng theo yêu cầu: thư đang gửi đã xong và được ghi sổ; các thư còn lại sẽ \
             được gửi ở lần chạy sau"
                .to_owned(),
        );
    }
    notes.extend(hooks.problems);
    summary.stopped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_names_the_message_its_place_and_what_happened() {
        let key = "ubnd / 2024-h1 / review-report → pnn";
        let sent = progress_line(3, 14, key, 1, &Ok("250 OK".into()), false, false);
        assert_eq!(
            sent,
            "thư 3/14 (ubnd / 2024-h1 / review-report → pnn): đã gửi, lần thử 1"
        );
        let refused = Err(SendError::Transient {
            reason: "máy chủ bận".into(),
        });
        assert_eq!(
            progress_line(4, 14, key, 2, &refused, true, false),
            "thư 4/14 (ubnd / 2024-h1 / review-report → pnn): chưa gửi được, sẽ thử lại (máy chủ bận), lần thử 2"
        );
        assert!(progress_line(4, 14, key, 3, &refused, false, false).contains("không gửi được"));
        assert!(progress_line(1, 1, key, 1, &Ok(String::new()), false, true).contains(".eml"));
    }
}
