//! Aborting TCP connections from outside their process: sock_diag's SOCK_DESTROY, one request
//! per socket, addressed by its 4-tuple **and its socket cookie**. The kernel looks the socket
//! up by the 4-tuple and refuses (ENOENT) when the cookie does not match, so a connection
//! closed and replaced by another with the same addresses since the scan is never hit. A
//! destroyed socket is reset (RST to the peer) and every call blocked on it fails at once with
//! ECONNABORTED; the process keeps its descriptor and goes on.
//!
//! Needs CAP_NET_ADMIN in the socket's network namespace (else EPERM) and a kernel built with
//! CONFIG_INET_DIAG_DESTROY (else EOPNOTSUPP; `ss -K` needs the same). Another namespace is
//! entered by a short-lived thread, as the scan does; the calling thread never moves.

use super::sockdiag;
use crate::deadline::Deadline;
use crate::snapshot::Endpoint;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::{
    constants::{AF_INET, AF_INET6, IPPROTO_TCP},
    inet::{ExtensionFlags, InetRequest, SocketId, StateFlags},
    message::SockDiagDestroy,
    SockDiagMessage,
};
use netlink_sys::Socket;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;

/// The capability SOCK_DESTROY needs (linux/capability.h).
pub(crate) const NET_ADMIN: (u32, &str) = (12, "CAP_NET_ADMIN");

/// One socket to destroy: its addresses as the scan saw them (IPv4-mapped addresses as
/// IPv4) and its cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketRef {
    pub local: Endpoint,
    pub remote: Endpoint,
    pub cookie: u64,
}

/// The SOCK_DESTROY request for one socket: an `inet_diag_req_v2` with its 4-tuple and
/// cookie, sent with REQUEST|ACK (no DUMP). An IPv4 pair is asked as AF_INET: the kernel finds
/// IPv6 sockets talking to IPv4 peers (`::ffff:a.b.c.d`) by their IPv4 addresses as well.
pub(crate) fn request(socket: &SocketRef, sequence: u32) -> Vec<u8> {
    let (family, local, remote) = match (socket.local.ip, socket.remote.ip) {
        (IpAddr::V4(l), IpAddr::V4(r)) => (AF_INET, IpAddr::V4(l), IpAddr::V4(r)),
        (l, r) => (AF_INET6, IpAddr::V6(as_v6(l)), IpAddr::V6(as_v6(r))),
    };
    let mut socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    socket_id.source_address = local;
    socket_id.source_port = socket.local.port;
    socket_id.destination_address = remote;
    socket_id.destination_port = socket.remote.port;
    // The cookie as sock_diag gave it: two native-endian u32 halves, read as one u64.
    socket_id.cookie = socket.cookie.to_ne_bytes();
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    header.sequence_number = sequence;
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagDestroy::new(SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id,
        }))
        .into(),
    );
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf[..]);
    buf
}

fn as_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The kernel's answer to request `sequence`: `Ok` for its ack, the error it sent otherwise.
/// Other messages (an answer to an earlier request that timed out) are skipped.
fn answer(socket: &Socket, sequence: u32) -> std::io::Result<()> {
    let mut buf = vec![0u8; 8192];
    loop {
        let size = match socket.recv(&mut &mut buf[..], 0) {
            Ok(size) => size,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "sock_diag gave no answer to the destroy request",
                ))
            }
            Err(err) => return Err(err),
        };
        if let Some(result) = parse_answer(&buf[..size], sequence) {
            return result;
        }
    }
}

/// The ack or error for `sequence` in one datagram, if it holds one.
pub(crate) fn parse_answer(data: &[u8], sequence: u32) -> Option<std::io::Result<()>> {
    let mut offset = 0;
    while offset < data.len() {
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(&data[offset..]).ok()?;
        let length = message.header.length as usize;
        if message.header.sequence_number == sequence {
            if let NetlinkPayload::Error(err) = message.payload {
                return Some(match err.code {
                    None => Ok(()),
                    // The kernel sends -errno; any other value must not overflow.
                    Some(code) => Err(std::io::Error::from_raw_os_error(
                        code.get().saturating_neg(),
                    )),
                });
            }
        }
        let step = (length + 3) & !3;
        if step == 0 {
            return None;
        }
        offset += step;
    }
    None
}

/// Destroys `sockets` in the calling thread's network namespace, one request each, until
/// `deadline` passes or an answer says no request can succeed (EOPNOTSUPP). Returns each
/// socket's answer, `None` for those not sent. Fails only when sock_diag cannot be opened.
pub fn destroy_here(
    sockets: &[SocketRef],
    deadline: &Deadline,
) -> std::io::Result<Vec<Option<std::io::Result<()>>>> {
    let netlink = sockdiag::open()?;
    let mut answers = Vec::with_capacity(sockets.len());
    let mut stop = false;
    for (index, socket) in sockets.iter().enumerate() {
        if stop || deadline.passed() {
            answers.push(None);
            continue;
        }
        // Sequence numbers from 1: an answer to an earlier request is never mistaken.
        let sequence = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let result = netlink
            .send(&request(socket, sequence), 0)
            .and_then(|_| answer(&netlink, sequence));
        stop = matches!(&result, Err(err) if err.raw_os_error() == Some(libc::EOPNOTSUPP));
        answers.push(Some(result));
    }
    Ok(answers)
}

/// Runs `work` in a network namespace: here when `file` is None, else on a short-lived
/// thread that entered the namespace (the calling thread never moves).
pub(crate) fn in_namespace<T: Send>(
    file: Option<&File>,
    work: impl FnOnce() -> std::io::Result<T> + Send,
) -> std::io::Result<T> {
    let Some(file) = file else {
        return work();
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("stuckconn-destroy".to_string())
            .spawn_scoped(scope, || {
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )?;
                work()
            })?
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread failed")))
    })
}

/// Destroys `sockets` in the network namespace at `netns` (a `/run/netns/NAME` or
/// `/proc/PID/ns/net` file; None: the caller's own), without a deadline. What `abort` does
/// for each namespace, for programs and tests that hold a plan of their own.
pub fn destroy_at(
    netns: Option<&Path>,
    sockets: &[SocketRef],
) -> std::io::Result<Vec<std::io::Result<()>>> {
    let file = netns.map(super::netns::open_netns).transpose()?;
    let answers = in_namespace(file.as_ref().map(|(f, _)| f), || {
        destroy_here(sockets, &Deadline::none())
    })?;
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(std::io::Error::from_raw_os_error(libc::EOPNOTSUPP))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(local: &str, remote: &str, cookie: u64) -> SocketRef {
        let endpoint = |text: &str| {
            let addr: std::net::SocketAddr = text.parse().unwrap();
            Endpoint::normalized(addr.ip(), addr.port())
        };
        SocketRef {
            local: endpoint(local),
            remote: endpoint(remote),
            cookie,
        }
    }

    #[test]
    fn the_request_is_sock_destroy_with_the_four_tuple_and_the_cookie() {
        let s = socket("192.0.2.1:40000", "192.0.2.100:80", 0x0102_0304_0506_0708);
        let raw = request(&s, 7);
        let u16_at = |i: usize| u16::from_ne_bytes([raw[i], raw[i + 1]]);
        let u32_at = |i: usize| u32::from_ne_bytes(raw[i..i + 4].try_into().unwrap());
        // nlmsghdr: length, type SOCK_DESTROY (21), flags REQUEST|ACK, sequence.
        assert_eq!(u32_at(0) as usize, raw.len());
        assert_eq!(raw.len(), 16 + 56, "nlmsghdr + inet_diag_req_v2");
        assert_eq!(u16_at(4), 21);
        assert_eq!(u16_at(6), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32_at(8), 7);
        // inet_diag_req_v2: family, protocol, ext, pad, states, then the socket id.
        assert_eq!(raw[16], AF_INET);
        assert_eq!(raw[17], IPPROTO_TCP);
        let id = 24;
        assert_eq!(&raw[id..id + 2], &40000u16.to_be_bytes(), "source port");
        assert_eq!(
            &raw[id + 2..id + 4],
            &80u16.to_be_bytes(),
            "destination port"
        );
        assert_eq!(&raw[id + 4..id + 8], &[192, 0, 2, 1]);
        assert_eq!(&raw[id + 20..id + 24], &[192, 0, 2, 100]);
        assert_eq!(u32_at(id + 36), 0, "any interface");
        assert_eq!(
            &raw[id + 40..id + 48],
            &0x0102_0304_0506_0708u64.to_ne_bytes(),
            "the cookie, in the byte order sock_diag gave it"
        );
    }

    #[test]
    fn ipv6_pairs_are_asked_as_ipv6() {
        let raw = request(&socket("[2001:db8::1]:5000", "[2001:db8::2]:443", 9), 1);
        assert_eq!(raw[16], AF_INET6);
        let local: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(&raw[24 + 4..24 + 20], &local.octets());
        // A mixed pair (never seen: the scan normalises both ends) goes as IPv4-mapped IPv6.
        let raw = request(&socket("192.0.2.1:5000", "[2001:db8::2]:443", 9), 1);
        assert_eq!(raw[16], AF_INET6);
        let mapped = std::net::Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped();
        assert_eq!(&raw[24 + 4..24 + 20], &mapped.octets());
    }

    fn ack(sequence: u32, code: i32) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&36u32.to_ne_bytes());
        raw.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
        raw.extend_from_slice(&0u16.to_ne_bytes());
        raw.extend_from_slice(&sequence.to_ne_bytes());
        raw.extend_from_slice(&0u32.to_ne_bytes());
        raw.extend_from_slice(&code.to_ne_bytes());
        raw.extend_from_slice(&[0u8; 16]); // the request's header
        raw
    }

    #[test]
    fn acks_and_errors_are_read_for_their_own_request() {
        assert!(matches!(parse_answer(&ack(3, 0), 3), Some(Ok(()))));
        let err = parse_answer(&ack(3, -libc::ENOENT), 3)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(
            parse_answer(&ack(2, 0), 3).is_none(),
            "another request's ack"
        );
        let mut two = ack(2, -libc::EPERM);
        two.extend(ack(3, 0));
        assert!(matches!(parse_answer(&two, 3), Some(Ok(()))));
        let odd = parse_answer(&ack(1, i32::MIN), 1).unwrap().unwrap_err();
        assert!(
            odd.raw_os_error().is_some(),
            "i32::MIN is an error, not a panic"
        );
        assert!(parse_answer(&[1, 2, 3], 1).is_none());
    }
}
