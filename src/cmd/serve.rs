//! `serve`: a Prometheus exporter. Each scan is the scan command's pipeline (collect, analyze,
//! names, finish) rendered as metrics; `crate::serve` runs the HTTP side and decides when to
//! scan. Metrics never carry command lines: the report's are not among them.

use super::*;
use crate::cli::ServeArgs;
use crate::serve::{self, Scanned};
use std::sync::Arc;

pub(crate) fn run(args: &ServeArgs) -> Result<ExitCode, Error> {
    let options = serve::Options {
        listen: args.listen,
        min_interval: args.min_interval,
        scan_timeout: args.filter.scope.timeout,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
    };
    let scan_args = args.clone();
    serve::run(options, Arc::new(move || scan(&scan_args)))?;
    Ok(ExitCode::Clean)
}

/// One scan of this host (bounded by --timeout from its start), as metrics; an error when
/// nothing could be collected (a --netns that no longer exists).
fn scan(args: &ServeArgs) -> Result<Scanned, String> {
    let deadline = Deadline::after(args.filter.scope.timeout);
    let options = collect_options(args.filter.min_idle, &args.filter.scope, deadline);
    let mut snapshot = collect::live(&options).map_err(|e| e.to_string())?;
    let mut namer = namer(&args.dns, &snapshot);
    let mut report = named_report(
        &mut snapshot,
        true,
        &analysis_options(&args.filter, false),
        "live",
        &mut namer,
        &deadline,
    );
    mark_interrupted(&mut report);
    finish(&mut report);
    Ok(Scanned {
        partial: report.partial,
        metrics: render::prometheus::metrics(&report),
    })
}
