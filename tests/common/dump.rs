//! Helpers of the dump's tests (`tests/dump.rs`, `tests/dump_review_*.rs`): a pool that aborts
//! what is left when dropped (a wait-for cycle never ends by itself), one whose stuck reports
//! go to a channel, dumping until a condition holds, and building wait-for cycles.

use std::time::{Duration, Instant};

use betterconcurrent::executor::TaskPhase;
use betterconcurrent::{Dump, Future, ThreadPoolExecutor};

/// A pool whose drop first aborts what is left, so a failing test cannot hang in the drop.
pub struct AbortOnDrop(pub ThreadPoolExecutor);

impl std::ops::Deref for AbortOnDrop {
    type Target = ThreadPoolExecutor;
    fn deref(&self) -> &ThreadPoolExecutor {
        &self.0
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.shutdown(true, true);
    }
}

/// A pool of `workers` whose `on_stuck` reports go to the returned channel, each as `report`
/// makes it of the dump (the dump itself, or with the moment it came).
pub fn reporting_pool<R: Send + 'static>(
    workers: usize,
    report: fn(&Dump) -> R,
) -> (AbortOnDrop, std::sync::mpsc::Receiver<R>) {
    let (reports, reported) = std::sync::mpsc::channel();
    let reports = std::sync::Mutex::new(reports);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(workers)
        .on_stuck(move |dump| {
            let _ = reports.lock().unwrap().send(report(dump));
        })
        .build()
        .unwrap();
    (AbortOnDrop(pool), reported)
}

/// Dumps until `ready` holds, failing after 10 s.
pub fn dump_when(pool: &ThreadPoolExecutor, ready: impl Fn(&Dump) -> bool) -> Dump {
    let start = Instant::now();
    loop {
        let dump = pool.dump();
        if ready(&dump) {
            return dump;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never reached:\n{dump}"
        );
        std::thread::yield_now();
    }
}

pub fn suspended(dump: &Dump, count: usize) -> bool {
    dump.tasks()
        .iter()
        .filter(|task| task.phase() == TaskPhase::Suspended)
        .count()
        == count
}

/// `n` async tasks, task `i` awaiting task `(i + 1) % n`.
pub fn cycle(pool: &ThreadPoolExecutor, n: usize) -> Vec<Future<u32>> {
    let slots: Vec<Future<Future<u32>>> = (0..n).map(|_| Future::new()).collect();
    let tasks: Vec<Future<u32>> = (0..n)
        .map(|i| {
            let slot = slots[(i + 1) % n].clone();
            pool.submit_async(async move {
                let next = (&slot).await.unwrap().clone();
                drop(slot);
                *(&next).await.unwrap() + 1
            })
            .unwrap()
        })
        .collect();
    for (slot, task) in slots.iter().zip(&tasks) {
        slot.set_result(task.clone()).unwrap();
    }
    tasks
}

pub fn ids(tasks: &[Future<u32>]) -> Vec<usize> {
    tasks.iter().map(Future::id).collect()
}

pub fn rotated_to_min(mut ids: Vec<usize>) -> Vec<usize> {
    let min = (0..ids.len()).min_by_key(|&i| ids[i]).unwrap();
    ids.rotate_left(min);
    ids
}
