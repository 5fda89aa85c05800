//! Adversarial: shutdown(cancel_futures = true) with async tasks in every state, racing the
//! registration of tasks at their first suspension.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::DropCount;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{block_until_done, Error, Future, ThreadPoolExecutor};

const T: Duration = Duration::from_secs(15);

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(n)
        .build()
        .unwrap()
}

fn ended<T>(fs: &[Future<T>]) {
    assert!(block_until_done(fs, Some(T)), "some future never ended");
}

fn cancelled<T>(f: &Future<T>) -> bool {
    matches!(f.try_result(), Some(Err(Error::Cancelled)))
}

fn done_or_cancelled<T>(f: &Future<T>) -> bool {
    matches!(f.try_result(), Some(Ok(_)) | Some(Err(Error::Cancelled)))
}

/// Every state at once on a 3-worker pool: one worker blocked in a closure, one in the first
/// poll of an async body that awaits (after shutdown closed the pool) a future nobody
/// completes, one running tasks that yield forever; tasks queued never polled; tasks suspended
/// on a never-completed future; tasks that suspended many times; two tasks awaiting each other.
/// shutdown(true, true) must return, every never-ending future end Cancelled, every body be
/// dropped exactly once.
#[test]
fn shutdown_cancel_with_async_tasks_in_every_state() {
    within(90, || {
        for round in 0..20 {
            let pool = pool(3);
            let ex = pool.executor();
            let drops = Arc::new(AtomicUsize::new(0));
            let mut bodies = 0usize;
            let never = Future::<u32>::new();
            let mut never_ending: Vec<Future<u32>> = Vec::new();
            let suspending = Arc::new(AtomicUsize::new(0));
            let all_suspending = Future::<()>::new();
            const SUSPENDERS: usize = 50 + 20 + 2;
            let arrive = {
                let (s, a) = (suspending.clone(), all_suspending.clone());
                move || {
                    if s.fetch_add(1, Ordering::SeqCst) + 1 == SUSPENDERS {
                        a.set_result(()).unwrap();
                    }
                }
            };

            // Suspended once on `never`.
            for _ in 0..50 {
                let (n, d, arrive) = (never.clone(), DropCount(drops.clone()), arrive.clone());
                bodies += 1;
                never_ending.push(
                    pool.submit_async(async move {
                        let _d = d;
                        arrive();
                        *(&n).await.unwrap()
                    })
                    .unwrap(),
                );
            }
            // Suspended many times on gates the main thread opens, then on `never`.
            let gates: Vec<Future<()>> = (0..5).map(|_| Future::new()).collect();
            for _ in 0..20 {
                let (g, n, d) = (gates.clone(), never.clone(), DropCount(drops.clone()));
                let arrive = arrive.clone();
                bodies += 1;
                never_ending.push(
                    pool.submit_async(async move {
                        let _d = d;
                        for g in &g {
                            (g).await.unwrap();
                            common::yield_now().await;
                        }
                        arrive();
                        *(&n).await.unwrap()
                    })
                    .unwrap(),
                );
            }
            // Two tasks awaiting each other.
            let slot_a: Arc<Mutex<Option<Future<u32>>>> = Arc::default();
            let slot_b: Arc<Mutex<Option<Future<u32>>>> = Arc::default();
            let ready = Future::<()>::new();
            for theirs in [slot_b.clone(), slot_a.clone()] {
                let (r, d, arrive) = (ready.clone(), DropCount(drops.clone()), arrive.clone());
                bodies += 1;
                let f = pool
                    .submit_async(async move {
                        let _d = d;
                        (&r).await.unwrap();
                        let other = theirs.lock().unwrap().take().unwrap();
                        arrive();
                        *(&other).await.unwrap() + 1
                    })
                    .unwrap();
                never_ending.push(f);
            }
            *slot_a.lock().unwrap() = Some(never_ending[never_ending.len() - 2].clone());
            *slot_b.lock().unwrap() = Some(never_ending[never_ending.len() - 1].clone());
            ready.set_result(()).unwrap();
            for g in &gates {
                g.set_result(()).unwrap();
            }
            all_suspending.result_timeout(T).unwrap();

            // Occupy the workers: a closure blocked on a channel, an async body in its first
            // poll that waits (outside the pool's view) until the pool is closed, then awaits
            // `never`, and tasks yielding forever.
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let s1 = started_tx.clone();
            let blocker = pool
                .submit(move || {
                    s1.send(()).unwrap();
                    release_rx.recv_timeout(T).unwrap();
                })
                .unwrap();
            started_rx.recv_timeout(T).unwrap();
            let (n, d, ex2, s2) = (
                never.clone(),
                DropCount(drops.clone()),
                ex.clone(),
                started_tx.clone(),
            );
            bodies += 1;
            let first_poll = pool
                .submit_async(async move {
                    let _d = d;
                    s2.send(()).unwrap();
                    // Spin until shutdown closed the pool (a refused submit says so).
                    while ex2.submit(|| ()).is_ok() {
                        std::thread::yield_now();
                    }
                    *(&n).await.unwrap()
                })
                .unwrap();
            started_rx.recv_timeout(T).unwrap();
            for _ in 0..4 {
                let (d, s3) = (DropCount(drops.clone()), started_tx.clone());
                bodies += 1;
                never_ending.push(
                    pool.submit_async(async move {
                        let _d = d;
                        let _ = s3.send(());
                        loop {
                            common::yield_now().await;
                        }
                    })
                    .unwrap(),
                );
            }
            started_rx.recv_timeout(T).unwrap();
            // Queued, maybe never polled, closures and async bodies.
            let mut queued_async = Vec::new();
            let mut queued_closures = Vec::new();
            for i in 0..30u32 {
                let d = DropCount(drops.clone());
                bodies += 1;
                queued_async.push(
                    pool.submit_async(async move {
                        let _d = d;
                        i
                    })
                    .unwrap(),
                );
                let d = DropCount(drops.clone());
                bodies += 1;
                queued_closures.push(
                    pool.submit(move || {
                        let _d = d;
                        i
                    })
                    .unwrap(),
                );
            }
            // A releaser: once the pool is closed, let the blocked closure finish.
            let ex3 = ex.clone();
            let releaser = std::thread::spawn(move || {
                while ex3.submit(|| ()).is_ok() {
                    std::thread::yield_now();
                }
                release_tx.send(()).unwrap();
            });
            pool.shutdown(true, true);
            releaser.join().unwrap();

            ended(&never_ending);
            for (i, f) in never_ending.iter().enumerate() {
                assert!(
                    cancelled(f),
                    "round {round}: never-ending task {i}: {:?}",
                    f.try_result().map(|r| r.copied())
                );
            }
            assert!(
                cancelled(&first_poll),
                "round {round}: first-poll task not cancelled"
            );
            blocker.result_timeout(T).unwrap();
            assert!(queued_async.iter().all(done_or_cancelled));
            assert!(queued_closures.iter().all(done_or_cancelled));
            assert_eq!(pool.stats().tasks_outstanding, 0);
            drop((never_ending, queued_async, queued_closures, first_poll));
            drop(pool);
            assert_eq!(drops.load(Ordering::SeqCst), bodies, "round {round}");
        }
    });
}

/// A fresh pool, tasks submitted and shut down at once with no synchronisation: the walk races
/// tasks in their first poll (registering at the first Pending). Every task must end cancelled
/// or completed; the ones awaiting `never` cancelled; each body dropped once; no hang.
fn race_first_poll(workers: usize, wait: bool) {
    for round in 0..300 {
        let pool = pool(workers);
        let never = Future::<()>::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let n_tasks = 1 + round % 7;
        let fs: Vec<_> = (0..n_tasks)
            .map(|i| {
                let (n, d) = (never.clone(), DropCount(drops.clone()));
                pool.submit_async(async move {
                    let _d = d;
                    if i % 3 == 1 {
                        common::yield_now().await;
                    }
                    (&n).await.unwrap();
                })
                .unwrap()
            })
            .collect();
        pool.shutdown(wait, true);
        let mut pool = Some(pool);
        if !wait {
            drop(pool.take());
        }
        ended(&fs);
        for f in &fs {
            assert!(cancelled(f), "round {round}");
        }
        drop(pool);
        assert_eq!(drops.load(Ordering::SeqCst), n_tasks, "round {round}");
    }
}

#[test]
fn shutdown_cancel_races_first_polls_one_worker() {
    within(60, || race_first_poll(1, true));
}

#[test]
fn shutdown_cancel_races_first_polls_two_workers() {
    within(60, || race_first_poll(2, true));
}

#[test]
fn shutdown_cancel_nowait_then_drop_races_first_polls() {
    within(60, || race_first_poll(3, false));
}

/// Suspended tasks, then a shutdown(false, false) (they stay), then shutdown(true, true) from
/// another thread while a third thread joins: all return, all tasks cancelled.
#[test]
fn plain_shutdown_then_cancel_shutdown_while_joining() {
    within(60, || {
        for _ in 0..50 {
            let pool = Arc::new(pool(2));
            let never = Future::<()>::new();
            let fs: Vec<_> = (0..20)
                .map(|_| {
                    let n = never.clone();
                    pool.submit_async(async move {
                        (&n).await.unwrap();
                    })
                    .unwrap()
                })
                .collect();
            pool.shutdown(false, false);
            assert!(pool.submit(|| ()).is_err());
            let p = pool.clone();
            let joiner = std::thread::spawn(move || p.join());
            let p = pool.clone();
            let canceller = std::thread::spawn(move || p.shutdown(true, true));
            canceller.join().unwrap();
            joiner.join().unwrap().unwrap();
            ended(&fs);
            assert!(fs.iter().all(cancelled));
            pool.join().unwrap();
        }
    });
}

/// Many pools at once, each with tasks awaiting tasks of the next pool, all shut down with
/// cancel from different threads at once.
#[test]
fn many_pools_awaiting_each_other_shut_down_concurrently() {
    within(60, || {
        for _ in 0..10 {
            let pools: Vec<Arc<ThreadPoolExecutor>> =
                (0..6).map(|i| Arc::new(pool(1 + i % 3))).collect();
            let never = Future::<u32>::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let mut all = Vec::new();
            let mut prev: Option<Future<u32>> = None;
            for p in &pools {
                for _ in 0..10 {
                    let awaited = prev.clone().unwrap_or_else(|| never.clone());
                    let d = DropCount(drops.clone());
                    let f = p
                        .submit_async(async move {
                            let _d = d;
                            match (&awaited).await {
                                Ok(v) => *v + 1,
                                Err(_) => 0,
                            }
                        })
                        .unwrap();
                    all.push(f.clone());
                    prev = Some(f);
                }
            }
            let threads: Vec<_> = pools
                .iter()
                .rev()
                .map(|p| {
                    let p = p.clone();
                    std::thread::spawn(move || p.shutdown(true, true))
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            ended(&all);
            assert!(all.iter().all(done_or_cancelled));
            drop(all);
            drop(prev);
            drop(pools);
            assert_eq!(drops.load(Ordering::SeqCst), 60);
        }
    });
}
