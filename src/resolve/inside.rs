//! A network namespace's own resolver: which one names what is seen from a namespace, and the
//! lookups made from inside it.
//!
//! - an `ip netns` namespace: `/etc/netns/NAME/resolv.conf` when it exists (what
//!   `ip netns exec` mounts over /etc/resolv.conf);
//! - a container (any namespace with a process in it): that process's own /etc/resolv.conf,
//!   opened in its root (`/proc/PID/root`, symbolic links resolved inside that root with
//!   openat2's `RESOLVE_IN_ROOT`), unless it is the host's own file;
//! - otherwise the host's resolver names the namespace's addresses.
//!
//! Each namespace has a thread of its own, which reads the file (only a regular file is opened,
//! `collect::regular`; at most 64 KiB), enters the namespace with setns, and asks the servers from
//! there: the addresses that answer only there (Docker's 127.0.0.11, a pod's cluster DNS) do.
//! The caller waits for the threads no longer than the batch's deadline; a thread that does
//! not come back (a read from a hung filesystem) is left behind.

use super::{source, status, DnsStatus, Lookups, Resolver, ResolverOptions};
use crate::collect::netns::open_netns;
use crate::deadline::{Deadline, TICK};
use crate::snapshot::Netns;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// The most of a resolv.conf that is read.
const CONF_CAP: u64 = 64 << 10;
/// How long a namespace may take to say whose resolver names it (reading one small file and
/// entering the namespace), within the batch's deadline.
pub(crate) const DECIDE_WITHIN: Duration = Duration::from_millis(500);

/// A namespace whose addresses want names.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) netns: Netns,
    /// Processes that hold sockets in it (one of them is in it: its root is the container's).
    pub(crate) pids: Vec<u32>,
    pub(crate) addresses: Vec<IpAddr>,
}

/// What a namespace's thread says, in this order.
enum Said {
    /// Its own resolver names its addresses (`Some(dns_source)`), or the host's (`None`, with
    /// why when something went wrong).
    Decided {
        inode: u64,
        own: Option<String>,
        note: Option<String>,
    },
    /// What its own resolver found.
    Done { inode: u64, lookups: Lookups },
}

/// The namespaces' threads, running.
pub(crate) struct Batch {
    said: mpsc::Receiver<Said>,
    /// The namespaces not yet decided, then those whose own resolver has not answered.
    waiting: Vec<Scope>,
    /// The namespaces whose own resolver is asking, with its `dns_source`.
    asking: Vec<(Scope, String)>,
    /// What their resolvers found, as it comes.
    done: Vec<(u64, Lookups)>,
    pub(crate) warnings: Vec<String>,
}

/// Starts one thread per namespace. Each bounds its lookups by `options` and by `limit`.
pub(crate) fn start(scopes: Vec<Scope>, options: &ResolverOptions, limit: Deadline) -> Batch {
    let (tell, said) = mpsc::channel();
    let mut batch = Batch {
        said,
        waiting: Vec::new(),
        asking: Vec::new(),
        done: Vec::new(),
        warnings: Vec::new(),
    };
    let host_conf = std::fs::metadata("/etc/resolv.conf")
        .ok()
        .map(|m| (m.dev(), m.ino()));
    for scope in scopes {
        let (tell, options, job) = (tell.clone(), options.clone(), scope.clone());
        let spawned = std::thread::Builder::new()
            .name("stuckconn-dns-netns".to_string())
            .spawn(move || ask_inside(job, options, limit, host_conf, tell));
        match spawned {
            Ok(_) => batch.waiting.push(scope),
            Err(err) => batch.warnings.push(format!(
                "reverse DNS: no thread for network namespace {} ({err}); named by the host's resolver",
                scope.netns.short_label()
            )),
        }
    }
    batch
}

impl Batch {
    /// Waits until `wait` passes for every namespace to say whose resolver names it, and
    /// returns those the host's resolver names (with those that did not say in time).
    pub(crate) fn host_named(&mut self, wait: Deadline) -> Vec<Scope> {
        let mut host = Vec::new();
        while !self.waiting.is_empty() && !wait.passed() {
            match self.said.recv_timeout(wait.left().min(TICK)) {
                Ok(Said::Decided { inode, own, note }) => {
                    let Some(at) = self.waiting.iter().position(|s| s.netns.inode == inode) else {
                        continue;
                    };
                    let scope = self.waiting.remove(at);
                    self.warnings.extend(note);
                    match own {
                        Some(source) => self.asking.push((scope, source)),
                        None => host.push(scope),
                    }
                }
                // A namespace that decided early may be done already.
                Ok(Said::Done { inode, lookups }) => self.done.push((inode, lookups)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        for scope in self.waiting.drain(..) {
            self.warnings.push(format!(
                "reverse DNS: the resolver of network namespace {} was not known in time; \
                 named by the host's resolver",
                scope.netns.short_label()
            ));
            host.push(scope);
        }
        host
    }

    /// Waits until `limit` passes (and a moment more, for the threads to hand over what they
    /// found when it did) for the namespaces' own lookups. Those that did not come back are
    /// timeouts.
    pub(crate) fn found(mut self, limit: Deadline) -> Vec<(u64, Lookups)> {
        let mut found = std::mem::take(&mut self.done);
        self.asking
            .retain(|(s, _)| !found.iter().any(|(inode, _)| *inode == s.netns.inode));
        let grace = Deadline::none().cap(limit.left().saturating_add(2 * TICK));
        while !self.asking.is_empty() && !grace.passed() {
            match self.said.recv_timeout(grace.left().min(TICK)) {
                Ok(Said::Done { inode, lookups }) => {
                    self.asking.retain(|(s, _)| s.netns.inode != inode);
                    found.push((inode, lookups));
                }
                Ok(Said::Decided { .. }) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        for (scope, dns_source) in self.asking {
            let mut lookups = Lookups::default();
            for &ip in &scope.addresses {
                let mut name = status(DnsStatus::Timeout);
                name.dns_source = Some(dns_source.clone());
                lookups.names.insert(ip, name);
            }
            lookups.warnings.push(format!(
                "reverse DNS ({dns_source}): no answer before the deadline; shown by address"
            ));
            found.push((scope.netns.inode, lookups));
        }
        found
    }
}

/// A namespace's own resolver: its servers, its `dns_source`, and the namespace to ask from.
struct Own {
    conf: Vec<u8>,
    source: String,
    netns: File,
}

/// The thread of one namespace: decide, enter, ask, hand over.
fn ask_inside(
    scope: Scope,
    options: ResolverOptions,
    limit: Deadline,
    host_conf: Option<(u64, u64)>,
    tell: mpsc::Sender<Said>,
) {
    let inode = scope.netns.inode;
    let label = scope.netns.short_label();
    let host = |note: Option<String>| Said::Decided {
        inode,
        own: None,
        note,
    };
    let own = match own_resolver(&scope, host_conf) {
        Ok(Some(own)) => own,
        Ok(None) => {
            let _ = tell.send(host(None));
            return;
        }
        Err(why) => {
            let _ = tell.send(host(Some(format!(
                "reverse DNS: network namespace {label}: {why}; named by the host's resolver"
            ))));
            return;
        }
    };
    let entered = rustix::thread::move_into_link_name_space(
        own.netns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    );
    if let Err(err) = entered {
        let _ = tell.send(host(Some(format!(
            "reverse DNS: cannot enter network namespace {label} to ask its resolver ({err}); \
             named by the host's resolver"
        ))));
        return;
    }
    let resolver = Resolver::from_resolv_conf(options, &own.conf, own.source.clone());
    if let Err(why) = &resolver.resolver {
        let _ = tell.send(host(Some(format!(
            "reverse DNS ({}): {why}; named by the host's resolver",
            own.source
        ))));
        return;
    }
    let decided = Said::Decided {
        inode,
        own: Some(own.source),
        note: None,
    };
    if tell.send(decided).is_err() {
        return; // nobody waits any more
    }
    let lookups = resolver.resolve(scope.addresses, &limit);
    let _ = tell.send(Said::Done { inode, lookups });
}

/// The namespace's own resolver, or `None` when the host's names its addresses.
fn own_resolver(scope: &Scope, host_conf: Option<(u64, u64)>) -> Result<Option<Own>, String> {
    let ns = &scope.netns;
    if ns.own {
        return Ok(None);
    }
    if let Some(name) = &ns.name {
        let conf = Path::new("/etc/netns").join(name).join("resolv.conf");
        match read_conf(&conf, host_conf) {
            Ok(Some(conf)) => {
                let netns = enter_file(&Path::new("/run/netns").join(name), ns.inode)?;
                return Ok(Some(Own {
                    conf,
                    source: source::netns(name),
                    netns,
                }));
            }
            Ok(None) => {}
            Err(err) => return Err(format!("{}: {err}", conf.display())),
        }
    }
    for &pid in &scope.pids {
        let Ok(netns) = enter_file(Path::new(&format!("/proc/{pid}/ns/net")), ns.inode) else {
            continue; // not in this namespace (a socket passed to it), or gone
        };
        let root = Path::new("/proc").join(pid.to_string()).join("root");
        return match read_in_root(&root, host_conf) {
            Ok(Some(conf)) => Ok(Some(Own {
                conf,
                source: container_source(ns),
                netns,
            })),
            Ok(None) => Ok(None),
            Err(err) => Err(format!("its /etc/resolv.conf (pid {pid}): {err}")),
        };
    }
    Ok(None)
}

/// `container:ID`, or `netns:LABEL` for a namespace no runtime names.
fn container_source(ns: &Netns) -> String {
    match &ns.container {
        Some(id) => source::container(id),
        None => source::netns(&ns.short_label()),
    }
}

/// The namespace file at `path`, if it is the namespace `inode`.
fn enter_file(path: &Path, inode: u64) -> Result<File, String> {
    match open_netns(path) {
        Ok((file, found)) if found == inode => Ok(file),
        Ok(_) => Err(format!("{} is another namespace now", path.display())),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// A resolv.conf at a path of the host; `None` when there is none, or when it is the host's
/// own file.
fn read_conf(path: &Path, host_conf: Option<(u64, u64)>) -> std::io::Result<Option<Vec<u8>>> {
    use crate::collect::regular::PATH_FLAGS;
    match rustix::fs::open(path, PATH_FLAGS, rustix::fs::Mode::empty()) {
        Ok(fd) => read_capped(fd, host_conf),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// `etc/resolv.conf` under a process's root, every link resolved inside that root.
fn read_in_root(root: &Path, host_conf: Option<(u64, u64)>) -> std::io::Result<Option<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // The name alone (O_PATH): the container's root may have put a device node there (it
    // can mknod what its device cgroup keeps it from opening, but not root on the host).
    let flags = crate::collect::regular::PATH_FLAGS;
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(&dir, "etc/resolv.conf", flags, Mode::empty(), resolve) {
        Ok(fd) => read_capped(fd, host_conf),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// A resolv.conf's name, opened with `O_PATH`: at most `CONF_CAP` bytes of a regular file
/// (only then opened for reading); `None` when it is the host's own file.
fn read_capped(
    path: std::os::fd::OwnedFd,
    host_conf: Option<(u64, u64)>,
) -> std::io::Result<Option<Vec<u8>>> {
    use crate::collect::regular::{regular_stat, reopen};
    let stat = regular_stat(&path)?;
    if host_conf == Some((stat.st_dev, stat.st_ino)) {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    reopen(&path)?.take(CONF_CAP + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > CONF_CAP {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("longer than {} KiB", CONF_CAP >> 10),
        ));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(inode: u64) -> Scope {
        Scope {
            netns: Netns {
                inode,
                ..Netns::default()
            },
            pids: Vec::new(),
            addresses: vec!["192.0.2.5".parse().unwrap()],
        }
    }

    #[test]
    fn an_answer_that_comes_before_every_namespace_decided_is_kept() {
        let (tell, said) = mpsc::channel();
        let mut batch = Batch {
            said,
            waiting: vec![scope(1), scope(2)],
            asking: Vec::new(),
            done: Vec::new(),
            warnings: Vec::new(),
        };
        // Namespace 1 decides and answers at once; namespace 2 never says (a hung read).
        let mut lookups = Lookups::default();
        let mut name = status(DnsStatus::Ok);
        name.hostname = Some("ns1.example".to_string());
        lookups.names.insert("192.0.2.5".parse().unwrap(), name);
        tell.send(Said::Decided {
            inode: 1,
            own: Some("netns:one".to_string()),
            note: None,
        })
        .unwrap();
        tell.send(Said::Done { inode: 1, lookups }).unwrap();
        let host = batch.host_named(Deadline::after(Duration::from_millis(200)));
        assert_eq!(host.len(), 1, "the silent one goes to the host's resolver");
        assert_eq!(host[0].netns.inode, 2);
        let found = batch.found(Deadline::after(Duration::from_millis(200)));
        assert_eq!(found.len(), 1);
        let name = &found[0].1.names[&"192.0.2.5".parse().unwrap()];
        assert_eq!(name.hostname.as_deref(), Some("ns1.example"));
        drop(tell);
    }

    #[test]
    fn a_resolv_conf_is_read_capped_and_only_when_it_is_not_the_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("resolv.conf");
        std::fs::write(&conf, "nameserver 192.0.2.53\n").unwrap();
        assert_eq!(
            read_conf(&conf, None).unwrap().as_deref(),
            Some(&b"nameserver 192.0.2.53\n"[..])
        );
        let meta = std::fs::metadata(&conf).unwrap();
        assert_eq!(
            read_conf(&conf, Some((meta.dev(), meta.ino()))).unwrap(),
            None
        );
        assert_eq!(read_conf(&dir.path().join("none"), None).unwrap(), None);
        std::fs::write(&conf, vec![b'#'; (CONF_CAP + 1) as usize]).unwrap();
        assert!(read_conf(&conf, None).is_err());
        assert!(read_conf(dir.path(), None).is_err(), "a directory");
    }

    #[test]
    fn a_device_or_fifo_a_container_put_in_place_is_never_opened() {
        // A container's root can mknod its /etc/resolv.conf as any device (a watchdog, whose
        // open starts a countdown to reboot): it must not be opened, only refused. A FIFO
        // with a writer waiting in open shows whether it was.
        use crate::collect::regular::tests::{release, watched_fifo};
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        let conf = root.path().join("etc/resolv.conf");
        let heard = watched_fifo(&conf);
        let read = read_in_root(root.path(), None);
        let opened = heard.recv_timeout(Duration::from_millis(300)).is_ok();
        release(&conf);
        assert!(!opened, "the FIFO was opened");
        match read {
            Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => return, // Linux < 5.6
            Err(err) => assert!(err.to_string().contains("a FIFO"), "{err}"),
            Ok(conf) => panic!("read {conf:?}"),
        }
        // The same for /etc/netns/NAME/resolv.conf, a link to a FIFO.
        let fifo = root.path().join("fifo");
        let heard = watched_fifo(&fifo);
        let link = root.path().join("link.conf");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let read = read_conf(&link, None);
        let opened = heard.recv_timeout(Duration::from_millis(300)).is_ok();
        release(&fifo);
        assert!(read.is_err());
        assert!(!opened, "the FIFO was opened through the link");
    }

    #[test]
    fn links_in_a_root_stay_in_that_root() {
        // A container whose /etc/resolv.conf is an absolute link: it names the container's
        // file, never the host's file of the same path.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::create_dir_all(root.path().join("run/resolve")).unwrap();
        std::fs::write(
            root.path().join("run/resolve/resolv.conf"),
            "nameserver 127.0.0.11\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "/run/resolve/resolv.conf",
            root.path().join("etc/resolv.conf"),
        )
        .unwrap();
        match read_in_root(root.path(), None) {
            Ok(conf) => assert_eq!(conf.as_deref(), Some(&b"nameserver 127.0.0.11\n"[..])),
            // openat2 needs Linux 5.6.
            Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => {}
            Err(err) => panic!("{err}"),
        }
    }
}
