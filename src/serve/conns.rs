//! The exporter's own connections, so that it never suffers what it diagnoses: every
//! connection is either serving a request (busy) or idle, and an idle one (a client that has
//! not sent a whole request header yet, a keep-alive connection between requests, a client
//! that does not read its response) is closed after `IDLE_TIMEOUT`. At the connection limit,
//! a new connection takes the place of the one idle the longest, so a flood of slow or idle
//! clients (slowloris) cannot lock a scraper out: only busy connections are never evicted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Connections open at once. Scrapers are few (a Prometheus pair, a person with curl); more
/// only costs memory and descriptors.
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// A connection with no request in service for this long is closed: it has this long to
/// send a whole request header (or the next one, kept alive), and to read its response.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a connection looks at its clock.
const TICK: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Activity {
    /// Requests in service.
    busy: usize,
    /// When it last changed.
    since: Instant,
}

/// One connection's state, shared by its task and the table.
#[derive(Debug)]
pub(crate) struct Conn {
    activity: Mutex<Activity>,
    evicted: Notify,
}

impl Conn {
    fn activity(&self) -> MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Some(time idle)`, or `None` while a request is in service.
    fn idle(&self) -> Option<Duration> {
        let activity = self.activity();
        (activity.busy == 0).then(|| activity.since.elapsed())
    }

    /// Marks a request in service until the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        let mut activity = self.activity();
        activity.busy += 1;
        activity.since = Instant::now();
        Busy(self.clone())
    }

    /// Ends when the connection should be closed: evicted, idle too long, busy longer than
    /// `busy_limit` (a bound that the requests' own bounds make unreachable), or idle while
    /// the exporter stops.
    pub(crate) async fn expired(&self, busy_limit: Duration, stopping: &AtomicBool) {
        let watch = async {
            loop {
                tokio::time::sleep(TICK).await;
                let activity = self.activity();
                let elapsed = activity.since.elapsed();
                let over = if activity.busy == 0 {
                    elapsed >= IDLE_TIMEOUT || stopping.load(Ordering::Relaxed)
                } else {
                    elapsed >= busy_limit
                };
                if over {
                    return;
                }
            }
        };
        tokio::select! {
            () = watch => {}
            () = self.evicted.notified() => {}
        }
    }
}

/// A request in service (see [`Conn::begin`]).
pub(crate) struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut activity = self.0.activity();
        activity.busy -= 1;
        activity.since = Instant::now();
    }
}

/// The open connections.
#[derive(Debug, Default)]
pub(crate) struct Conns {
    table: Mutex<(u64, BTreeMap<u64, Arc<Conn>>)>,
}

/// A connection's place in the table, given back when dropped.
pub(crate) struct Ticket {
    conns: Arc<Conns>,
    id: u64,
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.conns.table().1.remove(&self.id);
    }
}

impl Conns {
    fn table(&self) -> MutexGuard<'_, (u64, BTreeMap<u64, Arc<Conn>>)> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.table().1.len()
    }

    /// A place for a new connection: at the limit, the connection idle the longest is told
    /// to close and gives its place; `None` when every one is busy (the new one is closed).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut table = self.table();
        if table.1.len() >= MAX_CONNECTIONS {
            let victim = table
                .1
                .iter()
                .filter_map(|(id, conn)| conn.idle().map(|idle| (idle, *id)))
                .max()?
                .1;
            if let Some(conn) = table.1.remove(&victim) {
                conn.evicted.notify_one();
            }
        }
        table.0 += 1;
        let id = table.0;
        let conn = Arc::new(Conn {
            activity: Mutex::new(Activity {
                busy: 0,
                since: Instant::now(),
            }),
            evicted: Notify::new(),
        });
        table.1.insert(id, conn.clone());
        Some(Ticket {
            conns: self.clone(),
            id,
            conn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_limit_the_longest_idle_connection_makes_room_and_busy_ones_stay() {
        let conns = Arc::new(Conns::default());
        let mut tickets: Vec<Ticket> = (0..MAX_CONNECTIONS)
            .map(|_| conns.admit().unwrap())
            .collect();
        let oldest = tickets[0].conn.clone();
        // The oldest is busy: the next oldest goes.
        let busy = oldest.begin();
        let second = tickets[1].conn.clone();
        std::thread::sleep(Duration::from_millis(5));
        tickets.push(conns.admit().expect("room is made"));
        assert_eq!(conns.len(), MAX_CONNECTIONS);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stopping = AtomicBool::new(false);
        runtime.block_on(async {
            // The evicted one is told at once; the busy one is not.
            tokio::time::timeout(
                Duration::from_millis(50),
                second.expired(Duration::MAX, &stopping),
            )
            .await
            .expect("the second connection is evicted");
            assert!(tokio::time::timeout(
                Duration::from_millis(300),
                oldest.expired(Duration::MAX, &stopping)
            )
            .await
            .is_err());
        });
        drop(busy);
        // All busy: no room.
        let guards: Vec<Busy> = tickets.iter().map(|t| t.conn.begin()).collect();
        assert!(conns.admit().is_none());
        drop(guards);
        drop(tickets);
        assert_eq!(conns.len(), 0, "places are given back");
    }
}
