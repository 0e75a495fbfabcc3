//! stuckconn: find the process that leaks hung upstream TCP calls.
//!
//! Data flows one way: `collect` (live: sock_diag + procfs, or a recorded snapshot) ->
//! [`snapshot::Snapshot`] -> `analyze` (pure: classify, group) -> [`report::Report`] ->
//! enrich (`resolve`: reverse DNS) -> `render` (table, json).

pub mod analyze;
pub mod capture;
pub mod cli;
pub mod collect;
pub mod deadline;
pub mod enrich;
pub mod error;
pub mod messages;
pub mod output;
pub mod redact;
pub mod render;
pub mod report;
pub mod resolve;
pub mod run;
pub mod snapshot;
pub mod text;
