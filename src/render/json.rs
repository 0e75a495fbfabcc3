//! The JSON report: the `Report` serialized, one document, pretty-printed.

use crate::report::Report;
use std::io::Write;

/// Streams the report to `w` (never the whole document in memory at once).
pub fn write(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    w.write_all(b"\n")
}

/// The report as a string (for tests and callers that want one).
pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    write(report, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
