//! Dispatch: hands each parcel to the transport, retries transient failures in rounds, and
//! records every attempt in the ledger before and after the hand-over, so nothing is delivered
//! twice and no outcome is lost. The transport is injected and the parcels are opaque: this file
//! knows neither the channel nor what the bytes hold (email, an edXML package).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ledger::{Begin, Ledger};
use super::parcel::Parcel;
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

/// Where parcels go and how: the transport, how its transient failures are retried, and how
/// many hand-overs may run at once (SMTP: connections).
pub struct Route<'a> {
    pub transport: &'a dyn Transport,
    pub policy: RetryPolicy,
    pub connections: usize,
}

/// One parcel for dispatch, with what the plan decided of it.
#[derive(Debug, Clone)]
pub struct Handover {
    pub parcel: Parcel,
    /// Asked for on purpose (`--resend`): the ledger allows a new attempt after a delivery.
    pub resend: bool,
    /// A deliberate second copy of one delivered before (or whose outcome is unknown): the
    /// report says "sent again".
    pub again: bool,
}

impl AsRef<Parcel> for Handover {
    fn as_ref(&self) -> &Parcel {
        &self.parcel
    }
}

/// What dispatch did.
#[derive(Debug, Clone)]
pub struct Dispatched {
    /// One per handover, in order; `None`: never tried (the run stopped first).
    pub outcomes: Vec<Option<Outcome>>,
    /// The run stopped early (shutdown requested, or the ledger could not be written).
    pub stopped: bool,
    /// Warnings for the report: a stop on request, a ledger that could not be written.
    pub notes: Vec<String>,
}

/// One parcel in flight: what the ledger said of its current attempt.
#[derive(Default)]
struct InFlight {
    /// The ledger's attempt number for the current attempt.
    ledger_attempt: Option<u32>,
    /// When the current attempt began.
    started: Option<DateTime<Utc>>,
    /// Set when the ledger decided the outcome instead of the transport (sent or unknown
    /// meanwhile, or the ledger could not be written).
    decided: Option<Outcome>,
}

/// The ledger's view of each attempt: "sending" before, "sent"/"failed"/"unknown" after.
struct Hooks<'a> {
    recording: &'a Recording<'a>,
    stop: &'a StopSignal,
    handovers: &'a [Handover],
    in_flight: Vec<InFlight>,
    problems: Vec<String>,
    stopped_by_request: bool,
    /// The bar of a `send` at a terminal; otherwise the lines below are the progress.
    progress: Progress,
}

impl SendHooks for Hooks<'_> {
    fn before_attempt(&mut self, index: usize, _attempt: u32) -> Flow {
        if self.stop.is_requested() {
            self.stopped_by_request = true;
            return Flow::Stop;
        }
        let Recording::Ledger { ledger, clock } = self.recording else {
            return Flow::Continue;
        };
        let handover = &self.handovers[index];
        let item = &mut self.in_flight[index];
        let key = &handover.parcel.key;
        let now = clock.now();
        let decided = match ledger.begin(key, &handover.parcel.id, now, handover.resend) {
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
                // Without the "sending" row a crash would lose track of the parcel: send nothing.
                self.problems.push(format!("{key}: {e}"));
                item.decided = Some(Outcome::NotTried {
                    reason: format!("không ghi được vào sổ gửi: {e}"),
                });
                return Flow::Stop;
            }
        };
        // Sent before: done; unknown or in progress elsewhere: not sent by this run.
        self.progress
            .item_done(matches!(decided, Outcome::AlreadySent { .. }));
        item.decided = Some(decided);
        Flow::Skip
    }

    fn after_attempt(
        &mut self,
        index: usize,
        attempt: u32,
        outcome: &Result<String, SendError>,
        will_retry: bool,
    ) -> Flow {
        let handover = &self.handovers[index];
        // One line per parcel as it happens (the service's log, the command's stderr), so a
        // slow batch shows its progress instead of everything at the end.
        let line = progress_line(
            index + 1,
            self.handovers.len(),
            &handover.parcel.key.to_string(),
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
            let item = &mut self.in_flight[index];
            let key = &handover.parcel.key;
            let Some(attempt) = item.ledger_attempt else {
                return Flow::Stop;
            };
            let now = clock.now();
            let written = match outcome {
                Ok(reply) => ledger.mark_sent(key, attempt, now, reply),
                Err(e) if e.is_unknown() => {
                    item.decided = Some(Outcome::Unknown {
                        since: item.started.unwrap_or(now),
                        message_id: handover.parcel.id.clone(),
                    });
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

/// Delivers `handovers` (in plan order) through `route`, and returns each one's outcome. Up to
/// `route.connections` hand-overs run at once; the ledger is written on this thread only (see
/// [`retry::send_all`]), each claim before its hand-over and each outcome as it comes. `sleep`
/// waits between retry rounds.
pub fn dispatch(
    route: &Route<'_>,
    recording: &Recording<'_>,
    handovers: &[Handover],
    stop: &StopSignal,
    sleep: &dyn Fn(Duration),
) -> Dispatched {
    let dry_run = matches!(recording, Recording::DryRun);
    let progress = Progress::start(
        handovers.len(),
        "thư",
        if dry_run { "đã ghi" } else { "đã gửi" },
    );
    let mut hooks = Hooks {
        recording,
        stop,
        handovers,
        in_flight: handovers.iter().map(|_| InFlight::default()).collect(),
        problems: Vec::new(),
        stopped_by_request: false,
        progress,
    };
    let wait = |delay: Duration| {
        if !stop.is_requested() {
            sleep(delay);
        }
    };
    let summary = retry::send_all(
        route.transport,
        handovers,
        &route.policy,
        route.connections,
        &wait,
        &mut hooks,
    );
    hooks.progress.finish();
    let outcomes = hooks
        .in_flight
        .into_iter()
        .zip(handovers)
        .zip(summary.outcomes)
        .map(|((item, handover), outcome)| {
            if item.decided.is_some() {
                return item.decided;
            }
            match outcome.result? {
                Ok(path) if dry_run => Some(Outcome::Written {
                    path: PathBuf::from(path),
                }),
                Ok(reply) => Some(Outcome::Sent {
                    reply,
                    attempts: outcome.attempts,
                    resend: handover.again,
                }),
                Err(e) => Some(Outcome::failed(&e, outcome.attempts)),
            }
        })
        .collect();
    let mut notes = Vec::new();
    if hooks.stopped_by_request && !dry_run {
        notes.push(
            "đã dừng theo yêu cầu: thư đang gửi đã xong và được ghi sổ; các thư còn lại sẽ \
             được gửi ở lần chạy sau"
                .to_owned(),
        );
    }
    notes.extend(hooks.problems);
    Dispatched {
        outcomes,
        stopped: summary.stopped,
        notes,
    }
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

    // ---- a channel that is not email, through the same exactly-once path ----

    use crate::clock::FixedClock;
    use crate::deliver::ledger::{AttemptOutcome, DeliveryKey, DeliveryState};
    use crate::deliver::transport::expect_media_type;
    use crate::model::{Half, PeriodId};
    use crate::state::testing;
    use chrono::TimeZone;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// An edXML-like package's media type: nothing the email transports take.
    const PACKAGE: &str = "application/vnd.vanban.package+xml";

    /// A document exchange as a folder: each package written as `<id>.xml`, its recipients'
    /// organisation codes in the reply. Answers from a script first (a busy exchange, a lost
    /// acknowledgement), then takes the package.
    struct PackageFolder {
        dir: PathBuf,
        script: Mutex<std::collections::HashMap<String, VecDeque<SendError>>>,
        handed: Mutex<Vec<String>>,
    }

    impl PackageFolder {
        fn new(dir: PathBuf, script: &[(&str, SendError)]) -> PackageFolder {
            let mut answers: std::collections::HashMap<String, VecDeque<SendError>> =
                std::collections::HashMap::new();
            for (id, error) in script {
                answers
                    .entry((*id).to_owned())
                    .or_default()
                    .push_back(error.clone());
            }
            PackageFolder {
                dir,
                script: Mutex::new(answers),
                handed: Mutex::default(),
            }
        }

        fn handed(&self) -> Vec<String> {
            self.handed.lock().unwrap().clone()
        }
    }

    impl Transport for PackageFolder {
        fn deliver(&self, parcel: &Parcel) -> Result<String, SendError> {
            expect_media_type(parcel, PACKAGE, "thư mục gói tin")?;
            self.handed.lock().unwrap().push(parcel.id.clone());
            let scripted = self
                .script
                .lock()
                .unwrap()
                .get_mut(&parcel.id)
                .and_then(VecDeque::pop_front);
            if let Some(error) = scripted {
                return Err(error);
            }
            let path = self.dir.join(format!("{}.xml", parcel.id));
            std::fs::write(&path, &parcel.bytes).map_err(|e| SendError::Permanent {
                reason: e.to_string(),
            })?;
            Ok(format!("đã nhận {}", parcel.recipients.join(", ")))
        }
    }

    fn package(recipient: &str, id: &str) -> Handover {
        Handover {
            parcel: Parcel {
                key: DeliveryKey::new(
                    "UBND huyện Đầm Hà",
                    PeriodId::new(2024, Half::First),
                    "letter-and-notice",
                    recipient,
                ),
                id: id.to_owned(),
                sender: "000.00.12.H40".to_owned(),
                recipients: vec![format!("000.00.12.{recipient}")],
                media_type: PACKAGE.to_owned(),
                bytes: format!("<edXML><To>{recipient}</To></edXML>").into_bytes(),
            },
            resend: false,
            again: false,
        }
    }

    #[test]
    fn a_channel_that_is_not_email_is_delivered_exactly_once_and_retried_like_smtp() {
        let folder = tempfile::tempdir().unwrap();
        let store = testing::open_in_memory().unwrap();
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap());
        let transport = PackageFolder::new(
            folder.path().to_path_buf(),
            &[
                (
                    "pkg-pnn",
                    SendError::Transient {
                        reason: "hệ thống nhận đang bận".into(),
                    },
                ),
                (
                    "pkg-vp",
                    SendError::Unknown {
                        reason: "mất kết nối sau khi gửi gói tin".into(),
                    },
                ),
            ],
        );
        let route = Route {
            transport: &transport,
            policy: RetryPolicy {
                max_attempts: 3,
                first_delay: Duration::from_secs(5),
                ..RetryPolicy::default()
            },
            connections: 1,
        };
        let recording = Recording::Ledger {
            ledger: Ledger::new(&store),
            clock: &clock,
        };
        let handovers = [
            package("pnn", "pkg-pnn"),
            package("bqlda", "pkg-bqlda"),
            package("vp", "pkg-vp"),
        ];
        let slept = Mutex::new(Vec::new());
        let sleep = |d: Duration| slept.lock().unwrap().push(d);
        let stop = StopSignal::new();

        let first = dispatch(&route, &recording, &handovers, &stop, &sleep);
        assert!(
            !first.stopped && first.notes.is_empty(),
            "{:?}",
            first.notes
        );
        // The busy exchange is tried again after the retry delay, as SMTP's 4xx is; the lost
        // acknowledgement is never retried.
        assert_eq!(
            transport.handed(),
            ["pkg-pnn", "pkg-bqlda", "pkg-vp", "pkg-pnn"]
        );
        assert_eq!(*slept.lock().unwrap(), [Duration::from_secs(5)]);
        assert!(
            matches!(&first.outcomes[0], Some(Outcome::Sent { attempts: 2, reply, .. }) if reply == "đã nhận 000.00.12.pnn"),
            "{:?}",
            first.outcomes
        );
        assert!(matches!(
            &first.outcomes[1],
            Some(Outcome::Sent { attempts: 1, .. })
        ));
        assert!(
            matches!(&first.outcomes[2], Some(Outcome::Unknown { message_id, .. }) if message_id == "pkg-vp")
        );
        for recipient in ["pnn", "bqlda"] {
            assert_eq!(
                std::fs::read(folder.path().join(format!("pkg-{recipient}.xml"))).unwrap(),
                format!("<edXML><To>{recipient}</To></edXML>").into_bytes()
            );
        }
        // The ledger knows each package by its id, as it knows an email by its Message-ID.
        let records = Ledger::new(&store)
            .status("UBND huyện Đầm Hà", PeriodId::new(2024, Half::First))
            .unwrap();
        let of = |recipient: &str| {
            records
                .iter()
                .find(|r| r.key.recipient == recipient)
                .unwrap()
        };
        let pnn = of("pnn");
        assert_eq!(pnn.state, DeliveryState::Sent);
        assert_eq!(pnn.attempts.len(), 2);
        assert!(pnn.attempts.iter().all(|a| a.message_id == "pkg-pnn"));
        assert!(matches!(
            pnn.attempts[0].outcome,
            AttemptOutcome::Failed {
                permanent: false,
                ..
            }
        ));
        assert_eq!(of("vp").state, DeliveryState::Unknown);

        // A re-run hands nothing over twice: the delivered ones are done, the unknown one waits
        // for a person.
        clock.advance(chrono::Duration::hours(1));
        let again = dispatch(&route, &recording, &handovers, &stop, &sleep);
        assert_eq!(transport.handed().len(), 4, "{:?}", transport.handed());
        assert!(
            matches!(&again.outcomes[0], Some(Outcome::AlreadySent { message_id, .. }) if message_id == "pkg-pnn")
        );
        assert!(matches!(
            &again.outcomes[1],
            Some(Outcome::AlreadySent { .. })
        ));
        assert!(matches!(&again.outcomes[2], Some(Outcome::Unknown { .. })));
    }
}
