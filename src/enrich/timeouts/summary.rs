//! A finding's verdict from its connections' verdicts.

use super::rules::dur;
use crate::report::{ConnectionTimeouts, TimeoutVerdict as Verdict, Timeouts};

/// The verdict of a finding from its connections' verdicts: the verdict most of them share
/// (ties: the graver one, `never` before `unknown` before `kernel` before `deadline`); its
/// values are those of that group's longest-waiting connection (the first given, when the
/// caller passes them oldest first), and `ends_in_secs` is when the last of the group ends.
/// When the connections disagree, the explanation says how many are judged otherwise.
pub fn summarize(connections: &[&ConnectionTimeouts]) -> Option<Timeouts> {
    let mut counts: Vec<(Verdict, usize)> = Vec::new();
    for c in connections {
        match counts.iter_mut().find(|(v, _)| *v == c.verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.verdict, 1)),
        }
    }
    let &(verdict, n) = counts.iter().max_by_key(|(v, n)| (*n, *v))?;
    let group: Vec<&ConnectionTimeouts> = connections
        .iter()
        .copied()
        .filter(|c| c.verdict == verdict)
        .collect();
    let first = group[0];
    let ends_in_secs = if group.iter().all(|c| c.ends_in_secs.is_some()) {
        group.iter().filter_map(|c| c.ends_in_secs).max()
    } else {
        None
    };
    let mut explanation = first.explanation.clone();
    if n < connections.len() {
        let others: Vec<String> = counts
            .iter()
            .filter(|(v, _)| *v != verdict)
            .map(|(v, n)| format!("{n} {}", verdict_words(*v)))
            .collect();
        explanation = format!(
            "{explanation} ({n} of {} connections; {})",
            connections.len(),
            others.join(", ")
        );
    }
    let phrase = match (verdict, ends_in_secs, group.len() > 1) {
        // The group ends when its last connection does.
        (Verdict::Deadline | Verdict::Kernel, Some(s), true) => {
            let head = first.phrase.split(", ends in").next().unwrap_or_default();
            format!("{head}, ends in {}", dur(s * 1000))
        }
        _ => first.phrase.clone(),
    };
    Some(Timeouts {
        ends_in_secs,
        explanation,
        phrase,
        ..first.judged.clone()
    })
}

fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Never => "never end",
        Verdict::Deadline => "end at a deadline",
        Verdict::Kernel => "are ended by the kernel",
        Verdict::Unknown => "cannot be judged",
    }
}
