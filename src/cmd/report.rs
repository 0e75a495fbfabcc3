//! `report --from-watch FILE`: a `watch --format ndjson` recording as one HTML page with the
//! growth over time, to attach to a ticket.

use super::*;
use crate::cli::{ReportArgs, ReportFormat};
use crate::collect::load::{open_input, read_all};
use crate::output;
use crate::render::html::WatchRecording;

pub fn run(args: &ReportArgs) -> Result<ExitCode, Error> {
    let out = open_output(args.output.as_deref(), output::PRIVATE)?;
    let path = &args.from_watch;
    let limit = args.size_limit;
    let too_big = |size: u64| Error::Snapshot {
        path: path.clone(),
        reason: format!(
            "{size} bytes or more, over the limit of {limit} bytes (raise it with --size-limit)"
        ),
    };
    let bytes = read_all(path, open_input(path, limit, too_big)?, limit, too_big)?;
    let text = String::from_utf8_lossy(&bytes);
    let recording = WatchRecording::from_ndjson(&text);
    if recording.samples.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no `sample` line of `watch --format ndjson` in it",
            path.display()
        )));
    }
    let meta = scan::html_meta(Some(path.display().to_string()));
    let page = match args.format {
        ReportFormat::Html => render::html::render_watch(&recording, &meta),
    };
    write_report(out, |w: &mut dyn Write| w.write_all(page.as_bytes()))?;
    Ok(ExitCode::Clean)
}
