//! `record`: everything a scan collects, as a snapshot to replay with `scan --from`.

use super::*;
use crate::cli::RecordArgs;
use crate::output;

pub(crate) fn run(args: &RecordArgs) -> Result<ExitCode, Error> {
    let deadline = Deadline::after(args.scope.timeout);
    let out = open_output(Some(&args.output), output::PRIVATE)?.until(deadline);
    let mut snapshot = collect::live(&collect_options(args.min_idle, &args.scope, deadline))?;
    // Names for what a scan at the same threshold would report, so `scan --from` shows them.
    let options = AnalysisOptions {
        min_idle: args.min_idle,
        all: false,
        filter: Filter::default(),
    };
    let mut namer = Namer::new(args.dns.options(), Default::default());
    // What the report judges from is recorded too: the stuck sockets' options, the holders'
    // memory and runtimes.
    let mut report = named_report(&mut snapshot, true, &options, "live", &mut namer, &deadline);
    // The names looked up (or labelled) are those of the findings' addresses.
    namer.record(&mut snapshot);
    mark_interrupted(&mut report);
    for warning in &report.warnings {
        match warning {
            Warning::Names(text) => snapshot.warnings.push(text.clone()),
            Warning::Partial(text) if !snapshot.partial => {
                snapshot.partial = true;
                snapshot.partial_reason = Some(text.clone());
            }
            _ => {}
        }
    }
    write_report(out, |w: &mut dyn Write| {
        render::json::write_pretty(&snapshot, w)
    })?;
    if args.output.as_os_str() != "-" {
        messages::note(&format!(
            "recorded {} sockets and {} processes to {}",
            snapshot.connections.len(),
            snapshot.processes.len(),
            args.output.display()
        ));
    }
    for warning in snapshot.warnings.iter().chain(&snapshot.partial_reason) {
        messages::warning(warning);
    }
    Ok(ExitCode::Clean)
}
