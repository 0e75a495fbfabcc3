//! The socket options another process set on its socket: receive and send timeouts,
//! keepalive and its timers, `TCP_USER_TIMEOUT`.
//!
//! How: `pidfd_open(pid)`, then `pidfd_getfd(pidfd, fd)` (Linux 5.6+) duplicates the process's
//! descriptor into ours; `getsockopt` reads the options from the duplicate, which is closed at
//! once. Closing the duplicate does not close the process's socket, and nothing is ever set.
//! `pidfd_getfd` needs the same permission as attaching with ptrace
//! (`PTRACE_MODE_ATTACH_REALCREDS`: the same user without Yama restrictions, or
//! `CAP_SYS_PTRACE`); without it every reading is [`Unreadable::Denied`] with the capability
//! that is missing, never a guessed value.
//!
//! One side effect of receiving a socket descriptor exists in the kernel: it re-tags the socket
//! with the receiver's cgroup v1 `net_cls` class id and `net_prio` index (`__receive_sock`).
//! Where those v1 controllers are mounted and the process is in another `net_cls`/`net_prio`
//! group than this one, the duplicate would change how the process's traffic is classified:
//! then nothing is duplicated and the reading is [`Unreadable::WouldRetag`].

use crate::collect::caps;
pub use crate::snapshot::{SocketOptions, Unreadable};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::sockopt;

/// Why reading failed, from the error of `pidfd_getfd` or `getsockopt`.
fn unreadable(err: Errno) -> Unreadable {
    match err {
        Errno::PERM | Errno::ACCESS => Unreadable::Denied {
            missing: caps::missing(&[caps::SYS_PTRACE]),
        },
        Errno::SRCH | Errno::BADF => Unreadable::Gone,
        Errno::NOTSOCK | Errno::NOPROTOOPT | Errno::OPNOTSUPP => Unreadable::NotTcp,
        Errno::NOSYS => Unreadable::Unsupported,
        other => Unreadable::Failed {
            error: std::io::Error::from(other).to_string(),
        },
    }
}

/// A handle on one process, to read the options of several of its sockets with one pidfd.
#[derive(Debug)]
pub struct Reader {
    pid: u32,
    pidfd: OwnedFd,
}

impl Reader {
    /// Opens the process (`pidfd_open`). Fails when it is gone, when the kernel is too old, or
    /// when duplicating its sockets would re-tag them (see the module's documentation).
    pub fn open(pid: u32) -> Result<Reader, Unreadable> {
        let raw = i32::try_from(pid).map_err(|_| Unreadable::Gone)?;
        let pid_ = rustix::process::Pid::from_raw(raw).ok_or(Unreadable::Gone)?;
        if would_retag(pid) {
            return Err(Unreadable::WouldRetag);
        }
        let pidfd = rustix::process::pidfd_open(pid_, rustix::process::PidfdFlags::empty())
            .map_err(unreadable)?;
        Ok(Reader { pid, pidfd })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The options of the process's descriptor `fd`. The duplicate lives only inside this
    /// call.
    pub fn read(&self, fd: u32) -> Result<SocketOptions, Unreadable> {
        let target = i32::try_from(fd).map_err(|_| Unreadable::Gone)?;
        let dup = rustix::process::pidfd_getfd(
            &self.pidfd,
            target,
            rustix::process::PidfdGetfdFlags::empty(),
        )
        .map_err(unreadable)?;
        let options = options_of(&dup);
        drop(dup);
        options.map_err(unreadable)
    }
}

/// Reads the options of `pid`'s descriptor `fd` (one pidfd, one duplicate, both closed
/// before returning).
pub fn read(pid: u32, fd: u32) -> Result<SocketOptions, Unreadable> {
    Reader::open(pid)?.read(fd)
}

/// Reads the options of several descriptors of one process with one pidfd. When the process
/// itself cannot be opened, every descriptor gets that reason.
pub fn read_many(pid: u32, fds: &[u32]) -> Vec<(u32, Result<SocketOptions, Unreadable>)> {
    match Reader::open(pid) {
        Ok(reader) => fds.iter().map(|&fd| (fd, reader.read(fd))).collect(),
        Err(why) => fds.iter().map(|&fd| (fd, Err(why.clone()))).collect(),
    }
}

/// The options of a socket this process holds (a duplicate, or one of its own). A TCP option
/// is read first: on anything but a TCP socket it fails (ENOTSOCK, EOPNOTSUPP, ENOPROTOOPT),
/// which makes checking the socket's type and family first unnecessary. The keepalive timers
/// are read only when keepalive is on (4 or 7 getsockopt calls in all).
pub fn options_of(fd: impl AsFd) -> Result<SocketOptions, Errno> {
    let fd = fd.as_fd();
    let ms = |d: Option<std::time::Duration>| {
        d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let secs = |d: std::time::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    let user_timeout_ms = Some(sockopt::tcp_user_timeout(fd)?).filter(|&ms| ms > 0);
    let keepalive = sockopt::socket_keepalive(fd)?;
    let (keepidle_secs, keepintvl_secs, keepcnt) = if keepalive {
        (
            Some(secs(sockopt::tcp_keepidle(fd)?)),
            Some(secs(sockopt::tcp_keepintvl(fd)?)),
            Some(sockopt::tcp_keepcnt(fd)?),
        )
    } else {
        (None, None, None)
    };
    Ok(SocketOptions {
        receive_timeout_ms: ms(sockopt::socket_timeout(fd, sockopt::Timeout::Recv)?),
        send_timeout_ms: ms(sockopt::socket_timeout(fd, sockopt::Timeout::Send)?),
        keepalive,
        keepidle_secs,
        keepintvl_secs,
        keepcnt,
        user_timeout_ms,
    })
}

/// Whether a socket received from `pid` would be re-tagged: the cgroup v1 net_cls or net_prio
/// controller is mounted and `pid` is in another group of it than this process.
fn would_retag(pid: u32) -> bool {
    // Controllers are mounted at boot, not while a scan runs: read /proc/cgroups once.
    static V1: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let v1 = *V1.get_or_init(|| {
        // No /proc/cgroups: no cgroup v1 controllers to worry about.
        std::fs::read_to_string("/proc/cgroups").is_ok_and(|c| v1_mounted(&c))
    });
    if !v1 {
        return false;
    }
    let read = |path: &str| crate::procfile::read_text(path, CGROUP_CAP);
    let ours = read("/proc/self/cgroup").unwrap_or_default();
    match read(&format!("/proc/{pid}/cgroup")) {
        Ok(theirs) => net_groups(&ours) != net_groups(&theirs),
        // Unknown: be careful.
        Err(_) => true,
    }
}

/// The most read of a /proc/PID/cgroup.
const CGROUP_CAP: u64 = 64 << 10;

/// Whether /proc/cgroups shows net_cls or net_prio on a cgroup v1 hierarchy (a hierarchy id
/// other than 0).
pub fn v1_mounted(proc_cgroups: &str) -> bool {
    proc_cgroups.lines().any(|line| {
        let mut words = line.split_whitespace();
        matches!(words.next(), Some("net_cls" | "net_prio"))
            && words.next().is_some_and(|hierarchy| hierarchy != "0")
    })
}

/// The lines of a /proc/PID/cgroup file that name the net_cls or net_prio controller.
pub fn net_groups(proc_pid_cgroup: &str) -> Vec<&str> {
    proc_pid_cgroup
        .lines()
        .filter(|line| {
            line.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|c| c == "net_cls" || c == "net_prio"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn own_socket_options_read_back() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(b"x").unwrap();
        let plain = options_of(&client).unwrap();
        assert_eq!(plain.receive_timeout_ms, None);
        assert!(!plain.keepalive);
        assert_eq!(plain.user_timeout_ms, None);

        client
            .set_read_timeout(Some(std::time::Duration::from_millis(1500)))
            .unwrap();
        sockopt::set_socket_keepalive(&client, true).unwrap();
        sockopt::set_tcp_keepidle(&client, std::time::Duration::from_secs(7)).unwrap();
        sockopt::set_tcp_user_timeout(&client, 4000).unwrap();
        let set = options_of(&client).unwrap();
        assert_eq!(set.receive_timeout_ms, Some(1500));
        assert!(set.keepalive);
        assert_eq!(set.keepidle_secs, Some(7));
        assert_eq!(plain.keepidle_secs, None, "not read with keepalive off");
        assert_eq!(set.user_timeout_ms, Some(4000));
        // And through pidfd_getfd on our own process (always allowed).
        let through = read(std::process::id(), client.as_raw_fd() as u32).unwrap();
        assert_eq!(through, set);
    }

    #[test]
    fn what_is_not_a_tcp_socket_says_so() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(
            read(std::process::id(), file.as_raw_fd() as u32),
            Err(Unreadable::NotTcp)
        );
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            read(std::process::id(), udp.as_raw_fd() as u32),
            Err(Unreadable::NotTcp)
        );
        let (unix, _other) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(
            read(std::process::id(), unix.as_raw_fd() as u32),
            Err(Unreadable::NotTcp)
        );
        // A descriptor number nobody uses.
        assert_eq!(read(std::process::id(), 999_999), Err(Unreadable::Gone));
    }

    #[test]
    fn cgroup_v1_net_controllers() {
        let unmounted = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
                         cpu\t1\t1\t1\nnet_cls\t0\t1\t1\nnet_prio\t0\t1\t1\n";
        assert!(!v1_mounted(unmounted));
        let mounted = "#subsys_name\thierarchy\tnum_cgroups\tenabled\nnet_cls\t9\t3\t1\n";
        assert!(v1_mounted(mounted));
        let ours = "9:net_cls,net_prio:/\n4:memory:/user.slice\n0::/user.slice\n";
        let theirs = "9:net_cls,net_prio:/tc/low\n4:memory:/system.slice\n0::/x\n";
        assert_eq!(net_groups(ours), vec!["9:net_cls,net_prio:/"]);
        assert_ne!(net_groups(ours), net_groups(theirs));
        assert_eq!(net_groups("0::/user.slice\n"), Vec::<&str>::new());
    }
}
