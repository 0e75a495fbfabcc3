//! /proc text: syscall lines, cgroup paths, pollfd arrays and fd sets.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stuckconn::collect::{cgroup, threads};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(line) = threads::parse_syscall(&text) {
        let _ = threads::wait_of(&line);
    }
    let paths: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = cgroup::identify(&paths);
    let _ = cgroup::pod_uid(&paths);
    let _ = threads::poll_fds(data);
    let _ = threads::fd_set_fds(data, data.len() as u64 * 8);
});
