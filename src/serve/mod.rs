//! The HTTP exporter behind `stuckconn serve`: hyper (HTTP/1.1) on a current-thread tokio
//! runtime, optionally behind rustls. The runtime's one thread accepts and answers (a few
//! kilobytes of text per scrape); each scan runs on its blocking pool, one at a time
//! (`scans`), so neither a slow scan nor slow clients ever stall the others. Connections
//! are bounded in number and idle time (`conns`); what a request gets is decided in `http`.
//!
//! The process's SIGINT/SIGTERM flag (`deadline`) stops it: it stops accepting, a scan in
//! flight ends within a tick (partial), answers in flight get up to a second, and it returns.

mod conns;
mod http;
mod scans;
mod tls;

pub(crate) use scans::{ScanFn, Scanned};

use crate::deadline;
use crate::error::Error;
use crate::messages;
use conns::{Conns, Ticket};
use hyper_util::rt::{TokioIo, TokioTimer};
use scans::Scans;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// How the exporter listens and scans.
pub(crate) struct Options {
    pub(crate) listen: SocketAddr,
    pub(crate) min_interval: Duration,
    /// Each scan's own bound (`--timeout`).
    pub(crate) scan_timeout: Duration,
    /// `--tls-cert` and `--tls-key`.
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
}

/// A request header larger than this is refused (431) unread: hyper's smallest buffer.
const MAX_HEADER_BYTES: usize = 8192;

/// How long answers in flight get once a signal stops the exporter.
const DRAIN: Duration = Duration::from_secs(1);

/// What every connection shares.
struct App {
    scans: Scans,
    conns: Arc<Conns>,
    tls: Option<TlsAcceptor>,
    /// A scrape waits at most this long for the scan in flight.
    wait_limit: Duration,
    stopping: AtomicBool,
}

/// Serves until SIGINT or SIGTERM. Errors: the TLS files, the address to listen on, the
/// runtime; nothing after it listens stops it (a failed scan is logged and served as down).
pub(crate) fn run(options: Options, scan: Arc<ScanFn>) -> Result<(), Error> {
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key).map_err(Error::Serve)?),
        None => None,
    };
    // One thread for the network; the blocking pool for scans (one at a time, plus the
    // one a scan that ran past its deadline may still hold).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .thread_name("stuckconn-serve")
        .build()
        .map_err(|e| Error::Serve(format!("cannot start the HTTP runtime: {e}")))?;
    // A scrape waits for the scan's own bound, its DNS, and a margin: past that, something
    // hangs that should not, and the scrape is answered 503 rather than left hanging.
    let wait_limit = options.scan_timeout + Duration::from_secs(5);
    let app = Arc::new(App {
        scans: Scans::new(scan, options.min_interval, wait_limit),
        conns: Arc::default(),
        tls,
        wait_limit,
        stopping: AtomicBool::new(false),
    });
    let result = runtime.block_on(serve(app, options.listen));
    // A scan in flight has seen the signal too and ends within a tick.
    runtime.shutdown_timeout(DRAIN);
    result
}

async fn serve(app: Arc<App>, listen: SocketAddr) -> Result<(), Error> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Serve(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener.local_addr().unwrap_or(listen);
    let scheme = if app.tls.is_some() { "https" } else { "http" };
    messages::note(&format!("serving metrics on {scheme}://{bound}/metrics"));
    let mut tick = tokio::time::interval(deadline::TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let signal = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match app.conns.admit() {
                    Some(ticket) => {
                        tokio::spawn(connection(app.clone(), stream, ticket));
                    }
                    // Every place is serving a request: this one is closed at once.
                    None => drop(stream),
                },
                // Out of descriptors or memory, or a connection reset before it was
                // accepted: breathe, then go on (idle connections time out meanwhile).
                Err(_) => tokio::time::sleep(deadline::TICK).await,
            },
            _ = tick.tick() => {
                if let Some(signal) = deadline::interrupted_by() {
                    break signal;
                }
            }
        }
    };
    drop(listener);
    messages::note(&format!("stopping on {signal}"));
    app.stopping.store(true, Ordering::Relaxed);
    let until = Instant::now() + DRAIN;
    while app.conns.len() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// One connection, from the TLS handshake (if any) to its close; ended early when it has
/// been idle too long, is evicted, or the exporter stops.
async fn connection(app: Arc<App>, stream: TcpStream, ticket: Ticket) {
    let _ = stream.set_nodelay(true);
    let conn = ticket.conn.clone();
    let work = async {
        match &app.tls {
            Some(acceptor) => {
                if let Ok(stream) = acceptor.accept(stream).await {
                    http1(&app, &ticket, stream).await;
                }
            }
            None => http1(&app, &ticket, stream).await,
        }
    };
    let busy_limit = app.wait_limit + Duration::from_secs(1);
    tokio::select! {
        () = work => {}
        () = conn.expired(busy_limit, &app.stopping) => {}
    }
}

async fn http1<S>(app: &Arc<App>, ticket: &Ticket, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let service = hyper::service::service_fn(|request| {
        let busy = ticket.conn.begin();
        let app = app.clone();
        async move {
            let response = http::respond(&app.scans, request).await;
            drop(busy);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(conns::IDLE_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
