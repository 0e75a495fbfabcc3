//! Growth: the slope of a group's stuck count, the leak verdict, and a group as a sample.

use super::{Group, GroupKey, GroupSample, LEAK_MIN_GROWTH};
use std::collections::VecDeque;

/// Least-squares slope of (t, y), per second.
fn slope(points: &[(f64, usize)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let num: f64 = points
        .iter()
        .map(|p| (p.0 - mean_t) * (p.1 as f64 - mean_y))
        .sum();
    let den: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// The stuck count keeps growing: the latest count is at least LEAK_MIN_GROWTH above every
/// count of the first half of the history, and the second half still slopes upward. A pool
/// that opens and closes at a steady rate stays flat, even when it filled up during the
/// first samples and one sample catches it with one more open than usual.
pub(super) fn is_leak(history: &VecDeque<(f64, usize)>) -> bool {
    let points: Vec<(f64, usize)> = history.iter().copied().collect();
    if points.len() < 3 {
        return false;
    }
    let last = points[points.len() - 1].1;
    let mid = points.len() / 2;
    let before = points[..mid].iter().map(|p| p.1).max().unwrap_or(0);
    last >= before + LEAK_MIN_GROWTH && slope(&points[mid..]) > 0.0
}

/// `first`: the first sample, which carries the reconstructed past in full.
pub(super) fn sample_of(key: &GroupKey, group: &Group, elapsed: f64, first: bool) -> GroupSample {
    let minutes = (elapsed / 60.0).max(f64::EPSILON);
    let points: Vec<(f64, usize)> = group.history.iter().copied().collect();
    let per_min = |n: usize| {
        if elapsed > 0.0 {
            n as f64 / minutes
        } else {
            0.0
        }
    };
    GroupSample {
        kind: key.finding.kind,
        process: key.process.clone(),
        netns: key.finding.netns,
        netns_label: group.netns_label.clone(),
        pids: group.pids.iter().copied().collect(),
        direction: key.finding.direction(),
        remote: group.remote.clone(),
        local: group.local,
        clients: group.clients.clone(),
        connections: points.last().map_or(0, |p| p.1),
        baseline: group.baseline,
        opened: group.opened,
        closed: group.closed,
        opened_per_min: per_min(group.opened),
        closed_per_min: per_min(group.closed),
        growth_per_min: slope(&points) * 60.0,
        oldest_idle_secs: group.oldest_idle_secs,
        onset: group.onset.map(crate::report::floor_seconds),
        leak: group.leak,
        history: points.iter().map(|p| p.1).collect(),
        past: group.past.clone().filter(|_| first),
        past_counts: group
            .past
            .as_ref()
            .map(|h| h.buckets.iter().map(|b| b.stuck).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(counts: &[usize]) -> VecDeque<(f64, usize)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (i as f64 * 0.5, c))
            .collect()
    }

    #[test]
    fn growing_is_a_leak_steady_is_not() {
        assert!(is_leak(&history(&[0, 2, 5, 7, 10, 12, 15, 15])));
        assert!(
            !is_leak(&history(&[0, 1, 2, 3, 3, 3, 3, 3, 3])),
            "a pool that filled up"
        );
        assert!(!is_leak(&history(&[3, 3, 2, 3, 3, 2, 3])));
        assert!(
            !is_leak(&history(&[
                1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4
            ])),
            "a pool that filled up, caught with one more open at the last sample"
        );
        assert!(
            is_leak(&history(&[1, 3, 3, 3, 3, 3, 4, 5, 6, 7])),
            "a pool that began to leak"
        );
        assert!(!is_leak(&history(&[0, 5])), "too few samples");
        assert!(!is_leak(&history(&[10, 8, 6, 4, 2])));
    }

    #[test]
    fn slope_per_second() {
        let points = [(0.0, 0), (1.0, 2), (2.0, 4)];
        assert!((slope(&points) - 2.0).abs() < 1e-9);
        assert_eq!(slope(&[(0.0, 3)]), 0.0);
    }
}
