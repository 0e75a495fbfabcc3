//! What to change: the runtime that made the call, recognised from the holding process (the
//! libraries in /proc/PID/maps, the executable's name, Go's build information in the
//! executable), and the concrete fix for the finding's kind, from one table of knowledge with
//! the source of each entry.

use crate::report::Kind;
use serde::Serialize;
use std::io::Read;
use std::os::unix::fs::FileExt;

/// A runtime or library that can make a network call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    Php,
    Curl,
    Python,
    Java,
    Node,
    Ruby,
    Go,
}

/// How a runtime shows in a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// A mapped library whose file name starts with this, followed by `.`, `-` or a digit
    /// (`libcurl.so.4`, `libcurl-gnutls.so.4`, `libphp8.2.so`, `libruby-3.1.so.3.1`).
    Library(&'static str),
    /// The executable's file name starts with this, followed by nothing, `.`, `-` or a digit
    /// (`php8.2`, `php-fpm8.2`, `python3.11`, `node`).
    Exe(&'static str),
    /// The `\xff Go buildinf:` section of a Go executable.
    GoBuildInfo,
}

/// Every sign of every runtime.
pub const SIGNS: &[(Runtime, Sign)] = &[
    (Runtime::Curl, Sign::Library("libcurl")),
    (Runtime::Php, Sign::Library("libphp")),
    (Runtime::Php, Sign::Exe("php")),
    (Runtime::Php, Sign::Exe("php-fpm")),
    (Runtime::Php, Sign::Exe("php-cgi")),
    (Runtime::Python, Sign::Library("libpython")),
    (Runtime::Python, Sign::Exe("python")),
    (Runtime::Java, Sign::Library("libjvm")),
    (Runtime::Node, Sign::Library("libnode")),
    (Runtime::Node, Sign::Exe("node")),
    (Runtime::Node, Sign::Exe("nodejs")),
    (Runtime::Ruby, Sign::Library("libruby")),
    (Runtime::Ruby, Sign::Exe("ruby")),
    (Runtime::Go, Sign::GoBuildInfo),
];

/// One piece of knowledge: for a finding of one of `kinds` in a process where every runtime
/// of `needs` shows, `advice`; `source` is where it is documented.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// What the hint names (`PHP + libcurl`).
    pub runtime: &'static str,
    pub needs: &'static [Runtime],
    pub kinds: &'static [Kind],
    pub advice: &'static str,
    pub source: &'static str,
}

const TIMEOUT_KINDS: &[Kind] = &[Kind::HungCall, Kind::StalledSend];
const CONNECT: &[Kind] = &[Kind::SynSent];
const CLOSE: &[Kind] = &[Kind::CloseWait];

/// The knowledge. An entry needing more runtimes wins over one needing a subset of them (PHP +
/// libcurl over libcurl alone); entries needing none apply when nothing more specific does,
/// except for CLOSE-WAIT, where the general advice always comes first.
pub const TABLE: &[Entry] = &[
    // --- hung calls and stalled sends: a read timeout ---
    Entry {
        runtime: "PHP + libcurl",
        needs: &[Runtime::Php, Runtime::Curl],
        kinds: TIMEOUT_KINDS,
        advice: "curl_exec has no timeout by default, and neither default_socket_timeout nor \
                 max_execution_time (which does not count time spent waiting on the network) \
                 ends it: set CURLOPT_CONNECTTIMEOUT and CURLOPT_TIMEOUT",
        source: "https://www.php.net/manual/en/function.curl-setopt.php",
    },
    Entry {
        runtime: "PHP",
        needs: &[Runtime::Php],
        kinds: TIMEOUT_KINDS,
        advice: "max_execution_time does not count time spent waiting on the network; streams \
                 wait default_socket_timeout per read (stream_set_timeout for a socket), and \
                 mysqlnd waits mysqlnd.net_read_timeout (a day by default): set the timeout of \
                 the client that hangs",
        source: "https://www.php.net/manual/en/function.set-time-limit.php",
    },
    Entry {
        runtime: "libcurl",
        needs: &[Runtime::Curl],
        kinds: TIMEOUT_KINDS,
        advice: "libcurl waits forever by default (CURLOPT_TIMEOUT 0): set CURLOPT_TIMEOUT, or \
                 CURLOPT_LOW_SPEED_LIMIT with CURLOPT_LOW_SPEED_TIME; the curl tool: --max-time",
        source: "https://curl.se/libcurl/c/CURLOPT_TIMEOUT.html",
    },
    Entry {
        runtime: "Python",
        needs: &[Runtime::Python],
        kinds: TIMEOUT_KINDS,
        advice: "sockets, urllib and requests have no default timeout: pass timeout= \
                 (requests.get(url, timeout=(3.05, 30)), urlopen(url, timeout=30)), or set \
                 socket.setdefaulttimeout()",
        source: "https://docs.python.org/3/library/socket.html#socket-timeouts",
    },
    Entry {
        runtime: "Java",
        needs: &[Runtime::Java],
        kinds: TIMEOUT_KINDS,
        advice: "HttpURLConnection's read timeout defaults to infinite: call setConnectTimeout \
                 and setReadTimeout; java.net.http.HttpClient: HttpRequest.Builder.timeout(); \
                 plain sockets: Socket.setSoTimeout",
        source: "https://docs.oracle.com/en/java/javase/21/docs/api/java.base/java/net/URLConnection.html#setReadTimeout(int)",
    },
    Entry {
        runtime: "Go",
        needs: &[Runtime::Go],
        kinds: TIMEOUT_KINDS,
        advice: "http.Client{} (and http.DefaultClient) has no Timeout: set Client.Timeout, or \
                 give each request a context with a deadline; raw connections: \
                 conn.SetReadDeadline",
        source: "https://pkg.go.dev/net/http#Client",
    },
    Entry {
        runtime: "Node.js",
        needs: &[Runtime::Node],
        kinds: TIMEOUT_KINDS,
        advice: "http.request has no timeout by default, and its `timeout` option only emits an \
                 event: destroy the request on 'timeout', or pass signal: AbortSignal.timeout(ms)",
        source: "https://nodejs.org/api/http.html#httprequestoptions-callback",
    },
    Entry {
        runtime: "Ruby",
        needs: &[Runtime::Ruby],
        kinds: TIMEOUT_KINDS,
        advice: "Net::HTTP gives up after read_timeout (60 s by default) unless it was set to \
                 nil; a longer wait is a raw socket read: set IO#timeout= (Ruby 3.2+) or wait \
                 with IO.select and a timeout",
        source: "https://docs.ruby-lang.org/en/master/Net/HTTP.html",
    },
    Entry {
        runtime: "any",
        needs: &[],
        kinds: TIMEOUT_KINDS,
        advice: "the calling code waits without a timeout: set one in the client library \
                 (or SO_RCVTIMEO on the socket)",
        source: "https://man7.org/linux/man-pages/man7/socket.7.html",
    },
    // --- connects that are never answered ---
    Entry {
        runtime: "PHP + libcurl",
        needs: &[Runtime::Php, Runtime::Curl],
        kinds: CONNECT,
        advice: "set CURLOPT_CONNECTTIMEOUT (libcurl waits up to 300 s to connect by default)",
        source: "https://curl.se/libcurl/c/CURLOPT_CONNECTTIMEOUT.html",
    },
    Entry {
        runtime: "libcurl",
        needs: &[Runtime::Curl],
        kinds: CONNECT,
        advice: "set CURLOPT_CONNECTTIMEOUT (300 s by default); the curl tool: --connect-timeout",
        source: "https://curl.se/libcurl/c/CURLOPT_CONNECTTIMEOUT.html",
    },
    Entry {
        runtime: "Python",
        needs: &[Runtime::Python],
        kinds: CONNECT,
        advice: "timeout= bounds the connect too (requests: timeout=(connect, read))",
        source: "https://requests.readthedocs.io/en/latest/user/advanced/#timeouts",
    },
    Entry {
        runtime: "Java",
        needs: &[Runtime::Java],
        kinds: CONNECT,
        advice: "call setConnectTimeout (HttpURLConnection) or HttpClient.Builder.connectTimeout",
        source: "https://docs.oracle.com/en/java/javase/21/docs/api/java.base/java/net/URLConnection.html#setConnectTimeout(int)",
    },
    Entry {
        runtime: "Go",
        needs: &[Runtime::Go],
        kinds: CONNECT,
        advice: "dial with a net.Dialer{Timeout: ...} (http.Transport.DialContext) or a context \
                 deadline",
        source: "https://pkg.go.dev/net#Dialer",
    },
    Entry {
        runtime: "Node.js",
        needs: &[Runtime::Node],
        kinds: CONNECT,
        advice: "a connect has no timeout of its own: pass signal: AbortSignal.timeout(ms) or \
                 destroy the socket on 'timeout'",
        source: "https://nodejs.org/api/net.html#socketsettimeouttimeout-callback",
    },
    Entry {
        runtime: "any",
        needs: &[],
        kinds: CONNECT,
        advice: "the peer never answers the SYN and the kernel retries for about 2 minutes \
                 (tcp_syn_retries): set a connect timeout in the client",
        source: "https://docs.kernel.org/networking/ip-sysctl.html",
    },
    // --- CLOSE-WAIT: the program never closes ---
    Entry {
        runtime: "any",
        needs: &[],
        kinds: CLOSE,
        advice: "the peer closed and the program never closed its end: close the socket on \
                 every path, errors and early returns included",
        source: "https://man7.org/linux/man-pages/man2/close.2.html",
    },
    Entry {
        runtime: "Python",
        needs: &[Runtime::Python],
        kinds: CLOSE,
        advice: "close responses and sessions: `with requests.get(...) as r`, `with \
                 urlopen(...)`, or r.close()",
        source: "https://requests.readthedocs.io/en/latest/user/advanced/#body-content-workflow",
    },
    Entry {
        runtime: "Java",
        needs: &[Runtime::Java],
        kinds: CLOSE,
        advice: "close the InputStream of every connection and socket (try-with-resources), on \
                 error paths too",
        source: "https://docs.oracle.com/en/java/javase/21/core/http-client-and-websocket-apis.html",
    },
    Entry {
        runtime: "Go",
        needs: &[Runtime::Go],
        kinds: CLOSE,
        advice: "close every resp.Body (defer resp.Body.Close()), even when it is not read",
        source: "https://pkg.go.dev/net/http#Client.Do",
    },
    Entry {
        runtime: "Node.js",
        needs: &[Runtime::Node],
        kinds: CLOSE,
        advice: "with allowHalfOpen the socket stays open after the peer's end: call \
                 socket.end() on 'end'",
        source: "https://nodejs.org/api/net.html#new-netsocketoptions",
    },
];

/// One hint of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    pub runtime: String,
    pub advice: String,
    /// Where the advice is documented.
    pub source: String,
}

/// What was recognised in one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detected {
    pub runtimes: Vec<Runtime>,
    /// The Go version from the build information (`go1.22.1`).
    pub go_version: Option<String>,
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

/// Recognises the runtimes of a process from its maps text, its executable's path and (for
/// Go) the version found in its build information.
pub fn detect_from(maps: &str, exe: Option<&str>, go_version: Option<String>) -> Detected {
    let libraries: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| path.starts_with('/'))
        .map(basename)
        .collect();
    let exe_name = exe.map(|e| basename(e.trim_end_matches(" (deleted)")));
    let mut runtimes: Vec<Runtime> = SIGNS
        .iter()
        .filter(|(_, sign)| match sign {
            Sign::Library(prefix) => libraries.iter().any(|l| named(l, prefix)),
            Sign::Exe(prefix) => exe_name.is_some_and(|e| named(e, prefix)),
            Sign::GoBuildInfo => go_version.is_some(),
        })
        .map(|(r, _)| *r)
        .collect();
    runtimes.sort();
    runtimes.dedup();
    Detected {
        runtimes,
        go_version,
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `name` is `prefix` itself, or `prefix` followed by `.`, `-` or a digit.
fn named(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| {
        rest.is_empty()
            || rest.starts_with(['.', '-'])
            || rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// /proc/PID/maps of a JVM is ~1 MiB; beyond this the libraries are already listed.
const MAX_MAPS_BYTES: u64 = 4 << 20;

/// Recognises the runtimes of process `pid` (its maps, its executable, Go build information).
/// What cannot be read (another user's process without privileges) is simply not recognised.
pub fn detect(pid: u32) -> Detected {
    let maps = std::fs::File::open(format!("/proc/{pid}/maps"))
        .ok()
        .and_then(|f| {
            let mut text = String::new();
            f.take(MAX_MAPS_BYTES).read_to_string(&mut text).ok()?;
            Some(text)
        })
        .unwrap_or_default();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let go = std::fs::File::open(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|f| go_version(&f));
    detect_from(&maps, exe.as_deref(), go)
}

/// The Go version in an ELF executable's `.go.buildinfo` section (Go 1.18+ layout: the
/// version inline after the 32-byte header), found through the section headers. Every read
/// is bounded; anything unexpected is `None`.
pub fn go_version(file: &std::fs::File) -> Option<String> {
    let at = |offset: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    };
    let header = at(0, 64)?;
    // ELF64, little-endian (x86_64, aarch64).
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let shoff = u64_at(&header, 0x28);
    let shentsize = usize::from(u16_at(&header, 0x3a));
    let shnum = usize::from(u16_at(&header, 0x3c));
    let shstrndx = usize::from(u16_at(&header, 0x3e));
    if shentsize != 64 || shnum == 0 || shnum > 1024 || shstrndx >= shnum {
        return None;
    }
    let table = at(shoff, shnum * 64)?;
    let section = |i: usize| &table[i * 64..(i + 1) * 64];
    let strtab = section(shstrndx);
    let (str_off, str_size) = (u64_at(strtab, 24), u64_at(strtab, 32));
    if str_size > 1 << 16 {
        return None;
    }
    let names = at(str_off, usize::try_from(str_size).ok()?)?;
    let wanted = b".go.buildinfo\0";
    let info = (0..shnum).map(section).find(|s| {
        let name = usize::try_from(u32_at(s, 0)).unwrap_or(usize::MAX);
        names.get(name..name + wanted.len()) == Some(&wanted[..])
    })?;
    let data = at(u64_at(info, 24), 32 + 10 + 128).or_else(|| at(u64_at(info, 24), 32))?;
    parse_buildinfo(&data)
}

/// The version in the bytes of a `.go.buildinfo` section.
pub fn parse_buildinfo(data: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\xff Go buildinf:";
    if !data.starts_with(MAGIC) || data.len() < 32 {
        return None;
    }
    let flags = data[15];
    if flags & 2 == 0 {
        // Before Go 1.18 the version is behind a pointer: Go, version unknown.
        return Some("go".to_string());
    }
    // A varint length, then the string.
    let (mut len, mut shift, mut i) = (0usize, 0u32, 32usize);
    loop {
        let b = *data.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return None;
        }
    }
    let version = std::str::from_utf8(data.get(i..i + len)?).ok()?;
    (version.starts_with("go") && version.len() <= 64 && version.is_ascii())
        .then(|| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn names_are_matched_exactly() {
        assert!(named("libcurl.so.4", "libcurl"));
        assert!(named("libcurl-gnutls.so.4", "libcurl"));
        assert!(named("node", "node"));
        assert!(named("php-fpm8.2", "php-fpm"));
        assert!(named("ruby3.1", "ruby"));
        assert!(!named("libcurlpp.so.0", "libcurl"));
        assert!(!named("phpstorm", "php"));
        assert!(!named("nodemon", "node"));
        // A deleted executable still counts.
        let d = detect_from("", Some("/usr/bin/node (deleted)"), None);
        assert_eq!(d.runtimes, vec![Runtime::Node]);
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
    fn go_build_info() {
        let mut data = b"\xff Go buildinf:\x08\x02".to_vec();
        data.resize(32, 0);
        data.push(8);
        data.extend_from_slice(b"go1.22.1");
        data.extend_from_slice(&[0; 16]);
        assert_eq!(parse_buildinfo(&data).as_deref(), Some("go1.22.1"));
        let d = detect_from("", Some("/usr/bin/promtool"), parse_buildinfo(&data));
        assert_eq!(d.runtimes, vec![Runtime::Go]);
        let h = hints(Kind::HungCall, &d);
        assert_eq!(h[0].runtime, "Go (go1.22.1)");
        assert!(h[0].advice.contains("Client.Timeout"));
        // Not buildinfo, a truncated length, a hostile string.
        assert_eq!(parse_buildinfo(b"\x7fELF"), None);
        let mut short = data[..33].to_vec();
        short.push(b'g');
        assert_eq!(parse_buildinfo(&short), None);
        let mut evil = data[..32].to_vec();
        evil.push(4);
        evil.extend_from_slice(b"\x1b[2J");
        assert_eq!(parse_buildinfo(&evil), None);
    }

    #[test]
    fn this_test_binary_is_not_go() {
        let me = std::fs::File::open("/proc/self/exe").unwrap();
        assert_eq!(go_version(&me), None);
        let d = detect(std::process::id());
        assert!(!d.runtimes.contains(&Runtime::Go));
    }
}
