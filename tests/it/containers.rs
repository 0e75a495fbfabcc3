//! Names of the holders from the runtimes' state files, through the library: real processes
//! put in real cgroups named as Docker and LXC name theirs, looked up under the fixture root
//! that `STUCKCONN_TEST_ROOT` points at (in a child process, so the variable is set in no
//! thread of this one); and a real hung filesystem (a FUSE mount that never answers) under
//! the state files, which must cost one timeout and no more.

use crate::common::*;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stuckconn::collect::containers::{Containers, Holder, Runtime, TEST_ROOT_ENV};
use stuckconn::deadline::Deadline;

/// Containers of the fixture root: Docker's `web-1` (compose shop/web) and `db-1`.
pub(crate) const WEB: &str = "f31f384749f9115acf01fcf82f5a966b59dcc0a4cbd7c9740888c0bf32aa2bbb";
pub(crate) const DB: &str = "aed4cebcaf364cb3d8e610e862b1e5ecdeae9c59aaab8913729ae5647465b7bc";
const CHILD: &str = "containers::child_names_a_process_under_the_env_root";

/// A cgroup of a test's own, `stuckconn-test-PID-N/<leaf>`, on the cgroup2 hierarchy (or a v1
/// one when there is none); removed when dropped (its processes gone by then).
pub(crate) struct TestCgroup {
    top: PathBuf,
    leaf: PathBuf,
}

impl TestCgroup {
    pub(crate) fn new(leaf: &str) -> Option<TestCgroup> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mut mounts: Vec<(bool, PathBuf)> = mountinfo
            .lines()
            .filter_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                let point = left.split(' ').nth(4)?;
                let fstype = right.split(' ').next()?;
                matches!(fstype, "cgroup2" | "cgroup")
                    .then(|| (fstype == "cgroup2", PathBuf::from(point)))
            })
            .collect();
        mounts.sort_by_key(|(v2, _)| !v2);
        for (_, mount) in mounts {
            let top = mount.join(format!("stuckconn-test-{}-{n}", std::process::id()));
            if std::fs::create_dir(&top).is_err() {
                continue;
            }
            let cgroup = TestCgroup {
                leaf: top.join(leaf),
                top,
            };
            if std::fs::create_dir(&cgroup.leaf).is_ok() {
                return Some(cgroup);
            }
        }
        None
    }

    pub(crate) fn enter(&self, pid: u32) -> std::io::Result<()> {
        std::fs::write(self.leaf.join("cgroup.procs"), pid.to_string())
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.leaf);
        let _ = std::fs::remove_dir(&self.top);
    }
}

/// A `sleep` killed (by its pid) and reaped when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(
            Command::new("sleep")
                .arg("60")
                .stdin(Stdio::null())
                .spawn()
                .expect("sleep"),
        )
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the child test in a process of its own with `STUCKCONN_TEST_ROOT` set.
fn child(pid: u32, expect: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", CHILD, "--nocapture"])
        .env(TEST_ROOT_ENV, fixture("runtime/host"))
        .env("STUCKCONN_CONTAINERS_PID", pid.to_string())
        .env("STUCKCONN_CONTAINERS_EXPECT", expect)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("1 passed"), text)
}

/// Run by the tests below in a child process (with the environment they give it).
#[test]
#[ignore = "run by processes_in_runtime_cgroups_are_named_from_the_env_root"]
fn child_names_a_process_under_the_env_root() {
    let (Ok(pid), Ok(expect), Some(_)) = (
        std::env::var("STUCKCONN_CONTAINERS_PID"),
        std::env::var("STUCKCONN_CONTAINERS_EXPECT"),
        std::env::var_os(TEST_ROOT_ENV),
    ) else {
        skip(
            &current_test(),
            "runs only as the child of processes_in_runtime_cgroups_are_named_from_the_env_root",
        );
        return;
    };
    let mut containers = Containers::from_env();
    assert_eq!(
        containers.root(),
        Path::new(&fixture("runtime/host")),
        "the root comes from {TEST_ROOT_ENV}"
    );
    let holder = Holder::of_process(pid.parse().unwrap());
    let info = containers
        .lookup(&holder, &Deadline::after(Duration::from_secs(10)))
        .unwrap_or_else(|| panic!("no names for {holder:?}: {:?}", containers.warnings()));
    assert_eq!(info.label().as_deref(), Some(expect.as_str()), "{info:?}");
    assert!(
        containers.warnings().is_empty(),
        "{:?}",
        containers.warnings()
    );
}

#[test]
fn processes_in_runtime_cgroups_are_named_from_the_env_root() {
    let test = current_test();
    if !is_root() {
        skip(
            &test,
            "moving a process into a cgroup of the test's own needs root",
        );
        return;
    }
    let lxc_name = format!("stuckconn-{}", std::process::id());
    for (leaf, expect, runtime) in [
        (
            format!("docker-{WEB}.scope"),
            "web-1".to_string(),
            Runtime::Docker,
        ),
        (
            format!("lxc.payload.{lxc_name}"),
            lxc_name.clone(),
            Runtime::Lxc,
        ),
    ] {
        let Some(cgroup) = TestCgroup::new(&leaf) else {
            skip(
                &test,
                "no cgroup hierarchy where a test can make its own cgroup",
            );
            return;
        };
        let sleeper = Sleeper::start();
        cgroup.enter(sleeper.0.id()).unwrap();
        // What this process sees of it, with the fixture root passed directly.
        let holder = Holder::of_process(sleeper.0.id());
        let mut containers = Containers::new(Path::new(&fixture("runtime/host")));
        let info = containers
            .lookup(&holder, &Deadline::none())
            .unwrap_or_else(|| panic!("no names for {holder:?}"));
        assert_eq!(info.container_runtime, Some(runtime), "{info:?}");
        // And a process of its own that finds the root in the environment.
        let (passed, output) = child(sleeper.0.id(), &expect);
        assert!(passed, "the child failed for {leaf}:\n{output}");
        drop(sleeper);
        drop(cgroup);
    }
}

/// A FUSE filesystem mounted, in a mount namespace of the calling thread's own, where nothing
/// answers: every lookup under it blocks like a dead NFS server's. Dropping it aborts the
/// connection (the blocked calls fail) and detaches the mount.
pub(crate) struct HungMount {
    fuse: Option<File>,
    at: CString,
}

impl HungMount {
    pub(crate) fn new(at: &Path) -> Result<HungMount, String> {
        // SAFETY: unshare only changes this thread's namespaces (CLONE_NEWNS implies CLONE_FS,
        // which a thread may unshare); the threads it starts from now on inherit them.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(format!("unshare: {}", std::io::Error::last_os_error()));
        }
        let root = CString::new("/").unwrap();
        // SAFETY: a propagation change in the new namespace; the pointers are valid C strings
        // or null where mount(2) takes none.
        let private = unsafe {
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if private != 0 {
            return Err(format!(
                "mount --make-rprivate: {}",
                std::io::Error::last_os_error()
            ));
        }
        let fuse = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .map_err(|e| format!("/dev/fuse: {e}"))?;
        let options = CString::new(format!(
            "fd={},rootmode=40000,user_id=0,group_id=0",
            fuse.as_raw_fd()
        ))
        .unwrap();
        let at = CString::new(at.as_os_str().as_encoded_bytes()).unwrap();
        let (source, fstype) = (
            CString::new("stuckconn-hung").unwrap(),
            CString::new("fuse").unwrap(),
        );
        // SAFETY: all pointers are valid NUL-terminated strings that outlive the call.
        let mounted = unsafe {
            libc::mount(
                source.as_ptr(),
                at.as_ptr(),
                fstype.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            )
        };
        if mounted != 0 {
            return Err(format!("mount fuse: {}", std::io::Error::last_os_error()));
        }
        Ok(HungMount {
            fuse: Some(fuse),
            at,
        })
    }
}

impl Drop for HungMount {
    fn drop(&mut self) {
        // Closing the device aborts the connection: blocked lookups return ENOTCONN.
        drop(self.fuse.take());
        // SAFETY: `at` is a valid C string; a lazy unmount of the test's own mount.
        unsafe { libc::umount2(self.at.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn a_hung_filesystem_costs_one_timeout() {
    let test = current_test();
    if !is_root() || !Path::new("/dev/fuse").exists() {
        skip(&test, "a FUSE mount needs root and /dev/fuse");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let docker = root.path().join("var/lib/docker");
    std::fs::create_dir_all(&docker).unwrap();
    let mount = match HungMount::new(&docker) {
        Ok(mount) => mount,
        Err(why) => {
            skip(&test, &why);
            return;
        }
    };
    let wanted = docker.join(format!("containers/{WEB}/config.v2.json"));

    let mut containers = Containers::new(root.path())
        .with_limits(Duration::from_millis(300), Duration::from_secs(5));
    let began = Instant::now();
    let answer = containers.lookup(&Holder::from_ids(Some(WEB), None), &Deadline::none());
    let first = began.elapsed();
    assert_eq!(answer, None);
    assert!(
        first >= Duration::from_millis(300) && first < Duration::from_millis(1500),
        "the first lookup took {first:?}"
    );
    let warnings = containers.warnings().join("\n");
    let expected = format!("reading {} did not finish within 300ms", wanted.display());
    assert!(
        warnings.contains(&expected),
        "{expected:?} not in:\n{warnings}"
    );
    // Given up for the run: the next holder costs nothing.
    let began = Instant::now();
    let answer = containers.lookup(&Holder::from_ids(Some(DB), None), &Deadline::none());
    assert_eq!(answer, None);
    assert!(
        began.elapsed() < Duration::from_millis(100),
        "{:?}",
        began.elapsed()
    );

    // The scan's own deadline cuts a lookup shorter than the resolver's timeout.
    let mut containers =
        Containers::new(root.path()).with_limits(Duration::from_secs(30), Duration::from_secs(60));
    let began = Instant::now();
    let answer = containers.lookup(
        &Holder::from_ids(Some(DB), None),
        &Deadline::after(Duration::from_millis(300)),
    );
    assert_eq!(answer, None);
    assert!(
        began.elapsed() < Duration::from_millis(1500),
        "{:?}",
        began.elapsed()
    );
    let warnings = containers.warnings().join("\n");
    assert!(
        warnings.contains("1 holder was not looked up (--timeout reached)"),
        "{warnings}"
    );
    drop(mount);
}
