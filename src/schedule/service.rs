//! The scheduled service behind `vanban run` and `vanban run-job`: takes the single-instance
//! lock, recovers firings a crash left running, catches up on firings missed while it was down,
//! then waits for each job's next firing and runs it exactly once, recording every firing in
//! the run history.
//!
//! Time and waiting are injected ([`Clock`], [`Waiter`]), and so are the work a firing does
//! ([`Execute`]) and the admin alert ([`Alert`]): tests drive a fake clock through whole
//! half-years in milliseconds, while `vanban run` plugs in the system clock, a waiter woken
//! by SIGTERM/SIGINT, the real renderer/sender and SMTP.

use std::path::Path;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use tracing::{debug, error, info, warn};

use super::runs::{hold_lease, take_expired, take_lease};
use super::{
    CatchUpPlan, JobRun, RunOutcome, STOPPED_TO_RESUME, ScheduleError, Trigger, claim_firing,
    finish_firing, first_seen, last_due, mark_wait_alerted, plan_catch_up, reclaim_interrupted,
    reclaim_waiting, record_skipped, recover_interrupted, resumable_firings, waiting_firings,
};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, Job, covered_period, period_path};
use crate::model::PeriodId;
use crate::shutdown::StopSignal;
use crate::state::{InstanceLock, LockError, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(
        "Tệp cấu hình {config} không có tác vụ nào ([[jobs]]): dịch vụ không có việc gì để chạy"
    )]
    NoJobs { config: String },
    #[error("Không tiếp nhận được lần chạy của tiến trình đã dừng: {detail}")]
    Takeover { detail: String },
    #[error("Tệp cấu hình {config} không có tác vụ \"{name}\"; các tác vụ có: {known}")]
    UnknownJob {
        config: String,
        name: String,
        known: String,
    },
    #[error(
        "Tác vụ \"{job}\" đã có một lần chạy ghi lúc {due} (UTC) trong lịch sử; chờ một giây rồi \
         chạy lại"
    )]
    AlreadyRecorded { job: String, due: String },
    #[error("Không cài được bộ xử lý tín hiệu SIGTERM/SIGINT: {0}")]
    Signals(std::io::Error),
    #[error("Không nạp được mẫu văn bản: {0}")]
    Templates(#[from] crate::render::BackendError),
    #[error(
        "{0} Nếu đó là dịch vụ `vanban run`, hãy dừng dịch vụ (systemctl stop vanban), chạy \
         run-job, rồi khởi động lại (systemctl start vanban)."
    )]
    ServiceRunning(LockError),
}

/// One firing of one job, with what it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub job: String,
    pub due: DateTime<Utc>,
    /// `due` in the job's time zone: the covered period is read from this local date.
    pub local: DateTime<Tz>,
    /// The period it covers.
    pub period: PeriodId,
    pub trigger: Trigger,
}

impl Firing {
    pub fn new(job: &Job, due: DateTime<Utc>, trigger: Trigger) -> Firing {
        let local = due.with_timezone(&job.schedule.timezone());
        Firing {
            job: job.name.clone(),
            due,
            local,
            period: covered_period(job.covers, local.date_naive()),
            trigger,
        }
    }

    /// The period's key, as in `Period::key` and the output folder: "2026-h1".
    pub fn period_key(&self) -> String {
        self.period.key()
    }

    /// The due time for logs: local, with its offset, to the second.
    pub fn local_text(&self) -> String {
        self.local.format("%Y-%m-%d %H:%M:%S%:z").to_string()
    }
}

/// The detail a firing is recorded with when a signal stopped it part-way: the service's own
/// firings (scheduled or caught up) begin with [`STOPPED_TO_RESUME`] and are run on at its next
/// start, like one a dead process left. A `run-job` the clerk stopped stays stopped: that was a
/// person's decision, and the service must not finish it days later.
fn to_resume_if_stopped(
    detail: String,
    outcome: RunOutcome,
    trigger: Trigger,
    stop: &StopSignal,
) -> String {
    if outcome == RunOutcome::Interrupted && stop.is_requested() && trigger != Trigger::Manual {
        format!("{STOPPED_TO_RESUME}\n{detail}")
    } else {
        detail
    }
}

/// What a firing's work reports back: `Ok`, `Failed`, or `Interrupted` (stopped by a signal
/// before it finished); `detail` goes into the run history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecReport {
    outcome: RunOutcome,
    pub detail: String,
}

impl ExecReport {
    pub fn ok(detail: impl Into<String>) -> Self {
        Self {
            outcome: RunOutcome::Ok,
            detail: detail.into(),
        }
    }

    pub fn failed(detail: impl Into<String>) -> Self {
        Self {
            outcome: RunOutcome::Failed,
            detail: detail.into(),
        }
    }

    /// Stopped by SIGTERM/SIGINT part-way: what was done is recorded (the ledger says which
    /// messages went out); the service runs its own firings on at its next start
    /// (`to_resume_if_stopped`), a stopped `run-job` waits for the clerk.
    pub fn interrupted(detail: impl Into<String>) -> Self {
        Self {
            outcome: RunOutcome::Interrupted,
            detail: detail.into(),
        }
    }

    /// Documents not approved yet: the service runs the firing again every
    /// [`APPROVAL_POLL`] until they are.
    pub fn waiting(detail: impl Into<String>) -> Self {
        Self {
            outcome: RunOutcome::Waiting,
            detail: detail.into(),
        }
    }

    pub fn outcome(&self) -> RunOutcome {
        self.outcome
    }
}

/// What a firing may use: the configuration, the state database and the lock on it (sending
/// needs both), and the clock.
pub struct ExecContext<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub lock: &'a InstanceLock,
    pub clock: &'a dyn Clock,
}

/// The work of a firing: render or send the period found at `period_file`. Never panics on
/// bad input; every problem becomes a `failed` report with the messages.
pub trait Execute {
    fn execute(
        &self,
        ctx: &ExecContext<'_>,
        job: &Job,
        firing: &Firing,
        period_file: &Path,
        stop: &StopSignal,
    ) -> ExecReport;
}

/// Tells the IT admin (`admin_email`) that a firing failed. An `Err` is the reason the alert
/// itself could not be sent; it is logged, and the service goes on.
pub trait Alert {
    fn alert(&self, subject: &str, body: &str, now: DateTime<Utc>) -> Result<(), String>;
}

/// Waits until a point in time. Returns when `clock.now() >= deadline` or a stop is requested.
pub trait Waiter {
    fn wait_until(&self, clock: &dyn Clock, deadline: DateTime<Utc>, stop: &StopSignal);
}

/// Waits in naps of at most [`SystemWaiter::MAX_NAP`], re-reading the clock after each, so a
/// wall-clock step (NTP, a resumed virtual machine) delays a firing by at most one nap.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemWaiter;

impl SystemWaiter {
    pub const MAX_NAP: std::time::Duration = std::time::Duration::from_secs(10);
}

impl Waiter for SystemWaiter {
    fn wait_until(&self, clock: &dyn Clock, deadline: DateTime<Utc>, stop: &StopSignal) {
        while !stop.is_requested() {
            let Ok(left) = (deadline - clock.now()).to_std() else {
                return;
            };
            if left.is_zero() {
                return;
            }
            stop.wait_timeout(left.min(Self::MAX_NAP));
        }
    }
}

/// How often the service looks again at a send waiting for approval.
pub const APPROVAL_POLL: chrono::Duration = chrono::Duration::minutes(1);

/// How one firing ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringResult {
    pub firing: Firing,
    pub outcome: RunOutcome,
    pub detail: String,
}

/// The running service: holds the instance lock and the state database for its lifetime.
pub struct Service<'a> {
    config: &'a Config,
    clock: &'a dyn Clock,
    executor: &'a dyn Execute,
    alert: &'a dyn Alert,
    store: Store,
    // Shared: `vanban serve` sends from the web page under the same lock as the scheduler.
    lock: Arc<InstanceLock>,
    /// This instance ("host:pid") on a PostgreSQL database shared with others: it holds a
    /// lease on each firing it runs. None on SQLite.
    instance: Option<String>,
}

impl<'a> Service<'a> {
    /// Takes the instance lock (refusing if another vanban process holds it), opens the state
    /// database, marks firings a dead process left running as interrupted and tells the admin
    /// (`run` resumes them once, see `Service::resume_interrupted`).
    pub fn start(
        config: &'a Config,
        clock: &'a dyn Clock,
        executor: &'a dyn Execute,
        alert: &'a dyn Alert,
    ) -> Result<Service<'a>, ServiceError> {
        let lock = Arc::new(InstanceLock::acquire_state(&config.state, clock.now())?);
        Self::start_locked(config, clock, executor, alert, lock)
    }

    /// `start` with a lock the caller already holds (and shares with the web page).
    pub fn start_locked(
        config: &'a Config,
        clock: &'a dyn Clock,
        executor: &'a dyn Execute,
        alert: &'a dyn Alert,
        lock: Arc<InstanceLock>,
    ) -> Result<Service<'a>, ServiceError> {
        let store = Store::open_state(&config.state)?;
        // A firing still "running" proves its process dead only under the SQLite file lock; on
        // PostgreSQL another instance may be running it: it is taken over only once its lease
        // has expired (`Service::take_over`).
        let interrupted = match store.dialect() {
            crate::state::Dialect::Sqlite => recover_interrupted(&store.conn(), clock.now())?,
            crate::state::Dialect::Postgres => Vec::new(),
        };
        let service = Service {
            config,
            clock,
            executor,
            alert,
            instance: store.instance().map(str::to_owned),
            store,
            lock,
        };
        for run in interrupted {
            let detail = run.detail.clone().unwrap_or_default();
            warn!(
                job = %run.job,
                due = %run.due.to_rfc3339(),
                outcome = %RunOutcome::Interrupted,
                "{detail}"
            );
            if let Some(job) = config.job(&run.job) {
                service.tell_admin_interrupted(
                    job,
                    &Firing::new(job, run.due, run.trigger),
                    &detail,
                );
            }
        }
        Ok(service)
    }

    /// Executes again a firing already in the run history (reclaimed by the caller) and records
    /// how it ended: the one path of a resumed and of a re-checked firing.
    fn rerun(
        &self,
        job: &Job,
        run: &JobRun,
        what: &str,
        stop: &StopSignal,
    ) -> Result<(Firing, ExecReport), ServiceError> {
        let firing = Firing::new(job, run.due, run.trigger);
        info!(job = %job.name, due = %firing.local_text(), "{what}");
        let mut report = self.execute(job, &firing, stop);
        report.detail = to_resume_if_stopped(report.detail, report.outcome, run.trigger, stop);
        finish_firing(
            &self.store.conn(),
            &job.name,
            run.due,
            self.clock.now(),
            report.outcome(),
            &report.detail,
        )?;
        Ok((firing, report))
    }

    /// Runs again each firing a dead process left half done (see [`recover_interrupted`]):
    /// the ledger sends each message once, so what went before is not sent again. A firing is
    /// resumed once; if the process dies again meanwhile, it stays interrupted.
    fn resume_interrupted(&self, stop: &StopSignal) -> Result<(), ServiceError> {
        let runs = resumable_firings(&self.store.conn())?;
        for run in runs {
            if stop.is_requested() {
                break;
            }
            let Some(job) = self.config.job(&run.job) else {
                continue;
            };
            if !reclaim_interrupted(&self.store.conn(), &run.job, run.due)? {
                continue;
            }
            let (firing, report) =
                self.rerun(job, &run, "Chạy tiếp lần chạy bị gián đoạn", stop)?;
            let outcome = report.outcome();
            let one_line = report.detail.lines().collect::<Vec<_>>().join(" | ");
            match outcome {
                RunOutcome::Ok => info!(
                    job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                    outcome = %outcome, "Đã chạy tiếp xong: {one_line}"
                ),
                RunOutcome::Failed => {
                    error!(
                        job = %job.name, due = %firing.local_text(),
                        period = %firing.period_key(), outcome = %outcome, "{one_line}"
                    );
                    self.tell_admin(job, &firing, &report.detail);
                }
                _ => warn!(
                    job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                    outcome = %outcome, "{one_line}"
                ),
            }
        }
        Ok(())
    }

    /// Tells the admin a firing was found half done at start, and whether it is resumed.
    fn tell_admin_interrupted(&self, job: &Job, firing: &Firing, detail: &str) {
        let Some(admin) = &self.config.admin_email else {
            return;
        };
        let when = firing.local.format("%d/%m/%Y %H:%M");
        let subject = format!(
            "[vanban] Tác vụ \"{}\" bị gián đoạn (kỳ {}, đến hạn {when})",
            job.name,
            firing.period_key()
        );
        let body = format!(
            "Tác vụ \"{job}\" của dịch vụ vanban, đến hạn {when} ({tz}), cho kỳ {key}, đang chạy \
             thì tiến trình dừng đột ngột (sập, bị tắt hoặc máy khởi động lại).\n\n{detail}\n\n\
             Xem nhật ký dịch vụ để biết nguyên nhân, và xem thư nào đã gửi bằng lệnh:\n\n    \
             vanban status <tệp kỳ báo cáo> --config {config}\n",
            job = job.name,
            tz = job.schedule.timezone().name(),
            key = firing.period_key(),
            config = self.config.path.display(),
        );
        match self.alert.alert(&subject, &body, self.clock.now()) {
            Ok(()) => {
                info!(job = %job.name, to = %admin, "Đã báo quản trị viên: lần chạy bị gián đoạn")
            }
            Err(reason) => error!(
                job = %job.name,
                to = %admin,
                "Không gửi được thư báo cho quản trị viên: {reason}"
            ),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs until `stop` is requested: catch-up first, then each firing when due.
    pub fn run(&self, waiter: &dyn Waiter, stop: &StopSignal) -> Result<(), ServiceError> {
        let jobs = &self.config.jobs;
        if jobs.is_empty() {
            return Err(ServiceError::NoJobs {
                config: self.config.path.display().to_string(),
            });
        }
        let start = self.clock.now();
        info!(
            jobs = jobs.len(),
            state = %self.store.name(),
            "vanban run: bắt đầu"
        );
        self.resume_interrupted(stop)?;
        self.take_over(stop)?;
        self.catch_up(start, stop)?;

        // Per job, the firing already handled: firings up to `start` belong to catch-up.
        let mut cursors = vec![start; jobs.len()];
        while !stop.is_requested() {
            let next = jobs
                .iter()
                .zip(&cursors)
                .enumerate()
                .filter_map(|(i, (job, after))| job.schedule.next_after(*after).map(|t| (t, i)))
                .min();
            let Some((due, i)) = next else {
                info!("Không tác vụ nào còn lần chạy nào trong lịch; dịch vụ dừng");
                break;
            };
            let job = &jobs[i];
            debug!(job = %job.name, due = %Firing::new(job, due, Trigger::Schedule).local_text(),
                   "Chờ lần chạy tiếp theo");
            // A send waiting for approval is looked at again every minute in between.
            let waiting = !waiting_firings(&self.store.conn())?.is_empty();
            let wake = if waiting {
                due.min(self.clock.now() + APPROVAL_POLL)
            } else {
                due
            };
            // Instances sharing a database look every half lease for a firing whose instance
            // died.
            let wake = match self.instance {
                Some(_) => wake.min(self.clock.now() + self.lease() / 2),
                None => wake,
            };
            waiter.wait_until(self.clock, wake, stop);
            if stop.is_requested() {
                break;
            }
            let now = self.clock.now();
            if waiting && now >= wake {
                self.recheck_waiting(stop)?;
            }
            self.take_over(stop)?;
            if now < due {
                // Woken early (to look at waiting sends, or the wall clock was set back).
                continue;
            }
            // If the service was busy past several firings of this job (a long send, a clock
            // jump), only the latest runs: the earlier ones are folded into it.
            let latest = job.schedule.latest_in(cursors[i], now).unwrap_or(due);
            let folded = job.schedule.count_in(cursors[i], latest).saturating_sub(1);
            cursors[i] = latest;
            if folded > 0 {
                warn!(
                    job = %job.name,
                    folded,
                    "Dịch vụ bận quá các lần đến hạn trước; chỉ chạy lần gần nhất"
                );
            }
            self.fire(job, latest, Trigger::Schedule, None, stop)?;
        }
        info!("vanban run: đã dừng");
        Ok(())
    }

    /// Runs again each firing waiting for approval (a send job whose documents were not all
    /// approved): the ledger sends each message once, so what went before is not sent again,
    /// and the firing is finished as soon as nothing waits. Tells the admin once when one has
    /// waited longer than `approval_wait`.
    pub fn recheck_waiting(&self, stop: &StopSignal) -> Result<(), ServiceError> {
        let runs = waiting_firings(&self.store.conn())?;
        for run in runs {
            if stop.is_requested() {
                break;
            }
            let Some(job) = self.config.job(&run.job) else {
                continue;
            };
            let reclaimed = match &self.instance {
                None => reclaim_waiting(&self.store.conn(), &run.job, run.due)?,
                // Reclaimed and leased in one transaction, as a claim is: another instance
                // must not take a firing this one is running again.
                Some(me) => {
                    let until = self.clock.now() + self.lease();
                    self.store.immediate(|tx| {
                        Ok(
                            reclaim_waiting(tx, &run.job, run.due).and_then(|reclaimed| {
                                if reclaimed {
                                    take_lease(tx, &run.job, run.due, me, until)?;
                                }
                                Ok(reclaimed)
                            }),
                        )
                    })??
                }
            };
            if !reclaimed {
                continue;
            }
            let (firing, report) = self.with_lease(&run.job, run.due, || {
                self.rerun(job, &run, "Xem lại tác vụ đang chờ duyệt", stop)
            })?;
            let outcome = report.outcome();
            match outcome {
                RunOutcome::Waiting => {
                    let since = run.started.unwrap_or(run.due);
                    let wait = chrono::Duration::from_std(self.config.approval.approval_wait)
                        .unwrap_or(chrono::Duration::MAX);
                    if self.clock.now() - since >= wait
                        && mark_wait_alerted(
                            &self.store.conn(),
                            &job.name,
                            run.due,
                            self.clock.now(),
                        )?
                    {
                        self.tell_admin_waiting(job, &firing, since, &report.detail);
                    }
                }
                RunOutcome::Failed => self.tell_admin(job, &firing, &report.detail),
                _ => info!(
                    job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                    outcome = %outcome, "Đã duyệt: tác vụ chạy xong"
                ),
            }
        }
        Ok(())
    }

    fn tell_admin_waiting(&self, job: &Job, firing: &Firing, since: DateTime<Utc>, detail: &str) {
        let Some(admin) = &self.config.admin_email else {
            return;
        };
        let subject = format!(
            "[vanban] Tác vụ \"{}\" (kỳ {}) vẫn chờ duyệt",
            job.name,
            firing.period_key()
        );
        let body = format!(
            "Tác vụ gửi \"{job}\" cho kỳ {key} chờ lãnh đạo duyệt văn bản từ {since} và đến nay vẫn \
             chưa gửi được:\n\n{detail}\n\nNgười duyệt dùng lệnh:\n\n    vanban approve <tệp kỳ báo \
             cáo> --config {config} --by \"<họ tên>\"\n\nDịch vụ xem lại mỗi phút và gửi ngay khi văn \
             bản được duyệt; thư này chỉ gửi một lần.\n",
            job = job.name,
            key = firing.period_key(),
            since = crate::clock::local_time(since),
            config = self.config.path.display(),
        );
        match self.alert.alert(&subject, &body, self.clock.now()) {
            Ok(()) => {
                info!(job = %job.name, to = %admin, "Đã báo quản trị viên: tác vụ chờ duyệt quá lâu")
            }
            Err(reason) => error!(
                job = %job.name,
                to = %admin,
                "Không gửi được thư báo cho quản trị viên: {reason}"
            ),
        }
    }

    /// The work of a claimed firing.
    fn execute(&self, job: &Job, firing: &Firing, stop: &StopSignal) -> ExecReport {
        match period_path(&job.period, firing.period) {
            Err(e) => ExecReport::failed(e.to_string()),
            Ok(path) => {
                let ctx = ExecContext {
                    config: self.config,
                    store: &self.store,
                    lock: &self.lock,
                    clock: self.clock,
                };
                self.executor
                    .execute(&ctx, job, firing, Path::new(&path), stop)
            }
        }
    }

    /// Firings missed while the service was down, by each job's `catch_up` policy: at most one
    /// run per job (the latest missed firing), or one `skipped` row standing for them all.
    fn catch_up(&self, now: DateTime<Utc>, stop: &StopSignal) -> Result<(), ServiceError> {
        for job in &self.config.jobs {
            if stop.is_requested() {
                break;
            }
            let first = first_seen(&self.store.conn(), &job.name, now)?;
            let last = last_due(&self.store.conn(), &job.name)?;
            let plan = plan_catch_up(&job.schedule, last, now, job.catch_up, first);
            let text = plan.describe(job.schedule.timezone());
            match plan {
                CatchUpPlan::NothingMissed => {}
                CatchUpPlan::RunLatest { due, skipped, .. } => {
                    info!(job = %job.name, skipped, "{text}");
                    self.fire(job, due, Trigger::CatchUp, Some(text), stop)?;
                }
                CatchUpPlan::SkipAll {
                    latest_due,
                    skipped,
                    ..
                } => {
                    let firing = Firing::new(job, latest_due, Trigger::CatchUp);
                    warn!(
                        job = %job.name,
                        due = %firing.local_text(),
                        period = %firing.period_key(),
                        outcome = %RunOutcome::Skipped,
                        skipped,
                        "{text}"
                    );
                    record_skipped(
                        &self.store.conn(),
                        &job.name,
                        latest_due,
                        self.clock.now(),
                        &text,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// `vanban run-job NAME`: runs the job now, as the scheduler would, recorded with trigger
    /// `manual` and due = now (to the second). A manual run does not count as the job's last
    /// scheduled firing, so a firing missed while the service was down is still caught up at
    /// its next start; sending twice is harmless because the ledger never resends a message.
    pub fn run_job(&self, name: &str, stop: &StopSignal) -> Result<FiringResult, ServiceError> {
        let job = self
            .config
            .job(name)
            .ok_or_else(|| ServiceError::UnknownJob {
                config: self.config.path.display().to_string(),
                name: name.to_owned(),
                known: self
                    .config
                    .jobs
                    .iter()
                    .map(|j| j.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let now = self.clock.now();
        let due = now.with_nanosecond(0).unwrap_or(now);
        self.fire(job, due, Trigger::Manual, None, stop)?
            .ok_or_else(|| ServiceError::AlreadyRecorded {
                job: name.to_owned(),
                due: due.to_rfc3339(),
            })
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.service.lease)
            .unwrap_or_else(|_| chrono::Duration::minutes(2))
    }

    /// Runs `work` while a helper thread renews this instance's lease on the firing every
    /// quarter lease, on its own connection (PostgreSQL only; on SQLite it just runs `work`).
    fn with_lease<T>(&self, job: &str, due: DateTime<Utc>, work: impl FnOnce() -> T) -> T {
        let Some(me) = self.instance.clone() else {
            return work();
        };
        let lease = self.lease();
        let every = (lease / 4)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(30));
        let (config, clock) = (self.config, self.clock);
        let (done, finished) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let store = match Store::open_state(&config.state) {
                    Ok(store) => store,
                    Err(e) => {
                        warn!(job, "Không gia hạn được quyền giữ lần chạy: {e}");
                        return;
                    }
                };
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    finished.recv_timeout(every)
                {
                    match hold_lease(&store.conn(), job, due, &me, clock.now() + lease) {
                        Ok(true) => {}
                        Ok(false) => {
                            warn!(job, "Lần chạy này đã do tiến trình khác giữ");
                            return;
                        }
                        Err(e) => warn!(job, "Không gia hạn được quyền giữ lần chạy: {e}"),
                    }
                }
            });
            let out = work();
            drop(done);
            out
        })
    }

    /// Instances on one PostgreSQL database: takes over each running firing whose instance let
    /// its lease expire (it died, or hangs), marks that instance's messages in flight unknown
    /// (never sent again without `--resend`) and runs the firing again — the ledger sends only
    /// what had not gone. Nothing to do on SQLite.
    fn take_over(&self, stop: &StopSignal) -> Result<(), ServiceError> {
        let Some(me) = &self.instance else {
            return Ok(());
        };
        let now = self.clock.now();
        let taken = self
            .store
            .write(|tx| take_expired(tx, me, now, now + self.lease()))?;
        for (run, dead) in taken {
            if stop.is_requested() {
                break;
            }
            let abandoned = crate::deliver::ledger::Ledger::new(&self.store)
                .abandon(&dead, now)
                .map_err(|e| ServiceError::Takeover {
                    detail: e.to_string(),
                })?;
            for key in &abandoned {
                warn!(
                    job = %run.job, instance = %dead,
                    "Thư đang gửi dở khi tiến trình {dead} dừng, không rõ kết quả, không gửi lại: {key}"
                );
            }
            let Some(job) = self.config.job(&run.job) else {
                continue;
            };
            let what = format!("Tiếp nhận lần chạy của tiến trình {dead} đã hết hạn giữ");
            let (firing, report) =
                self.with_lease(&run.job, run.due, || self.rerun(job, &run, &what, stop))?;
            let outcome = report.outcome();
            let one_line = report.detail.lines().collect::<Vec<_>>().join(" | ");
            match outcome {
                RunOutcome::Ok => info!(
                    job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                    outcome = %outcome, "{what}: {one_line}"
                ),
                _ => {
                    error!(
                        job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                        outcome = %outcome, "{what}: {one_line}"
                    );
                    self.tell_admin(job, &firing, &report.detail);
                }
            }
        }
        Ok(())
    }

    /// Claims the firing, runs it, records the outcome; `None` if it was already claimed.
    /// Only a database error is an `Err`: a job's own failure is recorded and alerted, and
    /// the service goes on.
    fn fire(
        &self,
        job: &Job,
        due: DateTime<Utc>,
        trigger: Trigger,
        note: Option<String>,
        stop: &StopSignal,
    ) -> Result<Option<FiringResult>, ServiceError> {
        let firing = Firing::new(job, due, trigger);
        let now = self.clock.now();
        let claimed = match &self.instance {
            None => claim_firing(&self.store.conn(), &job.name, due, now, trigger)?,
            // Claimed and leased in one transaction: a claimed firing always has an owner.
            Some(me) => self.store.immediate(|tx| {
                Ok(
                    claim_firing(tx, &job.name, due, now, trigger).and_then(|claimed| {
                        if claimed {
                            hold_lease(tx, &job.name, due, me, now + self.lease())?;
                        }
                        Ok(claimed)
                    }),
                )
            })??,
        };
        if !claimed {
            info!(
                job = %job.name,
                due = %firing.local_text(),
                "Lần chạy này đã có trong lịch sử; không chạy lại"
            );
            return Ok(None);
        }
        debug!(job = %job.name, due = %firing.local_text(), trigger = %trigger, "Bắt đầu chạy");
        let report = self.with_lease(&job.name, due, || self.execute(job, &firing, stop));
        let outcome = report.outcome();
        let detail = match note {
            Some(note) if report.detail.is_empty() => note,
            Some(note) => format!("{note}\n{}", report.detail),
            None => report.detail,
        };
        let detail = to_resume_if_stopped(detail, outcome, trigger, stop);
        finish_firing(
            &self.store.conn(),
            &job.name,
            due,
            self.clock.now(),
            outcome,
            &detail,
        )?;
        let one_line = detail.lines().collect::<Vec<_>>().join(" | ");
        match outcome {
            RunOutcome::Ok => info!(
                job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                trigger = %trigger, outcome = %outcome, "{one_line}"
            ),
            RunOutcome::Interrupted | RunOutcome::Waiting => warn!(
                job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                trigger = %trigger, outcome = %outcome, "{one_line}"
            ),
            _ => error!(
                job = %job.name, due = %firing.local_text(), period = %firing.period_key(),
                trigger = %trigger, outcome = %outcome, "{one_line}"
            ),
        }
        if outcome == RunOutcome::Failed {
            self.tell_admin(job, &firing, &detail);
        }
        Ok(Some(FiringResult {
            firing,
            outcome,
            detail,
        }))
    }

    fn tell_admin(&self, job: &Job, firing: &Firing, detail: &str) {
        let Some(admin) = &self.config.admin_email else {
            return;
        };
        let when = firing.local.format("%d/%m/%Y %H:%M");
        let subject = format!(
            "[vanban] Tác vụ \"{}\" thất bại (kỳ {}, đến hạn {when})",
            job.name,
            firing.period_key()
        );
        let body = format!(
            "Tác vụ \"{job}\" của dịch vụ vanban, đến hạn {when} ({tz}), cho kỳ {key}, đã thất \
             bại:\n\n{detail}\n\nDịch vụ vẫn tiếp tục chạy các tác vụ khác. Sau khi sửa, có thể \
             chạy lại ngay bằng lệnh:\n\n    vanban run-job {job} --config {config}\n",
            job = job.name,
            tz = job.schedule.timezone().name(),
            key = firing.period_key(),
            config = self.config.path.display(),
        );
        match self.alert.alert(&subject, &body, self.clock.now()) {
            Ok(()) => info!(job = %job.name, to = %admin, "Đã báo lỗi cho quản trị viên"),
            Err(reason) => error!(
                job = %job.name,
                to = %admin,
                "Không gửi được thư báo lỗi cho quản trị viên: {reason}"
            ),
        }
    }
}

/// Logs to stderr in a plain one-line format that journald stores as is: no colours unless
/// stderr is a terminal, and no timestamp under systemd (journald adds its own). The level is
/// `info` unless `RUST_LOG` says otherwise (e.g. `RUST_LOG=debug`).
pub fn init_logging() {
    init_logging_in(crate::clock::VIETNAM);
}

/// [`init_logging`] with log times in `zone`: the office's, that of its jobs (see
/// [`log_zone`]), so a line reads 08:00 when the 08:00 job ran, not 01:00 UTC.
pub fn init_logging_in(zone: chrono_tz::Tz) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(ZonedTimer {
            zone,
            clock: crate::clock::SystemClock,
        })
        .with_target(false);
    // Set by systemd when stderr goes to the journal.
    let _ = if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}

/// The zone log times are written in: the first job's (the office's), else Vietnam's.
pub fn log_zone(config: &crate::config::Config) -> chrono_tz::Tz {
    config
        .jobs
        .first()
        .map_or(crate::clock::VIETNAM, |job| job.schedule.timezone())
}

/// Log times as local time in a zone, with its offset: "2024-06-25T08:00:00.123+07:00".
struct ZonedTimer<C> {
    zone: chrono_tz::Tz,
    clock: C,
}

impl<C: Clock> ZonedTimer<C> {
    fn stamp(&self) -> String {
        self.clock
            .now()
            .with_timezone(&self.zone)
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string()
    }
}

impl<C: Clock> tracing_subscriber::fmt::time::FormatTime for ZonedTimer<C> {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        w.write_str(&self.stamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{FixedClock, VIETNAM};
    use crate::schedule::{INTERRUPTED_AGAIN, INTERRUPTED_TO_RESUME, JobRun, history};
    use chrono::{Duration, TimeZone};
    use std::cell::Cell;
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    #[test]
    fn log_times_are_local_to_the_jobs_zone() {
        let timer = ZonedTimer {
            zone: VIETNAM,
            clock: FixedClock::new(Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap()),
        };
        assert_eq!(timer.stamp(), "2024-06-25T08:00:00.000+07:00");
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn vn(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        VIETNAM
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A `[[jobs]]` entry; `extra` adds lines such as `timezone = "UTC"`.
    fn job(name: &str, cron: &str, covers: &str, extra: &str) -> String {
        format!(
            "[[jobs]]\nname = \"{name}\"\ncron = \"{cron}\"\naction = \"render\"\n\
             covers = \"{covers}\"\nperiod = \"ky-{{year}}-h{{half}}.toml\"\n{extra}\n"
        )
    }

    fn config(dir: &Path, jobs: &[String]) -> Config {
        let text = format!(
            "state = \"state.sqlite\"\noutput_dir = \"out\"\nadmin_email = \"it@example.vn\"\n\
             [sender]\nname = \"Văn phòng\"\naddress = \"vanphong@example.vn\"\n{}",
            jobs.concat()
        );
        let path = dir.join("vanban.toml");
        std::fs::write(&path, &text).unwrap();
        crate::input::config::parse(&path, &text, &|_| None).unwrap()
    }

    /// The one job most tests need: "bao-cao" at 08:00 on 15 June and 15 December, Vietnam time.
    fn half_yearly_report(dir: &Path) -> Config {
        config(dir, &[job("bao-cao", "0 8 15 6,12 *", "current-half", "")])
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Call {
        job: String,
        due: DateTime<Utc>,
        period: String,
        trigger: Trigger,
        file: PathBuf,
    }

    /// Records each firing, moves the fake clock by `takes` (the work's duration), and
    /// answers with `answer`.
    struct Scripted<'c> {
        clock: &'c FixedClock,
        takes: Duration,
        calls: Mutex<Vec<Call>>,
        answer: Box<dyn Fn(&Firing) -> ExecReport + 'c>,
    }

    impl<'c> Scripted<'c> {
        fn ok(clock: &'c FixedClock) -> Self {
            Self::answering(clock, |_| ExecReport::ok("xong"))
        }

        fn answering(clock: &'c FixedClock, answer: impl Fn(&Firing) -> ExecReport + 'c) -> Self {
            Scripted {
                clock,
                takes: Duration::seconds(90),
                calls: Mutex::new(Vec::new()),
                answer: Box::new(answer),
            }
        }

        fn calls(&self) -> Vec<Call> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Execute for Scripted<'_> {
        fn execute(
            &self,
            _ctx: &ExecContext<'_>,
            job: &Job,
            firing: &Firing,
            period_file: &Path,
            _stop: &StopSignal,
        ) -> ExecReport {
            assert_eq!(job.name, firing.job);
            self.calls.lock().unwrap().push(Call {
                job: firing.job.clone(),
                due: firing.due,
                period: firing.period_key(),
                trigger: firing.trigger,
                file: period_file.to_path_buf(),
            });
            self.clock.advance(self.takes);
            (self.answer)(firing)
        }
    }

    #[derive(Default)]
    struct Alerts(Mutex<Vec<(String, String)>>);

    impl Alert for Alerts {
        fn alert(&self, subject: &str, body: &str, _now: DateTime<Utc>) -> Result<(), String> {
            self.0
                .lock()
                .unwrap()
                .push((subject.to_owned(), body.to_owned()));
            Ok(())
        }
    }

    /// Jumps the fake clock to each deadline; past `end` it requests the stop instead.
    struct Jump<'c> {
        clock: &'c FixedClock,
        end: DateTime<Utc>,
        waits: Cell<usize>,
    }

    impl<'c> Jump<'c> {
        fn until(clock: &'c FixedClock, end: DateTime<Utc>) -> Self {
            Jump {
                clock,
                end,
                waits: Cell::new(0),
            }
        }
    }

    impl Waiter for Jump<'_> {
        fn wait_until(&self, clock: &dyn Clock, deadline: DateTime<Utc>, stop: &StopSignal) {
            self.waits.set(self.waits.get() + 1);
            if deadline > self.end {
                self.clock.set(self.end);
                stop.request();
            } else if clock.now() < deadline {
                self.clock.set(deadline);
            }
        }
    }

    /// Starts a service, retrying briefly: a subprocess forked by another test may hold a
    /// copy of the previous instance's lock for a moment.
    fn start<'a>(
        config: &'a Config,
        clock: &'a FixedClock,
        executor: &'a dyn Execute,
        alert: &'a dyn Alert,
    ) -> Service<'a> {
        for _ in 0..50 {
            match Service::start(config, clock, executor, alert) {
                Err(ServiceError::Lock(LockError::Held { .. })) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.unwrap(),
            }
        }
        panic!("the instance lock stayed held");
    }

    /// Runs a service from the clock's time until `end`.
    fn run_until(
        config: &Config,
        clock: &FixedClock,
        executor: &dyn Execute,
        alert: &dyn Alert,
        end: DateTime<Utc>,
    ) {
        let service = start(config, clock, executor, alert);
        service
            .run(&Jump::until(clock, end), &StopSignal::new())
            .unwrap();
    }

    fn runs(config: &Config, job: &str) -> Vec<JobRun> {
        let store = Store::open_state(&config.state).unwrap();
        let mut runs = history(&store.conn(), job, 100).unwrap();
        runs.reverse();
        runs
    }

    #[test]
    fn two_years_of_half_yearly_and_month_end_jobs_in_hcm_and_utc() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[
                job("bao-cao", "0 8 15 6,12 *", "current-half", ""),
                job("thong-bao", "0 8 25 6,12 *", "current-half", ""),
                job("cuoi-thang", "0 7 31 * *", "current-half", ""),
                // 18:00 UTC on 30 June is 01:00 on 1 July in Vietnam: still the first half
                // for a job kept in UTC.
                job("utc", "0 18 30 6 *", "current-half", "timezone = \"UTC\""),
                // 06:00 on 1 January in Vietnam is 23:00 UTC the day before.
                job("nam-moi", "0 6 1 1 *", "previous-half", ""),
            ],
        );
        let start_at = utc(2025, 12, 31, 0, 0);
        let clock = FixedClock::new(start_at);
        let executor = Scripted::ok(&clock);
        let alerts = Alerts::default();
        let end = utc(2028, 1, 1, 0, 0);
        let waiter = Jump::until(&clock, end);
        let service = start(&config, &clock, &executor, &alerts);
        service.run(&waiter, &StopSignal::new()).unwrap();

        let calls = executor.calls();
        let of = |name: &str| -> Vec<(DateTime<Utc>, String)> {
            calls
                .iter()
                .filter(|c| c.job == name)
                .map(|c| (c.due, c.period.clone()))
                .collect()
        };
        let p = |s: &str| s.to_owned();
        assert_eq!(
            of("bao-cao"),
            [
                (vn(2026, 6, 15, 8, 0), p("2026-h1")),
                (vn(2026, 12, 15, 8, 0), p("2026-h2")),
                (vn(2027, 6, 15, 8, 0), p("2027-h1")),
                (vn(2027, 12, 15, 8, 0), p("2027-h2")),
            ]
        );
        assert_eq!(of("bao-cao")[0].0, utc(2026, 6, 15, 1, 0));
        assert_eq!(
            of("thong-bao"),
            [
                (vn(2026, 6, 25, 8, 0), p("2026-h1")),
                (vn(2026, 12, 25, 8, 0), p("2026-h2")),
                (vn(2027, 6, 25, 8, 0), p("2027-h1")),
                (vn(2027, 12, 25, 8, 0), p("2027-h2")),
            ]
        );
        // 07:00 on the 31st in Vietnam is 00:00 UTC; 31 December 2025 00:00 UTC is the
        // start itself, not after it. Only months with 31 days fire.
        let mut month_ends = Vec::new();
        for year in [2026, 2027] {
            for month in [1, 3, 5, 7, 8, 10, 12] {
                let half = if month <= 6 { 1 } else { 2 };
                month_ends.push((utc(year, month, 31, 0, 0), format!("{year}-h{half}")));
            }
        }
        assert_eq!(of("cuoi-thang"), month_ends);
        assert_eq!(
            of("utc"),
            [
                (utc(2026, 6, 30, 18, 0), p("2026-h1")),
                (utc(2027, 6, 30, 18, 0), p("2027-h1")),
            ]
        );
        // The same instant read in Vietnam is already the second half.
        assert_eq!(
            covered_period(
                crate::config::Covers::CurrentHalf,
                utc(2026, 6, 30, 18, 0).with_timezone(&VIETNAM).date_naive()
            ),
            (2026, 2)
        );
        assert_eq!(
            of("nam-moi"),
            [
                (utc(2025, 12, 31, 23, 0), p("2025-h2")),
                (utc(2026, 12, 31, 23, 0), p("2026-h2")),
                (utc(2027, 12, 31, 23, 0), p("2027-h2")),
            ]
        );

        // In time order, each firing once, all on schedule, with the period file filled in.
        assert_eq!(calls.len(), 4 + 4 + 14 + 2 + 3);
        assert!(calls.windows(2).all(|w| w[0].due <= w[1].due));
        assert!(calls.iter().all(|c| c.trigger == Trigger::Schedule));
        assert_eq!(
            calls[0].file,
            dir.path().join("ky-2025-h2.toml"),
            "{:?}",
            calls[0]
        );
        // One wait per firing plus the one that reached the end.
        assert_eq!(waiter.waits.get(), calls.len() + 1);
        drop(service);

        let history = runs(&config, "bao-cao");
        assert_eq!(history.len(), 4);
        for run in &history {
            assert_eq!(run.outcome, RunOutcome::Ok);
            assert_eq!(run.detail.as_deref(), Some("xong"));
            assert_eq!(run.started, Some(run.due));
            assert_eq!(run.finished, Some(run.due + Duration::seconds(90)));
        }
        assert!(alerts.0.lock().unwrap().is_empty());
    }

    #[test]
    fn firings_on_the_same_minute_run_in_config_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[
                job("b", "0 8 25 6 *", "current-half", ""),
                job("a", "0 8 25 6 *", "current-half", ""),
            ],
        );
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let executor = Scripted::ok(&clock);
        let alerts = Alerts::default();
        run_until(&config, &clock, &executor, &alerts, utc(2026, 7, 1, 0, 0));
        let calls = executor.calls();
        let names: Vec<&str> = calls.iter().map(|c| c.job.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(calls[1].due, vn(2026, 6, 25, 8, 0));
    }

    #[test]
    fn a_busy_service_folds_overdue_firings_into_the_latest() {
        // An every-minute job whose work takes 5 minutes: it runs every 5 minutes, never
        // replaying the minutes it was busy through.
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[job("moi-phut", "* * * * *", "current-half", "")],
        );
        let clock = FixedClock::new(utc(2026, 3, 1, 0, 0));
        let mut executor = Scripted::ok(&clock);
        executor.takes = Duration::minutes(5);
        let alerts = Alerts::default();
        run_until(&config, &clock, &executor, &alerts, utc(2026, 3, 1, 0, 30));
        let dues: Vec<DateTime<Utc>> = executor.calls().iter().map(|c| c.due).collect();
        // The firing at 00:26 ends at 00:31, past the test's end, with 00:27 overdue: the
        // latest due minute, 00:31, runs.
        let expected: Vec<DateTime<Utc>> = [1, 6, 11, 16, 21, 26, 31]
            .into_iter()
            .map(|m| utc(2026, 3, 1, 0, m))
            .collect();
        assert_eq!(dues, expected);
    }

    #[test]
    fn catch_up_after_downtime_runs_once_or_skips() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[
                job(
                    "bao-cao",
                    "0 8 15 6,12 *",
                    "current-half",
                    "catch_up = \"once\"",
                ),
                job(
                    "thong-bao",
                    "0 8 25 6,12 *",
                    "current-half",
                    "catch_up = \"skip\"",
                ),
            ],
        );
        let clock = FixedClock::new(utc(2026, 1, 1, 0, 0));
        let alerts = Alerts::default();

        // Runs January to April, then the machine is off until 28 December.
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2026, 5, 1, 0, 0));
        assert!(executor.calls().is_empty());

        clock.set(vn(2026, 12, 28, 10, 0));
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2027, 1, 1, 0, 0));
        // Policy once: only the latest missed firing (15 December) runs, at start.
        assert_eq!(
            executor.calls(),
            [Call {
                job: "bao-cao".into(),
                due: vn(2026, 12, 15, 8, 0),
                period: "2026-h2".into(),
                trigger: Trigger::CatchUp,
                file: dir.path().join("ky-2026-h2.toml"),
            }]
        );
        let bao_cao = runs(&config, "bao-cao");
        assert_eq!(bao_cao.len(), 1);
        assert_eq!(bao_cao[0].outcome, RunOutcome::Ok);
        assert_eq!(bao_cao[0].trigger, Trigger::CatchUp);
        assert_eq!(bao_cao[0].started, Some(vn(2026, 12, 28, 10, 0)));
        let detail = bao_cao[0].detail.as_deref().unwrap();
        assert!(detail.contains("15/12/2026 08:00"), "{detail}");
        assert!(detail.contains("bỏ qua 1"), "{detail}");
        assert!(detail.ends_with("xong"), "{detail}");

        // Policy skip: nothing runs; one skipped row stands for June and December.
        let thong_bao = runs(&config, "thong-bao");
        assert_eq!(thong_bao.len(), 1);
        assert_eq!(thong_bao[0].due, vn(2026, 12, 25, 8, 0));
        assert_eq!(thong_bao[0].outcome, RunOutcome::Skipped);
        let detail = thong_bao[0].detail.as_deref().unwrap();
        assert!(detail.contains("Bỏ qua 2"), "{detail}");
        assert!(detail.contains("25/06/2026 08:00"), "{detail}");

        // A restart right after catches up nothing more.
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2027, 1, 2, 0, 0));
        assert!(executor.calls().is_empty());
        assert_eq!(runs(&config, "bao-cao").len(), 1);
        assert_eq!(runs(&config, "thong-bao").len(), 1);
    }

    #[test]
    fn a_fresh_database_does_not_catch_up_firings_before_the_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let config = half_yearly_report(dir.path());
        let clock = FixedClock::new(vn(2026, 6, 20, 9, 0));
        let executor = Scripted::ok(&clock);
        let alerts = Alerts::default();
        run_until(&config, &clock, &executor, &alerts, utc(2026, 12, 1, 0, 0));
        assert!(executor.calls().is_empty());
        assert!(runs(&config, "bao-cao").is_empty());
    }

    #[test]
    fn a_crash_between_claim_and_finish_is_resumed_at_restart_and_the_admin_told() {
        let dir = tempfile::tempdir().unwrap();
        let config = half_yearly_report(dir.path());
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let alerts = Alerts::default();

        // The process dies in the middle of the 15 June firing.
        let crashing = Scripted::answering(&clock, |_| panic!("simulated crash mid-firing"));
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_until(&config, &clock, &crashing, &alerts, utc(2026, 7, 1, 0, 0));
        }));
        assert!(crashed.is_err());
        assert_eq!(crashing.calls().len(), 1);
        let left = runs(&config, "bao-cao");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].outcome, RunOutcome::Running);

        // Restarted an hour later; runs to the end of the year. The June firing is run again
        // (a crash must not cost a scheduled send; the ledger keeps what it had sent sent), as it
        // was scheduled.
        clock.set(vn(2026, 6, 15, 9, 30));
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2027, 1, 1, 0, 0));
        let calls = executor.calls();
        let dues: Vec<DateTime<Utc>> = calls.iter().map(|c| c.due).collect();
        assert_eq!(dues, [vn(2026, 6, 15, 8, 0), vn(2026, 12, 15, 8, 0)]);
        assert_eq!(calls[0].trigger, Trigger::Schedule);
        assert_eq!(calls[0].period, "2026-h1");
        let history = runs(&config, "bao-cao");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].due, vn(2026, 6, 15, 8, 0));
        assert_eq!(history[0].outcome, RunOutcome::Ok);
        assert_eq!(history[0].detail.as_deref(), Some("xong"));
        assert_eq!(
            history[0].finished,
            Some(vn(2026, 6, 15, 9, 30) + Duration::seconds(90))
        );
        assert_eq!(history[1].outcome, RunOutcome::Ok);
        // The admin is told once, at the restart.
        let told = alerts.0.lock().unwrap().clone();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].0.contains("\"bao-cao\" bị gián đoạn") && told[0].0.contains("2026-h1"),
            "{told:?}"
        );
        assert!(told[0].1.contains(INTERRUPTED_TO_RESUME), "{told:?}");
    }

    #[test]
    fn a_firing_that_dies_again_while_resumed_is_not_resumed_twice() {
        let dir = tempfile::tempdir().unwrap();
        let config = half_yearly_report(dir.path());
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let alerts = Alerts::default();
        let crashing = Scripted::answering(&clock, |_| panic!("simulated crash mid-firing"));
        for restart in [utc(2026, 6, 1, 0, 0), vn(2026, 6, 15, 9, 30)] {
            clock.set(restart);
            let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_until(&config, &clock, &crashing, &alerts, utc(2026, 7, 1, 0, 0));
            }));
            assert!(crashed.is_err());
        }
        // Crashed at the firing, then again while resuming it.
        let dues: Vec<DateTime<Utc>> = crashing.calls().iter().map(|c| c.due).collect();
        assert_eq!(dues, [vn(2026, 6, 15, 8, 0), vn(2026, 6, 15, 8, 0)]);

        clock.set(vn(2026, 6, 15, 10, 0));
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2026, 7, 1, 0, 0));
        assert!(executor.calls().is_empty(), "not resumed a second time");
        let history = runs(&config, "bao-cao");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].outcome, RunOutcome::Interrupted);
        assert_eq!(history[0].detail.as_deref(), Some(INTERRUPTED_AGAIN));
        // Told at each restart: resumed the first time, not the second.
        let told = alerts.0.lock().unwrap().clone();
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(told[0].1.contains(INTERRUPTED_TO_RESUME), "{told:?}");
        assert!(
            told[1].1.contains(INTERRUPTED_AGAIN) && told[1].1.contains("run-job"),
            "{told:?}"
        );
    }

    #[test]
    fn a_stop_during_a_firing_records_it_and_ends_the_loop() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[
                job("gui", "0 8 25 6 *", "current-half", ""),
                job("sau", "0 9 25 6 *", "current-half", ""),
            ],
        );
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let alerts = Alerts::default();
        let stop = StopSignal::new();
        let executor = Scripted::answering(&clock, |_| {
            // SIGTERM arrives while messages are going out; send_period stops between them.
            stop.request();
            ExecReport::interrupted("Đã gửi 3/7 thư; dừng theo tín hiệu")
        });
        {
            let service = start(&config, &clock, &executor, &alerts);
            let waiter = Jump::until(&clock, utc(2026, 7, 1, 0, 0));
            service.run(&waiter, &stop).unwrap();
        }
        assert_eq!(executor.calls().len(), 1, "the 09:00 job must not start");
        let gui = runs(&config, "gui");
        assert_eq!(gui[0].outcome, RunOutcome::Interrupted);
        // What was done is kept, after the line saying it will be run on.
        assert_eq!(
            gui[0].detail.as_deref(),
            Some(format!("{STOPPED_TO_RESUME}\nĐã gửi 3/7 thư; dừng theo tín hiệu").as_str())
        );
        assert!(runs(&config, "sau").is_empty());

        // The next start runs the stopped firing on (once), then the 09:00 job it never reached.
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2026, 7, 1, 0, 0));
        let calls: Vec<(String, DateTime<Utc>)> = executor
            .calls()
            .iter()
            .map(|c| (c.job.clone(), c.due))
            .collect();
        assert_eq!(
            calls.first().map(|c| c.0.as_str()),
            Some("gui"),
            "{calls:?}"
        );
        assert_eq!(
            calls.iter().filter(|c| c.0 == "gui").count(),
            1,
            "{calls:?}"
        );
        let gui = runs(&config, "gui");
        assert_eq!(gui.len(), 1);
        assert_eq!(gui[0].outcome, RunOutcome::Ok);
        // Resumed once: a second start has nothing to run on.
        let again = Scripted::ok(&clock);
        run_until(&config, &clock, &again, &alerts, utc(2026, 7, 1, 0, 0));
        assert!(
            again.calls().iter().all(|c| c.job != "gui"),
            "{:?}",
            again.calls()
        );
    }

    #[test]
    fn a_stopped_catch_up_is_run_on_and_a_stopped_run_job_is_left_to_the_clerk() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[job(
                "bao-cao",
                "0 8 15 6,12 *",
                "current-half",
                "catch_up = \"once\"",
            )],
        );
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let alerts = Alerts::default();
        run_until(
            &config,
            &clock,
            &Scripted::ok(&clock),
            &alerts,
            utc(2026, 6, 10, 0, 0),
        );

        // Down over 15 June; at the next start the catch-up is stopped part-way by SIGTERM.
        clock.set(vn(2026, 6, 20, 9, 0));
        let stop = StopSignal::new();
        let stopped = Scripted::answering(&clock, |_| {
            stop.request();
            ExecReport::interrupted("Đã gửi 3/7 thư; dừng theo tín hiệu")
        });
        {
            let service = start(&config, &clock, &stopped, &alerts);
            service
                .run(&Jump::until(&clock, utc(2026, 7, 1, 0, 0)), &stop)
                .unwrap();
        }
        let history = runs(&config, "bao-cao");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].trigger, Trigger::CatchUp);
        let detail = history[0].detail.as_deref().unwrap();
        // The catch-up's own note comes first; the firing is still run on.
        assert!(detail.contains(STOPPED_TO_RESUME), "{detail}");
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2026, 7, 1, 0, 0));
        assert_eq!(executor.calls().len(), 1, "{:?}", executor.calls());
        assert_eq!(runs(&config, "bao-cao")[0].outcome, RunOutcome::Ok);

        // A run-job the clerk stops (Ctrl-C) stays stopped: the service does not finish it.
        clock.set(vn(2026, 6, 22, 9, 0));
        let stop = StopSignal::new();
        let stopped = Scripted::answering(&clock, |_| {
            stop.request();
            ExecReport::interrupted("Đã gửi 1/7 thư; dừng theo tín hiệu")
        });
        {
            let service = start(&config, &clock, &stopped, &alerts);
            let result = service.run_job("bao-cao", &stop).unwrap();
            assert_eq!(result.outcome, RunOutcome::Interrupted);
            assert!(
                !result.detail.contains(STOPPED_TO_RESUME),
                "{}",
                result.detail
            );
        }
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2026, 7, 1, 0, 0));
        assert!(executor.calls().is_empty(), "{:?}", executor.calls());
    }

    #[test]
    fn a_second_instance_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let config = half_yearly_report(dir.path());
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let executor = Scripted::ok(&clock);
        let alerts = Alerts::default();
        let first = start(&config, &clock, &executor, &alerts);
        let Err(second) = Service::start(&config, &clock, &executor, &alerts) else {
            panic!("a second instance started");
        };
        let message = second.to_string();
        assert!(matches!(second, ServiceError::Lock(LockError::Held { .. })));
        assert!(message.contains("Một tiến trình vanban khác"), "{message}");
        assert!(message.contains("state.sqlite.lock"), "{message}");
        drop(first);
        // Released with the first instance.
        drop(start(&config, &clock, &executor, &alerts));
    }

    #[test]
    fn run_job_is_recorded_as_manual_and_does_not_hide_a_missed_firing() {
        let dir = tempfile::tempdir().unwrap();
        let config = half_yearly_report(dir.path());
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let alerts = Alerts::default();
        let executor = Scripted::ok(&clock);
        run_until(&config, &clock, &executor, &alerts, utc(2026, 6, 10, 0, 0));

        // Down over 15 June. On the 20th an admin runs the job by hand.
        clock.set(vn(2026, 6, 20, 14, 30) + Duration::milliseconds(700));
        {
            let service = start(&config, &clock, &executor, &alerts);
            let result = service.run_job("bao-cao", &StopSignal::new()).unwrap();
            assert_eq!(result.outcome, RunOutcome::Ok);
            assert_eq!(result.firing.due, vn(2026, 6, 20, 14, 30));
            assert_eq!(result.firing.trigger, Trigger::Manual);
            assert_eq!(result.firing.period_key(), "2026-h1");
            let Err(unknown) = service.run_job("bao-cao-typo", &StopSignal::new()) else {
                panic!("unknown job ran");
            };
            let message = unknown.to_string();
            assert!(
                message.contains("bao-cao-typo") && message.contains("có: bao-cao"),
                "{message}"
            );
        }
        // The next start still catches up the 15 June firing.
        clock.set(vn(2026, 6, 21, 8, 0));
        run_until(&config, &clock, &executor, &alerts, utc(2026, 7, 1, 0, 0));
        let calls: Vec<(DateTime<Utc>, Trigger)> = executor
            .calls()
            .iter()
            .map(|c| (c.due, c.trigger))
            .collect();
        assert_eq!(
            calls,
            [
                (vn(2026, 6, 20, 14, 30), Trigger::Manual),
                (vn(2026, 6, 15, 8, 0), Trigger::CatchUp),
            ]
        );
    }

    /// The sample period and directory, copied into `dir`.
    fn copy_sample(dir: &Path) {
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        for name in ["dam-ha-2024-h1.toml", "directory.toml"] {
            std::fs::copy(samples.join(name), dir.join(name)).unwrap();
        }
    }

    #[test]
    fn a_failing_job_is_recorded_and_alerted_and_the_others_still_run() {
        let dir = tempfile::tempdir().unwrap();
        copy_sample(dir.path());
        let sample = std::fs::read_to_string(dir.path().join("dam-ha-2024-h1.toml")).unwrap();
        let broken = sample.replace("disbursed = 32479", "disbursed = 99999");
        assert_ne!(broken, sample);
        std::fs::write(dir.path().join("hong-2024-h1.toml"), broken).unwrap();
        let render_job = |name: &str, cron: &str, period: &str| {
            format!(
                "[[jobs]]\nname = \"{name}\"\ncron = \"{cron}\"\naction = \"render\"\n\
                 documents = [\"review-report\"]\ncovers = \"current-half\"\nperiod = \"{period}\"\n"
            )
        };
        let config = config(
            dir.path(),
            &[
                render_job("thieu-tep", "0 8 25 6 *", "khong-co-{year}-h{half}.toml"),
                render_job("tep-hong", "0 8 25 6 *", "hong-{year}-h{half}.toml"),
                render_job("dung", "0 8 25 6 *", "dam-ha-{year}-h{half}.toml"),
                // A fixed path: in December the file is still the first half's.
                render_job("sai-ky", "0 8 25 12 *", "dam-ha-2024-h1.toml"),
            ],
        );
        let clock = FixedClock::new(utc(2024, 6, 24, 0, 0));
        let executor = super::super::execute::JobExecutor::new(&config).unwrap();
        let alerts = Alerts::default();
        run_until(&config, &clock, &executor, &alerts, utc(2025, 1, 1, 0, 0));

        let missing = &runs(&config, "thieu-tep")[0];
        assert_eq!(missing.outcome, RunOutcome::Failed);
        let detail = missing.detail.as_deref().unwrap();
        assert!(detail.contains("khong-co-2024-h1.toml"), "{detail}");
        assert!(detail.contains("không đọc được tệp"), "{detail}");

        let invalid = &runs(&config, "tep-hong")[0];
        assert_eq!(invalid.outcome, RunOutcome::Failed);
        let detail = invalid.detail.as_deref().unwrap();
        assert!(detail.contains("hong-2024-h1.toml:"), "{detail}");
        assert!(
            detail.contains("vốn giải ngân (99999) lớn hơn vốn được giao (61864)"),
            "{detail}"
        );

        let good = &runs(&config, "dung")[0];
        assert_eq!(good.outcome, RunOutcome::Ok, "{:?}", good.detail);
        let pdf = dir.path().join("out/2024-h1/01-bao-cao-so-ket.pdf");
        assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
        assert!(
            dir.path()
                .join("out/2024-h1/01-bao-cao-so-ket.docx")
                .exists()
        );
        // Only the document the job names, as PDF and DOCX.
        assert_eq!(
            std::fs::read_dir(dir.path().join("out/2024-h1"))
                .unwrap()
                .count(),
            2
        );

        let wrong = &runs(&config, "sai-ky")[0];
        assert_eq!(wrong.outcome, RunOutcome::Failed);
        let detail = wrong.detail.as_deref().unwrap();
        assert!(
            detail.contains("là kỳ 2024-h1") && detail.contains("cần kỳ 2024-h2"),
            "{detail}"
        );

        let alerts = alerts.0.lock().unwrap();
        let subjects: Vec<&str> = alerts.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(subjects.len(), 3, "{subjects:?}");
        assert!(subjects[0].contains("\"thieu-tep\"") && subjects[0].contains("2024-h1"));
        assert!(subjects[1].contains("\"tep-hong\""));
        assert!(subjects[2].contains("\"sai-ky\"") && subjects[2].contains("25/12/2024"));
        let body = &alerts[1].1;
        assert!(body.contains("vốn giải ngân (99999)"), "{body}");
        assert!(body.contains("vanban run-job tep-hong --config"), "{body}");
    }

    #[test]
    fn a_send_waiting_for_approval_is_looked_at_every_minute_and_finished_once() {
        let dir = tempfile::tempdir().unwrap();
        let text = "state = \"state.sqlite\"\noutput_dir = \"out\"\nadmin_email = \"it@example.vn\"\n\
             [sender]\nname = \"Văn phòng\"\naddress = \"vanphong@example.vn\"\n\
             [approval]\napproval_wait = \"2h\"\n\
             [[jobs]]\nname = \"gui\"\ncron = \"0 8 25 6 *\"\naction = \"send\"\n\
             covers = \"current-half\"\nperiod = \"ky-{year}-h{half}.toml\"\n";
        let path = dir.path().join("vanban.toml");
        std::fs::write(&path, text).unwrap();
        let config = crate::input::config::parse(&path, text, &|_| None).unwrap();
        let clock = FixedClock::new(utc(2024, 6, 24, 0, 0));
        // The approver approves at 11:30:20 the next morning, three and a half hours late.
        let approved_at = vn(2024, 6, 25, 11, 30) + Duration::seconds(20);
        let mut executor = Scripted::answering(&clock, |_| {
            if clock.now() < approved_at {
                ExecReport::waiting("Chờ duyệt: 14 thư chưa gửi")
            } else {
                ExecReport::ok("Kỳ 2024-h1: 14 thư; gửi lần này 14")
            }
        });
        executor.takes = Duration::zero();
        let alerts = Alerts::default();
        run_until(&config, &clock, &executor, &alerts, utc(2024, 7, 1, 0, 0));

        let calls = executor.calls();
        let due = vn(2024, 6, 25, 8, 0);
        assert!(calls.iter().all(|c| c.due == due && c.job == "gui"));
        // 08:00, then every minute to 11:31, the first look after the approval; never again.
        assert_eq!(calls.len(), 1 + 3 * 60 + 31, "{}", calls.len());
        let runs = runs(&config, "gui");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].outcome, RunOutcome::Ok);
        assert_eq!(runs[0].finished, Some(vn(2024, 6, 25, 11, 31)));
        assert!(runs[0].finished.unwrap() - approved_at < Duration::minutes(1));
        // The admin is told once, when it had waited two hours.
        let alerts = alerts.0.lock().unwrap();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(alerts[0].0.contains("vẫn chờ duyệt"), "{}", alerts[0].0);
        assert!(alerts[0].1.contains("vanban approve"), "{}", alerts[0].1);
    }

    #[test]
    fn a_waiting_firing_is_shown_waiting_in_the_history_while_it_waits() {
        let dir = tempfile::tempdir().unwrap();
        let config = half_yearly_report(dir.path());
        let clock = FixedClock::new(utc(2026, 6, 14, 0, 0));
        let executor = Scripted::answering(&clock, |_| ExecReport::waiting("chờ duyệt"));
        let alerts = Alerts::default();
        run_until(&config, &clock, &executor, &alerts, vn(2026, 6, 15, 8, 30));
        let history = runs(&config, "bao-cao");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].outcome, RunOutcome::Waiting);
        // Not yet `approval_wait` (3 days by default): no alert.
        assert!(alerts.0.lock().unwrap().is_empty());
    }

    #[test]
    fn no_jobs_is_an_error_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &[]);
        let clock = FixedClock::new(utc(2026, 6, 1, 0, 0));
        let executor = Scripted::ok(&clock);
        let alerts = Alerts::default();
        let service = start(&config, &clock, &executor, &alerts);
        let err = service
            .run(
                &Jump::until(&clock, utc(2026, 7, 1, 0, 0)),
                &StopSignal::new(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("không có tác vụ nào"), "{err}");
    }

    #[test]
    fn the_system_waiter_wakes_at_the_deadline_or_at_once_on_stop() {
        let clock = crate::clock::SystemClock;
        let stop = StopSignal::new();
        let deadline = clock.now() + Duration::milliseconds(80);
        SystemWaiter.wait_until(&clock, deadline, &stop);
        assert!(clock.now() >= deadline);

        let stop = Arc::new(StopSignal::new());
        let remote = Arc::clone(&stop);
        let started = std::time::Instant::now();
        let signaller = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            remote.request();
        });
        SystemWaiter.wait_until(&clock, clock.now() + Duration::hours(6), &stop);
        signaller.join().unwrap();
        assert!(stop.is_requested());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Once requested, a wait returns immediately.
        let again = std::time::Instant::now();
        SystemWaiter.wait_until(&clock, clock.now() + Duration::hours(6), &stop);
        assert!(again.elapsed() < std::time::Duration::from_millis(500));
    }
}
