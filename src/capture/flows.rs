//! Segments attributed to the watched flows by 4-tuple, in either direction, and counted:
//! packets, data packets, keepalive probes, retransmissions, RST and FIN.

use super::packet::Segment;
use crate::report::FlowCounts;
use crate::snapshot::Endpoint;
use std::collections::HashMap;

/// At most this many zero-length segments per flow are kept for keepalive matching.
const MAX_DEFERRED: usize = 1024;

/// One direction of a flow.
#[derive(Debug, Default)]
struct Side {
    /// The highest sequence number sent (seq + len), to spot retransmissions.
    next_seq: Option<u32>,
    /// The last ACK number this side sent.
    last_ack: Option<u32>,
    /// Zero-length segments not yet known to be keepalives (their seq).
    deferred: Vec<u32>,
}

#[derive(Debug, Default)]
struct Flow {
    counts: FlowCounts,
    /// [from local, from remote]
    sides: [Side; 2],
}

/// A flow by (local, remote).
pub(crate) type FlowKey = (Endpoint, Endpoint);

/// The watched flows, keyed by (local, remote).
#[derive(Debug, Default)]
pub struct FlowTable {
    flows: HashMap<FlowKey, Flow>,
    /// Segments that matched no watched flow (the BPF filter may be coarser than the flows).
    pub unmatched: u64,
}

/// `a` comes after `b` in sequence space (RFC 1982 arithmetic).
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl FlowTable {
    pub fn new(flows: impl IntoIterator<Item = (Endpoint, Endpoint)>) -> FlowTable {
        FlowTable {
            flows: flows
                .into_iter()
                .map(|key| (key, Flow::default()))
                .collect(),
            unmatched: 0,
        }
    }

    /// Accounts one segment, in capture order. Returns whether it belongs to a watched flow.
    pub fn add(&mut self, seg: &Segment) -> bool {
        let (flow, from) = if let Some(flow) = self.flows.get_mut(&(seg.src, seg.dst)) {
            (flow, 0)
        } else if let Some(flow) = self.flows.get_mut(&(seg.dst, seg.src)) {
            (flow, 1)
        } else {
            self.unmatched += 1;
            return false;
        };
        let counts = &mut flow.counts;
        counts.packets += 1;
        counts.resets += u64::from(seg.rst);
        counts.fins += u64::from(seg.fin);
        let peer_ack = flow.sides[1 - from].last_ack;
        let side = &mut flow.sides[from];
        if let Some(ack) = seg.ack {
            side.last_ack = Some(ack);
        }
        let flags = seg.syn || seg.fin || seg.rst;
        // A keepalive probe carries 0 or 1 byte at seq = snd_nxt - 1: a byte the peer has
        // already acknowledged.
        let probe = !flags && seg.payload_len <= 1 && peer_ack == Some(seg.seq.wrapping_add(1));
        if probe {
            counts.keepalives += 1;
        } else if seg.payload_len > 0 {
            let end = seg.seq.wrapping_add(seg.payload_len);
            match side.next_seq {
                Some(next) if !seq_after(end, next) => counts.retransmissions += 1,
                _ => counts.data_packets += 1,
            }
        } else if !flags && side.deferred.len() < MAX_DEFERRED {
            side.deferred.push(seg.seq);
        }
        let end = seg.seq.wrapping_add(seg.payload_len);
        if side.next_seq.is_none_or(|next| seq_after(end, next)) {
            side.next_seq = Some(end);
        }
        true
    }

    /// The counts per flow. Zero-length segments whose byte the peer acknowledged later in the
    /// capture are counted as keepalives here (the first probe comes before its ACK).
    pub fn finish(mut self) -> HashMap<FlowKey, FlowCounts> {
        let mut out = HashMap::with_capacity(self.flows.len());
        for (key, flow) in self.flows.iter_mut() {
            for from in 0..2 {
                let peer_ack = flow.sides[1 - from].last_ack;
                let deferred = std::mem::take(&mut flow.sides[from].deferred);
                let late = deferred
                    .iter()
                    .filter(|&&seq| peer_ack == Some(seq.wrapping_add(1)))
                    .count() as u64;
                flow.counts.keepalives += late;
            }
            out.insert(*key, flow.counts.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn ep(s: &str) -> Endpoint {
        let addr: std::net::SocketAddr = s.parse().unwrap();
        Endpoint::normalized(addr.ip(), addr.port())
    }

    fn seg(src: &str, dst: &str, seq: u32, ack: u32, len: u32) -> Segment {
        Segment {
            src: ep(src),
            dst: ep(dst),
            seq,
            ack: Some(ack),
            payload_len: len,
            syn: false,
            fin: false,
            rst: false,
            headers_len: 54,
        }
    }

    const L: &str = "192.0.2.1:40000";
    const R: &str = "192.0.2.100:80";

    #[test]
    fn keepalive_probes_and_their_acks() {
        let mut table = FlowTable::new([(ep(L), ep(R))]);
        // Idle: we sent up to 1074 and the peer acknowledged it; probes at 1073, 0 bytes.
        table.add(&seg(L, R, 1073, 900, 0)); // first probe, before any peer ACK is seen
        table.add(&seg(R, L, 900, 1074, 0)); // its ACK
        table.add(&seg(L, R, 1073, 900, 0)); // second probe
        table.add(&seg(R, L, 900, 1074, 0));
        let counts = table.finish().remove(&(ep(L), ep(R))).unwrap();
        assert_eq!(counts.packets, 4);
        assert_eq!(counts.keepalives, 2);
        assert_eq!(counts.data_packets, 0);
        assert_eq!(counts.verdict(), Verdict::KeepaliveOnly);
    }

    #[test]
    fn data_in_either_direction_is_active() {
        let mut table = FlowTable::new([(ep(L), ep(R))]);
        table.add(&seg(R, L, 900, 1074, 100));
        table.add(&seg(L, R, 1074, 1000, 0));
        let counts = table.finish().remove(&(ep(L), ep(R))).unwrap();
        assert_eq!(counts.data_packets, 1);
        assert_eq!(counts.keepalives, 0, "a pure ACK is not a probe");
        assert_eq!(counts.verdict(), Verdict::Active);
    }

    #[test]
    fn retransmissions_and_strangers() {
        let mut table = FlowTable::new([(ep(L), ep(R))]);
        table.add(&seg(L, R, 1000, 900, 500));
        table.add(&seg(L, R, 1000, 900, 500));
        table.add(&seg("192.0.2.9:1", R, 1, 1, 10));
        assert_eq!(table.unmatched, 1);
        let counts = table.finish().remove(&(ep(L), ep(R))).unwrap();
        assert_eq!((counts.data_packets, counts.retransmissions), (1, 1));
    }

    #[test]
    fn nothing_seen_is_idle() {
        let table = FlowTable::new([(ep(L), ep(R))]);
        let counts = table.finish().remove(&(ep(L), ep(R))).unwrap();
        assert_eq!(counts, FlowCounts::default());
        assert_eq!(counts.verdict(), Verdict::Idle);
    }

    #[test]
    fn sequence_numbers_wrap() {
        assert!(seq_after(5, u32::MAX - 5));
        assert!(!seq_after(u32::MAX - 5, 5));
    }
}
