//! The command line: clap definitions, also the source of the man page.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

const ABOUT: &str =
    "Find the process that leaks hung upstream TCP calls: to whom, since when, and whether the connection is really dead";

const LONG_ABOUT: &str = "\
Find the process that leaks hung upstream TCP calls: to whom, since when, and whether the \
connection is really dead.

stuckconn lists every TCP socket with the kernel's tcp_info (one sock_diag dump), ties each \
socket to its process and threads (one pass over /proc), and classifies every connection from \
its evidence: hung_call (a request sent, no reply, idle), close_wait (the peer closed, the \
process never did), stalled_send (unacknowledged data being retransmitted), syn_sent (a connect \
that gets no answer), idle_pool (a keep-alive pool, healthy) or active. Stuck connections are \
grouped by remote host and by the process that holds them.

Run without a subcommand, stuckconn scans this host (the same as `stuckconn scan`).";

const AFTER_HELP: &str = "\
Exit status: 0 no finding, 1 at least one hung_call, close_wait, stalled_send or syn_sent \
finding, 2 error, 3 partial report (--timeout or a signal cut it short; `check`: 0 OK, \
1 WARNING, 2 CRITICAL, 3 UNKNOWN); 130 or 143 a second SIGINT or SIGTERM ended it at once.
Run as root to see every process's sockets and threads; see `man stuckconn` (PERMISSIONS).";

#[derive(Debug, Parser)]
#[command(
    name = "stuckconn",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan this host (or a recorded snapshot) and report stuck connections (the default)
    Scan(ScanArgs),
    /// Collect everything a scan sees and write it as a snapshot, to replay with `scan --from`
    Record(RecordArgs),
    /// Sample repeatedly and follow stuck connections over time: which group leaks, how fast
    Watch(WatchArgs),
    /// Turn a `watch --format ndjson` recording into a report to attach to a ticket: one
    /// self-contained HTML page with the growth over time
    Report(ReportArgs),
    /// A monitoring plugin (Nagios/Icinga): one status line with perfdata; exit 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN
    Check(CheckArgs),
    /// Abort the stuck connections a scan finds (SOCK_DESTROY, by socket cookie), so that each
    /// blocked call fails at once: a plan first, then a confirmation or --yes
    Abort(AbortArgs),
    /// A Prometheus exporter: GET /metrics runs a scan (one at a time, shared by concurrent
    /// scrapes) and answers its metrics
    Serve(ServeArgs),
    /// Print the completion script for bash, zsh or fish to standard output
    Completions(CompletionsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A table for people
    Table,
    /// One JSON document for scripts (schema_version 1)
    Json,
    /// Prometheus text exposition format (for the node_exporter textfile collector)
    Prometheus,
    /// One self-contained HTML page to attach to a ticket (no scripts, no external assets)
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WatchFormat {
    /// A table redrawn in place (on a terminal; ndjson otherwise)
    Table,
    /// One JSON object per line: samples and opened/closed/leak events
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,

    /// Write the report to FILE (atomically: a temporary file renamed into place, mode 0644)
    /// instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) filter: FilterArgs,

    /// List every socket, not only those behind findings (JSON `connections`, and a table)
    #[arg(long)]
    pub(crate) all: bool,

    /// When to colour the table
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,

    #[command(flatten)]
    pub(crate) dns: DnsArgs,

    #[command(flatten)]
    pub(crate) wire: WireArgs,

    /// Say where the time went: each phase's wall and CPU seconds and peak memory (JSON
    /// `timings`; on standard error for the table), and the rendering's on standard error
    #[arg(long)]
    pub(crate) timings: bool,
}

/// What counts as stuck, and which connections to look at.
#[derive(Debug, Clone, Args)]
pub(crate) struct FilterArgs {
    /// A connection counts as stuck once it has been idle this long (e.g. 30s, 5m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub(crate) min_idle: Duration,

    /// Only connections held by this pid (repeatable)
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Vec<u32>,

    /// Only connections held by a process of this name (comm or exe basename; repeatable)
    #[arg(long = "process", value_name = "NAME")]
    pub(crate) process: Vec<String>,

    /// Only connections to this remote address or network (repeatable)
    #[arg(long, value_name = "IP|CIDR", value_parser = parse_remote)]
    pub(crate) remote: Vec<IpNet>,

    /// Only connections to this remote port (repeatable)
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Vec<u16>,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,
}

/// Where to look, how to show command lines, and how long: every command that collects.
#[derive(Debug, Clone, Args)]
pub struct ScopeArgs {
    /// Network namespaces to scan: `self`, an `ip netns` name, a pid, `net:[INODE]`, or a
    /// namespace file (repeatable). Default: all of them when root (CAP_SYS_ADMIN), else the
    /// own one. With --from: the recorded namespaces of that name, inode or pid
    #[arg(long, value_name = "self|NAME|PID|PATH", value_parser = crate::collect::netns::Choice::parse)]
    pub(crate) netns: Vec<crate::collect::netns::Choice>,

    /// Show command lines as they are: by default passwords, tokens and URL credentials in
    /// them are masked as ***
    #[arg(long)]
    pub(crate) no_redact: bool,

    /// Bound the whole command: when this passes, what was collected so far is reported,
    /// marked partial (exit status 3 for scan)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
}

/// A snapshot to read instead of this host.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Read a snapshot written by `stuckconn record` (or - for standard input) instead of
    /// this host
    #[arg(long, value_name = "FILE")]
    pub(crate) from: Option<PathBuf>,

    /// Refuse snapshots larger than this (bytes, or with K, M, G)
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = parse_size, requires = "from")]
    pub(crate) snapshot_limit: u64,
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Time between samples (one collection each)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_interval)]
    pub(crate) interval: Duration,

    /// Stop after this long (default: until Ctrl-C)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "count")]
    pub(crate) duration: Option<Duration>,

    /// Stop after this many samples (at least 1)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: Option<u64>,

    /// Output: a table redrawn in place on a terminal, ndjson otherwise
    #[arg(long, value_enum)]
    pub(crate) format: Option<WatchFormat>,

    #[command(flatten)]
    pub(crate) filter: FilterArgs,

    /// When to colour the table
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,

    #[command(flatten)]
    pub(crate) dns: DnsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// WARNING at this many stuck connections (hung calls, close waits, stalled sends,
    /// pending connects)
    #[arg(short, long, value_name = "N", default_value_t = 1)]
    pub(crate) warning: usize,

    /// CRITICAL at this many
    #[arg(short, long, value_name = "N", default_value_t = 20)]
    pub(crate) critical: usize,

    /// Compare the thresholds with the largest count of one process, not the total
    #[arg(long)]
    pub(crate) per_process: bool,

    #[command(flatten)]
    pub(crate) source: SourceArgs,

    #[command(flatten)]
    pub(crate) filter: FilterArgs,

    #[command(flatten)]
    pub(crate) dns: DnsArgs,
}

#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("timeout", |a| a
        .default_value("8s")
        .help("Bound each scan: when this passes, what was collected so far is served, marked \
               partial (stuckconn_scan_partial 1). Keep it below the scrape timeout \
               (Prometheus: 10s by default)")),
    // Metrics never carry command lines: there is nothing to redact.
    mut_arg("no_redact", |a| a.hide(true)),
)]
pub struct ServeArgs {
    /// Listen on this address and port. The default answers only this host; another address
    /// exposes the metrics (process names, remote endpoints) to whoever reaches it: use TLS
    /// and a firewall
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9983")]
    pub(crate) listen: SocketAddr,

    /// Serve the last scan again to scrapes that come within this long of it, instead of
    /// scanning again (scrapes that come during a scan always share it)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub(crate) min_interval: Duration,

    /// Serve HTTPS with this certificate chain (PEM; with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) filter: FilterArgs,

    #[command(flatten)]
    pub(crate) dns: DnsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// Proof on the wire that stuck flows are idle.
#[derive(Debug, Clone, Args)]
pub(crate) struct WireArgs {
    /// Capture the flows behind problem findings for this long and say whether they are idle,
    /// carry only keepalives, or are active after all (libpcap; needs CAP_NET_RAW)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) capture: Option<Duration>,

    /// Re-read the kernel's counters of those flows after this long and compare (no
    /// privilege needed; `--capture` does this too)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) confirm: Option<Duration>,

    /// Capture on this interface instead of `any` (repeatable)
    #[arg(long, value_name = "NAME", requires = "capture")]
    pub(crate) interface: Vec<String>,

    /// Write the captured packets to this pcap file (mode 0600)
    #[arg(long, value_name = "FILE", requires = "capture")]
    pub(crate) pcap_out: Option<PathBuf>,
}

/// Reverse DNS of the remotes and clients of findings.
#[derive(Debug, Clone, Args)]
pub(crate) struct DnsArgs {
    /// Do not look up names (a snapshot recorded with names still shows them)
    #[arg(long)]
    pub(crate) no_dns: bool,

    /// Ask this DNS server instead of the host's and each namespace's own resolver (IP, IP:PORT, [IPv6]:PORT; repeatable)
    #[arg(long, value_name = "IP[:PORT]", value_parser = crate::resolve::parse_server)]
    pub(crate) dns_server: Vec<SocketAddr>,

    /// Hard bound on each reverse lookup, whatever the resolver's own timeouts and attempts
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub(crate) dns_timeout: Duration,

    /// Hard bound on all lookups together [default: 2 x --dns-timeout]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) dns_deadline: Option<Duration>,
}

impl DnsArgs {
    /// Resolver options, or `None` with `--no-dns`.
    pub(crate) fn options(&self) -> Option<crate::resolve::ResolverOptions> {
        (!self.no_dns).then(|| crate::resolve::ResolverOptions {
            servers: self.dns_server.clone(),
            timeout: self.dns_timeout,
            deadline: self.dns_deadline.unwrap_or(self.dns_timeout * 2),
            concurrency: 64,
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Where to write the snapshot (`-` for standard output); created with mode 0600
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: PathBuf,

    /// Record thread evidence (and names) for connections idle at least this long
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub(crate) min_idle: Duration,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,

    #[command(flatten)]
    pub(crate) dns: DnsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The recording: what `watch --format ndjson` printed (or - for standard input)
    #[arg(long, value_name = "FILE")]
    pub(crate) from_watch: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub(crate) format: ReportFormat,

    /// Write the report to FILE (mode 0600) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// Refuse recordings larger than this (bytes, or with K, M, G)
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = parse_size)]
    pub(crate) size_limit: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// One self-contained HTML page (no scripts, no external assets)
    Html,
}

/// `abort`: which stuck connections to destroy, and how to confirm it.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit status: 0 every selected connection was aborted or was already \
gone (or none was selected), 1 some could not be aborted, 2 error, refused or not confirmed."
)]
pub struct AbortArgs {
    /// Only connections of this kind (repeatable; default: every problem kind). Never an
    /// active connection, an idle keep-alive pool or a listening socket
    #[arg(long = "kind", value_name = "KIND", value_parser = clap::builder::TypedValueParser::map(
        clap::builder::PossibleValuesParser::new(["hung_call", "close_wait", "stalled_send", "syn_sent"]),
        |k| crate::report::Kind::ALL.into_iter().find(|kind| kind.key() == k).unwrap_or(crate::report::Kind::HungCall),
    ))]
    pub(crate) kind: Vec<crate::report::Kind>,

    #[command(flatten)]
    pub(crate) filter: FilterArgs,

    /// Show the plan and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Abort without asking (needed when standard input is not a terminal)
    #[arg(short, long, conflicts_with = "dry_run")]
    pub(crate) yes: bool,

    /// Output format: the plan and results as a table, or one JSON document (schema/abort.schema.json)
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = clap::builder::TypedValueParser::map(
        clap::builder::PossibleValuesParser::new(["table", "json"]),
        |f| if f == "json" { Format::Json } else { Format::Table },
    ))]
    pub(crate) format: Format,

    /// When to colour the table
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
}

/// The longest duration any flag takes. Longer ones would overflow clocks, and mean nothing
/// here anyway: the kernel's idle times wrap after 49.7 days.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| format!("{e} (try 30s, 5m, 1h)"))?;
    if duration > MAX_DURATION {
        return Err(format!(
            "{text} is longer than 30 days, the most any duration here may be"
        ));
    }
    Ok(duration)
}

/// A size in bytes: `1000`, `64K`, `512M`, `2G` (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.trim().to_ascii_uppercase().chars().last() {
        Some('K') => (&text[..text.len() - 1], 10),
        Some('M') => (&text[..text.len() - 1], 20),
        Some('G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("{text:?} is not a size (try 1000, 64K, 512M, 2G)"))
}

/// The time between `watch` samples: at least 100 ms (zero would be a busy loop).
fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_millis(100) {
        return Err(format!(
            "{text} is too short: samples are at least 100ms apart"
        ));
    }
    Ok(duration)
}

fn parse_remote(text: &str) -> Result<IpNet, String> {
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    let net = bare
        .parse::<IpNet>()
        .or_else(|_| bare.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR network"))?;
    // Remotes are reported with IPv4-mapped addresses as IPv4 (::ffff:192.0.2.5 is
    // 192.0.2.5): a filter written either way matches the same sockets.
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.network().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            return ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .map_err(|e| e.to_string());
        }
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn remote_accepts_ip_and_cidr() {
        assert_eq!(
            parse_remote("192.0.2.7").unwrap().to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(
            parse_remote("[2001:db8::1]").unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert_eq!(
            parse_remote("198.51.100.0/24").unwrap().to_string(),
            "198.51.100.0/24"
        );
        assert!(parse_remote("example.com").is_err());
        assert_eq!(
            parse_remote("::ffff:192.0.2.5").unwrap().to_string(),
            "192.0.2.5/32",
            "an IPv4-mapped address filters as the IPv4 address the report shows"
        );
        assert_eq!(
            parse_remote("::ffff:198.51.100.0/120").unwrap().to_string(),
            "198.51.100.0/24"
        );
    }
}
