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

/// Exit status after a second SIGINT or SIGTERM (128 + the signal, as a shell reports it).
pub const FORCED_SIGINT: i32 = 130;
pub const FORCED_SIGTERM: i32 = 143;

/// Catches SIGINT and SIGTERM from now on (once, at start): the first sets a flag instead of
/// killing the process (the command stops where it is and reports what it has); a second
/// ends the process at once, whatever it is doing (exit status 130 or 143), for the steps
/// that do not look at the flag (parsing a snapshot, the analysis and rendering of a very
/// large report). Files being written are unnamed until complete, so none is left behind.
pub fn catch_signals() -> std::io::Result<()> {
    let flag = SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for (signal, status) in [
        (signal_hook::consts::SIGINT, FORCED_SIGINT),
        (signal_hook::consts::SIGTERM, FORCED_SIGTERM),
    ] {
        // In this order: exit if one came before, then note this one.
        signal_hook::flag::register_conditional_shutdown(signal, status, seen.clone())?;
        signal_hook::flag::register(signal, seen.clone())?;
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
