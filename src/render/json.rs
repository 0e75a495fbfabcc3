//! The JSON report: the `Report` serialized, one document, pretty-printed. Strings keep
//! their exact text, but the characters `crate::text` calls unsafe for a terminal (C1
//! controls, DEL, bidi overrides, zero-width characters) are written as `\uXXXX` escapes, as
//! serde_json already does for C0 controls: `jq` reads the same string, and `cat report.json`
//! cannot reorder or recolour a terminal.

use crate::report::Report;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::io::{self, Write};

/// Streams the report to `w` (never the whole document in memory at once).
pub fn write(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    write_pretty(report, w)
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

/// A formatter that escapes what a terminal must not see raw, and otherwise writes as `F`.
struct Safe<F>(F);

impl<F: Formatter> Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Printable ASCII, almost every string of a report, is never unsafe.
        if fragment.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return w.write_all(fragment.as_bytes());
        }
        let mut rest = fragment;
        while let Some((at, c)) = rest
            .char_indices()
            .find(|&(_, c)| crate::text::is_unsafe(c))
        {
            w.write_all(&rest.as_bytes()[..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
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
