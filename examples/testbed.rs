//! Real servers and clients on loopback for stuckconn's live tests; each role is one process.
//!
//! Servers bind 127.0.0.1:0 and print `port N`; clients connect to the given port, do their
//! part, print `ready`, then hold their connection until killed.
//!
//!   testbed blackhole            accept, read, never answer
//!   testbed responder            answer each request with a short HTTP reply, keep the connection
//!   testbed closer               accept and close at once
//!   testbed streamer             send 512 bytes every 20 ms to each client
//!   testbed hung-recv PORT [NAME]  send a request, block in read() for the reply
//!   testbed hung-poll PORT       send a request, block in poll() on the socket
//!   testbed pool PORT            send a request, read the reply, then keep the idle connection
//!   testbed close-wait PORT      connect, read until the peer closes, never close
//!   testbed stream-client PORT   read a stream forever
//!   testbed sink                 accept and hold every connection, one thread in all (bench/)
//!   testbed late-streamer MS     read a request, say nothing for MS ms, then stream 100 bytes / 100 ms
//!   testbed hung-keepalive PORT  like hung-recv, with TCP keepalive probes every second
//!   testbed leak PORT N          open a hung call every 200 ms until N are open, hold them
//!   testbed churn PORT KEEP      open a hung call every 200 ms, close the oldest beyond KEEP
//!   testbed fork-churn PORT [FILE]  fork children that connect, send, and exit, as fast as it
//!                                can; with FILE, keep the number of forks made in it (8 bytes,
//!                                native endian), so that a test can measure this storm alone
//!   testbed poll-unmapped PORT   a hung call polled from an array whose page is then unmapped:
//!                                the poll goes on, /proc/PID/mem can no longer show its fds
//!   testbed hold PORT N          open N connections, send a request on each, hold them (bench/)
//!   testbed dns FILE             a DNS server on UDP: PTR/A/AAAA from FILE, NXDOMAIN otherwise
//!                                (on $TESTBED_ADDR and $TESTBED_PORT, as the servers)
//!   testbed dns-blackhole        a UDP socket that reads DNS queries and never answers
//!
//!   testbed selective            stream to clients that ask with STREAM, never answer others
//!   testbed stream-ask PORT      send STREAM, then read the stream forever
//!
//! Roles of the analysis tests (tests/it/analysis.rs):
//!
//!   testbed fork-reader PORT [NAME]  connect, send a request, fork; the child (renamed NAME)
//!                                blocks in read() on the inherited socket, the parent sleeps
//!                                holding it too; prints `ready CHILD_PID`
//!   testbed leaky-server [NAME]  accept every connection and never read or close it
//!   testbed connect-close PORT N [SOURCE]  connect N times (from address SOURCE) and close
//!                                each at once
//!
//! Servers bind to $TESTBED_ADDR (default 127.0.0.1) and $TESTBED_PORT (default: any) and
//! clients connect to that address, so that tests can use documentation addresses inside
//! network namespaces.
//!
//! The `dns` FILE has one record a line:
//!   PTR 192.0.2.100 crl.example.com.
//!   A crl.example.com. 192.0.2.100
//!   AAAA crl.example.com. 2001:db8::100
//!   PTR-LABELS 192.0.2.66 \x1b[2Jevil example com   (raw label bytes, \xNN escapes)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

const REQUEST: &[u8] = b"GET /crl/ca.crl HTTP/1.1\r\nHost: crl.example\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn main() {
    // Lossily: a test may give bytes that are not UTF-8 (a command line is bytes).
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let role = args.first().map(String::as_str).unwrap_or("");
    let port = || -> u16 {
        args.get(1)
            .and_then(|p| p.parse().ok())
            .expect("this role needs a PORT")
    };
    match role {
        // Reads until the peer closes; never answers. (The thread ends when the peer closes,
        // so that a storm of short connections does not pile up threads.)
        "blackhole" => serve(|mut s| {
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }),
        "responder" => serve(|mut s| {
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {
                if s.write_all(REPLY).is_err() {
                    break;
                }
            }
        }),
        "closer" => serve(drop),
        "streamer" => serve(|mut s| {
            let chunk = [b'x'; 512];
            while s.write_all(&chunk).is_ok() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }),
        "hung-recv" => {
            if let Some(name) = args.get(2) {
                set_name(name);
            }
            let mut s = connect(port());
            s.write_all(REQUEST).unwrap();
            ready();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            hold()
        }
        "late-streamer" => {
            static DELAY_MS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
            DELAY_MS.get_or_init(|| {
                args.get(1)
                    .and_then(|d| d.parse().ok())
                    .expect("late-streamer MS")
            });
            serve(|mut s| {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                std::thread::sleep(Duration::from_millis(*DELAY_MS.get().unwrap()));
                while s.write_all(&[b'y'; 100]).is_ok() {
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        }
        "hung-keepalive" => {
            let mut s = connect(port());
            let fd = s.as_raw_fd();
            let one: libc::c_int = 1;
            for (level, option) in [
                (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
                (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
                (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
            ] {
                // SAFETY: setsockopt on a socket we own with a valid int.
                unsafe {
                    libc::setsockopt(fd, level, option, (&one as *const libc::c_int).cast(), 4)
                };
            }
            s.write_all(REQUEST).unwrap();
            ready();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            hold()
        }
        "leak" | "churn" => {
            let n: usize = args.get(2).and_then(|n| n.parse().ok()).expect("PORT N");
            ready();
            let mut open = std::collections::VecDeque::new();
            for i in 0.. {
                if role == "leak" && i >= n {
                    break;
                }
                let mut s = connect(port());
                s.write_all(REQUEST).unwrap();
                open.push_back(s);
                if role == "churn" && open.len() > n {
                    open.pop_front();
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            hold_with_all(open.into_iter().collect())
        }
        "fork-churn" => {
            let port = port();
            let forks = args.get(2).map(|file| fork_counter(file));
            ready();
            loop {
                // SAFETY: the child only connects, writes and calls _exit.
                match unsafe { libc::fork() } {
                    0 => {
                        if let Ok(mut s) = TcpStream::connect((addr().as_str(), port)) {
                            let _ = s.write_all(REQUEST);
                        }
                        unsafe { libc::_exit(0) };
                    }
                    pid if pid > 0 => {
                        if let Some(forks) = forks {
                            forks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        // Reap whatever has exited, without waiting.
                        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0
                        {
                        }
                    }
                    _ => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        }
        "poll-unmapped" => {
            let mut s = connect(port());
            s.write_all(REQUEST).unwrap();
            let page = 4096;
            // An anonymous private page, written before the poll and unmapped once the kernel
            // has copied the pollfd array (poll keeps its own copy while it blocks).
            let ptr = anonymous_pages(page);
            let fds = ptr as *mut libc::pollfd;
            unsafe {
                *fds = libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                }
            };
            let addr = ptr as usize;
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                unsafe { libc::munmap(addr as *mut libc::c_void, page) };
                ready();
            });
            // SAFETY: one valid pollfd at the start of the page.
            unsafe { libc::poll(fds, 1, -1) };
            hold()
        }
        "hung-poll" => {
            let mut s = connect(port());
            s.write_all(REQUEST).unwrap();
            ready();
            let mut fds = [libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd for a socket we own.
            unsafe { libc::poll(fds.as_mut_ptr(), 1, -1) };
            hold()
        }
        "pool" => {
            let mut s = connect(port());
            s.write_all(REQUEST).unwrap();
            let mut buf = [0u8; 4096];
            let mut got = 0;
            while got < REPLY.len() {
                got += s.read(&mut buf[got..]).unwrap();
            }
            ready();
            hold_with(s)
        }
        "close-wait" => {
            let mut s = connect(port());
            let mut buf = [0u8; 64];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            ready();
            hold_with(s)
        }
        "stream-client" => {
            let mut s = connect(port());
            let mut buf = [0u8; 4096];
            s.read_exact(&mut buf[..512]).unwrap();
            ready();
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            hold()
        }
        "dns" => dns::serve(args.get(1).expect("dns FILE")),
        "dns-blackhole" => {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            println!("port {}", socket.local_addr().unwrap().port());
            std::io::stdout().flush().unwrap();
            let mut buf = [0u8; 4096];
            while socket.recv_from(&mut buf).is_ok() {}
        }
        "sink" => {
            let listener = TcpListener::bind((addr().as_str(), 0)).unwrap();
            println!("port {}", listener.local_addr().unwrap().port());
            std::io::stdout().flush().unwrap();
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        }
        "hold" => {
            let n: usize = args
                .get(2)
                .and_then(|n| n.parse().ok())
                .expect("hold PORT N");
            let held: Vec<TcpStream> = (0..n)
                .map(|_| {
                    let mut s = connect(port());
                    s.write_all(REQUEST).unwrap();
                    s
                })
                .collect();
            ready();
            hold_with_all(held)
        }
        // --- trust tests (tests/it/trust.rs) ---
        // A server that streams to clients whose request starts with STREAM, and never
        // answers the others: stuck flows and a live one to the same remote endpoint.
        "selective" => serve(|mut s| {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            if buf[..n].starts_with(b"STREAM") {
                while s.write_all(&[b'z'; 100]).is_ok() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            } else {
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            }
        }),
        "stream-ask" => {
            let mut s = connect(port());
            s.write_all(b"STREAM\r\n").unwrap();
            ready();
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            hold()
        }
        // ---- Roles of the analysis tests (tests/it/analysis.rs). ----
        "fork-reader" => {
            let mut s = connect(port());
            s.write_all(REQUEST).unwrap();
            // SAFETY: single-threaded here; the child only renames itself and reads.
            match unsafe { libc::fork() } {
                0 => {
                    die_with_parent();
                    if let Some(name) = args.get(2) {
                        set_name(name);
                    }
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    hold_with(s)
                }
                child if child > 0 => {
                    println!("ready {child}");
                    std::io::stdout().flush().unwrap();
                    hold_with(s)
                }
                _ => panic!("fork failed: {}", std::io::Error::last_os_error()),
            }
        }
        "leaky-server" => {
            if let Some(name) = args.get(1) {
                set_name(name);
            }
            let port: u16 = std::env::var("TESTBED_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let listener = TcpListener::bind((addr().as_str(), port)).unwrap();
            println!("port {}", listener.local_addr().unwrap().port());
            std::io::stdout().flush().unwrap();
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        }
        "connect-close" => {
            use std::os::fd::FromRawFd;
            let n: usize = args
                .get(2)
                .and_then(|n| n.parse().ok())
                .expect("connect-close PORT N [SOURCE]");
            let source: Option<std::net::Ipv4Addr> = args.get(3).map(|s| s.parse().unwrap());
            let server: std::net::Ipv4Addr = addr().parse().expect("an IPv4 TESTBED_ADDR");
            let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(ip).to_be(),
                },
                sin_zero: [0; 8],
            };
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            for _ in 0..n {
                // SAFETY: a new socket, bound and connected with valid sockaddr_in values,
                // then owned by the TcpStream that closes it.
                let stream = unsafe {
                    let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
                    if let Some(source) = source {
                        let local = sockaddr(source, 0);
                        let rc = libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len);
                        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
                    }
                    let remote = sockaddr(server, port());
                    let rc = libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len);
                    assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
                    TcpStream::from_raw_fd(fd)
                };
                drop(stream);
            }
            ready();
            hold()
        }
        role if timeouts_roles::ROLES.contains(&role) => timeouts_roles::run(role, &args),
        "upstream-worker" | "reuse-client" => abort_roles::run(role, &args),
        _ => {
            eprintln!("testbed: unknown role {role:?}");
            std::process::exit(2);
        }
    }
}

fn addr() -> String {
    std::env::var("TESTBED_ADDR").unwrap_or_else(|_| "127.0.0.1".to_string())
}

fn serve(handle: fn(TcpStream)) {
    let port: u16 = std::env::var("TESTBED_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = TcpListener::bind((addr().as_str(), port)).unwrap();
    println!("port {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || handle(stream));
    }
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect((addr().as_str(), port)).unwrap()
}

/// A counter in a shared mapping of `file`: what is stored there, the file holds.
fn fork_counter(file: &str) -> &'static std::sync::atomic::AtomicU64 {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(file)
        .expect("the counter file");
    f.set_len(8).unwrap();
    // SAFETY: a shared mapping of 8 bytes of a file of 8 bytes, never unmapped; a page-aligned
    // address is aligned for an AtomicU64.
    unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            8,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(ptr, libc::MAP_FAILED);
        std::sync::atomic::AtomicU64::from_ptr(ptr.cast())
    }
}

/// A private anonymous read-write mapping of `len` bytes.
fn anonymous_pages(len: usize) -> *mut libc::c_void {
    // SAFETY: a new mapping, placed by the kernel, of memory no one else refers to.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(ptr, libc::MAP_FAILED);
    ptr
}

/// In a forked child: die with the parent, whoever kills it (and at once if it is gone).
fn die_with_parent() {
    // SAFETY: plain prctl, getppid and _exit calls.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        if libc::getppid() == 1 {
            libc::_exit(0);
        }
    }
}

fn ready() {
    println!("ready");
    std::io::stdout().flush().unwrap();
}

fn set_name(name: &str) {
    let mut bytes = name.as_bytes().to_vec();
    bytes.truncate(15);
    bytes.push(0);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, bytes.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

fn hold() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn hold_with_all(streams: Vec<TcpStream>) -> ! {
    let _keep = streams;
    hold()
}

fn hold_with(stream: TcpStream) -> ! {
    let _keep = stream;
    hold()
}

mod dns {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::rdata::{A, AAAA, PTR};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use std::io::Write;
    use std::net::{IpAddr, UdpSocket};

    /// Decodes `\xNN` escapes in a label.
    fn label_bytes(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') && i + 3 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(&text[i + 2..i + 4], 16) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        out
    }

    fn key(name: &Name) -> String {
        name.to_ascii().to_lowercase()
    }

    pub fn serve(file: &str) {
        let text = std::fs::read_to_string(file).expect("records file");
        let mut records: Vec<(String, RecordType, RData)> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["PTR", ip, name] => {
                    let ip: IpAddr = ip.parse().unwrap();
                    let name = Name::from_ascii(name).unwrap();
                    records.push((key(&Name::from(ip)), RecordType::PTR, RData::PTR(PTR(name))));
                }
                ["PTR-LABELS", ip, labels @ ..] => {
                    let ip: IpAddr = ip.parse().unwrap();
                    let mut name =
                        Name::from_labels(labels.iter().map(|l| label_bytes(l))).unwrap();
                    name.set_fqdn(true);
                    records.push((key(&Name::from(ip)), RecordType::PTR, RData::PTR(PTR(name))));
                }
                ["A", name, ip] => records.push((
                    key(&Name::from_ascii(name).unwrap()),
                    RecordType::A,
                    RData::A(A(ip.parse().unwrap())),
                )),
                ["AAAA", name, ip] => records.push((
                    key(&Name::from_ascii(name).unwrap()),
                    RecordType::AAAA,
                    RData::AAAA(AAAA(ip.parse().unwrap())),
                )),
                _ => panic!("bad record line {line:?}"),
            }
        }
        let port: u16 = std::env::var("TESTBED_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let socket = UdpSocket::bind((super::addr().as_str(), port)).unwrap();
        println!("port {}", socket.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            reply.metadata.authoritative = true;
            let mut known_name = false;
            for q in &query.queries {
                reply.add_query(q.clone());
                let wanted = key(q.name());
                for (name, rtype, data) in &records {
                    if *name == wanted {
                        known_name = true;
                        if *rtype == q.query_type() {
                            reply.add_answer(Record::from_rdata(
                                q.name().clone(),
                                300,
                                data.clone(),
                            ));
                        }
                    }
                }
            }
            if !known_name {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer);
            }
        }
    }
}

// ==== Roles of the timeout, impact and hint tests (tests/it/timeouts.rs) and of
// ==== bench/timeouts.sh. One block: everything below belongs to them.
//
//   testbed rcvtimeo PORT MS     SO_RCVTIMEO of MS, send a request, block in read()
//   testbed user-timeout PORT MS TCP_USER_TIMEOUT of MS, send a request, block in read()
//   testbed keepalive PORT IDLE INTVL CNT  keepalive with these (seconds, count), send a
//                                request, block in read()
//   testbed poll-loop PORT MS    send a request, then poll() the socket with MS in a loop (as
//                                libcurl does with 1000)
//   testbed fork-share MIB N [PORT]  touch an anonymous private mapping of MIB MiB, fork N
//                                children that share it untouched; prints `ready PID PID...`;
//                                with PORT, every process (the parent too) then sends a request
//                                to 127.0.0.1:PORT and blocks reading the reply
mod timeouts_roles {
    use super::{anonymous_pages, connect, die_with_parent, hold, ready, REQUEST};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    pub const ROLES: &[&str] = &[
        "rcvtimeo",
        "user-timeout",
        "keepalive",
        "poll-loop",
        "fork-share",
    ];

    fn num<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("{} needs {what}", args[0]))
    }

    pub fn run(role: &str, args: &[String]) {
        match role {
            "rcvtimeo" | "user-timeout" | "keepalive" => {
                let mut s = connect(num(args, 1, "PORT"));
                match role {
                    "rcvtimeo" => s
                        .set_read_timeout(Some(Duration::from_millis(num(args, 2, "MS"))))
                        .unwrap(),
                    "user-timeout" => {
                        rustix::net::sockopt::set_tcp_user_timeout(&s, num(args, 2, "MS")).unwrap()
                    }
                    _ => {
                        use rustix::net::sockopt::*;
                        let secs = |i, what| Duration::from_secs(num(args, i, what));
                        set_socket_keepalive(&s, true).unwrap();
                        set_tcp_keepidle(&s, secs(2, "IDLE")).unwrap();
                        set_tcp_keepintvl(&s, secs(3, "INTVL")).unwrap();
                        set_tcp_keepcnt(&s, num(args, 4, "CNT")).unwrap();
                    }
                }
                s.write_all(REQUEST).unwrap();
                ready();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                hold()
            }
            "poll-loop" => {
                let mut s = connect(num(args, 1, "PORT"));
                let ms: i32 = num(args, 2, "MS");
                s.write_all(REQUEST).unwrap();
                ready();
                loop {
                    let mut fds = [libc::pollfd {
                        fd: s.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    }];
                    // SAFETY: one valid pollfd for a socket we own.
                    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
                    if n > 0 {
                        let mut buf = [0u8; 4096];
                        if !matches!(s.read(&mut buf), Ok(n) if n > 0) {
                            break;
                        }
                    }
                }
                hold()
            }
            "fork-share" => {
                let mib: usize = num(args, 1, "MIB");
                let n: usize = num(args, 2, "N");
                let len = mib << 20;
                // Never unmapped.
                let ptr = anonymous_pages(len);
                // SAFETY: the mapping is `len` bytes long and ours; one byte per page is
                // written so that every page is resident before the forks share it.
                unsafe {
                    for page in (0..len).step_by(4096) {
                        *(ptr as *mut u8).add(page) = 1;
                    }
                }
                let port: Option<u16> = args.get(3).map(|_| num(args, 3, "PORT"));
                // A request sent and a reply never read: a hung call of this process.
                let call = || {
                    if let Some(port) = port {
                        let mut s = connect(port);
                        s.write_all(REQUEST).unwrap();
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                    }
                    hold()
                };
                let mut children = Vec::new();
                for _ in 0..n {
                    // SAFETY: single-threaded here; the child only sets its death signal,
                    // connects and sleeps, never touching the shared pages.
                    match unsafe { libc::fork() } {
                        0 => {
                            die_with_parent();
                            call()
                        }
                        child if child > 0 => children.push(child.to_string()),
                        _ => panic!("fork failed: {}", std::io::Error::last_os_error()),
                    }
                }
                println!("ready {}", children.join(" "));
                std::io::stdout().flush().unwrap();
                call()
            }
            _ => unreachable!(),
        }
    }
}

// --- abort tests (tests/it/abort.rs) ---
//
//   testbed upstream-worker UPSTREAM_PORT  one worker serving its clients one at a time: for
//                                `GET /upstream` it calls UPSTREAM_PORT (no timeout) and answers
//                                502 with the error when that call fails; any other path gets
//                                200 `ok` at once
//   testbed reuse-client PORT LOCAL_PORT TRIGGER  connect from LOCAL_PORT, send a request and
//                                wait; once the file TRIGGER exists, reset the connection and
//                                open a new one with the same 4-tuple, send again, then create
//                                TRIGGER.again and hold it
mod abort_roles {
    use super::{addr, hold_with, ready, REQUEST};
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
    use std::time::Duration;

    pub(super) fn run(role: &str, args: &[String]) -> ! {
        let number = |i: usize| -> u16 {
            args.get(i)
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{role}: argument {i} must be a port"))
        };
        match role {
            "upstream-worker" => upstream_worker(number(1)),
            _ => reuse_client(number(1), number(2), args.get(3).expect("TRIGGER file")),
        }
    }

    fn upstream_worker(upstream: u16) -> ! {
        let port: u16 = std::env::var("TESTBED_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let listener = TcpListener::bind((addr().as_str(), port)).unwrap();
        println!("port {}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        // One worker, one client at a time, like a prefork PHP worker.
        for mut client in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = client.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if request.starts_with("GET /upstream") {
                match call(upstream) {
                    Ok(reply) => ("200 OK", format!("upstream answered {} bytes\n", reply)),
                    Err(err) => ("502 Bad Gateway", format!("upstream failed: {err}\n")),
                }
            } else {
                ("200 OK", "ok\n".to_string())
            };
            let _ = write!(
                client,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        unreachable!("the listener never ends")
    }

    /// An upstream call without any timeout: blocks until the reply or an error.
    fn call(port: u16) -> std::io::Result<usize> {
        let mut upstream = TcpStream::connect((addr().as_str(), port))?;
        upstream.write_all(REQUEST)?;
        let mut buf = [0u8; 4096];
        match upstream.read(&mut buf)? {
            0 => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed without a reply",
            )),
            n => Ok(n),
        }
    }

    /// A connection from 127.0.0.1:LOCAL_PORT (or $TESTBED_ADDR) with SO_REUSEADDR.
    fn connect_from(local: u16, port: u16) -> TcpStream {
        use rustix::net::{sockopt, AddressFamily, SocketType};
        let ip: Ipv4Addr = addr().parse().expect("an IPv4 TESTBED_ADDR");
        let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        sockopt::set_socket_reuseaddr(&fd, true).unwrap();
        rustix::net::bind(&fd, &SocketAddrV4::new(ip, local)).unwrap();
        rustix::net::connect(&fd, &SocketAddrV4::new(ip, port)).unwrap();
        TcpStream::from(fd)
    }

    fn reuse_client(port: u16, local: u16, trigger: &str) -> ! {
        let mut first = connect_from(local, port);
        first.write_all(REQUEST).unwrap();
        ready();
        while !std::path::Path::new(trigger).exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A reset, not a FIN: no TIME-WAIT keeps the 4-tuple from being used again at once.
        rustix::net::sockopt::set_socket_linger(&first, Some(Duration::ZERO)).unwrap();
        drop(first);
        let mut second = connect_from(local, port);
        second.write_all(REQUEST).unwrap();
        std::fs::write(format!("{trigger}.again"), b"").unwrap();
        hold_with(second)
    }
}
