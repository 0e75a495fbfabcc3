//! What stuck connections cost: the memory and swap of the processes that hold them, summed
//! proportionally (PSS, SwapPss from `collect::memory`), as a share of the host's RAM. Pure.

use crate::report::{Impact, Report, Severity};
use crate::snapshot::{Process, Snapshot, Usage};
use std::collections::{BTreeSet, HashMap};

/// Fills the `impact` of every problem finding and the memory of every row of `processes`,
/// from what the probe read of the holders. Nothing when no holder's memory was read (a
/// snapshot recorded before it was).
pub(crate) fn fill(report: &mut Report, snapshot: &Snapshot) {
    let processes: HashMap<u32, &Process> = snapshot.processes.iter().map(|p| (p.pid, p)).collect();
    let usage = |pids: &BTreeSet<u32>| -> Option<Vec<(Option<Usage>, u32)>> {
        let list: Vec<(Option<Usage>, u32)> = pids
            .iter()
            .filter_map(|pid| processes.get(pid))
            .map(|p| (p.memory, p.threads.unwrap_or(1)))
            .collect();
        list.iter().any(|(u, _)| u.is_some()).then_some(list)
    };
    for f in report
        .findings
        .iter_mut()
        .filter(|f| f.severity == Severity::Problem)
    {
        let pids: BTreeSet<u32> = f.processes.iter().flat_map(|p| p.pids.clone()).collect();
        f.impact = usage(&pids).map(|list| impact(&list, snapshot.mem_total_bytes));
    }
    for row in &mut report.processes {
        let pids: BTreeSet<u32> = row.pids.iter().copied().collect();
        if let Some(list) = usage(&pids) {
            let sum = impact(&list, None);
            row.memory_bytes = Some(sum.memory_bytes);
            row.swap_bytes = Some(sum.swap_bytes);
        }
    }
}

/// Sums the memory of the holding processes: `(usage, threads)` per process, `None` for a
/// process whose memory could not be read at all (counted in `processes`, not in the bytes).
pub fn impact(processes: &[(Option<Usage>, u32)], mem_total_bytes: Option<u64>) -> Impact {
    let read: Vec<&Usage> = processes.iter().filter_map(|(u, _)| u.as_ref()).collect();
    let memory_bytes = read.iter().map(|u| u.memory_bytes).sum::<u64>();
    Impact {
        processes: processes.len(),
        threads: processes.iter().map(|&(_, t)| u64::from(t)).sum(),
        memory_bytes,
        swap_bytes: read.iter().map(|u| u.swap_bytes).sum(),
        memory_share: mem_total_bytes
            .filter(|&t| t > 0)
            .map(|t| memory_bytes as f64 / t as f64),
        proportional: read.len() == processes.len() && read.iter().all(|u| u.proportional),
    }
}

/// `2.9 GiB`, `400 MiB`, `12 KiB`: binary units, one decimal below 10.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{} {}", value.round() as u64, UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The table's line: `apache2 ×111 hold 2.9 GiB (71% of RAM), 400 MiB swap`.
pub fn phrase(name: &str, impact: &Impact) -> String {
    let who = if impact.processes == 1 {
        format!("{name} holds")
    } else {
        format!("{name} ×{} hold", impact.processes)
    };
    let mut text = format!("{who} {}", human_bytes(impact.memory_bytes));
    if let Some(share) = impact.memory_share {
        text.push_str(&format!(" ({:.0}% of RAM)", share * 100.0));
    }
    if impact.swap_bytes > 0 {
        text.push_str(&format!(", {} swap", human_bytes(impact.swap_bytes)));
    }
    if !impact.proportional {
        text.push_str(" (RSS: shared pages may count more than once)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pss(memory: u64, swap: u64) -> Option<Usage> {
        Some(Usage {
            memory_bytes: memory,
            swap_bytes: swap,
            rss_bytes: memory * 10,
            proportional: true,
        })
    }

    #[test]
    fn the_incident_line() {
        // 111 workers, 2.9 GiB of PSS in all on 4 GiB, 400 MiB of swap.
        let each = (29u64 << 30) / 10 / 111;
        let swap = (400u64 << 20) / 111;
        let workers: Vec<_> = (0..111).map(|_| (pss(each, swap), 1)).collect();
        let i = impact(&workers, Some(4u64 << 30));
        assert_eq!(i.processes, 111);
        assert_eq!(i.threads, 111);
        assert!(i.proportional);
        assert_eq!(
            phrase("apache2", &i),
            "apache2 ×111 hold 2.9 GiB (72% of RAM), 400 MiB swap"
        );
    }

    #[test]
    fn rss_fallback_and_unreadable() {
        let rss = Some(Usage {
            memory_bytes: 5 << 20,
            swap_bytes: 0,
            rss_bytes: 5 << 20,
            proportional: false,
        });
        let i = impact(&[(rss, 2), (None, 1)], None);
        assert_eq!(i.processes, 2);
        assert_eq!(i.threads, 3);
        assert_eq!(i.memory_bytes, 5 << 20);
        assert_eq!(i.memory_share, None);
        assert!(!i.proportional);
        assert_eq!(
            phrase("worker", &i),
            "worker ×2 hold 5.0 MiB (RSS: shared pages may count more than once)"
        );
        let one = impact(&[(pss(12 << 10, 0), 1)], Some(1 << 30));
        assert_eq!(phrase("curl", &one), "curl holds 12 KiB (0% of RAM)");
    }

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(400 << 20), "400 MiB");
        assert_eq!(human_bytes(u64::MAX), "16 EiB");
    }
}
