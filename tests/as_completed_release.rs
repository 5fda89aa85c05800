//! Issue 17: `as_completed` (and its stream) hold no future they have yielded: once the caller
//! drops a yielded future, its result is freed before the iterator ends (CPython's issue
//! 14406). Checked with results that count their drops, for futures done before the call and
//! for those that complete while it iterates.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use betterconcurrent::{as_completed, as_completed_async, Future, ThreadPoolExecutor};
use common::DropCount;
use futures::StreamExt;

const N: usize = 8;

/// Wait (a generous deadline) until `drops` reaches `expected`: the worker that completed a
/// future may still be dropping its own handle to the task's cell, so the last drop can come a
/// moment after the caller's.
fn drops_reach(drops: &AtomicUsize, expected: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while drops.load(Ordering::SeqCst) < expected {
        assert!(
            Instant::now() < deadline,
            "{what}: a yielded result is still held"
        );
        std::thread::yield_now();
    }
}

/// `N` tasks, each returning a `DropCount`, held back until the returned sender is dropped.
fn gated_tasks(
    pool: &ThreadPoolExecutor,
    drops: &Arc<AtomicUsize>,
) -> (mpsc::Sender<()>, Vec<Future<DropCount>>) {
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(released));
    let futures = (0..N)
        .map(|_| {
            let (drops, released) = (drops.clone(), released.clone());
            pool.submit(move || {
                // Every task ends once the sender is gone.
                let _ = released.lock().unwrap().recv();
                DropCount(drops)
            })
            .unwrap()
        })
        .collect();
    (release, futures)
}

#[test]
fn as_completed_frees_each_yielded_result_before_it_ends() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (release, futures) = gated_tasks(&pool, &drops);
    let completions = as_completed(&futures, None);
    // The iterator's clones are the only handles left.
    drop(futures);
    drop(release);
    let mut yielded = 0;
    for future in completions {
        let future = future.unwrap();
        assert!(future.done());
        drop(future);
        yielded += 1;
        drops_reach(&drops, yielded, "as_completed");
    }
    assert_eq!(yielded, N);
}

#[test]
fn as_completed_frees_futures_done_before_the_call_as_it_yields_them() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (release, futures) = gated_tasks(&pool, &drops);
    drop(release);
    for future in &futures {
        future.result().unwrap();
    }
    let completions = as_completed(&futures, None);
    drop(futures);
    let mut yielded = 0;
    for future in completions {
        drop(future.unwrap());
        yielded += 1;
        drops_reach(&drops, yielded, "as_completed over done futures");
    }
    assert_eq!(yielded, N);
}

#[test]
fn the_async_stream_frees_each_yielded_result_before_it_ends() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (release, futures) = gated_tasks(&pool, &drops);
    let mut completions = as_completed_async(&futures, None);
    drop(futures);
    drop(release);
    // Polled by the test thread (any executor drives the stream).
    let yielded = futures::executor::block_on(async {
        let mut yielded = 0;
        while let Some(future) = completions.next().await {
            drop(future.unwrap());
            yielded += 1;
            drops_reach(&drops, yielded, "as_completed_async");
        }
        yielded
    });
    assert_eq!(yielded, N);
}
