//! Reading small files: those of `/proc` (`stat`, `cmdline`, `cgroup`, a thread's `syscall`,
//! `smaps_rollup`, this process's `status`) and the like (`/etc/passwd`). Open, one read into a
//! buffer sized for them, one read that finds the end, close. `/proc` gives every file the
//! size 0, so `std::fs::read_to_string` asks the size (`statx`) for nothing and then reads 32
//! bytes at a time at first, and a read of a process's `cmdline` walks the process's memory
//! once per call. Never more than a cap is read.

use std::io::Read;
use std::path::Path;

/// The first read asks this much: what most of these files hold whole.
const FIRST_READ: usize = 4096;

/// The bytes of `path`, at most `cap` of them.
pub(crate) fn read(path: impl AsRef<Path>, cap: u64) -> std::io::Result<Vec<u8>> {
    bytes_of(std::fs::File::open(path)?, cap)
}

/// At most `cap` bytes of `reader` (a file already opened).
fn bytes_of(reader: impl Read, cap: u64) -> std::io::Result<Vec<u8>> {
    let first = usize::try_from(cap).unwrap_or(usize::MAX).min(FIRST_READ);
    let mut bytes = Vec::with_capacity(first);
    // Through `take`: no size is asked, and nothing past the cap is read.
    reader.take(cap).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The bytes of `path` up to its last `separator` within `cap` bytes: when the cap cut the
/// file, the record it cut into (a line, an argument) is left out rather than given in part.
pub(crate) fn read_records(
    path: impl AsRef<Path>,
    cap: u64,
    separator: u8,
) -> std::io::Result<Vec<u8>> {
    let mut bytes = read(path, cap)?;
    if bytes.len() as u64 == cap {
        let whole = bytes
            .iter()
            .rposition(|&b| b == separator)
            .map_or(0, |at| at + 1);
        bytes.truncate(whole);
    }
    Ok(bytes)
}

/// A `/proc/PID/stat` line: the command name, between the first `(` and the last `)` (it may
/// hold spaces and parentheses), and the fields after it, numbered as proc(5) numbers them.
pub(crate) struct Stat<'a> {
    pub comm: &'a str,
    /// From field 3 (the state) on.
    rest: &'a str,
}

impl<'a> Stat<'a> {
    pub(crate) fn parse(line: &'a str) -> Option<Stat<'a>> {
        let (head, rest) = line.rsplit_once(')')?;
        let (_, comm) = head.split_once('(')?;
        Some(Stat { comm, rest })
    }

    /// Field `n` as proc(5) numbers it (3: the state, 4: the parent's pid, 20: the number
    /// of threads, 22: the start time in clock ticks after boot).
    pub(crate) fn field(&self, n: usize) -> Option<&'a str> {
        self.rest.split_ascii_whitespace().nth(n.checked_sub(3)?)
    }
}

/// The text of `path`, at most `cap` bytes of it; bytes that are not UTF-8 are read as
/// U+FFFD (a process's name and cgroups are chosen by others).
pub(crate) fn read_text(path: impl AsRef<Path>, cap: u64) -> std::io::Result<String> {
    text_of(std::fs::File::open(path)?, cap)
}

/// The text of `reader` (a file already opened: /etc/passwd, through `regular::open`), as
/// `read_text` reads it.
pub(crate) fn text_of(reader: impl Read, cap: u64) -> std::io::Result<String> {
    let bytes = bytes_of(reader, cap)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_files_are_read_whole_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let long: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(&path, &long).unwrap();
        assert_eq!(super::read(&path, 1 << 20).unwrap(), long);
        assert_eq!(super::read(&path, 100).unwrap(), &long[..100]);
        std::fs::write(&path, b"caf\xe9").unwrap();
        assert_eq!(super::read_text(&path, 100).unwrap(), "caf\u{fffd}");
        let own = super::read_text("/proc/self/stat", 4096).unwrap();
        assert!(
            own.starts_with(&format!("{} (", std::process::id())),
            "{own}"
        );
        // Cut by the cap: the record cut into is left out.
        std::fs::write(&path, b"one\0two\0three\0").unwrap();
        assert_eq!(super::read_records(&path, 10, 0).unwrap(), b"one\0two\0");
        assert_eq!(
            super::read_records(&path, 100, 0).unwrap(),
            b"one\0two\0three\0"
        );
        assert_eq!(super::read_records(&path, 3, 0).unwrap(), b"");
        let err = super::read(dir.path().join("none"), 10).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn a_stat_line_with_a_hostile_name() {
        let line =
            "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 3 0 778899 0 0\n";
        let stat = super::Stat::parse(line).unwrap();
        assert_eq!(stat.comm, "a) (b c");
        assert_eq!(stat.field(3), Some("S"));
        assert_eq!(stat.field(4), Some("1"));
        assert_eq!(stat.field(20), Some("3"));
        assert_eq!(stat.field(22), Some("778899"));
        assert_eq!(stat.field(99), None);
        assert_eq!(stat.field(2), None);
        assert!(super::Stat::parse("4242 no parentheses").is_none());
    }
}
