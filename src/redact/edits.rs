//! Replacements of parts of words, and how they are put together.

use super::*;
use std::ops::Range;

/// A replacement of part of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Edit {
    pub(super) range: Range<usize>,
    pub(super) with: String,
}

pub(super) fn mask(range: Range<usize>) -> Edit {
    Edit {
        range,
        with: MASK.to_string(),
    }
}

/// `range` masked, unless empty.
pub(super) fn mask_nonempty(range: Range<usize>) -> Vec<Edit> {
    if range.is_empty() {
        Vec::new()
    } else {
        vec![mask(range)]
    }
}

pub(super) fn shifted(edits: Vec<Edit>, by: usize) -> Vec<Edit> {
    edits
        .into_iter()
        .map(|e| Edit {
            range: e.range.start + by..e.range.end + by,
            with: e.with,
        })
        .collect()
}

/// `text` with its edits made (overlapping ones merged).
pub(super) fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    if edits.is_empty() {
        return text.to_string();
    }
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut merged: Vec<Edit> = Vec::with_capacity(edits.len());
    for edit in edits {
        match merged.last_mut() {
            Some(last)
                if edit.range.start < last.range.end
                    || (edit.range.start == last.range.end
                        && edit.with == MASK
                        && last.with == MASK) =>
            {
                if edit.range.end > last.range.end {
                    last.range.end = edit.range.end;
                    last.with = edit.with;
                }
            }
            _ => merged.push(edit),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for edit in merged {
        out.push_str(&text[at..edit.range.start]);
        out.push_str(&edit.with);
        at = edit.range.end;
    }
    out.push_str(&text[at..]);
    out
}
