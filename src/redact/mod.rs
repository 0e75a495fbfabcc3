//! Secrets in command lines: `mysql -pSECRET`, `--password=...`, `token=...`,
//! `https://user:pass@host`, `Authorization: Bearer ...`. Replaced by `***` before anything
//! is shown or recorded (unless `--no-redact`).
//!
//! [`FORMS`] lists every form that is masked, with an example. Arguments that are command lines
//! themselves (the string after `sh -c`, `su -c`, `env -S`, and any argument with whitespace in
//! it, such as ssh's remote command) are split into words as a shell would (quotes, escapes,
//! `;`, `&&`, `||`, `|`, `&`, newlines, parentheses, backquotes), each command in them is
//! redacted like a command line of its own, and the string is put back together with every byte
//! that is not a secret kept as it was. Commands run by `sudo`, `env`, `nice`, `timeout`,
//! `xargs`... ([`RUNNERS`]) are redacted as command lines of their own too, so that `-p` is
//! judged by the program it is given to. Shell strings in shell strings are followed
//! [`MAX_DEPTH`] levels deep.

pub(crate) const MASK: &str = "***";

/// How deep shell strings nest (`bash -c "sudo sh -c '...'"`) before a deeper one is only
/// scanned as one word.
pub(crate) const MAX_DEPTH: usize = 8;

mod commands;
mod edits;
mod forms;
mod shell;
mod words;

use commands::*;
use edits::*;
pub(crate) use forms::*;
use shell::*;
use words::*;

/// How many times a command line is redacted at most, until a pass changes nothing.
const PASSES: usize = 4;

/// One pass over a command line.
fn redact_once(args: &[String]) -> Vec<String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let edits = scan_command(&words, 0, false);
    words
        .iter()
        .zip(edits)
        .map(|(word, edits)| apply(word, edits))
        .collect()
}

/// Masks the secrets of a command line given as its arguments.
///
/// One pass finds every form; passes are repeated until one changes nothing, because masking
/// can change how an argument reads (a quoted secret with blanks in it made an argument a
/// command line, and the masked argument has no blanks left), and redacting twice must change
/// nothing.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = redact_once(args);
    if out.as_slice() == args {
        return out;
    }
    for _ in 1..PASSES {
        let next = redact_once(&out);
        if next == out {
            break;
        }
        out = next;
    }
    out
}

/// Masks the secrets of a command line given as one string (arguments separated by spaces).
pub fn redact(cmdline: &str) -> String {
    let args: Vec<String> = cmdline.split(' ').map(str::to_string).collect();
    redact_args(&args).join(" ")
}

#[cfg(test)]
mod form_properties;
#[cfg(test)]
mod tests;
