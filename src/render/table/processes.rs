//! Which process leaks: the problem findings summed per process.

use super::*;
use super::{sanitize, Style};
use crate::report::{display_name, human_duration, Report};
use comfy_table::Cell;

pub(super) fn table(report: &Report, style: Style) -> String {
    // Count columns: HUNG always, the others only when some process has one of that kind.
    type Count = fn(&crate::report::ProcessSummary) -> usize;
    let counts: Vec<(&str, Count)> = [
        ("HUNG", (|p| p.hung_call) as Count),
        ("CLOSE-WAIT", |p| p.close_wait),
        ("STALLED", |p| p.stalled_send),
        ("SYN-SENT", |p| p.syn_sent),
    ]
    .into_iter()
    .enumerate()
    .filter(|(i, (_, count))| *i == 0 || report.processes.iter().any(|p| count(p) > 0))
    .map(|(_, column)| column)
    .collect();
    // MEMORY only when the holders' memory was read (a live scan, or a recent recording).
    let memory = report.processes.iter().any(|p| p.memory_bytes.is_some());
    let mut header = vec!["WHICH PROCESS LEAKS", "UNIT", "PIDS"];
    header.extend(counts.iter().map(|(name, _)| *name));
    header.push("OLDEST");
    if memory {
        header.push("MEMORY");
    }
    header.push("SERVING WHILE STUCK");
    let mut table = new_table(style, &header);
    for p in &report.processes {
        let pids = match p.pids.len() {
            0 => "-".to_string(),
            1..=3 => p
                .pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
            n => format!("×{n}"),
        };
        let unit = p
            .place()
            .map(|u| sanitize(&u).into_owned())
            .unwrap_or_else(|| "-".to_string());
        let mut clients: Vec<String> = p
            .clients
            .iter()
            .take(3)
            .map(|c| match display_name(&c.name) {
                Some(name) => format!("{} ({}) ×{}", c.ip, sanitize(&name), c.connections),
                None => format!("{} ×{}", c.ip, c.connections),
            })
            .collect();
        if p.clients.len() > 3 {
            clients.push(format!("+{} more", p.clients.len() - 3));
        }
        let mut row = vec![
            Cell::new(sanitize(&p.name)),
            Cell::new(unit),
            Cell::new(pids),
        ];
        row.extend(counts.iter().map(|(_, count)| Cell::new(count(p))));
        row.push(Cell::new(
            p.oldest_idle_secs.map_or("?".to_string(), human_duration),
        ));
        if memory {
            row.push(Cell::new(memory_text(p)));
        }
        row.push(Cell::new(if clients.is_empty() {
            "-".to_string()
        } else {
            clients.join(", ")
        }));
        table.add_row(row);
    }
    let numeric: Vec<usize> = (3..4 + counts.len()).collect();
    right_align(&mut table, &numeric);
    let mut whole = vec![2];
    whole.extend(&numeric);
    keep_whole(&mut table, &whole);
    trimmed(&table)
}

/// `2.9 GiB`, `2.9 GiB + 400 MiB swap`, `?` when not read.
fn memory_text(p: &crate::report::ProcessSummary) -> String {
    use crate::enrich::impact::human_bytes;
    match (p.memory_bytes, p.swap_bytes.unwrap_or(0)) {
        (None, _) => "?".to_string(),
        (Some(memory), 0) => human_bytes(memory),
        (Some(memory), swap) => format!("{} + {} swap", human_bytes(memory), human_bytes(swap)),
    }
}
