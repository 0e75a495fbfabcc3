//! Machines: systemd-nspawn containers (and others registered with systemd-machined, whose
//! `/run/systemd/machines/<name>` files give the name, the unit and the leader), and LXC / LXD
//! containers, named by their cgroup alone.

use super::read::SMALL_CAP;
use super::store::Store;
use super::{ContainerInfo, Runtime, NAME_MAX_CHARS};

/// A machine registered with systemd-machined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Machine {
    name: String,
    unit: Option<String>,
    service: Option<String>,
    class: Option<String>,
    leader: Option<u32>,
}

impl Machine {
    /// Its names; none for a virtual machine (its processes are the host's).
    fn info(&self) -> Option<ContainerInfo> {
        if self.class.as_deref() == Some("vm") {
            return None;
        }
        let runtime = match self.service.as_deref() {
            Some("nspawn") | None => Runtime::Nspawn,
            Some(_) => Runtime::Machine,
        };
        Some(ContainerInfo {
            container_name: Some(self.name.clone()),
            container_runtime: Some(runtime),
            ..ContainerInfo::default()
        })
    }
}

impl Store {
    /// The machines registered with systemd-machined.
    fn machines(&mut self) -> &[Machine] {
        if self.machines.is_none() {
            let dir = self.at("/run/systemd/machines");
            let mut machines = Vec::new();
            for (name, kind) in self.list(&dir) {
                if name.starts_with("unit:")
                    || name.starts_with('.')
                    || !kind.is_some_and(|k| k.is_file())
                {
                    continue;
                }
                let path = dir.join(&name);
                if let Some(bytes) = self.read(&path, SMALL_CAP, false, "machines") {
                    if let Some(machine) = parse_machine(&String::from_utf8_lossy(&bytes)) {
                        if machine.name.chars().count() <= NAME_MAX_CHARS {
                            machines.push(machine);
                        }
                    }
                }
            }
            self.machines = Some(machines);
        }
        self.machines.as_deref().unwrap_or_default()
    }

    /// The machine whose scope is `unit`, or the nspawn container a service unit names.
    pub(super) fn by_machine_unit(&mut self, unit: &str) -> Option<ContainerInfo> {
        if let Some(machine) = self
            .machines()
            .iter()
            .find(|m| m.unit.as_deref() == Some(unit))
        {
            return machine.info();
        }
        // `machinectl start` runs systemd-nspawn@NAME.service: the unit says what it is.
        let instance = unit
            .strip_prefix("systemd-nspawn@")?
            .strip_suffix(".service")?;
        let name = unit_unescape(instance)?;
        let name = self.checked(&name, NAME_MAX_CHARS, "a machine's unit")?;
        Some(ContainerInfo {
            container_name: Some(name),
            container_runtime: Some(Runtime::Nspawn),
            ..ContainerInfo::default()
        })
    }

    /// The machine whose leader is `pid`.
    pub(super) fn by_leader(&mut self, pid: u32) -> Option<ContainerInfo> {
        self.machines()
            .iter()
            .find(|m| m.leader == Some(pid))
            .and_then(Machine::info)
    }

    /// An LXC / LXD container: the name its cgroup gives (`lxc.payload.NAME`).
    pub(super) fn by_lxc_name(&self, name: &str) -> Option<ContainerInfo> {
        let name = self.checked(name, NAME_MAX_CHARS, "an LXC cgroup")?;
        Some(ContainerInfo {
            container_name: Some(name),
            container_runtime: Some(Runtime::Lxc),
            ..ContainerInfo::default()
        })
    }
}

/// A file of `/run/systemd/machines/`: `KEY=VALUE` lines, values C-escaped.
fn parse_machine(text: &str) -> Option<Machine> {
    let mut machine = Machine::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let Some(value) = c_unescape(value) else {
            continue;
        };
        match key {
            "NAME" => machine.name = value,
            "SCOPE" => machine.unit = Some(value),
            "SERVICE" => machine.service = Some(value),
            "CLASS" => machine.class = Some(value),
            "LEADER" => machine.leader = value.parse().ok().filter(|&p| p > 0),
            _ => {}
        }
    }
    (!machine.name.is_empty()).then_some(machine)
}

/// Undoes systemd's `cescape`: `\\`, `\"`, `\n` and friends, `\xHH`, `\NNN` (octal).
pub(super) fn c_unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = *bytes.get(i + 1)?;
        i += 2;
        let byte = match next {
            b'\\' | b'"' | b'\'' => next,
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'x' => {
                let hex = std::str::from_utf8(bytes.get(i..i + 2)?).ok()?;
                i += 2;
                u8::from_str_radix(hex, 16).ok()?
            }
            b'0'..=b'7' => {
                let octal = std::str::from_utf8(bytes.get(i - 1..i + 2)?).ok()?;
                i += 2;
                u8::from_str_radix(octal, 8).ok()?
            }
            _ => return None,
        };
        out.push(byte);
    }
    String::from_utf8(out).ok()
}

/// Undoes systemd's unit-name escaping (`\x2d` for `-`) of a unit's instance.
pub(super) fn unit_unescape(text: &str) -> Option<String> {
    if text.contains("\\") && !text.split('\\').skip(1).all(|p| p.starts_with('x')) {
        return None;
    }
    c_unescape(text).filter(|t| !t.is_empty() && !t.contains('/'))
}
