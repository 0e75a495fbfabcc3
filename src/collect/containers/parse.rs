//! What every parser of the runtimes' files shares: names checked against their limits, JSON
//! objects, paths that cannot climb out of where they point. Parsers are pure functions of the
//! bytes read.

use serde_json::{Map, Value};
use std::path::{Component, Path};

/// A name kept exact, unless empty or longer than `max` characters (then refused, noted).
pub(super) fn checked(text: Option<&str>, max: usize, notes: &mut Vec<String>) -> Option<String> {
    let text = text.filter(|t| !t.is_empty())?;
    let chars = text.chars().count();
    if chars > max {
        notes.push(format!(
            "a name of {chars} characters was ignored (more than {max})"
        ));
        return None;
    }
    Some(text.to_string())
}

pub(super) fn str_of<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

pub(super) fn parse_json_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("not a JSON object".to_string()),
        Err(err) => Err(format!("not valid JSON ({err})")),
    }
}

/// Absolute, and no `..` to climb out of where it points.
pub(super) fn is_clean_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path.as_os_str().len() <= 4096
        && path
            .components()
            .all(|c| !matches!(c, Component::ParentDir))
}
