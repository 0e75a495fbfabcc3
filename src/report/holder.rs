//! How people know the processes of a report: by the container they run in, when its runtime
//! names it. The choice is made here once; the renderers call these.

use super::{FindingProcess, ProcessSummary};
use crate::snapshot::ContainerNames;

/// Where processes run, for people: their systemd unit, else their container's most human
/// name (`web-1`, `shop/checkout-7d9f`), else the container id (12 digits).
pub fn place(
    unit: Option<&str>,
    container: Option<&str>,
    names: &ContainerNames,
) -> Option<String> {
    unit.map(str::to_string)
        .or_else(|| names.label())
        .or_else(|| container.map(|id| id.chars().take(12).collect()))
}

impl FindingProcess {
    /// The row as people read it: `nginx (pid 42)`, `nginx ×3 pids`, then ` in web-1` when
    /// a container runtime names the container it runs in. Not sanitized.
    pub fn label(&self) -> String {
        let who = match self.pids.as_slice() {
            [pid] => format!("{} (pid {pid})", self.name),
            [] => self.name.clone(),
            pids => format!("{} ×{} pids", self.name, pids.len()),
        };
        match self.container_names.label() {
            Some(container) => format!("{who} in {container}"),
            None => who,
        }
    }
}

impl ProcessSummary {
    /// Where these processes run (see [`place`]).
    pub fn place(&self) -> Option<String> {
        place(
            self.unit.as_deref(),
            self.container.as_deref(),
            &self.container_names,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Compose, Netns, Pod};

    fn names(container: Option<&str>, pod: Option<(&str, &str)>) -> ContainerNames {
        ContainerNames {
            container_name: container.map(str::to_string),
            image: Some("nginx:1.27".to_string()),
            pod: pod.map(|(namespace, name)| Pod {
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
            compose: Some(Compose {
                project: "shop".to_string(),
                service: "web".to_string(),
            }),
        }
    }

    #[test]
    fn the_most_human_name_comes_first() {
        let id = "f31f384749f9115acf01fcf82f5a966b59dcc0a4cbd7c9740888c0bf32aa2bbb";
        let pod = names(Some("app"), Some(("shop", "checkout-7d9f")));
        assert_eq!(pod.label().as_deref(), Some("shop/checkout-7d9f"));
        assert_eq!(names(Some("web-1"), None).label().as_deref(), Some("web-1"));
        assert_eq!(names(None, None).label().as_deref(), Some("shop-web"));
        assert_eq!(ContainerNames::default().label(), None);

        let mut ns = Netns {
            inode: 4026532000,
            name: Some("cni-1234".to_string()),
            container: Some(id.to_string()),
            ..Netns::default()
        };
        assert_eq!(ns.short_label(), "cni-1234", "today's label without names");
        ns.container_names = pod.clone();
        assert_eq!(ns.short_label(), "shop/checkout-7d9f");
        ns.container_names = ContainerNames::default();
        ns.name = None;
        assert_eq!(ns.short_label(), "f31f384749f9");

        assert_eq!(
            place(None, Some(id), &ContainerNames::default()).as_deref(),
            Some("f31f384749f9")
        );
        assert_eq!(
            place(None, Some(id), &pod).as_deref(),
            Some("shop/checkout-7d9f")
        );
        assert_eq!(
            place(Some("apache2.service"), None, &pod).as_deref(),
            Some("apache2.service")
        );
    }

    #[test]
    fn a_process_row_says_where_it_runs() {
        let row = |pids: Vec<u32>, container_names| FindingProcess {
            name: "nginx".to_string(),
            exe: None,
            cmdline: None,
            unit: None,
            container: None,
            container_names,
            pids,
            connections: 1,
            shared_connections: 0,
            threads_blocked: 0,
            thread_evidence: Default::default(),
        };
        assert_eq!(row(vec![42], Default::default()).label(), "nginx (pid 42)");
        assert_eq!(
            row(vec![42, 43, 44], names(Some("web-1"), None)).label(),
            "nginx ×3 pids in web-1"
        );
    }
}
