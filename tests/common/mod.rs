//! Helpers shared by the integration tests: building small pools and occupying their workers.
// Each test file uses the helpers it needs; the others would warn as unused there.
#![allow(dead_code)]

pub mod counting_allocator;
pub mod dump;
pub mod ledger;
pub mod watchdog;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};

use betterconcurrent::{Executor, Future, ThreadPoolExecutor};

/// A pool of at most `workers` threads.
pub fn pool(workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(workers)
        .build()
        .unwrap()
}

/// Occupy `workers` threads of `pool` (started: this returns once each is running) until the
/// returned sender is dropped, or sent to once per worker to release.
pub fn block_workers(
    pool: &ThreadPoolExecutor,
    workers: usize,
) -> (mpsc::Sender<()>, Vec<Future<()>>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let started = Arc::new(Barrier::new(workers + 1));
    let blockers = (0..workers)
        .map(|_| {
            let release_rx = release_rx.clone();
            let started = started.clone();
            pool.submit(move || {
                started.wait();
                let _ = release_rx.lock().unwrap().recv();
            })
            .unwrap()
        })
        .collect();
    started.wait();
    (release_tx, blockers)
}

/// Counts its drops in the shared counter: a test's way to see that every captured value is
/// dropped exactly once.
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Suspend once, having woken itself, so the task goes back to its queue (behind what is
/// queued there): an async task's `yield`.
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// See [`yield_now`].
pub struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

/// Whether the code running here is a task of `group` (or of a descendant): only then is a
/// join from here refused as a self-wait.
pub fn in_group(group: &betterconcurrent::TaskGroup) -> bool {
    matches!(
        group.join_timeout(std::time::Duration::ZERO),
        Err(betterconcurrent::Error::WouldDeadlock)
    )
}

/// Submit to `executor` an async task that holds `kept` and stays suspended until it is aborted
/// (it awaits a future nothing completes); returns its future once the task has reached that
/// `.await`.
pub fn submit_suspended<K: Send + 'static>(
    executor: &betterconcurrent::Executor,
    kept: K,
) -> Future<()> {
    let never = Future::<()>::new();
    let (reached_tx, reached_rx) = mpsc::channel();
    let future = executor
        .submit_async(async move {
            let _kept = kept;
            reached_tx.send(()).unwrap();
            let _ = (&never).await;
        })
        .unwrap();
    reached_rx.recv().unwrap();
    future
}

/// A chain of `n + 1` async tasks, each awaiting the next (the W4 benchmark's shape); the root's
/// future gives `n`.
pub fn await_chain(executor: Executor, n: u64) -> Future<u64> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if n == 0 {
                return 0;
            }
            let next = await_chain(executor, n - 1);
            (&next).await.unwrap() + 1
        })
        .unwrap()
}
