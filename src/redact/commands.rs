//! Commands: their program, options and arguments, the commands they run (shells, runners).

use super::*;
use std::ops::Range;

/// Redacts the arguments `words[i]` (`i` in `indices`, in order) of `program`.
pub(super) fn scan_args(
    program: &str,
    words: &[&str],
    indices: impl Iterator<Item = usize>,
    depth: usize,
    edits: &mut [Vec<Edit>],
) {
    let mut pending = None;
    for i in indices {
        let word = words[i];
        let (found, next) = if let Some(p) = pending.take() {
            pending_edits(p, word)
        } else if let Some(found) = program_option(program, word) {
            found
        } else if secret_option(word) {
            (Vec::new(), Some(Pending::Whole))
        } else {
            word_edits(word, depth)
        };
        edits[i] = found;
        pending = next;
    }
}

/// The edits of each word of one command: programs to run (after `NAME=VALUE` assignments if
/// `assignments`), then its arguments.
pub(super) fn scan_command(words: &[&str], depth: usize, assignments: bool) -> Vec<Vec<Edit>> {
    let mut edits = vec![Vec::new(); words.len()];
    let mut i = 0;
    if assignments {
        while i < words.len() && is_assignment(words[i]) {
            edits[i] = word_edits(words[i], depth).0;
            i += 1;
        }
    }
    if i < words.len() {
        command(words, i, depth, &mut edits);
    }
    edits
}

/// Redacts `words[at..]`, a program and its arguments.
pub(super) fn command(words: &[&str], mut at: usize, depth: usize, edits: &mut [Vec<Edit>]) {
    // A runner's command is taken in turn, in this loop: `nice nohup sudo mysql -pX`.
    loop {
        // Judged on the redacted program name, so that redacting twice changes nothing.
        let mut own = parameters(words[at]);
        own.extend(url_userinfo(words[at]));
        if depth < MAX_DEPTH && words[at].contains([' ', '\t', '\n']) {
            // A process that wrote its command line over its argv[0] (`setproctitle`).
            own.extend(shell_edits(words[at], depth));
        }
        let name = apply(words[at], own.clone());
        edits[at] = own;
        let program = program_name(&name);
        let args = at + 1..words.len();
        if SHELLS.contains(&program) && depth < MAX_DEPTH {
            shell(program, words, args, depth, edits);
        } else if let Some(runner) = RUNNERS.iter().find(|r| r.names.contains(&program)) {
            if let Some(next) = run(runner, program, words, args, depth, edits) {
                at = next;
                continue;
            }
        } else {
            scan_args(program, words, args, depth, edits);
        }
        return;
    }
}

/// `bash [options] -c STRING [NAME [ARGS...]]`: the first operand after `-c` is a command line.
pub(super) fn shell(
    program: &str,
    words: &[&str],
    args: Range<usize>,
    depth: usize,
    edits: &mut [Vec<Edit>],
) {
    let mut j = args.start;
    let mut command_string = false;
    while j < args.end {
        let word = words[j];
        if word == "--" || word == "-" {
            j += 1;
            break;
        }
        if word.len() < 2 || !(word.starts_with('-') || word.starts_with('+')) {
            break;
        }
        if word.starts_with("--") {
            j += if matches!(word, "--rcfile" | "--init-file") {
                2
            } else {
                1
            };
            continue;
        }
        // A cluster of one-letter options (`-ec`, `+x`), or not an option.
        let letters = &word[1..];
        if !letters.chars().all(|c| c.is_ascii_alphabetic()) {
            break;
        }
        if word.starts_with('-') && letters.contains('c') {
            command_string = true;
        }
        // `-o pipefail`, `-O extglob`
        j += if word.ends_with(['o', 'O']) { 2 } else { 1 };
    }
    let j = j.min(args.end);
    scan_args(program, words, args.start..j, depth, edits);
    if command_string && j < args.end {
        edits[j] = shell_edits(words[j], depth);
        scan_args(program, words, j + 1..args.end, depth, edits);
    } else {
        scan_args(program, words, j..args.end, depth, edits);
    }
}

/// Where the value of a command option is: the next word, or in this one from a byte offset.
pub(super) fn command_option(runner: &Runner, word: &str) -> Option<Option<usize>> {
    for option in runner.command_options {
        if word == *option {
            return Some(None);
        }
        if option.starts_with("--") {
            if word
                .strip_prefix(option)
                .is_some_and(|v| v.starts_with('='))
            {
                return Some(Some(option.len() + 1));
            }
            continue;
        }
        // `-c CMD`, `-lc CMD`, `-cCMD`
        let letter = option.chars().nth(1)?;
        if word.starts_with('-') && !word.starts_with("--") {
            if let Some(p) = word[1..].find(letter).map(|p| p + 1) {
                if word[1..p].chars().all(|c| c.is_ascii_alphabetic()) {
                    let value = p + letter.len_utf8();
                    return Some((value < word.len()).then_some(value));
                }
            }
        }
    }
    None
}

/// A runner and its options; where the command it runs starts, if it runs one.
pub(super) fn run(
    runner: &Runner,
    program: &str,
    words: &[&str],
    args: Range<usize>,
    depth: usize,
    edits: &mut [Vec<Edit>],
) -> Option<usize> {
    let mut j = args.start;
    let mut strings: Vec<(usize, usize)> = Vec::new();
    let mut operands = 0;
    let mut command = None;
    while j < args.end {
        let word = words[j];
        if word == "--" {
            command = Some(j + 1);
            break;
        }
        if word.len() > 1 && word.starts_with('-') {
            match command_option(runner, word) {
                Some(Some(offset)) => strings.push((j, offset)),
                Some(None) => {
                    if j + 1 < args.end {
                        strings.push((j + 1, 0));
                    }
                    j += 1;
                }
                None if runner.valued.contains(&word) => j += 1,
                None => {}
            }
            j += 1;
            continue;
        }
        if runner.assignments && is_assignment(word) {
            j += 1;
            continue;
        }
        if operands < runner.operands || !runner.runs_command {
            operands += 1;
            j += 1;
            continue;
        }
        command = Some(j);
        break;
    }
    let end = command.unwrap_or(args.end).min(args.end);
    let mut is_string = vec![false; end.saturating_sub(args.start)];
    for &(i, _) in &strings {
        if let Some(flag) = is_string.get_mut(i - args.start) {
            *flag = true;
        }
    }
    let own = (args.start..end).filter(|i| !is_string[i - args.start]);
    scan_args(program, words, own, depth, edits);
    for (i, offset) in strings {
        edits[i] = shifted(shell_edits(&words[i][offset..], depth), offset);
    }
    (end < args.end).then_some(end)
}
