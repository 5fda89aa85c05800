//! Adversarial odds and ends around the registry of suspended async tasks.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::DropCount;

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use betterconcurrent::{block_until_done, Error, Executor, Future, ThreadPoolExecutor};

const T: Duration = Duration::from_secs(15);

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(n)
        .build()
        .unwrap()
}

/// Publishes its current waker into a shared slot on every poll; ready once `done` is set.
struct Publish(Arc<Mutex<Option<Waker>>>, Arc<AtomicBool>);
impl std::future::Future for Publish {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.1.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.0.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The user finishes a suspended task's own future (set_result) while the task is suspended on
/// something nobody completes. The future is done, but the task is still outstanding; only
/// shutdown(true, true) can end it, and must (its body dropped, shutdown returns, the user's
/// outcome stands).
#[test]
fn a_task_whose_future_the_user_finished_is_still_ended_by_shutdown_cancel() {
    within(30, || {
        for _ in 0..50 {
            let pool = pool(2);
            let never = Future::<u32>::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel::<()>();
            let fs: Vec<_> = (0..10)
                .map(|_| {
                    let (n, d, tx) = (never.clone(), DropCount(drops.clone()), tx.clone());
                    pool.submit_async(async move {
                        let _d = d;
                        tx.send(()).unwrap();
                        *(&n).await.unwrap()
                    })
                    .unwrap()
                })
                .collect();
            for _ in 0..10 {
                rx.recv_timeout(T).unwrap();
            }
            for f in &fs {
                // Running (claimed by the first poll): the user may still finish it.
                let _ = f.set_result(99);
            }
            assert_eq!(drops.load(Ordering::SeqCst), 0);
            pool.shutdown(true, true);
            assert_eq!(drops.load(Ordering::SeqCst), 10);
            for f in &fs {
                assert!(f.done());
            }
            assert_eq!(pool.stats().tasks_outstanding, 0);
        }
    });
}

/// Outside threads wake suspended tasks in a storm (each poll publishes a fresh waker) while
/// shutdown(true, true) walks the registry, on pools with more workers than cores. Every task
/// ends cancelled, each body dropped once, shutdown returns.
#[test]
fn wake_storms_race_the_walk_on_oversubscribed_pools() {
    within(90, || {
        for round in 0..60 {
            let pool = pool(2 + round % 7);
            let drops = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let never_done = Arc::new(AtomicBool::new(false));
            let slots: Vec<Arc<Mutex<Option<Waker>>>> = (0..16).map(|_| Arc::default()).collect();
            let fs: Vec<_> = slots
                .iter()
                .map(|slot| {
                    let (slot, nd, d) =
                        (slot.clone(), never_done.clone(), DropCount(drops.clone()));
                    pool.submit_async(async move {
                        let _d = d;
                        Publish(slot, nd).await;
                    })
                    .unwrap()
                })
                .collect();
            let go = Arc::new(Barrier::new(3));
            let wakers: Vec<_> = (0..2)
                .map(|k| {
                    let (slots, stop, go) = (slots.clone(), stop.clone(), go.clone());
                    std::thread::spawn(move || {
                        go.wait();
                        while !stop.load(Ordering::SeqCst) {
                            for (i, s) in slots.iter().enumerate() {
                                if i % 2 == k {
                                    if let Some(w) = s.lock().unwrap().take() {
                                        w.wake();
                                    }
                                }
                            }
                            std::thread::yield_now();
                        }
                    })
                })
                .collect();
            go.wait();
            pool.shutdown(true, true);
            stop.store(true, Ordering::SeqCst);
            for w in wakers {
                w.join().unwrap();
            }
            assert!(block_until_done(&fs, Some(T)));
            for f in &fs {
                assert!(
                    matches!(f.try_result(), Some(Err(Error::Cancelled))),
                    "round {round}"
                );
            }
            drop(slots);
            assert_eq!(drops.load(Ordering::SeqCst), 16, "round {round}");
        }
    });
}

/// Detached closures (spawn) that submit async tasks that suspend, spawned in a chain, while
/// another thread shuts the pool down with cancel: every async future ends cancelled or
/// completed; no hang; every body created is dropped.
#[test]
fn spawned_closures_submitting_suspending_tasks_during_shutdown_cancel() {
    fn step(
        ex: &Executor,
        never: Future<()>,
        out: Arc<Mutex<Vec<Future<()>>>>,
        made: Arc<AtomicUsize>,
        drops: Arc<AtomicUsize>,
        n: u32,
    ) {
        if n == 0 {
            return;
        }
        made.fetch_add(1, Ordering::SeqCst);
        let (nv, d) = (never.clone(), DropCount(drops.clone()));
        if let Ok(f) = ex.submit_async(async move {
            let _d = d;
            let _ = (&nv).await;
        }) {
            out.lock().unwrap().push(f);
        }
        let _ = ex.spawn(move |ex| step(ex, never, out, made, drops, n - 1));
    }
    within(60, || {
        for _ in 0..30 {
            let pool = pool(2);
            let never = Future::<()>::new();
            let out: Arc<Mutex<Vec<Future<()>>>> = Arc::default();
            let made = Arc::new(AtomicUsize::new(0));
            let drops = Arc::new(AtomicUsize::new(0));
            for _ in 0..4 {
                let (nv, o, m, d) = (never.clone(), out.clone(), made.clone(), drops.clone());
                pool.spawn(move |ex| step(ex, nv, o, m, d, 10_000)).unwrap();
            }
            // Wait until the chains are going.
            let probe = pool.submit(|| ()).unwrap();
            probe.result_timeout(T).unwrap();
            pool.shutdown(true, true);
            let fs = std::mem::take(&mut *out.lock().unwrap());
            assert!(block_until_done(&fs, Some(T)));
            assert!(fs
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
            drop(fs);
            drop(pool);
            assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
        }
    });
}

/// Join racing a cancelling shutdown racing gates being opened: tasks suspend several times on
/// gates opened by a third thread; every future ends (value or Cancelled), join and shutdown
/// both return, each body dropped once.
#[test]
fn join_shutdown_cancel_and_gate_openings_race() {
    within(90, || {
        for round in 0..60 {
            let pool = Arc::new(pool(1 + round % 3));
            let drops = Arc::new(AtomicUsize::new(0));
            let gates: Vec<Future<u32>> = (0..8).map(|_| Future::new()).collect();
            let fs: Vec<_> = (0..40)
                .map(|i| {
                    let (g, d) = (gates.clone(), DropCount(drops.clone()));
                    pool.submit_async(async move {
                        let _d = d;
                        let mut sum = 0;
                        for gate in g.iter().take(1 + i % 8) {
                            sum += *gate.await.unwrap();
                        }
                        sum
                    })
                    .unwrap()
                })
                .collect();
            let go = Arc::new(Barrier::new(3));
            let opener = {
                let (g, go) = (gates.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    for (k, g) in g.iter().enumerate() {
                        g.set_result(k as u32).unwrap();
                    }
                })
            };
            let joiner = {
                let (p, go) = (pool.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    p.join()
                })
            };
            go.wait();
            pool.shutdown(true, true);
            opener.join().unwrap();
            joiner.join().unwrap().unwrap();
            assert!(block_until_done(&fs, Some(T)));
            for (i, f) in fs.iter().enumerate() {
                match f.try_result() {
                    Some(Ok(v)) => assert_eq!(*v, (0..(1 + i as u32 % 8)).sum::<u32>()),
                    Some(Err(Error::Cancelled)) => {}
                    other => panic!("round {round}: {:?}", other.map(|r| r.copied())),
                }
            }
            assert_eq!(drops.load(Ordering::SeqCst), 40, "round {round}");
        }
    });
}
