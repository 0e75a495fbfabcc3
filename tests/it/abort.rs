//! `abort`, live: real clients hung on real blackhole servers in namespaces the tests make,
//! aborted by socket cookie. A hung curl fails at once while a keep-alive pool and a stream
//! beside it keep their sockets; a worker blocked on its upstream survives and serves again;
//! a socket replaced by another with the same 4-tuple is never hit; every refusal changes
//! nothing; one namespace's connection is aborted from the host and its twin elsewhere is not.

use crate::common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SETTLE: Duration = Duration::from_millis(1600);
const MIN_IDLE: &str = "1s";

/// Validates an abort document against schema/abort.schema.json.
fn assert_abort_schema(doc: &Value) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/abort.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "abort JSON does not match its schema:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

/// Every socket of the bed (a scan with --all), as the JSON report lists them.
fn sockets(bed: &Bed) -> Vec<Value> {
    let (status, out, err) = run(bed.stuckconn("scan").args([
        "--all",
        "--format",
        "json",
        "--no-dns",
        "--min-idle",
        MIN_IDLE,
    ]));
    assert!(status == 0 || status == 1, "scan failed ({status}): {err}");
    json(&out)["connections"].as_array().unwrap().clone()
}

fn cookies(sockets: &[Value]) -> HashSet<u64> {
    sockets
        .iter()
        .filter_map(|c| c["cookie"].as_u64())
        .collect()
}

/// The cookie of the one non-listening socket `pid` holds.
fn cookie_of(sockets: &[Value], pid: u32) -> u64 {
    let held: Vec<&Value> = sockets
        .iter()
        .filter(|c| c["pid"].as_u64() == Some(u64::from(pid)) && c["kind"] != "listening")
        .collect();
    assert_eq!(held.len(), 1, "pid {pid} holds one connection: {held:#?}");
    held[0]["cookie"].as_u64().expect("a cookie")
}

/// Runs `abort` with `args`, standard input not a terminal: status, stdout, stderr.
fn abort(mut cmd: Command, args: &[&str]) -> (i32, String, String) {
    cmd.args(args).stdin(Stdio::null());
    run(&mut cmd)
}

/// A program started in the bed whose exit a thread waits for: when it exited, and what it
/// printed. (Whatever still runs when the test ends is killed with the bed.)
struct Watched {
    pid: u32,
    done: mpsc::Receiver<(Instant, Output)>,
}

impl Watched {
    fn start(mut cmd: Command) -> Watched {
        let child: Child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program starts");
        let pid = child.id();
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            if let Ok(output) = child.wait_with_output() {
                let _ = tx.send((Instant::now(), output));
            }
        });
        Watched { pid, done }
    }

    /// When it exited and what it printed, waiting at most `limit`.
    fn exited_within(&self, limit: Duration) -> Option<(Instant, Output)> {
        self.done.recv_timeout(limit).ok()
    }

    fn running(&self) -> bool {
        self.done.try_recv().is_err()
    }
}

fn curl_or_skip(test: &str) -> Option<std::path::PathBuf> {
    let curl = which("curl");
    if curl.is_none() {
        skip(test, "curl is not installed");
    }
    curl
}

#[test]
fn a_hung_curl_fails_at_once_and_its_neighbours_keep_their_sockets() {
    let test = "a_hung_curl_fails_at_once_and_its_neighbours_keep_their_sockets";
    let Some(curl) = curl_or_skip(test) else {
        return;
    };
    let Some(bed) = Bed::new("abort-curl", &["192.0.2.80/32"]) else {
        return;
    };
    let env = [("TESTBED_ADDR", "192.0.2.80")];
    let blackhole = bed.testbed_env(&["blackhole"], &env);
    let responder = bed.testbed_env(&["responder"], &env);
    let streamer = bed.testbed_env(&["streamer"], &env);
    let pool = bed.testbed_env(&["pool", &responder.port().to_string()], &env);
    let stream = bed.testbed_env(&["stream-client", &streamer.port().to_string()], &env);
    // A real curl with no timeout, hung on the blackhole.
    let url = format!("http://192.0.2.80:{}/crl/ca.crl", blackhole.port());
    let mut cmd = bed.command(curl);
    cmd.args(["-sS", "-o", "/dev/null", &url]);
    let hung = Watched::start(cmd);
    std::thread::sleep(SETTLE);

    let before = sockets(&bed);
    let curl_cookie = cookie_of(&before, hung.pid);
    let pool_cookie = cookie_of(&before, pool.pid());
    let stream_cookie = cookie_of(&before, stream.pid());

    // The whole address is selected, but only the stuck connection is in the plan.
    let selection = ["--remote", "192.0.2.80", "--min-idle", MIN_IDLE];
    let started = Instant::now();
    let (status, out, err) = abort(
        bed.stuckconn("abort"),
        &[&selection[..], &["--yes", "--format", "json"]].concat(),
    );
    let returned = Instant::now();
    assert_eq!(status, 0, "{err}\n{out}");
    let doc = json(&out);
    assert_abort_schema(&doc);
    assert_eq!(doc["summary"]["selected"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["aborted"], 1, "{doc:#}");
    let planned = &doc["connections"][0];
    assert_eq!(planned["cookie"].as_u64(), Some(curl_cookie));
    assert_eq!(planned["kind"], "hung_call");
    assert_eq!(planned["result"], "aborted");
    assert_eq!(planned["pids"][0].as_u64(), Some(u64::from(hung.pid)));
    assert_eq!(planned["netns"]["name"], bed.name());

    // curl fails at once with its connection error.
    let (exited, output) = hung
        .exited_within(Duration::from_secs(2))
        .expect("curl exits within 2 s of the abort");
    let curl_err = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    assert!(
        matches!(code, Some(56) | Some(52) | Some(7)),
        "curl's exit status is a connection error: {code:?} {curl_err}"
    );
    eprintln!(
        "TIMING abort command {} ms; curl exited {} ms after it started ({} ms {} it returned); \
         curl said: {}",
        (returned - started).as_millis(),
        exited.saturating_duration_since(started).as_millis(),
        exited
            .saturating_duration_since(returned)
            .max(returned.saturating_duration_since(exited))
            .as_millis(),
        if exited <= returned {
            "before"
        } else {
            "after"
        },
        curl_err.trim()
    );

    // Its socket is gone; the pool and the stream keep theirs (the same cookies).
    let after = cookies(&sockets(&bed));
    assert!(!after.contains(&curl_cookie), "curl's socket is gone");
    assert!(
        after.contains(&pool_cookie),
        "the idle pool keeps its socket"
    );
    assert!(
        after.contains(&stream_cookie),
        "the stream keeps its socket"
    );

    // Nothing is left to abort: exit 0, with a line saying so.
    let (status, out, err) = abort(
        bed.stuckconn("abort"),
        &[&selection[..], &["--yes"]].concat(),
    );
    assert_eq!(status, 0, "{err}");
    assert!(out.starts_with("Nothing to abort"), "{out}");
}

#[test]
fn a_worker_blocked_on_its_upstream_survives_and_serves_the_next_request() {
    let test = "a_worker_blocked_on_its_upstream_survives_and_serves_the_next_request";
    let Some(curl) = curl_or_skip(test) else {
        return;
    };
    let Some(bed) = Bed::new("abort-worker", &[]) else {
        return;
    };
    let upstream = bed.testbed(&["blackhole"]);
    let mut worker = bed.testbed(&["upstream-worker", &upstream.port().to_string()]);
    let worker_port = worker.port();
    let request = |path: &str| {
        let mut cmd = bed.command(&curl);
        cmd.args([
            "-sS",
            "-m",
            "20",
            &format!("http://127.0.0.1:{worker_port}{path}"),
        ]);
        Watched::start(cmd)
    };
    let client = request("/upstream");
    std::thread::sleep(SETTLE);
    assert!(client.running(), "the client waits for the worker");

    // From inside the namespace this time (stuckconn's own namespace).
    let (status, out, err) = abort(
        bed.inside("abort"),
        &[
            "--remote",
            "127.0.0.1",
            "--port",
            &upstream.port().to_string(),
            "--min-idle",
            MIN_IDLE,
            "--yes",
        ],
    );
    assert_eq!(status, 0, "{err}\n{out}");
    assert!(out.contains("1 aborted, 0 gone, 0 failed."), "{out}");
    assert!(
        out.contains("upstream-worker") || out.contains("testbed"),
        "{out}"
    );

    // The worker's upstream call failed: it answered its client with the error...
    let (_, output) = client
        .exited_within(Duration::from_secs(2))
        .expect("the client gets its answer within 2 s of the abort");
    let body = String::from_utf8_lossy(&output.stdout);
    assert!(body.contains("upstream failed"), "{body}");
    assert!(
        body.contains("abort"),
        "the upstream call failed with ECONNABORTED: {body}"
    );
    // ...is still alive, and serves its next request.
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker process is still alive"
    );
    let next = request("/ping");
    let (_, output) = next
        .exited_within(Duration::from_secs(5))
        .expect("the next request is served");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
}

#[test]
fn a_socket_replaced_with_the_same_four_tuple_is_never_hit() {
    let Some(bed) = Bed::new("abort-cookie", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let trigger = dir.path().join("reconnect");
    let local_port = "40123";
    let _client = bed.testbed(&["reuse-client", &port, local_port, trigger.to_str().unwrap()]);
    std::thread::sleep(SETTLE);

    // The plan.
    let (status, out, err) = abort(
        bed.stuckconn("abort"),
        &[
            "--port",
            &port,
            "--min-idle",
            MIN_IDLE,
            "--dry-run",
            "--format",
            "json",
        ],
    );
    assert_eq!(status, 0, "{err}");
    let plan = json(&out);
    assert_abort_schema(&plan);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["connections"].as_array().unwrap().len(), 1, "{plan:#}");
    let planned = &plan["connections"][0];
    assert!(planned["result"].is_null());
    assert_eq!(planned["local"]["port"], 40123);
    let old_cookie = planned["cookie"].as_u64().unwrap();

    // Between the plan and the abort, the connection is closed and a new one opened with
    // the same 4-tuple.
    std::fs::write(&trigger, b"").unwrap();
    let again = dir.path().join("reconnect.again");
    let waited = Instant::now();
    while !again.exists() {
        assert!(waited.elapsed() < Duration::from_secs(5), "no reconnect");
        std::thread::sleep(Duration::from_millis(20));
    }
    let replacement = |sockets: &[Value]| -> Option<Value> {
        sockets
            .iter()
            .find(|c| {
                c["local"]["port"] == 40123
                    && c["remote"]["port"].as_u64() == Some(u64::from(blackhole.port()))
            })
            .cloned()
    };
    let new = replacement(&sockets(&bed)).expect("the new connection");
    assert_eq!(new["local"], planned["local"]);
    assert_eq!(new["remote"], planned["remote"]);
    let new_cookie = new["cookie"].as_u64().unwrap();
    assert_ne!(new_cookie, old_cookie, "a new socket, a new cookie");

    // The destroy request of the plan (old cookie): the kernel finds no such socket.
    use stuckconn::collect::destroy::{destroy_at, SocketRef};
    use stuckconn::snapshot::Endpoint;
    let endpoint = |v: &Value| Endpoint {
        ip: v["ip"].as_str().unwrap().parse().unwrap(),
        port: v["port"].as_u64().unwrap() as u16,
    };
    let netns = std::path::PathBuf::from(format!("/run/netns/{}", bed.name()));
    let socket = |cookie| SocketRef {
        local: endpoint(&planned["local"]),
        remote: endpoint(&planned["remote"]),
        cookie,
    };
    let answers = destroy_at(Some(&netns), &[socket(old_cookie)]).unwrap();
    let err = answers[0]
        .as_ref()
        .expect_err("the old cookie matches nothing");
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    let still = replacement(&sockets(&bed)).expect("the new connection is untouched");
    assert_eq!(still["cookie"].as_u64(), Some(new_cookie));
    assert_eq!(still["state"], "established");

    // The same request with the live cookie destroys it: the test above could have failed.
    let answers = destroy_at(Some(&netns), &[socket(new_cookie)]).unwrap();
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    assert!(replacement(&sockets(&bed)).is_none(), "destroyed");
}

#[test]
fn refusals_change_nothing() {
    let Some(bed) = Bed::new("abort-refuse", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(SETTLE);
    let cookie = cookie_of(&sockets(&bed), hung.pid());
    let intact = |why: &str| {
        let now = sockets(&bed);
        assert_eq!(
            cookie_of(&now, hung.pid()),
            cookie,
            "{why}: the socket is intact"
        );
    };
    let selection = ["--port", port.as_str(), "--min-idle", MIN_IDLE];

    // No selection: one line, exit 2, nothing scanned.
    let (status, out, err) = abort(bed.stuckconn("abort"), &["--yes"]);
    assert_eq!(status, 2);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("needs a selection"), "{err}");
    let (status, _, err) = abort(bed.stuckconn("abort"), &["--netns", "self", "--yes"]);
    assert_eq!(status, 2, "--netns alone is no selection: {err}");

    // Not on a terminal and no --yes: the plan, then exit 2.
    let (status, out, err) = abort(bed.stuckconn("abort"), &selection);
    assert_eq!(status, 2, "{err}");
    assert!(out.contains("hung call"), "the plan is shown: {out}");
    assert!(err.contains("--yes"), "{err}");
    intact("without --yes");

    // --dry-run: the plan, exit 0.
    let (status, out, err) = abort(
        bed.stuckconn("abort"),
        &[&selection[..], &["--dry-run"]].concat(),
    );
    assert_eq!(status, 0, "{err}");
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
    assert!(out.contains("Dry run: nothing was changed."), "{out}");
    intact("--dry-run");
    let (status, _, err) = abort(
        bed.stuckconn("abort"),
        &[&selection[..], &["--dry-run", "--yes"]].concat(),
    );
    assert_eq!(
        status, 2,
        "--dry-run and --yes contradict each other: {err}"
    );

    // Unprivileged: says which capability is missing.
    let nobody = Nobody::new();
    let (status, out, err) = abort(
        bed.nobody(&nobody, &[], "abort"),
        &[&selection[..], &["--yes"]].concat(),
    );
    assert_eq!(status, 2, "{out}{err}");
    assert!(err.contains("CAP_NET_ADMIN"), "{err}");
    intact("unprivileged");

    // The scan suggests the abort, as a dry run; pasted, it plans exactly this connection.
    let (_, table, _) =
        run(bed
            .stuckconn("scan")
            .args(["--min-idle", MIN_IDLE, "--no-dns", "--color", "never"]));
    let suggested = table
        .lines()
        .find_map(|l| l.trim().strip_prefix("abort them:  stuckconn abort "))
        .unwrap_or_else(|| panic!("a suggested abort: {table}"));
    assert!(suggested.contains("--kind hung_call"), "{suggested}");
    assert!(suggested.ends_with("--dry-run"), "{suggested}");
    let words: Vec<&str> = suggested.split_whitespace().collect();
    let (status, out, err) = abort(
        {
            let mut cmd = stuckconn();
            cmd.arg("abort").args(&words).args(["--format", "json"]);
            cmd
        },
        &[],
    );
    assert_eq!(status, 0, "{suggested}: {err}");
    let plan = json(&out);
    assert_eq!(plan["connections"].as_array().unwrap().len(), 1, "{plan:#}");
    assert_eq!(plan["connections"][0]["cookie"].as_u64(), Some(cookie));
    intact("the suggested dry run");
}

#[test]
fn only_the_named_namespace_is_touched() {
    let Some(a) = Bed::new("abort-a", &["192.0.2.5/32"]) else {
        return;
    };
    let b = Bed::new("abort-b", &["192.0.2.5/32"]).unwrap();
    let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", "8080")];
    let _server_a = a.testbed_env(&["blackhole"], &env);
    let _server_b = b.testbed_env(&["blackhole"], &env);
    let hung_a = a.testbed_env(&["hung-recv", "8080"], &env);
    let hung_b = b.testbed_env(&["hung-recv", "8080"], &env);
    std::thread::sleep(SETTLE);
    let cookie_a = cookie_of(&sockets(&a), hung_a.pid());
    let cookie_b = cookie_of(&sockets(&b), hung_b.pid());

    // From the host's namespace, into a's.
    let (status, out, err) = abort(
        a.stuckconn("abort"),
        &[
            "--remote",
            "192.0.2.5",
            "--port",
            "8080",
            "--min-idle",
            MIN_IDLE,
            "--yes",
            "--format",
            "json",
        ],
    );
    assert_eq!(status, 0, "{err}");
    let doc = json(&out);
    assert_abort_schema(&doc);
    assert_eq!(doc["summary"]["aborted"], 1, "{doc:#}");
    assert_eq!(doc["connections"][0]["netns"]["name"], a.name());
    assert!(!cookies(&sockets(&a)).contains(&cookie_a), "a's is gone");
    assert!(
        cookies(&sockets(&b)).contains(&cookie_b),
        "b's twin (same addresses) is untouched"
    );
}

/// Runs `cmd` on a pseudo-terminal (script(1)) with `early` typed at once and `input` typed
/// when the question is up; returns its exit status and what it printed.
fn on_terminal(cmd: &Command, early: &str, input: &str) -> (i32, String) {
    let quote =
        |word: &std::ffi::OsStr| format!("'{}'", word.to_str().unwrap().replace('\'', r"'\''"));
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("COLUMNS", "160")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        // Typed once the question is up (a scan takes a moment).
        let mut stdin = script.stdin.take().unwrap();
        stdin.write_all(early.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let mut out = script.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        all.extend_from_slice(&buf[..n]);
                        let _ = tx.send(all.clone());
                    }
                }
            }
        });
        let started = Instant::now();
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("[y/N]") {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no question: {}",
                String::from_utf8_lossy(&seen)
            );
            if let Ok(all) = rx.recv_timeout(Duration::from_millis(100)) {
                seen = all;
            }
        }
        stdin.write_all(input.as_bytes()).unwrap();
        let status = script.wait().unwrap().code().unwrap_or(-1);
        while let Ok(all) = rx.recv_timeout(Duration::from_millis(500)) {
            seen = all;
        }
        (status, String::from_utf8_lossy(&seen).into_owned())
    }
}

#[test]
fn on_a_terminal_it_asks_first() {
    if which("script").is_none() {
        skip("on_a_terminal_it_asks_first", "script(1) is not installed");
        return;
    }
    let Some(bed) = Bed::new("abort-ask", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(SETTLE);
    let cookie = cookie_of(&sockets(&bed), hung.pid());
    let mut cmd = bed.stuckconn("abort");
    cmd.args(["--port", &port, "--min-idle", MIN_IDLE, "--color", "never"]);

    let (status, out) = on_terminal(&cmd, "", "n\n");
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("Abort this connection? [y/N]"), "{out}");
    assert!(out.contains("nothing was aborted"), "{out}");
    assert_eq!(
        cookie_of(&sockets(&bed), hung.pid()),
        cookie,
        "declined: intact"
    );

    // A "y" typed (or pasted) before the plan was shown does not answer it.
    let (status, out) = on_terminal(&cmd, "y\n", "n\n");
    assert_eq!(status, 2, "type-ahead answered the question: {out}");
    assert_eq!(
        cookie_of(&sockets(&bed), hung.pid()),
        cookie,
        "type-ahead: intact"
    );

    let (status, out) = on_terminal(&cmd, "", "y\n");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("1 aborted, 0 gone, 0 failed."), "{out}");
    assert!(!cookies(&sockets(&bed)).contains(&cookie), "aborted");
}

#[test]
fn each_run_is_one_line_in_the_system_log() {
    let test = "each_run_is_one_line_in_the_system_log";
    let journal = std::path::Path::new("/run/systemd/journal/socket").exists()
        && std::path::Path::new("/dev/log").exists()
        && which("journalctl").is_some();
    if !journal {
        skip(
            test,
            "no journald listening on /dev/log here (the line's format and its datagram are \
             unit tests: abort::tests, cmd::abort::tests)",
        );
        return;
    }
    let Some(bed) = Bed::new("abort-log", &[]) else {
        return;
    };
    let marker = "7";
    let (status, _, err) = abort(
        bed.stuckconn("abort"),
        &["--port", marker, "--pid", "424242", "--dry-run"],
    );
    assert_eq!(status, 0, "{err}");
    let wanted = format!("--port {marker} --pid 424242 --netns {}", bed.name());
    let started = Instant::now();
    loop {
        let (_, log, _) = run(Command::new("journalctl").args([
            "-t",
            "stuckconn",
            "--since",
            "-5min",
            "-o",
            "cat",
            "--no-pager",
        ]));
        if let Some(line) = log.lines().find(|l| l.contains(&wanted)) {
            assert!(line.starts_with("abort by uid=0"), "{line}");
            assert!(line.contains("nothing selected: 0 selected"), "{line}");
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no line with {wanted} in the journal:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
