//! Where reports, snapshots and pcap files go: standard output, or a path.
//!
//! Root runs this tool in shared directories, so a path is never trusted blindly:
//! - `-` is standard output;
//! - a missing path, a regular file, or a symlink to either is written through an unnamed
//!   temporary file in the same directory (`O_TMPFILE`; a named `.stuckconn-*` file where the
//!   filesystem has none) and renamed into place when complete: never half-written, and an
//!   existing symlink is replaced, never followed;
//! - an existing path that is not a regular file (a character or block device, a FIFO,
//!   `/dev/stdout`, `/proc/self/fd/N`) is opened and written in place, never replaced. Through
//!   a symlink only when the link belongs to root or to the caller (a link planted by another
//!   user in a shared directory is refused). A FIFO with no reader is an error, not a hang.

use crate::deadline::{self, Deadline, TICK};
use rustix::event::{PollFd, PollFlags};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of files that may carry command lines (and, with `--no-redact`, secrets).
pub(crate) const PRIVATE: u32 = 0o600;
/// Mode of files with no command lines (Prometheus metrics, read by node_exporter).
pub(crate) const PUBLIC: u32 = 0o644;

/// An open destination. Write through [`Output::writer`], then [`Output::commit`]; dropped
/// without a commit, nothing is left behind.
pub(crate) struct Output {
    sink: Sink,
    path: Option<PathBuf>,
}

enum Sink {
    Stdout(io::BufWriter<Bounded<io::Stdout>>),
    /// A device, FIFO or terminal, written in place.
    InPlace(io::BufWriter<Bounded<File>>),
    /// A new file, renamed over `name` in `dir` when complete.
    Replace {
        file: io::BufWriter<File>,
        dir: OwnedFd,
        name: PathBuf,
        /// The named temporary file when the filesystem has no `O_TMPFILE`, and the path
        /// it is renamed to.
        named: Option<(tempfile::TempPath, PathBuf)>,
    },
}

impl Output {
    /// Standard output.
    pub(crate) fn stdout() -> Output {
        Output {
            sink: Sink::Stdout(io::BufWriter::new(Bounded::new(io::stdout()))),
            path: None,
        }
    }

    /// Opens `path` (`-` is standard output) as described in the module documentation. New
    /// files get `mode`.
    pub(crate) fn open(path: &Path, mode: u32) -> io::Result<Output> {
        if path.as_os_str() == "-" {
            return Ok(Output::stdout());
        }
        let sink = match std::fs::symlink_metadata(path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => replace(path, mode)?,
            Err(err) => return Err(err),
            Ok(meta) if meta.file_type().is_file() => replace(path, mode)?,
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::metadata(path) {
                // A dangling link or a link to a regular file: the link itself is replaced.
                Err(err) if err.kind() == io::ErrorKind::NotFound => replace(path, mode)?,
                Err(err) => return Err(err),
                Ok(target) if target.file_type().is_file() => replace(path, mode)?,
                Ok(_) => {
                    let own = rustix::process::geteuid().as_raw();
                    if meta.uid() != 0 && meta.uid() != own {
                        return Err(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            format!(
                                "it is a symlink owned by uid {} to something that is not a \
                                 regular file; refusing to follow it",
                                meta.uid()
                            ),
                        ));
                    }
                    in_place(path)?
                }
            },
            Ok(meta) if meta.file_type().is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "it is a directory",
                ))
            }
            Ok(_) => in_place(path)?,
        };
        Ok(Output {
            sink,
            path: Some(path.to_path_buf()),
        })
    }

    /// Gives up writing to standard output or a device (a pipe, a terminal, a FIFO) when
    /// `deadline` passes while it takes no data (a signal already does: `Deadline::none`).
    pub(crate) fn until(mut self, deadline: Deadline) -> Output {
        match &mut self.sink {
            Sink::Stdout(w) => w.get_mut().deadline = deadline,
            Sink::InPlace(w) => w.get_mut().deadline = deadline,
            Sink::Replace { .. } => {}
        }
        self
    }

    /// Where the bytes go until [`Output::commit`].
    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        match &mut self.sink {
            Sink::Stdout(w) => w,
            Sink::InPlace(w) => w,
            Sink::Replace { file, .. } => file,
        }
    }

    /// The file behind a path destination (to write a pcap savefile through, say).
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Flushes, and for a new file, syncs it and renames it into place.
    pub(crate) fn commit(self) -> io::Result<()> {
        match self.sink {
            Sink::Stdout(mut w) => w.flush(),
            Sink::InPlace(mut w) => w.flush(),
            Sink::Replace {
                file,
                dir,
                name,
                named,
            } => {
                let file = file.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                match named {
                    Some((temp, target)) => {
                        temp.persist(target).map_err(|e| e.error)?;
                        landed(&file, &dir, &name)
                    }
                    None => link_into_place(&file, &dir, &name),
                }
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }
}

/// A pipe, terminal or device whose reader may stop reading (`scan | less` left open, a stuck
/// log shipper): each write waits until it takes data (`poll`, looking at `deadline` every
/// [`TICK`]) and is at most [`PIPE_BUF`] bytes, which a pipe that polls writable takes
/// without blocking. When `deadline` passes first, the write fails (`TimedOut`) instead of
/// blocking the command for as long as the reader sleeps. What a write never waits on (a
/// regular file, /dev/null) is written as it is.
pub(crate) struct Bounded<W> {
    inner: W,
    deadline: Deadline,
    /// A regular file, or one of the memory devices (/dev/null, /dev/zero, /dev/full...):
    /// a write never waits for a reader, so there is nothing to poll for.
    never_waits: bool,
}

/// The major number of the memory devices (`mem`: /dev/null, /dev/zero, /dev/full, /dev/kmsg,
/// /dev/random...), whose writes never wait for a reader.
const MEMORY_DEVICES: u32 = 1;

/// Whether a write to what `st` describes can never wait for a reader.
fn never_waits(st: &rustix::fs::Stat) -> bool {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => true,
        FileType::CharacterDevice => rfs::major(st.st_rdev) == MEMORY_DEVICES,
        _ => false,
    }
}

/// What one write to a pipe gives at most (POSIX's PIPE_BUF on Linux).
const PIPE_BUF: usize = 4096;

impl<W: Write + AsFd> Bounded<W> {
    fn new(mut inner: W) -> Bounded<W> {
        // What was printed before (through `io::Stdout`'s buffer) comes first.
        let _ = inner.flush();
        let never_waits = rfs::fstat(&inner).is_ok_and(|st| never_waits(&st));
        Bounded {
            inner,
            deadline: Deadline::none(),
            never_waits,
        }
    }
}

impl<W: Write + AsFd> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.never_waits || buf.is_empty() {
            return self.inner.write(buf);
        }
        let tick = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: TICK.as_nanos() as _,
        };
        loop {
            let mut fds = [PollFd::new(&self.inner, PollFlags::OUT)];
            match rustix::event::poll(&mut fds, Some(&tick)) {
                // Writable, or an error or hang-up the write then reports (EPIPE).
                Ok(n) if n > 0 => break,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(err) => return Err(err.into()),
            }
            if self.deadline.passed() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "it took no data until {} (nothing reads it)",
                        match deadline::interrupted_by() {
                            Some(signal) => format!("{signal} came"),
                            None => "--timeout passed".to_string(),
                        }
                    ),
                ));
            }
        }
        // Straight to the file descriptor: through `io::Stdout` (a `LineWriter`), one write
        // here could be two there, the second one blocking.
        Ok(rustix::io::write(
            &self.inner,
            &buf[..buf.len().min(PIPE_BUF)],
        )?)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The directory a path lives in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn replace(path: &Path, mode: u32) -> io::Result<Sink> {
    let dir_name = parent_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = rfs::open(
        dir_name,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let unnamed = rfs::openat(
        &dir,
        ".",
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    );
    let (file, named) = match unnamed {
        Ok(fd) => (File::from(fd), None),
        // Filesystems without O_TMPFILE (and old kernels): a named file, removed on drop.
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
            let temp = tempfile::Builder::new()
                .prefix(".stuckconn-")
                .tempfile_in(dir_name)?;
            let (file, temp) = temp.into_parts();
            (file, Some((temp, path.to_path_buf())))
        }
        Err(err) => return Err(err.into()),
    };
    // The umask may have narrowed the mode; say exactly what was asked.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(Sink::Replace {
        file: io::BufWriter::new(file),
        dir,
        name: PathBuf::from(name),
        named,
    })
}

/// Links the unnamed file into `dir` as `name`. A free name is linked to directly, so no
/// other name ever appears; an existing one is replaced by a rename from a random name, and
/// what landed under `name` is checked to be this file (another user who swapped the random
/// name for a link of his own gets an error, not root's data under his link).
fn link_into_place(file: &File, dir: &OwnedFd, name: &Path) -> io::Result<()> {
    let source = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(file));
    let link = |to: &Path| rfs::linkat(rfs::CWD, source.as_str(), dir, to, AtFlags::SYMLINK_FOLLOW);
    match link(name) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::EXIST) => {}
        Err(err) => return Err(err.into()),
    }
    for attempt in 0u32..16 {
        let temp = temp_name(attempt);
        match link(Path::new(&temp)) {
            Ok(()) => {
                rfs::renameat(dir, temp.as_str(), dir, name).map_err(|err| {
                    let _ = rfs::unlinkat(dir, temp.as_str(), AtFlags::empty());
                    io::Error::from(err)
                })?;
                return landed(file, dir, name);
            }
            Err(rustix::io::Errno::EXIST) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary name",
    ))
}

/// Whether `name` in `dir` is now `file` itself, not something swapped in on the way.
fn landed(file: &File, dir: &OwnedFd, name: &Path) -> io::Result<()> {
    let ours = rfs::fstat(file)?;
    let there = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino) {
        Ok(())
    } else {
        Err(io::Error::other(
            "another file was swapped in while it was being renamed into place",
        ))
    }
}

fn temp_name(attempt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        ".stuckconn-{}-{:08x}{attempt}",
        std::process::id(),
        nanos ^ 0x5bd1_e995
    )
}

/// Opens a device, FIFO or terminal for writing where it is: no creation, no truncation, and
/// no waiting for a FIFO's reader.
fn in_place(path: &Path) -> io::Result<Sink> {
    let fd = rfs::open(
        path,
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|err| match err {
        rustix::io::Errno::NXIO => io::Error::new(
            io::ErrorKind::BrokenPipe,
            "no process is reading it (a FIFO without a reader, or a socket)",
        ),
        err => err.into(),
    })?;
    // Checked again on what was opened: it may have been swapped since it was looked at.
    let stat = rfs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile {
        return Err(io::Error::other(
            "it changed into a regular file while it was being opened",
        ));
    }
    let flags = rfs::fcntl_getfl(&fd)?;
    rfs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK)?;
    Ok(Sink::InPlace(io::BufWriter::new(Bounded::new(File::from(
        fd,
    )))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a write can wait on is polled; a regular file and /dev/null are written as they
    /// are (a report into /dev/null costs no poll per 4 KiB).
    #[test]
    fn only_what_can_wait_for_a_reader_is_polled() {
        let st = |file: &File| rfs::fstat(file).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let regular = File::create(dir.path().join("f")).unwrap();
        assert!(never_waits(&st(&regular)));
        let null = File::options().write(true).open("/dev/null").unwrap();
        assert!(never_waits(&st(&null)));
        let (_read, write) = std::io::pipe().unwrap();
        assert!(!never_waits(&rfs::fstat(&write).unwrap()));
        let tty_like = File::options().write(true).open("/dev/tty");
        if let Ok(tty) = tty_like {
            assert!(!never_waits(&st(&tty)));
        }
        // Through `Bounded`, /dev/null takes a large write whole, a pipe at most PIPE_BUF.
        let mut bounded = Bounded::new(null);
        assert_eq!(bounded.write(&[b'x'; 65536]).unwrap(), 65536);
        let mut piped = Bounded::new(File::from(OwnedFd::from(write)));
        assert_eq!(piped.write(&[b'x'; 65536]).unwrap(), PIPE_BUF);
    }
}
