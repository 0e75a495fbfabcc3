//! Shell strings split into words as a shell would, and put back together.

use super::*;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Quote {
    #[default]
    None,
    Single,
    Double,
}

/// One character of a shell word: where it is in the word's value and in the raw string.
#[derive(Debug)]
pub(super) struct Char {
    pub(super) at: usize,
    pub(super) raw: Range<usize>,
    pub(super) quote: Quote,
}

/// A shell word: its value (quotes and escapes removed) and where each character came from.
#[derive(Debug, Default)]
pub(super) struct Word {
    pub(super) value: String,
    pub(super) chars: Vec<Char>,
    pub(super) quoted: bool,
}

impl Word {
    fn push(&mut self, c: char, raw: Range<usize>, quote: Quote) {
        self.chars.push(Char {
            at: self.value.len(),
            raw,
            quote,
        });
        self.value.push(c);
    }

    /// An edit of the value, as an edit of the raw string: quotes in the masked part are
    /// dropped, and the replacement ends in the quoting the rest of the word expects.
    fn raw_edit(&self, edit: &Edit) -> Option<Edit> {
        let first = self.chars.partition_point(|c| c.at < edit.range.start);
        let last = self.chars.partition_point(|c| c.at < edit.range.end);
        if first >= last {
            return None;
        }
        let (first, last) = (&self.chars[first], &self.chars[last - 1]);
        let mut with = quoted(&edit.with, first.quote);
        if first.quote != last.quote {
            with.push_str(match first.quote {
                Quote::None => "",
                Quote::Single => "'",
                Quote::Double => "\"",
            });
            with.push_str(match last.quote {
                Quote::None => "",
                Quote::Single => "'",
                Quote::Double => "\"",
            });
        }
        Some(Edit {
            range: first.raw.start..last.raw.end,
            with,
        })
    }
}

/// `text` written so that it reads as itself inside `quote`.
pub(super) fn quoted(text: &str, quote: Quote) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match quote {
            Quote::Single if c == '\'' => out.push_str("'\\''"),
            Quote::Double if matches!(c, '"' | '\\' | '$' | '`') => {
                out.push('\\');
                out.push(c);
            }
            Quote::None if " \t'\"\\$`;&|()<>".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The commands of a shell string, as words. Enough of the shell's syntax to find words and
/// where commands start: quotes, backslashes, and `;` `&` `|` `(` `)` `` ` `` and newlines
/// between commands.
pub(super) fn split_shell(s: &str) -> Vec<Vec<Word>> {
    let mut split = Splitter::default();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        match split.quote {
            Quote::Single if c == '\'' => split.quote = Quote::None,
            Quote::Single => split.push(c, i..end),
            Quote::Double => match c {
                '"' => split.quote = Quote::None,
                '\\' if chars
                    .peek()
                    .is_some_and(|&(_, n)| matches!(n, '$' | '`' | '"' | '\\' | '\n')) =>
                {
                    let (j, n) = chars.next().unwrap_or((i, c));
                    if n != '\n' {
                        split.push(n, i..j + n.len_utf8());
                    }
                }
                _ => split.push(c, i..end),
            },
            Quote::None => split.bare(c, i..end, &mut chars),
        }
    }
    split.end_command();
    split.commands
}

/// Where `split_shell` is: the commands so far, the current command and word, the quote.
#[derive(Default)]
struct Splitter {
    commands: Vec<Vec<Word>>,
    command: Vec<Word>,
    word: Option<Word>,
    quote: Quote,
}

impl Splitter {
    fn push(&mut self, c: char, at: Range<usize>) {
        let quote = self.quote;
        self.word
            .get_or_insert_with(Word::default)
            .push(c, at, quote);
    }

    fn end_word(&mut self) {
        self.command.extend(self.word.take());
    }

    fn end_command(&mut self) {
        self.end_word();
        if !self.command.is_empty() {
            self.commands.push(std::mem::take(&mut self.command));
        }
    }

    /// A character outside quotes.
    fn bare(
        &mut self,
        c: char,
        at: Range<usize>,
        chars: &mut std::iter::Peekable<std::str::CharIndices>,
    ) {
        match c {
            '\'' | '"' => {
                self.word.get_or_insert_with(Word::default).quoted = true;
                self.quote = if c == '\'' {
                    Quote::Single
                } else {
                    Quote::Double
                };
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((j, n)) => {
                    self.word.get_or_insert_with(Word::default).quoted = true;
                    self.push(n, at.start..j + n.len_utf8());
                }
                None => self.push(c, at),
            },
            ' ' | '\t' => self.end_word(),
            // `2>&1`, `>&2`, `&>file` are redirections, not `&` between commands.
            '&' if self.word.as_ref().is_some_and(|w| {
                w.chars.last().is_some_and(|l| l.quote == Quote::None)
                    && w.value.ends_with(['>', '<'])
            }) || chars.peek().is_some_and(|&(_, n)| n == '>') =>
            {
                self.push(c, at)
            }
            '\n' | ';' | '&' | '|' | '(' | ')' | '`' => self.end_command(),
            _ => self.push(c, at),
        }
    }
}

/// The edits of a shell string: each of its commands redacted as a command line.
pub(super) fn shell_edits(s: &str, depth: usize) -> Vec<Edit> {
    let mut edits = Vec::new();
    for command in split_shell(s) {
        let start = command
            .iter()
            .position(|w| w.quoted || !KEYWORDS.contains(&w.value.as_str()))
            .unwrap_or(command.len());
        let words = &command[start..];
        let values: Vec<&str> = words.iter().map(|w| w.value.as_str()).collect();
        let found = scan_command(&values, depth + 1, true);
        for (word, word_edits) in words.iter().zip(found) {
            edits.extend(word_edits.iter().filter_map(|e| word.raw_edit(e)));
        }
    }
    edits
}
