//! One TCP socket as the kernel reported it, kept small: a host with 500,000 sockets holds
//! them all at once, so a `Connection` is at most 112 bytes (a test says so). IPv4 addresses
//! and the one process that holds the socket are kept inline; IPv6 endpoints and a second
//! holder go behind one pointer (the spill); tcp_info is packed to the fields the analysis,
//! the report and `--confirm` read, the kernel's timer into three small fields; the socket
//! cookie and the namespace take 0 for "unknown" (the kernel never gives either 0). What only some sockets have lives in side
//! tables of [`super::Connections`]: the threads blocked on them, the options read of the
//! stuck ones. The snapshot file keeps its shape (`super::connections` writes and reads it).

use super::{Endpoint, KernelTimer, TcpState, TimerKind};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One TCP socket, with the processes that hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub state: TcpState,
    /// IPv4 endpoints, inline (zero when `spill` holds endpoints of another family).
    local4: [u8; 4],
    remote4: [u8; 4],
    local_port: u16,
    remote_port: u16,
    /// Socket inode (0 for TIME-WAIT and other orphaned sockets): the kernel's are 32 bits.
    pub inode: u32,
    pub uid: u32,
    /// The kernel's socket cookie (sock_diag only), 0 when unknown.
    cookie: u64,
    /// Bytes received and not yet read by the process (for listeners: the accept backlog).
    pub recv_q: u32,
    /// Bytes sent and not yet acknowledged by the peer.
    pub send_q: u32,
    info: PackedInfo,
    /// The one (pid, fd) that holds this socket, almost always; `NO_OWNER` for none, and
    /// ignored when `spill` lists several.
    owner: Owner,
    /// What only some sockets have: endpoints other than IPv4, more than one owner.
    spill: Option<Box<Spill>>,
    /// The inode of its network namespace, 0 when unknown.
    netns: u32,
    /// The kernel's TCP timer (sock_diag, or /proc/net/tcp), in three fields that pack with
    /// the others; `timer_kind` `None` in snapshots before it.
    timer_kind: Option<TimerKind>,
    timer_retrans: u8,
    timer_expires_ms: u32,
}

/// No owner: pid 0 is never a process that holds a socket (an owner of pid 0 read from a
/// snapshot file goes to the spill).
const NO_OWNER: Owner = Owner { pid: 0, fd: 0 };

/// The rare part of a connection, behind one pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spill {
    /// Endpoints that are not both IPv4.
    Endpoints([Endpoint; 2]),
    /// Every owner, when there is more than one (or one that `NO_OWNER` would hide).
    Owners(Vec<Owner>),
    Both(Box<([Endpoint; 2], Vec<Owner>)>),
}

impl Connection {
    /// A socket with its state and endpoints, and nothing else known yet.
    pub fn new(state: TcpState, local: Endpoint, remote: Endpoint) -> Connection {
        let mut c = Connection {
            state,
            local4: [0; 4],
            remote4: [0; 4],
            local_port: 0,
            remote_port: 0,
            inode: 0,
            uid: 0,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            info: PackedInfo::default(),
            owner: NO_OWNER,
            spill: None,
            netns: 0,
            timer_kind: None,
            timer_retrans: 0,
            timer_expires_ms: 0,
        };
        c.set_endpoints(local, remote);
        c
    }

    pub fn local(&self) -> Endpoint {
        match self.spilled_endpoints() {
            Some(both) => both[0],
            None => Endpoint {
                ip: IpAddr::from(self.local4),
                port: self.local_port,
            },
        }
    }

    pub fn remote(&self) -> Endpoint {
        match self.spilled_endpoints() {
            Some(both) => both[1],
            None => Endpoint {
                ip: IpAddr::from(self.remote4),
                port: self.remote_port,
            },
        }
    }

    fn spilled_endpoints(&self) -> Option<&[Endpoint; 2]> {
        match self.spill.as_deref()? {
            Spill::Endpoints(both) => Some(both),
            Spill::Both(both) => Some(&both.0),
            Spill::Owners(_) => None,
        }
    }

    pub fn set_endpoints(&mut self, local: Endpoint, remote: Endpoint) {
        let owners = self.take_spilled_owners();
        match (local.ip, remote.ip) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                (self.local4, self.remote4) = (l.octets(), r.octets());
                (self.local_port, self.remote_port) = (local.port, remote.port);
                self.spill = owners.map(|o| Box::new(Spill::Owners(o)));
            }
            _ => {
                (self.local4, self.remote4, self.local_port, self.remote_port) =
                    ([0; 4], [0; 4], 0, 0);
                self.spill = Some(Box::new(match owners {
                    Some(o) => Spill::Both(Box::new(([local, remote], o))),
                    None => Spill::Endpoints([local, remote]),
                }));
            }
        }
    }

    /// Every (pid, fd) that holds this socket: one, almost always.
    pub fn owners(&self) -> &[Owner] {
        match self.spill.as_deref() {
            Some(Spill::Owners(all)) => all,
            Some(Spill::Both(both)) => &both.1,
            _ if self.owner == NO_OWNER => &[],
            _ => std::slice::from_ref(&self.owner),
        }
    }

    pub fn push_owner(&mut self, owner: Owner) {
        let spilled = matches!(
            self.spill.as_deref(),
            Some(Spill::Owners(_) | Spill::Both(_))
        );
        if !spilled && self.owner == NO_OWNER && owner != NO_OWNER {
            self.owner = owner;
            return;
        }
        let mut all = self.take_spilled_owners().unwrap_or_else(|| {
            let first = std::mem::replace(&mut self.owner, NO_OWNER);
            (first != NO_OWNER).then_some(first).into_iter().collect()
        });
        all.push(owner);
        self.spill = Some(Box::new(match self.spill.take().map(|s| *s) {
            Some(Spill::Endpoints(both)) => Spill::Both(Box::new((both, all))),
            _ => Spill::Owners(all),
        }));
    }

    /// Replaces the owners.
    pub fn set_owners(&mut self, owners: impl IntoIterator<Item = Owner>) {
        let _ = self.take_spilled_owners();
        self.owner = NO_OWNER;
        for owner in owners {
            self.push_owner(owner);
        }
    }

    /// Takes the owners out of the spill (leaving its endpoints), if it held them.
    fn take_spilled_owners(&mut self) -> Option<Vec<Owner>> {
        match self.spill.take().map(|s| *s) {
            Some(Spill::Owners(all)) => Some(all),
            Some(Spill::Both(both)) => {
                let (endpoints, all) = *both;
                self.spill = Some(Box::new(Spill::Endpoints(endpoints)));
                Some(all)
            }
            other => {
                self.spill = other.map(Box::new);
                None
            }
        }
    }

    /// The kernel's TCP timer; `None` in snapshots before it was recorded.
    pub fn timer(&self) -> Option<KernelTimer> {
        self.timer_kind.map(|kind| KernelTimer {
            kind,
            expires_ms: self.timer_expires_ms,
            retrans: self.timer_retrans,
        })
    }

    pub fn set_timer(&mut self, timer: Option<KernelTimer>) {
        self.timer_kind = timer.map(|t| t.kind);
        self.timer_expires_ms = timer.map_or(0, |t| t.expires_ms);
        self.timer_retrans = timer.map_or(0, |t| t.retrans);
    }

    /// The kernel's socket cookie: stable for the socket's life.
    pub fn cookie(&self) -> Option<u64> {
        (self.cookie != 0).then_some(self.cookie)
    }

    pub fn set_cookie(&mut self, cookie: Option<u64>) {
        self.cookie = cookie.unwrap_or(0);
    }

    /// The inode of the network namespace the socket lives in.
    pub fn netns(&self) -> Option<u64> {
        (self.netns != 0).then_some(u64::from(self.netns))
    }

    /// Sets the namespace; an inode wider than the kernel's 32 bits is refused.
    pub fn set_netns(&mut self, inode: Option<u64>) -> Result<(), std::num::TryFromIntError> {
        self.netns = u32::try_from(inode.unwrap_or(0))?;
        Ok(())
    }

    pub fn tcp_info(&self) -> Option<TcpInfo> {
        self.info.unpack()
    }

    pub fn set_tcp_info(&mut self, info: Option<TcpInfo>) {
        self.info = PackedInfo::pack(info.as_ref());
    }

    /// Milliseconds since data last moved in either direction, when tcp_info says.
    pub fn idle_ms(&self) -> Option<u64> {
        self.info
            .present()
            .then(|| u64::from(self.info.last_data_sent_ms.min(self.info.last_data_recv_ms)))
    }
}

#[cfg(test)]
impl Connection {
    /// For unit tests: an ESTABLISHED connection 192.0.2.1:40000 -> 192.0.2.100:80 and
    /// nothing else known.
    pub fn example() -> Connection {
        let mut c = Connection::new(
            TcpState::Established,
            Endpoint::normalized(std::net::Ipv4Addr::new(192, 0, 2, 1).into(), 40000),
            Endpoint::normalized(std::net::Ipv4Addr::new(192, 0, 2, 100).into(), 80),
        );
        c.inode = 1;
        c
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub fd: u32,
}

/// The fields of the kernel's `struct tcp_info` that the analysis, the report and `--confirm`
/// read. Fields that the kernel's (possibly shorter) structure did not include are `None`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TcpInfo {
    /// How many bytes of tcp_info the kernel sent.
    pub info_len: u32,
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    pub unacked: u32,
    pub last_data_sent_ms: u32,
    pub last_data_recv_ms: u32,
    pub last_ack_recv_ms: u32,
    /// Bytes the peer acknowledged, plus one for the SYN.
    pub bytes_acked: Option<u64>,
    pub bytes_received: Option<u64>,
    pub segs_out: Option<u32>,
    pub segs_in: Option<u32>,
}

impl TcpInfo {
    /// The size of `struct tcp_info` this parser knows (Linux 6.x up to `tcpi_rcv_wnd`).
    pub const KNOWN_LEN: usize = 232;
    /// Everything up to `tcpi_total_retrans`: what every kernel since 2.6 sends.
    pub const BASE_LEN: usize = 104;

    /// Parses the raw bytes of INET_DIAG_INFO. Short input is zero-padded, as `ss` does;
    /// fields beyond what the kernel sent come back as `None`.
    pub fn parse(raw: &[u8]) -> TcpInfo {
        let mut buf = [0u8; 144];
        let n = raw.len().min(buf.len());
        buf[..n].copy_from_slice(&raw[..n]);
        let u32_at = |off: usize| u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap());
        let u64_at = |off: usize| u64::from_ne_bytes(buf[off..off + 8].try_into().unwrap());
        let has = |off: usize, size: usize| raw.len() >= off + size;
        TcpInfo {
            info_len: u32::try_from(raw.len()).unwrap_or(u32::MAX),
            retransmits: buf[2],
            probes: buf[3],
            backoff: buf[4],
            unacked: u32_at(24),
            last_data_sent_ms: u32_at(44),
            last_data_recv_ms: u32_at(52),
            last_ack_recv_ms: u32_at(56),
            bytes_acked: has(120, 8).then(|| u64_at(120)),
            bytes_received: has(128, 8).then(|| u64_at(128)),
            segs_out: has(136, 4).then(|| u32_at(136)),
            segs_in: has(140, 4).then(|| u32_at(140)),
        }
    }

    /// Payload bytes the peer acknowledged (the SYN taken off).
    pub fn bytes_sent(&self) -> Option<u64> {
        self.bytes_acked.map(|b| b.saturating_sub(1))
    }
}

/// `TcpInfo` as a connection keeps it: 48 bytes, what is present in one byte of flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PackedInfo {
    bytes_acked: u64,
    bytes_received: u64,
    unacked: u32,
    last_data_sent_ms: u32,
    last_data_recv_ms: u32,
    last_ack_recv_ms: u32,
    segs_out: u32,
    segs_in: u32,
    /// The kernel's attribute length fits 16 bits (a netlink attribute's does).
    info_len: u16,
    retransmits: u8,
    probes: u8,
    backoff: u8,
    flags: u8,
}

const PRESENT: u8 = 1;
const BYTES_ACKED: u8 = 2;
const BYTES_RECEIVED: u8 = 4;
const SEGS_OUT: u8 = 8;
const SEGS_IN: u8 = 16;

impl PackedInfo {
    fn pack(info: Option<&TcpInfo>) -> PackedInfo {
        let Some(i) = info else {
            return PackedInfo::default();
        };
        let flag = |present: bool, bit: u8| if present { bit } else { 0 };
        PackedInfo {
            bytes_acked: i.bytes_acked.unwrap_or(0),
            bytes_received: i.bytes_received.unwrap_or(0),
            unacked: i.unacked,
            last_data_sent_ms: i.last_data_sent_ms,
            last_data_recv_ms: i.last_data_recv_ms,
            last_ack_recv_ms: i.last_ack_recv_ms,
            segs_out: i.segs_out.unwrap_or(0),
            segs_in: i.segs_in.unwrap_or(0),
            info_len: u16::try_from(i.info_len).unwrap_or(u16::MAX),
            retransmits: i.retransmits,
            probes: i.probes,
            backoff: i.backoff,
            flags: PRESENT
                | flag(i.bytes_acked.is_some(), BYTES_ACKED)
                | flag(i.bytes_received.is_some(), BYTES_RECEIVED)
                | flag(i.segs_out.is_some(), SEGS_OUT)
                | flag(i.segs_in.is_some(), SEGS_IN),
        }
    }

    fn present(&self) -> bool {
        self.flags & PRESENT != 0
    }

    fn unpack(&self) -> Option<TcpInfo> {
        let has = |bit: u8| self.flags & bit != 0;
        self.present().then(|| TcpInfo {
            info_len: u32::from(self.info_len),
            retransmits: self.retransmits,
            probes: self.probes,
            backoff: self.backoff,
            unacked: self.unacked,
            last_data_sent_ms: self.last_data_sent_ms,
            last_data_recv_ms: self.last_data_recv_ms,
            last_ack_recv_ms: self.last_ack_recv_ms,
            bytes_acked: has(BYTES_ACKED).then_some(self.bytes_acked),
            bytes_received: has(BYTES_RECEIVED).then_some(self.bytes_received),
            segs_out: has(SEGS_OUT).then_some(self.segs_out),
            segs_in: has(SEGS_IN).then_some(self.segs_in),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_at_most_112_bytes_and_its_spill_40() {
        assert!(
            std::mem::size_of::<Connection>() <= 112,
            "{} bytes",
            std::mem::size_of::<Connection>()
        );
        // An IPv6 connection's endpoints cost what they cost before the spill held owners.
        assert!(
            std::mem::size_of::<Spill>() <= 40,
            "{} bytes",
            std::mem::size_of::<Spill>()
        );
    }

    #[test]
    fn owners_come_back_as_pushed_whatever_the_endpoints() {
        let v4 = |port| Endpoint::normalized(std::net::Ipv4Addr::new(192, 0, 2, 1).into(), port);
        let v6 = |port| Endpoint::normalized("2001:db8::1".parse().unwrap(), port);
        let owner = |pid, fd| Owner { pid, fd };
        for (local, remote) in [(v4(1), v4(2)), (v6(1), v6(2))] {
            let mut c = Connection::new(TcpState::Established, local, remote);
            assert!(c.owners().is_empty());
            c.push_owner(owner(10, 3));
            assert_eq!(c.owners(), [owner(10, 3)]);
            c.push_owner(owner(11, 4));
            c.push_owner(owner(12, 5));
            assert_eq!(c.owners(), [owner(10, 3), owner(11, 4), owner(12, 5)]);
            assert_eq!((c.local(), c.remote()), (local, remote));
            // New endpoints of either family keep the owners.
            for (l, r) in [(v6(7), v6(8)), (v4(7), v4(8)), (local, remote)] {
                c.set_endpoints(l, r);
                assert_eq!((c.local(), c.remote()), (l, r));
                assert_eq!(c.owners().len(), 3);
            }
            c.set_owners([owner(20, 6)]);
            assert_eq!(c.owners(), [owner(20, 6)]);
            c.set_owners([]);
            assert!(c.owners().is_empty());
            // Pid 0 (a hand-written snapshot) is kept too, not taken for "none".
            c.set_owners([owner(0, 0)]);
            assert_eq!(c.owners(), [owner(0, 0)]);
            c.push_owner(owner(5, 1));
            assert_eq!(c.owners(), [owner(0, 0), owner(5, 1)]);
            assert_eq!((c.local(), c.remote()), (local, remote));
        }
    }

    #[test]
    fn the_timer_comes_back_as_set() {
        let mut c = Connection::example();
        assert_eq!(c.timer(), None);
        let timer = KernelTimer {
            kind: TimerKind::Keepalive,
            expires_ms: 7_000,
            retrans: 3,
        };
        c.set_timer(Some(timer));
        assert_eq!(c.timer(), Some(timer));
        c.set_timer(None);
        assert_eq!(c.timer(), None);
    }

    #[test]
    fn endpoints_of_either_family_come_back_as_given() {
        let e = |s: &str| -> Endpoint {
            let (ip, port) = s.rsplit_once(':').unwrap();
            let ip: IpAddr = ip.trim_matches(|c| c == '[' || c == ']').parse().unwrap();
            Endpoint {
                ip,
                port: port.parse().unwrap(),
            }
        };
        for (local, remote) in [
            ("192.0.2.1:40000", "198.51.100.7:443"),
            ("[2001:db8::1]:40000", "[2001:db8::2]:443"),
            ("0.0.0.0:80", "[::]:0"),
        ] {
            let c = Connection::new(TcpState::Established, e(local), e(remote));
            assert_eq!((c.local(), c.remote()), (e(local), e(remote)));
        }
    }

    #[test]
    fn tcp_info_and_its_missing_fields_come_back_as_given() {
        let mut c = Connection::example();
        assert_eq!((c.tcp_info(), c.idle_ms()), (None, None));
        let full = TcpInfo::parse(&[7u8; 232]);
        let short = TcpInfo::parse(&[7u8; 130]);
        assert_eq!(
            (short.bytes_acked.is_some(), short.bytes_received),
            (true, None)
        );
        for info in [full, short, TcpInfo::default()] {
            c.set_tcp_info(Some(info));
            assert_eq!(c.tcp_info(), Some(info));
        }
        c.set_tcp_info(None);
        assert_eq!(c.tcp_info(), None);
    }

    #[test]
    fn owners_keep_their_order() {
        let o = |pid| Owner { pid, fd: 3 };
        let mut c = Connection::example();
        for pid in [20, 10, 30] {
            c.push_owner(o(pid));
        }
        assert_eq!(
            c.owners().iter().map(|o| o.pid).collect::<Vec<_>>(),
            [20, 10, 30]
        );
    }

    #[test]
    fn the_cookie_and_the_namespace_are_unknown_at_zero() {
        let mut c = Connection::example();
        assert_eq!((c.cookie(), c.netns()), (None, None));
        c.set_cookie(Some(77));
        c.set_netns(Some(4026531840)).unwrap();
        assert_eq!((c.cookie(), c.netns()), (Some(77), Some(4026531840)));
        assert!(
            c.set_netns(Some(1 << 40)).is_err(),
            "wider than the kernel's inodes"
        );
    }
}
