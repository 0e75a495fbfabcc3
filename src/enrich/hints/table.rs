//! The knowledge: what to change, per runtime and kind of finding, each entry with where it is
//! documented.

use crate::report::Kind;
use crate::snapshot::Runtime;

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
