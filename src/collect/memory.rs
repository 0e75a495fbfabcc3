//! What a process's memory costs the host: its proportional set size (PSS: each shared page
//! divided among the processes that map it, so that 111 forked workers sharing their code and
//! heap are not counted 111 times) and its proportional swap (SwapPss), from
//! `/proc/PID/smaps_rollup` (Linux 4.14+; a walk over the process's mappings, readable with
//! the same permission as /proc/PID/mem's PTRACE_MODE_READ). Where it cannot be read, the
//! resident set size (RSS) and swap from `/proc/PID/status`, which anyone can read, and which
//! count shared pages once per process: `Usage::proportional` says which.

pub use crate::snapshot::Usage;

/// smaps_rollup and status are a few hundred bytes to 2 KiB: more is not a file we know.
const MAX_BYTES: u64 = 64 * 1024;

/// Reads `pid`'s memory: smaps_rollup, or status. `None` when the process is gone or
/// neither file says (a kernel thread, a zombie).
pub fn usage(pid: u32) -> Option<Usage> {
    if let Some(text) = read_bounded(&format!("/proc/{pid}/smaps_rollup")) {
        if let Some(usage) = parse_smaps_rollup(&text) {
            return Some(usage);
        }
    }
    parse_status(&read_bounded(&format!("/proc/{pid}/status"))?)
}

/// The host's memory (`MemTotal` of /proc/meminfo), in bytes.
pub fn mem_total_bytes() -> Option<u64> {
    parse_mem_total(&read_bounded("/proc/meminfo")?)
}

pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    kb(meminfo, "MemTotal:")
}

/// `Rss:`, `Pss:`, `SwapPss:` of a smaps_rollup text. `None` without `Pss:` (an empty
/// rollup: a zombie or a kernel thread).
pub fn parse_smaps_rollup(text: &str) -> Option<Usage> {
    Some(Usage {
        memory_bytes: kb(text, "Pss:")?,
        swap_bytes: kb(text, "SwapPss:").unwrap_or(0),
        rss_bytes: kb(text, "Rss:").unwrap_or(0),
        proportional: true,
    })
}

/// `VmRSS:` and `VmSwap:` of a status text. `None` without `VmRSS:` (kernel threads).
pub fn parse_status(text: &str) -> Option<Usage> {
    let rss = kb(text, "VmRSS:")?;
    Some(Usage {
        memory_bytes: rss,
        swap_bytes: kb(text, "VmSwap:").unwrap_or(0),
        rss_bytes: rss,
        proportional: false,
    })
}

/// The value of the line starting with `key` (`Pss:   1234 kB`), in bytes.
fn kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb.saturating_mul(1024))
}

fn read_bounded(path: &str) -> Option<String> {
    crate::procfile::read_text(path, MAX_BYTES).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLLUP: &str =
        "55d7c9a8d000-7ffd8a1f6000 ---p 00000000 00:00 0                          [rollup]
Rss:              121524 kB
Pss:               12011 kB
Pss_Dirty:          9320 kB
Pss_Anon:           9306 kB
Pss_File:           2705 kB
Pss_Shmem:             0 kB
Shared_Clean:     109000 kB
Shared_Dirty:          0 kB
Private_Clean:       224 kB
Private_Dirty:     12300 kB
Referenced:       121524 kB
Anonymous:         12300 kB
Swap:               4096 kB
SwapPss:            1024 kB
Locked:                0 kB
";

    #[test]
    fn rollup_gives_proportional_values() {
        let u = parse_smaps_rollup(ROLLUP).unwrap();
        assert_eq!(u.memory_bytes, 12011 * 1024);
        assert_eq!(u.swap_bytes, 1024 * 1024);
        assert_eq!(u.rss_bytes, 121524 * 1024);
        assert!(u.proportional);
        // `Pss_Dirty:` and friends are not `Pss:`.
        assert_eq!(parse_smaps_rollup("Pss_Anon: 5 kB\n"), None);
        assert_eq!(parse_smaps_rollup(""), None);
    }

    #[test]
    fn status_is_the_fallback() {
        let status = "Name:\tapache2\nVmRSS:\t   20480 kB\nVmSwap:\t     512 kB\nThreads:\t1\n";
        let u = parse_status(status).unwrap();
        assert_eq!(u.memory_bytes, 20480 * 1024);
        assert_eq!(u.swap_bytes, 512 * 1024);
        assert!(!u.proportional);
        assert_eq!(parse_status("Name:\tkthreadd\nThreads:\t1\n"), None);
    }

    #[test]
    fn mem_total() {
        assert_eq!(
            parse_mem_total("MemTotal:        4030000 kB\nMemFree: 1 kB\n"),
            Some(4_030_000 * 1024)
        );
        assert!(mem_total_bytes().unwrap() > 0);
    }

    #[test]
    fn this_process() {
        let u = usage(std::process::id()).unwrap();
        assert!(u.proportional, "our own smaps_rollup is readable");
        assert!(u.memory_bytes > 0 && u.memory_bytes <= u.rss_bytes);
        assert_eq!(usage(u32::MAX), None);
    }
}
