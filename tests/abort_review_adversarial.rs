//! Review of `Future::abort`: adversarial programs (aborts racing a wake, completion,
//! shutdown(cancel_futures), a group's cancel and the pool's drop; destructors that panic or
//! abort; self-aborts; aborts from done callbacks).
#![cfg(not(feature = "loom"))]

mod common;
use common::submit_suspended;
use common::watchdog::within;
use common::{block_workers, pool, yield_now, DropCount};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};

use betterconcurrent::{Error, Executor, Future, TaskGroup};

/// A slot a task finds its own future in (set after the submit returned).
type Own<T> = Arc<Mutex<Option<Future<T>>>>;

/// Abort racing the wake of what the task awaits: exactly one outcome, one drop, idle pool.
#[test]
fn abort_racing_a_wake_gives_one_outcome() {
    within(120, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        const ROUNDS: usize = 500;
        for round in 0..ROUNDS {
            let gate = Future::<usize>::new();
            let (tx, rx) = mpsc::channel();
            let (kept, g) = (DropCount(drops.clone()), gate.clone());
            let future = pool
                .submit_async(async move {
                    let _kept = kept;
                    tx.send(()).unwrap();
                    let v = *(&g).await.unwrap();
                    yield_now().await;
                    v
                })
                .unwrap();
            rx.recv().unwrap();
            let barrier = Arc::new(Barrier::new(2));
            let (b, f) = (barrier.clone(), future.clone());
            let aborter = std::thread::spawn(move || {
                b.wait();
                f.abort()
            });
            barrier.wait();
            gate.set_result(round).unwrap();
            let landed = aborter.join().unwrap();
            match future.result() {
                Ok(v) => assert_eq!(*v, round),
                Err(Error::Cancelled) => assert!(landed),
                Err(other) => panic!("{other:?}"),
            }
        }
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), ROUNDS);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// Abort racing `shutdown(cancel_futures = true)` for suspended, queued and running tasks:
/// every one ends cancelled (or with its value), once; the shutdown's wait returns.
#[test]
fn abort_racing_shutdown_cancel_futures() {
    within(120, || {
        for _ in 0..30 {
            let pool = pool(2);
            let drops = Arc::new(AtomicUsize::new(0));
            let never = Future::<()>::new();
            let (tx, rx) = mpsc::channel();
            let mut futures = Vec::new();
            for i in 0..40 {
                let (kept, n, tx) = (DropCount(drops.clone()), never.clone(), tx.clone());
                futures.push(
                    pool.submit_async(async move {
                        let _kept = kept;
                        if i < 20 {
                            tx.send(()).unwrap();
                            let _ = (&n).await;
                        } else {
                            yield_now().await;
                        }
                    })
                    .unwrap(),
                );
            }
            for _ in 0..20 {
                rx.recv().unwrap();
            }
            let barrier = Arc::new(Barrier::new(2));
            let (b, fs) = (barrier.clone(), futures.clone());
            let aborter = std::thread::spawn(move || {
                b.wait();
                for f in fs.iter().rev() {
                    f.abort();
                }
            });
            barrier.wait();
            pool.shutdown(true, true);
            aborter.join().unwrap();
            for (i, f) in futures.iter().enumerate() {
                match f.result() {
                    Err(Error::Cancelled) => {}
                    Ok(()) if i >= 20 => {}
                    other => panic!("task {i}: {other:?}"),
                }
            }
            assert_eq!(drops.load(Ordering::SeqCst), 40);
            assert_eq!(pool.stats().tasks_outstanding, 0);
            assert_eq!(never.waiter_count(), 0);
        }
    });
}

/// Abort racing a group's cancel: the group's join returns, each body dropped once.
#[test]
fn abort_racing_group_cancel() {
    within(120, || {
        let pool = pool(2);
        for _ in 0..50 {
            let group = TaskGroup::new(&pool);
            let drops = Arc::new(AtomicUsize::new(0));
            let never = Future::<()>::new();
            let futures: Vec<_> = (0..20)
                .map(|i| {
                    let (kept, n) = (DropCount(drops.clone()), never.clone());
                    group
                        .submit_async(async move {
                            let _kept = kept;
                            if i % 2 == 0 {
                                yield_now().await;
                            }
                            let _ = (&n).await;
                        })
                        .unwrap()
                })
                .collect();
            let barrier = Arc::new(Barrier::new(2));
            let (b, fs) = (barrier.clone(), futures.clone());
            let aborter = std::thread::spawn(move || {
                b.wait();
                fs.iter().filter(|f| f.abort()).count()
            });
            barrier.wait();
            group.cancel();
            aborter.join().unwrap();
            group.join().unwrap();
            for f in &futures {
                assert!(matches!(f.result(), Err(Error::Cancelled)));
            }
            assert_eq!(drops.load(Ordering::SeqCst), 20);
        }
        pool.wait_idle().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// The pool's drop waits for its suspended task; an abort from another thread ends it, so the
/// drop returns.
#[test]
fn abort_unblocks_a_pool_drop_waiting_for_a_suspended_task() {
    within(60, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let future = submit_suspended(&pool, DropCount(drops.clone()));
        let (dropping_tx, dropping_rx) = mpsc::channel();
        let dropper = std::thread::spawn(move || {
            dropping_tx.send(()).unwrap();
            drop(pool);
        });
        dropping_rx.recv().unwrap();
        assert!(future.abort());
        dropper.join().unwrap();
        assert!(matches!(future.result(), Err(Error::Cancelled)));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// The pool's last handle dropped from inside one of its tasks (no wait there) while another
/// task is suspended; aborting that one afterwards still ends it.
#[test]
fn abort_after_the_pool_handle_was_dropped_in_its_own_task() {
    within(60, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let future = submit_suspended(&pool, DropCount(drops.clone()));
        let pool = Arc::new(Mutex::new(Some(pool)));
        let handle = pool.lock().unwrap().as_ref().unwrap().executor();
        let p = pool.clone();
        let dropped = handle
            .submit(move || {
                drop(p.lock().unwrap().take());
            })
            .unwrap();
        dropped.result().unwrap();
        drop(handle);
        assert!(future.abort());
        assert!(matches!(future.result(), Err(Error::Cancelled)));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// A body whose destructor panics, aborted while suspended and while queued: the future ends
/// cancelled, the pool survives and goes idle, stats stay consistent.
#[test]
fn aborting_a_body_whose_destructor_panics() {
    within(60, || {
        struct PanicsOnDrop(Arc<AtomicUsize>);
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
                panic!("destructor panics (expected by the test)");
            }
        }
        let pool = pool(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let suspended = submit_suspended(&pool, PanicsOnDrop(drops.clone()));
        let (release, _blockers) = block_workers(&pool, 1);
        let kept = PanicsOnDrop(drops.clone());
        let queued = pool
            .submit_async(async move {
                let _kept = kept;
            })
            .unwrap();
        assert!(suspended.abort());
        assert!(queued.abort());
        drop(release);
        assert!(matches!(suspended.result(), Err(Error::Cancelled)));
        assert!(matches!(queued.result(), Err(Error::Cancelled)));
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(
            *pool.submit_async(async { 5 }).unwrap().result().unwrap(),
            5
        );
        pool.wait_idle().unwrap();
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0, "{stats:?}");
    });
}

/// Destructors that abort: A's body, dropped by its abort, aborts B, whose body aborts C and
/// itself; each ends once, cancelled; the pool goes idle.
#[test]
fn destructors_that_abort_other_tasks_and_themselves() {
    within(60, || {
        struct AbortsOnDrop(Vec<Own<()>>, Arc<AtomicUsize>);
        impl Drop for AbortsOnDrop {
            fn drop(&mut self) {
                self.1.fetch_add(1, Ordering::SeqCst);
                for slot in &self.0 {
                    if let Some(f) = slot.lock().unwrap().as_ref() {
                        f.abort();
                    }
                }
            }
        }
        for workers in [1, 2] {
            let pool = pool(workers);
            let drops = Arc::new(AtomicUsize::new(0));
            let never = Future::<()>::new();
            let slots: Vec<Own<()>> = (0..3).map(|_| Arc::new(Mutex::new(None))).collect();
            let (tx, rx) = mpsc::channel();
            // A aborts B; B aborts C and itself; C aborts A (already ending) and itself.
            let plans = [
                vec![slots[1].clone()],
                vec![slots[2].clone(), slots[1].clone()],
                vec![slots[0].clone(), slots[2].clone()],
            ];
            let futures: Vec<_> = plans
                .into_iter()
                .map(|plan| {
                    let (kept, n, tx) =
                        (AbortsOnDrop(plan, drops.clone()), never.clone(), tx.clone());
                    pool.submit_async(async move {
                        let _kept = kept;
                        tx.send(()).unwrap();
                        let _ = (&n).await;
                    })
                    .unwrap()
                })
                .collect();
            for (slot, f) in slots.iter().zip(&futures) {
                *slot.lock().unwrap() = Some(f.clone());
            }
            for _ in 0..3 {
                rx.recv().unwrap();
            }
            assert!(futures[0].abort());
            for f in &futures {
                assert!(matches!(f.result(), Err(Error::Cancelled)));
            }
            pool.wait_idle().unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), 3);
            assert_eq!(pool.stats().tasks_outstanding, 0);
            // Break the cycles through the slots.
            for slot in &slots {
                slot.lock().unwrap().take();
            }
        }
    });
}

/// Self-abort via a cloned future, then `Ready` in the same poll: the value stands.
#[test]
fn self_abort_then_ready_keeps_the_value() {
    within(60, || {
        let pool = pool(2);
        let own: Own<u32> = Arc::new(Mutex::new(None));
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let o = own.clone();
        let go_rx = Mutex::new(go_rx);
        let future = pool
            .submit_async(async move {
                go_rx.lock().unwrap().recv().unwrap();
                let me = o.lock().unwrap().take().unwrap();
                assert!(me.abort());
                assert!(me.abort());
                11
            })
            .unwrap();
        *own.lock().unwrap() = Some(future.clone());
        go_tx.send(()).unwrap();
        assert_eq!(*future.result().unwrap(), 11);
        assert!(!future.abort());
        pool.wait_idle().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// Self-abort, then await: nothing after the await runs, whether what it awaits is ready
/// (yield) or never completes; the task is ended, not left suspended.
#[test]
fn self_abort_then_await_ends_the_task() {
    within(60, || {
        let pool = pool(1);
        let never = Future::<()>::new();
        for kind in 0..3 {
            let own: Own<()> = Arc::new(Mutex::new(None));
            let after = Arc::new(AtomicBool::new(false));
            let drops = Arc::new(AtomicUsize::new(0));
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let go_rx = Mutex::new(go_rx);
            let (o, a, n, kept) = (
                own.clone(),
                after.clone(),
                never.clone(),
                DropCount(drops.clone()),
            );
            let future = pool
                .submit_async(async move {
                    let _kept = kept;
                    if kind == 2 {
                        yield_now().await;
                    }
                    go_rx.lock().unwrap().recv().unwrap();
                    let me = o.lock().unwrap().take().unwrap();
                    assert!(me.abort());
                    if kind == 0 {
                        yield_now().await;
                    } else {
                        let _ = (&n).await;
                    }
                    a.store(true, Ordering::SeqCst);
                })
                .unwrap();
            *own.lock().unwrap() = Some(future.clone());
            go_tx.send(()).unwrap();
            assert!(
                matches!(future.result(), Err(Error::Cancelled)),
                "kind {kind}"
            );
            pool.wait_idle().unwrap();
            assert!(!after.load(Ordering::SeqCst), "kind {kind}");
            assert_eq!(drops.load(Ordering::SeqCst), 1, "kind {kind}");
            assert_eq!(pool.stats().tasks_outstanding, 0);
        }
        assert_eq!(never.waiter_count(), 0);
    });
}

/// A task awaiting an aborted task, both aborted at once from two threads, many rounds.
#[test]
fn aborting_a_task_and_the_task_awaiting_it() {
    within(120, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        const ROUNDS: usize = 300;
        for _ in 0..ROUNDS {
            let never = Future::<()>::new();
            let (kept, n) = (DropCount(drops.clone()), never.clone());
            let inner = pool
                .submit_async(async move {
                    let _kept = kept;
                    let _ = (&n).await;
                    1
                })
                .unwrap();
            let (kept, i) = (DropCount(drops.clone()), inner.clone());
            let outer = pool
                .submit_async(async move {
                    let _kept = kept;
                    match (&i).await {
                        Err(Error::Cancelled) => 2,
                        other => panic!("{other:?}"),
                    }
                })
                .unwrap();
            let barrier = Arc::new(Barrier::new(2));
            let (b, o) = (barrier.clone(), outer.clone());
            let t = std::thread::spawn(move || {
                b.wait();
                o.abort()
            });
            barrier.wait();
            assert!(inner.abort());
            t.join().unwrap();
            assert!(matches!(inner.result(), Err(Error::Cancelled)));
            match outer.result() {
                Ok(2) | Err(Error::Cancelled) => {}
                other => panic!("{other:?}"),
            }
        }
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2 * ROUNDS);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// Done callbacks: one of an aborted task aborts another task; one of a finished task, run
/// while the test aborts that task, sees it finished (abort is false); one aborts its own
/// (already ended) task.
#[test]
fn aborts_from_and_during_done_callbacks() {
    within(60, || {
        let pool = pool(2);
        let never = Future::<()>::new();
        let (tx, rx) = mpsc::channel();
        let n = never.clone();
        let tx2 = tx.clone();
        let second = pool
            .submit_async(async move {
                tx2.send(()).unwrap();
                let _ = (&n).await;
            })
            .unwrap();
        let n = never.clone();
        let first = pool
            .submit_async(async move {
                tx.send(()).unwrap();
                let _ = (&n).await;
            })
            .unwrap();
        rx.recv().unwrap();
        rx.recv().unwrap();
        let s = second.clone();
        let (landed_tx, landed_rx) = mpsc::channel();
        first.add_done_callback(move |f| {
            let cancelled = matches!(f.try_result(), Some(Err(Error::Cancelled)));
            let own = f.abort();
            landed_tx.send((cancelled, own, s.abort())).unwrap();
        });
        assert!(first.abort());
        assert!(matches!(second.result(), Err(Error::Cancelled)));
        assert_eq!(
            landed_rx.recv().unwrap(),
            (true, false, true),
            "(cancelled, own abort, abort of the other task)"
        );

        // A finished task whose done callback blocks while the test aborts it.
        let in_callback = Arc::new(Barrier::new(2));
        let aborted = Arc::new(Barrier::new(2));
        let gate = Future::<()>::new();
        let g = gate.clone();
        let finished = pool
            .submit_async(async move {
                let _ = (&g).await;
                9
            })
            .unwrap();
        let (ic, ab) = (in_callback.clone(), aborted.clone());
        finished.add_done_callback(move |_| {
            ic.wait();
            ab.wait();
        });
        gate.set_result(()).unwrap();
        in_callback.wait();
        assert!(!finished.abort(), "its outcome is decided");
        aborted.wait();
        assert_eq!(*finished.result().unwrap(), 9);
        pool.wait_idle().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// A task blocked inside its poll (a blocking wait on a worker) is aborted: it finishes that
/// poll and ends at its next await, and the blocked wait is compensated on a 1-worker pool.
#[test]
fn abort_of_a_task_blocked_in_its_poll() {
    within(60, || {
        let pool = pool(1);
        let gate = Future::<()>::new();
        let (tx, rx) = mpsc::channel();
        let after = Arc::new(AtomicBool::new(false));
        let (g, a) = (gate.clone(), after.clone());
        let future = pool
            .submit_async(async move {
                tx.send(()).unwrap();
                g.result().unwrap();
                yield_now().await;
                a.store(true, Ordering::SeqCst);
            })
            .unwrap();
        rx.recv().unwrap();
        assert!(future.abort());
        gate.set_result(()).unwrap();
        assert!(matches!(future.result(), Err(Error::Cancelled)));
        pool.wait_idle().unwrap();
        assert!(!after.load(Ordering::SeqCst));
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// Abort racing completion on a 1-worker pool with tasks submitted from a task, joined by
/// the pool's join: counts and drops exact.
#[test]
fn abort_racing_completion_inside_the_pool() {
    within(120, || {
        let pool = pool(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let mut kept = 0;
                for i in 0..500usize {
                    let k = DropCount(d.clone());
                    let child = executor
                        .submit_async(async move {
                            let _k = k;
                            for _ in 0..(i % 3) {
                                yield_now().await;
                            }
                            i
                        })
                        .unwrap();
                    if i % 2 == 0 {
                        yield_now().await;
                    }
                    let landed = child.abort();
                    match (&child).await {
                        Ok(v) => {
                            assert_eq!(*v, i);
                            kept += 1;
                        }
                        Err(Error::Cancelled) => assert!(landed),
                        Err(e) => panic!("{e:?}"),
                    }
                }
                kept
            })
            .unwrap();
        parent.result().unwrap();
        pool.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 500);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// A queued task aborted, then its future dropped before a worker ends it; and a suspended
/// task aborted with its future dropped at once: still ended, counted, dropped once.
#[test]
fn abort_then_drop_the_future() {
    within(60, || {
        let pool = pool(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let never = Future::<()>::new();
        let suspended = submit_suspended(&pool, DropCount(drops.clone()));
        let (release, _blockers) = block_workers(&pool, 1);
        let kept = DropCount(drops.clone());
        let queued = pool.submit_async(async move {
            let _kept = kept;
        });
        assert!(queued.as_ref().unwrap().abort());
        drop(queued);
        assert!(suspended.abort());
        drop(suspended);
        drop(release);
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(never.waiter_count(), 0);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// Self-abort, then a panic in the same poll: the panic is the one outcome, counted once.
#[test]
fn self_abort_then_panic_keeps_the_panic() {
    within(60, || {
        let pool = pool(1);
        let own: Own<()> = Arc::new(Mutex::new(None));
        let drops = Arc::new(AtomicUsize::new(0));
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let (o, kept) = (own.clone(), DropCount(drops.clone()));
        let future = pool
            .submit_async(async move {
                let _kept = kept;
                go_rx.lock().unwrap().recv().unwrap();
                let me = o.lock().unwrap().take().unwrap();
                assert!(me.abort());
                panic!("after a self-abort (expected by the test)");
            })
            .unwrap();
        *own.lock().unwrap() = Some(future.clone());
        go_tx.send(()).unwrap();
        assert!(matches!(future.result(), Err(Error::Panicked(_))));
        assert!(!future.abort());
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0, "{stats:?}");
        assert_eq!(stats.tasks_panicked, 1, "{stats:?}");
        assert_eq!(stats.tasks_completed, 1, "{stats:?}");
    });
}
