//! Is it really dead: `--capture` (libpcap, `crate::capture::live`) and `--confirm` (a second
//! reading of the kernel's counters) watch the flows behind problem findings for a while,
//! and give each flow and finding a verdict (`crate::capture::apply`).

use crate::capture::{self, live, live::CaptureError, Watched};
use crate::collect;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::report::{Report, Warning, WireRun};
use crate::snapshot::{Endpoint, Snapshot, TcpInfo};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to watch on the wire, and how.
#[derive(Debug, Clone, Default)]
pub(crate) struct WireOptions {
    /// `--capture`: how long to capture.
    pub(crate) capture: Option<Duration>,
    /// `--confirm`: how long before the counters are read again.
    pub(crate) confirm: Option<Duration>,
    /// `--interface` (empty: `any`).
    pub(crate) interfaces: Vec<String>,
    /// `--pcap-out`.
    pub(crate) pcap_out: Option<PathBuf>,
}

/// Runs the checks asked for and fills `report.wire` and the verdicts. A capture that cannot
/// run is a warning; only a usage mistake (a bad interface, say) is an error.
pub(crate) fn check(
    report: &mut Report,
    snapshot: &Snapshot,
    wire: &WireOptions,
    deadline: &Deadline,
) -> Result<(), Error> {
    let Some(asked) = wire.capture.max(wire.confirm) else {
        return Ok(());
    };
    let window = window(report, asked, deadline);
    let mut run = WireRun {
        capture_secs: wire.capture.map(|d| d.as_secs_f64()),
        confirm_secs: Some(window.as_secs_f64()),
        interfaces: if wire.interfaces.is_empty() && wire.capture.is_some() {
            vec!["any".to_string()]
        } else {
            wire.interfaces.clone()
        },
        pcap_out: wire.pcap_out.as_ref().map(|p| p.display().to_string()),
        ..WireRun::default()
    };
    if let (Some(_), Some(reason)) = (wire.capture, live::missing_support()) {
        report.warnings.push(Warning::Wire(reason.to_string()));
        run.capture_error = Some(reason.to_string());
    }
    let watched = watched(report);
    if watched.is_empty() {
        report.wire = Some(run);
        return Ok(());
    }
    let started = Instant::now();
    let mut results = capture::Results::default();
    let captured = capturable(report, &watched, wire);
    let capture_window = wire
        .capture
        .map(|d| d.min(window))
        .filter(|_| !captured.is_empty());
    if let (Some(duration), None) = (capture_window, &run.capture_error) {
        match live::run(
            &captured,
            duration,
            &wire.interfaces,
            wire.pcap_out.as_deref(),
        ) {
            Ok(outcome) => {
                report
                    .warnings
                    .extend(outcome.warnings.into_iter().map(Warning::Wire));
                run.filter = Some(outcome.filter);
                run.packets_unmatched = outcome.table.unmatched;
                results.capture = Some((outcome.seconds, outcome.table.finish()));
            }
            Err(CaptureError::Usage(message)) => return Err(Error::Usage(message)),
            Err(CaptureError::Unavailable(message)) => {
                report.warnings.push(Warning::Wire(message.clone()));
                run.capture_error = Some(message);
            }
        }
    }
    // The counter proof spans the whole window, from the collection to a second reading.
    if let Some(left) = window.checked_sub(started.elapsed()) {
        wait(left, deadline);
    }
    match collect::recount() {
        Ok(after) => results.confirm = Some(confirm(snapshot, &watched, &after)),
        Err(err) => {
            let message = format!("cannot re-read the counters with sock_diag: {err}");
            report.warnings.push(Warning::Wire(message.clone()));
            run.confirm_error = Some(message);
        }
    }
    capture::apply(report, &watched, &results);
    report.wire = Some(run);
    Ok(())
}

/// The window the flows are watched for: what was asked, cut to what `deadline` leaves
/// (with a moment for the second counter reading and the report); a cut makes the report
/// partial.
fn window(report: &mut Report, asked: Duration, deadline: &Deadline) -> Duration {
    let left = deadline.left().saturating_sub(Duration::from_millis(200));
    let window = asked.min(left);
    if window < asked {
        report.partial = true;
        report.warnings.push(Warning::Partial(format!(
            "{}: the wire was watched for {} instead of {}; the report is partial",
            deadline.reason(),
            humantime::format_duration(Duration::from_millis(
                u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
            )),
            humantime::format_duration(asked)
        )));
    }
    window
}

/// The flows behind problem findings that can be watched (those in stuckconn's own
/// namespace); the others are named in a warning.
fn watched(report: &mut Report) -> Vec<Watched> {
    let watched = capture::watched(report);
    let stuck = report
        .connections
        .iter()
        .filter(|c| c.kind.is_problem())
        .count();
    let elsewhere = stuck - watched.len();
    if elsewhere > 0 {
        report.warnings.push(Warning::Wire(format!(
            "{elsewhere} stuck connections in other network namespaces were not watched on the \
             wire: --capture and --confirm see only stuckconn's own namespace (run it there with \
             --netns self)"
        )));
    }
    watched
}

/// The flows the capture may see. A binary given CAP_NET_RAW with setcap (or setuid) must
/// not become a sniffer for every local user: such a run captures only the caller's own
/// sockets (the counter proof needs no privilege and still covers every flow).
fn capturable(
    report: &mut Report,
    watched: &[Watched],
    wire: &WireOptions,
) -> Vec<(Endpoint, Endpoint)> {
    let all = || watched.iter().map(|w| (w.local, w.remote)).collect();
    if wire.capture.is_none() || !collect::caps::secure_exec() {
        return all();
    }
    let uid = rustix::process::getuid().as_raw();
    let own: Vec<(Endpoint, Endpoint)> = watched
        .iter()
        .filter(|w| report.connections[w.index].uid == uid)
        .map(|w| (w.local, w.remote))
        .collect();
    if own.len() < watched.len() {
        report.warnings.push(Warning::Wire(format!(
            "{} stuck connections of other users were not captured: this stuckconn runs with \
             file capabilities or setuid, so it captures only the sockets of uid {uid} (run it \
             as root to capture them all)",
            watched.len() - own.len()
        )));
    }
    own
}

/// The counter proof: each watched flow's tcp_info at collection against `after`.
fn confirm(
    snapshot: &Snapshot,
    watched: &[Watched],
    after: &HashMap<u64, TcpInfo>,
) -> (f64, Vec<Option<crate::report::CounterChange>>) {
    let before: HashMap<u64, TcpInfo> = snapshot
        .connections
        .iter()
        .filter_map(|c| Some((c.cookie()?, c.tcp_info()?)))
        .collect();
    let changes = watched
        .iter()
        .map(|w| {
            let cookie = w.cookie?;
            Some(capture::counter_change(
                before.get(&cookie)?,
                after.get(&cookie),
            ))
        })
        .collect();
    let seconds = jiff::Timestamp::now()
        .duration_since(snapshot.taken_at)
        .as_secs_f64()
        .max(0.0);
    (seconds, changes)
}

/// Sleeps, with a countdown on stderr when it is a terminal; a signal ends it early.
fn wait(duration: Duration, deadline: &Deadline) {
    let progress = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let until = Instant::now() + duration;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if deadline.passed() {
            break;
        }
        progress.set_message(format!(
            "confirming: {}s left",
            left.as_secs_f64().ceil() as u64
        ));
        progress.tick();
        deadline.sleep(left.min(Duration::from_millis(200)));
    }
    progress.finish_and_clear();
}
