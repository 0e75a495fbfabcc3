//! The JSON report: the `Report` serialized, one document, pretty-printed. Strings keep
//! their exact text, but the characters `crate::text` calls unsafe for a terminal (C1
//! controls, DEL, bidi overrides, zero-width characters) are written as `\uXXXX` escapes, as
//! serde_json already does for C0 controls: `jq` reads the same string, and `cat report.json`
//! cannot reorder or recolour a terminal.

use crate::report::Report;
use crate::text::JsonSafe as Safe;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, PrettyFormatter};
use std::io::{self, Write};

/// Streams the report to `w` (never the whole document in memory at once).
pub fn write(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    // What many connection rows share is written once and copied (`report::shared`).
    crate::report::shared::written_once(|| write_pretty(report, w))
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
    /// What rows share is written once and copied: the same bytes as writing each row whole.
    #[test]
    fn shared_values_written_once_give_the_same_bytes() {
        let mut shared = 0;
        for name in ["incident", "containers", "chain", "names", "shared"] {
            let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
            let snapshot =
                crate::collect::load(std::path::Path::new(&path), crate::collect::SNAPSHOT_LIMIT)
                    .unwrap();
            let options = crate::analyze::AnalysisOptions {
                min_idle: std::time::Duration::from_secs(60),
                all: true,
                filter: Default::default(),
            };
            let report =
                crate::enrich::offline(&snapshot, &options, &path, jiff::Timestamp::UNIX_EPOCH);
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
            let mut whole = Vec::new();
            super::write_pretty(&report, &mut whole).unwrap();
            assert_eq!(
                super::render(&report),
                String::from_utf8(whole).unwrap(),
                "{name}"
            );
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
