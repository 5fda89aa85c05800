//! a pool that breaks while it has work in flight, and blocking waits inside async
//! bodies around a cancelling shutdown. Every wait is bounded; bodies run under a watchdog.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{block_until_done, Error, Future, SubmitError, ThreadPoolExecutor};

const T: Duration = Duration::from_secs(10);

/// A 2-worker pool whose initializer succeeds on the first thread and fails on the second
/// (breaking the pool); the receiver hears when the second one has failed.
fn pool_whose_second_thread_fails_to_initialize() -> (ThreadPoolExecutor, mpsc::Receiver<()>) {
    let calls = AtomicUsize::new(0);
    let (refused_tx, refused_rx) = mpsc::channel::<()>();
    let refused_tx = Mutex::new(refused_tx);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(move || {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Ok(())
            } else {
                let _ = refused_tx.lock().unwrap().send(());
                Err("second thread refused")
            }
        })
        .build()
        .unwrap();
    (pool, refused_rx)
}

/// The initializer succeeds on the first thread and fails on the second: the pool breaks with
/// async tasks suspended on the first. Woken later, they end with BrokenExecutor; join returns.
#[test]
fn a_pool_breaking_with_suspended_tasks_fails_them_when_woken() {
    within(20, || {
        for _ in 0..20 {
            let (pool, refused_rx) = pool_whose_second_thread_fails_to_initialize();
            let gate = Future::<u32>::new();
            let all_polled = Future::<()>::new();
            let polled = Arc::new(AtomicUsize::new(0));
            let fs: Vec<_> = (0..20)
                .filter_map(|_| {
                    let (g, a, p) = (gate.clone(), all_polled.clone(), polled.clone());
                    pool.submit_async(async move {
                        if p.fetch_add(1, Ordering::SeqCst) == 19 {
                            let _ = a.set_result(());
                        }
                        *(&g).await.unwrap() + 1
                    })
                    .ok()
                })
                .collect();
            // Unless the pool broke already, let every task suspend on the first thread: all
            // polled, and no poll still in progress (a poll that started before the break may
            // legitimately finish with a value).
            if all_polled
                .result_timeout(Duration::from_millis(500))
                .is_ok()
            {
                let deadline = std::time::Instant::now() + T;
                while pool.stats().tasks_running > 0 {
                    assert!(std::time::Instant::now() < deadline, "a poll never ended");
                    std::thread::yield_now();
                }
            }
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let blocker = pool.submit(move || {
                let _ = started_tx.send(());
                let _ = release_rx.recv_timeout(T);
            });
            let _ = started_rx.recv_timeout(Duration::from_secs(2));
            let _ = pool.submit(|| 5u32);
            let _ = pool.submit(|| 5u32);
            // The second thread's initializer has failed; the break follows it.
            refused_rx.recv_timeout(T).unwrap();
            let mut spins = 0;
            while !matches!(pool.submit(|| 1), Err(SubmitError::Broken(_))) {
                spins += 1;
                assert!(spins < 10_000_000, "the pool never broke");
                std::thread::yield_now();
            }
            drop(release_tx);
            if let Ok(b) = &blocker {
                let _ = b.result_timeout(T);
            }
            gate.set_result(1).unwrap();
            assert!(
                block_until_done(&fs, Some(T)),
                "a woken task of a broken pool never ended"
            );
            for f in &fs {
                assert!(
                    matches!(f.try_result(), Some(Err(Error::BrokenExecutor(_)))),
                    "{:?}",
                    f.try_result()
                );
            }
            pool.join_timeout(T).unwrap();
        }
    })
}

/// Same break, but the suspended tasks are never woken: shutdown(true, true) ends them.
#[test]
fn shutdown_cancel_ends_suspended_tasks_of_a_broken_pool() {
    within(20, || {
        for _ in 0..20 {
            let (pool, refused_rx) = pool_whose_second_thread_fails_to_initialize();
            let never = Future::<u32>::new();
            let fs: Vec<_> = (0..20)
                .filter_map(|_| {
                    let n = never.clone();
                    pool.submit_async(async move { *(&n).await.unwrap() }).ok()
                })
                .collect();
            // Make sure the second thread starts (and breaks the pool).
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let blocker = pool.submit(move || {
                let _ = started_tx.send(());
                let _ = release_rx.recv_timeout(T);
            });
            let _ = started_rx.recv_timeout(Duration::from_secs(2));
            let _ = pool.submit(|| 5u32);
            let _ = pool.submit(|| 5u32);
            // The second thread's initializer has failed; the break follows it.
            refused_rx.recv_timeout(T).unwrap();
            let mut spins = 0;
            while !matches!(pool.submit(|| 1), Err(SubmitError::Broken(_))) {
                spins += 1;
                assert!(spins < 10_000_000, "the pool never broke");
                std::thread::yield_now();
            }
            drop(release_tx);
            if let Ok(b) = &blocker {
                let _ = b.result_timeout(T);
            }
            pool.shutdown(true, true);
            for f in &fs {
                assert!(
                    f.done(),
                    "shutdown(true, true) returned with a task pending"
                );
                assert!(
                    matches!(
                        f.try_result(),
                        Some(Err(Error::BrokenExecutor(_) | Error::Cancelled))
                    ),
                    "{:?}",
                    f.try_result()
                );
            }
        }
    })
}

/// An async body, aborted mid-poll, blocks on a closure it had just submitted (still in its
/// worker's LIFO slot, missed by the drain): the wait must end (cancelled or run) rather than
/// hang, and the pool must stop.
#[test]
fn an_aborted_body_blocking_on_its_own_fresh_subtask_does_not_hang() {
    within(20, || {
        for _ in 0..20 {
            let pool = ThreadPoolExecutor::builder()
                .max_workers(1)
                .build()
                .unwrap();
            let ex = pool.executor();
            let (shut_tx, shut_rx) = mpsc::channel::<()>();
            let (ready_tx, ready_rx) = mpsc::channel::<()>();
            let shut_rx = Mutex::new(shut_rx);
            let ex2 = ex.clone();
            let parent = pool
                .submit_async(async move {
                    let child = ex2.submit(|| 9u32).unwrap();
                    ready_tx.send(()).unwrap();
                    let _ = shut_rx.lock().unwrap().recv_timeout(T);
                    // a blocking wait inside an async body, through the pool's own wait
                    child.result().copied()
                })
                .unwrap();
            ready_rx.recv_timeout(T).unwrap();
            ex.shutdown(false, true);
            shut_tx.send(()).unwrap();
            let r = parent.result_timeout(T);
            assert!(
                matches!(
                    r,
                    Ok(Ok(9)) | Ok(Err(Error::Cancelled)) | Err(Error::Cancelled)
                ),
                "{r:?}"
            );
            within(10, move || drop(pool));
        }
    })
}

/// A 1-worker pool whose only task blocks (timed) on a future of a closure it submitted, while
/// another thread shuts the pool down cancelling: no hang, every future ends.
#[test]
fn blocking_waits_inside_tasks_racing_shutdown_cancel() {
    within(25, || {
        for _ in 0..50 {
            let pool = ThreadPoolExecutor::builder()
                .max_workers(1)
                .build()
                .unwrap();
            let ex = pool.executor();
            let outer: Vec<_> = (0..10)
                .map(|i| {
                    let ex = ex.clone();
                    pool.submit(move || {
                        let kids: Vec<_> = (0..10)
                            .filter_map(|k| ex.submit(move || i + k).ok())
                            .collect();
                        kids.iter()
                            .map(|f| f.result_timeout(T).copied().unwrap_or(0))
                            .sum::<u32>()
                    })
                    .unwrap()
                })
                .collect();
            ex.shutdown(true, true);
            assert!(outer.iter().all(|f| f.done()));
        }
    })
}
