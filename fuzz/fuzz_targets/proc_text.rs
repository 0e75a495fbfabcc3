//! /proc text: syscall lines, cgroup paths, pollfd arrays and fd sets.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stuckconn::collect::{cgroup, waits};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(line) = waits::parse_syscall(&text) {
        let _ = waits::classify(&line, None);
    }
    let paths: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = cgroup::identify(&paths);
    let _ = cgroup::pod_uid(&paths);
    let _ = waits::poll_fds(data);
    let _ = waits::fd_set_fds(data, data.len() as u64 * 8);
});
