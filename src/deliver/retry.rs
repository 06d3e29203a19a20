//! Retries: every parcel handed to the transport once, then the transient failures again in
//! rounds with a growing wait, on up to `connections` workers at once; the caller's hooks (the
//! ledger) see each attempt before and after. Permanent failures and unknown outcomes are never
//! retried.

use std::sync::mpsc;
use std::time::Duration;

use super::parcel::Parcel;
use super::transport::{SendError, Transport};

/// How transient failures are retried: attempt n+1 waits `first_delay * factor^(n-1)`, capped at
/// `max_delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per parcel, the first included (0 is treated as 1).
    pub max_attempts: u32,
    pub first_delay: Duration,
    pub factor: f64,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            first_delay: Duration::from_secs(30),
            factor: 2.0,
            max_delay: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt` (2 or more; the first attempt does not wait).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let exponent = i32::try_from(attempt - 2).unwrap_or(i32::MAX);
        let seconds = self.first_delay.as_secs_f64() * factor.powi(exponent);
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// Whether [`send_all`] goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
    /// From `before_attempt` only: leave this parcel alone (the ledger says it was sent or its
    /// outcome is unknown) and go on with the others; it is not tried again in later rounds.
    /// From `after_attempt` it means the same as `Continue`.
    Skip,
}

/// The caller's view of each attempt; the ledger is written here.
pub trait SendHooks {
    /// Before attempt `attempt` (1-based) of parcel `index`: record "sending". `Stop` means this
    /// parcel is not sent and nothing further is (the ledger could not be written, or a
    /// shutdown was requested).
    fn before_attempt(&mut self, index: usize, attempt: u32) -> Flow;

    /// After the attempt: record "sent" or "failed". `will_retry` is true when the failure is
    /// transient and attempts remain, so the parcel will be tried again in a later round.
    /// `Stop` ends the run after this parcel (SIGTERM: finish the one in flight, record, stop).
    fn after_attempt(
        &mut self,
        index: usize,
        attempt: u32,
        outcome: &Result<String, SendError>,
        will_retry: bool,
    ) -> Flow;
}

/// What happened to one parcel in [`send_all`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParcelOutcome {
    /// Attempts made (0: never tried, because the run stopped first).
    pub attempts: u32,
    /// The last attempt's outcome, `None` if never tried.
    pub result: Option<Result<String, SendError>>,
}

/// The result of [`send_all`], one outcome per parcel in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSummary {
    pub outcomes: Vec<ParcelOutcome>,
    /// A hook returned [`Flow::Stop`].
    pub stopped: bool,
}

impl SendSummary {
    pub fn sent(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.result, Some(Ok(_))))
            .count()
    }
}

/// Delivers every parcel once, then retries the transient failures in rounds, waiting
/// `policy.delay_before(n)` (through `sleep`, so tests and shutdown can intercept it) before
/// round n, until they succeed or `max_attempts` is reached. Permanent failures are never
/// retried. Rounds rather than per-parcel retries: a server that is briefly unavailable gets
/// the whole delay, and one slow parcel does not hold up the others.
///
/// Up to `connections` exchanges run at once, each on a worker thread of its own (and so, over
/// SMTP, on a connection of its own). The hooks run on the calling thread only, in the order
/// things happen: `before_attempt` just before a parcel is handed to a free worker (the
/// ledger's claim, so a parcel is never on two workers), `after_attempt` as soon as its
/// exchange ends. A hook's `Stop` hands out no further parcel; those already in flight finish
/// and go through `after_attempt` (their outcome recorded, never lost). With one connection
/// this is the plain one-after-another loop, hook for hook.
pub fn send_all<T: Transport + ?Sized, P: AsRef<Parcel> + Sync>(
    transport: &T,
    parcels: &[P],
    policy: &RetryPolicy,
    connections: usize,
    sleep: &dyn Fn(Duration),
    hooks: &mut dyn SendHooks,
) -> SendSummary {
    let mut outcomes = vec![ParcelOutcome::default(); parcels.len()];
    let max_attempts = policy.max_attempts.max(1);
    let workers = connections.clamp(1, parcels.len().max(1));
    let mut stopped = false;
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<(usize, usize, Result<String, SendError>)>();
        let mut jobs = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (job_tx, job_rx) = mpsc::channel::<usize>();
            let done = done_tx.clone();
            scope.spawn(move || {
                for index in job_rx {
                    let result = exchange(transport, parcels[index].as_ref());
                    if done.send((worker, index, result)).is_err() {
                        break;
                    }
                }
            });
            jobs.push(job_tx);
        }
        drop(done_tx);
        // Free workers, the first one on top, so one parcel at a time reuses one connection.
        let mut idle: Vec<usize> = (0..workers).rev().collect();
        let mut pending: Vec<usize> = (0..parcels.len()).collect();
        for attempt in 1..=max_attempts {
            if pending.is_empty() || stopped {
                break;
            }
            if attempt > 1 {
                sleep(policy.delay_before(attempt));
            }
            let mut retry = Vec::new();
            let mut queue = pending.iter().copied();
            let mut in_flight = 0usize;
            loop {
                while !stopped && !idle.is_empty() {
                    let Some(index) = queue.next() else { break };
                    match hooks.before_attempt(index, attempt) {
                        Flow::Continue => {}
                        Flow::Skip => continue,
                        Flow::Stop => {
                            stopped = true;
                            break;
                        }
                    }
                    let worker = idle.pop().unwrap_or_default();
                    if jobs[worker].send(index).is_err() {
                        // The worker is gone (it panicked): its parcel was claimed but never
                        // exchanged; record it as unknown rather than pretend it was not tried.
                        let result = Err(SendError::Unknown {
                            reason: "lỗi nội bộ: luồng gửi thư đã dừng".to_owned(),
                        });
                        hooks.after_attempt(index, attempt, &result, false);
                        outcomes[index] = ParcelOutcome {
                            attempts: attempt,
                            result: Some(result),
                        };
                        stopped = true;
                        break;
                    }
                    in_flight += 1;
                }
                if in_flight == 0 {
                    break;
                }
                let Ok((worker, index, result)) = done_rx.recv() else {
                    // Every worker is gone: nothing more will come back.
                    stopped = true;
                    break;
                };
                in_flight -= 1;
                idle.push(worker);
                let will_retry =
                    matches!(&result, Err(e) if e.is_transient()) && attempt < max_attempts;
                let flow = hooks.after_attempt(index, attempt, &result, will_retry);
                outcomes[index] = ParcelOutcome {
                    attempts: attempt,
                    result: Some(result),
                };
                if will_retry {
                    retry.push(index);
                }
                if flow == Flow::Stop {
                    stopped = true;
                }
            }
            // Results come back in the order exchanges end; the next round goes in plan order.
            retry.sort_unstable();
            pending = retry;
        }
        // Closing the job channels ends the workers; the scope joins them.
        drop(jobs);
    });
    SendSummary { outcomes, stopped }
}

/// One exchange on a worker thread. A panic in the transport would leave the parcel claimed
/// with nobody to record it: it comes back as an unknown outcome instead (the exchange may have
/// gone through), so the ledger keeps it from being resent.
fn exchange<T: Transport + ?Sized>(transport: &T, parcel: &Parcel) -> Result<String, SendError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| transport.deliver(parcel)))
        .unwrap_or_else(|_| {
            Err(SendError::Unknown {
                reason: "lỗi nội bộ trong lúc gửi thư".to_owned(),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::ledger::DeliveryKey;
    use crate::deliver::parcel::Parcel;
    use crate::model::{Half, PeriodId};
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::sync::Mutex;

    #[test]
    fn retry_delays_grow_and_cap() {
        let policy = RetryPolicy {
            max_attempts: 6,
            first_delay: Duration::from_secs(10),
            factor: 3.0,
            max_delay: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=6).map(|n| policy.delay_before(n).as_secs()).collect();
        assert_eq!(delays, [0, 10, 30, 60, 60, 60]);
        let odd = RetryPolicy {
            factor: f64::NAN,
            ..policy.clone()
        };
        assert_eq!(odd.delay_before(5), Duration::from_secs(10));
        let huge = RetryPolicy {
            factor: 1e300,
            max_delay: Duration::from_secs(99),
            ..policy
        };
        assert_eq!(huge.delay_before(40), Duration::from_secs(99));
    }

    // ---- send_all with a scripted transport ----

    /// A `RefCell` that can be shared between `send_all`'s workers (`Transport` is `Sync`).
    #[derive(Default)]
    struct Shared<T>(Mutex<T>);

    impl<T> Shared<T> {
        fn new(value: T) -> Self {
            Self(Mutex::new(value))
        }
        fn borrow(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
        fn borrow_mut(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    /// Answers each parcel (by the index in its recipient) from a script; records every send.
    struct Scripted {
        script: Shared<Vec<VecDeque<Result<String, SendError>>>>,
        log: Shared<Vec<usize>>,
        /// `send_all`'s connections (1: one after another).
        connections: usize,
    }

    impl Scripted {
        /// Parcel i is answered from `script[i]` in turn, then with "250 OK".
        fn new(script: Vec<Vec<Result<String, SendError>>>) -> Self {
            Scripted {
                script: Shared::new(script.into_iter().map(VecDeque::from).collect()),
                log: Shared::default(),
                connections: 1,
            }
        }

        /// `send_all` over one indexed parcel per line of the script.
        fn send_all(
            &self,
            max_attempts: u32,
            sleep: &dyn Fn(Duration),
            hooks: &mut dyn SendHooks,
        ) -> SendSummary {
            let count = self.script.borrow().len();
            send_all(
                self,
                &indexed_parcels(count),
                &policy(max_attempts),
                self.connections,
                sleep,
                hooks,
            )
        }
    }

    impl Transport for Scripted {
        fn deliver(&self, parcel: &Parcel) -> Result<String, SendError> {
            let index: usize = parcel
                .key
                .recipient
                .trim_start_matches('u')
                .parse()
                .unwrap();
            self.log.borrow_mut().push(index);
            self.script.borrow_mut()[index]
                .pop_front()
                .unwrap_or_else(|| Ok("250 OK".to_owned()))
        }
    }

    #[derive(Default)]
    struct Recorder {
        events: Vec<String>,
        stop_before: Option<(usize, u32)>,
        stop_after: Option<(usize, u32)>,
        skip_before: Option<usize>,
    }

    impl SendHooks for Recorder {
        fn before_attempt(&mut self, index: usize, attempt: u32) -> Flow {
            self.events.push(format!("before {index}#{attempt}"));
            if self.stop_before == Some((index, attempt)) {
                Flow::Stop
            } else if self.skip_before == Some(index) {
                Flow::Skip
            } else {
                Flow::Continue
            }
        }
        fn after_attempt(
            &mut self,
            index: usize,
            attempt: u32,
            outcome: &Result<String, SendError>,
            will_retry: bool,
        ) -> Flow {
            let what = match outcome {
                Ok(_) => "ok",
                Err(e) if e.is_transient() => "transient",
                Err(_) => "permanent",
            };
            self.events.push(format!(
                "after {index}#{attempt} {what}{}",
                if will_retry { " retry" } else { "" }
            ));
            if self.stop_after == Some((index, attempt)) {
                Flow::Stop
            } else {
                Flow::Continue
            }
        }
    }

    fn transient() -> Result<String, SendError> {
        Err(SendError::Transient {
            reason: "451".to_owned(),
        })
    }

    fn permanent() -> Result<String, SendError> {
        Err(SendError::Permanent {
            reason: "550".to_owned(),
        })
    }

    /// Parcel i goes to unit "u<i>"; what it holds does not matter here.
    fn indexed_parcels(n: usize) -> Vec<Parcel> {
        (0..n)
            .map(|i| Parcel {
                key: DeliveryKey::new(
                    "UBND",
                    PeriodId::new(2024, Half::First),
                    "review-report",
                    format!("u{i}"),
                ),
                id: format!("<{i}.1@damha.example>"),
                sender: "vanphong@damha.example".to_owned(),
                recipients: vec![format!("u{i}@damha.example")],
                media_type: "text/plain".to_owned(),
                bytes: format!("parcel {i}").into_bytes(),
            })
            .collect()
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            first_delay: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(60),
        }
    }

    #[test]
    fn send_all_retries_only_transient_failures_in_rounds() {
        let transport = Scripted::new(vec![
            vec![transient(), transient()],
            vec![permanent()],
            vec![],
            vec![transient(), transient(), transient(), transient()],
        ]);
        let slept = RefCell::new(Vec::new());
        let mut hooks = Recorder::default();
        let summary = transport.send_all(3, &|d| slept.borrow_mut().push(d.as_secs()), &mut hooks);
        assert_eq!(*transport.log.borrow(), [0, 1, 2, 3, 0, 3, 0, 3]);
        assert_eq!(*slept.borrow(), [1, 2]);
        assert!(!summary.stopped);
        assert_eq!(summary.sent(), 2);
        let attempts: Vec<u32> = summary.outcomes.iter().map(|o| o.attempts).collect();
        assert_eq!(attempts, [3, 1, 1, 3]);
        assert_eq!(summary.outcomes[1].result, Some(permanent()));
        assert_eq!(summary.outcomes[3].result, Some(transient()));
        assert_eq!(
            hooks.events,
            [
                "before 0#1",
                "after 0#1 transient retry",
                "before 1#1",
                "after 1#1 permanent",
                "before 2#1",
                "after 2#1 ok",
                "before 3#1",
                "after 3#1 transient retry",
                "before 0#2",
                "after 0#2 transient retry",
                "before 3#2",
                "after 3#2 transient retry",
                "before 0#3",
                "after 0#3 ok",
                "before 3#3",
                "after 3#3 transient",
            ]
        );
    }

    #[test]
    fn a_skipped_message_is_not_sent_nor_retried_and_the_others_go_on() {
        let transport = Scripted::new(vec![vec![transient()], vec![transient()], vec![]]);
        let mut hooks = Recorder {
            skip_before: Some(1),
            ..Recorder::default()
        };
        let summary = transport.send_all(3, &|_| {}, &mut hooks);
        assert!(!summary.stopped);
        assert_eq!(*transport.log.borrow(), [0, 2, 0]);
        assert_eq!(summary.outcomes[1], ParcelOutcome::default());
        assert_eq!(summary.sent(), 2);
        assert_eq!(
            hooks.events,
            [
                "before 0#1",
                "after 0#1 transient retry",
                "before 1#1",
                "before 2#1",
                "after 2#1 ok",
                "before 0#2",
                "after 0#2 ok",
            ]
        );
    }

    #[test]
    fn send_all_stops_when_a_hook_says_so() {
        let script = || vec![vec![transient()], vec![], vec![]];
        // Stop after message 1: it is recorded, message 2 is never tried.
        let transport = Scripted::new(script());
        let mut hooks = Recorder {
            stop_after: Some((1, 1)),
            ..Recorder::default()
        };
        let summary = transport.send_all(3, &|_| {}, &mut hooks);
        assert!(summary.stopped);
        assert_eq!(*transport.log.borrow(), [0, 1]);
        assert_eq!(summary.outcomes[2], ParcelOutcome::default());
        assert_eq!(summary.outcomes[1].result, Some(Ok("250 OK".to_owned())));

        // Refusing before an attempt sends nothing more (e.g. the ledger could not be written).
        let transport = Scripted::new(script());
        let mut hooks = Recorder {
            stop_before: Some((0, 2)),
            ..Recorder::default()
        };
        let summary = transport.send_all(3, &|_| {}, &mut hooks);
        assert!(summary.stopped);
        assert_eq!(*transport.log.borrow(), [0, 1, 2]);
        assert_eq!(summary.outcomes[0].attempts, 1);
        assert_eq!(hooks.events.last().unwrap(), "before 0#2");

        // max_attempts 0 still tries once and never sleeps.
        let transport = Scripted::new(script());
        let summary = transport.send_all(
            0,
            &|_| panic!("no sleep expected"),
            &mut Recorder::default(),
        );
        assert_eq!(summary.outcomes[0].result, Some(transient()));
        assert_eq!(summary.sent(), 2);
    }

    /// A transport that takes 20 ms a message and counts the exchanges running at once.
    #[derive(Default)]
    struct Slow {
        running: std::sync::atomic::AtomicUsize,
        peak: std::sync::atomic::AtomicUsize,
        log: Shared<Vec<usize>>,
        /// Parcel index → failures before it goes through (transient, then "250 OK").
        transient: Shared<BTreeMap<usize, u32>>,
    }

    impl Transport for Slow {
        fn deliver(&self, parcel: &Parcel) -> Result<String, SendError> {
            use std::sync::atomic::Ordering::SeqCst;
            let index: usize = parcel
                .key
                .recipient
                .trim_start_matches('u')
                .parse()
                .unwrap();
            let now = self.running.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(now, SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.log.borrow_mut().push(index);
            self.running.fetch_sub(1, SeqCst);
            match self.transient.borrow_mut().get_mut(&index) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    transient()
                }
                _ => Ok(format!("250 OK {index}")),
            }
        }
    }

    /// Checks a hook sequence of several connections: each message's attempt is claimed
    /// ("before") once and ended ("after") once, the claim first, and never more than
    /// `connections` claimed and not yet ended.
    fn check_interleaving(events: &[String], connections: usize) {
        let mut open = BTreeSet::new();
        for event in events {
            let (what, rest) = event.split_once(' ').unwrap();
            let id = rest.split(' ').next().unwrap().to_owned();
            match what {
                "before" => {
                    assert!(open.insert(id.clone()), "{id} claimed twice: {events:?}");
                    assert!(open.len() <= connections, "{events:?}");
                }
                _ => assert!(open.remove(&id), "{id} ended unclaimed: {events:?}"),
            }
        }
        assert!(open.is_empty(), "claimed, never ended: {open:?}");
    }

    #[test]
    fn several_connections_send_each_message_once_and_claim_it_first() {
        let transport = Slow::default();
        transport.transient.borrow_mut().extend([(3, 1), (7, 2)]);
        let mut hooks = Recorder::default();
        let slept = Shared::new(Vec::new());
        let summary = send_all(
            &transport,
            &indexed_parcels(12),
            &policy(3),
            4,
            &|d| slept.borrow_mut().push(d.as_secs()),
            &mut hooks,
        );
        assert!(!summary.stopped);
        assert_eq!(summary.sent(), 12);
        assert_eq!(transport.peak.load(std::sync::atomic::Ordering::SeqCst), 4);
        let mut log = transport.log.borrow().clone();
        log.sort_unstable();
        assert_eq!(log, [0, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7, 8, 9, 10, 11]);
        let attempts: Vec<u32> = summary.outcomes.iter().map(|o| o.attempts).collect();
        assert_eq!(attempts, [1, 1, 1, 2, 1, 1, 1, 3, 1, 1, 1, 1]);
        assert_eq!(summary.outcomes[7].result, Some(Ok("250 OK 7".to_owned())));
        // Rounds as with one connection: round 2 waits once, after round 1 has ended.
        assert_eq!(*slept.borrow(), [1, 2]);
        check_interleaving(&hooks.events, 4);
        let round_two = hooks.events.iter().position(|e| e == "before 3#2").unwrap();
        assert!(
            hooks.events[..round_two]
                .iter()
                .filter(|e| e.starts_with("after") && e.ends_with("#1 ok"))
                .count()
                == 10,
            "round 2 starts once round 1 has ended: {:?}",
            hooks.events
        );
    }

    #[test]
    fn a_stop_on_several_connections_hands_out_nothing_more_and_records_those_in_flight() {
        let transport = Slow::default();
        let mut hooks = Recorder {
            stop_after: Some((2, 1)),
            ..Recorder::default()
        };
        let summary = send_all(
            &transport,
            &indexed_parcels(20),
            &policy(3),
            4,
            &|_| {},
            &mut hooks,
        );
        assert!(summary.stopped);
        check_interleaving(&hooks.events, 4);
        let stop_at = hooks
            .events
            .iter()
            .position(|e| e == "after 2#1 ok")
            .unwrap();
        assert!(
            hooks.events[stop_at..]
                .iter()
                .all(|e| e.starts_with("after")),
            "no claim after the stop: {:?}",
            hooks.events
        );
        // Every message sent was recorded; the rest were never tried. How many were claimed
        // before the stop depends on which exchanges finished first (a slow machine may finish
        // several before the third), so the count is checked against the claims, not a range.
        let sent = transport.log.borrow().len();
        assert_eq!(summary.sent(), sent);
        let claims_before_stop = hooks.events[..stop_at]
            .iter()
            .filter(|e| e.starts_with("before"))
            .count();
        assert!(sent >= 3, "{sent}");
        assert_eq!(sent, claims_before_stop, "{:?}", hooks.events);
        let untried = summary.outcomes.iter().filter(|o| o.attempts == 0).count();
        assert_eq!(untried, 20 - sent);
    }

    #[test]
    fn a_panicking_transport_leaves_the_message_unknown_not_lost() {
        struct Panics;
        impl Transport for Panics {
            fn deliver(&self, _: &Parcel) -> Result<String, SendError> {
                panic!("a bug in a transport")
            }
        }
        let mut hooks = Recorder::default();
        let summary = send_all(
            &Panics,
            &indexed_parcels(2),
            &policy(3),
            2,
            &|_| {},
            &mut hooks,
        );
        for outcome in &summary.outcomes {
            assert!(
                matches!(&outcome.result, Some(Err(e)) if e.is_unknown()),
                "{outcome:?}"
            );
        }
        check_interleaving(&hooks.events, 2);
    }
}
