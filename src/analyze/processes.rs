//! Which process leaks (the problem findings summed per process), and the connections as the
//! report lists them.

use super::findings::{Context, ProcessKey};
use crate::report::{ConnectionReport, FindingKey, Kind, OwnerReport, ProcessSummary};
use std::collections::BTreeMap;

impl Context<'_> {
    pub(crate) fn process_summaries(
        &self,
        groups: &BTreeMap<FindingKey, Vec<usize>>,
    ) -> Vec<ProcessSummary> {
        let mut rows: BTreeMap<ProcessKey, ProcessSummary> = BTreeMap::new();
        for (key, members) in groups.iter().filter(|(k, _)| k.kind.is_problem()) {
            for &i in members {
                let j = &self.judged[i];
                let pid = j.holder().map(|h| h.pid);
                let row_key = self.process_key(pid);
                let row = rows.entry(row_key).or_insert_with(|| ProcessSummary {
                    name: row_key.0.to_string(),
                    unit: row_key.1.map(str::to_string),
                    container: row_key.2.map(str::to_string),
                    container_names: pid
                        .and_then(|pid| self.processes.get(&pid))
                        .map(|p| p.container_names.clone())
                        .unwrap_or_default(),
                    pids: Vec::new(),
                    hung_call: 0,
                    stalled_send: 0,
                    close_wait: 0,
                    syn_sent: 0,
                    threads_blocked: 0,
                    oldest_idle_secs: None,
                    clients: Vec::new(),
                    memory_bytes: None,
                    swap_bytes: None,
                });
                if let Some(pid) = pid {
                    if !row.pids.contains(&pid) {
                        row.pids.push(pid);
                    }
                }
                // The threads of this row's processes (a co-owner of another name keeps its
                // own threads, in the finding's rows).
                row.threads_blocked += j
                    .blocked()
                    .iter()
                    .filter(|t| {
                        j.conn.owners().iter().all(|o| o.pid != t.pid)
                            || self.process_key(Some(t.pid)) == row_key
                    })
                    .count();
                match key.kind {
                    Kind::HungCall => row.hung_call += 1,
                    Kind::StalledSend => row.stalled_send += 1,
                    Kind::CloseWait => row.close_wait += 1,
                    Kind::SynSent => row.syn_sent += 1,
                    _ => {}
                }
                if let Some(ms) = j.idle_ms() {
                    let secs = ms as f64 / 1000.0;
                    row.oldest_idle_secs =
                        Some(row.oldest_idle_secs.map_or(secs, |o: f64| o.max(secs)));
                }
            }
        }
        let mut rows: Vec<ProcessSummary> = rows
            .into_values()
            .map(|mut row| {
                row.pids.sort_unstable();
                row.clients = self.clients(&row.pids.iter().copied().collect());
                row
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.stuck()));
        rows
    }

    pub(crate) fn connection_report(&self, i: usize) -> ConnectionReport {
        let j = &self.judged[i];
        let c = j.conn;
        let info = c.tcp_info();
        let mut owners: smallvec::SmallVec<[OwnerReport; 1]> = c
            .owners()
            .iter()
            .map(|o| OwnerReport {
                pid: o.pid,
                fd: o.fd,
                process: self.process_name(o.pid),
            })
            .collect();
        owners.sort_by_key(|o| (o.pid, o.fd));
        ConnectionReport {
            kind: j.kind,
            netns: self.shared_netns(c.netns()),
            state: c.state,
            direction: j.direction,
            local: c.local(),
            remote: c.remote(),
            pid: j.holder().map(|o| o.pid),
            fd: j.holder().map(|o| o.fd),
            process: j.holder().and_then(|o| self.process_name(o.pid)),
            owners,
            idle_secs: j.idle_ms().map(|ms| ms as f64 / 1000.0),
            bytes_sent: info.and_then(|i| i.bytes_sent()),
            bytes_received: info.and_then(|i| i.bytes_received),
            recv_q: c.recv_q,
            send_q: c.send_q,
            unacked: info.map(|i| i.unacked),
            retransmits: info.map(|i| i.retransmits),
            blocked_threads: j.blocked_shared(),
            capture: None,
            confirm: None,
            timeouts: None,
            cookie: c.cookie(),
            inode: u64::from(c.inode),
            uid: c.uid,
            index: i,
        }
    }
}
