//! Measuring a run for `--timings`: a stopwatch that laps the wall clock, the process's CPU
//! time (`CLOCK_PROCESS_CPUTIME_ID`: every thread, user and system) and its peak resident
//! memory (`VmHWM` of /proc/self/status) and how much of it is mapped from files (`RssFile`). A lap costs two system calls and one small read.

use crate::snapshot::timings::Phase;
use std::time::{Duration, Instant};

/// Laps phases one after the other.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }

    /// The phase `name`, from the start or the last lap until now; the next one starts now.
    pub fn lap(&mut self, name: &str) -> Phase {
        let (wall, cpu) = (Instant::now(), cpu_time());
        let phase = Phase {
            phase: name.to_string(),
            secs: wall.duration_since(self.wall).as_secs_f64(),
            cpu_secs: cpu.saturating_sub(self.cpu).as_secs_f64(),
            peak_rss_kib: 0,
            rss_file_kib: 0,
        };
        let phase = match crate::procfile::read_text("/proc/self/status", STATUS_CAP) {
            Ok(status) => Phase {
                peak_rss_kib: kib(&status, "VmHWM:").unwrap_or(0),
                rss_file_kib: kib(&status, "RssFile:").unwrap_or(0),
                ..phase
            },
            Err(_) => phase,
        };
        (self.wall, self.cpu) = (wall, cpu);
        phase
    }
}

/// The most read of /proc/self/status (about 1.5 KiB).
const STATUS_CAP: u64 = 64 << 10;

/// CPU time of the whole process so far.
pub fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// CPU time of the calling thread so far.
pub fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// The value of the line `key` (`VmHWM:`) of a /proc/PID/status text, in KiB.
fn kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_and_file_backed_memory_are_read_from_status() {
        let status = "Name:\tx\nVmHWM:\t   16092 kB\nVmRSS:\t 12 kB\nRssFile:\t    6912 kB\n";
        assert_eq!(kib(status, "VmHWM:"), Some(16092));
        assert_eq!(kib(status, "RssFile:"), Some(6912));
        assert_eq!(kib(status, "RssShmem:"), None);
        assert_eq!(kib("Name:\tx\n", "VmHWM:"), None);
    }

    #[test]
    fn a_lap_counts_the_cpu_time_spent_in_it() {
        let mut watch = Stopwatch::start();
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let phase = watch.lap("spin");
        assert_eq!(phase.phase, "spin");
        assert!(phase.secs >= 0.02 && phase.cpu_secs > 0.0, "{phase:?}");
        assert!(phase.peak_rss_kib > 0);
        // This program's code is mapped from its file.
        assert!(phase.rss_file_kib > 0 && phase.rss_file_kib < phase.peak_rss_kib);
    }
}
