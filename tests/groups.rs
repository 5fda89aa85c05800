//! Task groups: a group's join converges on its own tree while other work shares the pool,
//! membership follows subtasks, groups nest, and cancel ends queued and suspended tasks.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{block_workers, pool, DropCount};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, SubmitError, TaskGroup};

/// A fire-and-forget task that keeps re-spawning itself until `stop` is set: endless work.
fn endless(executor: &Executor, stop: Arc<AtomicBool>, rounds: Arc<AtomicUsize>) {
    rounds.fetch_add(1, Ordering::SeqCst);
    if !stop.load(Ordering::SeqCst) {
        executor
            .spawn(move |executor| endless(executor, stop, rounds))
            .unwrap();
    }
}

/// Spawn a tree of `fanout`-ary depth `depth` through `Executor::current()`, counting nodes.
fn tree_through_current(nodes: Arc<AtomicUsize>, depth: u32, fanout: usize) {
    nodes.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        return;
    }
    let executor = Executor::current().expect("runs on a pool thread");
    for _ in 0..fanout {
        let nodes = nodes.clone();
        executor
            .submit(move || tree_through_current(nodes, depth - 1, fanout))
            .unwrap();
    }
}

#[test]
fn a_groups_join_returns_while_another_groups_endless_work_is_still_queued() {
    within(60, || {
        let pool = pool(2);
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let background = TaskGroup::new(&pool);
        {
            let (stop, rounds) = (stop.clone(), rounds.clone());
            background
                .spawn(move |executor| endless(executor, stop, rounds))
                .unwrap();
        }
        let mine = TaskGroup::new(&pool);
        let nodes = Arc::new(AtomicUsize::new(0));
        {
            let nodes = nodes.clone();
            mine.submit(move || tree_through_current(nodes, 3, 3))
                .unwrap();
        }
        mine.join().unwrap();
        assert_eq!(nodes.load(Ordering::SeqCst), 1 + 3 + 9 + 27);
        // The other group's work never stopped, so the pool as a whole is not idle.
        assert!(!stop.load(Ordering::SeqCst));
        assert!(matches!(
            pool.join_timeout(Duration::from_millis(10)),
            Err(Error::Timeout)
        ));
        stop.store(true, Ordering::SeqCst);
        background.join().unwrap();
        pool.join().unwrap();
        assert!(rounds.load(Ordering::SeqCst) > 0);
    });
}

#[test]
fn a_three_level_fire_and_forget_tree_spawned_through_executor_current_converges_in_its_group() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let nodes = Arc::new(AtomicUsize::new(0));
        let leaves_done = Arc::new(AtomicUsize::new(0));
        {
            let (nodes, leaves_done) = (nodes.clone(), leaves_done.clone());
            group
                .spawn(move |_| {
                    nodes.fetch_add(1, Ordering::SeqCst);
                    for _ in 0..4 {
                        let (nodes, leaves_done) = (nodes.clone(), leaves_done.clone());
                        Executor::current()
                            .unwrap()
                            .spawn(move |_| {
                                nodes.fetch_add(1, Ordering::SeqCst);
                                for _ in 0..4 {
                                    let (nodes, leaves_done) = (nodes.clone(), leaves_done.clone());
                                    Executor::current()
                                        .unwrap()
                                        .spawn(move |_| {
                                            nodes.fetch_add(1, Ordering::SeqCst);
                                            leaves_done.fetch_add(1, Ordering::SeqCst);
                                        })
                                        .unwrap();
                                }
                            })
                            .unwrap();
                    }
                })
                .unwrap();
        }
        group.join().unwrap();
        // join returned only after the last level ran.
        assert_eq!(leaves_done.load(Ordering::SeqCst), 16);
        assert_eq!(nodes.load(Ordering::SeqCst), 1 + 4 + 16);
    });
}

#[test]
fn a_groups_join_waits_for_the_futures_of_its_tasks_to_complete() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let futures: Vec<Future<usize>> = (0..200)
            .map(|n| group.submit(move || n * 2).unwrap())
            .collect();
        let asyncs: Vec<Future<usize>> = (0..200)
            .map(|n| group.submit_async(async move { n + 1 }).unwrap())
            .collect();
        group.join().unwrap();
        for (n, future) in futures.iter().enumerate() {
            assert_eq!(
                future.try_result().map(|r| r.ok().copied()),
                Some(Some(n * 2))
            );
        }
        for (n, future) in asyncs.iter().enumerate() {
            assert_eq!(
                future.try_result().map(|r| r.ok().copied()),
                Some(Some(n + 1))
            );
        }
    });
}

#[test]
fn a_parents_join_waits_for_its_child_group() {
    within(60, || {
        let pool = pool(2);
        let parent = TaskGroup::new(&pool);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (child_made_tx, child_made_rx) = mpsc::channel::<TaskGroup>();
        let child_ran = Arc::new(AtomicBool::new(false));
        {
            let child_ran = child_ran.clone();
            parent
                .spawn(move |_| {
                    // Made inside the parent's task: the parent's child.
                    let child = TaskGroup::new(&Executor::current().unwrap());
                    let child_ran = child_ran.clone();
                    child
                        .spawn(move |_| {
                            release_rx.recv().unwrap();
                            child_ran.store(true, Ordering::SeqCst);
                        })
                        .unwrap();
                    child_made_tx.send(child).unwrap();
                })
                .unwrap();
        }
        let child = child_made_rx.recv().unwrap();
        // The parent's own task is done; the child's is blocked: the parent does not converge.
        assert!(matches!(
            parent.join_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
        assert!(!child_ran.load(Ordering::SeqCst));
        release_tx.send(()).unwrap();
        parent.join().unwrap();
        assert!(child_ran.load(Ordering::SeqCst));
        child.join().unwrap();
        // A child of a cancelled parent is cancelled too.
        parent.cancel();
        assert!(child.is_cancelled());
        assert_eq!(child.spawn(|_| ()), Err(SubmitError::Cancelled));
    });
}

#[test]
fn cancel_ends_queued_and_suspended_tasks_and_drops_every_captured_value_once() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let made = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let capture = || {
            made.fetch_add(1, Ordering::SeqCst);
            DropCount(dropped.clone())
        };
        // Suspended: async tasks awaiting futures nobody completes, each polled once.
        let never = Future::<u32>::new();
        let (polled_tx, polled_rx) = mpsc::channel::<()>();
        let suspended: Vec<Future<u32>> = (0..10)
            .map(|_| {
                let (never, polled_tx, held) = (never.clone(), polled_tx.clone(), capture());
                group
                    .submit_async(async move {
                        let _held = held;
                        polled_tx.send(()).unwrap();
                        *(&never).await.unwrap()
                    })
                    .unwrap()
            })
            .collect();
        for _ in 0..10 {
            polled_rx.recv().unwrap();
        }
        // Queued: the one worker is busy outside the group, so these wait in its queue.
        let (release, _blockers) = block_workers(&pool, 1);
        let queued_closures: Vec<Future<()>> = (0..10)
            .map(|_| {
                let held = capture();
                group.submit(move || drop(held)).unwrap()
            })
            .collect();
        let queued_asyncs: Vec<Future<()>> = (0..10)
            .map(|_| {
                let held = capture();
                group.submit_async(async move { drop(held) }).unwrap()
            })
            .collect();
        for _ in 0..10 {
            let held = capture();
            group.spawn(move |_| drop(held)).unwrap();
        }
        // Work of the pool outside the group is not touched.
        let outside = pool.submit(|| 7).unwrap();
        group.cancel();
        drop(release);
        group.join().unwrap();
        for future in &suspended {
            assert!(matches!(future.try_result(), Some(Err(Error::Cancelled))));
        }
        for future in queued_closures.iter().chain(&queued_asyncs) {
            assert!(matches!(future.try_result(), Some(Err(Error::Cancelled))));
        }
        assert_eq!(*outside.result().unwrap(), 7);
        pool.join().unwrap();
        assert_eq!(made.load(Ordering::SeqCst), 40);
        assert_eq!(dropped.load(Ordering::SeqCst), 40);
    });
}

#[test]
fn submits_to_a_cancelled_group_fail_with_a_typed_error_and_drop_their_work() {
    let pool = pool(2);
    let group = TaskGroup::new(&pool);
    group.cancel();
    assert!(group.is_cancelled());
    let dropped = Arc::new(AtomicUsize::new(0));
    let held = DropCount(dropped.clone());
    assert_eq!(
        group.submit(move || drop(held)).err(),
        Some(SubmitError::Cancelled)
    );
    let held = DropCount(dropped.clone());
    assert_eq!(
        group.submit_async(async move { drop(held) }).err(),
        Some(SubmitError::Cancelled)
    );
    let held = DropCount(dropped.clone());
    assert_eq!(
        group.spawn(move |_| drop(held)),
        Err(SubmitError::Cancelled)
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
    // Nothing was counted: the group and the pool are idle.
    group.join().unwrap();
    pool.wait_idle().unwrap();
    // The pool itself still takes work.
    assert_eq!(*pool.submit(|| 1).unwrap().result().unwrap(), 1);
}

#[test]
fn a_pool_task_awaits_a_groups_join_without_holding_its_thread() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let ran = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (group, ran) = (group.clone(), ran.clone());
            pool.submit_async(async move {
                for _ in 0..20 {
                    let ran = ran.clone();
                    group
                        .spawn(move |_| {
                            ran.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                }
                // On the one worker: the group's tasks run while this task is suspended.
                group.joined().await.unwrap();
                ran.load(Ordering::SeqCst)
            })
            .unwrap()
        };
        assert_eq!(*waiter.result().unwrap(), 20);
    });
}

#[test]
fn joining_a_group_from_its_own_task_is_refused() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let blocking = {
            let group = group.clone();
            group.clone().submit(move || group.join()).unwrap()
        };
        assert!(matches!(
            blocking.result().unwrap(),
            Err(Error::WouldDeadlock)
        ));
        let awaiting = {
            let group = group.clone();
            group
                .clone()
                .submit_async(async move { group.joined().await })
                .unwrap()
        };
        assert!(matches!(
            awaiting.result().unwrap(),
            Err(Error::WouldDeadlock)
        ));
        group.join().unwrap();
    });
}

#[test]
fn a_group_task_blocking_on_another_groups_join_is_compensated_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let first = TaskGroup::new(&pool);
        let second = TaskGroup::new(&pool);
        let ran = Arc::new(AtomicBool::new(false));
        let joined = {
            let (second, ran) = (second.clone(), ran.clone());
            first
                .submit(move || {
                    let ran = ran.clone();
                    second
                        .spawn(move |_| ran.store(true, Ordering::SeqCst))
                        .unwrap();
                    second.join()
                })
                .unwrap()
        };
        assert!(matches!(joined.result().unwrap(), Ok(())));
        assert!(ran.load(Ordering::SeqCst));
        first.join().unwrap();
    });
}

#[test]
fn a_dropped_group_handle_does_not_lose_its_queued_tasks() {
    within(60, || {
        let pool = pool(1);
        let (release, _blockers) = block_workers(&pool, 1);
        let futures: Vec<Future<u32>> = {
            let group = TaskGroup::new(&pool);
            (0..10)
                .map(|n| group.submit_async(async move { n }).unwrap())
                .collect()
        };
        drop(release);
        for (n, future) in futures.iter().enumerate() {
            assert_eq!(*future.result().unwrap(), n as u32);
        }
        pool.join().unwrap();
    });
}
