//! What a command could not see or do while it kept going: typed by where it came from,
//! shown (and serialized) as its sentence.

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The collection: sockets, processes, threads, namespaces (or the snapshot's record of
    /// them).
    Collect(String),
    /// Reverse DNS.
    Names(String),
    /// `--capture` and `--confirm`.
    Wire(String),
    /// The command was cut short (`--timeout`, a signal): the report is partial.
    Partial(String),
}

impl Warning {
    pub fn text(&self) -> &str {
        match self {
            Warning::Collect(t) | Warning::Names(t) | Warning::Wire(t) | Warning::Partial(t) => t,
        }
    }
}

impl AsRef<str> for Warning {
    fn as_ref(&self) -> &str {
        self.text()
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.text())
    }
}
