//! `watch --format ndjson`: one JSON object per line: a `sample` per interval, `opened`,
//! `closed` and `leak` events, and a `summary` when watching ends. Every line carries
//! `schema_version`, `type` and `time`; the fields are those of the scan report.
//!
//! The first sample is the baseline: the stuck connections it finds give no `opened` event
//! and are counted in each group's `baseline`, not in `opened`; rates count from the second
//! sample on.

use crate::analyze::track::{Event, GroupSample};
use crate::report::{Summary, SCHEMA_VERSION};
use serde::Serialize;
use serde_json::{json, Value};

fn line(kind: &str, time: &str, mut body: Value) -> String {
    let mut object = serde_json::Map::new();
    object.insert("schema_version".into(), json!(SCHEMA_VERSION));
    object.insert("type".into(), json!(kind));
    object.insert("time".into(), json!(time));
    if let Value::Object(fields) = body.take() {
        for (k, v) in fields {
            if k != "type" {
                object.insert(k, v);
            }
        }
    }
    // Terminal-safe like the JSON report: the same strings, unsafe characters as \uXXXX.
    let mut text = super::json::to_line(&Value::Object(object));
    text.push('\n');
    text
}

fn value(data: &impl Serialize) -> Value {
    serde_json::to_value(data).expect("plain data serializes")
}

/// One line per event.
pub fn events(events: &[Event], time: &str) -> String {
    events
        .iter()
        .map(|event| {
            let kind = match event {
                Event::Opened { .. } => "opened",
                Event::Closed { .. } => "closed",
                Event::Leak(_) => "leak",
            };
            line(kind, time, value(event))
        })
        .collect()
}

/// The `sample` line of one interval.
pub fn sample(
    number: usize,
    time: &str,
    summary: &Summary,
    groups: &[GroupSample],
    warnings: &[crate::report::Warning],
) -> String {
    line(
        "sample",
        time,
        json!({"sample": number, "summary": value(summary), "groups": value(&groups), "warnings": warnings}),
    )
}

/// The last line: what watching saw, and why it ended.
pub fn summary(samples: usize, time: &str, groups: &[GroupSample], ended_by: &str) -> String {
    line(
        "summary",
        time,
        json!({"samples": samples, "ended_by": ended_by, "groups": value(&groups)}),
    )
}
