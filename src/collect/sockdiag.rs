//! The TCP socket dump over NETLINK_SOCK_DIAG: one request per address family,
//! with INET_DIAG_INFO (tcp_info, as raw bytes) for every socket.

use crate::snapshot::{Connection, Endpoint, KernelTimer, Limits, TcpInfo, TcpState, TimerKind};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::{
    constants::{AF_INET, AF_INET6, IPPROTO_TCP},
    inet::{nlas::Nla, ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags},
    SockDiagMessage,
};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};
use std::time::Duration;

/// Receive buffer: large enough that a dump of thousands of sockets takes few datagrams,
/// and that 64 KiB-page kernels never truncate one.
const RECV_BUF: usize = 64 * 1024;
/// No single receive may block longer than this: the kernel answers a dump in milliseconds.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// What one dump produced: the sockets, and what went wrong without stopping it.
#[derive(Default)]
pub struct Dump {
    pub connections: Vec<Connection>,
    pub warnings: Vec<String>,
    /// Sockets whose tcp_info was shorter than the fields the analysis reads.
    pub short_info: usize,
    /// The kernel flagged the dump as interrupted (NLM_F_DUMP_INTR): sockets changed meanwhile.
    pub interrupted: bool,
    /// The namespace's TCP limits, read by the thread that dumped it.
    pub limits: Option<Limits>,
}

impl Dump {
    /// Moves `other`'s sockets and warnings into this dump (keeping this vector when it has
    /// sockets, else taking `other`'s: no copy of a dump's sockets while it is alive).
    pub(crate) fn absorb(&mut self, mut other: Dump) {
        if self.connections.is_empty() {
            std::mem::swap(&mut self.connections, &mut other.connections);
        } else {
            self.connections.append(&mut other.connections);
        }
        self.warnings.extend(other.warnings);
        self.short_info += other.short_info;
    }
}

/// Errors worth one more try: the receive buffer overflowed (ENOBUFS), a signal (EINTR).
fn retryable(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOBUFS) | Some(libc::EINTR) | Some(libc::EBUSY)
    )
}

/// Runs a dump; when it fails with a retryable error or comes back interrupted, runs it once
/// more. A second failure keeps what the first saw, with a warning: the scan goes on.
pub(crate) fn with_retry(
    mut attempt: impl FnMut() -> std::io::Result<Dump>,
) -> std::io::Result<Dump> {
    let first = match attempt() {
        Ok(dump) if !dump.interrupted => return Ok(dump),
        Err(err) if !retryable(&err) => return Err(err),
        other => other,
    };
    match attempt() {
        Ok(mut dump) => {
            if dump.interrupted {
                dump.warnings.push(
                    "the socket list changed during the sock_diag dump, twice; it may be incomplete"
                        .to_string(),
                );
            }
            Ok(dump)
        }
        Err(err) => {
            let mut dump = first.unwrap_or_default();
            dump.warnings.push(format!(
                "the sock_diag dump failed twice ({err}); the socket list may be incomplete"
            ));
            Ok(dump)
        }
    }
}

/// Opens the netlink socket. Failing here means sock_diag is unavailable.
pub fn open() -> std::io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    set_recv_timeout(&socket, RECV_TIMEOUT)?;
    Ok(socket)
}

fn set_recv_timeout(socket: &Socket, timeout: Duration) -> std::io::Result<()> {
    rustix::net::sockopt::set_socket_timeout(
        socket,
        rustix::net::sockopt::Timeout::Recv,
        Some(timeout),
    )?;
    Ok(())
}

/// Dumps every TCP socket of the calling thread's network namespace, on a socket of its own,
/// with the namespace's TCP limits.
pub fn dump_here() -> std::io::Result<Dump> {
    let socket = open()?;
    let mut dump = Dump::default();
    // Room for the sockets the namespace counts, and a few more that may open meanwhile: a
    // vector grown by doubling would hold up to twice its sockets' memory (at 200,000 sockets,
    // 262,144 places: 6 MiB more).
    if let Some(n) = sockets_counted() {
        dump.connections.reserve_exact(n + n / 32 + 64);
    }
    dump_all(&socket, &mut dump)?;
    dump.limits = Some(limits_here());
    Ok(dump)
}

/// The TCP sockets of the calling thread's network namespace as the kernel counts them
/// (/proc/net/sockstat and sockstat6: in use, both families, and TIME-WAIT); `None` when
/// unreadable, and never more than 16 million.
fn sockets_counted() -> Option<usize> {
    let count = |file: &str, prefix: &str, fields: &[&str]| -> Option<usize> {
        let text = std::fs::read_to_string(format!("/proc/thread-self/net/{file}")).ok()?;
        let line = text.lines().find_map(|l| l.strip_prefix(prefix))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut n = 0usize;
        for field in fields {
            let at = words.iter().position(|w| w == field)?;
            n = n.saturating_add(words.get(at + 1)?.parse::<usize>().ok()?);
        }
        Some(n)
    };
    let v4 = count("sockstat", "TCP:", &["inuse", "tw"])?;
    let v6 = count("sockstat6", "TCP6:", &["inuse"]).unwrap_or(0);
    Some(v4.saturating_add(v6).min(1 << 24))
}

/// The TCP limits of the calling thread's network namespace: /proc/sys/net shows the
/// namespace of the thread that opens it. The kernel's defaults where unreadable.
pub(crate) fn limits_here() -> Limits {
    let read = |name: &str, default: u32| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(default)
    };
    let d = Limits::default();
    Limits {
        tcp_retries2: read("tcp_retries2", d.tcp_retries2),
        tcp_syn_retries: read("tcp_syn_retries", d.tcp_syn_retries),
    }
}

/// Dumps every TCP socket of both families into `dump`. A family that fails is warned about;
/// the other one is still dumped. Returns an error only if neither family could be dumped.
pub(crate) fn dump_all(socket: &Socket, dump: &mut Dump) -> std::io::Result<()> {
    let mut failures = Vec::new();
    for family in [AF_INET, AF_INET6] {
        let mut tries = 0;
        let result = with_retry(|| {
            tries += 1;
            // After a failure mid-dump the socket may still hold its rest: retry on a fresh one.
            let fresh;
            let socket = if tries == 1 {
                socket
            } else {
                fresh = open()?;
                &fresh
            };
            let mut part = Dump::default();
            dump_family(socket, family, &mut part).map(|()| part)
        });
        match result {
            Ok(part) => dump.absorb(part),
            Err(err) => failures.push(err),
        }
    }
    match failures.len() {
        2 => Err(failures.remove(0)),
        1 => {
            dump.warnings.push(format!(
                "sock_diag dump of one address family failed ({}); its sockets are missing",
                failures[0]
            ));
            Ok(())
        }
        _ => Ok(()),
    }
}

fn request(family: u8) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::INFO,
            states: StateFlags::all(),
            socket_id,
        })
        .into(),
    );
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf[..]);
    buf
}

fn dump_family(socket: &Socket, family: u8, dump: &mut Dump) -> std::io::Result<()> {
    socket.send(&request(family), 0)?;
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let size = match socket.recv(&mut &mut buf[..], 0) {
            Ok(size) => size,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) {
                    dump.warnings.push(format!(
                        "sock_diag gave no answer within {}s; the socket list may be incomplete",
                        RECV_TIMEOUT.as_secs()
                    ));
                    return Ok(());
                }
                return Err(err);
            }
        };
        if size == 0 {
            return Ok(());
        }
        match parse_datagram(&buf[..size], dump) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(err) => return Err(err),
        }
    }
}

/// Parses one received datagram (several netlink messages). Returns `Ok(true)` at NLMSG_DONE.
pub fn parse_datagram(data: &[u8], dump: &mut Dump) -> std::io::Result<bool> {
    let mut offset = 0;
    while offset < data.len() {
        let bytes = &data[offset..];
        let message = match NetlinkMessage::<SockDiagMessage>::deserialize(bytes) {
            Ok(message) => message,
            Err(err) => {
                dump.warnings.push(format!(
                    "could not decode a sock_diag message ({err}); the rest of that batch is skipped"
                ));
                return Ok(false);
            }
        };
        let length = message.header.length as usize;
        if message.header.flags & NLM_F_DUMP_INTR != 0 {
            dump.interrupted = true;
        }
        match message.payload {
            NetlinkPayload::Done(_) => return Ok(true),
            NetlinkPayload::Error(err) => {
                return Err(err
                    .code
                    // The kernel sends -errno; any other value (i32::MIN) must not overflow.
                    .map(|code| std::io::Error::from_raw_os_error(code.get().saturating_neg()))
                    .unwrap_or_else(|| std::io::Error::other("sock_diag error")));
            }
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                let connection = connection_from(&response, &mut dump.short_info);
                dump.connections.push(connection);
            }
            _ => {}
        }
        // Messages are 4-byte aligned; a zero length would never advance.
        let step = (length + 3) & !3;
        if step == 0 {
            return Ok(false);
        }
        offset += step;
    }
    Ok(false)
}

fn connection_from(response: &InetResponse, short_info: &mut usize) -> Connection {
    let h = &response.header;
    let id = &h.socket_id;
    let tcp_info = response.nlas.iter().find_map(|nla| match nla {
        Nla::TcpInfo(raw) => Some(TcpInfo::parse(raw)),
        _ => None,
    });
    if let Some(info) = &tcp_info {
        if (info.info_len as usize) < TcpInfo::BASE_LEN + 40 {
            *short_info += 1;
        }
    }
    let cookie = u64::from_ne_bytes(id.cookie);
    let timer = timer_of(h.timer.as_ref(), tcp_info.as_ref().map(|i| i.probes));
    let mut c = Connection::new(
        TcpState::from_kernel(h.state),
        Endpoint::normalized(id.source_address, id.source_port),
        Endpoint::normalized(id.destination_address, id.destination_port),
    );
    c.inode = h.inode;
    c.uid = h.uid;
    c.set_cookie(Some(cookie));
    c.recv_q = h.recv_queue;
    c.send_q = h.send_queue;
    c.set_tcp_info(tcp_info);
    c.set_timer(Some(timer));
    c
}

/// The socket's timer from netlink-packet-sock-diag's `InetResponseHeader::timer`. The crate
/// keeps the count only for retransmit timers: for keepalive and zero-window timers
/// `retrans` is taken from tcp_info's `probes` (the same kernel counter), when known.
fn timer_of(
    timer: Option<&netlink_packet_sock_diag::inet::Timer>,
    probes: Option<u8>,
) -> KernelTimer {
    use netlink_packet_sock_diag::inet::Timer;
    let ms = |d: &std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    let (kind, expires_ms, retrans) = match timer {
        None => (TimerKind::Off, 0, 0),
        Some(Timer::Retransmit(d, n)) => (TimerKind::Retransmit, ms(d), *n),
        Some(Timer::KeepAlive(d)) => (TimerKind::Keepalive, ms(d), probes.unwrap_or(0)),
        Some(Timer::TimeWait) => (TimerKind::TimeWait, 0, 0),
        Some(Timer::Probe(d)) => (TimerKind::ZeroWindowProbe, ms(d), probes.unwrap_or(0)),
    };
    KernelTimer {
        kind,
        expires_ms,
        retrans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enobufs() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::ENOBUFS)
    }

    /// A dump that saw `n` sockets (counted in `short_info` for these tests).
    fn seen(n: usize, interrupted: bool) -> Dump {
        Dump {
            short_info: n,
            interrupted,
            ..Dump::default()
        }
    }

    #[test]
    fn a_failure_mid_dump_is_retried_once() {
        let mut calls = 0;
        let dump = with_retry(|| {
            calls += 1;
            if calls == 1 {
                Err(enobufs())
            } else {
                Ok(seen(7, false))
            }
        })
        .unwrap();
        assert_eq!((calls, dump.short_info), (2, 7));
        assert!(dump.warnings.is_empty());
    }

    #[test]
    fn two_failures_warn_and_keep_going() {
        let mut calls = 0;
        let dump = with_retry(|| {
            calls += 1;
            if calls == 1 {
                Ok(seen(3, true))
            } else {
                Err(enobufs())
            }
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert_eq!(dump.short_info, 3, "what the first attempt saw is kept");
        assert!(dump.warnings[0].contains("failed twice"));
    }

    #[test]
    fn an_interrupted_dump_is_redone() {
        let mut calls = 0;
        let dump = with_retry(|| {
            calls += 1;
            Ok(seen(calls, calls == 1))
        })
        .unwrap();
        assert_eq!((calls, dump.short_info), (2, 2));
    }

    /// Found by the fuzzer (fuzz/ sock_diag): an error message with code i32::MIN.
    #[test]
    fn an_error_code_of_i32_min_is_an_error_not_a_panic() {
        let mut raw = Vec::new();
        raw.extend_from_slice(&36u32.to_ne_bytes()); // length
        raw.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
        raw.extend_from_slice(&[0u8; 10]); // flags, seq, pid
        raw.extend_from_slice(&i32::MIN.to_ne_bytes());
        raw.extend_from_slice(&[0u8; 16]); // the request's header
        let mut dump = Dump::default();
        assert!(parse_datagram(&raw, &mut dump).is_err());
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut calls = 0;
        let err = with_retry(|| {
            calls += 1;
            Err(std::io::Error::from_raw_os_error(libc::EPERM))
        });
        assert!(err.is_err());
        assert_eq!(calls, 1);
    }
}
