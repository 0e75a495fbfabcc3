//! The memo of verdicts (`memo.rs`): each connection gets the verdict judging it alone
//! gives.

use super::*;
use crate::snapshot::{Limits, TimerKind};
use std::sync::Arc;

/// Every connection gets the verdict judging it alone gives, from a memo that has judged
/// connections whose facts differ from it in one field.
#[test]
fn a_memo_gives_each_connection_its_own_verdict() {
    let idle = info(60_000, 60_000, 60_000);
    let later = info(90_000, 90_000, 90_000);
    let acked = info(60_000, 60_000, 1_000);
    let unacked = TcpInfo { unacked: 2, ..idle };
    let probed = TcpInfo { probes: 3, ..idle };
    let acked_unacked = TcpInfo {
        unacked: 2,
        ..acked
    };
    let keepalive = KernelTimer {
        kind: TimerKind::Keepalive,
        expires_ms: 5_000,
        retrans: 0,
    };
    let retransmit = KernelTimer {
        kind: TimerKind::Retransmit,
        expires_ms: 200,
        retrans: 1,
    };
    let keepalive_on = SocketOptions {
        keepalive: true,
        ..opts()
    };
    let poll = |ms| vec![wait("poll", WaitTimeout::Ms(ms))];
    let read = vec![wait("read", WaitTimeout::Forever)];
    let stopped = vec![Wait {
        stopped: true,
        ..wait("read", WaitTimeout::Forever)
    }];
    let all: Vec<Facts> = vec![
        facts(&idle, off(), Some(Ok(opts())), vec![]),
        // The times alone differ: with nothing that reads them, and with each that does.
        facts(&later, off(), Some(Ok(opts())), vec![]),
        facts(&acked, off(), Some(Ok(opts())), vec![]),
        facts(&idle, Some(keepalive), Some(Ok(keepalive_on)), vec![]),
        facts(&later, Some(keepalive), Some(Ok(keepalive_on)), vec![]),
        facts(&acked, Some(keepalive), Some(Ok(keepalive_on)), vec![]),
        facts(&unacked, off(), Some(Ok(opts())), vec![]),
        facts(&acked_unacked, off(), Some(Ok(opts())), vec![]),
        facts(&idle, Some(retransmit), Some(Ok(opts())), vec![]),
        facts(&acked, Some(retransmit), Some(Ok(opts())), vec![]),
        facts(&probed, Some(keepalive), Some(Ok(keepalive_on)), vec![]),
        facts(&idle, off(), Some(Ok(opts())), poll(5_000)),
        facts(&later, off(), Some(Ok(opts())), poll(5_000)),
        facts(&idle, off(), Some(Ok(opts())), poll(600_000)),
        facts(&later, off(), Some(Ok(opts())), poll(600_000)),
        facts(&idle, off(), Some(Ok(rcvtimeo(100_000))), read.clone()),
        facts(&later, off(), Some(Ok(rcvtimeo(100_000))), read.clone()),
        facts(&idle, off(), Some(Ok(opts())), read.clone()),
        facts(&later, off(), Some(Ok(opts())), read.clone()),
        facts(&idle, off(), None, read.clone()),
        facts(&idle, off(), Some(Ok(rcvtimeo(100_000))), stopped),
        facts(&idle, off(), denied(), read.clone()),
        Facts {
            waiters: Waiters::NotSeen {
                why: "its threads were not examined".to_string(),
            },
            ..facts(&idle, off(), Some(Ok(opts())), vec![])
        },
        Facts {
            state: TcpState::CloseWait,
            ..facts(&idle, off(), Some(Ok(opts())), vec![])
        },
        Facts {
            state: TcpState::SynSent,
            ..facts(&idle, Some(retransmit), Some(Ok(opts())), vec![])
        },
        Facts {
            tcp_info: None,
            ..facts(&idle, off(), Some(Ok(opts())), poll(5_000))
        },
    ];
    let limits = [
        Limits::default(),
        Limits {
            tcp_retries2: 8,
            ..Limits::default()
        },
    ];
    // In three orders (forwards, backwards, strided): each facts met first, last, and
    // after others.
    let n = all.len();
    let orders = [
        (0..n).collect::<Vec<_>>(),
        (0..n).rev().collect(),
        (0..n).map(|i| (i * 7) % n).collect(),
    ];
    let mut memo = Memo::default();
    for at in orders.iter().flatten() {
        for l in &limits {
            let f = &all[*at];
            assert_eq!(*memo.verdict(f, l), judge(f, l), "{f:?} {l:?}");
        }
    }
    // The times alone differ and nothing reads them: one verdict, judged once.
    let shared = memo.verdict(&all[0], &limits[0]);
    assert!(Arc::ptr_eq(&shared, &memo.verdict(&all[1], &limits[0])));
}
