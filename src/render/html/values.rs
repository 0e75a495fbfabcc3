//! Fields of the report this page has no place of its own for (the chain of waits, timeouts,
//! costs, hints ... that other parts of stuckconn add): shown as they are, under a title.

use super::escape;
use super::page::definitions;
use serde_json::Value;
use std::fmt::Write;

/// Titles of the fields other parts of stuckconn add to findings.
const TITLES: [(&str, &str); 6] = [
    ("role", "Role"),
    ("waits_on", "Waits on (chain of waits)"),
    ("blocks", "Blocks"),
    ("timeouts", "Timeouts"),
    ("impact", "What it costs"),
    ("hints", "What to fix"),
];

/// A field's title: its own, or its key in words.
pub(super) fn title_of(key: &str) -> String {
    TITLES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| key.replace('_', " "), |(_, t)| t.to_string())
}

/// Nothing worth a line: null, or an empty list, object or string.
pub(super) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Any JSON value as HTML (lists, definition lists), bounded in depth and length.
pub(super) fn value_html(v: &Value, depth: usize) -> String {
    const MAX_ITEMS: usize = 100;
    if depth > 6 {
        return "…".to_string();
    }
    match v {
        Value::Null => "-".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => escape(&n.to_string()),
        Value::String(s) => escape(s),
        Value::Array(items) => {
            let mut s = "<ul>".to_string();
            for item in items.iter().take(MAX_ITEMS) {
                let _ = write!(s, "<li>{}</li>", value_html(item, depth + 1));
            }
            if items.len() > MAX_ITEMS {
                let _ = write!(s, "<li>… {} more</li>", items.len() - MAX_ITEMS);
            }
            s.push_str("</ul>");
            s
        }
        Value::Object(fields) => definitions(
            fields
                .iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| (escape(&k.replace('_', " ")), value_html(v, depth + 1))),
        ),
    }
}
