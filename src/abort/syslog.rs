//! The one line each run leaves in the system log: who, what selection, what was done.

use super::{AbortReport, Selection};
use std::collections::HashMap;

/// Who ran the command, for the system log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub uid: u32,
    pub user: Option<String>,
    /// The audit login uid (who logged in, whatever sudo or su did since), when set.
    pub login_uid: Option<u32>,
    pub login_user: Option<String>,
}

impl Who {
    /// The real `uid`, the audit login uid as /proc/self/loginuid says it (unset: not a
    /// number, or 4294967295), and their names from the text of /etc/passwd.
    pub(crate) fn new(uid: u32, loginuid: Option<&str>, passwd: &str) -> Who {
        let login_uid = loginuid
            .and_then(|t| t.trim().parse::<u32>().ok())
            .filter(|&l| l != u32::MAX);
        let names = parse_passwd(passwd);
        Who {
            uid,
            user: names.get(&uid).cloned(),
            login_uid,
            login_user: login_uid.and_then(|l| names.get(&l).cloned()),
        }
    }
}

/// User names by uid from the lines of /etc/passwd.
pub(crate) fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            Some((uid, name.to_string()))
        })
        .collect()
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named = |uid: u32, name: &Option<String>| match name {
            Some(name) => format!("{uid}({name})"),
            None => uid.to_string(),
        };
        write!(f, "uid={}", named(self.uid, &self.user))?;
        if let Some(login) = self.login_uid.filter(|&l| l != self.uid) {
            write!(f, " loginuid={}", named(login, &self.login_user))?;
        }
        Ok(())
    }
}

/// What a run did, in the system log's words.
pub fn log_message(who: &Who, selection: &Selection, report: &AbortReport, done: &str) -> String {
    let s = &report.summary;
    let text = format!(
        "abort by {who}: {}: {done}: {} selected, {} aborted, {} gone, {} spared, {} failed",
        selection.flags(),
        s.selected,
        s.aborted,
        s.gone,
        s.spared,
        s.failed
    );
    // One line, terminal-safe, of a length every syslog daemon keeps whole.
    let mut line: String = crate::text::sanitize(&text)
        .chars()
        .filter(|c| *c != '\n')
        .collect();
    if line.len() > 900 {
        let mut end = 900;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line
}

/// A syslog datagram for the local socket (/dev/log), RFC 3164 as glibc's syslog(3) writes
/// it: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE` (no host name: the daemon adds it).
/// Facility user (1), severity notice (5).
pub fn syslog_line(time: &jiff::Zoned, pid: u32, message: &str) -> String {
    const PRI: u8 = 8 + 5;
    format!(
        "<{PRI}>{} stuckconn[{pid}]: {message}",
        time.strftime("%b %e %H:%M:%S")
    )
}
