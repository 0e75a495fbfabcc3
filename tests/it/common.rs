//! Shared helpers for the integration tests: the testbed processes, the binary, JSON checks.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The stuckconn binary under test, with an environment that cannot change its output.
pub fn stuckconn() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stuckconn"));
    cmd.env_remove("NO_COLOR")
        .env_remove("STUCKCONN_PROC_NET")
        .env_remove("COLUMNS");
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
    /// Creates `stuckconn-<tag>-<pid>` with loopback up and `addresses` (CIDR) on lo.
    pub fn new(tag: &str, addresses: &[&str]) -> Netns {
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

    /// `setpriv ... stuckconn`, ready for arguments.
    pub fn stuckconn(&self) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ])
        .arg(self.dir.path().join("stuckconn"));
        cmd
    }
}

/// The path of a file under fixtures/.
pub fn fixture(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}
