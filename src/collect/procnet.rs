//! The fallback socket list when sock_diag is unavailable: /proc/net/tcp and /proc/net/tcp6.
//! These carry no tcp_info, so idle times, byte counts and retransmissions are unknown.

use crate::snapshot::{Connection, Endpoint, KernelTimer, TcpState};
use std::collections::HashMap;

/// Reads both tables. A table that cannot be read is reported in `warnings`.
pub(crate) fn read(warnings: &mut Vec<String>) -> Vec<Connection> {
    let mut connections = Vec::new();
    for (name, table) in [
        ("/proc/net/tcp", procfs::net::tcp()),
        ("/proc/net/tcp6", procfs::net::tcp6()),
    ] {
        match table {
            Ok(entries) => connections.extend(entries.into_iter().map(|e| {
                let mut c = Connection::new(
                    TcpState::from_kernel(e.state as u8),
                    Endpoint::normalized(e.local_address.ip(), e.local_address.port()),
                    Endpoint::normalized(e.remote_address.ip(), e.remote_address.port()),
                );
                // The kernel's socket inodes are 32 bits wide.
                c.inode = u32::try_from(e.inode).unwrap_or(0);
                c.uid = e.uid;
                c.recv_q = e.rx_queue;
                c.send_q = e.tx_queue;
                c
            })),
            Err(err) => warnings.push(format!("could not read {name}: {err}")),
        }
    }
    let timers = timers();
    for c in connections.iter_mut().filter(|c| c.inode != 0) {
        c.set_timer(timers.get(&u64::from(c.inode)).copied());
    }
    connections
}

/// The kernel timers of the sockets in both tables, by inode: procfs's parser does not keep
/// them, so the tables are read once more (only on this fallback path).
fn timers() -> HashMap<u64, KernelTimer> {
    let ticks = procfs::ticks_per_second();
    let mut timers = HashMap::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        // Line by line: the table of a busy host is tens of megabytes.
        timers.extend(
            std::io::BufRead::lines(std::io::BufReader::new(file))
                .map_while(Result::ok)
                .skip(1)
                .filter_map(|line| timer_from_proc_net(&line, ticks)),
        );
    }
    timers
}

/// The timer of one line of /proc/net/tcp{,6} (the collector without sock_diag): `tr` and
/// `tm->when` (clock ticks, `ticks_per_sec` a second: USER_HZ, 100), `retrnsmt` (retransmits)
/// and `timeout` (the kernel's `icsk_probes_out`), with the socket's inode.
pub fn timer_from_proc_net(line: &str, ticks_per_sec: u64) -> Option<(u64, KernelTimer)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (tr, when) = f.get(5)?.split_once(':')?;
    let tr = u8::from_str_radix(tr, 16).ok()?;
    let ticks = u64::from_str_radix(when, 16).ok()?;
    let retransmits = u8::try_from(u64::from_str_radix(f.get(6)?, 16).ok()?).unwrap_or(u8::MAX);
    let probes = u8::try_from(f.get(8)?.parse::<u64>().ok()?).unwrap_or(u8::MAX);
    let inode = f.get(9)?.parse().ok()?;
    let ms = u32::try_from(ticks.saturating_mul(1000) / ticks_per_sec.max(1)).unwrap_or(u32::MAX);
    let count = if tr == 1 { retransmits } else { probes };
    Some((inode, KernelTimer::from_raw(tr, ms, count)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::TimerKind;

    #[test]
    fn timers_from_proc_net() {
        // A keepalive client and its listener, as measured (USER_HZ 100).
        let ka = "   2: 0100007F:97B2 0100007F:96F7 01 00000000:00000000 02:00000033 00000000     0        0 3336896 2 00000000bed91a1f 20 0 0 11 -1";
        let (inode, t) = timer_from_proc_net(ka, 100).unwrap();
        assert_eq!(inode, 3336896);
        assert_eq!(
            t,
            KernelTimer {
                kind: TimerKind::Keepalive,
                expires_ms: 510,
                retrans: 0
            }
        );
        let none = "   1: 0100007F:96F7 0100007F:97B2 01 00000000:00000000 00:00000000 00000000     0        0 3336841 1 00000000b7cea793 20 4 30 10 -1";
        assert_eq!(
            timer_from_proc_net(none, 100).unwrap().1.kind,
            TimerKind::Off
        );
        let retrans = "   3: 0100007F:97B2 0100007F:96F7 01 00000010:00000000 01:0000002A 00000003     0        0 3336897 2 00000000bed91a1f 20 0 0 11 -1";
        let (_, t) = timer_from_proc_net(retrans, 100).unwrap();
        assert_eq!(
            (t.kind, t.expires_ms, t.retrans),
            (TimerKind::Retransmit, 420, 3)
        );
        assert_eq!(
            timer_from_proc_net("  sl  local_address rem_address   st", 100),
            None
        );
    }
}
