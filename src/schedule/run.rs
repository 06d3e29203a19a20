//! The service as `vanban run` and `vanban run-job` start it: the system clock, the real
//! executor and mail alerts, stopped by SIGTERM/SIGINT. Kept apart from `service` (the loop)
//! and `execute` (the work) so that neither of those imports the other.

use std::sync::Arc;

use super::execute::{JobExecutor, MailAlert};
use super::service::{FiringResult, Service, ServiceError, SystemWaiter};
use crate::config::Config;
use crate::shutdown::{StopSignal, stop_on_signals};
use crate::state::{InstanceLock, LockError};

/// `vanban run`: the service with the system clock, the real work and SMTP alerts, stopped by
/// SIGTERM/SIGINT. Returns `Ok` after a requested stop.
pub fn serve(config: &Config) -> Result<(), ServiceError> {
    let clock = crate::clock::SystemClock;
    let stop = Arc::new(StopSignal::new());
    stop_on_signals(Arc::clone(&stop)).map_err(ServiceError::Signals)?;
    let executor = JobExecutor::new(config)?;
    let alert = MailAlert::new(config);
    let service = Service::start(config, &clock, &executor, &alert)?;
    service.run(&SystemWaiter, &stop)
}

/// The scheduler of `vanban serve`: like [`serve`], under a lock the web page shares and
/// stopped by the caller's `stop` (which owns the signal handlers).
pub fn serve_locked(
    config: &Config,
    lock: Arc<InstanceLock>,
    stop: &StopSignal,
) -> Result<(), ServiceError> {
    let clock = crate::clock::SystemClock;
    let executor = JobExecutor::new(config)?;
    let alert = MailAlert::new(config);
    let service = Service::start_locked(config, &clock, &executor, &alert, lock)?;
    service.run(&SystemWaiter, stop)
}

/// `vanban run-job NAME`: one manual firing of `name`, now; SIGTERM/SIGINT stop it between
/// messages like the service.
pub fn run_job_now(config: &Config, name: &str) -> Result<FiringResult, ServiceError> {
    let clock = crate::clock::SystemClock;
    let stop = Arc::new(StopSignal::new());
    stop_on_signals(Arc::clone(&stop)).map_err(ServiceError::Signals)?;
    let executor = JobExecutor::new(config)?;
    let alert = MailAlert::new(config);
    let service = Service::start(config, &clock, &executor, &alert).map_err(|e| match e {
        ServiceError::Lock(held @ LockError::Held { .. }) => ServiceError::ServiceRunning(held),
        other => other,
    })?;
    service.run_job(name, &stop)
}
