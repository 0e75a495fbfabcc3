//! Unit tests of the container names, against the fixture trees under `fixtures/runtime/` and
//! trees made in a temporary directory.

mod parsing;
mod reading;
mod runtimes;

use super::*;

const WEB: &str = "f31f384749f9115acf01fcf82f5a966b59dcc0a4cbd7c9740888c0bf32aa2bbb";
const DB: &str = "aed4cebcaf364cb3d8e610e862b1e5ecdeae9c59aaab8913729ae5647465b7bc";
const EVIL: &str = "c0b09787dbe0ae1d3133b21325f656140d31765591cc486637cfa296e0aa95fe";
const DOCKER_K8S: &str = "89016fc1ebe735d5d6bfa8fa9b5c0431890483da9035da7f4031b4fd87aff831";
const API: &str = "236afc24ae3e0fe15428343bd8b1f2c2cf3220c70f338d091f29166681157bcf";
const ALICE: &str = "b8b5e66f50bcb8566378999a0ac85a9cdb4dd30b5cfd63273628d872c87b6673";
const CRIO_APP: &str = "610713dca419d7deb83a1246d0c1ee0ac2e23b81cbb29bba37147e88e1848cda";
const CRIO_SANDBOX: &str = "a18bfabd3cf1d74d0267b59ef276e9c1c94d4e31a9fb482340d884a4c4275b94";
const CD_APP: &str = "71c206f4b1ff6f81c8a8ec2c517dc9a23052ae34725e0c35c49a1b1f559a56d4";
const CD_SANDBOX: &str = "85b013213e803c7bc39ff8937f98c8b3b8ba3ee2cf22b5c7f08dfa7dd07f0fc4";
const COREDNS: &str = "8a32e516d7415be524a7fcec482ad2918f2b6ef2a7f4cb8e2e232b361436b20b";
const CHECKOUT_UID: &str = "450113c3-363f-4ee9-ab1e-9e56f29d4c36";
const CART_UID: &str = "5e92f4ed-6339-4c94-8595-455a539ddcd2";
const COREDNS_UID: &str = "9f832ab2-24eb-42f1-b146-8bf84cdcac07";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/runtime")
        .join(name)
}

fn host() -> Containers {
    Containers::new(&fixture("host"))
}

fn paths(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

fn lookup(c: &mut Containers, cgroup: &str) -> Option<ContainerInfo> {
    c.lookup(&Holder::from_cgroup(&paths(&[cgroup])), &Deadline::none())
}

fn pod(namespace: &str, name: &str) -> Option<Pod> {
    Some(Pod {
        namespace: namespace.to_string(),
        name: name.to_string(),
    })
}
