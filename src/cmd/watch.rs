//! `watch`: one collection per interval; stuck connections followed by cookie; ends at
//! `--duration`, `--count`, Ctrl-C (SIGINT) or SIGTERM, with a summary and the exit status
//! of the last sample.

use super::*;
use crate::analyze::track::Tracker;
use crate::cli::{WatchArgs, WatchFormat};
use crate::render::watch::Header;
use std::time::Instant;

pub fn run(args: &WatchArgs) -> Result<ExitCode, Error> {
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
        let deadline = Deadline::after(args.filter.timeout);
        let snapshot = collect::live(&filter_collect_options(&args.filter, deadline))?;
        let mut report = named_report(&snapshot, &options, "live", &mut namer, &deadline);
        finish(&mut report);
        let at = crate::report::now_millis();
        let events = tracker.observe(&report, at);
        let time = at.to_string();
        let groups = tracker.groups();
        let text = match format {
            WatchFormat::Ndjson => {
                render::ndjson::events(&events, &time)
                    + &render::ndjson::sample(
                        tracker.samples(),
                        &time,
                        &report.summary,
                        &groups,
                        &report.warnings,
                    )
            }
            WatchFormat::Table => render::watch::screen(
                &header(&report, &tracker, at).to_string(),
                &groups,
                style,
                terminal,
            ),
        };
        last = (report, at);
        if !emit(text.as_bytes())? {
            break "closed pipe";
        }
        if args.count.is_some_and(|n| tracker.samples() as u64 >= n) {
            break "count";
        }
        let next = tick + args.interval;
        if args
            .duration
            .is_some_and(|d| next > started + d + args.interval / 2)
        {
            break "duration";
        }
        Deadline::none().sleep(next.saturating_duration_since(Instant::now()));
        if deadline::interrupted_by().is_some() {
            break "signal";
        }
    };
    let groups = tracker.groups();
    let text = match format {
        WatchFormat::Ndjson => render::ndjson::summary(
            tracker.samples(),
            &crate::report::now_millis().to_string(),
            &groups,
            ended_by,
        ),
        WatchFormat::Table => render::watch::last_screen(
            &header(&last.0, &tracker, last.1).to_string(),
            &groups,
            style,
            tracker.samples(),
            started.elapsed(),
            ended_by,
        ),
    };
    emit(text.as_bytes())?;
    Ok(ExitCode::of(&last.0))
}
