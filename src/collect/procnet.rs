//! The fallback socket list when sock_diag is unavailable: /proc/net/tcp and /proc/net/tcp6.
//! These carry no tcp_info, so idle times, byte counts and retransmissions are unknown.

use crate::snapshot::{Connection, Endpoint, TcpState};

/// Reads both tables. A table that cannot be read is reported in `warnings`.
pub(crate) fn read(warnings: &mut Vec<String>) -> Vec<Connection> {
    let mut connections = Vec::new();
    for (name, table) in [
        ("/proc/net/tcp", procfs::net::tcp()),
        ("/proc/net/tcp6", procfs::net::tcp6()),
    ] {
        match table {
            Ok(entries) => connections.extend(entries.into_iter().map(|e| Connection {
                state: TcpState::from_kernel(e.state as u8),
                local: Endpoint::normalized(e.local_address.ip(), e.local_address.port()),
                remote: Endpoint::normalized(e.remote_address.ip(), e.remote_address.port()),
                inode: e.inode,
                uid: e.uid,
                cookie: None,
                recv_q: e.rx_queue,
                send_q: e.tx_queue,
                tcp_info: None,
                owners: Default::default(),
                blocked_threads: Vec::new(),
                netns: None,
            })),
            Err(err) => warnings.push(format!("could not read {name}: {err}")),
        }
    }
    connections
}
