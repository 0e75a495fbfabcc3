//! Reading bounded and once: answers kept for the run, files refused or malformed.

use super::*;
use std::time::Instant;

#[test]
fn answers_are_kept_for_the_run() {
    let mut c = host();
    let holder = Holder::from_ids(Some(WEB), None);
    let first = c.lookup(&holder, &Deadline::none());
    assert_eq!(c.cache.len(), 1);
    // A passed deadline would stop a new lookup: a kept answer still comes back.
    let passed = Deadline::after(Duration::ZERO);
    assert_eq!(c.lookup(&holder, &passed), first);
    assert_eq!(c.lookup(&Holder::from_ids(Some(DB), None), &passed), None);
    assert!(
        c.warnings()
            .iter()
            .any(|w| w.contains("1 holder was not looked up")),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn each_file_is_read_once_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir
        .path()
        .join("var/lib/containers/storage/overlay-containers");
    std::fs::create_dir_all(&store).unwrap();
    let entry = |id: &str, name: &str| {
        serde_json::json!({"id": id, "names": [name], "image": "0", "layer": "1",
            "metadata": format!(r#"{{"image-name":"img-{name}","name":"{name}"}}"#)})
    };
    let entries = serde_json::json!([entry(API, "api"), entry(ALICE, "second")]);
    std::fs::write(store.join("containers.json"), entries.to_string()).unwrap();
    for pod in [
        format!("shop_checkout-7d9f_{CHECKOUT_UID}"),
        format!("kube-system_coredns-0_{COREDNS_UID}"),
    ] {
        std::fs::create_dir_all(dir.path().join("var/log/pods").join(pod).join("c")).unwrap();
    }
    let mut c = Containers::new(dir.path());
    let none = Deadline::none();
    let api = c.lookup(&Holder::from_ids(Some(API), None), &none).unwrap();
    assert_eq!(api.image.as_deref(), Some("img-api"));
    let checkout = c
        .lookup(&Holder::from_ids(None, Some(CHECKOUT_UID)), &none)
        .unwrap();
    assert_eq!(checkout.pod, pod("shop", "checkout-7d9f"));
    // Everything on disk goes away: what was read once answers the other holders.
    std::fs::remove_dir_all(dir.path().join("var")).unwrap();
    let second = c
        .lookup(&Holder::from_ids(Some(ALICE), None), &none)
        .unwrap();
    assert_eq!(second.container_name.as_deref(), Some("second"));
    let coredns = c
        .lookup(&Holder::from_ids(None, Some(COREDNS_UID)), &none)
        .unwrap();
    assert_eq!(coredns.pod, pod("kube-system", "coredns-0"));
}

#[test]
fn snapshot_ids_are_checked_before_use() {
    let holder = Holder::from_ids(Some("../../etc/passwd"), Some("not-a-uid"));
    assert!(holder.is_empty());
    assert_eq!(
        Holder::from_ids(Some(WEB), None).container_id.as_deref(),
        Some(WEB)
    );
}

#[test]
fn malformed_files_are_no_name_and_a_warning() {
    let mut c = Containers::new(&fixture("malformed"));
    let none = Deadline::none();
    // Truncated JSON; wrong types; a 300-character name; an ID that is another's.
    assert_eq!(c.lookup(&Holder::from_ids(Some(WEB), None), &none), None);
    assert_eq!(c.lookup(&Holder::from_ids(Some(DB), None), &none), None);
    let evil = c.lookup(&Holder::from_ids(Some(EVIL), None), &none);
    assert_eq!(evil, None, "a name over 256 characters is refused");
    assert_eq!(
        c.lookup(&Holder::from_ids(Some(DOCKER_K8S), None), &none),
        None
    );
    // containers.json that is an object; entries of the wrong shape; a broken bundle.
    assert_eq!(c.lookup(&Holder::from_ids(Some(API), None), &none), None);
    assert_eq!(
        c.lookup(&Holder::from_ids(Some(CRIO_APP), None), &none),
        None
    );
    assert_eq!(c.lookup(&Holder::from_ids(Some(CD_APP), None), &none), None);
    // Pod directories of the wrong shape; a machines file of garbage.
    assert_eq!(
        c.lookup(&Holder::from_ids(None, Some(CHECKOUT_UID)), &none),
        None
    );
    assert_eq!(c.by_leader(5, &none), None);
    let warnings = c.warnings().join("\n");
    for expected in [
        "config.v2.json: not valid JSON",
        "a name of 300 characters was ignored",
        "its ID is not its directory's",
        "containers.json: not a JSON array",
        &format!("{CD_APP}/config.json: not valid JSON"),
    ] {
        assert!(
            warnings.contains(expected),
            "{expected:?} not in:\n{warnings}"
        );
    }
}

fn tree_with(id: &str, make: impl FnOnce(&Path)) -> (tempfile::TempDir, Containers) {
    let dir = tempfile::tempdir().unwrap();
    let container = dir.path().join("var/lib/docker/containers").join(id);
    std::fs::create_dir_all(&container).unwrap();
    make(&container.join("config.v2.json"));
    let c =
        Containers::new(dir.path()).with_limits(Duration::from_secs(5), Duration::from_secs(10));
    (dir, c)
}

#[test]
fn a_fifo_is_refused_without_waiting() {
    let (_dir, mut c) = tree_with(WEB, crate::collect::regular::tests::fifo_at);
    let began = Instant::now();
    assert_eq!(
        c.lookup(&Holder::from_ids(Some(WEB), None), &Deadline::none()),
        None
    );
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    let warnings = c.warnings().join("\n");
    assert!(
        warnings.contains("config.v2.json is a FIFO, not a regular file"),
        "{warnings}"
    );
    assert!(!warnings.contains("did not finish"), "{warnings}");
}

#[test]
fn a_ten_megabyte_config_is_refused() {
    let (_dir, mut c) = tree_with(WEB, |path| {
        let mut big = br#"{"Name":"/big","Config":{"Env":[""#.to_vec();
        big.resize(10 << 20, b'x');
        big.extend_from_slice(br#""]}}"#);
        std::fs::write(path, big).unwrap();
    });
    assert_eq!(
        c.lookup(&Holder::from_ids(Some(WEB), None), &Deadline::none()),
        None
    );
    let warnings = c.warnings().join("\n");
    let expected = format!("is {} bytes, more than the 1048576 read", (10 << 20) + 4);
    assert!(warnings.contains(&expected), "{warnings}");
}

#[test]
fn a_symbolic_link_is_not_followed() {
    let (_dir, mut c) = tree_with(WEB, |path| {
        std::os::unix::fs::symlink("/etc/hostname", path).unwrap();
    });
    assert_eq!(
        c.lookup(&Holder::from_ids(Some(WEB), None), &Deadline::none()),
        None
    );
    let warnings = c.warnings().join("\n");
    assert!(
        warnings.contains("is a symbolic link: not followed"),
        "{warnings}"
    );
}

#[test]
fn data_root_from_daemon_json() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc/docker");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("daemon.json"),
        r#"{"data-root": "/srv/docker", "log-driver": "local"}"#,
    )
    .unwrap();
    let container = dir.path().join("srv/docker/containers").join(DB);
    std::fs::create_dir_all(&container).unwrap();
    std::fs::write(
        container.join("config.v2.json"),
        format!(r#"{{"ID":"{DB}","Name":"/moved","Config":{{"Image":"alpine:3"}}}}"#),
    )
    .unwrap();
    let mut c = Containers::new(dir.path());
    let info = c
        .lookup(&Holder::from_ids(Some(DB), None), &Deadline::none())
        .unwrap();
    assert_eq!(info.container_name.as_deref(), Some("moved"));
    assert_eq!(info.image.as_deref(), Some("alpine:3"));
}

#[test]
fn a_users_configuration_linked_to_a_device_is_never_opened() {
    // A user's ~/.config/containers/storage.conf is followed through a link (dotfiles
    // managers link it): a link to a device (a watchdog, whose open starts a countdown to
    // reboot) must not be opened, only refused. A FIFO with a writer waiting in open shows
    // whether it was.
    use crate::collect::regular::tests::{release, watched_fifo};
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home/mallory");
    std::fs::create_dir_all(home.join(".config/containers")).unwrap();
    std::os::unix::fs::chown(&home, Some(4321), Some(4321)).unwrap();
    let fifo = dir.path().join("fifo");
    let heard = watched_fifo(&fifo);
    std::os::unix::fs::symlink(&fifo, home.join(".config/containers/storage.conf")).unwrap();
    let mut c =
        Containers::new(dir.path()).with_limits(Duration::from_secs(5), Duration::from_secs(10));
    // A process of mallory's: his store is read.
    let holder = Holder {
        owner: Some(4321),
        ..Holder::from_ids(Some(ALICE), None)
    };
    assert_eq!(c.lookup(&holder, &Deadline::none()), None);
    let opened = heard.recv_timeout(Duration::from_millis(300)).is_ok();
    release(&fifo);
    let warnings = c.warnings().join("\n");
    assert!(warnings.contains("storage.conf is a FIFO"), "{warnings}");
    assert!(!opened, "the FIFO was opened");
}
