//! Lines for people on standard error: errors, warnings, notes. Every one goes through the
//! sanitizer (a message may quote a process name, a path or a snapshot's text), and a failed
//! write to standard error (a closed pipe, a full disk) is ignored: it never ends the command.

use crate::text::sanitize;
use std::io::Write;

fn line(prefix: &str, text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "stuckconn: {prefix}{}", sanitize(text));
}

/// `stuckconn: error: ...`
pub fn error(text: &str) {
    line("error: ", text);
}

/// `stuckconn: warning: ...`
pub fn warning(text: &str) {
    line("warning: ", text);
}

/// `stuckconn: ...` (what was done: a file written, say).
pub fn note(text: &str) {
    line("", text);
}
