//! `abort`'s plan and what became of it: which connections of a finished report are aborted
//! (pure: [`select`]), how each one ended ([`before`], [`settle`]), the words for kernel
//! errors, the exit status and the system log line. Plain data, serialized as the abort JSON
//! (`schema/abort.schema.json`). `collect::destroy` talks to the kernel, `render::abort`
//! prints, `cmd::abort` composes them.
//!
//! `model.rs` is the JSON, `plan.rs` the selection, `outcome.rs` how each connection ended,
//! `carry.rs` the decisions while the plan is carried out, `syslog.rs` the log line.

mod carry;
mod model;
mod outcome;
mod plan;
mod syslog;
#[cfg(test)]
mod tests;

pub(crate) use carry::{by_namespace, namespace_failed, triage, Carried, Done};
pub use model::{AbortReport, Outcome, Planned, Selection, Summary, SCHEMA_VERSION};
pub use outcome::{before, explain, hopeless, settle, ss_equivalent};
pub use plan::{covers, select, Selected};
pub use syslog::{log_message, syslog_line, Who};
