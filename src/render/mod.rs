//! One module per output format. Each takes a `Report` and returns the text to print.

pub mod chart;
pub mod html;
pub mod json;
pub mod nagios;
pub mod ndjson;
pub mod prometheus;
pub mod table;
pub mod watch;

pub use crate::text::sanitize;

/// How the table looks: decided once, from the terminal and the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Terminal width to fit the table in; `None` when not writing to a terminal.
    pub width: Option<u16>,
}
