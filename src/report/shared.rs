//! Values that many connection rows share: their namespace and their verdict on timeouts (one
//! `Arc` each, not a copy per row). While a report is written as JSON (`written_once`), each
//! such value is written out once, at the depth of a row's field, and copied into every row
//! that shares it: 10,000 rows of one leak write one namespace and one verdict, not 10,000
//! (the same bytes as writing each: `render::json`'s tests compare both).

use crate::text::JsonSafe;
use serde::{Serialize, Serializer};
use serde_json::ser::PrettyFormatter;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A row's fields are at depth 3 of the report (report, `connections`, the row): a value's
/// lines after its first are indented by three levels of two spaces.
const ROW_FIELD_INDENT: &str = "      ";

thread_local! {
    /// While `written_once` runs: each shared value's text, by its address (stable while the
    /// report is borrowed for writing).
    static WRITTEN: RefCell<Option<HashMap<usize, Box<RawValue>>>> = const { RefCell::new(None) };
}

/// Runs `write` (a report written pretty, from its start) with each shared value written once.
pub(crate) fn written_once<R>(write: impl FnOnce() -> R) -> R {
    WRITTEN.with(|w| *w.borrow_mut() = Some(HashMap::new()));
    let written = write();
    WRITTEN.with(|w| *w.borrow_mut() = None);
    written
}

/// `serialize_with` of a connection row's shared field: the value's text as written the first
/// time, inside `written_once`; the value itself anywhere else.
pub(crate) fn serialize<T: Serialize, S: Serializer>(
    value: &Option<Arc<T>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let Some(value) = value else {
        return serializer.serialize_none();
    };
    let key = Arc::as_ptr(value).cast::<()>() as usize;
    let active = WRITTEN.with(|w| w.borrow().as_ref().map(|m| m.contains_key(&key)));
    if active == Some(false) {
        if let Some(text) = text_at_row_depth(&**value) {
            WRITTEN.with(|w| {
                if let Some(m) = w.borrow_mut().as_mut() {
                    m.insert(key, text);
                }
            });
        }
    }
    WRITTEN.with(|w| match w.borrow().as_ref().and_then(|m| m.get(&key)) {
        Some(text) => text.serialize(serializer),
        None => value.serialize(serializer),
    })
}

/// The pretty, sanitized text of `value` as a row's field has it.
fn text_at_row_depth<T: Serialize>(value: &T) -> Option<Box<RawValue>> {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, JsonSafe(PrettyFormatter::new()));
    value.serialize(&mut ser).ok()?;
    let text = String::from_utf8(out).ok()?;
    RawValue::from_string(text.replace('\n', &format!("\n{ROW_FIELD_INDENT}"))).ok()
}
