//! `Future::abort`: an async task ends at its next `.await` whether queued, suspended or
//! running (its body dropped once, its future cancelled, the pool's count ended), racing its
//! completion it has exactly one outcome, and there is nothing to abort in a finished task or a
//! closure.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{block_workers, pool, yield_now, DropCount};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};

use betterconcurrent::{Error, Future};

#[test]
fn an_aborted_queued_task_never_runs_and_its_body_is_dropped_once() {
    within(60, || {
        let pool = pool(1);
        let (release, _blockers) = block_workers(&pool, 1);
        let drops = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicBool::new(false));
        let (kept, flag) = (DropCount(drops.clone()), ran.clone());
        let future = pool
            .submit_async(async move {
                let _kept = kept;
                flag.store(true, Ordering::SeqCst);
            })
            .unwrap();
        assert!(future.abort(), "a queued async task can be aborted");
        drop(release);
        assert!(matches!(future.result(), Err(Error::Cancelled)));
        pool.wait_idle().unwrap();
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn an_aborted_suspended_task_ends_though_what_it_awaits_never_completes() {
    within(60, || {
        let pool = pool(2);
        let never = Future::<u32>::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let resumed = Arc::new(AtomicBool::new(false));
        let (suspending_tx, suspending_rx) = mpsc::channel();
        let (awaited, kept, flag) = (never.clone(), DropCount(drops.clone()), resumed.clone());
        let future = pool
            .submit_async(async move {
                let _kept = kept;
                suspending_tx.send(()).unwrap();
                let _ = (&awaited).await;
                flag.store(true, Ordering::SeqCst);
            })
            .unwrap();
        suspending_rx.recv().unwrap();
        assert!(future.abort());
        assert!(matches!(future.result(), Err(Error::Cancelled)));
        // `join` counts it finished although `never` is still pending.
        pool.wait_idle().unwrap();
        assert!(!resumed.load(Ordering::SeqCst));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(never.try_result().is_none());
    });
}

#[test]
fn an_aborted_running_task_finishes_its_poll_and_ends_at_its_next_await() {
    within(60, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let after_await = Arc::new(AtomicBool::new(false));
        let in_poll = Arc::new(Barrier::new(2));
        let aborted = Arc::new(Barrier::new(2));
        let (kept, flag) = (DropCount(drops.clone()), after_await.clone());
        let (in_poll_task, aborted_task) = (in_poll.clone(), aborted.clone());
        let future = pool
            .submit_async(async move {
                let _kept = kept;
                // Inside the first poll: tell the test, wait until it aborted, then suspend.
                in_poll_task.wait();
                aborted_task.wait();
                yield_now().await;
                flag.store(true, Ordering::SeqCst);
            })
            .unwrap();
        in_poll.wait();
        assert!(future.abort(), "a running async task can be aborted");
        aborted.wait();
        assert!(matches!(future.result(), Err(Error::Cancelled)));
        pool.wait_idle().unwrap();
        assert!(
            !after_await.load(Ordering::SeqCst),
            "it stopped at its `.await`"
        );
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn abort_racing_completion_gives_exactly_one_outcome() {
    within(120, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut values, mut cancelled) = (0, 0);
        for round in 0..300u32 {
            let kept = DropCount(drops.clone());
            let future = pool
                .submit_async(async move {
                    let _kept = kept;
                    if round % 2 == 0 {
                        yield_now().await;
                    }
                    round
                })
                .unwrap();
            let aborter = {
                let future = future.clone();
                std::thread::spawn(move || future.abort())
            };
            let aborted = aborter.join().unwrap();
            match future.result() {
                Ok(value) => {
                    assert_eq!(*value, round);
                    values += 1;
                }
                Err(Error::Cancelled) => {
                    assert!(aborted, "only an abort that landed cancels");
                    cancelled += 1;
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        pool.wait_idle().unwrap();
        assert_eq!(values + cancelled, 300);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            300,
            "every body dropped exactly once"
        );
    });
}

#[test]
fn there_is_nothing_to_abort_in_a_finished_task_a_closure_or_a_free_future() {
    let pool = pool(1);
    let finished = pool.submit_async(async { 1 }).unwrap();
    assert_eq!(*finished.result().unwrap(), 1);
    assert!(!finished.abort());
    assert_eq!(*finished.result().unwrap(), 1, "the outcome stands");
    let closure = pool.submit(|| 2).unwrap();
    assert!(!closure.abort());
    assert_eq!(*closure.result().unwrap(), 2);
    assert!(!Future::<u8>::new().abort());
}

#[test]
fn an_aborted_task_of_a_group_ends_in_the_group_and_its_join_returns() {
    within(60, || {
        let pool = pool(2);
        let group = betterconcurrent::TaskGroup::new(&pool);
        let never = Future::<()>::new();
        let awaited = never.clone();
        let future = group
            .submit_async(async move {
                let _ = (&awaited).await;
            })
            .unwrap();
        // Queued, running or suspended by now: the abort ends it in each.
        assert!(future.abort());
        group.join().unwrap();
        assert!(matches!(future.result(), Err(Error::Cancelled)));
    });
}
