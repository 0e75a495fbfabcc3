//! The JSON report: the `Report` serialized, one document, pretty-printed. Strings keep
//! their exact text, but the characters `crate::text` calls unsafe for a terminal (C1
//! controls, DEL, bidi overrides, zero-width characters) are written as `\uXXXX` escapes, as
//! serde_json already does for C0 controls: `jq` reads the same string, and `cat report.json`
//! cannot reorder or recolour a terminal.

use crate::report::{rows, Report};
use crate::text::JsonSafe as Safe;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, PrettyFormatter};
use std::io::{self, Write};

/// Streams the report to `w` (never the whole document in memory at once).
pub fn write(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    write_rows_by_two_from(report, w, rows::BY_TWO_FROM, rows::CHUNK)
}

/// `write`, with the rows written by two threads from `from` rows on, in chunks of `chunk`.
fn write_rows_by_two_from(
    report: &Report,
    w: &mut dyn Write,
    from: usize,
    chunk: usize,
) -> io::Result<()> {
    // What many connection rows share is written once and copied (`report::shared`); many
    // rows are written by two threads (`report::rows`).
    crate::report::shared::written_once(|| {
        rows::by_two(&report.connections, from, chunk, || write_pretty(report, w))
    })
}

/// Any value as terminal-safe, pretty-printed JSON and a newline (reports, snapshots).
pub(crate) fn write_pretty(value: &impl Serialize, w: &mut dyn Write) -> io::Result<()> {
    // serde_json writes token by token: into a buffer of its own type, not through `dyn`.
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, w);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut buffered, Safe(PrettyFormatter::new()));
    value.serialize(&mut ser)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// Any value as terminal-safe JSON on one line, without a newline (ndjson).
pub(crate) fn to_line(value: &impl Serialize) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Safe(CompactFormatter));
    value
        .serialize(&mut ser)
        .expect("plain data serializes to memory");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The report as a string (for tests and callers that want one).
pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    write(report, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use crate::report::{rows, Report};

    fn report_of(name: &str) -> Report {
        let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let snapshot =
            crate::collect::load(std::path::Path::new(&path), crate::collect::SNAPSHOT_LIMIT)
                .unwrap();
        let options = crate::analyze::AnalysisOptions {
            min_idle: std::time::Duration::from_secs(60),
            all: true,
            filter: Default::default(),
        };
        crate::enrich::offline(&snapshot, &options, &path, jiff::Timestamp::UNIX_EPOCH)
    }

    /// `report` with its rows repeated to `rows` rows (repeated rows share their values).
    fn grow(report: &mut Report, rows: usize) {
        report.connections = report
            .connections
            .iter()
            .cycle()
            .take(rows)
            .cloned()
            .collect();
    }

    /// Every row written here, one thread, nothing shared written once.
    fn plainly(report: &Report) -> String {
        let mut whole = Vec::new();
        super::write_pretty(report, &mut whole).unwrap();
        String::from_utf8(whole).unwrap()
    }

    /// Rows written by two threads give the bytes of rows written by one: in chunks of any
    /// size (one row, two, more than there are), hostile names included (`containers`).
    #[test]
    fn rows_written_by_two_threads_give_the_same_bytes() {
        for name in ["incident", "containers", "chain", "names", "shared"] {
            let report = report_of(name);
            let rows = report.connections.len();
            assert!(rows >= 3, "{name}: {rows} rows");
            for chunk in [1, 2, 3, rows + 1] {
                let mut two = Vec::new();
                super::write_rows_by_two_from(&report, &mut two, 1, chunk).unwrap();
                // The second thread writes chunks 0, 2, 4...
                assert_eq!(
                    rows::taken(),
                    rows.div_ceil(chunk).div_ceil(2),
                    "{name} {chunk}"
                );
                assert_eq!(
                    String::from_utf8(two).unwrap(),
                    plainly(&report),
                    "{name} {chunk}"
                );
            }
        }
    }

    /// A report as large as a leak of thousands: written by two threads (as `write` does
    /// from `BY_TWO_FROM` rows on), the same bytes.
    #[test]
    fn a_large_report_is_written_by_two_threads() {
        let mut report = report_of("containers");
        grow(&mut report, 3000);
        let written = super::render(&report);
        assert_eq!(rows::taken(), 3000usize.div_ceil(rows::CHUNK).div_ceil(2));
        assert_eq!(written, plainly(&report));
        // Below the threshold, one thread.
        report.connections.truncate(rows::BY_TWO_FROM - 1);
        assert_eq!(super::render(&report), plainly(&report));
        assert_eq!(rows::taken(), 0);
    }

    /// A reader that goes away (a closed pipe) while the rows are written, or before them:
    /// the error comes back and the second thread ends (the test would hang otherwise).
    #[test]
    fn a_write_error_ends_both_threads() {
        struct ClosesAfter(usize);
        impl std::io::Write for ClosesAfter {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(std::io::ErrorKind::BrokenPipe.into());
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut report = report_of("incident");
        grow(&mut report, 5000);
        for after in [0, 10, 300_000] {
            let err = super::write(&report, &mut ClosesAfter(after)).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "after {after}");
        }
    }

    /// A panic while a large report is written, before its rows: it comes back (the second
    /// thread, waiting to hand over a chunk, ends rather than holding the scope forever), and
    /// the next report written on the same thread gets its own rows.
    #[test]
    fn a_panic_before_the_rows_ends_both_threads() {
        let mut report = report_of("incident");
        grow(&mut report, 5000);
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rows::by_two(&report.connections, 1, 1, || {
                    // Long enough for the second thread to wait on a full channel.
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    panic!("a panic while the findings are written")
                })
            }))
            .is_err();
            let mut small = report.clone();
            small.connections.truncate(3);
            let next_is_whole = super::render(&small) == plainly(&small);
            let _ = done.send((panicked, next_is_whole));
        });
        let (panicked, next_is_whole) = finished
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a panic while writing hangs");
        assert!(panicked);
        assert!(next_is_whole);
    }

    /// What rows share is written once and copied: the same bytes as writing each row whole.
    #[test]
    fn shared_values_written_once_give_the_same_bytes() {
        let mut shared = 0;
        for name in ["incident", "containers", "chain", "names", "shared"] {
            let report = report_of(name);
            // Rows that share their namespace or verdict with an earlier row.
            let mut seen = std::collections::HashSet::new();
            for row in &report.connections {
                let netns = row
                    .netns
                    .as_ref()
                    .map(|n| std::sync::Arc::as_ptr(n) as usize);
                let timeouts = row
                    .timeouts
                    .as_ref()
                    .map(|t| std::sync::Arc::as_ptr(t) as usize);
                for key in netns.into_iter().chain(timeouts) {
                    shared += usize::from(!seen.insert(key));
                }
            }
            assert_eq!(super::render(&report), plainly(&report), "{name}");
        }
        assert!(shared > 100, "rows share values: {shared}");
    }

    #[test]
    fn unsafe_characters_are_escaped_and_read_back_exactly() {
        let hostile = "a\u{1b}[2J\u{9b}31m\u{202e}gpj.exe\u{200b}\u{7f}é\"\\";
        let line = super::to_line(&hostile);
        assert!(!line.chars().any(crate::text::is_unsafe), "{line}");
        assert!(
            line.contains("\\u202e") && line.contains("\\u009b"),
            "{line}"
        );
        let back: String = serde_json::from_str(&line).unwrap();
        assert_eq!(back, hostile);
    }
}
