//! Review of work-first: adversarial programs (children awaited twice, from other pools, that
//! await their parent, that store wakers, that block on later work, shutdowns and group
//! cancels racing chains, awaits inside destructors).
#![cfg(not(feature = "loom"))]

mod common;

use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, State, TaskGroup, ThreadPoolExecutor};
use common::watchdog::within;
use common::{pool, DropCount};

const HANG: Duration = Duration::from_secs(30);

fn polls(pool: &ThreadPoolExecutor) -> u64 {
    pool.stats().per_worker.iter().map(|w| w.polls).sum()
}

#[test]
fn the_same_child_awaited_by_two_parents_runs_once_and_both_see_it() {
    within(60, || {
        for workers in [1, 2, 4] {
            let pool = pool(workers);
            let runs = Arc::new(AtomicUsize::new(0));
            let mut roots = Vec::new();
            for _ in 0..200 {
                let executor = pool.executor();
                let runs = runs.clone();
                roots.push(
                    pool.submit_async(async move {
                        let r = runs.clone();
                        let child = executor
                            .submit(move || {
                                r.fetch_add(1, Ordering::SeqCst);
                                11u32
                            })
                            .unwrap();
                        let shared = child.clone();
                        // B is newest: awaiting B runs it in place, and B awaits the child,
                        // which is now the owner end of the deque.
                        let b = executor
                            .submit_async(async move { *(&shared).await.unwrap() })
                            .unwrap();
                        let from_b = *(&b).await.unwrap();
                        let from_a = *(&child).await.unwrap();
                        from_a + from_b
                    })
                    .unwrap(),
                );
            }
            for root in &roots {
                assert_eq!(*root.result().unwrap(), 22);
            }
            pool.join().unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 200, "{workers} workers");
        }
    });
}

#[test]
fn two_concurrent_parents_awaiting_one_child_each_see_one_run() {
    within(60, || {
        let pool = pool(2);
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..500 {
            let r = runs.clone();
            let (tx, rx) = mpsc::channel::<Future<u32>>();
            // Parent 2 submits the child (its own queue) and hands it out; parent 1, on the
            // other worker or later, awaits it too, racing parent 2's in-place claim.
            let p2 = pool
                .submit_async(async move {
                    let child = Executor::current()
                        .unwrap()
                        .submit(move || {
                            r.fetch_add(1, Ordering::SeqCst);
                            5u32
                        })
                        .unwrap();
                    tx.send(child.clone()).unwrap();
                    *(&child).await.unwrap()
                })
                .unwrap();
            let f = rx.recv_timeout(HANG).unwrap();
            let p1 = pool
                .submit_async(async move { *(&f).await.unwrap() })
                .unwrap();
            assert_eq!(*p2.result().unwrap(), 5);
            assert_eq!(*p1.result().unwrap(), 5);
        }
        pool.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 500);
    });
}

#[test]
fn awaiting_a_child_of_another_pool_never_runs_it_on_this_pool() {
    within(60, || {
        let a = pool(1);
        let b = pool(1);
        let b_thread = b.submit(|| std::thread::current().id()).unwrap();
        let b_thread = *b_thread.result().unwrap();
        let b_executor = b.executor();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        // Occupy b's only worker so b's child is certainly unstarted when a's task awaits it.
        let blocker = b
            .submit(move || release_rx.recv_timeout(HANG).unwrap())
            .unwrap();
        let parent = a
            .submit_async(async move {
                let child = b_executor.submit(|| std::thread::current().id()).unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        // The parent suspends (its child is b's); release b.
        while parent.state() == State::Pending {
            std::thread::yield_now();
        }
        release_tx.send(()).unwrap();
        blocker.result().unwrap();
        assert_eq!(*parent.result().unwrap(), b_thread);
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn a_task_of_pool_a_submitting_to_pool_b_from_a_worker_of_b_nested() {
    // A task on b awaits a child of a, submitted from b's worker: a's child is in a's injector,
    // never in b's worker queue.
    within(60, || {
        let a = pool(1);
        let b = pool(1);
        let a_ex = a.executor();
        let parent = b
            .submit_async(async move {
                let child = a_ex.submit_async(async { 3u8 }).unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 3);
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn a_child_that_awaits_its_parent_stays_outstanding_and_a_cancelling_shutdown_ends_both() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent_slot: Arc<OnceLock<Future<u32>>> = Arc::new(OnceLock::new());
        let slot = parent_slot.clone();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        // The gate keeps the parent from running before its own future is published.
        let gate = pool
            .submit(move || go_rx.lock().unwrap().recv_timeout(HANG).unwrap())
            .unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        let (d1, d2) = (DropCount(dropped.clone()), DropCount(dropped.clone()));
        let parent = pool
            .submit_async(async move {
                let _d1 = d1;
                let slot = slot.clone();
                let child = executor
                    .submit_async(async move {
                        let _d2 = d2;
                        let parent = slot.get().unwrap().clone();
                        // Runs in place inside the parent's poll; the parent is running, so
                        // this must suspend instead of recursing.
                        *(&parent).await.unwrap() + 1
                    })
                    .unwrap();
                started_tx.send(()).unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        parent_slot.set(parent.clone()).unwrap();
        go_tx.send(()).unwrap();
        gate.result().unwrap();
        started_rx.recv_timeout(HANG).unwrap();
        // A parent and a child awaiting each other are a wait-for cycle: the timed wait says
        // the pool is deadlocked (issue 16), naming the parent (its id is in the cycle line).
        match pool.wait_idle_timeout(Duration::from_millis(100)) {
            Err(Error::Stuck(diagnosis)) => assert!(
                diagnosis
                    .lines()
                    .any(|line| line.starts_with("wait-for cycle")
                        && line.contains(&format!("{:#x}", parent.id()))),
                "{diagnosis}"
            ),
            other => panic!("expected Error::Stuck, got {other:?}"),
        }
        assert!(!parent.done());
        pool.shutdown(true, true);
        assert!(matches!(parent.try_result(), Some(Err(Error::Cancelled))));
        drop(parent_slot);
        assert_eq!(dropped.load(Ordering::SeqCst), 2, "both bodies dropped");
    });
}

/// A future that stores its waker and completes once `ready` is set.
struct Parked {
    waker: Arc<Mutex<Option<Waker>>>,
    ready: Arc<AtomicBool>,
    wake_now: bool,
}

impl std::future::Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.ready.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.wake_now {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[test]
fn a_child_that_stores_its_waker_and_is_woken_late_from_outside_completes_its_parent() {
    within(60, || {
        for workers in [1, 3] {
            let pool = pool(workers);
            let executor = pool.executor();
            let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
            let ready = Arc::new(AtomicBool::new(false));
            let (w, r) = (waker.clone(), ready.clone());
            let (suspended_tx, suspended_rx) = mpsc::channel::<()>();
            let parent = pool
                .submit_async(async move {
                    let child = executor
                        .submit_async(async move {
                            Parked {
                                waker: w,
                                ready: r,
                                wake_now: false,
                            }
                            .await;
                            17u32
                        })
                        .unwrap();
                    suspended_tx.send(()).unwrap();
                    *(&child).await.unwrap()
                })
                .unwrap();
            suspended_rx.recv_timeout(HANG).unwrap();
            // Wait until the waker is stored (the child was polled, in place or not).
            while waker.lock().unwrap().is_none() {
                std::thread::yield_now();
            }
            ready.store(true, Ordering::SeqCst);
            let stored = waker.lock().unwrap().take().unwrap();
            stored.wake_by_ref();
            assert_eq!(*parent.result().unwrap(), 17);
            // A late wake after completion is harmless.
            stored.wake();
            pool.join().unwrap();
            assert_eq!(pool.stats().tasks_completed, 2);
        }
    });
}

#[test]
fn a_child_that_wakes_itself_during_its_in_place_poll_is_polled_again_not_lost() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let polls_seen = Arc::new(AtomicUsize::new(0));
        let p = polls_seen.clone();
        let parent = pool
            .submit_async(async move {
                let child = executor
                    .submit_async(async move {
                        let mut n = 0;
                        std::future::poll_fn(|cx| {
                            n += 1;
                            p.fetch_add(1, Ordering::SeqCst);
                            if n < 5 {
                                cx.waker().wake_by_ref();
                                Poll::Pending
                            } else {
                                Poll::Ready(())
                            }
                        })
                        .await;
                        n
                    })
                    .unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 5);
        pool.join().unwrap();
        assert_eq!(polls_seen.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn the_parent_wakes_a_suspended_childs_stored_waker_itself_before_awaiting_again() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
                let ready = Arc::new(AtomicBool::new(false));
                let (w, r) = (waker.clone(), ready.clone());
                let child = executor
                    .submit_async(async move {
                        Parked {
                            waker: w,
                            ready: r,
                            wake_now: false,
                        }
                        .await;
                        1u32
                    })
                    .unwrap();
                // First await: the child runs in place and suspends; the parent would suspend
                // too, forever, so poll the child's wait only once through a select-like shim.
                let mut wait = std::pin::pin!(child.yield_until_done());
                let first = std::future::poll_fn(|cx| {
                    Poll::Ready(std::future::Future::poll(wait.as_mut(), cx))
                })
                .await;
                assert!(first.is_pending());
                let stored = waker.lock().unwrap().take().expect("child polled in place");
                ready.store(true, Ordering::SeqCst);
                stored.wake();
                wait.await;
                *child.result().unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 1);
        pool.join().unwrap();
    });
}

#[test]
fn a_child_that_blocks_on_a_channel_for_work_queued_before_it_completes_on_two_workers() {
    within(60, || {
        let pool = pool(2);
        for _ in 0..200 {
            let executor = pool.executor();
            let parent = pool
                .submit_async(async move {
                    let (tx, rx) = mpsc::channel::<u32>();
                    // The sender goes first (to the LIFO slot, then the deque)...
                    let sender = executor.submit(move || tx.send(8).unwrap()).unwrap();
                    // ... the receiver is newest and runs in place, blocking this worker: the
                    // sender must be stolen by the other worker.
                    let receiver = executor
                        .submit(move || rx.recv_timeout(HANG).unwrap())
                        .unwrap();
                    let v = *(&receiver).await.unwrap();
                    (&sender).await.unwrap();
                    v
                })
                .unwrap();
            assert_eq!(*parent.result().unwrap(), 8);
        }
        pool.join().unwrap();
    });
}

#[test]
fn an_in_place_closure_child_that_blocks_for_work_it_queues_itself_completes_on_two_workers() {
    within(60, || {
        let pool = pool(2);
        for _ in 0..200 {
            let executor = pool.executor();
            let parent = pool
                .submit_async(async move {
                    let ex = executor.clone();
                    let receiver = executor
                        .submit(move || {
                            let (tx, rx) = mpsc::channel::<u32>();
                            ex.spawn(move |_| tx.send(4).unwrap()).unwrap();
                            rx.recv_timeout(HANG).unwrap()
                        })
                        .unwrap();
                    *(&receiver).await.unwrap()
                })
                .unwrap();
            assert_eq!(*parent.result().unwrap(), 4);
        }
        pool.join().unwrap();
    });
}

#[test]
fn an_in_place_closure_that_waits_on_a_barrier_with_an_older_lifo_sibling_completes() {
    // The parent submits `a` (to the LIFO slot), then `b` (LIFO; `a` to the deque), then awaits
    // `a`: `a` is at the deque's owner end and runs in place while `b` sits in the LIFO slot.
    // `a` waits on a barrier that `b` must reach: `b` has to be made stealable.
    within(60, || {
        let pool = pool(2);
        for _ in 0..200 {
            let executor = pool.executor();
            let parent = pool
                .submit_async(async move {
                    let barrier = Arc::new(std::sync::Barrier::new(2));
                    let (b1, b2) = (barrier.clone(), barrier);
                    let a = executor.submit(move || b1.wait().is_leader()).unwrap();
                    let b = executor.submit(move || b2.wait().is_leader()).unwrap();
                    let a = *(&a).await.unwrap();
                    let b = *(&b).await.unwrap();
                    a ^ b
                })
                .unwrap();
            assert!(*parent.result().unwrap());
        }
        pool.join().unwrap();
    });
}

/// Guards made by `chain_counting` (tests using it hold `CHAIN_LOCK`).
static MADE: AtomicUsize = AtomicUsize::new(0);
static CHAIN_LOCK: Mutex<()> = Mutex::new(());

fn chain_counting(
    executor: Executor,
    n: u64,
    reached: Option<(u64, mpsc::Sender<()>)>,
    dropped: Arc<AtomicUsize>,
) -> Option<Future<u64>> {
    let spawner = executor.clone();
    MADE.fetch_add(1, Ordering::SeqCst);
    let guard = DropCount(dropped.clone());
    spawner
        .submit_async(async move {
            let _guard = guard;
            if n == 0 {
                return 0;
            }
            if let Some((at, tx)) = &reached {
                if *at == n {
                    let _ = tx.send(());
                }
            }
            match chain_counting(executor, n - 1, reached, dropped) {
                Some(next) => (&next).await.map(|v| *v + 1).unwrap_or(0),
                None => 0,
            }
        })
        .ok()
}

#[test]
fn shutdown_with_cancel_racing_a_deep_chain_ends_everything_and_drops_every_body() {
    within(60, || {
        for workers in [1, 2] {
            for at in [99_000u64, 60_000] {
                let _serial = CHAIN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
                MADE.store(0, Ordering::SeqCst);
                let pool = pool(workers);
                let dropped = Arc::new(AtomicUsize::new(0));
                let (tx, rx) = mpsc::channel();
                let root =
                    chain_counting(pool.executor(), 100_000, Some((at, tx)), dropped.clone())
                        .unwrap();
                rx.recv_timeout(HANG).unwrap();
                pool.shutdown(true, true);
                assert!(root.done(), "root not done after shutdown(wait, cancel)");
                let stats = pool.stats();
                assert_eq!(stats.tasks_outstanding, 0);
                // Every task that was made (accepted) had its body dropped exactly once: the
                // guards made = submits accepted; a refused submit drops its guard too.
                drop(root);
                let made = MADE.load(Ordering::SeqCst);
                assert!(made as u64 > 100_000 - at);
                assert_eq!(
                    dropped.load(Ordering::SeqCst),
                    made,
                    "every body dropped once"
                );
            }
        }
    });
}

#[test]
fn a_group_cancelled_mid_chain_joins_and_the_pool_goes_on() {
    within(60, || {
        for workers in [1, 2] {
            let _serial = CHAIN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            MADE.store(0, Ordering::SeqCst);
            let pool = pool(workers);
            let group = TaskGroup::new(&pool);
            let dropped = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel();
            let root = chain_counting(
                group.executor(),
                50_000,
                Some((40_000, tx)),
                dropped.clone(),
            )
            .unwrap();
            rx.recv_timeout(HANG).unwrap();
            group.cancel();
            group.join().unwrap();
            assert!(root.done());
            // Chains may have finished if cancel landed late; either a value or cancelled.
            match root.try_result().unwrap() {
                Ok(v) => assert!(*v <= 50_000),
                Err(e) => assert!(matches!(e, Error::Cancelled), "{e:?}"),
            }
            pool.wait_idle().unwrap();
            assert_eq!(pool.stats().tasks_outstanding, 0);
            drop(root);
            assert_eq!(dropped.load(Ordering::SeqCst), MADE.load(Ordering::SeqCst));
            assert_eq!(*pool.submit(|| 2).unwrap().result().unwrap(), 2);
            pool.join().unwrap();
        }
    });
}

#[test]
fn a_child_in_a_group_cancelled_by_the_parent_before_the_await_reads_cancelled() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let g = group.clone();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let parent = pool
            .submit_async(async move {
                let child = g.submit(move || r.store(true, Ordering::SeqCst)).unwrap();
                g.cancel();
                matches!((&child).await, Err(Error::Cancelled))
            })
            .unwrap();
        assert!(*parent.result().unwrap());
        group.join().unwrap();
        assert!(!ran.load(Ordering::SeqCst));
        pool.join().unwrap();
    });
}

#[test]
fn a_child_aborting_its_running_parent_ends_the_parent_at_its_await() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let slot: Arc<OnceLock<Future<u32>>> = Arc::new(OnceLock::new());
        let s = slot.clone();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let gate = pool
            .submit(move || go_rx.lock().unwrap().recv_timeout(HANG).unwrap())
            .unwrap();
        let after = Arc::new(AtomicBool::new(false));
        let a = after.clone();
        let parent = pool
            .submit_async(async move {
                let s = s.clone();
                let child = executor.submit(move || s.get().unwrap().abort()).unwrap();
                let aborted = *(&child).await.unwrap();
                // The abort landed while this task runs: it ends at the next `.await`
                // that suspends (or this value wins).
                crate::common::yield_now().await;
                a.store(true, Ordering::SeqCst);
                aborted as u32
            })
            .unwrap();
        slot.set(parent.clone()).unwrap();
        go_tx.send(()).unwrap();
        gate.result().unwrap();
        let outcome = parent.result().copied();
        pool.join().unwrap();
        assert!(matches!(outcome, Err(Error::Cancelled)), "{outcome:?}");
        assert!(!after.load(Ordering::SeqCst));
        drop(slot);
    });
}

#[test]
fn a_child_polled_by_a_foreign_block_on_inside_an_async_body_completes() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let child = executor.submit_async(async { 6u32 }).unwrap();
                // Blocking in an async body on its own subtask through a foreign block_on: the
                // README says not to; with work-first the child runs in place.
                futures::executor::block_on((&child).into_future()).copied()
            })
            .unwrap();
        assert!(matches!(*parent.result().unwrap(), Ok(6)));
        pool.join().unwrap();
    });
}

#[test]
fn a_deep_chain_with_closure_leaves_interleaved_counts_polls_correctly() {
    within(60, || {
        let pool = pool(1);
        fn level(executor: Executor, n: u32) -> Future<u32> {
            let spawner = executor.clone();
            spawner
                .submit_async(async move {
                    if n == 0 {
                        return 0;
                    }
                    let leaf = executor.submit(move || n).unwrap();
                    let next = level(executor, n - 1);
                    let a = *(&next).await.unwrap();
                    a + *(&leaf).await.unwrap()
                })
                .unwrap()
        }
        let root = level(pool.executor(), 1000);
        assert_eq!(*root.result().unwrap(), 1000 * 1001 / 2);
        pool.join().unwrap();
        assert_eq!(pool.stats().tasks_completed, 2001);
        assert!(polls(&pool) <= 2 * 2001);
    });
}

#[test]
fn awaiting_an_already_finished_or_running_child_does_not_run_anything_twice() {
    within(60, || {
        let pool = pool(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let executor = pool.executor();
        let r = runs.clone();
        let parent = pool
            .submit_async(async move {
                let r2 = r.clone();
                let child = executor
                    .submit_async(async move {
                        r2.fetch_add(1, Ordering::SeqCst);
                        crate::common::yield_now().await;
                        9u32
                    })
                    .unwrap();
                // Many waits of one child, owned and borrowed.
                let a = *(&child).await.unwrap();
                let b = *(&child).await.unwrap();
                child.yield_until_done().await;
                let c = child.clone().await.unwrap();
                a + b + c
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 27);
        pool.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}
