//! `wait` and `as_completed`, mirroring CPython's `test_wait.py` and `test_as_completed.py`
//! (each test names the Python test it mirrors). Futures are completed by hand or by a pool;
//! ordering is forced with channels, never sleeps.
#![cfg(not(feature = "loom"))]

use std::collections::HashSet;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use betterconcurrent::{as_completed, wait, Error, Future, ReturnWhen, ThreadPoolExecutor};

const SHORT: Duration = Duration::from_millis(30);

fn finished(value: i32) -> Future<i32> {
    let future = Future::new();
    future.set_result(value).unwrap();
    future
}

fn failed() -> Future<i32> {
    let future = Future::new();
    future.set_exception("failed").unwrap();
    future
}

fn cancelled() -> Future<i32> {
    let future = Future::new();
    assert!(future.cancel());
    future
}

fn ids(futures: &[Future<i32>]) -> HashSet<usize> {
    futures.iter().map(Future::id).collect()
}

/// Complete `future` with `value` from another thread once `go` is signalled.
fn complete_later(future: &Future<i32>, value: i32) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (go_tx, go_rx) = mpsc::channel();
    let future = future.clone();
    let handle = thread::spawn(move || {
        go_rx.recv().unwrap();
        future.set_result(value).unwrap();
    });
    (go_tx, handle)
}

// WaitTests.test_first_completed
#[test]
fn first_completed_returns_when_one_finishes() {
    let pending = Future::new();
    let later = Future::new();
    let (go, handle) = complete_later(&later, 1);
    go.send(()).unwrap();
    let waited = wait([&pending, &later], None, ReturnWhen::FirstCompleted);
    handle.join().unwrap();
    assert_eq!(ids(&waited.done), ids(&[later]));
    assert_eq!(ids(&waited.not_done), ids(&[pending]));
}

// WaitTests.test_first_completed_some_already_completed
#[test]
fn first_completed_with_some_already_done_returns_at_once() {
    let pending = Future::new();
    let (done_a, done_b) = (finished(1), cancelled());
    let waited = wait(
        [&done_a, &pending, &done_b],
        None,
        ReturnWhen::FirstCompleted,
    );
    assert_eq!(ids(&waited.done), ids(&[done_a, done_b]));
    assert_eq!(ids(&waited.not_done), ids(&[pending]));
}

// WaitTests.test_first_exception
#[test]
fn first_exception_returns_when_one_fails() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let slow = pool
        .submit(move || {
            let _ = release_rx.recv();
            1
        })
        .unwrap();
    let failing = pool
        .submit(|| -> i32 { panic!("first exception") })
        .unwrap();
    let waited = wait([&slow, &failing], None, ReturnWhen::FirstException);
    assert_eq!(ids(&waited.done), ids(std::slice::from_ref(&failing)));
    assert_eq!(ids(&waited.not_done), ids(std::slice::from_ref(&slow)));
    drop(release_tx);
}

// WaitTests.test_first_exception_some_already_complete
#[test]
fn first_exception_ignores_successes_and_cancellations() {
    let (ok, gone) = (finished(1), cancelled());
    let pending = Future::new();
    let failing = Future::new();
    let (go, handle) = complete_later(&pending, 2);
    let failer = failing.clone();
    let fail_thread = thread::spawn(move || failer.set_exception("late").unwrap());
    fail_thread.join().unwrap();
    let waited = wait(
        [&ok, &gone, &failing, &pending],
        None,
        ReturnWhen::FirstException,
    );
    assert_eq!(
        ids(&waited.done),
        ids(&[ok.clone(), gone.clone(), failing.clone()])
    );
    assert_eq!(ids(&waited.not_done), ids(std::slice::from_ref(&pending)));
    go.send(()).unwrap();
    handle.join().unwrap();
}

// WaitTests.test_first_exception_one_already_failed
#[test]
fn first_exception_with_one_already_failed_returns_at_once() {
    let failing = failed();
    let pending = Future::new();
    let waited = wait([&failing, &pending], None, ReturnWhen::FirstException);
    assert_eq!(ids(&waited.done), ids(&[failing]));
    assert_eq!(ids(&waited.not_done), ids(&[pending]));
}

// FIRST_EXCEPTION without any exception is ALL_COMPLETED
#[test]
fn first_exception_without_exceptions_waits_for_all() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let futures: Vec<_> = (0..20).map(|n| pool.submit(move || n).unwrap()).collect();
    let waited = wait(&futures, None, ReturnWhen::FirstException);
    assert_eq!(waited.done.len(), 20);
    assert!(waited.not_done.is_empty());
}

// WaitTests.test_all_completed
#[test]
fn all_completed_waits_for_every_future() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .build()
        .unwrap();
    let mut futures: Vec<_> = (0..30).map(|n| pool.submit(move || n).unwrap()).collect();
    futures.push(failed());
    futures.push(cancelled());
    let waited = wait(&futures, None, ReturnWhen::AllCompleted);
    assert_eq!(ids(&waited.done), ids(&futures));
    assert!(waited.not_done.is_empty());
    assert!(futures.iter().all(Future::done));
}

// WaitTests.test_timeout
#[test]
fn all_completed_with_timeout_returns_the_unfinished() {
    let done = finished(1);
    let never = Future::new();
    let waited = wait([&done, &never], Some(SHORT), ReturnWhen::AllCompleted);
    assert_eq!(ids(&waited.done), ids(&[done]));
    assert_eq!(ids(&waited.not_done), ids(std::slice::from_ref(&never)));
    assert_eq!(
        never.waiter_count(),
        0,
        "the timed-out wait removed its waker"
    );
}

// FIRST_COMPLETED and FIRST_EXCEPTION with a timeout and nothing done
#[test]
fn first_modes_time_out_with_nothing_done() {
    let never = Future::<i32>::new();
    for mode in [ReturnWhen::FirstCompleted, ReturnWhen::FirstException] {
        let waited = wait([&never], Some(SHORT), mode);
        assert!(waited.done.is_empty(), "{mode:?}");
        assert_eq!(waited.not_done.len(), 1);
    }
    assert_eq!(never.waiter_count(), 0);
}

// A zero timeout reports the current split without waiting.
#[test]
fn zero_timeout_partitions_without_waiting() {
    let done = finished(3);
    let never = Future::new();
    let waited = wait(
        [&never, &done],
        Some(Duration::ZERO),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(ids(&waited.done), ids(&[done]));
    assert_eq!(ids(&waited.not_done), ids(&[never]));
}

// WaitTests.test_20369: duplicates are counted once
#[test]
fn wait_deduplicates_futures() {
    let future = finished(1);
    let waited = wait([&future, &future.clone()], None, ReturnWhen::AllCompleted);
    assert_eq!(waited.done.len(), 1);
}

// An empty set is trivially complete.
#[test]
fn wait_on_nothing_returns_empty() {
    let waited = wait(
        std::iter::empty::<&Future<i32>>(),
        None,
        ReturnWhen::FirstCompleted,
    );
    assert!(waited.done.is_empty() && waited.not_done.is_empty());
}

// AsCompletedTests.test_no_timeout
#[test]
fn as_completed_yields_every_future_once() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let futures: Vec<_> = (0..100).map(|n| pool.submit(move || n).unwrap()).collect();
    let yielded: Vec<_> = as_completed(&futures, None).map(Result::unwrap).collect();
    assert_eq!(yielded.len(), 100);
    assert_eq!(ids(&yielded), ids(&futures));
    assert!(yielded.iter().all(Future::done));
}

// Completion order: futures are yielded in the order they complete.
#[test]
fn as_completed_yields_in_completion_order() {
    let futures: Vec<Future<i32>> = (0..3).map(|_| Future::new()).collect();
    let (order_tx, order_rx) = mpsc::channel::<usize>();
    let completer = {
        let futures = futures.clone();
        thread::spawn(move || {
            for index in order_rx {
                futures[index].set_result(index as i32).unwrap();
            }
        })
    };
    let mut iterator = as_completed(&futures, None);
    for index in [2, 0, 1] {
        order_tx.send(index).unwrap();
        let next = iterator.next().unwrap().unwrap();
        assert_eq!(next, futures[index]);
    }
    assert!(iterator.next().is_none());
    drop(order_tx);
    completer.join().unwrap();
}

// AsCompletedTests.test_future_times_out (already-done futures come first, then the timeout)
#[test]
fn as_completed_yields_done_futures_then_times_out() {
    let (done, failed, gone) = (finished(1), failed(), cancelled());
    let never = Future::new();
    let futures = [done.clone(), never.clone(), failed.clone(), gone.clone()];
    let mut iterator = as_completed(&futures, Some(SHORT));
    let mut yielded = Vec::new();
    for _ in 0..3 {
        yielded.push(iterator.next().unwrap().unwrap());
    }
    assert_eq!(ids(&yielded), ids(&[done, failed, gone]));
    assert!(matches!(iterator.next(), Some(Err(Error::Timeout))));
    assert!(
        iterator.next().is_none(),
        "the iterator ends after its timeout"
    );
    drop(iterator);
    assert_eq!(never.waiter_count(), 0);
}

// AsCompletedTests.test_zero_timeout
#[test]
fn as_completed_zero_timeout_yields_only_what_is_done() {
    let (done, never) = (finished(1), Future::new());
    let results: Vec<_> = as_completed([&done, &never], Some(Duration::ZERO)).collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].as_ref().unwrap(), &done);
    assert!(matches!(results[1], Err(Error::Timeout)));
}

// AsCompletedTests.test_duplicate_futures
#[test]
fn as_completed_yields_a_duplicated_future_once() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let future = pool.submit(|| 5).unwrap();
    let yielded: Vec<_> = as_completed([&future, &future, &future.clone()], None).collect();
    assert_eq!(yielded.len(), 1);
}

// CPython issue 87893: futures cancelled by shutdown(cancel_futures) are still yielded.
#[test]
fn as_completed_yields_futures_cancelled_by_shutdown() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let running = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
            0
        })
        .unwrap();
    started_rx.recv().unwrap();
    let queued: Vec<_> = (1..6).map(|n| pool.submit(move || n).unwrap()).collect();
    let mut all = queued.clone();
    all.push(running.clone());
    let waiter = thread::spawn(move || {
        as_completed(&all, Some(Duration::from_secs(60)))
            .map(|r| r.map(|f| f.cancelled()))
            .collect::<Vec<_>>()
    });
    pool.shutdown(false, true);
    drop(release_tx);
    let results = waiter.join().unwrap();
    assert_eq!(results.len(), 6, "every future was yielded: {results:?}");
    assert_eq!(results.iter().filter(|r| matches!(r, Ok(true))).count(), 5);
    assert!(queued.iter().all(Future::cancelled));
}

// Waiting on futures of different pools at once.
#[test]
fn waits_span_several_pools() {
    let first = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let second = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let futures = [first.submit(|| 1).unwrap(), second.submit(|| 2).unwrap()];
    let sum: i32 = as_completed(&futures, None)
        .map(|f| *f.unwrap().result().unwrap())
        .sum();
    assert_eq!(sum, 3);
}

/// `wait(ALL_COMPLETED)` from a task of a 1-worker pool, for closures that task submitted: the
/// one blocking wait of the core runs each unstarted closure in place, so no spare thread is
/// needed (a wait that parked would have started one).
#[test]
fn all_completed_on_the_pools_own_thread_runs_the_unstarted_closures_in_place() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let outer = pool
        .submit(|| {
            let executor = betterconcurrent::Executor::current().unwrap();
            let futures: Vec<_> = (0..3)
                .map(|n| executor.submit(move || n * 10).unwrap())
                .collect();
            let waited = wait(&futures, None, ReturnWhen::AllCompleted);
            assert!(waited.not_done.is_empty());
            waited
                .done
                .iter()
                .map(|f| *f.result().unwrap())
                .sum::<i32>()
        })
        .unwrap();
    assert_eq!(*outer.result().unwrap(), 30);
    assert_eq!(pool.stats().compensating_threads_started, 0);
}
