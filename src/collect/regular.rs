//! Reading a file that others may have put in place (a user's configuration, a container's
//! /etc/resolv.conf) without ever opening anything but a regular file. Opening is what can
//! harm: a device's open has effects of its own (a watchdog starts its countdown and reboots
//! the host when it is not fed, a serial line raises DTR, a tape rewinds), and a container's
//! root can create device nodes (`mknod`, with Docker's default capabilities) that its own
//! device cgroup keeps it from opening, but not root on the host. So the name is first
//! opened with `O_PATH`, which opens nothing, the kind of file is checked on that descriptor,
//! and only a regular file is opened for reading, through `/proc/self/fd` (the very file
//! checked, whatever the name points at by then).

use rustix::fs::{FileType, Mode, OFlags, Stat};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};

/// Flags for the `O_PATH` open of a name (add `NOFOLLOW` to refuse a final link).
pub(crate) const PATH_FLAGS: OFlags = OFlags::PATH.union(OFlags::CLOEXEC);

/// What a descriptor opened with `O_PATH` names, in words, when it is not a regular file.
pub(crate) fn not_regular(stat: &Stat) -> Option<&'static str> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => None,
        FileType::Fifo => Some("a FIFO"),
        FileType::Directory => Some("a directory"),
        FileType::CharacterDevice => Some("a character device"),
        FileType::BlockDevice => Some("a block device"),
        FileType::Socket => Some("a socket"),
        FileType::Symlink => Some("a symbolic link"),
        FileType::Unknown => Some("not a file"),
    }
}

/// The regular file that `path` (a descriptor opened with `O_PATH`, checked with
/// [`not_regular`]) names, opened for reading, without waiting.
pub(crate) fn reopen(path: &OwnedFd) -> std::io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(
        format!("/proc/self/fd/{}", path.as_raw_fd()),
        flags,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// The status of what `path` (a descriptor opened with `O_PATH`) names when it is a regular
/// file; otherwise an error that says what it is.
pub(crate) fn regular_stat(path: &OwnedFd) -> std::io::Result<Stat> {
    let stat = rustix::fs::fstat(path)?;
    match not_regular(&stat) {
        None => Ok(stat),
        Some(what) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what}, not a regular file"),
        )),
    }
}

/// Opens `path` for reading only if it is a regular file (following links), without waiting;
/// anything else is an error that says what it is, and is never opened.
pub(crate) fn open(path: &std::path::Path) -> std::io::Result<File> {
    let fd = rustix::fs::open(path, PATH_FLAGS, Mode::empty())?;
    regular_stat(&fd)?;
    reopen(&fd)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Makes a FIFO at `path` (mode 0600).
    pub(crate) fn fifo_at(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
    }

    /// A FIFO at `path` with a writer blocked in `open` until a reader opens it: the receiver
    /// hears when that happens. Call [`release`] after the test to end the writer.
    pub(crate) fn watched_fifo(path: &Path) -> mpsc::Receiver<()> {
        fifo_at(path);
        let (opened, heard) = mpsc::channel();
        let at = path.to_path_buf();
        std::thread::spawn(move || {
            // Blocks until someone opens the FIFO for reading.
            let _writer = std::fs::OpenOptions::new().write(true).open(&at);
            let _ = opened.send(());
        });
        // The writer is waiting before the test goes on.
        std::thread::sleep(Duration::from_millis(100));
        heard
    }

    /// Opens the FIFO for reading: the writer of [`watched_fifo`] returns.
    pub(crate) fn release(path: &Path) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
    }

    #[test]
    fn only_a_regular_file_is_ever_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let heard = watched_fifo(&fifo);
        let path = rustix::fs::open(&fifo, super::PATH_FLAGS, rustix::fs::Mode::empty()).unwrap();
        let stat = rustix::fs::fstat(&path).unwrap();
        assert_eq!(super::not_regular(&stat), Some("a FIFO"));
        assert!(
            heard.recv_timeout(Duration::from_millis(300)).is_err(),
            "an O_PATH open opens nothing"
        );
        release(&fifo);
        heard.recv_timeout(Duration::from_secs(5)).unwrap();

        let file = dir.path().join("file");
        std::fs::write(&file, "nameserver 192.0.2.53\n").unwrap();
        let path = rustix::fs::open(&file, super::PATH_FLAGS, rustix::fs::Mode::empty()).unwrap();
        assert_eq!(super::not_regular(&rustix::fs::fstat(&path).unwrap()), None);
        let text = std::io::read_to_string(super::reopen(&path).unwrap()).unwrap();
        assert_eq!(text, "nameserver 192.0.2.53\n");
    }

    #[test]
    fn open_refuses_what_is_not_a_regular_file_without_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("passwd");
        let heard = watched_fifo(&fifo);
        let err = super::open(&fifo).unwrap_err();
        assert_eq!(err.to_string(), "a FIFO, not a regular file");
        assert!(
            heard.recv_timeout(Duration::from_millis(300)).is_err(),
            "never opened"
        );
        release(&fifo);
        heard.recv_timeout(Duration::from_secs(5)).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let text = std::io::read_to_string(super::open(&file).unwrap()).unwrap();
        assert_eq!(text, "root:x:0:0::/root:/bin/sh\n");
    }
}
