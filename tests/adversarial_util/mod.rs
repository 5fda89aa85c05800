//! Helpers for the adversarial tests.
#![allow(dead_code)]
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::Duration;

use betterconcurrent::{block_until_done, Future, ThreadPoolExecutor};

pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn pool(workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder().max_workers(workers).build().unwrap()
}

/// Run `work` on its own thread; None if it did not finish within PATIENCE.
pub fn within<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    within_for(PATIENCE, work)
}

pub fn within_for<T: Send + 'static>(d: Duration, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result.recv_timeout(d).ok()
}

/// Occupy `workers` threads until the sender is dropped.
pub fn block_workers(pool: &ThreadPoolExecutor, workers: usize) -> (mpsc::Sender<()>, Vec<Future<()>>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let started = Arc::new(Barrier::new(workers + 1));
    let blockers = (0..workers)
        .map(|_| {
            let release_rx = release_rx.clone();
            let started = started.clone();
            pool.submit(move || {
                started.wait();
                let _ = release_rx.lock().unwrap().recv_timeout(PATIENCE);
            })
            .unwrap()
        })
        .collect();
    started.wait();
    (release_tx, blockers)
}

pub fn started_idle_pool(workers: usize) -> ThreadPoolExecutor {
    let pool = pool(workers);
    let (release, blockers) = block_workers(&pool, workers);
    drop(release);
    assert!(block_until_done(&blockers, Some(PATIENCE)));
    pool.wait_idle().unwrap();
    pool
}

/// Counts drops.
pub struct DropCount(pub Arc<std::sync::atomic::AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
