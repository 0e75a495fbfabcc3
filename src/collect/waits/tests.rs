//! The decoding of syscall lines, fd arrays and timeouts, on the lines measured on real
//! threads.

use super::calls::*;
use super::state_of;
use crate::snapshot::WaitTimeout;

fn line(text: &str) -> SyscallLine {
    parse_syscall(text).unwrap()
}

#[test]
fn the_tables_match_libc() {
    let n = native().expect("a supported architecture");
    assert_eq!(n.read, libc::SYS_read);
    assert_eq!(n.readv, libc::SYS_readv);
    assert_eq!(n.recvfrom, libc::SYS_recvfrom);
    assert_eq!(n.recvmsg, libc::SYS_recvmsg);
    assert_eq!(n.ppoll, libc::SYS_ppoll);
    assert_eq!(n.pselect6, libc::SYS_pselect6);
    assert_eq!(n.epoll_pwait, libc::SYS_epoll_pwait);
    assert_eq!(n.epoll_pwait2, libc::SYS_epoll_pwait2);
    assert_eq!(n.restart_syscall, libc::SYS_restart_syscall);
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(n.poll, Some(libc::SYS_poll));
        assert_eq!(n.select, Some(libc::SYS_select));
        assert_eq!(n.epoll_wait, Some(libc::SYS_epoll_wait));
    }
}

#[test]
fn curl_polls_for_a_second() {
    // libcurl under PHP's curl_exec, as measured.
    let l = line("7 0x7ffc6a6d0170 0x2 0x3e8 0x8 0x1 0x0 0x7ffc6a6d00e8 0x7f8164227230");
    let c = classify_for(&X86_64, &l, Some("poll_schedule_timeout.constprop.0"));
    assert!(!c.restarted);
    let call = c.call.unwrap();
    assert_eq!(call.name(), "poll");
    assert!(!call.honours_receive_timeout());
    assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Ms(1000));
}

#[test]
fn infinite_poll_and_epoll() {
    // poll(fds, 1, -1): the int arrives zero-extended.
    let l = line("7 0x7f397ccc4740 0x1 0xffffffff 0x1 0x0 0x0 0x7ffd 0x7f39");
    let call = classify_for(&X86_64, &l, None).call.unwrap();
    assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Forever);
    // ... or sign-extended.
    let l = line("232 0x5 0x7ffd 0x400 0xffffffffffffffff 0x0 0x0 0x7ffd 0x7f39");
    let call = classify_for(&X86_64, &l, None).call.unwrap();
    assert_eq!(call.name(), "epoll_wait");
    assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Forever);
    assert_eq!(fds_of(&call, &mut |_, _| None), Some(vec![5]));
    // epoll_pwait on aarch64 with 250 ms.
    let l = line("22 0x5 0xffffd000 0x400 0xfa 0x0 0x0 0xffffd 0xffff");
    let call = classify_for(&AARCH64, &l, None).call.unwrap();
    assert_eq!(call.name(), "epoll_pwait");
    assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Ms(250));
}

#[test]
fn receive_calls_have_no_timeout_of_their_own() {
    for (n, text) in [
        (&X86_64, "45 0x3 0x7ffd 0x2000 0x0 0x0 0x0 0x7ffd 0x7f00"),
        (&X86_64, "0 0x4 0x7ffd 0x1000 0x0 0x0 0x0 0x7ffd 0x7f00"),
        (&AARCH64, "63 0x4 0xffffd 0x1000 0x0 0x0 0x0 0xffffd 0xffff"),
        (
            &AARCH64,
            "207 0x3 0xffffd 0x2000 0x0 0x0 0x0 0xffffd 0xffff",
        ),
    ] {
        let call = classify_for(n, &line(text), None).call.unwrap();
        assert!(call.honours_receive_timeout(), "{text}");
        assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Forever);
    }
    let call = classify_for(&AARCH64, &line("212 0x9 0x0 0x0 0x0 0x0 0x0 0x0 0x0"), None)
        .call
        .unwrap();
    assert_eq!(
        call,
        Call::Receive {
            name: "recvmsg",
            fd: 9
        }
    );
    // On aarch64, 7 is not poll (the generic table has none): not a waiting call.
    assert_eq!(
        classify_for(&AARCH64, &line("7 0x1 0x2 0x3 0x0 0x0 0x0 0x0 0x0"), None).call,
        None
    );
}

#[test]
fn pointers_to_timespec_and_timeval() {
    let mut ts = Vec::new();
    ts.extend_from_slice(&30i64.to_ne_bytes());
    ts.extend_from_slice(&500_000_001i64.to_ne_bytes());
    assert_eq!(parse_timespec(&ts), Some(30_501));
    let mut tv = Vec::new();
    tv.extend_from_slice(&2i64.to_ne_bytes());
    tv.extend_from_slice(&250_000i64.to_ne_bytes());
    assert_eq!(parse_timeval(&tv), Some(2_250));
    // Out of range and short input are not values.
    let mut bad = Vec::new();
    bad.extend_from_slice(&(-1i64).to_ne_bytes());
    bad.extend_from_slice(&0i64.to_ne_bytes());
    assert_eq!(parse_timespec(&bad), None);
    assert_eq!(parse_timespec(&ts[..12]), None);

    // ppoll (x86_64 271) with a timespec at 0x1000; NULL: forever.
    let call = classify_for(
        &X86_64,
        &line("271 0x2000 0x1 0x1000 0x0 0x8 0x0 0x0 0x0"),
        None,
    )
    .call
    .unwrap();
    let mut mem = |ptr: u64, len: u64| (ptr == 0x1000 && len == 16).then(|| ts.clone());
    assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Ms(30_501));
    let call = classify_for(
        &AARCH64,
        &line("73 0x2000 0x1 0x0 0x0 0x8 0x0 0x0 0x0"),
        None,
    )
    .call
    .unwrap();
    assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Forever);
    // An unreadable pointer is unknown, never forever.
    let call = classify_for(
        &X86_64,
        &line("271 0x2000 0x1 0x3000 0x0 0x8 0x0 0x0 0x0"),
        None,
    )
    .call
    .unwrap();
    assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Unknown);
    // select (x86_64 23): timeval at arg4; pselect6: timespec at arg4.
    let call = classify_for(
        &X86_64,
        &line("23 0x8 0x5000 0x0 0x0 0x6000 0x0 0x0 0x0"),
        None,
    )
    .call
    .unwrap();
    let mut mem = |ptr: u64, _| (ptr == 0x6000).then(|| tv.clone());
    assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Ms(2_250));
    let call = classify_for(
        &AARCH64,
        &line("72 0x8 0x5000 0x0 0x0 0x0 0x0 0x0 0x0"),
        None,
    )
    .call
    .unwrap();
    assert_eq!(call.name(), "pselect6");
    assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Forever);
}

#[test]
fn restart_syscall_is_recognised() {
    // A poll(…, 60000) stopped with SIGSTOP and continued, as measured.
    let l = line("219 0x7fee5d66c740 0x1 0xea60 0x1 0x0 0x0 0x7ffdb5b5be88 0x7fee5d91a230");
    let c = classify_for(&X86_64, &l, Some("poll_schedule_timeout.constprop.0"));
    assert!(c.restarted);
    let call = c.call.unwrap();
    assert_eq!(call.name(), "poll");
    assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Ms(60_000));
    // A resumed nanosleep: still blocked, but not a socket wait this module understands.
    let c = classify_for(&X86_64, &l, Some("hrtimer_nanosleep"));
    assert!(c.restarted);
    assert_eq!(c.call, None);
    // aarch64 has no poll: restart_syscall there is never taken for one.
    let l = line("128 0xffff 0x1 0xea60 0x0 0x0 0x0 0x0 0x0");
    let c = classify_for(&AARCH64, &l, Some("poll_schedule_timeout.constprop.0"));
    assert!(c.restarted);
    assert_eq!(c.call, None);
}

#[test]
fn state_letters() {
    assert_eq!(state_of("123 (a) b) c) T 1 2 3"), Some('T'));
    assert_eq!(state_of("123 (php8.2) S 1 2"), Some('S'));
    assert_eq!(state_of("garbage"), None);
}

#[test]
fn not_in_a_syscall() {
    assert_eq!(parse_syscall("running\n"), None);
    assert_eq!(parse_syscall("-1 0x7ffd 0x7f00\n"), None);
    assert_eq!(parse_syscall(""), None);
    assert_eq!(parse_syscall("0 0xzz"), None);
}

#[test]
fn pollfd_array_and_fd_set() {
    let mut raw = Vec::new();
    for (fd, events) in [(5i32, 1i16), (-1, 0), (9, 1)] {
        raw.extend_from_slice(&fd.to_ne_bytes());
        raw.extend_from_slice(&events.to_ne_bytes());
        raw.extend_from_slice(&0i16.to_ne_bytes());
    }
    assert_eq!(poll_fds(&raw), vec![5, 9]);
    // fds 3 and 10 set; nfds 11.
    assert_eq!(fd_set_fds(&[0b0000_1000, 0b0000_0100], 11), vec![3, 10]);
    // bits at or beyond nfds are ignored.
    assert_eq!(fd_set_fds(&[0b0000_1000, 0b0000_0100], 4), vec![3]);
}
