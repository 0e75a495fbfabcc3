//! Holders named as people know them: live, web-1's hung call to db-1, each process in a cgroup
//! named as Docker names it (the state files under the fixture root that
//! `STUCKCONN_TEST_ROOT` points at); and a recorded snapshot of containers, a pod and the host
//! replayed with every name and its source.

use super::{hung_call, joined, SERVER};
use crate::common::*;
use crate::containers::{TestCgroup, DB, WEB};
use serde_json::Value;
use std::time::Duration;

#[test]
fn containers_are_named_where_people_read_them() {
    let Some((web, db)) = joined("holders") else {
        return;
    };
    let cgroups = (
        TestCgroup::new(&format!("docker-{WEB}.scope")),
        TestCgroup::new(&format!("docker-{DB}.scope")),
    );
    let (Some(web_cgroup), Some(db_cgroup)) = cgroups else {
        skip(
            &current_test(),
            "no cgroup hierarchy where a test can make its own cgroup",
        );
        return;
    };
    // db-1's server and web-1's hung client, each in the cgroup its runtime would give it.
    let env = [("TESTBED_ADDR", SERVER)];
    let blackhole = db.testbed_env(&["blackhole"], &env);
    db_cgroup.enter(blackhole.pid()).unwrap();
    let hung = web.testbed_env(&["hung-recv", &blackhole.port().to_string()], &env);
    web_cgroup.enter(hung.pid()).unwrap();
    std::thread::sleep(Duration::from_millis(2600));

    let scope = [
        "--netns",
        web.name(),
        "--netns",
        db.name(),
        "--min-idle",
        "2s",
        "--no-dns",
    ];
    let (status, out, err) = run(stuckconn()
        .env("STUCKCONN_TEST_ROOT", fixture("runtime/host"))
        .args(["scan", "--format", "json"])
        .args(scope));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);
    let f = hung_call(&report, &web);
    assert_eq!(f["netns"]["container_name"], "web-1", "{:#}", f["netns"]);
    assert_eq!(f["netns"]["image"], "nginx:1.27");
    assert_eq!(
        f["netns"]["compose"],
        serde_json::json!({"project": "shop", "service": "web"})
    );
    let holder = &f["processes"][0];
    assert_eq!(holder["pids"][0], hung.pid());
    assert_eq!(holder["container_name"], "web-1");
    // The remote is db-1's address: named by it, no DNS asked.
    assert_eq!(f["remote"]["hostname"], "db-1", "{:#}", f["remote"]);
    assert_eq!(f["remote"]["dns_source"], "container");
    let row = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pids"][0] == hung.pid())
        .unwrap();
    assert_eq!(row["container_name"], "web-1");

    let (_, table, _) = run(stuckconn()
        .env("STUCKCONN_TEST_ROOT", fixture("runtime/host"))
        .args(scope)
        .args(["--color", "never"]));
    for expected in [
        format!("db-1  {SERVER}:{}", blackhole.port()),
        format!("(pid {}) in web-1", hung.pid()),
        "namespace web-1".to_string(),
    ] {
        assert!(table.contains(&expected), "{expected:?} not in:\n{table}");
    }
    drop((hung, blackhole));
    drop((web_cgroup, db_cgroup));
}

/// The finding in the namespace labelled `label`.
fn in_netns<'a>(report: &'a Value, container_name: Option<&str>) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["netns"]["container_name"].as_str() == container_name)
        .unwrap_or_else(|| panic!("no finding in {container_name:?}"))
}

#[test]
fn a_replay_shows_holders_and_remotes_by_their_names_and_sources() {
    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--no-dns",
        "--from",
        &fixture("containers.json"),
    ]));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);

    // web-1 hung on db-1: both containers of this host, the remote named without DNS.
    let web = in_netns(&report, Some("web-1"));
    assert_eq!(web["netns"]["image"], "nginx:1.27");
    assert_eq!(
        web["netns"]["compose"],
        serde_json::json!({"project": "shop", "service": "web"})
    );
    assert_eq!(web["remote"]["hostname"], "db-1");
    assert_eq!(web["remote"]["dns_source"], "container");
    assert_eq!(web["processes"][0]["container_name"], "web-1");

    // The pod's remote by the pod's own resolver; the host's, same address, by the host's.
    let pod = in_netns(&report, Some("app"));
    assert_eq!(
        pod["netns"]["pod"],
        serde_json::json!({"namespace": "shop", "name": "checkout-7d9f"})
    );
    assert_eq!(pod["remote"]["hostname"], "payments.shop.example");
    let source = pod["remote"]["dns_source"].as_str().unwrap();
    assert!(source.starts_with("container:71c206f4b1ff"), "{source}");
    let host = in_netns(&report, None);
    assert_eq!(host["remote"]["ip"], pod["remote"]["ip"]);
    assert_eq!(host["remote"]["hostname"], "payments-public.example");
    assert_eq!(host["remote"]["dns_source"], "host");
    // A name recorded before sources were kept has none.
    assert_eq!(host["clients"][0]["hostname"], "bot.crawler.example");
    assert_eq!(host["clients"][0]["dns_source"], Value::Null);
    let rows = report["processes"].as_array().unwrap();
    assert!(rows.iter().any(|p| p["name"] == "checkout"
        && p["pod"]["name"] == "checkout-7d9f"
        && p["image"] == "registry.example/shop/checkout:2.4"));

    // The table: namespaces and holders by their names.
    let (_, table, _) = run(stuckconn().args([
        "--from",
        &fixture("containers.json"),
        "--no-dns",
        "--color",
        "never",
    ]));
    for expected in [
        " web-1 ",
        "db-1  198.51.100.20:5432",
        "nginx ×3 pids in web-1",
        " shop/checkout-7d9f ",
        "payments.shop.example  192.0.2.80:443",
        "payments-public.example  192.0.2.80:443",
        "In network namespace web-1:",
    ] {
        assert!(table.contains(expected), "{expected:?} not in:\n{table}");
    }

    // One namespace chosen: still named by its own resolver's recorded name.
    let (_, out, _) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--no-dns",
        "--netns",
        "cni-7c1e0f2a",
        "--from",
        &fixture("containers.json"),
    ]));
    let report = json(&out);
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["findings"][0]["remote"]["hostname"],
        "payments.shop.example"
    );
}
