//! The JSON report: the `Report` serialized, one document, pretty-printed.

use crate::report::Report;

pub fn render(report: &Report) -> String {
    // Serializing plain data with string keys cannot fail.
    let mut text = serde_json::to_string_pretty(report).expect("report serializes");
    text.push('\n');
    text
}
