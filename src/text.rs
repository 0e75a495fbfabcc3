//! The one sanitizer for text chosen by others (process names, command lines, PTR records,
//! namespace and container names, anything read from a snapshot): every terminal, text-format
//! and error path shows outside text through [`sanitize`]; JSON escapes the same characters
//! (`render::json`), HTML escapes its own on top.

use serde_json::ser::Formatter;
use std::borrow::Cow;
use std::fmt::Write;
use std::io;

/// Whether a character would change what the terminal shows beyond itself: control characters
/// (C0, DEL, C1), bidirectional overrides and isolates, zero-width and other invisible ones.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
}

/// Escapes what `is_unsafe` names: `\n`, `\t`, `\r` as such, other bytes below U+0100 as
/// `\xNN`, the rest as `\u{NNNN}`. Text with nothing to escape is borrowed unchanged.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `1 process`, `2 processes`: a number and the noun that agrees with it.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The sanitizer for JSON: a serde_json formatter that escapes what a terminal must not see
/// raw (as `\\uXXXX`), and otherwise writes as `F` (pretty or compact).
pub(crate) struct JsonSafe<F>(pub(crate) F);

impl<F: Formatter> Formatter for JsonSafe<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Printable ASCII, almost every string of a report, is never unsafe.
        if fragment.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return w.write_all(fragment.as_bytes());
        }
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_unsafe(c)) {
            w.write_all(&rest.as_bytes()[..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(sanitize("apache2 -k start"), "apache2 -k start");
    }

    #[test]
    fn escape_sequences_and_newlines_are_escaped() {
        assert_eq!(sanitize("\x1b[2Jevil\n"), "\\x1b[2Jevil\\n");
        assert_eq!(sanitize("a\u{9b}b\x7f"), "a\\x9bb\\x7f");
    }

    #[test]
    fn bidi_and_zero_width_are_escaped() {
        assert_eq!(sanitize("gpj.\u{202E}exe"), "gpj.\\u{202e}exe");
        assert_eq!(sanitize("a\u{200B}b"), "a\\u{200b}b");
    }

    #[test]
    fn nothing_unsafe_survives() {
        let hostile: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let safe = sanitize(&hostile);
        assert!(!safe.chars().any(|c| c.is_control()));
    }
}
