//! One connection, one verdict: the signatures of FIELD-NOTES.md as code.

use crate::report::{Direction, Kind};
use crate::seeded::HashSet;
use crate::snapshot::{BlockedThread, Connection, Endpoint, TcpState};

/// The listening endpoints of a snapshot, to tell inbound from outbound.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    exact: HashSet<(Option<u64>, Endpoint)>,
    wildcard_ports: HashSet<(Option<u64>, u16)>,
}

impl Listeners {
    pub(crate) fn new<'a>(connections: impl IntoIterator<Item = &'a Connection>) -> Listeners {
        let mut listeners = Listeners::default();
        for c in connections {
            if c.state == TcpState::Listen {
                let local = c.local();
                if local.ip.is_unspecified() {
                    listeners.wildcard_ports.insert((c.netns(), local.port));
                } else {
                    listeners.exact.insert((c.netns(), local));
                }
            }
        }
        listeners
    }

    /// A connection whose local endpoint matches a listener of its own network namespace is
    /// inbound; otherwise outbound.
    pub(crate) fn direction(&self, c: &Connection) -> Direction {
        if c.state == TcpState::Listen {
            return Direction::Listening;
        }
        let (netns, local) = (c.netns(), c.local());
        if self.wildcard_ports.contains(&(netns, local.port))
            || self.exact.contains(&(netns, local))
        {
            Direction::Inbound
        } else {
            Direction::Outbound
        }
    }
}

/// Classifies one connection, on which the threads `blocked` wait (a thread of the owner
/// waiting for data on it: read/recv, or poll/select with its fd in the set). `min_idle_ms` is
/// the `--min-idle` threshold.
pub(crate) fn classify(
    c: &Connection,
    blocked: &[BlockedThread],
    direction: Direction,
    min_idle_ms: u64,
) -> Kind {
    if direction == Direction::Listening {
        return Kind::Listening;
    }
    let thread_reading = !blocked.is_empty();
    let info = c.tcp_info();
    match c.state {
        TcpState::SynSent => match info {
            // The first SYN gets an RTO of 1 s: a retransmitted SYN means a connect pending
            // for a second or more with no answer.
            Some(i) if i.retransmits == 0 && i.backoff == 0 => Kind::Active,
            _ => Kind::SynSent,
        },
        TcpState::CloseWait => match c.idle_ms() {
            Some(idle) if idle < min_idle_ms => Kind::Active,
            _ => Kind::CloseWait,
        },
        TcpState::Established => {
            let Some(i) = info else {
                // Degraded (no tcp_info): only a thread blocked on the socket says anything.
                return if direction == Direction::Outbound && thread_reading {
                    Kind::HungCall
                } else {
                    Kind::Active
                };
            };
            if i.unacked > 0
                && (i.retransmits > 0 || i.backoff > 0)
                && u64::from(i.last_ack_recv_ms) >= min_idle_ms
            {
                return Kind::StalledSend;
            }
            let idle = u64::from(i.last_data_sent_ms.min(i.last_data_recv_ms));
            if idle < min_idle_ms
                || direction != Direction::Outbound
                || c.recv_q > 0
                || c.send_q > 0
            {
                return Kind::Active;
            }
            let nothing_received = i.bytes_received == Some(0);
            // Smaller means more recent: we sent after we last received.
            let we_sent_last = i.last_data_sent_ms < i.last_data_recv_ms;
            if nothing_received || we_sent_last || thread_reading {
                Kind::HungCall
            } else {
                Kind::IdlePool
            }
        }
        _ => Kind::Active,
    }
}

/// How long the connection has been quiet, by the measure that fits its kind.
pub(crate) fn idle_ms(c: &Connection, kind: Kind) -> Option<u64> {
    let info = c.tcp_info()?;
    match kind {
        Kind::StalledSend => Some(u64::from(info.last_ack_recv_ms)),
        Kind::SynSent | Kind::Listening => None,
        _ => c.idle_ms(),
    }
}

/// Whether an inbound connection carries a request its process has not answered yet:
/// the peer sent last (or we never sent anything back).
pub(crate) fn request_pending(c: &Connection) -> bool {
    let Some(i) = c.tcp_info() else {
        return false;
    };
    c.state == TcpState::Established
        && i.bytes_received.unwrap_or(0) > 0
        && (i.bytes_sent() == Some(0) || i.last_data_recv_ms < i.last_data_sent_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::TcpInfo;

    fn conn(state: TcpState, info: Option<TcpInfo>) -> Connection {
        let mut c = Connection::example();
        c.state = state;
        c.set_tcp_info(info);
        c
    }

    fn info(sent_ms: u32, recv_ms: u32, received: u64) -> TcpInfo {
        TcpInfo {
            info_len: 232,
            last_data_sent_ms: sent_ms,
            last_data_recv_ms: recv_ms,
            last_ack_recv_ms: sent_ms,
            bytes_acked: Some(74),
            bytes_received: Some(received),
            ..TcpInfo::default()
        }
    }

    const MIN: u64 = 60_000;

    #[test]
    fn request_sent_nothing_back_is_a_hung_call() {
        let c = conn(TcpState::Established, Some(info(300_000, 300_004, 0)));
        assert_eq!(classify(&c, &[], Direction::Outbound, MIN), Kind::HungCall);
    }

    #[test]
    fn same_jiffy_request_with_no_bytes_back_is_still_hung() {
        let c = conn(TcpState::Established, Some(info(300_000, 300_000, 0)));
        assert_eq!(classify(&c, &[], Direction::Outbound, MIN), Kind::HungCall);
    }

    #[test]
    fn complete_exchange_then_idle_is_a_pool() {
        let c = conn(TcpState::Established, Some(info(120_010, 120_000, 512)));
        assert_eq!(classify(&c, &[], Direction::Outbound, MIN), Kind::IdlePool);
    }

    #[test]
    fn partial_reply_with_a_reader_blocked_is_hung() {
        let c = conn(TcpState::Established, Some(info(120_010, 120_000, 512)));
        let reader = [BlockedThread::example(1, 3)];
        assert_eq!(
            classify(&c, &reader, Direction::Outbound, MIN),
            Kind::HungCall
        );
    }

    #[test]
    fn second_request_on_a_reused_connection_is_hung() {
        // Reply received 10 min ago, a new request sent 5 min ago, nothing since.
        let c = conn(TcpState::Established, Some(info(300_000, 600_000, 512)));
        assert_eq!(classify(&c, &[], Direction::Outbound, MIN), Kind::HungCall);
    }

    #[test]
    fn young_or_inbound_or_busy_is_active() {
        let young = conn(TcpState::Established, Some(info(5_000, 5_000, 0)));
        assert_eq!(
            classify(&young, &[], Direction::Outbound, MIN),
            Kind::Active
        );
        let inbound = conn(TcpState::Established, Some(info(300_000, 300_004, 0)));
        assert_eq!(
            classify(&inbound, &[], Direction::Inbound, MIN),
            Kind::Active
        );
        // An hours-old stream that moved data 20 ms ago.
        let stream = conn(TcpState::Established, Some(info(20, 10_000_000, 0)));
        assert_eq!(
            classify(&stream, &[], Direction::Outbound, MIN),
            Kind::Active
        );
    }

    #[test]
    fn retransmitting_unacked_data_is_a_stalled_send() {
        let mut i = info(90_000, 400_000, 0);
        i.unacked = 3;
        i.retransmits = 5;
        i.backoff = 5;
        i.last_ack_recv_ms = 90_000;
        let mut c = conn(TcpState::Established, Some(i));
        c.send_q = 300;
        assert_eq!(
            classify(&c, &[], Direction::Outbound, MIN),
            Kind::StalledSend
        );
    }

    #[test]
    fn close_wait_needs_min_idle() {
        let old = conn(TcpState::CloseWait, Some(info(120_000, 120_000, 10)));
        assert_eq!(
            classify(&old, &[], Direction::Outbound, MIN),
            Kind::CloseWait
        );
        let fresh = conn(TcpState::CloseWait, Some(info(10, 10, 10)));
        assert_eq!(
            classify(&fresh, &[], Direction::Outbound, MIN),
            Kind::Active
        );
        let unknown = conn(TcpState::CloseWait, None);
        assert_eq!(
            classify(&unknown, &[], Direction::Outbound, MIN),
            Kind::CloseWait
        );
    }

    #[test]
    fn syn_sent_after_a_retransmission() {
        let fresh = conn(TcpState::SynSent, Some(TcpInfo::default()));
        assert_eq!(
            classify(&fresh, &[], Direction::Outbound, MIN),
            Kind::Active
        );
        let retried = conn(
            TcpState::SynSent,
            Some(TcpInfo {
                retransmits: 2,
                backoff: 2,
                ..TcpInfo::default()
            }),
        );
        assert_eq!(
            classify(&retried, &[], Direction::Outbound, MIN),
            Kind::SynSent
        );
    }

    #[test]
    fn listeners_decide_direction() {
        let mut listen = conn(TcpState::Listen, None);
        let remote = listen.remote();
        listen.set_endpoints(Endpoint::normalized("0.0.0.0".parse().unwrap(), 80), remote);
        let mut accepted = conn(TcpState::Established, None);
        accepted.set_endpoints(
            Endpoint::normalized("192.0.2.1".parse().unwrap(), 80),
            remote,
        );
        let outgoing = conn(TcpState::Established, None);
        let listeners = Listeners::new([&listen]);
        assert_eq!(listeners.direction(&accepted), Direction::Inbound);
        assert_eq!(listeners.direction(&outgoing), Direction::Outbound);
        assert_eq!(listeners.direction(&listen), Direction::Listening);
    }
}
