//! The runtime that made a call, recognised from the holding process: the libraries in
//! /proc/PID/maps, the executable's name, Go's build information in the executable. Every
//! read is bounded; what cannot be read is simply not recognised.

pub use crate::snapshot::{Detected, Runtime};
use std::os::unix::fs::FileExt;

/// How a runtime shows in a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// A mapped library whose file name starts with this, followed by `.`, `-` or a digit
    /// (`libcurl.so.4`, `libcurl-gnutls.so.4`, `libphp8.2.so`, `libruby-3.1.so.3.1`).
    Library(&'static str),
    /// The executable's file name starts with this, followed by nothing, `.`, `-` or a digit
    /// (`php8.2`, `php-fpm8.2`, `python3.11`, `node`).
    Exe(&'static str),
    /// The `\xff Go buildinf:` section of a Go executable.
    GoBuildInfo,
}

/// Every sign of every runtime.
pub const SIGNS: &[(Runtime, Sign)] = &[
    (Runtime::Curl, Sign::Library("libcurl")),
    (Runtime::Php, Sign::Library("libphp")),
    (Runtime::Php, Sign::Exe("php")),
    (Runtime::Php, Sign::Exe("php-fpm")),
    (Runtime::Php, Sign::Exe("php-cgi")),
    (Runtime::Python, Sign::Library("libpython")),
    (Runtime::Python, Sign::Exe("python")),
    (Runtime::Java, Sign::Library("libjvm")),
    (Runtime::Node, Sign::Library("libnode")),
    (Runtime::Node, Sign::Exe("node")),
    (Runtime::Node, Sign::Exe("nodejs")),
    (Runtime::Ruby, Sign::Library("libruby")),
    (Runtime::Ruby, Sign::Exe("ruby")),
    (Runtime::Go, Sign::GoBuildInfo),
];

/// Recognises the runtimes of a process from its maps text, its executable's path and (for
/// Go) the version found in its build information.
pub fn detect_from(maps: &str, exe: Option<&str>, go_version: Option<String>) -> Detected {
    let libraries: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| path.starts_with('/'))
        .map(basename)
        .collect();
    let exe_name = exe.map(|e| basename(e.trim_end_matches(" (deleted)")));
    let mut runtimes: Vec<Runtime> = SIGNS
        .iter()
        .filter(|(_, sign)| match sign {
            Sign::Library(prefix) => libraries.iter().any(|l| named(l, prefix)),
            Sign::Exe(prefix) => exe_name.is_some_and(|e| named(e, prefix)),
            Sign::GoBuildInfo => go_version.is_some(),
        })
        .map(|(r, _)| *r)
        .collect();
    runtimes.sort();
    runtimes.dedup();
    Detected {
        runtimes,
        go_version,
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `name` is `prefix` itself, or `prefix` followed by `.`, `-` or a digit.
fn named(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| {
        rest.is_empty()
            || rest.starts_with(['.', '-'])
            || rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// /proc/PID/maps of a JVM is ~1 MiB; beyond this the libraries are already listed.
const MAX_MAPS_BYTES: u64 = 4 << 20;

/// Recognises the runtimes of process `pid` (its maps, its executable, Go build information).
/// What cannot be read (another user's process without privileges) is simply not recognised.
pub fn detect(pid: u32) -> Detected {
    // Lossily: a mapped file's name is bytes (one not UTF-8 must not hide the others).
    let maps =
        crate::procfile::read_text(format!("/proc/{pid}/maps"), MAX_MAPS_BYTES).unwrap_or_default();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    // Opening the executable asks its file system: a FUSE one (sshfs, a user's) that hangs
    // holds the thread that asked in a wait no signal ends, and the process with it.
    let fuse = exe
        .as_deref()
        .is_some_and(|exe| on_fuse(&maps, exe, &mountinfo(pid)));
    let go = if fuse {
        None
    } else {
        std::fs::File::open(format!("/proc/{pid}/exe"))
            .ok()
            .and_then(|f| go_version(&f))
    };
    detect_from(&maps, exe.as_deref(), go)
}

/// /proc/PID/mountinfo (bounded), or nothing.
fn mountinfo(pid: u32) -> String {
    crate::procfile::read_text(format!("/proc/{pid}/mountinfo"), MAX_MAPS_BYTES).unwrap_or_default()
}

/// Whether the executable `exe` (as /proc/PID/exe names it) lies on a FUSE file system: the
/// device of its mapping in `maps`, the file system of that device in `mountinfo`. Both are
/// read from procfs, without asking the executable's own file system anything.
pub fn on_fuse(maps: &str, exe: &str, mountinfo: &str) -> bool {
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    // `addr perms offset MAJ:MIN inode path`, device numbers in hex.
    let device = maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let dev = fields.nth(3)?;
        let path = line.splitn(6, char::is_whitespace).nth(5)?.trim_start();
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        (path == exe).then_some(dev)
    });
    let Some((major, minor)) = device.and_then(|d| d.split_once(':')) else {
        return false;
    };
    let (Ok(major), Ok(minor)) = (
        u32::from_str_radix(major, 16),
        u32::from_str_radix(minor, 16),
    ) else {
        return false;
    };
    let wanted = format!("{major}:{minor}");
    // `id parent MAJ:MIN root point options [optional...] - fstype source super`, decimal.
    mountinfo.lines().any(|line| {
        line.split_whitespace().nth(2) == Some(wanted.as_str())
            && line
                .split_once(" - ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|fstype| fstype == "fuse" || fstype.starts_with("fuse."))
    })
}

/// The Go version in an ELF executable's `.go.buildinfo` section (Go 1.18+ layout: the
/// version inline after the 32-byte header), found through the section headers. Every read
/// is bounded; anything unexpected is `None`.
pub fn go_version(file: &std::fs::File) -> Option<String> {
    let at = |offset: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    };
    let header = at(0, 64)?;
    // ELF64, little-endian (x86_64, aarch64).
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let shoff = u64_at(&header, 0x28);
    let shentsize = usize::from(u16_at(&header, 0x3a));
    let shnum = usize::from(u16_at(&header, 0x3c));
    let shstrndx = usize::from(u16_at(&header, 0x3e));
    if shentsize != 64 || shnum == 0 || shnum > 1024 || shstrndx >= shnum {
        return None;
    }
    let table = at(shoff, shnum * 64)?;
    let section = |i: usize| &table[i * 64..(i + 1) * 64];
    let strtab = section(shstrndx);
    let (str_off, str_size) = (u64_at(strtab, 24), u64_at(strtab, 32));
    if str_size > 1 << 16 {
        return None;
    }
    let names = at(str_off, usize::try_from(str_size).ok()?)?;
    let wanted = b".go.buildinfo\0";
    let info = (0..shnum).map(section).find(|s| {
        let name = usize::try_from(u32_at(s, 0)).unwrap_or(usize::MAX);
        names.get(name..name + wanted.len()) == Some(&wanted[..])
    })?;
    let data = at(u64_at(info, 24), 32 + 10 + 128).or_else(|| at(u64_at(info, 24), 32))?;
    parse_buildinfo(&data)
}

/// The version in the bytes of a `.go.buildinfo` section.
pub fn parse_buildinfo(data: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\xff Go buildinf:";
    if !data.starts_with(MAGIC) || data.len() < 32 {
        return None;
    }
    let flags = data[15];
    if flags & 2 == 0 {
        // Before Go 1.18 the version is behind a pointer: Go, version unknown.
        return Some("go".to_string());
    }
    // A varint length, then the string.
    let (mut len, mut shift, mut i) = (0usize, 0u32, 32usize);
    loop {
        let b = *data.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return None;
        }
    }
    let version = std::str::from_utf8(data.get(i..i + len)?).ok()?;
    (version.starts_with("go") && version.len() <= 64 && version.is_ascii())
        .then(|| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mapped file's name is bytes: one that is not UTF-8 (here the directory of the
    /// executable, which the process maps) must not hide what the maps show. It did: the maps
    /// were read as a string or not at all.
    #[test]
    fn maps_with_a_name_that_is_not_utf8_are_still_read() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
        std::fs::create_dir(&odd).unwrap();
        // sleep, under the name of a library a runtime is known by.
        let exe = odd.join("libcurl.so.4");
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
        // Until it has exec'ed: then its maps name the copy.
        let pid = child.id();
        for _ in 0..200 {
            let mapped = std::fs::read(format!("/proc/{pid}/maps")).unwrap_or_default();
            if mapped.windows(12).any(|w| w == b"libcurl.so.4") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let detected = detect(pid);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(detected.runtimes, vec![Runtime::Curl]);
    }

    #[test]
    fn names_are_matched_exactly() {
        assert!(named("libcurl.so.4", "libcurl"));
        assert!(named("libcurl-gnutls.so.4", "libcurl"));
        assert!(named("node", "node"));
        assert!(named("php-fpm8.2", "php-fpm"));
        assert!(named("ruby3.1", "ruby"));
        assert!(!named("libcurlpp.so.0", "libcurl"));
        assert!(!named("phpstorm", "php"));
        assert!(!named("nodemon", "node"));
        // A deleted executable still counts.
        let d = detect_from("", Some("/usr/bin/node (deleted)"), None);
        assert_eq!(d.runtimes, vec![Runtime::Node]);
    }

    #[test]
    fn an_executable_on_fuse_is_known_from_procfs_alone() {
        let maps = "55d0c0000000-55d0c0001000 r--p 00000000 00:2a 2 /mnt/tools/exe\n\
                    7f00-7f01 r--p 0 08:01 9 /usr/lib/libc.so.6\n";
        let fuse = "40 30 0:42 / /mnt/tools rw,nosuid,nodev - fuse.sshfs host:/ rw\n";
        let ext4 = "40 30 0:42 / /mnt/tools rw - ext4 /dev/sda1 rw\n";
        assert!(on_fuse(maps, "/mnt/tools/exe", fuse));
        assert!(on_fuse(maps, "/mnt/tools/exe (deleted)", fuse));
        assert!(!on_fuse(maps, "/mnt/tools/exe", ext4));
        assert!(
            !on_fuse(maps, "/usr/bin/other", fuse),
            "not mapped: unknown"
        );
        let spaced = "1000-2000 r-xp 0 00:2a 2 /mnt/my tools/exe\n";
        assert!(on_fuse(spaced, "/mnt/my tools/exe", fuse));
    }

    #[test]
    fn this_test_binary_is_not_go() {
        let me = std::fs::File::open("/proc/self/exe").unwrap();
        assert_eq!(go_version(&me), None);
        let d = detect(std::process::id());
        assert!(!d.runtimes.contains(&Runtime::Go));
    }

    #[test]
    fn go_build_info_is_parsed_and_hostile_text_refused() {
        let mut data = b"\xff Go buildinf:\x08\x02".to_vec();
        data.resize(32, 0);
        data.push(8);
        data.extend_from_slice(b"go1.22.1");
        data.extend_from_slice(&[0; 16]);
        assert_eq!(parse_buildinfo(&data).as_deref(), Some("go1.22.1"));
        let d = detect_from("", Some("/usr/bin/promtool"), parse_buildinfo(&data));
        assert_eq!(d.runtimes, vec![Runtime::Go]);
        // Not buildinfo, a truncated length, a hostile string.
        assert_eq!(parse_buildinfo(b"\x7fELF"), None);
        let mut short = data[..33].to_vec();
        short.push(b'g');
        assert_eq!(parse_buildinfo(&short), None);
        let mut evil = data[..32].to_vec();
        evil.push(4);
        evil.extend_from_slice(b"\x1b[2J");
        assert_eq!(parse_buildinfo(&evil), None);
    }
}
