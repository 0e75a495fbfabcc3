//! How each planned connection ended: before the abort (gone, or back to life), from the
//! kernel's answer and a second reading after it, and the words for the kernel's errors.

use super::{Outcome, Planned};
use crate::snapshot::Connection;

/// Just before the abort, from a fresh reading of the namespace's sockets: `Gone` when the
/// cookie is no longer there, `Spared` when the connection changed state or received data
/// since the plan (its peer answered: it is not stuck any more), `None` to go ahead.
pub fn before(planned: &Planned, now: Option<&Connection>) -> Option<(Outcome, Option<String>)> {
    let Some(now) = now else {
        return Some((Outcome::Gone, None));
    };
    if now.state != planned.state {
        return Some((
            Outcome::Spared,
            Some(format!(
                "left alone: it went from {} to {} since the plan",
                planned.state.label(),
                now.state.label()
            )),
        ));
    }
    let received = now.tcp_info().and_then(|i| i.bytes_received);
    match (planned.bytes_received, received) {
        (Some(then), Some(now)) if now != then => Some((
            Outcome::Spared,
            Some(format!(
                "left alone: it received {} bytes since the plan",
                now.saturating_sub(then)
            )),
        )),
        _ => None,
    }
}

/// How one connection ended, from the kernel's answer to its destroy request (`None`: the
/// request was not sent, `why_not` says why) and a reading of the namespace's sockets
/// afterwards (`still_open`: its cookie is still listed; `None` when that reading failed:
/// then the kernel's answer stands).
pub fn settle(
    answer: Option<&std::io::Result<()>>,
    still_open: Option<bool>,
    why_not: &str,
) -> (Outcome, Option<String>) {
    let still = still_open == Some(true);
    let gone = still_open == Some(false);
    match answer {
        None if gone => (Outcome::Gone, None),
        None => (Outcome::Failed, Some(format!("not tried: {why_not}"))),
        Some(Ok(())) if still => (
            Outcome::Failed,
            Some("the kernel acknowledged the abort, but the socket is still open".to_string()),
        ),
        Some(Ok(())) => (Outcome::Aborted, None),
        // The kernel found no socket with this 4-tuple and cookie.
        Some(Err(err)) if err.raw_os_error() == Some(libc::ENOENT) && still => (
            Outcome::Failed,
            Some(
                "the kernel found no socket with this address and cookie, yet it is still open"
                    .to_string(),
            ),
        ),
        Some(Err(err)) if err.raw_os_error() == Some(libc::ENOENT) => (Outcome::Gone, None),
        // Refused, but not there any more: it closed by itself.
        Some(Err(_)) if gone => (Outcome::Gone, None),
        Some(Err(err)) => (Outcome::Failed, Some(explain(err))),
    }
}

/// A destroy request's error, for people: what it means and what would help.
pub fn explain(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "{err}: aborting a connection needs CAP_NET_ADMIN in its network namespace (run as \
             root)"
        ),
        Some(libc::EOPNOTSUPP) => format!(
            "{err}: this kernel was built without CONFIG_INET_DIAG_DESTROY, so no connection \
             can be destroyed from outside its process (`ss -K` fails the same way)"
        ),
        _ => format!("{err}"),
    }
}

/// An error that every request would get, said once for the whole run.
pub(crate) fn systemic(err: &std::io::Error, p: &Planned) -> Option<String> {
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) => Some(format!(
            "this kernel was built without CONFIG_INET_DIAG_DESTROY: no connection can be \
             aborted from outside its process, and `{}` fails the same way; what is left is \
             restarting the process that holds them",
            ss_equivalent(p)
        )),
        Some(libc::EPERM) | Some(libc::EACCES) => Some(
            "the kernel refused: aborting a connection needs CAP_NET_ADMIN in its network \
             namespace (run as root in the host's user namespace)"
                .to_string(),
        ),
        _ => None,
    }
}

/// Whether an error means no request of this run can succeed (the kernel lacks the
/// feature): the rest are not sent.
pub fn hopeless(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// The `ss -K` command that would destroy the same connection (and fail the same way where
/// `abort` cannot): for the explanation of EOPNOTSUPP.
pub fn ss_equivalent(p: &Planned) -> String {
    format!("ss -K -tn src {} dst {}", p.local, p.remote)
}
