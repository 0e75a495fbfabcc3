//! Unit tests of the text and SVG charts.

use super::*;
use crate::analyze::history::reconstruct_idle;

fn history(idle: &[f64]) -> History {
    reconstruct_idle(
        idle.iter().map(|&s| Some(s)),
        "2012-11-06T17:15:11Z".parse().unwrap(),
        60.0,
        crate::analyze::history::BUCKETS,
    )
    .unwrap()
}

#[test]
fn sparkline_rounds_to_the_nearest_step() {
    assert_eq!(sparkline(&[0, 1, 50, 100]), "▁▂▅█");
    assert_eq!(sparkline(&[0, 0]), "▁▁");
    assert_eq!(sparkline(&[]), "");
}

#[test]
fn rebucket_keeps_every_count() {
    let counts: Vec<usize> = (0..48).collect();
    let merged = rebucket(&counts, 10);
    assert_eq!(merged.len(), 10);
    assert_eq!(merged.iter().sum::<usize>(), counts.iter().sum::<usize>());
    assert_eq!(rebucket(&[1, 2, 3], 10), vec![1, 2, 3]);
    assert_eq!(rebucket(&[1, 2, 3], 0), vec![6]);
    assert_eq!(running_total(&[1, 0, 2]), vec![1, 1, 3]);
}

#[test]
fn a_leak_reads_as_a_rising_line_with_its_times() {
    // The incident: 111 connections quiet 5 min to 5 h 12 min, evenly spread.
    let idle: Vec<f64> = (0..111)
        .map(|i| 300.0 + (18_720.0 - 300.0) * f64::from(i) / 110.0)
        .collect();
    let h = history(&idle);
    let chart = timeline_chart(&h, 8);
    assert_eq!(chart, "▂▃▄▅▅▆▇█ 12:03 → 17:15");
    let line = timeline_line(&h, Some(120));
    assert!(
        line.starts_with("leak since 12:03: 21/h overall, 20 in the last hour  "),
        "{line}"
    );
    assert!(line.ends_with(" 12:03 → 17:15"), "{line}");
    assert!(line.chars().count() <= 120, "{line}");
    // Not on a terminal: a chart of the default width.
    let line = timeline_line(&h, None);
    let chart = line.split("  ").nth(1).unwrap();
    assert_eq!(
        chart.split(' ').next().unwrap().chars().count(),
        DEFAULT_WIDTH
    );
    // A narrow terminal still gets a chart.
    let line = timeline_line(&h, Some(40));
    let chart = line.split("  ").nth(1).unwrap();
    assert_eq!(chart.split(' ').next().unwrap().chars().count(), MIN_WIDTH);
}

#[test]
fn an_event_and_a_steady_pool_say_so() {
    let burst: Vec<f64> = (0..100).map(|k| 7200.0 + f64::from(k) * 0.03).collect();
    let h = history(&burst);
    assert_eq!(
        words(&h),
        "event at 15:15:08, not a leak: all 100 went quiet within 3s (a network cut, a deploy?)"
    );
    assert!(timeline_chart(&h, 8).starts_with("████████"), "all at once");
    let pool: Vec<f64> = (0..30).map(|k| 18_000.0 - f64::from(k) * 40.0).collect();
    assert_eq!(
        words(&history(&pool)),
        "steady since 12:15: 30 went quiet by 12:34, none since"
    );
    assert_eq!(
        words(&history(&[600.0])),
        "one connection, quiet since 17:05:11"
    );
}

#[test]
fn times_carry_the_date_when_it_differs() {
    let end: Timestamp = "2012-11-06T17:15:11Z".parse().unwrap();
    assert_eq!(
        time_label("2012-11-06T12:03:11Z".parse().unwrap(), end),
        "12:03"
    );
    assert_eq!(
        time_label("2012-11-05T23:59:00Z".parse().unwrap(), end),
        "11-05 23:59"
    );
    assert_eq!(
        time_label("2011-12-31T23:59:00Z".parse().unwrap(), end),
        "2011-12-31 23:59"
    );
}

#[test]
fn the_svg_draws_the_stuck_count_and_the_bars() {
    let idle: Vec<f64> = (1..=72).map(|k| f64::from(k) * 300.0).collect();
    let h = history(&idle);
    let svg = history_svg(&h, "hung call <to> \u{202e}x", h.onset);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"history\""));
    assert!(svg.ends_with("</svg>"));
    assert_eq!(svg.matches("<path class=\"stuck\"").count(), 1);
    // One bar per bucket (each with its tooltip), and the legend's swatch.
    assert_eq!(svg.matches("</title></rect>").count(), 48);
    assert_eq!(svg.matches("<rect class=\"new\"").count(), 49);
    assert!(
        svg.contains(">72</text>") && svg.contains(">36</text>"),
        "the y axis reaches 72, its middle line at 36: {svg}"
    );
    assert!(svg.contains("hung call &lt;to&gt; \\u{202e}x"));
    assert!(!svg.contains('\u{202e}'));
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    // On an axis that starts earlier, the line starts flat at 0 and the first bar moves
    // right.
    let earlier = h
        .onset
        .checked_sub(jiff::SignedDuration::from_hours(6))
        .unwrap();
    let shared = history_svg(&h, "x", earlier);
    assert!(
        shared.contains("<path class=\"stuck\" d=\"M48.0,160.0 L376.0,160.0 "),
        "{shared}"
    );
}

#[test]
fn the_series_svg_joins_the_past_to_the_samples() {
    let t = |s: &str| -> Timestamp { s.parse().unwrap() };
    let past = [
        (t("2012-11-06T12:00:00Z"), 1),
        (t("2012-11-06T15:00:00Z"), 40),
    ];
    let samples = [
        (t("2012-11-06T17:00:00Z"), 90),
        (t("2012-11-06T17:01:00Z"), 91),
    ];
    let svg = series_svg(&past, &samples, "growth");
    assert_eq!(svg.matches("<polyline class=\"past\"").count(), 1);
    assert_eq!(svg.matches("<polyline class=\"watched\"").count(), 1);
    assert!(svg.contains("before watching (reconstructed)"));
    let svg = series_svg(&[], &samples[..1], "one sample");
    assert!(svg.contains("<circle"));
    assert!(!svg.contains("class=\"past\""));
    assert_eq!(series_svg(&[], &[], "nothing"), "");
    assert_eq!(axis_top(0), 2);
    assert_eq!(axis_top(7), 8);
    assert_eq!(axis_top(72), 72);
    assert_eq!(axis_top(111), 120);
    assert_eq!(axis_top(1234), 1400);
    assert!(axis_top(usize::MAX) >= usize::MAX / 2);
}
