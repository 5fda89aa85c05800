//! Adversarial: nested submits, panics after suspending, shutdown from inside the pool, and
//! blocking waits inside async bodies and closures on a 1-worker pool, all around
//! shutdown(cancel_futures = true) and the registry of suspended tasks.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::DropCount;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{
    block_until_done, Error, Executor, Future, SubmitError, ThreadPoolExecutor,
};

const T: Duration = Duration::from_secs(15);

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(n)
        .build()
        .unwrap()
}

fn ended_ok_or_cancelled<T>(f: &Future<T>) -> bool {
    matches!(f.try_result(), Some(Ok(_)) | Some(Err(Error::Cancelled)))
}

/// An endless async tree: each task submits two children, awaits them, and between the two
/// awaits also awaits `never`. shutdown(true, true) while it grows: returns, every body dropped
/// once (counted against the number of bodies actually created).
#[test]
fn shutdown_cancel_while_a_tree_keeps_submitting_from_suspended_tasks() {
    fn node(
        ex: Executor,
        never: Future<()>,
        made: Arc<AtomicUsize>,
        drops: Arc<AtomicUsize>,
        depth: u32,
    ) -> impl std::future::Future<Output = u32> + Send + 'static {
        made.fetch_add(1, Ordering::SeqCst);
        let d = DropCount(drops.clone());
        async move {
            let _d = d;
            let mut children = Vec::new();
            for _ in 0..2 {
                let body = node(
                    ex.clone(),
                    never.clone(),
                    made.clone(),
                    drops.clone(),
                    depth + 1,
                );
                match ex.submit_async(body) {
                    Ok(f) => children.push(f),
                    Err(SubmitError::Shutdown) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            let mut sum = 0;
            for (i, c) in children.iter().enumerate() {
                if let Ok(v) = c.await {
                    sum += v;
                }
                if i == 0 && depth % 3 == 2 {
                    let _ = (&never).await;
                }
            }
            sum + 1
        }
    }
    within(60, || {
        for workers in [1, 2, 3] {
            for _ in 0..10 {
                let pool = pool(workers);
                let never = Future::<()>::new();
                let made = Arc::new(AtomicUsize::new(0));
                let drops = Arc::new(AtomicUsize::new(0));
                let grown = Future::<()>::new();
                let root = {
                    let (ex, n, m, d, g) = (
                        pool.executor(),
                        never.clone(),
                        made.clone(),
                        drops.clone(),
                        grown.clone(),
                    );
                    pool.submit_async(async move {
                        let sub = ex.submit_async(node(ex.clone(), n, m, d, 0)).unwrap();
                        let _ = g.set_result(());
                        let _ = (&sub).await;
                    })
                    .unwrap()
                };
                grown.result_timeout(T).unwrap();
                pool.shutdown(true, true);
                assert!(block_until_done([&root], Some(T)));
                assert!(ended_ok_or_cancelled(&root));
                drop(root);
                drop(pool);
                // A made body the pool refused was dropped by the refusal: counted too.
                assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
            }
        }
    });
}

/// Bodies that panic after suspending (once, many times), among suspended ones, then a
/// cancelling shutdown: panics are reported as Panicked, the rest cancelled; each body dropped
/// once; the pool's workers survive (a later phase of the same test still runs).
#[test]
fn panicking_bodies_after_suspending_around_shutdown_cancel() {
    within(60, || {
        for _ in 0..30 {
            let pool = pool(2);
            let drops = Arc::new(AtomicUsize::new(0));
            let gate = Future::<()>::new();
            let never = Future::<()>::new();
            let mut panickers = Vec::new();
            let mut sleepers = Vec::new();
            for i in 0..40u32 {
                let (g, d) = (gate.clone(), DropCount(drops.clone()));
                panickers.push(
                    pool.submit_async(async move {
                        let _d = d;
                        for _ in 0..(i % 4) {
                            (&g).await.unwrap();
                        }
                        (&g).await.unwrap();
                        if i % 2 == 0 {
                            panic!("after suspending");
                        }
                        i
                    })
                    .unwrap(),
                );
                let (n, d) = (never.clone(), DropCount(drops.clone()));
                sleepers.push(
                    pool.submit_async(async move {
                        let _d = d;
                        (&n).await.unwrap();
                        0u32
                    })
                    .unwrap(),
                );
            }
            gate.set_result(()).unwrap();
            assert!(block_until_done(&panickers, Some(T)));
            for (i, f) in panickers.iter().enumerate() {
                if i % 2 == 0 {
                    assert!(matches!(f.try_result(), Some(Err(Error::Panicked(_)))));
                } else {
                    assert_eq!(*f.try_result().unwrap().unwrap(), i as u32);
                }
            }
            // The pool still works.
            assert_eq!(*pool.submit(|| 5).unwrap().result_timeout(T).unwrap(), 5);
            pool.shutdown(true, true);
            assert!(sleepers
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
            drop(pool);
            assert_eq!(drops.load(Ordering::SeqCst), 80);
        }
    });
}

/// shutdown(true, true) from inside an async task (in a later poll, after it suspended) and from
/// inside a closure, with many tasks suspended; then join from outside returns, the caller's
/// own task is ended at its next await (cancelled), everything else cancelled.
#[test]
fn shutdown_cancel_from_inside_pool_tasks_then_join() {
    within(60, || {
        for from_async in [true, false] {
            for _ in 0..30 {
                let pool = pool(2);
                let ex = pool.executor();
                let never = Future::<()>::new();
                let drops = Arc::new(AtomicUsize::new(0));
                let sleepers: Vec<_> = (0..30)
                    .map(|_| {
                        let (n, d) = (never.clone(), DropCount(drops.clone()));
                        pool.submit_async(async move {
                            let _d = d;
                            (&n).await.unwrap();
                        })
                        .unwrap()
                    })
                    .collect();
                let gate = Future::<()>::new();
                let caller = if from_async {
                    let (g, n, ex, d) = (
                        gate.clone(),
                        never.clone(),
                        ex.clone(),
                        DropCount(drops.clone()),
                    );
                    pool.submit_async(async move {
                        let _d = d;
                        (&g).await.unwrap();
                        ex.shutdown(true, true);
                        // A nested submit after the shutdown is refused.
                        assert!(ex.submit_async(async {}).is_err());
                        (&n).await.unwrap();
                    })
                    .unwrap()
                } else {
                    let (g, ex, d) = (gate.clone(), ex.clone(), DropCount(drops.clone()));
                    pool.submit(move || {
                        let _d = d;
                        g.result().unwrap();
                        ex.shutdown(true, true);
                        assert!(ex.submit(|| ()).is_err());
                    })
                    .unwrap()
                };
                gate.set_result(()).unwrap();
                assert!(block_until_done([&caller], Some(T)));
                if from_async {
                    assert!(matches!(caller.try_result(), Some(Err(Error::Cancelled))));
                } else {
                    caller.try_result().unwrap().unwrap();
                }
                pool.join().unwrap();
                assert!(sleepers
                    .iter()
                    .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
                drop(pool);
                assert_eq!(drops.load(Ordering::SeqCst), 31);
            }
        }
    });
}

/// 1-worker pool. An async task's *first poll* blocks (library wait, compensated by a spare
/// thread) on the future of a second async task that suspended on `never` (polled by the spare,
/// so registered in the spare's shard). shutdown(true, true) from outside: the walk aborts the
/// second, the first unblocks with Cancelled, then awaits `never` and is aborted by the hook.
/// Also a closure blocked on a third async task's future.
#[test]
fn one_worker_blocking_first_polls_and_closures_around_shutdown_cancel() {
    within(60, || {
        for _ in 0..40 {
            let pool = pool(1);
            let ex = pool.executor();
            let never = Future::<()>::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel::<&'static str>();
            let (ex1, n1, d1, tx1) = (
                ex.clone(),
                never.clone(),
                DropCount(drops.clone()),
                tx.clone(),
            );
            let first = pool
                .submit_async(async move {
                    let _d = d1;
                    let n2 = n1.clone();
                    let inner = ex1
                        .submit_async(async move {
                            (&n2).await.unwrap();
                        })
                        .unwrap();
                    tx1.send("first blocking").unwrap();
                    // Blocking inside an async body's first poll, on the pool's own work.
                    let r = inner.result().map(|_| ());
                    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
                    (&n1).await.unwrap();
                })
                .unwrap();
            let (ex3, n3, d3, tx3) = (
                ex.clone(),
                never.clone(),
                DropCount(drops.clone()),
                tx.clone(),
            );
            let closure = pool
                .submit(move || {
                    let _d = d3;
                    let inner = ex3
                        .submit_async(async move {
                            (&n3).await.unwrap();
                        })
                        .unwrap();
                    tx3.send("closure blocking").unwrap();
                    matches!(inner.result(), Err(Error::Cancelled))
                })
                .unwrap();
            rx.recv_timeout(T).unwrap();
            rx.recv_timeout(T).unwrap();
            pool.shutdown(true, true);
            assert!(
                matches!(first.try_result(), Some(Err(Error::Cancelled))),
                "{:?}",
                first.try_result().map(|r| r.map(|_| ()))
            );
            // The closure either ran (and saw its subtask cancelled) or was cancelled queued.
            match closure.try_result() {
                Some(Ok(saw_cancel)) => assert!(*saw_cancel),
                Some(Err(Error::Cancelled)) => {}
                other => panic!("{other:?}"),
            }
            drop(pool);
            assert_eq!(drops.load(Ordering::SeqCst), 2);
        }
    });
}

/// Many pools, each (but the first) shut down with cancel from a task of *another* pool (a blocking
/// shutdown(wait = true) on a foreign pool thread), while their tasks await each other across
/// pools.
#[test]
fn pools_shutting_each_other_down_from_their_tasks() {
    within(60, || {
        for _ in 0..10 {
            let pools: Vec<ThreadPoolExecutor> = (0..4).map(|i| pool(1 + i % 2)).collect();
            let never = Future::<u32>::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let mut all = Vec::new();
            for (i, p) in pools.iter().enumerate() {
                for _ in 0..10 {
                    let (n, d) = (never.clone(), DropCount(drops.clone()));
                    all.push(
                        p.submit_async(async move {
                            let _d = d;
                            *(&n).await.unwrap()
                        })
                        .unwrap(),
                    );
                }
                let _ = i;
            }
            // Pool i kills pool i + 1 (no cycle: a cycle of waiting shutdowns deadlocks by
            // design); every killer is running before any shutdown starts.
            let all_running = Arc::new(std::sync::Barrier::new(pools.len() - 1));
            let killers: Vec<_> = (0..pools.len() - 1)
                .map(|i| {
                    let victim = pools[i + 1].executor();
                    let b = all_running.clone();
                    pools[i]
                        .submit(move || {
                            b.wait();
                            victim.shutdown(true, true);
                            assert!(victim.submit(|| ()).is_err());
                        })
                        .unwrap()
                })
                .collect();
            for k in &killers {
                assert!(block_until_done([k], Some(T)));
                k.try_result().unwrap().unwrap();
            }
            pools[0].shutdown(true, true);
            assert!(block_until_done(&all, Some(T)));
            assert!(all
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
            drop(all);
            drop(pools);
            assert_eq!(drops.load(Ordering::SeqCst), 40);
        }
    });
}

/// Destructors of cancelled suspended bodies submit to their own pool (refused) and to another
/// pool (accepted and run), wake other suspended tasks, and complete futures others await.
#[test]
fn destructors_of_aborted_bodies_submit_and_wake() {
    struct OnDrop(Box<dyn FnMut() + Send>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    within(60, || {
        for _ in 0..30 {
            let other = pool(1);
            let pool = pool(2);
            let never = Future::<()>::new();
            let ran_elsewhere = Arc::new(AtomicUsize::new(0));
            let refused = Arc::new(AtomicUsize::new(0));
            let chain: Vec<Future<()>> = (0..20).map(|_| Future::new()).collect();
            let mut fs = Vec::new();
            for i in 0..20 {
                let (ex, oex, re, rf) = (
                    pool.executor(),
                    other.executor(),
                    ran_elsewhere.clone(),
                    refused.clone(),
                );
                let next = chain[i].clone();
                let guard = OnDrop(Box::new(move || {
                    if ex.submit(|| ()).is_err() {
                        rf.fetch_add(1, Ordering::SeqCst);
                    }
                    let re = re.clone();
                    oex.submit(move || {
                        re.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                    let _ = next.set_result(());
                }));
                let (n, prev) = (
                    never.clone(),
                    if i > 0 {
                        Some(chain[i - 1].clone())
                    } else {
                        None
                    },
                );
                fs.push(
                    pool.submit_async(async move {
                        let _g = guard;
                        if let Some(p) = prev {
                            (&p).await.unwrap();
                        }
                        (&n).await.unwrap();
                    })
                    .unwrap(),
                );
            }
            pool.shutdown(true, true);
            assert!(fs
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
            assert_eq!(refused.load(Ordering::SeqCst), 20);
            other.join().unwrap();
            assert_eq!(ran_elsewhere.load(Ordering::SeqCst), 20);
            assert!(chain.iter().all(|c| c.done()));
        }
    });
}

/// Bodies whose destructor re-enters shutdown(true, true) on their own pool (and tries join,
/// which must refuse), submitted and shut down at once so that many are aborted by the worker
/// at their first suspension (the hook path), some drained unpolled, some by the walk.
#[test]
fn destructors_of_bodies_aborted_at_their_first_suspension_reenter_shutdown() {
    struct Reenter(Executor, Arc<AtomicUsize>);
    impl Drop for Reenter {
        fn drop(&mut self) {
            self.0.shutdown(true, true);
            assert!(self.0.join().is_err());
            assert!(self.0.submit_async(async {}).is_err());
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    within(60, || {
        for round in 0..200 {
            let pool = pool(1 + round % 3);
            let never = Future::<()>::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let n = 1 + round % 9;
            let fs: Vec<_> = (0..n)
                .map(|_| {
                    let (nv, g) = (never.clone(), Reenter(pool.executor(), drops.clone()));
                    pool.submit_async(async move {
                        let _g = g;
                        (&nv).await.unwrap();
                    })
                    .unwrap()
                })
                .collect();
            pool.shutdown(true, true);
            assert!(fs
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
            assert_eq!(drops.load(Ordering::SeqCst), n, "round {round}");
        }
    });
}
