//! One scan at a time, shared: scrapes that come while a scan runs wait for it and all get
//! its result (single-flight), and a result younger than `--min-interval` is served again
//! without scanning. A scrape storm never starts a storm of /proc walks.
//!
//! The scan runs on the runtime's blocking pool (it is synchronous work: netlink, /proc,
//! reverse DNS on a runtime of its own), started by a task of its own: a scrape that gives up
//! (its client went away, or it waited too long) neither cancels the scan nor lets a second
//! one start beside it.

use crate::messages;
use crate::render::prometheus::{Family, Metrics};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What a scan gives: the metrics of its report, and whether it was cut short.
#[derive(Debug, Clone)]
pub(crate) struct Scanned {
    pub(crate) metrics: Metrics,
    pub(crate) partial: bool,
}

/// A scan of the host: called on a blocking thread, bounded by its own deadline.
pub(crate) type ScanFn = dyn Fn() -> Result<Scanned, String> + Send + Sync;

/// The outcome of the last scan, as it is served.
#[derive(Debug)]
pub(crate) struct Served {
    /// The scan's metrics; `None` when it failed.
    pub(crate) scanned: Option<Scanned>,
    finished: Instant,
}

#[derive(Default)]
struct State {
    last: Option<Arc<Served>>,
    /// The scan in flight: its outcome is sent here when it ends.
    running: Option<watch::Receiver<Option<Arc<Served>>>>,
    scans: u64,
    errors: u64,
}

/// The scans of one exporter.
pub(crate) struct Scans {
    scan: Arc<ScanFn>,
    min_interval: Duration,
    /// How long a scrape waits for a scan in flight (the scan's own bound, and some).
    wait_limit: Duration,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state is consistent between statements: a panic elsewhere cannot have left it
    // half-written.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scans {
    pub(crate) fn new(scan: Arc<ScanFn>, min_interval: Duration, wait_limit: Duration) -> Scans {
        Scans {
            scan,
            min_interval,
            wait_limit,
            state: Arc::default(),
        }
    }

    /// Scans started and scans failed, since the exporter started.
    pub(crate) fn counters(&self) -> (u64, u64) {
        let state = lock(&self.state);
        (state.scans, state.errors)
    }

    /// The outcome to serve now: the last one if it is younger than `--min-interval`, else
    /// that of the scan in flight (started here when none is). `None` when the scan in flight
    /// has not ended within the wait limit.
    pub(crate) async fn latest(&self) -> Option<Arc<Served>> {
        let mut outcome = {
            let mut state = lock(&self.state);
            if let Some(last) = &state.last {
                if last.finished.elapsed() < self.min_interval {
                    return Some(last.clone());
                }
            }
            match &state.running {
                Some(running) => running.clone(),
                None => self.start(&mut state),
            }
        };
        let ended = async { outcome.wait_for(Option::is_some).await.ok()?.clone() };
        // None: the wait timed out, or the scan's task ended without an outcome (it cannot:
        // it always sends one).
        tokio::time::timeout(self.wait_limit, ended)
            .await
            .ok()
            .flatten()
    }

    fn start(&self, state: &mut State) -> watch::Receiver<Option<Arc<Served>>> {
        let (sender, receiver) = watch::channel(None);
        state.running = Some(receiver.clone());
        state.scans += 1;
        let scan = self.scan.clone();
        let shared = self.state.clone();
        tokio::spawn(async move {
            let scanned = match tokio::task::spawn_blocking(move || scan()).await {
                Ok(Ok(scanned)) => Some(scanned),
                Ok(Err(why)) => {
                    messages::error(&format!("scan failed: {why}"));
                    None
                }
                Err(err) => {
                    messages::error(&format!("scan failed: {err}"));
                    None
                }
            };
            let served = Arc::new(Served {
                scanned,
                finished: Instant::now(),
            });
            {
                let mut state = lock(&shared);
                if served.scanned.is_none() {
                    state.errors += 1;
                }
                state.last = Some(served.clone());
                state.running = None;
            }
            let _ = sender.send(Some(served));
        });
        receiver
    }
}

/// What a scrape gets: the served scan's metrics (none when it failed), then the exporter's
/// own: up, partial, and the scan counters.
pub(crate) fn exposition(served: &Served, (scans, errors): (u64, u64)) -> Metrics {
    let mut families = served
        .scanned
        .as_ref()
        .map(|s| s.metrics.0.clone())
        .unwrap_or_default();
    let counter = |name, help, value: u64| Family {
        name,
        help,
        counter: true,
        series: vec![(Vec::new(), value as f64)],
    };
    families.extend([
        Family::gauge(
            "stuckconn_up",
            "1 when the scan served completed (perhaps partial), 0 when the last scan failed.",
            if served.scanned.is_some() { 1.0 } else { 0.0 },
        ),
        Family::gauge(
            "stuckconn_scan_partial",
            "1 when the scan served was cut short (--timeout, a signal): stuck connections may be missing.",
            if served.scanned.as_ref().is_some_and(|s| s.partial) {
                1.0
            } else {
                0.0
            },
        ),
        counter(
            "stuckconn_scans",
            "Scans started since the exporter started.",
            scans,
        ),
        counter(
            "stuckconn_scan_errors",
            "Scans that failed since the exporter started (each is logged to standard error).",
            errors,
        ),
    ]);
    Metrics(families)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A scan that takes `took` and counts its calls.
    fn counted(took: Duration, calls: Arc<AtomicU64>) -> Arc<ScanFn> {
        Arc::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(took);
            Ok(Scanned {
                metrics: Metrics(vec![Family::gauge("x", "x", 1.0)]),
                partial: false,
            })
        })
    }

    #[test]
    fn concurrent_requests_share_one_scan_even_with_no_min_interval() {
        let calls = Arc::new(AtomicU64::new(0));
        let scans = Arc::new(Scans::new(
            counted(Duration::from_millis(300), calls.clone()),
            Duration::ZERO,
            Duration::from_secs(5),
        ));
        runtime().block_on(async {
            let mut waiting = tokio::task::JoinSet::new();
            for _ in 0..50 {
                let scans = scans.clone();
                waiting.spawn(async move { scans.latest().await });
            }
            let mut finished = Vec::new();
            while let Some(served) = waiting.join_next().await {
                finished.push(served.unwrap().expect("served").finished);
            }
            assert!(finished.iter().all(|f| *f == finished[0]), "one outcome");
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(scans.counters(), (1, 0));
    }

    #[test]
    fn a_result_younger_than_min_interval_is_reused_then_renewed() {
        let calls = Arc::new(AtomicU64::new(0));
        let scans = Scans::new(
            counted(Duration::ZERO, calls.clone()),
            Duration::from_millis(300),
            Duration::from_secs(5),
        );
        runtime().block_on(async {
            let first = scans.latest().await.unwrap();
            let again = scans.latest().await.unwrap();
            assert!(Arc::ptr_eq(&first, &again));
            tokio::time::sleep(Duration::from_millis(350)).await;
            let later = scans.latest().await.unwrap();
            assert!(!Arc::ptr_eq(&first, &later));
        });
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_or_panicking_scan_is_counted_and_served_as_down() {
        let scans = Scans::new(
            Arc::new(|| Err("no such namespace".to_string())),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        let panicking = Scans::new(
            Arc::new(|| panic!("a bug")),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        runtime().block_on(async {
            let served = scans.latest().await.unwrap();
            assert!(served.scanned.is_none());
            let text = crate::render::prometheus::encode(exposition(&served, scans.counters()));
            assert!(text.contains("stuckconn_up 0.0\n"), "{text}");
            assert!(text.contains("stuckconn_scan_errors_total 1\n"), "{text}");
            assert!(text.contains("stuckconn_scans_total 1\n"), "{text}");
            assert!(!text.contains("stuckconn_sockets"), "no stale data: {text}");
            assert!(panicking.latest().await.unwrap().scanned.is_none());
            assert_eq!(panicking.counters(), (1, 1));
        });
    }

    #[test]
    fn a_scrape_waits_at_most_the_limit_and_never_starts_a_second_scan() {
        let calls = Arc::new(AtomicU64::new(0));
        let scans = Scans::new(
            counted(Duration::from_millis(600), calls.clone()),
            Duration::ZERO,
            Duration::from_millis(100),
        );
        runtime().block_on(async {
            let started = Instant::now();
            assert!(scans.latest().await.is_none());
            assert!(scans.latest().await.is_none());
            assert!(started.elapsed() < Duration::from_millis(400));
            tokio::time::sleep(Duration::from_millis(600)).await;
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
