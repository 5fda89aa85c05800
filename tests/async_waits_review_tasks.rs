//! The async waits in pool tasks that do more than wait: nested waits (a tree of tasks, each
//! waiting with `wait_async` / the stream / `yield_until_done_timeout` on children that do the
//! same) on one worker; abort of a task suspended in each wait (it ends cancelled, its body is
//! dropped once, the futures it watched lose its waker, and completing them later is harmless);
//! shutdown with `cancel_futures` while tasks are suspended in waits; panicking subtasks; and
//! cancelling queued subtasks (cancelled futures count as done, not as exceptions).
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{
    as_completed_async, wait, wait_async, yield_until_done_timeout, Error, Executor, Future,
    ReturnWhen,
};
use futures::StreamExt as _;

mod common;
use common::watchdog::within;
use common::DropCount;

/// A tree of async tasks: each node with `depth > 0` submits `fan` children and waits for them
/// with the wait picked by `depth % 3`; leaves return 1. The root's value counts the leaves.
fn node(executor: Executor, depth: u32, fan: u32) -> Future<u64> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if depth == 0 {
                return 1u64;
            }
            let kids: Vec<Future<u64>> = (0..fan)
                .map(|_| node(executor.clone(), depth - 1, fan))
                .collect();
            match depth % 3 {
                0 => {
                    let w = wait_async(&kids, None, ReturnWhen::AllCompleted).await;
                    assert!(w.not_done.is_empty());
                    w.done
                        .iter()
                        .map(|f| *f.try_result().unwrap().unwrap())
                        .sum()
                }
                1 => {
                    as_completed_async(&kids, Some(Duration::from_secs(60)))
                        .map(|f| *f.unwrap().try_result().unwrap().unwrap())
                        .fold(0, |a, b| async move { a + b })
                        .await
                }
                _ => {
                    // FirstCompleted repeatedly until none is left.
                    let mut left = kids;
                    let mut sum = 0;
                    while !left.is_empty() {
                        let w = wait_async(&left, None, ReturnWhen::FirstCompleted).await;
                        assert!(!w.done.is_empty());
                        sum += w
                            .done
                            .iter()
                            .map(|f| *f.try_result().unwrap().unwrap())
                            .sum::<u64>();
                        left = w.not_done;
                    }
                    assert!(yield_until_done_timeout(&left, Some(Duration::ZERO)).await);
                    sum
                }
            }
        })
        .unwrap()
}

#[test]
fn nested_waits_on_one_worker() {
    within(60, || {
        let pool = common::pool(1);
        let root = node(pool.executor(), 6, 3);
        assert_eq!(*root.result().unwrap(), 3u64.pow(6));
        pool.join().unwrap();
    });
}

#[test]
fn nested_waits_on_two_workers() {
    within(60, || {
        let pool = common::pool(2);
        for _ in 0..5 {
            let root = node(pool.executor(), 5, 4);
            assert_eq!(*root.result().unwrap(), 4u64.pow(5));
        }
        pool.join().unwrap();
    });
}

/// A blocking `wait` on a pool thread whose children wait with `wait_async`: the blocking wait
/// must not deadlock the 1-worker pool.
#[test]
fn blocking_wait_on_a_pool_thread_over_tasks_that_wait_async() {
    within(60, || {
        let pool = common::pool(1);
        let outer = pool
            .submit(|| {
                let executor = Executor::current().unwrap();
                let kids: Vec<Future<u64>> = (0..3).map(|_| node(executor.clone(), 3, 2)).collect();
                let w = wait(&kids, None, ReturnWhen::AllCompleted);
                let w2 = wait(
                    &kids,
                    Some(Duration::from_secs(30)),
                    ReturnWhen::FirstCompleted,
                );
                (
                    w.done
                        .iter()
                        .map(|f| *f.try_result().unwrap().unwrap())
                        .sum::<u64>(),
                    w2.done.len(),
                )
            })
            .unwrap();
        assert_eq!(*outer.result().unwrap(), (24, 3));
        pool.join().unwrap();
    });
}

/// Abort a task suspended in each kind of wait: it ends cancelled, its captures are dropped
/// once, and the futures it watched hold no waker afterwards; completing them later is fine.
#[test]
fn abort_of_a_task_suspended_in_a_wait() {
    within(30, || {
        let pool = common::pool(1);
        for kind in 0..4 {
            let watched: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
            let drops = Arc::new(AtomicUsize::new(0));
            let kept = DropCount(drops.clone());
            let inside = watched.clone();
            let (reached_tx, reached_rx) = mpsc::channel();
            let task = pool
                .submit_async(async move {
                    let _kept = kept;
                    reached_tx.send(()).unwrap();
                    match kind {
                        0 => {
                            wait_async(&inside, None, ReturnWhen::AllCompleted).await;
                        }
                        1 => {
                            wait_async(
                                &inside,
                                Some(Duration::from_secs(60)),
                                ReturnWhen::FirstCompleted,
                            )
                            .await;
                        }
                        2 => {
                            let _ = as_completed_async(&inside, Some(Duration::from_secs(60)))
                                .next()
                                .await;
                        }
                        _ => {
                            yield_until_done_timeout(&inside, None).await;
                        }
                    }
                    unreachable!("the wait returned although nothing completed");
                })
                .unwrap();
            reached_rx.recv().unwrap();
            // Wait until the task is suspended in the wait (its wakers registered).
            let start = std::time::Instant::now();
            // (yield_until_done watches one future at a time.)
            while !(if kind == 3 {
                watched.iter().any(|f| f.waiter_count() > 0)
            } else {
                watched.iter().all(|f| f.waiter_count() > 0)
            }) {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "kind {kind}: never suspended"
                );
                std::thread::yield_now();
            }
            assert!(task.abort(), "kind {kind}");
            assert!(
                matches!(task.result(), Err(Error::Cancelled)),
                "kind {kind}"
            );
            assert_eq!(
                drops.load(Ordering::SeqCst),
                1,
                "kind {kind}: body dropped once"
            );
            assert!(
                watched.iter().all(|f| f.waiter_count() == 0),
                "kind {kind}: wakers left on the watched futures"
            );
            for f in &watched {
                f.set_result(1).unwrap();
            }
            assert_eq!(drops.load(Ordering::SeqCst), 1);
        }
        pool.wait_idle().unwrap();
        pool.join().unwrap();
    });
}

/// Abort the task while its watched futures are completing on other threads (the wake and the
/// abort race): exactly one outcome, no hang.
#[test]
fn abort_racing_the_completion_that_would_wake_the_wait() {
    within(60, || {
        let pool = common::pool(2);
        for round in 0..300 {
            let watched: Vec<Future<u32>> = (0..2).map(|_| Future::new()).collect();
            let inside = watched.clone();
            let task = pool
                .submit_async(async move {
                    let w = wait_async(&inside, None, ReturnWhen::AllCompleted).await;
                    w.done.len()
                })
                .unwrap();
            let completer = {
                let watched = watched.clone();
                std::thread::spawn(move || {
                    for f in &watched {
                        f.set_result(0).unwrap();
                    }
                })
            };
            let aborted = task.abort();
            completer.join().unwrap();
            match task.result() {
                Ok(n) => assert_eq!(*n, 2, "round {round}"),
                Err(Error::Cancelled) => assert!(aborted, "round {round}"),
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        pool.join().unwrap();
    });
}

/// Shutdown with `cancel_futures` while tasks are suspended in waits on futures that never
/// complete: the tasks end cancelled and the watched futures keep no waker.
#[test]
fn shutdown_cancel_futures_ends_tasks_suspended_in_waits() {
    within(30, || {
        let pool = common::pool(1);
        let never: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let drops = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for kind in 0..3 {
            let inside = never.clone();
            let kept = DropCount(drops.clone());
            tasks.push(
                pool.submit_async(async move {
                    let _kept = kept;
                    match kind {
                        0 => wait_async(&inside, None, ReturnWhen::FirstException)
                            .await
                            .done
                            .len(),
                        1 => as_completed_async(&inside, None).count().await,
                        _ => usize::from(yield_until_done_timeout(&inside, None).await),
                    }
                })
                .unwrap(),
            );
        }
        let start = std::time::Instant::now();
        // (yield_until_done watches one future at a time: the first.)
        while !(never[0].waiter_count() >= 3 && never[1..].iter().all(|f| f.waiter_count() >= 2)) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "tasks never suspended"
            );
            std::thread::yield_now();
        }
        pool.shutdown(true, true);
        for t in &tasks {
            assert!(
                matches!(t.result(), Err(Error::Cancelled)),
                "{:?}",
                t.result()
            );
        }
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        assert!(
            never.iter().all(|f| f.waiter_count() == 0),
            "{:?}",
            never.iter().map(Future::waiter_count).collect::<Vec<_>>()
        );
    });
}

#[test]
fn panicking_subtasks_end_first_exception_and_show_in_the_stream() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let gate = Future::<()>::new();
                let g = gate.clone();
                let slow = executor
                    .submit_async(async move {
                        (&g).await.unwrap();
                        0u32
                    })
                    .unwrap();
                let ok = executor.submit(|| 1u32).unwrap();
                (&ok).await.unwrap();
                let bad = executor
                    .submit(|| -> u32 { panic!("child panicked") })
                    .unwrap();
                let w = wait_async([&slow, &ok, &bad], None, ReturnWhen::FirstException).await;
                let has_bad = w.done.len() == 2 && w.done[0] == ok && w.done[1] == bad;
                let slow_pending = w.not_done.len() == 1 && w.not_done[0] == slow;
                // The stream yields the panicked one as an item (Ok(future)) whose result is
                // the panic.
                let items: Vec<String> = as_completed_async([&bad, &ok], None)
                    .map(|item| match item.unwrap().try_result().unwrap() {
                        Ok(v) => format!("ok {v}"),
                        Err(Error::Panicked(p)) => format!("panicked {}", p),
                        Err(e) => format!("other {e:?}"),
                    })
                    .collect()
                    .await;
                gate.set_result(()).unwrap();
                (has_bad, slow_pending, items)
            })
            .unwrap();
        let (has_bad, slow_pending, items) = parent.into_result().unwrap();
        assert!(
            has_bad && slow_pending,
            "has_bad {has_bad} slow_pending {slow_pending}"
        );
        assert_eq!(items.len(), 2);
        assert!(
            items[0].starts_with("panicked") && items[0].contains("child panicked"),
            "{items:?}"
        );
        assert_eq!(items[1], "ok 1");
        pool.join().unwrap();
    });
}

/// With the only worker held by a blocking closure, children submitted from outside stay
/// queued; cancel them one by one while a FirstException wait (polled by hand) watches them:
/// it returns only when all are done.
#[test]
fn cancellations_do_not_end_first_exception_but_finish_all() {
    within(30, || {
        let pool = common::pool(1);
        let (release, _blockers) = common::block_workers(&pool, 1);
        let kids: Vec<Future<u32>> = (0..3).map(|i| pool.submit(move || i).unwrap()).collect();
        let mut w = Box::pin(wait_async(&kids, None, ReturnWhen::FirstException));
        let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        assert!(kids[0].cancel());
        assert!(kids[2].cancel());
        assert!(
            w.as_mut().poll(&mut cx).is_pending(),
            "returned on a cancellation"
        );
        assert!(kids[1].cancel());
        let std::task::Poll::Ready(r) = w.as_mut().poll(&mut cx) else {
            panic!("all cancelled but still pending")
        };
        assert_eq!((r.done.len(), r.not_done.len()), (3, 0));
        // Done order: completion order 0, 2, 1.
        assert!(r.done[0] == kids[0] && r.done[1] == kids[2] && r.done[2] == kids[1]);
        drop(release);
        pool.join().unwrap();
    });
}
