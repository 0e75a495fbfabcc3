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
//!   testbed hold PORT N          open N connections, send a request on each, hold them (bench/)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

const REQUEST: &[u8] = b"GET /crl/ca.crl HTTP/1.1\r\nHost: crl.example\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = args.first().map(String::as_str).unwrap_or("");
    let port = || -> u16 {
        args.get(1)
            .and_then(|p| p.parse().ok())
            .expect("this role needs a PORT")
    };
    match role {
        "blackhole" => serve(|mut s| {
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            hold()
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
        "sink" => {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
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
        _ => {
            eprintln!("testbed: unknown role {role:?}");
            std::process::exit(2);
        }
    }
}

fn serve(handle: fn(TcpStream)) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("port {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || handle(stream));
    }
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).unwrap()
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
