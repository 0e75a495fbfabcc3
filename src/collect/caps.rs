//! The capabilities the tool runs with, to say exactly which one would unlock what is missing.

/// Capability numbers (linux/capability.h) and names.
pub(crate) const DAC_READ_SEARCH: (u32, &str) = (2, "CAP_DAC_READ_SEARCH");
pub(crate) const SYS_PTRACE: (u32, &str) = (19, "CAP_SYS_PTRACE");
pub(crate) const SYS_ADMIN: (u32, &str) = (21, "CAP_SYS_ADMIN");

/// The effective capability set (0 when it cannot be read).
pub(crate) fn effective() -> u64 {
    procfs::process::Process::myself()
        .and_then(|me| me.status())
        .map_or(0, |status| status.capeff)
}

pub(crate) fn has(cap: (u32, &str)) -> bool {
    effective() & (1 << cap.0) != 0
}

/// The names of the capabilities in `needed` that the tool lacks, joined with " and ".
pub(crate) fn missing(needed: &[(u32, &'static str)]) -> String {
    let caps = effective();
    needed
        .iter()
        .filter(|(bit, _)| caps & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Whether this process was started with more privilege than the user who started it: a
/// setuid or setgid binary, or one given file capabilities with `setcap` (the kernel's
/// AT_SECURE flag, read from /proc/self/auxv). Such a run acts for its real user only.
pub(crate) fn secure_exec() -> bool {
    const AT_SECURE: u64 = 23;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        // Unreadable: assume the cautious answer when the ids differ.
        return rustix::process::getuid() != rustix::process::geteuid();
    };
    auxv.chunks_exact(16)
        .map(|pair| {
            let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            (word(&pair[..8]), word(&pair[8..]))
        })
        .any(|(key, value)| key == AT_SECURE && value != 0)
}
