//! The thread that reads the runtimes' state files, and how a lookup waits for it: at most
//! the per-lookup timeout, never past the caller's deadline, and all lookups together at most
//! the run's budget. A read that does not come back makes the resolver give up for the rest
//! of the run, naming the file; the thread is left behind.

use super::store::Store;
use super::{ContainerInfo, Containers, Holder};
use crate::deadline::{Deadline, TICK};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

/// Warnings kept (the rest are counted).
const WARNINGS: usize = 16;

/// What a lookup asks the reading thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Request {
    Holder(Holder),
    Leader(u32),
}

/// What the caller and the reading thread share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// The file or directory being read now (named when a read does not come back).
    reading: Mutex<Option<PathBuf>>,
    /// The caller stopped waiting: the thread ends after what it is doing.
    cancel: AtomicBool,
    warnings: Mutex<Warnings>,
}

#[derive(Debug, Default)]
struct Warnings {
    kept: Vec<String>,
    keys: HashSet<String>,
    more: usize,
}

impl Shared {
    /// Records a warning once per `key`.
    pub(super) fn warn(&self, key: &str, message: String) {
        let Ok(mut w) = self.warnings.lock() else {
            return;
        };
        if !w.keys.insert(key.to_string()) {
            return;
        }
        if w.kept.len() < WARNINGS {
            w.kept.push(format!("container names: {message}"));
        } else {
            w.more += 1;
        }
    }

    /// A file or directory that could not be used, named in the warning (once per path).
    pub(super) fn warn_file(&self, path: &Path, err: impl std::fmt::Display) {
        self.warn(
            &path.display().to_string(),
            format!("{}: {err}", path.display()),
        );
    }

    /// The warnings kept, then how many more there were.
    pub(super) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(w) = self.warnings.lock() {
            out.extend(w.kept.iter().cloned());
            if w.more > 0 {
                out.push(format!("container names: {} more warnings", w.more));
            }
        }
        out
    }

    pub(super) fn set_reading(&self, path: Option<&Path>) {
        if let Ok(mut r) = self.reading.lock() {
            *r = path.map(Path::to_path_buf);
        }
    }

    pub(super) fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The two ends of the channels to the reading thread.
pub(super) struct Worker {
    requests: mpsc::Sender<(u64, Request)>,
    replies: mpsc::Receiver<(u64, Option<ContainerInfo>)>,
}

impl Containers {
    /// The answer kept for `request`, or the reading thread's, waited for within the limits.
    pub(super) fn ask(&mut self, request: Request, deadline: &Deadline) -> Option<ContainerInfo> {
        if let Some(known) = self.cache.get(&request) {
            return known.clone();
        }
        if self.gave_up.is_some() {
            return None;
        }
        if deadline.passed() || (self.started && self.worker.is_none()) {
            self.skip(deadline);
            return None;
        }
        if !self.started {
            self.start();
        }
        self.sequence += 1;
        let sequence = self.sequence;
        let sent = self
            .worker
            .as_ref()
            .map(|w| w.requests.send((sequence, request.clone())).is_ok());
        if sent != Some(true) {
            if self.gave_up.is_none() {
                self.stop("the reading thread is gone; holders show without names".to_string());
            }
            return None;
        }
        let began = Instant::now();
        let limit = self.timeout.min(self.budget.saturating_sub(self.waited));
        loop {
            let Some(worker) = &self.worker else {
                return None;
            };
            let wait = limit.saturating_sub(began.elapsed()).min(TICK);
            match worker.replies.recv_timeout(wait) {
                Ok((seq, answer)) if seq == sequence => {
                    self.waited += began.elapsed();
                    self.cache.insert(request, answer.clone());
                    return answer;
                }
                Ok(_) => continue, // an answer to a question given up on
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.stop(
                        "the reading thread ended early; holders show without names".to_string(),
                    );
                    return None;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if deadline.passed() {
                self.waited += began.elapsed();
                self.skip(deadline);
                self.cancel();
                return None;
            }
            if began.elapsed() >= limit {
                self.waited += began.elapsed();
                let why = if limit < self.timeout {
                    format!(
                        "reading the runtimes' state files took more than {} in all",
                        humantime::format_duration(self.budget)
                    )
                } else {
                    let reading = self.shared.reading.lock().ok().and_then(|r| r.clone());
                    match reading {
                        Some(path) => format!(
                            "reading {} did not finish within {}",
                            path.display(),
                            humantime::format_duration(self.timeout)
                        ),
                        None => format!(
                            "the state files did not answer within {}",
                            humantime::format_duration(self.timeout)
                        ),
                    }
                };
                self.stop(format!("{why}; the other holders show without names"));
                return None;
            }
        }
    }

    fn skip(&mut self, deadline: &Deadline) {
        self.skipped += 1;
        self.skipped_why.get_or_insert_with(|| deadline.reason());
    }

    fn start(&mut self) {
        self.started = true;
        let (requests, inbox) = mpsc::channel::<(u64, Request)>();
        let (outbox, replies) = mpsc::channel();
        let mut store = Store::new(self.root.clone(), self.shared.clone());
        let spawned = std::thread::Builder::new()
            .name("container-names".to_string())
            .spawn(move || {
                for (sequence, request) in inbox {
                    if store.shared.cancelled() {
                        break;
                    }
                    let answer = match &request {
                        Request::Holder(holder) => store.resolve(holder),
                        Request::Leader(pid) => store.by_leader(*pid),
                    };
                    store.shared.set_reading(None);
                    if outbox.send((sequence, answer)).is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(_) => self.worker = Some(Worker { requests, replies }),
            Err(err) => {
                self.gave_up = Some(format!(
                    "container names: no thread to read the state files ({err}); holders show without names"
                ))
            }
        }
    }

    pub(super) fn cancel(&mut self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
        // Dropping the sender ends the thread's loop once it is free.
        self.worker = None;
    }

    fn stop(&mut self, why: String) {
        self.gave_up = Some(format!("container names: {why}"));
        self.cancel();
    }
}
