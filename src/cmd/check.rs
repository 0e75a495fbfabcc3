//! `check`: the Nagios/Icinga plugin. Every failure is UNKNOWN, on standard output.

use super::*;
use crate::cli::CheckArgs;
use crate::render::nagios::{self, Status, Thresholds};

pub(crate) fn run(args: &CheckArgs) -> Status {
    let deadline = Deadline::after(args.filter.scope.timeout);
    let thresholds = Thresholds {
        warning: args.warning,
        critical: args.critical,
        per_process: args.per_process,
    };
    let fail = |message: String| {
        let _ = emit(nagios::unknown(&message).as_bytes());
        Status::Unknown
    };
    if args.warning > args.critical {
        return fail(format!(
            "--warning {} is above --critical {}",
            args.warning, args.critical
        ));
    }
    let (mut snapshot, source) = match snapshot(&args.source, &args.filter, deadline) {
        Ok(found) => found,
        Err(err) => return fail(err.to_string()),
    };
    let mut namer = namer(&args.dns, &snapshot);
    let mut report = named_report(
        &mut snapshot,
        args.source.from.is_none(),
        &analysis_options(&args.filter, false),
        &source,
        &mut namer,
        &deadline,
    );
    mark_interrupted(&mut report);
    finish(&mut report);
    let (status, text) = nagios::check(&report, &thresholds);
    let _ = emit(text.as_bytes());
    status
}
