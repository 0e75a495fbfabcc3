//! The verdicts of a report's connections, each judged once per distinct facts: the
//! connections of a leak mostly have the same facts but for their times, which decide only
//! where a rule reads them (`Derived::reads_times`). Judging one writes its words; 10,000
//! connections judged alike cost 10,000 explanations for one verdict.

use super::derive::derive;
use super::{judge, shared, Alike, Facts, Waiters};
use crate::report::ConnectionTimeouts;
use crate::snapshot::{KernelTimer, Limits, SocketOptions, TcpState, Unreadable};
use std::collections::HashMap;
use std::sync::Arc;

/// What `judge` reads of one connection's facts and limits: equal keys, equal verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    plain: Plain,
    options: Option<Result<SocketOptions, Unreadable>>,
    waiters: Waiters,
}

/// The part of a key that is copied, not cloned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Plain {
    state: TcpState,
    timer: Option<KernelTimer>,
    /// tcp_info's probes, backoff and unacked; its times (last data sent, received, last
    /// ACK) only when they may decide.
    info: Option<(u8, u8, u32, Option<[u32; 3]>)>,
    limits: [u32; 2],
}

impl Plain {
    fn of(facts: &Facts, limits: &Limits) -> Plain {
        let times = derive(facts).reads_times(facts);
        Plain {
            state: facts.state,
            timer: facts.timer,
            info: facts.tcp_info.map(|i| {
                (
                    i.probes,
                    i.backoff,
                    i.unacked,
                    times.then_some([i.last_data_sent_ms, i.last_data_recv_ms, i.last_ack_recv_ms]),
                )
            }),
            limits: [limits.tcp_retries2, limits.tcp_syn_retries],
        }
    }
}

/// The verdicts given, by key, each shared (see `shared`); the last key first.
#[derive(Default)]
pub(super) struct Memo {
    alike: Alike,
    all: HashMap<Key, Arc<ConnectionTimeouts>>,
    last: Option<(Key, Arc<ConnectionTimeouts>)>,
}

impl Memo {
    /// The verdict `judge` gives these facts, shared with every connection judged alike.
    pub(super) fn verdict(&mut self, facts: &Facts, limits: &Limits) -> Arc<ConnectionTimeouts> {
        let plain = Plain::of(facts, limits);
        let same = |key: &Key| {
            key.plain == plain && key.options == facts.options && key.waiters == facts.waiters
        };
        let known = match &self.last {
            Some((key, verdict)) if same(key) => Some(verdict.clone()),
            _ => None,
        };
        if let Some(verdict) = known {
            debug_assert_eq!(*verdict, judge(facts, limits));
            return verdict;
        }
        let key = Key {
            plain,
            options: facts.options.clone(),
            waiters: facts.waiters.clone(),
        };
        let verdict = match self.all.get(&key) {
            Some(verdict) => {
                debug_assert_eq!(**verdict, judge(facts, limits));
                verdict.clone()
            }
            None => {
                let verdict = shared(&mut self.alike, judge(facts, limits));
                self.all.insert(key.clone(), verdict.clone());
                verdict
            }
        };
        self.last = Some((key, verdict.clone()));
        verdict
    }
}
