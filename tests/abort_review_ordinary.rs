//! Review of `Future::abort`: ordinary programs (a parent aborting its subtasks, aborts from
//! another thread, many aborts, awaiting an aborted task from another task, a 1-worker pool,
//! groups, scopes, the `LocalExecutor`).
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{block_workers, pool, yield_now, DropCount};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};

use betterconcurrent::{Error, Executor, Future, LocalExecutor, TaskGroup};

/// A parent task submits subtasks that await a future nobody completes, aborts them, then
/// awaits each: every one ends cancelled, every body is dropped once, and the pool goes idle.
#[test]
fn a_parent_task_aborts_its_suspended_subtasks_and_awaits_them() {
    within(60, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let never = Future::<()>::new();
        let (d, n) = (drops.clone(), never.clone());
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let started = Arc::new(AtomicUsize::new(0));
                let all_started = Future::<()>::new();
                let mut children = Vec::new();
                for _ in 0..50 {
                    let (kept, never, started, all_started) = (
                        DropCount(d.clone()),
                        n.clone(),
                        started.clone(),
                        all_started.clone(),
                    );
                    children.push(
                        executor
                            .submit_async(async move {
                                let _kept = kept;
                                if started.fetch_add(1, Ordering::SeqCst) + 1 == 50 {
                                    all_started.set_result(()).unwrap();
                                }
                                let _ = (&never).await;
                                unreachable!("never completes");
                            })
                            .unwrap(),
                    );
                }
                (&all_started).await.unwrap();
                for child in &children {
                    assert!(child.abort());
                }
                let mut cancelled = 0;
                for child in &children {
                    match child.await {
                        Err(Error::Cancelled) => cancelled += 1,
                        other => panic!("{other:?}"),
                    }
                }
                cancelled
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 50);
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 50);
        assert_eq!(pool.stats().tasks_outstanding, 0);
        assert!(never.try_result().is_none());
        assert_eq!(
            never.waiter_count(),
            0,
            "the aborted tasks' wakers were dropped"
        );
    });
}

/// The same from the submitting thread, with children queued behind a blocked pool, running,
/// suspended and done, aborted from another thread, many at once.
#[test]
fn many_tasks_aborted_from_another_thread_each_end_once() {
    within(120, || {
        let pool = pool(2);
        let before = pool.stats().tasks_completed;
        let drops = Arc::new(AtomicUsize::new(0));
        let never = Future::<()>::new();
        const TASKS: usize = 2_000;
        let futures: Vec<Future<usize>> = (0..TASKS)
            .map(|i| {
                let (kept, never) = (DropCount(drops.clone()), never.clone());
                pool.submit_async(async move {
                    let _kept = kept;
                    match i % 3 {
                        0 => i,
                        1 => {
                            yield_now().await;
                            i
                        }
                        _ => {
                            let _ = (&never).await;
                            i
                        }
                    }
                })
                .unwrap()
            })
            .collect();
        let aborter = {
            let futures = futures.clone();
            std::thread::spawn(move || futures.iter().filter(|f| f.abort()).count())
        };
        let landed = aborter.join().unwrap();
        let (mut values, mut cancelled) = (0, 0);
        for (i, future) in futures.iter().enumerate() {
            match future.result() {
                Ok(v) => {
                    assert_eq!(*v, i);
                    assert_ne!(i % 3, 2, "task {i} awaited a future that never completes");
                    values += 1;
                }
                Err(Error::Cancelled) => cancelled += 1,
                Err(other) => panic!("task {i}: {other:?}"),
            }
        }
        assert!(cancelled <= landed);
        assert_eq!(values + cancelled, TASKS);
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), TASKS);
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0, "{stats:?}");
        assert_eq!(stats.tasks_suspended, 0, "{stats:?}");
        assert_eq!(stats.tasks_completed - before, TASKS as u64, "{stats:?}");
        assert_eq!(stats.tasks_panicked, 0);
    });
}

/// On a 1-worker pool a parent aborts a child queued behind it (the one worker is busy with
/// the parent) and awaits it: the child must end without ever running, and nothing deadlocks.
#[test]
fn on_a_one_worker_pool_a_parent_aborts_a_queued_child_and_awaits_it() {
    within(60, || {
        let pool = pool(1);
        let ran = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicUsize::new(0));
        let (r, d) = (ran.clone(), drops.clone());
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let kept = DropCount(d);
                let child = executor
                    .submit_async(async move {
                        let _kept = kept;
                        r.store(true, Ordering::SeqCst);
                    })
                    .unwrap();
                assert!(child.abort());
                assert!(matches!((&child).await, Err(Error::Cancelled)));
                assert!(!child.abort(), "nothing left to abort");
            })
            .unwrap();
        parent.result().unwrap();
        pool.join().unwrap();
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// A 1-worker pool whose only worker is a task that awaits an aborted, suspended sibling: the
/// abort queues the sibling, the worker ends it, and the waiter resumes.
#[test]
fn on_a_one_worker_pool_a_task_awaits_a_sibling_another_thread_aborts() {
    within(60, || {
        let pool = pool(1);
        let never = Future::<()>::new();
        let (suspended_tx, suspended_rx) = mpsc::channel();
        let n = never.clone();
        let sibling = pool
            .submit_async(async move {
                suspended_tx.send(()).unwrap();
                let _ = (&n).await;
                7
            })
            .unwrap();
        suspended_rx.recv().unwrap();
        let s = sibling.clone();
        let waiter = pool
            .submit_async(async move { matches!((&s).await, Err(Error::Cancelled)) })
            .unwrap();
        assert!(sibling.abort());
        assert!(*waiter.result().unwrap());
        pool.join().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// Abort twice: both report an unfinished task until it ended, then false; one outcome.
#[test]
fn abort_twice_and_after_the_end() {
    within(60, || {
        let pool = pool(1);
        let (release, _blockers) = block_workers(&pool, 1);
        let drops = Arc::new(AtomicUsize::new(0));
        let kept = DropCount(drops.clone());
        let future = pool
            .submit_async(async move {
                let _kept = kept;
                1
            })
            .unwrap();
        assert!(future.abort());
        assert!(future.abort(), "still unfinished: queued");
        drop(release);
        assert!(matches!(future.result(), Err(Error::Cancelled)));
        assert!(!future.abort());
        pool.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Tasks of a group, aborted while queued, running and suspended: the group's join returns and
/// the group's tasks were each dropped once; the group still accepts and runs new work.
#[test]
fn aborted_tasks_of_a_group_count_finished_in_the_group() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let drops = Arc::new(AtomicUsize::new(0));
        let never = Future::<()>::new();
        let started = Arc::new(Barrier::new(2));
        let go_on = Arc::new(Barrier::new(2));
        // Running: in its first poll until the test aborted it.
        let (kept, s, g, n) = (
            DropCount(drops.clone()),
            started.clone(),
            go_on.clone(),
            never.clone(),
        );
        let running = group
            .submit_async(async move {
                let _kept = kept;
                s.wait();
                g.wait();
                let _ = (&n).await;
            })
            .unwrap();
        started.wait();
        // Suspended ones.
        let (tx, rx) = mpsc::channel();
        let suspended: Vec<_> = (0..10)
            .map(|_| {
                let (kept, n, tx) = (DropCount(drops.clone()), never.clone(), tx.clone());
                group
                    .submit_async(async move {
                        let _kept = kept;
                        tx.send(()).unwrap();
                        let _ = (&n).await;
                    })
                    .unwrap()
            })
            .collect();
        for _ in 0..10 {
            rx.recv().unwrap();
        }
        assert!(running.abort());
        go_on.wait();
        for future in &suspended {
            assert!(future.abort());
        }
        group.join().unwrap();
        assert!(matches!(running.result(), Err(Error::Cancelled)));
        for future in &suspended {
            assert!(matches!(future.result(), Err(Error::Cancelled)));
        }
        assert_eq!(drops.load(Ordering::SeqCst), 11);
        assert_eq!(
            *group.submit_async(async { 3 }).unwrap().result().unwrap(),
            3
        );
        group.join().unwrap();
        pool.wait_idle().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// A scope's async task borrowing the caller's locals, aborted while suspended on a future
/// that never completes: the scope returns, and the borrowed local saw the body's drop before.
#[test]
fn a_scope_returns_after_its_aborted_task_dropped_its_borrows() {
    within(60, || {
        let pool = pool(2);
        let dropped_in_scope = AtomicUsize::new(0);
        let never = Future::<()>::new();
        struct Borrowing<'a>(&'a AtomicUsize);
        impl Drop for Borrowing<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let outcome = pool.scope(|scope| {
            let (tx, rx) = mpsc::channel();
            let futures: Vec<_> = (0..4)
                .map(|_| {
                    let (borrowing, never, tx) = (Borrowing(&dropped_in_scope), &never, tx.clone());
                    scope
                        .submit_async(async move {
                            let _borrowing = borrowing;
                            tx.send(()).unwrap();
                            let _ = never.await;
                        })
                        .unwrap()
                })
                .collect();
            for _ in 0..4 {
                rx.recv().unwrap();
            }
            for future in &futures {
                assert!(future.abort());
            }
            futures
        });
        assert_eq!(dropped_in_scope.load(Ordering::SeqCst), 4);
        for future in &outcome {
            assert!(matches!(future.try_result(), Some(Err(Error::Cancelled))));
        }
        pool.wait_idle().unwrap();
    });
}

/// A scope's task aborted while still queued (the workers blocked): the scope's thread or a
/// worker ends it, and the scope returns.
#[test]
fn a_scope_with_a_queued_aborted_task_returns() {
    within(60, || {
        let pool = pool(1);
        let (release, _blockers) = block_workers(&pool, 1);
        let ran = AtomicBool::new(false);
        pool.scope(|scope| {
            let ran = &ran;
            let future = scope
                .submit_async(async move {
                    ran.store(true, Ordering::SeqCst);
                })
                .unwrap();
            assert!(future.abort());
            drop(release);
        });
        assert!(!ran.load(Ordering::SeqCst));
        pool.wait_idle().unwrap();
    });
}

/// The `LocalExecutor`: abort a queued task, a suspended one, and one that aborts itself in
/// its poll; `outstanding` goes back to zero and every body is dropped once.
#[test]
fn local_executor_aborts_queued_suspended_and_self_aborted_tasks() {
    let executor = LocalExecutor::<8>::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let never = Future::<()>::new();
    let ran = Arc::new(AtomicBool::new(false));
    let (kept, r) = (DropCount(drops.clone()), ran.clone());
    let queued = executor
        .spawn(async move {
            let _kept = kept;
            r.store(true, Ordering::SeqCst);
        })
        .unwrap();
    let (kept, n) = (DropCount(drops.clone()), never.clone());
    let suspended = executor
        .spawn(async move {
            let _kept = kept;
            let _ = (&n).await;
        })
        .unwrap();
    let me = Arc::new(std::sync::Mutex::new(None::<Future<()>>));
    let (kept, m, n) = (DropCount(drops.clone()), me.clone(), never.clone());
    let self_aborting = executor
        .spawn(async move {
            let _kept = kept;
            let own = m.lock().unwrap().take().unwrap();
            assert!(own.abort(), "it is running: the abort lands");
            let _ = (&n).await;
            unreachable!("stopped at the await");
        })
        .unwrap();
    *me.lock().unwrap() = Some(self_aborting.clone());
    assert!(queued.abort());
    executor.run_until_idle();
    assert!(!ran.load(Ordering::SeqCst));
    assert!(matches!(queued.try_result(), Some(Err(Error::Cancelled))));
    assert!(matches!(
        self_aborting.try_result(),
        Some(Err(Error::Cancelled))
    ));
    assert!(suspended.try_result().is_none());
    assert_eq!(executor.outstanding(), 1);
    assert!(suspended.abort());
    executor.run_until_idle();
    assert!(matches!(
        suspended.try_result(),
        Some(Err(Error::Cancelled))
    ));
    assert_eq!(executor.outstanding(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert_eq!(never.waiter_count(), 0);
}

/// A `LocalExecutor` task awaiting another that is aborted, inside `block_on`.
#[test]
fn local_executor_block_on_an_aborted_task() {
    let executor = LocalExecutor::<4>::new();
    let never = Future::<u8>::new();
    let n = never.clone();
    let victim = executor.spawn(async move { *(&n).await.unwrap() }).unwrap();
    let v = victim.clone();
    let waiter = executor
        .spawn(async move { matches!((&v).await, Err(Error::Cancelled)) })
        .unwrap();
    executor.run_until_idle();
    assert!(victim.abort());
    assert!(executor.block_on(&waiter).copied().unwrap());
    executor.join();
    assert_eq!(executor.outstanding(), 0);
}

/// A `LocalExecutor` dropped with a suspended task: aborting it afterwards still ends it.
#[test]
fn local_executor_dropped_then_abort() {
    let drops = Arc::new(AtomicUsize::new(0));
    let never = Future::<()>::new();
    let executor = LocalExecutor::<4>::new();
    let (kept, n) = (DropCount(drops.clone()), never.clone());
    let suspended = executor
        .spawn(async move {
            let _kept = kept;
            let _ = (&n).await;
        })
        .unwrap();
    executor.run_until_idle();
    drop(executor);
    assert!(suspended.abort());
    assert!(matches!(
        suspended.try_result(),
        Some(Err(Error::Cancelled))
    ));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// `cancel()` keeps Python's meaning beside `abort()`: a closure's future can be cancelled
/// while queued, not aborted; an async task's can be cancelled while queued too.
#[test]
fn abort_and_cancel_of_queued_work() {
    within(60, || {
        let pool = pool(1);
        let (release, _blockers) = block_workers(&pool, 1);
        let closure = pool.submit(|| 1).unwrap();
        assert!(!closure.abort());
        let task = pool.submit_async(async { 2 }).unwrap();
        assert!(task.cancel());
        assert!(task.abort(), "cancelled but its body not dropped yet");
        drop(release);
        assert_eq!(*closure.result().unwrap(), 1);
        assert!(matches!(task.result(), Err(Error::Cancelled)));
        pool.wait_idle().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}
