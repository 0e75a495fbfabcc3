//! Enrichers: each adds to a finished report what the analysis alone cannot know.
//!
//! - [`timeouts`]: why a stuck connection never ends, or when it will (pure verdicts from the
//!   kernel's timers, tcp_info, socket options and the blocked call's own timeout, collected
//!   by `collect::sockopts` and `collect::waits`).
//! - [`impact`]: what the holders cost in memory and swap (pure sums of `collect::memory`).
//! - [`hints`]: the runtime that made the call and the fix for the finding's kind (one table
//!   of knowledge, each entry with its source).

pub mod hints;
pub mod impact;
pub mod timeouts;
