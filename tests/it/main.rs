//! stuckconn's integration tests: one crate (one binary to build and link), a module per area.
//! Live tests start real processes and scope every scan to a network namespace they made.

mod common;

mod abort;
mod analysis;
mod capture;
mod chain;
mod completions;
mod containers;
mod dns;
mod faults;
mod fdwalk;
mod fleet;
mod golden;
mod html;
mod live;
mod man;
mod monitor;
mod names;
mod netns;
mod privileges;
mod properties;
mod readme;
mod replay;
mod secrets;
mod serve;
mod terminal;
mod timeouts;
mod trust;
