//! Every connection judged once: its direction, kind, idle time, whether it passes the
//! filters, and the owner it is counted for; then the groups findings are made of.

use super::classify::{classify, idle_ms, request_pending, Listeners};
use super::AnalysisOptions;
use crate::report::{Direction, FindingKey, Kind};
use crate::seeded::HashMap;
use crate::snapshot::{BlockedThread, Connection, Owner, Process, Snapshot};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// One per socket of the snapshot (500,000 on a big host): kept to 32 bytes (a test says so),
/// what is optional packed behind accessors.
pub(super) struct Judged<'a> {
    pub(crate) conn: &'a Connection,
    /// The threads seen blocked on it (see `blocked`): a thin pointer, as most have none.
    blocked_threads: Option<&'a Arc<Vec<BlockedThread>>>,
    /// The owner it is counted for (see `holder`), when `HAS_HOLDER`.
    holder: Owner,
    /// tcp_info's milliseconds are 32 bits wide (see `idle_ms`), when `HAS_IDLE`.
    idle: u32,
    pub(crate) direction: Direction,
    pub(crate) kind: Kind,
    /// `MATCHED`, `HAS_HOLDER`, `HAS_IDLE`.
    flags: u8,
}

/// No thread blocked: one empty list for every connection that has none.
fn none_blocked() -> Arc<Vec<BlockedThread>> {
    static NONE: LazyLock<Arc<Vec<BlockedThread>>> = LazyLock::new(|| Arc::new(Vec::new()));
    NONE.clone()
}

const MATCHED: u8 = 1;
const HAS_HOLDER: u8 = 2;
const HAS_IDLE: u8 = 4;

impl<'a> Judged<'a> {
    /// The threads seen blocked on it.
    pub(crate) fn blocked(&self) -> &'a [BlockedThread] {
        self.blocked_threads.map_or(&[], |t| t.as_slice())
    }

    /// The threads seen blocked on it, shared with the snapshot.
    pub(crate) fn blocked_shared(&self) -> Arc<Vec<BlockedThread>> {
        match self.blocked_threads {
            Some(threads) => threads.clone(),
            None => none_blocked(),
        }
    }

    /// Milliseconds since the socket was last active, as its kind counts them.
    pub(crate) fn idle_ms(&self) -> Option<u64> {
        (self.flags & HAS_IDLE != 0).then_some(u64::from(self.idle))
    }

    /// Passed the filters: counted in `summary.by_kind`.
    pub(crate) fn matched(&self) -> bool {
        self.flags & MATCHED != 0
    }

    /// The owner the connection is counted for.
    pub(crate) fn holder(&self) -> Option<Owner> {
        (self.flags & HAS_HOLDER != 0).then_some(self.holder)
    }
}

/// The owner a socket is counted for, when several processes hold it: the one whose thread
/// is blocked on it (the lowest such pid, on the fd the thread waits on), else the owner with
/// the lowest pid (and its lowest fd). `None` when no readable process holds it.
pub(crate) fn holder(c: &Connection, blocked: &[BlockedThread]) -> Option<Owner> {
    let blocked = c
        .owners()
        .iter()
        .filter_map(|o| {
            let threads = blocked.iter().filter(|t| t.pid == o.pid);
            let mut on_this_fd = false;
            let mut any = false;
            for t in threads {
                any = true;
                on_this_fd |= t.fd == o.fd;
            }
            any.then_some((!on_this_fd, o.pid, o.fd))
        })
        .min()
        .map(|(_, pid, fd)| Owner { pid, fd });
    blocked.or_else(|| c.owners().iter().copied().min_by_key(|o| (o.pid, o.fd)))
}

/// Judges every connection of the snapshot, in its order.
pub(super) fn judge_all<'a>(
    snapshot: &'a Snapshot,
    options: &AnalysisOptions,
    processes: &HashMap<u32, &Process>,
) -> Vec<Judged<'a>> {
    let listeners = Listeners::new(snapshot.connections.iter());
    let min_idle_ms = u64::try_from(options.min_idle.as_millis()).unwrap_or(u64::MAX);
    // The side table of blocked threads is sorted by index: walked alongside.
    let mut blocked_at = snapshot.connections.all_blocked().peekable();
    snapshot
        .connections
        .iter()
        .enumerate()
        .map(|(index, conn)| {
            let blocked_threads = blocked_at.next_if(|&(i, _)| i == index).map(|(_, t)| t);
            let blocked = blocked_threads.map_or(&[][..], |t| t.as_slice());
            let direction = listeners.direction(conn);
            let kind = classify(conn, blocked, direction, min_idle_ms);
            let idle = idle_ms(conn, kind).map(|ms| u32::try_from(ms).unwrap_or(u32::MAX));
            let holder = holder(conn, blocked);
            let matched = options.filter.matches(conn, processes);
            Judged {
                conn,
                blocked_threads,
                holder: holder.unwrap_or(Owner { pid: 0, fd: 0 }),
                idle: idle.unwrap_or(0),
                direction,
                kind,
                flags: [
                    (matched, MATCHED),
                    (holder.is_some(), HAS_HOLDER),
                    (idle.is_some(), HAS_IDLE),
                ]
                .into_iter()
                .filter(|&(set, _)| set)
                .fold(0, |flags, (_, flag)| flags | flag),
            }
        })
        .collect()
}

/// Inbound connections with a request pending, per pid: the clients stuck workers serve.
pub(super) fn pending_by_pid(judged: &[Judged]) -> HashMap<u32, Vec<usize>> {
    let mut pending: HashMap<u32, Vec<usize>> = HashMap::default();
    for (index, j) in judged.iter().enumerate() {
        if j.direction == Direction::Inbound && request_pending(j.conn) {
            for owner in j.conn.owners() {
                pending.entry(owner.pid).or_default().push(index);
            }
        }
    }
    pending
}

/// The connections of every finding, by key: problems and idle pools that passed the filters.
pub(super) fn groups(
    judged: &[Judged],
    processes: &HashMap<u32, &Process>,
) -> BTreeMap<FindingKey, Vec<usize>> {
    let mut groups: BTreeMap<FindingKey, Vec<usize>> = BTreeMap::new();
    for (index, j) in judged.iter().enumerate() {
        if j.matched() && (j.kind.is_problem() || j.kind == Kind::IdlePool) {
            let holder_name = j
                .holder()
                .and_then(|h| processes.get(&h.pid))
                .map(|p| p.name.as_str());
            let key = FindingKey::new(
                j.kind,
                j.conn.netns(),
                j.direction,
                j.conn.local(),
                j.conn.remote(),
                holder_name,
            );
            groups.entry(key).or_default().push(index);
        }
    }
    groups
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn a_judged_socket_takes_32_bytes() {
        assert!(
            std::mem::size_of::<Judged>() <= 32,
            "Judged is {} bytes",
            std::mem::size_of::<Judged>()
        );
    }

    pub(crate) fn conn(owners: &[(u32, u32)]) -> Connection {
        let mut c = Connection::example();
        c.set_owners(owners.iter().map(|&(pid, fd)| Owner { pid, fd }));
        c
    }

    fn threads(blocked: &[(u32, u32)]) -> Vec<BlockedThread> {
        blocked
            .iter()
            .map(|&(pid, fd)| BlockedThread::example(pid, fd))
            .collect()
    }

    /// The holder of a socket held by `owners`, with threads blocked on `blocked`.
    fn holder_of(owners: &[(u32, u32)], blocked: &[(u32, u32)]) -> Option<Owner> {
        holder(&conn(owners), &threads(blocked))
    }

    fn owner(pid: u32, fd: u32) -> Option<Owner> {
        Some(Owner { pid, fd })
    }

    #[test]
    fn the_holder_is_the_owner_blocked_on_the_socket_else_the_lowest_pid() {
        assert_eq!(holder_of(&[], &[]), None);
        assert_eq!(holder_of(&[(20, 4)], &[]), owner(20, 4));
        // Listed in any order: the lowest pid, its lowest fd.
        assert_eq!(holder_of(&[(30, 9), (20, 7), (20, 4)], &[]), owner(20, 4));
        // A thread of the child is blocked on it: the child, on the fd it waits on.
        assert_eq!(
            holder_of(&[(20, 4), (21, 4), (21, 6)], &[(21, 6)]),
            owner(21, 6)
        );
        // Threads of both: the lowest of them.
        assert_eq!(
            holder_of(&[(20, 4), (21, 4), (22, 4)], &[(22, 4), (21, 4)]),
            owner(21, 4)
        );
    }
}
