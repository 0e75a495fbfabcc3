//! Each runtime's state files, as the fixture host keeps them.

use super::*;

#[test]
fn docker_compose_container() {
    let mut c = host();
    let info = lookup(&mut c, &format!("/system.slice/docker-{WEB}.scope")).unwrap();
    assert_eq!(
        info,
        ContainerInfo {
            container_name: Some("web-1".to_string()),
            image: Some("nginx:1.27".to_string()),
            pod: None,
            compose: Some(Compose {
                project: "shop".to_string(),
                service: "web".to_string()
            }),
            container_runtime: Some(Runtime::Docker),
        }
    );
    assert_eq!(info.label().as_deref(), Some("web-1"));
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn docker_plain_container_with_cgroupfs_driver() {
    let mut c = host();
    let info = lookup(&mut c, &format!("/docker/{DB}")).unwrap();
    assert_eq!(info.container_name.as_deref(), Some("db-1"));
    assert_eq!(info.image.as_deref(), Some("postgres:16"));
    assert_eq!(info.compose, None);
    assert_eq!(info.pod, None);
}

#[test]
fn hostile_name_is_kept_exact() {
    let mut c = host();
    let info = lookup(&mut c, &format!("/system.slice/docker-{EVIL}.scope")).unwrap();
    assert_eq!(
        info.container_name.as_deref(),
        Some("evil\u{1b}[2J\u{1b}]0;pwned\u{7}")
    );
}

#[test]
fn pod_started_by_cri_dockerd() {
    let mut c = host();
    let info = lookup(
        &mut c,
        &format!("/kubepods/besteffort/podcc64a81a-28ae-44b5-8501-dc11972fd757/{DOCKER_K8S}"),
    )
    .unwrap();
    assert_eq!(info.container_name.as_deref(), Some("worker"));
    assert_eq!(info.pod, pod("default", "legacy-0"));
    assert_eq!(info.container_runtime, Some(Runtime::Kubernetes));
    assert_eq!(
        info.image.as_deref(),
        Some("registry.example/batch/worker:7")
    );
    assert_eq!(info.label().as_deref(), Some("default/legacy-0"));
}

#[test]
fn podman_rootful() {
    let mut c = host();
    let info = lookup(
        &mut c,
        &format!("/machine.slice/libpod-{API}.scope/container"),
    )
    .unwrap();
    assert_eq!(info.container_name.as_deref(), Some("api"));
    assert_eq!(info.image.as_deref(), Some("docker.io/library/python:3.12"));
    assert_eq!(info.container_runtime, Some(Runtime::Podman));
}

#[test]
fn podman_rootless_of_the_user_in_the_cgroup() {
    let mut c = host();
    let cgroup = format!(
        "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ALICE}.scope/container"
    );
    let holder = Holder::from_cgroup(&paths(&[&cgroup]));
    assert_eq!(holder.user, Some(1000));
    let info = c.lookup(&holder, &Deadline::none()).unwrap();
    assert_eq!(info.container_name.as_deref(), Some("alice-cache"));
    assert_eq!(info.image.as_deref(), Some("docker.io/library/redis:7"));
    assert_eq!(info.container_runtime, Some(Runtime::Podman));
}

#[test]
fn podman_rootless_without_a_user_searches_the_homes_of_the_processs_user() {
    let run_as = |owner: u32| Holder {
        owner: Some(owner),
        ..Holder::from_ids(Some(ALICE), None)
    };
    // Alice's own uid, and one of her subordinate uids (/etc/subuid: alice:100000:65536).
    for owner in [1000, 100_000, 165_535] {
        let mut c = host();
        let info = c.lookup(&run_as(owner), &Deadline::none()).unwrap();
        assert_eq!(
            info.container_name.as_deref(),
            Some("alice-cache"),
            "{owner}"
        );
    }
    // Any user can write any id into his own store: a process of root's, of bob's (and bob's
    // subordinate uids, given by uid in /etc/subuid), or of nobody known is never named by it.
    for owner in [0, 1001, 165_536, 65534] {
        let mut c = host();
        let info = c.lookup(&run_as(owner), &Deadline::none());
        assert_eq!(info.and_then(|i| i.container_name), None, "{owner}");
    }
    let mut c = host();
    assert_eq!(
        c.lookup(&Holder::from_ids(Some(ALICE), None), &Deadline::none())
            .and_then(|i| i.container_name),
        None,
        "whose process it is unknown"
    );
}

#[test]
fn kubernetes_containerd_container_and_sandbox() {
    let mut c = host();
    let slice = format!(
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice",
        CHECKOUT_UID.replace('-', "_")
    );
    let app = lookup(&mut c, &format!("{slice}/cri-containerd-{CD_APP}.scope")).unwrap();
    assert_eq!(
        app,
        ContainerInfo {
            container_name: Some("app".to_string()),
            image: Some("registry.example/shop/checkout:2.3".to_string()),
            pod: pod("shop", "checkout-7d9f"),
            compose: None,
            container_runtime: Some(Runtime::Kubernetes),
        }
    );
    assert_eq!(app.label().as_deref(), Some("shop/checkout-7d9f"));
    let sandbox = lookup(
        &mut c,
        &format!("{slice}/cri-containerd-{CD_SANDBOX}.scope"),
    )
    .unwrap();
    assert_eq!(sandbox.container_name, None);
    assert_eq!(sandbox.pod, pod("shop", "checkout-7d9f"));
    assert_eq!(sandbox.label().as_deref(), Some("shop/checkout-7d9f"));
}

#[test]
fn kubernetes_crio_container_and_sandbox() {
    let mut c = host();
    let dir = format!("/kubepods/burstable/pod{CART_UID}");
    let app = lookup(&mut c, &format!("{dir}/crio-{CRIO_APP}")).unwrap();
    assert_eq!(app.container_name.as_deref(), Some("cart"));
    assert_eq!(app.pod, pod("shop", "cart-5c8b"));
    assert_eq!(app.image.as_deref(), Some("registry.example/shop/cart:1.4"));
    // The sandbox has no bundle in the fixture: the storage record (no name, a pause
    // image) and the pod from /var/log/pods.
    let sandbox = lookup(&mut c, &format!("{dir}/crio-{CRIO_SANDBOX}")).unwrap();
    assert_eq!(sandbox.container_name, None);
    assert_eq!(sandbox.pod, pod("shop", "cart-5c8b"));
    assert_eq!(sandbox.image.as_deref(), Some("registry.k8s.io/pause:3.10"));
}

#[test]
fn kubernetes_by_the_kubelet_symlink_alone() {
    let mut c = host();
    let info = c
        .lookup(&Holder::from_ids(Some(COREDNS), None), &Deadline::none())
        .unwrap();
    assert_eq!(info.container_name.as_deref(), Some("coredns"));
    assert_eq!(info.pod, pod("kube-system", "coredns-5d78c9869d-x2x7q"));
    assert_eq!(info.image, None);
}

#[test]
fn kubernetes_pod_uid_alone() {
    let mut c = host();
    let info = c
        .lookup(
            &Holder::from_ids(None, Some(COREDNS_UID)),
            &Deadline::none(),
        )
        .unwrap();
    assert_eq!(info.pod, pod("kube-system", "coredns-5d78c9869d-x2x7q"));
    assert_eq!(info.container_name, None);
    assert_eq!(info.container_runtime, Some(Runtime::Kubernetes));
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        c.lookup(&Holder::from_ids(None, Some(unknown)), &Deadline::none()),
        None
    );
}

#[test]
fn nspawn_machine_by_scope_and_by_leader() {
    let mut c = host();
    let info = lookup(
        &mut c,
        "/machine.slice/machine-build\\x2dbox.scope/payload/system.slice/nginx.service",
    )
    .unwrap();
    assert_eq!(info.container_name.as_deref(), Some("build-box"));
    assert_eq!(info.container_runtime, Some(Runtime::Nspawn));
    assert_eq!(info.label().as_deref(), Some("build-box"));
    assert_eq!(
        c.by_leader(4242, &Deadline::none())
            .unwrap()
            .container_name
            .as_deref(),
        Some("build-box")
    );
    // A virtual machine's qemu is a host process: not named after the VM.
    assert_eq!(
        lookup(
            &mut c,
            "/machine.slice/machine-qemu\\x2d1\\x2dwin11.scope/libvirt/emulator"
        ),
        None
    );
    assert_eq!(c.by_leader(5151, &Deadline::none()), None);
    assert_eq!(c.by_leader(1, &Deadline::none()), None);
}

#[test]
fn nspawn_service_unit_names_its_machine() {
    let mut c = host();
    let info = lookup(
        &mut c,
        "/machine.slice/systemd-nspawn@db\\x2dreplica.service/payload",
    )
    .unwrap();
    assert_eq!(info.container_name.as_deref(), Some("db-replica"));
    assert_eq!(info.container_runtime, Some(Runtime::Nspawn));
    // An unregistered machine scope could be anything (a VM, libvirt-lxc): no name.
    assert_eq!(lookup(&mut c, "/machine.slice/machine-ghost.scope"), None);
}

#[test]
fn lxc_payload_and_legacy_cgroups() {
    let mut c = host();
    for cgroup in [
        "/lxc.payload.web01/system.slice/nginx.service",
        "/lxc/web01/init.scope",
    ] {
        let info = lookup(&mut c, cgroup).unwrap();
        assert_eq!(info.container_name.as_deref(), Some("web01"), "{cgroup}");
        assert_eq!(info.container_runtime, Some(Runtime::Lxc));
    }
    // The monitor runs on the host side.
    assert_eq!(lookup(&mut c, "/lxc.monitor.web01"), None);
}

#[test]
fn host_processes_and_unknown_containers_have_no_names() {
    let mut c = host();
    assert_eq!(lookup(&mut c, "/system.slice/apache2.service"), None);
    assert_eq!(
        lookup(
            &mut c,
            &format!("/system.slice/docker-{}.scope", "0".repeat(64))
        ),
        None
    );
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}
