//! `--timings` for people: the breakdown of a run as lines for standard error, one per phase
//! (wall and CPU seconds, peak memory after it, what it worked through).

use crate::snapshot::timings::{Breakdown, Phase};

/// The lines, without the `stuckconn: ` prefix `messages::note` adds.
pub fn lines(breakdown: &Breakdown) -> Vec<String> {
    let total = |f: fn(&Phase) -> f64| breakdown.phases.iter().map(f).sum::<f64>();
    let mut lines: Vec<String> = breakdown
        .phases
        .iter()
        .map(|p| {
            let row = format!(
                "timings: {:<10} {:>8.3} s  cpu {:>7.3} s  peak {:>7.1} MiB ({:.1} in files)",
                p.phase,
                p.secs,
                p.cpu_secs,
                p.peak_rss_kib as f64 / 1024.0,
                p.rss_file_kib as f64 / 1024.0
            );
            match detail(breakdown, &p.phase) {
                Some(what) => format!("{row}  {what}"),
                None => row,
            }
        })
        .collect();
    if breakdown.dumps.len() > 1 {
        for d in &breakdown.dumps {
            lines.push(format!(
                "timings:   dump of net:[{}] {:>8.3} s  {} sockets",
                d.netns,
                d.secs,
                grouped(d.sockets)
            ));
        }
    }
    lines.push(format!(
        "timings: {:<10} {:>8.3} s  cpu {:>7.3} s",
        "total",
        total(|p| p.secs),
        total(|p| p.cpu_secs)
    ));
    lines
}

/// What a phase worked through, where the breakdown says.
fn detail(breakdown: &Breakdown, phase: &str) -> Option<String> {
    match phase {
        "dump" if !breakdown.dumps.is_empty() => {
            let sockets: usize = breakdown.dumps.iter().map(|d| d.sockets).sum();
            let n = breakdown.dumps.len();
            Some(format!(
                "{} sockets in {} namespace{}",
                grouped(sockets),
                n,
                if n == 1 { "" } else { "s" }
            ))
        }
        "fd_walk" => breakdown.fd_walk.map(|w| {
            format!(
                "walk {:.3} s, cpu {:.3} s: {} processes, {} fds, {} sockets, {} of them dumped",
                w.secs,
                w.cpu_secs,
                grouped(w.processes),
                grouped(w.fds),
                grouped(w.sockets),
                grouped(w.matched)
            )
        }),
        _ => None,
    }
}

/// 1234567 as `1,234,567`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::timings::{NamespaceDump, WalkCounts};

    fn phase(name: &str, secs: f64) -> Phase {
        Phase {
            phase: name.to_string(),
            secs,
            cpu_secs: secs / 2.0,
            peak_rss_kib: 2048,
            rss_file_kib: 1024,
        }
    }

    #[test]
    fn each_phase_is_a_line_with_what_it_worked_through_and_a_total() {
        let breakdown = Breakdown {
            phases: vec![
                phase("dump", 0.5),
                phase("fd_walk", 0.25),
                phase("render", 0.25),
            ],
            dumps: vec![NamespaceDump {
                netns: 4026531840,
                sockets: 200_006,
                secs: 0.5,
            }],
            fd_walk: Some(WalkCounts {
                secs: 0.375,
                cpu_secs: 0.3,
                processes: 1096,
                fds: 205_501,
                sockets: 200_013,
                matched: 200_006,
            }),
        };
        let lines = lines(&breakdown);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert_eq!(
            lines[0],
            "timings: dump          0.500 s  cpu   0.250 s  peak     2.0 MiB (1.0 in files)  \
             200,006 sockets in 1 namespace"
        );
        assert!(
            lines[1].ends_with(
                "walk 0.375 s, cpu 0.300 s: 1,096 processes, 205,501 fds, 200,013 sockets, \
                 200,006 of them dumped"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[3].starts_with("timings: total         1.000 s  cpu   0.500 s"));
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
