//! Cgroup paths, the JSON of the names, and the parsers of the small formats.

use super::super::docker::parse_daemon_json;
use super::super::kubernetes::{parse_kubelet_link, parse_pod_dir};
use super::super::machines::{c_unescape, unit_unescape};
use super::super::podman::{parse_storage_conf, StorageConf};
use super::super::users::{parse_passwd, parse_subuid};
use super::*;

#[test]
fn holders_from_cgroup_paths() {
    let h = Holder::from_cgroup(&paths(&[
        "/user.slice/user-1000.slice/user@1000.service/app.slice/podman.service",
    ]));
    assert_eq!(h.user, Some(1000));
    assert!(h.is_empty(), "a user's own service is no container");
    let h = Holder::from_cgroup(&paths(&["/lxc.payload.c1/system.slice/cron.service"]));
    assert_eq!(h.lxc.as_deref(), Some("c1"));
    let h = Holder::from_cgroup(&paths(&["/machine.slice/machine-a.scope/payload"]));
    assert_eq!(h.machine_unit.as_deref(), Some("machine-a.scope"));
    assert!(Holder::from_cgroup(&paths(&["/machine.slice/machine-.scope"])).is_empty());
    assert!(Holder::from_cgroup(&paths(&["/"])).is_empty());
}

#[test]
fn own_process_reads_its_cgroup() {
    // Whatever the test runs in, reading it never fails loudly.
    let _ = Holder::of_process(std::process::id());
    assert!(Holder::of_process(u32::MAX).is_empty());
}

#[test]
fn serialized_with_nulls_and_snake_case() {
    let info = ContainerInfo {
        container_name: Some("app".to_string()),
        pod: pod("shop", "checkout-7d9f"),
        container_runtime: Some(Runtime::Kubernetes),
        ..ContainerInfo::default()
    };
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "container_name": "app",
            "image": null,
            "pod": {"namespace": "shop", "name": "checkout-7d9f"},
            "compose": null,
            "container_runtime": "kubernetes",
        })
    );
    assert_eq!(serde_json::from_value::<ContainerInfo>(json).unwrap(), info);
    assert_eq!(
        serde_json::from_str::<ContainerInfo>("{}").unwrap(),
        ContainerInfo::default()
    );
}

#[test]
fn labels_prefer_the_most_human_name() {
    let compose_only = ContainerInfo {
        compose: Some(Compose {
            project: "shop".to_string(),
            service: "web".to_string(),
        }),
        ..ContainerInfo::default()
    };
    assert_eq!(compose_only.label().as_deref(), Some("shop-web"));
    assert_eq!(ContainerInfo::default().label(), None);
}

#[test]
fn parsers_of_small_formats() {
    assert_eq!(
        c_unescape("machine-a\\\\x2db.scope").as_deref(),
        Some("machine-a\\x2db.scope")
    );
    assert_eq!(
        c_unescape("tab\\there\\101").as_deref(),
        Some("tab\there\u{41}")
    );
    assert_eq!(c_unescape("bad\\"), None);
    assert_eq!(
        unit_unescape("db\\x2dreplica").as_deref(),
        Some("db-replica")
    );
    assert_eq!(unit_unescape("a\\x2fb"), None, "a slash in a name");
    assert_eq!(
        parse_storage_conf("[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/storage\" # moved\nrunroot='/run/s'\n"),
        StorageConf {
            graphroot: Some(PathBuf::from("/srv/storage")),
            runroot: Some(PathBuf::from("/run/s")),
        }
    );
    assert_eq!(
        parse_passwd("root:x:0:0::/root:/bin/sh\na:x:1000:1000::/home/a:/bin/sh\nb:x:5:5::rel:/x\nc:x:6:6::/home/../etc:/x\n"),
        vec![(1000, PathBuf::from("/home/a"))]
    );
    assert_eq!(
        parse_subuid("alice:100000:65536\n1001:165536:65536\n:1:2\nbad\nx:y:1\n"),
        vec![
            ("alice".to_string(), 100_000, 65_536),
            ("1001".to_string(), 165_536, 65_536)
        ]
    );
    assert_eq!(parse_kubelet_link("too_many_parts_here-0123.log"), None);
    assert_eq!(parse_pod_dir(CHECKOUT_UID), None);
    assert!(parse_daemon_json(br#"{"data-root":"relative"}"#)
        .unwrap()
        .is_none());
}
