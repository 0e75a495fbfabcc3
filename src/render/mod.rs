//! One module per output format. Each is a function of a finished `Report` (or, for
//! `watch` and `ndjson`, of watch's groups and events) that returns the text to print, or
//! streams it (`json`). Text chosen by others goes through `crate::text` in every format
//! but JSON, which escapes the same characters itself.

pub mod abort;
pub mod chart;
pub mod html;
pub mod json;
pub mod nagios;
pub mod ndjson;
pub mod prometheus;
pub mod table;
pub mod timings;
pub mod watch;

pub use crate::text::sanitize;

/// How the table looks: decided once, from the terminal and the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Terminal width to fit the table in; `None` when not writing to a terminal.
    pub width: Option<u16>,
}
