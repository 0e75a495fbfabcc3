//! The live capture with libpcap (cargo feature `capture`): non-promiscuous, on `any` or the
//! interfaces asked for, non-blocking, polled with the time left so that it ends on time even
//! when no packet arrives.

use super::flows::FlowTable;
use crate::snapshot::Endpoint;
use std::path::Path;
use std::time::Duration;

/// Enough for the headers of Linux cooked v2 (20 bytes) + IPv6 with an extension header
/// (80) + TCP with options (60). Payload beyond that is never captured; `--pcap-out` keeps
/// only the headers of each packet.
#[cfg_attr(not(feature = "capture"), allow(dead_code))]
pub(crate) const SNAPLEN: i32 = 160;

/// What a capture produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) table: FlowTable,
    pub(crate) filter: String,
    pub(crate) seconds: f64,
    /// What went wrong without spoiling the capture (the pcap file could not be written).
    pub(crate) warnings: Vec<String>,
}

/// Why a capture could not run. `Usage` is the user's mistake (exit 2); `Unavailable` is a
/// warning: the scan still reports.
#[derive(Debug)]
#[cfg_attr(not(feature = "capture"), allow(dead_code))]
pub(crate) enum CaptureError {
    Usage(String),
    Unavailable(String),
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureError::Usage(message) | CaptureError::Unavailable(message) => {
                f.write_str(message)
            }
        }
    }
}

#[cfg(not(feature = "capture"))]
const NOT_BUILT: &str = "this stuckconn was built without packet capture (cargo feature `capture`, which needs libpcap-dev: apt-get install libpcap-dev, then cargo build --release); `--confirm DURATION` gives the counter proof without it";

/// Why this build cannot capture at all, if it cannot.
pub(crate) fn missing_support() -> Option<&'static str> {
    #[cfg(feature = "capture")]
    return None;
    #[cfg(not(feature = "capture"))]
    return Some(NOT_BUILT);
}

/// Checks that every interface exists, before anything is collected.
#[cfg(feature = "capture")]
pub(crate) fn check_interfaces(names: &[String]) -> Result<(), CaptureError> {
    if names.is_empty() {
        return Ok(());
    }
    let devices = pcap::Device::list()
        .map_err(|e| CaptureError::Unavailable(format!("cannot list interfaces: {e}")))?;
    for name in names {
        if !devices.iter().any(|d| &d.name == name) {
            let known: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
            return Err(CaptureError::Usage(format!(
                "no such interface: {name} (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(not(feature = "capture"))]
pub(crate) fn check_interfaces(_names: &[String]) -> Result<(), CaptureError> {
    Ok(())
}

#[cfg(not(feature = "capture"))]
pub(crate) fn run(
    _flows: &[(Endpoint, Endpoint)],
    _duration: Duration,
    _interfaces: &[String],
    _pcap_out: Option<&Path>,
) -> Result<Outcome, CaptureError> {
    Err(CaptureError::Unavailable(NOT_BUILT.to_string()))
}

/// Captures the given flows for `duration` on `interfaces` (`any` when empty), optionally
/// writing their packets' headers to `pcap_out`.
#[cfg(feature = "capture")]
pub(crate) fn run(
    flows: &[(Endpoint, Endpoint)],
    duration: Duration,
    interfaces: &[String],
    pcap_out: Option<&Path>,
) -> Result<Outcome, CaptureError> {
    let filter = super::bpf_filter(flows);
    let names: Vec<String> = if interfaces.is_empty() {
        vec!["any".to_string()]
    } else {
        interfaces.to_vec()
    };
    if pcap_out.is_some() && names.len() > 1 {
        return Err(CaptureError::Usage(
            "--pcap-out records one interface: give at most one --interface".to_string(),
        ));
    }
    let mut captures = names
        .iter()
        .map(|name| open(name, &filter))
        .collect::<Result<Vec<_>, _>>()?;
    let mut savefile = match pcap_out {
        Some(path) => Some(PcapOut::create(path, captures[0].1)?),
        None => None,
    };
    let mut table = FlowTable::new(flows.iter().copied());
    let started = std::time::Instant::now();
    capture_until(
        &mut captures,
        started + duration,
        &mut table,
        savefile.as_mut(),
    );
    let mut warnings = Vec::new();
    if let Some(out) = savefile {
        // A full disk costs the file (nothing half-written is left), not the verdicts.
        if let Err(CaptureError::Unavailable(message) | CaptureError::Usage(message)) = out.finish()
        {
            warnings.push(message);
        }
    }
    Ok(Outcome {
        table,
        filter,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// A live, non-blocking, non-promiscuous capture of `device` with `filter`, and its link type.
#[cfg(feature = "capture")]
fn open(device: &str, filter: &str) -> Result<(pcap::Capture<pcap::Active>, i32), CaptureError> {
    let capture = pcap::Capture::from_device(device)
        .and_then(|c| {
            c.promisc(false)
                .snaplen(SNAPLEN)
                .immediate_mode(true)
                .buffer_size(4 << 20)
                .open()
        })
        .map_err(|e| unavailable(device, &e))?;
    let mut capture = capture.setnonblock().map_err(|e| unavailable(device, &e))?;
    capture
        .filter(filter, true)
        .map_err(|e| CaptureError::Unavailable(format!("cannot set the capture filter: {e}")))?;
    let linktype = capture.get_datalink().0;
    Ok((capture, linktype))
}

/// Takes packets until `deadline` (or a signal): each polled with the time left, at most a
/// tick at a time, drained, attributed to its flow, and (its headers) saved.
#[cfg(feature = "capture")]
fn capture_until(
    captures: &mut [(pcap::Capture<pcap::Active>, i32)],
    deadline: std::time::Instant,
    table: &mut FlowTable,
    mut savefile: Option<&mut PcapOut>,
) {
    use rustix::event::{poll, PollFd, PollFlags};
    use std::io::IsTerminal;
    use std::time::Instant;
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut packets = 0u64;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || crate::deadline::interrupted_by().is_some() {
            break;
        }
        progress.set_message(format!(
            "capturing: {}s left, {packets} packets so far",
            left.as_secs_f64().ceil() as u64
        ));
        {
            let mut fds: Vec<PollFd> = captures
                .iter()
                .map(|(c, _)| PollFd::new(c, PollFlags::IN))
                .collect();
            let wait = left.min(crate::deadline::TICK);
            let timeout = rustix::event::Timespec::try_from(wait).ok();
            let _ = poll(&mut fds, timeout.as_ref());
        }
        for (capture, linktype) in captures.iter_mut() {
            // Drain what is there, but never past the deadline.
            while Instant::now() < deadline {
                let Ok(packet) = capture.next_packet() else {
                    break;
                };
                packets += 1;
                let Some(segment) = super::packet::parse(*linktype, packet.data) else {
                    continue;
                };
                // Only packets of the watched flows, and only their headers, are kept.
                if table.add(&segment) {
                    if let Some(out) = savefile.as_deref_mut() {
                        out.write(&packet, segment.headers_len);
                    }
                }
            }
        }
    }
    progress.finish_and_clear();
}

/// Reads a pcap file (any link type this parser knows) into a flow table for `flows`.
/// Returns the table and the number of packets read.
#[cfg(feature = "capture")]
pub fn read_file(path: &Path, flows: &[(Endpoint, Endpoint)]) -> Result<(FlowTable, u64), String> {
    let mut capture = pcap::Capture::from_file(path).map_err(|e| e.to_string())?;
    let linktype = capture.get_datalink().0;
    let mut table = FlowTable::new(flows.iter().copied());
    let mut packets = 0;
    while let Ok(packet) = capture.next_packet() {
        packets += 1;
        if let Some(segment) = super::packet::parse(linktype, packet.data) {
            table.add(&segment);
        }
    }
    Ok((table, packets))
}

#[cfg(feature = "capture")]
fn unavailable(device: &str, err: &pcap::Error) -> CaptureError {
    let text = err.to_string();
    if text.contains("No such device") || text.contains("doesn't exist") {
        return CaptureError::Usage(format!("no such interface: {device}"));
    }
    if text.contains("not permitted") || text.contains("ermission") {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "stuckconn".to_string());
        return CaptureError::Unavailable(format!(
            "packet capture needs CAP_NET_RAW ({text}): run as root, or allow this binary with `sudo setcap cap_net_raw=eip {exe}`"
        ));
    }
    CaptureError::Unavailable(format!("cannot capture on {device}: {text}"))
}

/// `--pcap-out`: a savefile written through the descriptor `crate::output` opened (an
/// unnamed temporary file renamed into place when complete, or a device written in place).
#[cfg(feature = "capture")]
struct PcapOut {
    file: super::savefile::Savefile<crate::output::Output>,
    /// The first write error: the file is then abandoned (nothing half-written is left).
    error: Option<std::io::Error>,
    path: std::path::PathBuf,
}

#[cfg(feature = "capture")]
impl PcapOut {
    fn create(path: &Path, linktype: i32) -> Result<PcapOut, CaptureError> {
        let fail = |e: &dyn std::fmt::Display| {
            CaptureError::Usage(format!("cannot write {}: {e}", path.display()))
        };
        let out =
            crate::output::Output::open(path, crate::output::PRIVATE).map_err(|e| fail(&e))?;
        let linktype = u32::try_from(linktype).unwrap_or(0);
        let file =
            super::savefile::Savefile::new(out, linktype, SNAPLEN as u32).map_err(|e| fail(&e))?;
        Ok(PcapOut {
            file,
            error: None,
            path: path.to_path_buf(),
        })
    }

    fn write(&mut self, packet: &pcap::Packet, headers_len: u32) {
        if self.error.is_some() {
            return;
        }
        let data = packet.data;
        let headers = &data[..data.len().min(headers_len as usize)];
        let (secs, micros) = (packet.header.ts.tv_sec, packet.header.ts.tv_usec);
        if let Err(err) = self.file.packet(
            u32::try_from(secs).unwrap_or(0),
            u32::try_from(micros).unwrap_or(0),
            packet.header.len,
            headers,
        ) {
            self.error = Some(err);
        }
    }

    fn finish(self) -> Result<(), CaptureError> {
        let fail = |e: &dyn std::fmt::Display| {
            CaptureError::Unavailable(format!("cannot write {}: {e}", self.path.display()))
        };
        if let Some(err) = &self.error {
            return Err(fail(err));
        }
        self.file.into_inner().commit().map_err(|e| fail(&e))
    }
}
