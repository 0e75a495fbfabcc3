//! The one sanitizer for text chosen by others (process names, command lines, PTR records,
//! namespace and container names, anything read from a snapshot): every terminal, text-format
//! and error path shows outside text through [`sanitize`]; JSON escapes the same characters
//! (`render::json`), HTML escapes its own on top.

use std::borrow::Cow;
use std::fmt::Write;

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
