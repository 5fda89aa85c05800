//! Adversarial review of task groups: groups nested 3+ deep, joins and cancels at each level.
#![cfg(not(feature = "loom"))]

mod common;
use common::in_group;
use common::watchdog::within;
use common::{pool, DropCount};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, SubmitError, TaskGroup};

#[test]
fn a_three_deep_chain_made_inside_tasks_joins_bottom_up() {
    within(60, || {
        let pool = pool(2);
        let top = TaskGroup::new(&pool);
        let gate = Future::<()>::new();
        let (made_tx, made_rx) = mpsc::channel::<(TaskGroup, TaskGroup)>();
        let leaf_done = Arc::new(AtomicBool::new(false));
        {
            let (gate, leaf_done) = (gate.clone(), leaf_done.clone());
            top.spawn(move |_| {
                let mid = TaskGroup::new(&Executor::current().unwrap());
                let mid2 = mid.clone();
                mid.spawn(move |_| {
                    let low = TaskGroup::new(&Executor::current().unwrap());
                    let leaf_done = leaf_done.clone();
                    low.submit_async(async move {
                        (&gate).await.unwrap();
                        leaf_done.store(true, Ordering::SeqCst);
                    })
                    .unwrap();
                    made_tx.send((mid2, low)).unwrap();
                })
                .unwrap();
            })
            .unwrap();
        }
        let (mid, low) = made_rx.recv().unwrap();
        for g in [&top, &mid, &low] {
            assert!(matches!(
                g.join_timeout(Duration::from_millis(30)),
                Err(Error::Timeout)
            ));
        }
        gate.set_result(()).unwrap();
        top.join().unwrap();
        assert!(leaf_done.load(Ordering::SeqCst));
        mid.join_timeout(Duration::ZERO).unwrap();
        low.join_timeout(Duration::ZERO).unwrap();
        // Cancel propagates down, not up.
        mid.cancel();
        assert!(low.is_cancelled() && mid.is_cancelled() && !top.is_cancelled());
        assert_eq!(low.spawn(|_| ()), Err(SubmitError::Cancelled));
        assert!(top.spawn(|_| ()).is_ok());
        top.join().unwrap();
    });
}

/// Four levels, each with suspended async tasks, made from group-bound executors outside any
/// task. Cancelled level by level from the bottom up-ish (level 2 first, then 0).
#[test]
fn four_levels_of_suspended_tasks_cancel_at_each_level() {
    within(60, || {
        let pool = pool(2);
        let mut levels = vec![TaskGroup::new(&pool)];
        for _ in 0..3 {
            let child = TaskGroup::new(&levels.last().unwrap().executor());
            levels.push(child);
        }
        let never = Future::<()>::new();
        let made = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (polled_tx, polled_rx) = mpsc::channel::<()>();
        let mut futures: Vec<Vec<Future<()>>> = Vec::new();
        for g in &levels {
            let mut fs = Vec::new();
            for _ in 0..5 {
                made.fetch_add(1, Ordering::SeqCst);
                let held = DropCount(dropped.clone());
                let (never, polled_tx) = (never.clone(), polled_tx.clone());
                fs.push(
                    g.submit_async(async move {
                        let _held = held;
                        polled_tx.send(()).unwrap();
                        (&never).await.unwrap();
                    })
                    .unwrap(),
                );
            }
            futures.push(fs);
        }
        for _ in 0..20 {
            polled_rx.recv().unwrap();
        }
        levels[2].cancel();
        levels[2].join().unwrap();
        levels[3].join().unwrap();
        for fs in &futures[2..] {
            for f in fs {
                assert!(matches!(f.try_result(), Some(Err(Error::Cancelled))));
            }
        }
        for fs in &futures[..2] {
            for f in fs {
                assert!(!f.done());
            }
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 10);
        // Level 1 still waits for its own suspended tasks (level 2 is empty now).
        assert!(matches!(
            levels[1].join_timeout(Duration::from_millis(30)),
            Err(Error::Timeout)
        ));
        assert!(!levels[1].is_cancelled());
        levels[0].cancel();
        for g in &levels {
            g.join().unwrap();
            assert!(g.is_cancelled());
        }
        for f in futures.iter().flatten() {
            assert!(matches!(f.try_result(), Some(Err(Error::Cancelled))));
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 20);
        assert_eq!(made.load(Ordering::SeqCst), 20);
        pool.wait_idle().unwrap();
    });
}

/// A 4-deep tree of groups whose tasks keep spawning in their own group; cancelling the top
/// while it runs ends everything; every captured value is dropped exactly once.
#[test]
fn cancelling_the_top_of_a_busy_nested_tree_ends_every_level() {
    within(60, || {
        let pool = pool(2);
        let top = TaskGroup::new(&pool);
        let made = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel::<()>();

        fn churn(
            e: &Executor,
            depth: u32,
            made: Arc<AtomicUsize>,
            dropped: Arc<AtomicUsize>,
            refused: Arc<AtomicUsize>,
            started: mpsc::Sender<()>,
        ) {
            // Each level makes a child group once and keeps spawning into its own group.
            if depth > 0 {
                let child = TaskGroup::new(e);
                let (m, d, r, s) = (
                    made.clone(),
                    dropped.clone(),
                    refused.clone(),
                    started.clone(),
                );
                made.fetch_add(1, Ordering::SeqCst);
                let held = DropCount(dropped.clone());
                if child
                    .spawn(move |e| {
                        let _held = held;
                        churn(e, depth - 1, m, d, r, s)
                    })
                    .is_err()
                {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
            } else {
                let _ = started.send(());
            }
            let (m, d, r) = (made.clone(), dropped.clone(), refused.clone());
            made.fetch_add(1, Ordering::SeqCst);
            let held = DropCount(dropped.clone());
            if e.spawn(move |e| {
                let _held = held;
                churn(e, 0, m, d, r, started)
            })
            .is_err()
            {
                refused.fetch_add(1, Ordering::SeqCst);
            }
        }
        {
            let (m, d, r) = (made.clone(), dropped.clone(), refused.clone());
            top.spawn(move |e| churn(e, 3, m, d, r, started_tx))
                .unwrap();
        }
        // Wait until the leaf level churns.
        for _ in 0..50 {
            started_rx.recv().unwrap();
        }
        top.cancel();
        top.join().unwrap();
        pool.wait_idle().unwrap();
        // Refusals happen only for a spawn that runs after the cancel (a task running then):
        // a race, so only counted. Every value made was dropped, refused or not.
        let _refused = refused.load(Ordering::SeqCst);
        assert_eq!(made.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst));
        // The pool is fine.
        assert_eq!(*pool.submit(|| 1).unwrap().result().unwrap(), 1);
    });
}

#[test]
fn join_between_parent_and_child_tasks() {
    within(60, || {
        let pool = pool(2);
        let parent = TaskGroup::new(&pool);
        let child = TaskGroup::new(&parent.executor());
        let grandchild = TaskGroup::new(&child.executor());
        // A child's task may not join its parent or grandparent (it would wait for itself).
        let (p, c) = (parent.clone(), child.clone());
        let r = grandchild
            .submit(move || {
                (
                    matches!(p.join(), Err(Error::WouldDeadlock)),
                    matches!(c.join(), Err(Error::WouldDeadlock)),
                )
            })
            .unwrap();
        assert_eq!(*r.result().unwrap(), (true, true));
        // A parent's task may join its child.
        let c = child.clone();
        let ran = Arc::new(AtomicBool::new(false));
        let ran2 = ran.clone();
        let r = parent
            .submit(move || {
                let (tx, rx) = mpsc::channel::<()>();
                let ran2 = ran2.clone();
                c.spawn(move |_| {
                    rx.recv().unwrap();
                    ran2.store(true, Ordering::SeqCst);
                })
                .unwrap();
                tx.send(()).unwrap();
                c.join()
            })
            .unwrap();
        r.result().unwrap().as_ref().unwrap();
        assert!(ran.load(Ordering::SeqCst));
        // Membership: a task of the grandchild is within all three.
        let (p, c, g) = (parent.clone(), child.clone(), grandchild.clone());
        let r = grandchild
            .submit(move || (in_group(&p), in_group(&c), in_group(&g)))
            .unwrap();
        assert_eq!(*r.result().unwrap(), (true, true, true));
        let (p, c, g) = (parent.clone(), child.clone(), grandchild.clone());
        let r = parent
            .submit(move || (in_group(&p), in_group(&c), in_group(&g)))
            .unwrap();
        assert_eq!(*r.result().unwrap(), (true, false, false));
        parent.join().unwrap();
    });
}

/// A child group stays a child after its parent's last handle is dropped: cancelling is not
/// possible any more, but the child's work still runs and the pool converges.
#[test]
fn dropping_a_parent_handle_while_children_are_busy() {
    within(60, || {
        let pool = pool(2);
        let gate = Future::<()>::new();
        let done = Arc::new(AtomicUsize::new(0));
        let child = {
            let parent = TaskGroup::new(&pool);
            let child = TaskGroup::new(&parent.executor());
            let grandchild = TaskGroup::new(&child.executor());
            for g in [&parent, &child, &grandchild] {
                for _ in 0..5 {
                    let (gate, done) = (gate.clone(), done.clone());
                    g.submit_async(async move {
                        (&gate).await.unwrap();
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                }
            }
            child
        };
        gate.set_result(()).unwrap();
        child.join().unwrap();
        pool.wait_idle().unwrap();
        assert_eq!(done.load(Ordering::SeqCst), 15);
    });
}
