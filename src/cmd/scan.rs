//! `scan` (the default): one report of this host or of a snapshot.

use super::*;
use crate::cli::{Format, ScanArgs, WireArgs};
use crate::enrich::wire::{self, WireOptions};
use crate::output;
use crate::timing::Stopwatch;

pub(crate) fn run(args: &ScanArgs) -> Result<ExitCode, Error> {
    let deadline = Deadline::after(args.filter.scope.timeout);
    check_wire_flags(args)?;
    // Opened before the scan: a path that cannot be written fails at once, not after it.
    let mode = match args.format {
        Format::Prometheus => output::PUBLIC,
        _ => output::PRIVATE,
    };
    let out = open_output(args.output.as_deref(), mode)?.until(deadline);
    let (mut snapshot, source) = snapshot(&args.source, &args.filter, deadline)?;
    let options = analysis_options(&args.filter, args.all);
    let mut namer = namer(&args.dns, &snapshot);
    let mut report = named_report(
        &mut snapshot,
        args.source.from.is_none(),
        &options,
        &source,
        &mut namer,
        &deadline,
    );
    let mut watch = Stopwatch::start();
    wire::check(&mut report, &snapshot, &wire_options(&args.wire), &deadline)?;
    snapshot.timings.phases.push(watch.lap("wire"));
    mark_interrupted(&mut report);
    finish(&mut report);
    snapshot.timings.phases.push(watch.lap("finish"));
    if args.timings && args.format != Format::Table {
        report.timings.breakdown = Some(snapshot.timings.clone());
    }
    let style = style(args.color);
    write_report(out, |w: &mut dyn Write| match args.format {
        // Streamed: a report of 100,000 connections is never one string in memory.
        Format::Json => render::json::write(&report, w),
        Format::Table => w.write_all(render::table::render(&report, style).as_bytes()),
        Format::Prometheus => w.write_all(render::prometheus::render(&report).as_bytes()),
        Format::Html => w.write_all(render::html::render(&report, &html_meta(None)).as_bytes()),
    })?;
    let rendered = watch.lap("render");
    if args.format == Format::Table || args.output.is_some() {
        warn_all(&report.warnings);
    }
    if args.timings {
        show_timings(
            &mut snapshot.timings,
            rendered,
            args.format == Format::Table,
        );
    }
    Ok(ExitCode::of(&report))
}

/// `--timings` on standard error: the whole breakdown for the table, the rendering's line
/// (written after the report) for the other formats.
fn show_timings(
    timings: &mut crate::snapshot::timings::Breakdown,
    rendered: crate::snapshot::timings::Phase,
    all: bool,
) {
    if !all {
        timings.phases.clear();
        timings.dumps.clear();
        timings.fd_walk = None;
    }
    timings.phases.push(rendered);
    let lines = render::timings::lines(timings);
    // The total of the rendering alone says nothing more.
    let shown = if all { &lines[..] } else { &lines[..1] };
    for line in shown {
        messages::note(line);
    }
}

/// Combinations of wire flags that cannot work, refused before anything is collected.
fn check_wire_flags(args: &ScanArgs) -> Result<(), Error> {
    let wire = &args.wire;
    if args.source.from.is_some() && (wire.capture.is_some() || wire.confirm.is_some()) {
        return Err(Error::Usage(
            "--capture and --confirm watch the live host; they cannot be used with --from"
                .to_string(),
        ));
    }
    if wire.pcap_out.is_some() && wire.interface.len() > 1 {
        return Err(Error::Usage(
            "--pcap-out records one interface: give at most one --interface".to_string(),
        ));
    }
    if let Err(crate::capture::live::CaptureError::Usage(message)) =
        crate::capture::live::check_interfaces(&wire.interface)
    {
        return Err(Error::Usage(message));
    }
    Ok(())
}

/// What an HTML report says of how it was made: the version and the command line, its
/// secrets masked (unless `--no-redact`).
pub(super) fn html_meta(source: Option<String>) -> render::html::HtmlMeta {
    let args: Vec<String> = std::env::args().collect();
    let redacted = if args.iter().any(|a| a == "--no-redact") {
        args
    } else {
        crate::redact::redact_args(&args)
    };
    render::html::HtmlMeta {
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: Some(redacted.join(" ")),
        source,
    }
}

fn wire_options(wire: &WireArgs) -> WireOptions {
    WireOptions {
        capture: wire.capture,
        confirm: wire.confirm,
        interfaces: wire.interface.clone(),
        pcap_out: wire.pcap_out.clone(),
    }
}
