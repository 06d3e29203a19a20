//! The one shutdown signal: SIGTERM or Ctrl-C asks `send` and `run` alike to finish the message
//! in flight, record it, and stop. A second signal ends the process at once (the ledger then
//! shows that message as unknown, never as lost).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tracing::{info, warn};

/// A stop request (SIGTERM/SIGINT) that a waiting thread notices at once, and that the work in
/// progress checks between messages through `StopSignal::flag`.
#[derive(Debug, Default)]
pub struct StopSignal {
    flag: AtomicBool,
    mutex: Mutex<()>,
    wake: Condvar,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
        // Taking the mutex orders this after a waiter's check of the flag, so it cannot miss it.
        let _guard = self.mutex.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    pub fn is_requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for at most `limit`, returning early when a stop is requested.
    pub fn wait_timeout(&self, limit: std::time::Duration) {
        let guard = self.mutex.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_requested() {
            return;
        }
        let _ = self.wake.wait_timeout(guard, limit);
    }
}

/// Requests a stop on the first SIGTERM or SIGINT; a second one ends the process at once (the
/// run history then shows the firing as interrupted at the next start). Runs a thread.
pub fn stop_on_signals(stop: Arc<StopSignal>) -> std::io::Result<()> {
    use signal_hook::consts::signal::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("vanban-signals".into())
        .spawn(move || {
            for (count, signal) in signals.forever().enumerate() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                if count == 0 {
                    info!(
                        signal = name,
                        "Nhận tín hiệu dừng: gửi nốt thư đang gửi, ghi kết quả rồi thoát"
                    );
                    stop.request();
                } else {
                    warn!(signal = name, "Nhận tín hiệu dừng lần thứ hai: thoát ngay");
                    std::process::exit(130);
                }
            }
        })?;
    Ok(())
}
