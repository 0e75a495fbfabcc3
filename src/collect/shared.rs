//! Work shared by two threads: this one and, when there is enough of it and a thread can be
//! started, one more (a host out of threads does it all here). Each takes the next item not
//! yet taken, so a slow item holds up one thread, not the other's share. Two at most: the
//! host is short of CPU already, and the work is system calls on /proc.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` of every item, in the items' order; `None` for the items not taken because `stop`
/// said so first. A second thread helps from `shared_from` items on.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    shared_from: usize,
    stop: impl Fn() -> bool + Sync,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<Option<R>> {
    let next = AtomicUsize::new(0);
    let part = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(at) else {
                break;
            };
            if stop() {
                break;
            }
            done.push((at, work(item)));
        }
        done
    };
    let (mine, theirs) = std::thread::scope(|scope| {
        let helper = (items.len() >= shared_from)
            .then(|| {
                std::thread::Builder::new()
                    .name("stuckconn-proc".to_string())
                    .spawn_scoped(scope, part)
                    .ok()
            })
            .flatten();
        let mine = part();
        let theirs = helper.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (mine, theirs)
    });
    let mut all: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (at, done) in mine.into_iter().chain(theirs.into_iter().flatten()) {
        all[at] = Some(done);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn every_item_is_done_once_in_order_on_two_threads() {
        let items: Vec<u32> = (0..1000).collect();
        let threads = std::sync::Mutex::new(std::collections::HashSet::new());
        let done = map(
            &items,
            10,
            || false,
            |&i| {
                threads.lock().unwrap().insert(std::thread::current().id());
                // Long enough that the second thread gets some.
                std::thread::sleep(std::time::Duration::from_micros(50));
                i * 2
            },
        );
        assert_eq!(done, items.iter().map(|i| Some(i * 2)).collect::<Vec<_>>());
        assert_eq!(threads.lock().unwrap().len(), 2, "both threads worked");
    }

    #[test]
    fn few_items_are_done_here_and_a_stop_leaves_the_rest_undone() {
        let here = std::thread::current().id();
        let done = map(
            &[1, 2, 3],
            10,
            || false,
            |&i| {
                assert_eq!(std::thread::current().id(), here);
                i
            },
        );
        assert_eq!(done, [Some(1), Some(2), Some(3)]);
        let stop = AtomicBool::new(false);
        let items: Vec<u32> = (0..100).collect();
        let done = map(
            &items,
            10,
            || stop.load(Ordering::Relaxed),
            |&i| {
                if i == 20 {
                    stop.store(true, Ordering::Relaxed);
                }
                // An item after 20 is not done before 20 said stop (however the two threads
                // are scheduled), so what follows the stop is bounded.
                let began = std::time::Instant::now();
                while i > 20
                    && !stop.load(Ordering::Relaxed)
                    && began.elapsed() < std::time::Duration::from_secs(5)
                {
                    std::thread::yield_now();
                }
                i
            },
        );
        // Item 20 said stop: each thread finishes at most the item in its hand, and one taken
        // just before it may be left.
        let taken = done.iter().filter(|d| d.is_some()).count();
        assert!((20..=22).contains(&taken), "{taken} taken");
        assert!(done[..20].iter().filter(|d| d.is_none()).count() <= 1);
        assert!(done[22..].iter().all(Option::is_none));
    }
}
