//! Review of work-first: group accounting and races. In-place children of other groups (or of
//! none) that suspend in place; group joins that must not return early; cancels and cancelling
//! shutdowns racing trees of awaits on several workers; aborts landing during in-place runs.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, TaskGroup};
use common::watchdog::within;
use common::{in_group, pool, DropCount};

const HANG: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(50);

#[test]
fn a_group_child_suspended_in_place_under_an_outside_parent_keeps_the_group_busy() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let gex = group.executor();
        let gate = Future::<u32>::new();
        let g2 = gate.clone();
        let (reached_tx, reached_rx) = mpsc::channel();
        let parent = pool
            .submit_async(async move {
                let child = gex
                    .submit_async(async move {
                        reached_tx.send(()).unwrap();
                        *(&g2).await.unwrap() * 2
                    })
                    .unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        reached_rx.recv_timeout(HANG).unwrap();
        assert!(matches!(group.join_timeout(SHORT), Err(Error::Timeout)));
        assert!(matches!(pool.wait_idle_timeout(SHORT), Err(Error::Timeout)));
        gate.set_result(21).unwrap();
        group.join().unwrap();
        assert_eq!(*parent.result().unwrap(), 42);
        pool.join().unwrap();
    });
}

#[test]
fn a_group_parent_waiting_on_an_outside_child_suspended_in_place_keeps_its_group_busy() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let pex = pool.executor();
        let gate = Future::<u32>::new();
        let g2 = gate.clone();
        let probe = group.clone();
        let (reached_tx, reached_rx) = mpsc::channel();
        let parent = group
            .submit_async(async move {
                let probe2 = probe.clone();
                let child = pex
                    .submit_async(async move {
                        // Runs in place, outside the parent's group.
                        let outside = !in_group(&probe2);
                        reached_tx.send(()).unwrap();
                        (*(&g2).await.unwrap(), outside)
                    })
                    .unwrap();
                let (v, outside) = *(&child).await.unwrap();
                (v, outside, in_group(&probe))
            })
            .unwrap();
        reached_rx.recv_timeout(HANG).unwrap();
        assert!(matches!(group.join_timeout(SHORT), Err(Error::Timeout)));
        gate.set_result(5).unwrap();
        group.join().unwrap();
        assert_eq!(*parent.result().unwrap(), (5, true, true));
        pool.join().unwrap();
    });
}

#[test]
fn a_child_group_made_in_a_group_task_and_run_in_place_is_waited_for_by_the_parent_group() {
    within(60, || {
        let pool = pool(2);
        let outer = TaskGroup::new(&pool);
        let late = Arc::new(AtomicUsize::new(0));
        let l = late.clone();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Arc::new(Mutex::new(go_rx));
        let parent = outer
            .submit_async(async move {
                // A child group of `outer` (made inside one of its tasks).
                let inner = TaskGroup::new(&Executor::current().unwrap());
                let go_rx = go_rx.clone();
                let child = inner
                    .submit_async(async move {
                        Executor::current()
                            .unwrap()
                            .spawn(move |_| {
                                go_rx.lock().unwrap().recv_timeout(HANG).unwrap();
                                l.fetch_add(1, Ordering::SeqCst);
                            })
                            .unwrap();
                        1u32
                    })
                    .unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 1);
        // The inner group's spawned task still waits: the outer group's join must too.
        assert!(matches!(outer.join_timeout(SHORT), Err(Error::Timeout)));
        go_tx.send(()).unwrap();
        outer.join().unwrap();
        assert_eq!(late.load(Ordering::SeqCst), 1);
        pool.join().unwrap();
    });
}

#[test]
fn join_from_inside_an_in_place_child_is_would_deadlock_and_the_pool_still_joins() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let group = TaskGroup::new(&pool);
        let g = group.clone();
        let parent = group
            .submit_async(async move {
                let g2 = g.clone();
                let ex = executor.clone();
                let child = g
                    .submit_async(async move {
                        (
                            matches!(ex.join(), Err(Error::WouldDeadlock)),
                            matches!(g2.join(), Err(Error::WouldDeadlock)),
                            matches!(g2.joined().await, Err(Error::WouldDeadlock)),
                        )
                    })
                    .unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), (true, true, true));
        group.join().unwrap();
        pool.join().unwrap();
    });
}

/// A binary tree of async nodes, each awaiting both children; every body holds a drop counter.
fn tree(
    executor: Executor,
    depth: u32,
    made: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    signal: Arc<Mutex<Option<mpsc::Sender<()>>>>,
) -> Option<Future<u64>> {
    let spawner = executor.clone();
    // `made` counts guards (a refused submit drops its guard with the body).
    made.fetch_add(1, Ordering::SeqCst);
    let guard = DropCount(drops.clone());
    let submitted = spawner.submit_async(async move {
        let _guard = guard;
        if depth == 0 {
            if let Some(tx) = signal.lock().unwrap().take() {
                let _ = tx.send(());
            }
            common::yield_now().await;
            return 1;
        }
        let a = tree(
            executor.clone(),
            depth - 1,
            made.clone(),
            drops.clone(),
            signal.clone(),
        );
        let b = tree(executor, depth - 1, made, drops, signal);
        let mut sum = 0;
        if let Some(b) = b {
            sum += (&b).await.copied().unwrap_or(0);
        }
        if let Some(a) = a {
            sum += (&a).await.copied().unwrap_or(0);
        }
        sum
    });
    submitted.ok()
}

#[test]
fn cancelling_a_group_racing_a_tree_of_awaits_joins_and_drops_every_body_once() {
    within(60, || {
        let pool = pool(4);
        for _ in 0..30 {
            let group = TaskGroup::new(&pool);
            let made = Arc::new(AtomicUsize::new(0));
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel();
            let signal = Arc::new(Mutex::new(Some(tx)));
            let root = tree(group.executor(), 10, made.clone(), drops.clone(), signal).unwrap();
            rx.recv_timeout(HANG).unwrap();
            group.cancel();
            group.join().unwrap();
            assert!(root.done());
            drop(root);
            pool.wait_idle().unwrap();
            let (m, d) = (made.load(Ordering::SeqCst), drops.load(Ordering::SeqCst));
            assert_eq!(d, m, "every body dropped exactly once");
        }
        assert_eq!(pool.stats().tasks_outstanding, 0);
        pool.join().unwrap();
    });
}

#[test]
fn a_cancelling_shutdown_racing_a_tree_of_awaits_on_four_workers_ends_everything() {
    within(60, || {
        for _ in 0..20 {
            let pool = pool(4);
            let made = Arc::new(AtomicUsize::new(0));
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel();
            let signal = Arc::new(Mutex::new(Some(tx)));
            let root = tree(pool.executor(), 10, made.clone(), drops.clone(), signal).unwrap();
            rx.recv_timeout(HANG).unwrap();
            pool.shutdown(true, true);
            assert!(root.done());
            drop(root);
            assert_eq!(pool.stats().tasks_outstanding, 0);
            let (m, d) = (made.load(Ordering::SeqCst), drops.load(Ordering::SeqCst));
            assert_eq!(d, m, "every body dropped exactly once");
        }
    });
}

#[test]
fn a_full_tree_of_awaits_counts_exactly_on_four_workers() {
    within(60, || {
        let pool = pool(4);
        for _ in 0..5 {
            let made = Arc::new(AtomicUsize::new(0));
            let drops = Arc::new(AtomicUsize::new(0));
            let signal = Arc::new(Mutex::new(None));
            let root = tree(pool.executor(), 12, made.clone(), drops.clone(), signal).unwrap();
            assert_eq!(*root.result().unwrap(), 1 << 12);
            drop(root);
            pool.wait_idle().unwrap();
            assert_eq!(made.load(Ordering::SeqCst), (1 << 13) - 1);
            assert_eq!(drops.load(Ordering::SeqCst), (1 << 13) - 1);
        }
        let stats = pool.stats();
        assert_eq!(stats.tasks_completed, 5 * ((1 << 13) - 1));
        assert_eq!(stats.tasks_outstanding, 0);
        pool.join().unwrap();
    });
}

#[test]
fn a_parent_aborted_while_its_child_runs_in_place_ends_at_its_next_suspension() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let (in_child_tx, in_child_rx) = mpsc::channel::<()>();
        let (aborted_tx, aborted_rx) = mpsc::channel::<()>();
        let dropped = Arc::new(AtomicUsize::new(0));
        let guard = DropCount(dropped.clone());
        let reached_after = Arc::new(AtomicUsize::new(0));
        let r = reached_after.clone();
        let parent = pool
            .submit_async(async move {
                let _guard = guard;
                // Async: only an async child runs in place (this one blocks in its one poll).
                let child = executor
                    .submit_async(async move {
                        in_child_tx.send(()).unwrap();
                        aborted_rx.recv_timeout(HANG).unwrap();
                        3u32
                    })
                    .unwrap();
                let v = *(&child).await.unwrap();
                r.fetch_add(1, Ordering::SeqCst);
                common::yield_now().await;
                r.fetch_add(1, Ordering::SeqCst);
                v
            })
            .unwrap();
        in_child_rx.recv_timeout(HANG).unwrap();
        assert!(parent.abort());
        aborted_tx.send(()).unwrap();
        let outcome = parent.result().copied();
        assert!(matches!(outcome, Err(Error::Cancelled)), "{outcome:?}");
        pool.wait_idle().unwrap();
        assert_eq!(reached_after.load(Ordering::SeqCst), 1);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        pool.join().unwrap();
    });
}

#[test]
fn an_in_place_async_child_that_aborts_itself_reads_cancelled_in_its_parent() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let (tx, rx) = mpsc::channel::<Future<u32>>();
                let child = executor
                    .submit_async(async move {
                        let me = rx.recv_timeout(HANG).unwrap();
                        assert!(me.abort());
                        common::yield_now().await;
                        unreachable!("an aborted task ends at its suspension");
                    })
                    .unwrap();
                tx.send(child.clone()).unwrap();
                matches!((&child).await, Err(Error::Cancelled))
            })
            .unwrap();
        assert!(*parent.result().unwrap());
        pool.join().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}
