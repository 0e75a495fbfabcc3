//! When to stop: `--timeout`, or SIGINT / SIGTERM. Every step that can take long (the
//! namespaces, the /proc pass, thread evidence, reverse DNS, the capture and confirm
//! windows, watch's sleep) asks [`Deadline::passed`] at least every 50 ms, so the command
//! ends within a fraction of a second at any point; what was collected is reported as
//! partial, and temporary files are removed on the way out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How often a waiting step looks at the clock and the signal flag.
pub(crate) const TICK: Duration = Duration::from_millis(50);

static SIGNAL: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// Catches SIGINT and SIGTERM from now on (once, at start): they set a flag instead of
/// killing the process.
pub fn catch_signals() -> std::io::Result<()> {
    let flag = SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_usize(signal, flag.clone(), signal as usize)?;
    }
    Ok(())
}

/// The signal that asked the command to stop, if one did.
pub(crate) fn interrupted_by() -> Option<&'static str> {
    match SIGNAL.get()?.load(Ordering::Relaxed) {
        0 => None,
        n if n == signal_hook::consts::SIGINT as usize => Some("SIGINT"),
        n if n == signal_hook::consts::SIGTERM as usize => Some("SIGTERM"),
        _ => Some("a signal"),
    }
}

/// A point in time after which work stops (or none), and the signal flag.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// `duration` from now (durations are bounded by the command line, so this cannot
    /// overflow; if it did, there would be no deadline but the signals).
    pub fn after(duration: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(duration))
    }

    /// Only the signals.
    pub fn none() -> Deadline {
        Deadline(None)
    }

    /// This deadline, or `within` from now when that comes first.
    pub(crate) fn cap(self, within: Duration) -> Deadline {
        let capped = Instant::now().checked_add(within);
        Deadline(match (self.0, capped) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// The time has come, or a signal asked to stop.
    pub(crate) fn passed(&self) -> bool {
        interrupted_by().is_some() || self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// Time left (zero once passed; `Duration::MAX` without a deadline).
    pub(crate) fn left(&self) -> Duration {
        if interrupted_by().is_some() {
            return Duration::ZERO;
        }
        self.0.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        })
    }

    /// Why work stopped early, for a warning: `--timeout reached` or `interrupted by SIGINT`.
    pub(crate) fn reason(&self) -> String {
        match interrupted_by() {
            Some(signal) => format!("interrupted by {signal}"),
            None => "--timeout reached".to_string(),
        }
    }

    /// Sleeps up to `duration`, waking early when the deadline passes.
    pub(crate) fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration.min(self.left());
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if self.passed() || left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(TICK));
        }
    }
}
