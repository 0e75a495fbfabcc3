//! stuckconn: find the process that leaks hung upstream TCP calls.
//!
//! Data flows one way: `collect` (live: sock_diag + procfs, or a recorded snapshot) ->
//! [`snapshot::Snapshot`] -> `analyze` (pure: classify, group) -> [`report::Report`] ->
//! `enrich` (names, wire verdicts, then `finish` writes the words) -> `render` (table, json,
//! prometheus, nagios, ndjson, watch) -> `output`. `cmd` composes these steps into the
//! commands; ARCHITECTURE.md is the map.

pub mod abort;
pub mod analyze;
pub mod capture;
pub mod cli;
pub mod cmd;
pub mod collect;
pub mod deadline;
pub mod enrich;
pub mod error;
pub mod messages;
pub(crate) mod output;
pub(crate) mod procfile;
pub mod redact;
pub mod render;
pub mod report;
pub mod resolve;
pub(crate) mod seeded;
pub(crate) mod serve;
pub mod snapshot;
pub mod text;
pub(crate) mod timing;
