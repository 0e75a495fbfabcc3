//! Carrying out the plan, the decisions around the kernel's work: the plan grouped by network
//! namespace, what a fresh reading of a namespace's sockets leaves alone, and what each
//! request's answer and the second reading make of each connection. `cmd::abort` reads the
//! sockets and sends the requests (`collect::destroy`), in each namespace on a thread of its
//! own.

use super::outcome::systemic;
use super::{before, settle, Outcome, Planned};
use crate::snapshot::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Settled before any request: index in the plan, outcome, why.
pub(crate) type Decided = Vec<(usize, Outcome, Option<String>)>;

/// What a fresh reading of one namespace's sockets decides before any request.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Triage {
    pub(crate) decided: Decided,
    /// To destroy: index in the plan and socket cookie.
    pub(crate) go: Vec<(usize, u64)>,
}

/// What one namespace's thread brings back.
#[derive(Debug)]
pub(crate) struct Done {
    pub(crate) decided: Decided,
    /// Sent (or not, when the deadline passed): index and the kernel's answer.
    pub(crate) sent: Vec<(usize, Option<std::io::Result<()>>)>,
    /// The cookies still listed afterwards (None: that reading failed).
    pub(crate) after: Option<HashSet<u64>>,
}

/// What carrying out the plan left to say besides each connection's result.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    pub(crate) warnings: Vec<String>,
    /// A reason no connection could be aborted at all (the capability, the kernel).
    pub(crate) systemic: Option<String>,
}

/// The plan's indices by network namespace (None: stuckconn's own), in inode order.
pub(crate) fn by_namespace(planned: &[Planned]) -> BTreeMap<Option<u64>, Vec<usize>> {
    let mut by_netns: BTreeMap<Option<u64>, Vec<usize>> = BTreeMap::new();
    for (i, p) in planned.iter().enumerate() {
        by_netns.entry(p.netns_inode()).or_default().push(i);
    }
    by_netns
}

/// From a reading of the namespace's sockets (`now`) just before the abort: which of
/// `indices` are settled already (no cookie, gone, back to life) and which to destroy.
pub(crate) fn triage(planned: &[Planned], indices: &[usize], now: &[Connection]) -> Triage {
    let by_cookie: HashMap<u64, &Connection> =
        now.iter().filter_map(|c| Some((c.cookie()?, c))).collect();
    let mut triage = Triage::default();
    for &i in indices {
        let p = &planned[i];
        let Some(cookie) = p.cookie else {
            triage.decided.push((
                i,
                Outcome::Failed,
                Some(
                    "no socket cookie (the scan could not use sock_diag): it cannot be aborted \
                     safely"
                        .to_string(),
                ),
            ));
            continue;
        };
        match before(p, by_cookie.get(&cookie).copied()) {
            Some((outcome, why)) => triage.decided.push((i, outcome, why)),
            None => triage.go.push((i, cookie)),
        }
    }
    triage
}

/// Every connection of `indices` failed: their namespace could not be entered or read.
pub(crate) fn namespace_failed(planned: &mut [Planned], indices: &[usize], err: &std::io::Error) {
    let why = format!("its network namespace could not be entered or read: {err}");
    for &i in indices {
        planned[i].result = Some(Outcome::Failed);
        planned[i].error = Some(why.clone());
    }
}

impl Carried {
    /// Fills in the results of one namespace's connections from what its thread brought back
    /// (`why_not`: why a request was not sent), and keeps what concerns the whole run.
    pub(crate) fn record(&mut self, planned: &mut [Planned], done: Done, why_not: &str) {
        if done.after.is_none() && !done.sent.is_empty() {
            self.warnings.push(
                "the sockets could not be read again after the abort: the results are the \
                 kernel's answers, not checked"
                    .to_string(),
            );
        }
        for (i, outcome, why) in done.decided {
            planned[i].result = Some(outcome);
            planned[i].error = why;
        }
        for (i, answer) in done.sent {
            let still_open = done
                .after
                .as_ref()
                .zip(planned[i].cookie)
                .map(|(after, cookie)| after.contains(&cookie));
            if let Some(Err(err)) = &answer {
                if let Some(reason) = systemic(err, &planned[i]) {
                    self.systemic.get_or_insert(reason);
                }
            }
            let (outcome, why) = settle(answer.as_ref(), still_open, why_not);
            planned[i].result = Some(outcome);
            planned[i].error = why;
        }
    }
}
