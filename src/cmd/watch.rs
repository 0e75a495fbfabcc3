//! `watch`: one collection per interval; stuck connections followed by cookie; ends at
//! `--duration`, `--count`, Ctrl-C (SIGINT) or SIGTERM, with a summary and the exit status
//! of the last sample.

use super::*;
use crate::analyze::track::Tracker;
use crate::cli::{WatchArgs, WatchFormat};
use crate::render::watch::Header;
use std::time::Instant;

pub(crate) fn run(args: &WatchArgs) -> Result<ExitCode, Error> {
    let terminal = std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if terminal {
        WatchFormat::Table
    } else {
        WatchFormat::Ndjson
    });
    let style = style(args.color);
    let options = analysis_options(&args.filter, false);
    let mut namer = Namer::new(args.dns.options(), Default::default());
    let mut tracker = Tracker::new();
    let started = Instant::now();
    let header = |report: &Report, tracker: &Tracker, time: jiff::Timestamp| Header {
        hostname: report.host.hostname.clone(),
        samples: tracker.samples(),
        interval: args.interval,
        stuck: report.summary.stuck(),
        min_idle: args.filter.min_idle,
        time,
    };
    let mut last: (Report, jiff::Timestamp);
    let ended_by = loop {
        let tick = Instant::now();
        // In watch, --timeout bounds each sample.
        let deadline = Deadline::after(args.filter.scope.timeout);
        let mut snapshot = collect::live(&collect_options(
            args.filter.min_idle,
            &args.filter.scope,
            deadline,
        ))?;
        let mut report = named_report(&mut snapshot, true, &options, "live", &mut namer, &deadline);
        finish(&mut report);
        let at = crate::report::now_millis();
        let events = tracker.observe(&report, at);
        let text = match format {
            WatchFormat::Ndjson => {
                let time = at.to_string();
                render::ndjson::events(&events, &time)
                    + &render::ndjson::sample(
                        tracker.samples(),
                        &time,
                        &report.summary,
                        &tracker.groups(),
                        &report.warnings,
                    )
            }
            WatchFormat::Table => {
                let header = header(&report, &tracker, at).to_string();
                render::watch::screen(&header, &tracker.groups(), style, terminal)
            }
        };
        last = (report, at);
        if !emit(text.as_bytes())? {
            break "closed pipe";
        }
        if let Some(why) = wait_for_next(args, &tracker, started, tick) {
            break why;
        }
    };
    let text = match format {
        WatchFormat::Ndjson => render::ndjson::summary(
            tracker.samples(),
            &crate::report::now_millis().to_string(),
            &tracker.groups(),
            ended_by,
        ),
        WatchFormat::Table => render::watch::last_screen(
            &header(&last.0, &tracker, last.1).to_string(),
            &tracker.groups(),
            style,
            tracker.samples(),
            started.elapsed(),
            ended_by,
        ),
    };
    emit(text.as_bytes())?;
    Ok(ExitCode::of(&last.0))
}

/// Sleeps until the next sample is due; or says why watching ends (`count`, `duration`,
/// `signal`).
fn wait_for_next(
    args: &WatchArgs,
    tracker: &Tracker,
    started: Instant,
    tick: Instant,
) -> Option<&'static str> {
    if args.count.is_some_and(|n| tracker.samples() as u64 >= n) {
        return Some("count");
    }
    let next = tick + args.interval;
    if args
        .duration
        .is_some_and(|d| next > started + d + args.interval / 2)
    {
        return Some("duration");
    }
    Deadline::none().sleep(next.saturating_duration_since(Instant::now()));
    deadline::interrupted_by().map(|_| "signal")
}
