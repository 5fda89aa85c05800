//! Adversarial review of task groups: async tasks (woken during their own poll, cancelled while
//! yielding, suspended with no waker, awaiting joins of other groups).
#![cfg(not(feature = "loom"))]

mod common;
use common::in_group;
use common::watchdog::within;
use common::{pool, DropCount};

use std::future::Future as StdFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, TaskGroup};

/// Wakes itself during its own poll once, then is ready.

#[test]
fn async_group_tasks_woken_during_their_own_poll_stay_in_the_group() {
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let mut futures = Vec::new();
        for i in 0..20u32 {
            let (g, other) = if i % 2 == 0 {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            let (g2, o2) = (g.clone(), other.clone());
            futures.push(
                g.submit_async(async move {
                    let mut ok = true;
                    for _ in 0..50 {
                        common::yield_now().await;
                        ok &= in_group(&g2) && !in_group(&o2);
                        // A subtask through current() after the yield is in the group too.
                        let g3 = g2.clone();
                        let sub = Executor::current()
                            .unwrap()
                            .submit(move || in_group(&g3))
                            .unwrap();
                        ok &= *(&sub).await.unwrap();
                    }
                    ok
                })
                .unwrap(),
            );
        }
        a.join().unwrap();
        b.join().unwrap();
        for f in &futures {
            assert!(
                matches!(f.try_result(), Some(Ok(true))),
                "{:?}",
                f.try_result().map(|r| r.ok().copied())
            );
        }
    });
}

#[test]
fn cancelling_a_group_whose_async_tasks_keep_yielding() {
    within(60, || {
        let pool = pool(2);
        for _ in 0..20 {
            let group = TaskGroup::new(&pool);
            let dropped = Arc::new(AtomicUsize::new(0));
            let polls = Arc::new(AtomicUsize::new(0));
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let futures: Vec<Future<()>> = (0..6)
                .map(|_| {
                    let held = DropCount(dropped.clone());
                    let (polls, started_tx) = (polls.clone(), started_tx.clone());
                    group
                        .submit_async(async move {
                            let _held = held;
                            let _ = started_tx.send(());
                            loop {
                                polls.fetch_add(1, Ordering::SeqCst);
                                common::yield_now().await;
                            }
                        })
                        .unwrap()
                })
                .collect();
            for _ in 0..6 {
                started_rx.recv().unwrap();
            }
            group.cancel();
            group.join().unwrap();
            for f in &futures {
                assert!(matches!(f.try_result(), Some(Err(Error::Cancelled))));
            }
            assert_eq!(dropped.load(Ordering::SeqCst), 6);
            let p = polls.load(Ordering::SeqCst);
            std::thread::yield_now();
            assert_eq!(
                polls.load(Ordering::SeqCst),
                p,
                "a cancelled task was polled after join"
            );
        }
        pool.wait_idle().unwrap();
    });
}

/// A suspended group task whose waker was dropped (it awaits `pending()`): nothing can wake
/// it; join must not wait forever for it (documented: the executor ends it when freed), or,
/// if the user still holds its future, cancel must end it.
#[test]
fn a_suspended_group_task_nobody_can_wake() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let dropped = Arc::new(AtomicUsize::new(0));
        let held = DropCount(dropped.clone());
        drop(
            group
                .submit_async(async move {
                    let _held = held;
                    std::future::pending::<()>().await
                })
                .unwrap(),
        );
        group.join_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(dropped.load(Ordering::SeqCst), 1);

        let held = DropCount(dropped.clone());
        let kept = group
            .submit_async(async move {
                let _held = held;
                std::future::pending::<()>().await
            })
            .unwrap();
        match group.join_timeout(Duration::from_millis(100)) {
            Ok(()) => assert_eq!(dropped.load(Ordering::SeqCst), 2),
            Err(Error::Timeout) => {
                group.cancel();
                group.join_timeout(Duration::from_secs(20)).unwrap();
                assert!(matches!(kept.try_result(), Some(Err(Error::Cancelled))));
                assert_eq!(dropped.load(Ordering::SeqCst), 2);
            }
            Err(other) => panic!("{other:?}"),
        }
        pool.wait_idle_timeout(Duration::from_secs(20)).unwrap();
    });
}

/// Async tasks of a chain of groups, each awaiting the next group's `joined()`, on one
/// worker: nobody holds the thread, everything converges.
#[test]
fn a_chain_of_groups_awaiting_each_others_joins_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let groups: Vec<TaskGroup> = (0..6).map(|_| TaskGroup::new(&pool)).collect();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut futures = Vec::new();
        // Last group first: when task `i` awaits group `i + 1`'s join, that group has its task
        // already (submitted in order, task 0 could start, find group 1 still empty, and finish
        // first).
        for i in (0..groups.len()).rev() {
            let next = groups.get(i + 1).cloned();
            let order = order.clone();
            futures.push(
                groups[i]
                    .submit_async(async move {
                        if let Some(next) = next {
                            next.joined().await.unwrap();
                        }
                        order.lock().unwrap().push(i);
                    })
                    .unwrap(),
            );
        }
        for g in &groups {
            g.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![5, 4, 3, 2, 1, 0]);
        // joined() of a parent from a child's async task: refused.
        let parent = TaskGroup::new(&pool);
        let child = TaskGroup::new(&parent.executor());
        let p = parent.clone();
        let f = child.submit_async(async move { p.joined().await }).unwrap();
        assert!(matches!(f.result().unwrap(), Err(Error::WouldDeadlock)));
        parent.join().unwrap();
    });
}

/// A GroupJoin polled, then dropped before completion, then the group finishes: nothing hangs,
/// later joins work (its waiter was removed).
#[test]
fn a_dropped_pending_group_join_leaves_nothing_behind() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let gate = Future::<()>::new();
        let g = gate.clone();
        group
            .submit_async(async move {
                (&g).await.unwrap();
            })
            .unwrap();
        for _ in 0..100 {
            let mut join = Box::pin(group.joined());
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(join.as_mut().poll(&mut cx).is_pending());
            drop(join);
        }
        gate.set_result(()).unwrap();
        group.join().unwrap();
        futures::executor::block_on(group.joined()).unwrap();
        // A completed GroupJoin polled again stays Ready(Ok).
        let mut join = Box::pin(group.joined());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(join.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
        assert!(matches!(join.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    });
}
