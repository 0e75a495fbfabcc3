//! Shared helpers for the integration tests: the testbed processes, the binary, JSON checks.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The stuckconn binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_stuckconn");

/// Takes away the environment that could change stuckconn's output.
fn clean_env(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("NO_COLOR")
        .env_remove("STUCKCONN_PROC_NET")
        .env_remove("COLUMNS")
}

/// The stuckconn binary under test, with an environment that cannot change its output. As
/// root it scans every network namespace: live tests use a `Bed` instead, which scopes it.
pub fn stuckconn() -> Command {
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd);
    cmd
}

pub fn testbed_path() -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/examples/testbed
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("testbed")
}

/// A process started by a test; killed (by its pid) and reaped when dropped.
pub struct Proc {
    pub child: Child,
    /// The first line it printed (`port N` or `ready`).
    pub line: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("expected `port N`, got {:?}", self.line))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a program and waits (at most 10 s) for its first line of output.
pub fn start(program: impl Into<PathBuf>, args: &[&str]) -> Proc {
    start_with_env(program, args, &[])
}

pub fn start_with_env(program: impl Into<PathBuf>, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let program = program.into();
    let mut child = Command::new(&program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("{} {args:?} printed nothing within 10 s", program.display());
        }
    };
    Proc {
        child,
        line: line.trim().to_string(),
    }
}

/// Starts a testbed role.
pub fn testbed(args: &[&str]) -> Proc {
    start(testbed_path(), args)
}

/// Runs stuckconn and returns (exit status, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("stuckconn runs");
    (
        out.status.code().expect("exited, not killed by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Validates a report against schema/report.schema.json.
pub fn assert_matches_schema(report: &Value) {
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the schema:\n{}",
        errors.join("\n")
    );
}

/// The connections of a report held by `pid`.
pub fn connections_of(report: &Value, pid: u32) -> Vec<&Value> {
    report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["pid"].as_u64() == Some(u64::from(pid)))
        .collect()
}

/// The single connection held by `pid`, and its kind.
pub fn kind_of(report: &Value, pid: u32) -> String {
    let conns = connections_of(report, pid);
    assert_eq!(
        conns.len(),
        1,
        "pid {pid} should hold exactly one connection: {conns:#?}"
    );
    conns[0]["kind"].as_str().unwrap().to_string()
}

/// Sends `sig` to `pid`, a process the test started.
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0);
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Says, visibly, why a test does not run here.
pub fn skip(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
}

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|p| p.is_file())
}

/// A network namespace made by a test; deleted when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `stuckconn-<tag>-<pid>` with loopback up and `addresses` (CIDR) on lo. Tags are
    /// unique within the test binary (its tests share one pid): a second use is a bug.
    pub fn new(tag: &str, addresses: &[&str]) -> Netns {
        static TAGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        {
            let mut tags = TAGS.lock().unwrap_or_else(|e| e.into_inner());
            assert!(
                !tags.iter().any(|t| t == tag),
                "namespace tag {tag:?} used twice"
            );
            tags.push(tag.to_string());
        }
        let name = format!("stuckconn-{tag}-{}", std::process::id());
        let ip = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().expect("ip runs");
            assert!(status.success(), "ip {args:?} failed");
        };
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        for address in addresses {
            ip(&["-n", &ns.name, "addr", "add", address, "dev", "lo"]);
        }
        ns
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Starts a testbed role inside the namespace (`ip netns exec` execs it: same pid).
    pub fn testbed(&self, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut all = vec!["netns", "exec", self.name.as_str()];
        let path = testbed_path();
        all.push(path.to_str().unwrap());
        all.extend_from_slice(args);
        start_with_env("ip", &all, env)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Whether this process may create network namespaces (root, with `ip` installed).
pub fn can_make_netns() -> bool {
    is_root() && which("ip").is_some()
}

/// The name of the running test (libtest names each test's thread after it).
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string()
}

/// A test bed: a network namespace of one test's own (loopback up, and documentation
/// addresses when asked), the processes the test starts in it, and stuckconn scoped to it
/// with `--netns`, so that what other namespaces hold (containers, the host's own stuck
/// connections, other tests) can neither add findings nor take the first place.
///
/// When dropped, every process still in the namespace (all started by the test) is killed by
/// its pid, then the namespace is deleted. Needs root and ip(8): elsewhere `Bed::new` prints
/// `SKIPPED <test>: <reason>` and returns None.
pub struct Bed {
    ns: Netns,
}

impl Bed {
    /// A bed named `stuckconn-<tag>-<pid>` (tags are unique per test), with `addresses`
    /// (CIDR, documentation ranges only) on its loopback.
    pub fn new(tag: &str, addresses: &[&str]) -> Option<Bed> {
        if !can_make_netns() {
            skip(
                &current_test(),
                "needs root and ip(8) to make a network namespace of its own to scan",
            );
            return None;
        }
        Some(Bed {
            ns: Netns::new(tag, addresses),
        })
    }

    /// The namespace's name (`ip netns`), as stuckconn labels it.
    pub fn name(&self) -> &str {
        &self.ns.name
    }

    /// A command run inside the namespace (`ip netns exec` execs it: the same pid).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.ns.command(program)
    }

    /// Starts a testbed role inside the namespace (servers on 127.0.0.1 there).
    pub fn testbed(&self, args: &[&str]) -> Proc {
        self.ns.testbed(args, &[])
    }

    /// Starts a testbed role inside the namespace with `env` (e.g. `TESTBED_ADDR`).
    pub fn testbed_env(&self, args: &[&str], env: &[(&str, &str)]) -> Proc {
        self.ns.testbed(args, env)
    }

    /// Starts a program inside the namespace without waiting for any output (a real curl).
    pub fn spawn(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Proc {
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("ip netns exec starts");
        Proc {
            child,
            line: String::new(),
        }
    }

    /// `stuckconn [SUB] --netns NAME` from the test's own namespace: it enters the bed's and
    /// dumps only that one. `sub` is a subcommand, or "" for the default scan.
    pub fn stuckconn(&self, sub: &str) -> Command {
        let mut cmd = stuckconn();
        cmd.args(subcommand(sub)).args(["--netns", self.name()]);
        cmd
    }

    /// `stuckconn [SUB] --netns self` run inside the bed: for what sees only stuckconn's own
    /// namespace (--capture, --confirm, the /proc/net fallback, a resolver on its loopback).
    pub fn inside(&self, sub: &str) -> Command {
        let mut cmd = self.command(BIN);
        clean_env(&mut cmd)
            .args(subcommand(sub))
            .args(["--netns", "self"]);
        cmd
    }

    /// `stuckconn [SUB] --netns self` inside the bed as nobody, with only `caps` (e.g.
    /// `["net_raw"]`) as its capabilities.
    pub fn nobody(&self, nobody: &Nobody, caps: &[&str], sub: &str) -> Command {
        let mut cmd = self.command("setpriv");
        clean_env(&mut cmd)
            .args(Nobody::setpriv_args(caps))
            .arg(nobody.binary())
            .args(subcommand(sub))
            .args(["--netns", "self"]);
        cmd
    }
}

fn subcommand(sub: &str) -> Option<&str> {
    (!sub.is_empty()).then_some(sub)
}

impl Drop for Bed {
    fn drop(&mut self) {
        // Whatever still runs in the namespace was started by this test (children of the
        // testbed roles included): kill it by its pid, before the namespace goes.
        let Ok(out) = Command::new("ip")
            .args(["netns", "pids", self.name()])
            .output()
        else {
            return;
        };
        for pid in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<libc::pid_t>().ok())
        {
            // SAFETY: kill(2) with a pid of a process in this test's own namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Runs stuckconn as nobody (uid and gid 65534, no groups, no inheritable capabilities), from
/// a copy of the binary that nobody may execute wherever the build tree lives. Needs root.
pub struct Nobody {
    dir: tempfile::TempDir,
}

impl Nobody {
    pub fn new() -> Nobody {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            env!("CARGO_BIN_EXE_stuckconn"),
            dir.path().join("stuckconn"),
        )
        .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Nobody { dir }
    }

    /// The copy nobody may run.
    pub fn binary(&self) -> PathBuf {
        self.dir.path().join("stuckconn")
    }

    /// setpriv's arguments (up to `--`) for nobody with only `caps` (e.g. `["net_raw"]`) as
    /// its capabilities (inheritable and ambient, so that they survive the exec).
    pub fn setpriv_args(caps: &[&str]) -> Vec<String> {
        let set = std::iter::once("-all".to_string())
            .chain(caps.iter().map(|c| format!("+{c}")))
            .collect::<Vec<_>>()
            .join(",");
        let mut args: Vec<String> = ["--reuid=65534", "--regid=65534", "--clear-groups"]
            .map(String::from)
            .to_vec();
        args.push(format!("--inh-caps={set}"));
        args.push(format!("--ambient-caps={set}"));
        args.push("--".to_string());
        args
    }
}

/// The path of a file under fixtures/.
pub fn fixture(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}
