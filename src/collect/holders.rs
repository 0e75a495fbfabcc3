//! Names of the holders as people know them: each process that holds a socket, and each
//! network namespace (through a process inside it), named from the container runtimes' state
//! files (`containers`: bounded reads on a thread of its own, never a daemon's socket). One
//! reader per collection, so that each file is read once.

use super::containers::{ContainerInfo, Containers, Holder};
use super::netns::Target;
use crate::deadline::Deadline;
use crate::snapshot::{ContainerNames, Netns, Process};

/// What naming the holders saw.
#[derive(Debug, Default)]
pub struct Named {
    pub warnings: Vec<String>,
    /// The deadline passed before every holder was looked up.
    pub cut_short: bool,
}

/// Fills in the names of every process (`keys`: what each one's cgroup says, in the same
/// order) and namespace (those the state files know) and returns the namespaces.
pub fn name(
    targets: Vec<Target>,
    processes: &mut [Process],
    keys: &[Holder],
    deadline: &Deadline,
    named: &mut Named,
) -> Vec<Netns> {
    name_with(
        &mut Containers::from_env(),
        targets,
        processes,
        keys,
        deadline,
        named,
    )
}

fn name_with(
    containers: &mut Containers,
    targets: Vec<Target>,
    processes: &mut [Process],
    keys: &[Holder],
    deadline: &Deadline,
    named: &mut Named,
) -> Vec<Netns> {
    for (process, holder) in processes.iter_mut().zip(keys) {
        if let Some(info) = containers.lookup(holder, deadline) {
            process.container_names = names_of(info);
        }
    }
    let namespaces = targets
        .into_iter()
        .map(|target| {
            let mut netns = target.label;
            if let Some(pid) = target.member {
                let holder = Holder::of_process(pid);
                let info = containers
                    .lookup(&holder, deadline)
                    .or_else(|| containers.by_leader(pid, deadline));
                if let Some(info) = info {
                    netns.container_names = names_of(info);
                }
            }
            netns
        })
        .collect();
    named.warnings.extend(containers.warnings());
    named.cut_short = deadline.passed();
    namespaces
}

/// The names a report keeps of what the state files say.
fn names_of(info: ContainerInfo) -> ContainerNames {
    ContainerNames {
        container_name: info.container_name,
        image: info.image,
        pod: info.pod,
        compose: info.compose,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_as_the_state_files_give_them() {
        let info = ContainerInfo {
            container_name: Some("app".to_string()),
            image: Some("registry.example/shop/checkout:2.4".to_string()),
            pod: Some(super::super::containers::Pod {
                namespace: "shop".to_string(),
                name: "checkout-7d9f".to_string(),
            }),
            compose: None,
            container_runtime: None,
        };
        let names = names_of(info);
        assert_eq!(names.label().as_deref(), Some("shop/checkout-7d9f"));
        assert_eq!(names.container_name.as_deref(), Some("app"));
    }
}
