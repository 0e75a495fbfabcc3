//! Measuring a run for `--timings`: a stopwatch that laps the wall clock, the process's CPU
//! time (`CLOCK_PROCESS_CPUTIME_ID`: every thread, user and system) and its peak resident
//! memory (`VmHWM` of /proc/self/status). A lap costs two system calls and one small read.

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
            peak_rss_kib: peak_rss_kib().unwrap_or(0),
        };
        (self.wall, self.cpu) = (wall, cpu);
        phase
    }
}

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

/// The process's peak resident memory so far, in KiB (`VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm(&status)
}

fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
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
    fn peak_rss_is_read_from_vm_hwm() {
        assert_eq!(
            vm_hwm("Name:\tx\nVmHWM:\t   16092 kB\nVmRSS:\t 12 kB\n"),
            Some(16092)
        );
        assert_eq!(vm_hwm("Name:\tx\n"), None);
        assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
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
    }
}
