//! A finding's history, reconstructed from one scan (`analyze::history` computes it): when
//! its connections went quiet, how fast, and in what shape.

use jiff::Timestamp;
use serde::Serialize;

/// `accelerating`: the last hour's rate is at least this many times the overall rate ...
pub const ACCELERATING_RATIO: f64 = 1.5;
/// ... over a span of at least this many seconds (two hours: one hour against the rest).
pub const ACCELERATING_MIN_SPAN_SECS: f64 = 7200.0;

/// What the onsets look like.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Spread over time and still coming: a leak.
    Leak,
    /// All at one moment: something cut them at once.
    Event,
    /// Spread over time, then no more (or too few to call a leak).
    Steady,
}

impl Shape {
    pub fn label(self) -> &'static str {
        match self {
            Shape::Leak => "leak",
            Shape::Event => "event",
            Shape::Steady => "steady",
        }
    }
}

/// One stretch of the timeline.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Bucket {
    /// When the bucket begins (RFC 3339); it lasts `bucket_secs`.
    pub start: Timestamp,
    /// Connections that went quiet in this bucket.
    pub count: usize,
    /// Connections quiet by the end of this bucket: the running total of `count`, the stuck
    /// count a graph of the past would have shown (without those that closed since).
    pub stuck: usize,
}

/// A finding's reconstructed timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct History {
    /// When the first connection went quiet (to the second below): collection time minus the
    /// longest idle time.
    pub onset: Timestamp,
    /// When the last one went quiet (to the second below).
    pub latest: Timestamp,
    /// The collection time: the buckets cover `onset` to `end`.
    pub end: Timestamp,
    /// Seconds between `onset` and `latest`.
    pub spread_secs: f64,
    pub bucket_secs: u64,
    /// Every bucket from `onset` to `end` (the charts draw them all); the JSON lists only
    /// those in which a connection went quiet.
    #[serde(serialize_with = "nonempty_buckets")]
    pub buckets: Vec<Bucket>,
    /// Connections per hour from `onset` to `end`.
    pub rate_per_hour: f64,
    /// Connections that went quiet in the hour before `end` (all of them when the span is
    /// shorter than an hour). Connections quiet for less than `--min-idle` are not stuck yet,
    /// so the last minutes always count none.
    pub rate_per_hour_last_hour: f64,
    pub shape: Shape,
    /// Connections on the timeline (with a known idle time).
    pub connections: usize,
    /// Connections left out: no idle time, or one no kernel could report.
    pub unknown: usize,
}

impl History {
    /// Seconds from `onset` to `end`.
    pub fn span_secs(&self) -> f64 {
        self.end.duration_since(self.onset).as_secs_f64()
    }

    /// The new connections per bucket.
    pub fn counts(&self) -> Vec<usize> {
        self.buckets.iter().map(|b| b.count).collect()
    }

    /// A leak whose last hour runs clearly faster than its average, over at least two hours.
    pub fn accelerating(&self) -> bool {
        self.shape == Shape::Leak
            && self.span_secs() >= ACCELERATING_MIN_SPAN_SECS
            && self.rate_per_hour_last_hour >= ACCELERATING_RATIO * self.rate_per_hour
    }
}

/// The buckets in which something happened: a report of 200 findings stays small.
fn nonempty_buckets<S: serde::Serializer>(
    buckets: &[Bucket],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(buckets.iter().filter(|b| b.count > 0))
}
