//! Issue 15's async forms of the waits, inside tasks on a 1-worker pool (so a wait that held the
//! thread would leave nothing to run what it waits for): `wait_async` with each `ReturnWhen`
//! and a timeout, `as_completed_async` as a `futures_core::Stream` in completion order and with
//! a timeout, and `yield_until_done_timeout`.
#![cfg(not(feature = "loom"))]

use std::time::{Duration, Instant};

use betterconcurrent::{
    as_completed_async, time, wait_async, yield_until_done_timeout, Error, Executor, Future,
    ReturnWhen,
};
use futures::{Stream as _, StreamExt as _};

mod common;

/// An async child of the current pool that finishes when `gate` is set.
fn gated(executor: &Executor, gate: &Future<u32>) -> Future<u32> {
    let gate = gate.clone();
    executor
        .submit_async(async move { *(&gate).await.unwrap() })
        .unwrap()
}

#[test]
fn first_completed_inside_a_task_on_one_worker() {
    let pool = common::pool(1);
    let gate = Future::<u32>::new();
    let opener = gate.clone();
    let parent = pool
        .submit_async(async move {
            let executor = Executor::current().unwrap();
            let slow = gated(&executor, &gate);
            let fast = executor.submit(|| 7).unwrap();
            let waited = wait_async([&slow, &fast], None, ReturnWhen::FirstCompleted).await;
            let done: Vec<bool> = waited.done.iter().map(|f| f == &fast).collect();
            let not_done: Vec<bool> = waited.not_done.iter().map(|f| f == &slow).collect();
            (done, not_done, slow)
        })
        .unwrap();
    let (done, not_done, slow) = parent.into_result().unwrap();
    assert_eq!(done, [true], "the fast child is the one done");
    assert_eq!(not_done, [true], "the gated child is not");
    opener.set_result(3).unwrap();
    assert_eq!(*slow.result().unwrap(), 3);
    pool.join().unwrap();
}

#[test]
fn a_wait_async_timeout_returns_what_is_done_after_the_timeout() {
    let pool = common::pool(1);
    let gate = Future::<u32>::new();
    let opener = gate.clone();
    let parent = pool
        .submit_async(async move {
            let executor = Executor::current().unwrap();
            let children = [gated(&executor, &gate), gated(&executor, &gate)];
            let start = Instant::now();
            let first = wait_async(
                &children,
                Some(Duration::from_millis(20)),
                ReturnWhen::FirstCompleted,
            )
            .await;
            let all = wait_async(
                &children,
                Some(Duration::from_millis(20)),
                ReturnWhen::AllCompleted,
            )
            .await;
            (
                first.done.len(),
                first.not_done.len(),
                all.done.len(),
                all.not_done.len(),
                start.elapsed(),
            )
        })
        .unwrap();
    let (first_done, first_not_done, all_done, all_not_done, waited) =
        parent.into_result().unwrap();
    assert_eq!((first_done, first_not_done), (0, 2));
    assert_eq!((all_done, all_not_done), (0, 2));
    assert!(waited >= Duration::from_millis(40), "{waited:?}");
    opener.set_result(1).unwrap();
    pool.join().unwrap();
}

#[test]
fn first_exception_and_all_completed_inside_a_task() {
    let pool = common::pool(1);
    let parent = pool
        .submit_async(async move {
            let executor = Executor::current().unwrap();
            let never = Future::<u32>::new();
            let pending = gated(&executor, &never);
            let fails = executor
                .submit(|| -> u32 { panic!("child failed") })
                .unwrap();
            let waited = wait_async([&pending, &fails], None, ReturnWhen::FirstException).await;
            let failed_first = waited.done.len() == 1 && waited.done[0] == fails;
            never.set_result(2).unwrap();
            let all = wait_async([&pending, &fails], None, ReturnWhen::AllCompleted).await;
            (failed_first, all.done.len(), all.not_done.len())
        })
        .unwrap();
    assert_eq!(parent.into_result().unwrap(), (true, 2, 0));
}

#[test]
fn already_done_futures_satisfy_wait_async_at_once() {
    let pool = common::pool(1);
    let ready = pool.submit(|| 1).unwrap();
    ready.result().unwrap();
    let waited = futures::executor::block_on(wait_async(
        [&ready, &ready],
        None,
        ReturnWhen::FirstCompleted,
    ));
    assert_eq!(
        (waited.done.len(), waited.not_done.len()),
        (1, 0),
        "distinct futures"
    );
}

#[test]
fn the_stream_yields_in_completion_order_inside_a_task_on_one_worker() {
    let pool = common::pool(1);
    let parent = pool
        .submit_async(async move {
            let executor = Executor::current().unwrap();
            // Children that finish 30, 10 and 20 ms from now: completion order 1, 2, 0.
            let children: Vec<Future<usize>> = [30u64, 10, 20]
                .into_iter()
                .enumerate()
                .map(|(i, ms)| {
                    executor
                        .submit_async(async move {
                            time::sleep(Duration::from_millis(ms)).await;
                            i
                        })
                        .unwrap()
                })
                .collect();
            let stream = as_completed_async(&children, None);
            assert_eq!(stream.size_hint(), (0, Some(4)));
            stream
                .map(|future| *future.unwrap().try_result().unwrap().unwrap())
                .collect::<Vec<usize>>()
                .await
        })
        .unwrap();
    assert_eq!(*parent.result().unwrap(), [1, 2, 0]);
}

#[test]
fn the_stream_yields_done_futures_first_then_one_timeout_error_and_ends() {
    let pool = common::pool(1);
    let gate = Future::<u32>::new();
    let opener = gate.clone();
    let parent = pool
        .submit_async(async move {
            let executor = Executor::current().unwrap();
            let done = executor.submit(|| 5).unwrap();
            (&done).await.unwrap();
            let stuck = gated(&executor, &gate);
            let items: Vec<Result<u32, Error>> =
                as_completed_async([&done, &stuck, &done], Some(Duration::from_millis(20)))
                    .map(|item| item.map(|future| *future.try_result().unwrap().unwrap()))
                    .collect()
                    .await;
            items
        })
        .unwrap();
    let items = parent.into_result().unwrap();
    assert!(
        matches!(items[..], [Ok(5), Err(Error::Timeout)]),
        "{items:?}"
    );
    opener.set_result(0).unwrap();
    pool.join().unwrap();
}

#[test]
fn yield_until_done_timeout_says_whether_all_finished() {
    let pool = common::pool(1);
    let gate = Future::<u32>::new();
    let opener = gate.clone();
    let parent = pool
        .submit_async(async move {
            let executor = Executor::current().unwrap();
            let quick = executor.submit(|| 1).unwrap();
            let stuck = gated(&executor, &gate);
            let timed_out =
                yield_until_done_timeout([&quick, &stuck], Some(Duration::from_millis(20))).await;
            opener.set_result(2).unwrap();
            let all = yield_until_done_timeout([&quick, &stuck], None).await;
            (timed_out, all, quick.done() && stuck.done())
        })
        .unwrap();
    assert_eq!(parent.into_result().unwrap(), (false, true, true));
}
