//! Runs a command (its output thrown away) and prints `WALL USER SYSTEM PEAK_KIB`: wall time
//! from spawn to reaping, its CPU times and peak RSS from wait4's rusage, to the microsecond
//! (GNU time prints hundredths of a second: too coarse for a scan of 1,000 connections). For
//! bench/curve.sh; not a part of stuckconn.
//!
//!   measure COMMAND [ARGS...]
//!
//! The peak RSS of a process includes what it had before exec: a small launcher (this one, or
//! GNU time) keeps that floor at a megabyte or two, where a Python one would add its own 14 MiB.

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: measure COMMAND [ARGS...]");
        std::process::exit(2);
    };
    let start = Instant::now();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by wait4 below, which gives its rusage"
    )]
    let child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with pointers to locals that outlive the call. The Child
    // is never waited on by std, so the pid is reaped once.
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(reaped, child.id() as libc::pid_t, "wait4 failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    println!(
        "{wall:.4} {:.4} {:.4} {}",
        secs(usage.ru_utime),
        secs(usage.ru_stime),
        usage.ru_maxrss
    );
}
