//! Every connection (with `--all`).

use super::*;
use super::{sanitize, Style};
use crate::report::{human_duration, Report};
use comfy_table::Cell;

pub(super) fn table(report: &Report, style: Style) -> String {
    let mut table = new_table(
        style,
        &[
            "KIND",
            "STATE",
            "LOCAL",
            "REMOTE",
            "PROCESS",
            "PID/FD",
            "IDLE",
            "SENT",
            "RECV",
            "RQ/SQ",
            "THREAD WAITING",
        ],
    );
    let dash = || "-".to_string();
    for c in &report.connections {
        let thread = c
            .blocked_threads
            .iter()
            .map(|t| format!("{} in {}", t.tid, sanitize(&t.syscall)))
            .collect::<Vec<_>>()
            .join(", ");
        table.add_row(vec![
            kind_cell(c.kind, style),
            Cell::new(c.state.label()),
            Cell::new(c.local),
            Cell::new(c.remote),
            Cell::new(
                c.process
                    .as_deref()
                    .map_or_else(dash, |p| sanitize(p).into_owned()),
            ),
            Cell::new(match (c.pid, c.fd) {
                (Some(pid), Some(fd)) => format!("{pid}/{fd}"),
                _ => dash(),
            }),
            Cell::new(c.idle_secs.map_or_else(dash, human_duration)),
            Cell::new(c.bytes_sent.map_or_else(dash, |b| b.to_string())),
            Cell::new(c.bytes_received.map_or_else(dash, |b| b.to_string())),
            Cell::new(format!("{}/{}", c.recv_q, c.send_q)),
            Cell::new(if thread.is_empty() { dash() } else { thread }),
        ]);
    }
    right_align(&mut table, &[6, 7, 8, 9]);
    keep_whole(&mut table, &[0, 1, 2, 3, 5, 6, 7, 8, 9]);
    trimmed(&table)
}
