//! What to change: the runtime that made the call, recognised from the holding process (the
//! libraries in /proc/PID/maps, the executable's name, Go's build information in the
//! executable), and the concrete fix for the finding's kind, from one table of knowledge with
//! the source of each entry.

mod table;

pub use table::{Entry, TABLE};

use crate::report::{Hint, Kind, Report, Severity};
use crate::snapshot::{Detected, Process, Runtime, Snapshot};
use std::collections::HashMap;

/// Fills the `hints` of every problem finding: the hints of each distinct runtime its holders
/// run (never a combination of two processes' runtimes), each hint once.
pub(crate) fn fill(report: &mut Report, snapshot: &Snapshot) {
    let processes: HashMap<u32, &Process> = snapshot.processes.iter().map(|p| (p.pid, p)).collect();
    for f in report
        .findings
        .iter_mut()
        .filter(|f| f.severity == Severity::Problem)
    {
        let mut seen: Vec<Detected> = Vec::new();
        let holders = f.processes.iter().filter(|p| p.connections > 0);
        for pid in holders.flat_map(|p| p.pids.iter()) {
            let detected = processes
                .get(pid)
                .map(|p| Detected {
                    runtimes: p.runtimes.clone(),
                    go_version: p.go_version.clone(),
                })
                .unwrap_or_default();
            if !seen.contains(&detected) {
                seen.push(detected);
            }
        }
        // A holder whose runtime was not recognised adds the general advice only when no
        // other holder's runtime says something more specific.
        if seen.iter().any(|d| !d.runtimes.is_empty()) {
            seen.retain(|d| !d.runtimes.is_empty());
        }
        if seen.is_empty() {
            seen.push(Detected::default());
        }
        let mut hints: Vec<Hint> = Vec::new();
        for detected in &seen {
            for hint in self::hints(f.kind, detected) {
                if !hints.contains(&hint) {
                    hints.push(hint);
                }
            }
        }
        f.hints = hints;
    }
}

/// The hints for a finding of `kind` whose holders show `detected`.
pub fn hints(kind: Kind, detected: &Detected) -> Vec<Hint> {
    let has = |needs: &[Runtime]| needs.iter().all(|r| detected.runtimes.contains(r));
    let matching: Vec<&Entry> = TABLE
        .iter()
        .filter(|e| e.kinds.contains(&kind) && has(e.needs))
        .collect();
    // Drop an entry when a more specific one covers its runtimes.
    let specific: Vec<&Entry> = matching
        .iter()
        .copied()
        .filter(|e| !e.needs.is_empty())
        .filter(|e| {
            !matching.iter().any(|other| {
                other.needs.len() > e.needs.len() && e.needs.iter().all(|r| other.needs.contains(r))
            })
        })
        .collect();
    let general = matching.iter().copied().filter(|e| e.needs.is_empty());
    let chosen: Vec<&Entry> = if kind == Kind::CloseWait {
        general.chain(specific).collect()
    } else if specific.is_empty() {
        general.collect()
    } else {
        specific
    };
    chosen
        .into_iter()
        .map(|e| Hint {
            runtime: match (e.needs, &detected.go_version) {
                ([Runtime::Go], Some(v)) => format!("Go ({v})"),
                _ => e.runtime.to_string(),
            },
            advice: e.advice.to_string(),
            source: e.source.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::runtime::detect_from;

    /// /proc/PID/maps of `php -r 'curl_exec(...)'` on Debian 12 (trimmed).
    const PHP_CLI: &str = "\
55d0c0a00000-55d0c0b00000 r--p 00000000 08:01 1234 /usr/bin/php8.2
7f8163e00000-7f8163e20000 r--p 00000000 08:01 2345 /usr/lib/php/20220829/curl.so
7f8163f00000-7f8163f80000 r--p 00000000 08:01 3456 /usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0
7f8164000000-7f8164100000 r--p 00000000 08:01 4567 /usr/lib/x86_64-linux-gnu/libc.so.6
7ffc6a6b0000-7ffc6a6d1000 rw-p 00000000 00:00 0                          [stack]
";

    /// apache2 with mod_php (no php executable: the library).
    const MOD_PHP: &str = "\
55d0c0a00000-55d0c0b00000 r--p 00000000 08:01 1 /usr/sbin/apache2
7f0000000000-7f0000100000 r--p 00000000 08:01 2 /usr/lib/apache2/modules/libphp8.2.so
7f0000200000-7f0000300000 r--p 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/libcurl-gnutls.so.4.8.0
";

    #[test]
    fn php_with_curl_gets_the_curl_options() {
        let d = detect_from(PHP_CLI, Some("/usr/bin/php8.2"), None);
        assert_eq!(d.runtimes, vec![Runtime::Php, Runtime::Curl]);
        let h = hints(Kind::HungCall, &d);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[0].runtime, "PHP + libcurl");
        assert!(h[0].advice.contains("CURLOPT_TIMEOUT"));
        assert!(h[0].advice.contains("max_execution_time"));
        assert!(h[0].source.starts_with("https://www.php.net/"));

        let d = detect_from(MOD_PHP, Some("/usr/sbin/apache2"), None);
        assert_eq!(d.runtimes, vec![Runtime::Php, Runtime::Curl]);
        assert_eq!(hints(Kind::SynSent, &d)[0].runtime, "PHP + libcurl");
        assert!(hints(Kind::SynSent, &d)[0]
            .advice
            .contains("CURLOPT_CONNECTTIMEOUT"));
    }

    #[test]
    fn python_static_or_shared() {
        // Debian's python3.11 has libpython linked in: the executable's name says it.
        let d = detect_from("", Some("/usr/bin/python3.11"), None);
        assert_eq!(d.runtimes, vec![Runtime::Python]);
        let maps =
            "7f00-7f01 r--p 0 08:01 9 /root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n";
        let d = detect_from(
            maps,
            Some("/root/.pyenv/versions/3.11.7/bin/python3.11"),
            None,
        );
        assert_eq!(d.runtimes, vec![Runtime::Python]);
        let h = hints(Kind::HungCall, &d);
        assert!(h[0].advice.contains("timeout="), "{h:?}");
        // A CLOSE-WAIT gets the general advice first, then Python's.
        let h = hints(Kind::CloseWait, &d);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].runtime, "any");
        assert_eq!(h[1].runtime, "Python");
    }

    #[test]
    fn nothing_known_gets_the_general_advice() {
        let d = detect_from("", Some("/usr/local/bin/daemon"), None);
        assert!(d.runtimes.is_empty());
        let h = hints(Kind::HungCall, &d);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].runtime, "any");
        assert!(hints(Kind::IdlePool, &d).is_empty());
        // Two unrelated runtimes (a Java process with libcurl through JNI): both hints.
        let maps = "7f00-7f01 r--p 0 08:01 9 /usr/lib/jvm/java-17/lib/server/libjvm.so\n\
                    7f02-7f03 r--p 0 08:01 9 /usr/lib/x86_64-linux-gnu/libcurl.so.4\n";
        let h = hints(
            Kind::HungCall,
            &detect_from(maps, Some("/usr/bin/java"), None),
        );
        let names: Vec<&str> = h.iter().map(|h| h.runtime.as_str()).collect();
        assert_eq!(names, vec!["libcurl", "Java"]);
    }

    #[test]
    fn every_entry_has_a_source_and_a_kind() {
        for e in TABLE {
            assert!(e.source.starts_with("https://"), "{}", e.runtime);
            assert!(!e.kinds.is_empty() && !e.advice.is_empty(), "{}", e.runtime);
        }
        // Each problem kind has a general fallback.
        for kind in [
            Kind::HungCall,
            Kind::StalledSend,
            Kind::SynSent,
            Kind::CloseWait,
        ] {
            assert!(!hints(kind, &Detected::default()).is_empty(), "{kind:?}");
        }
    }

    #[test]
    fn go_gets_its_version_in_the_hint() {
        let d = Detected {
            runtimes: vec![Runtime::Go],
            go_version: Some("go1.22.1".to_string()),
        };
        let h = hints(Kind::HungCall, &d);
        assert_eq!(h[0].runtime, "Go (go1.22.1)");
        assert!(h[0].advice.contains("Client.Timeout"));
    }
}
