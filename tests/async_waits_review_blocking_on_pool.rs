//! The blocking forms, now sharing the async forms' machinery, used on a pool's own thread of a
//! 1-worker pool over children queued on that same pool (nothing else could run them): `wait`
//! in every mode, timed and untimed, and `as_completed`, must not deadlock and must give the
//! documented answers; nested blocking-over-async-over-blocking waits as well.
#![cfg(not(feature = "loom"))]

use std::time::Duration;

use betterconcurrent::{
    as_completed, as_completed_async, wait, wait_async, Executor, Future, ReturnWhen,
};
use futures::StreamExt as _;

mod common;
use common::watchdog::within;

fn children(executor: &Executor, n: u32) -> Vec<Future<u32>> {
    (0..n)
        .map(|i| executor.submit(move || i).unwrap())
        .collect()
}

#[test]
fn blocking_waits_in_every_mode_on_the_only_worker() {
    within(30, || {
        let pool = common::pool(1);
        for mode in [
            ReturnWhen::FirstCompleted,
            ReturnWhen::FirstException,
            ReturnWhen::AllCompleted,
        ] {
            for timeout in [None, Some(Duration::from_secs(20))] {
                let outer = pool
                    .submit(move || {
                        let executor = Executor::current().unwrap();
                        let kids = children(&executor, 4);
                        let w = wait(&kids, timeout, mode);
                        let all = wait(&kids, None, ReturnWhen::AllCompleted);
                        (w.done.len(), all.done.len())
                    })
                    .unwrap();
                let (first, all) = outer.into_result().unwrap();
                match mode {
                    ReturnWhen::FirstCompleted => assert!(first >= 1, "{mode:?} {timeout:?}"),
                    _ => assert_eq!(first, 4, "{mode:?} {timeout:?}"),
                }
                assert_eq!(all, 4);
            }
        }
        pool.join().unwrap();
    });
}

#[test]
fn blocking_as_completed_on_the_only_worker() {
    within(30, || {
        let pool = common::pool(1);
        for timeout in [None, Some(Duration::from_secs(20))] {
            let outer = pool
                .submit(move || {
                    let executor = Executor::current().unwrap();
                    let kids = children(&executor, 5);
                    let mut got: Vec<u32> = as_completed(&kids, timeout)
                        .map(|f| *f.unwrap().try_result().unwrap().unwrap())
                        .collect();
                    got.sort();
                    got
                })
                .unwrap();
            assert_eq!(*outer.result().unwrap(), [0, 1, 2, 3, 4], "{timeout:?}");
        }
        pool.join().unwrap();
    });
}

/// blocking wait (closure) -> async tasks that wait_async -> closures that block with
/// as_completed over their own children, all on one worker.
#[test]
fn blocking_over_async_over_blocking() {
    within(30, || {
        let pool = common::pool(1);
        let outer = pool
            .submit(|| {
                let executor = Executor::current().unwrap();
                let mids: Vec<Future<u32>> = (0..3)
                    .map(|_| {
                        executor
                            .submit_async(async move {
                                let executor = Executor::current().unwrap();
                                let leaves: Vec<Future<u32>> = (0..3)
                                    .map(|_| {
                                        executor
                                            .submit(|| {
                                                let executor = Executor::current().unwrap();
                                                let kids = children(&executor, 3);
                                                as_completed(&kids, None)
                                                    .map(|f| {
                                                        *f.unwrap().try_result().unwrap().unwrap()
                                                    })
                                                    .sum::<u32>()
                                            })
                                            .unwrap()
                                    })
                                    .collect();
                                let mut sum = 0;
                                let mut s = as_completed_async(&leaves, None);
                                while let Some(f) = s.next().await {
                                    sum += *f.unwrap().try_result().unwrap().unwrap();
                                }
                                let w = wait_async(&leaves, None, ReturnWhen::AllCompleted).await;
                                assert_eq!(w.done.len(), 3);
                                sum
                            })
                            .unwrap()
                    })
                    .collect();
                let w = wait(&mids, None, ReturnWhen::FirstException);
                w.done
                    .iter()
                    .map(|f| *f.try_result().unwrap().unwrap())
                    .sum::<u32>()
            })
            .unwrap();
        // Each leaf sums 0 + 1 + 2 = 3; 3 leaves per mid, 3 mids.
        assert_eq!(*outer.result().unwrap(), 27);
        pool.join().unwrap();
    });
}
