//! Review of work-first: the pool's *blocking* multi-future waits (`wait` with FIRST_COMPLETED or
//! FIRST_EXCEPTION, `as_completed`) called inside an async body on a worker. Their first poll
//! of each future goes through the same `poll_done` as an `.await`, but not inside
//! `run_may_block` (only `block_on_until` is), so the work-first path may run an unstarted
//! child in place inside a *timed* blocking wait, which the README and `block_on_until` rule
//! out ("a timed wait must not run work that could outlast its deadline").
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::mpsc;
use std::thread::ThreadId;
use std::time::Duration;

use betterconcurrent::{as_completed, wait, Error, ReturnWhen};
use common::pool;
use common::watchdog::within;

/// What the parent saw: whether its timed wait timed out, and the thread the child ran on.
type Seen = (bool, ThreadId, ThreadId);

/// The child blocks until the test releases it (or 2 s pass); the test releases it only after
/// the parent's timed wait has reported.
fn run(which: &'static str) -> Seen {
    let pool = pool(2);
    let executor = pool.executor();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (reported_tx, reported_rx) = mpsc::channel::<()>();
    let parent = pool
        .submit_async(async move {
            let here = std::thread::current().id();
            let child = executor
                .submit(move || {
                    let _ = release_rx.recv_timeout(Duration::from_secs(2));
                    std::thread::current().id()
                })
                .unwrap();
            let timed_out = match which {
                "as_completed" => matches!(
                    as_completed([&child], Some(Duration::from_millis(100))).next(),
                    Some(Err(Error::Timeout))
                ),
                "first_completed" => {
                    let waited = wait(
                        [&child],
                        Some(Duration::from_millis(100)),
                        ReturnWhen::FirstCompleted,
                    );
                    waited.done.is_empty()
                }
                "first_exception" => {
                    let waited = wait(
                        [&child],
                        Some(Duration::from_millis(100)),
                        ReturnWhen::FirstException,
                    );
                    waited.done.is_empty()
                }
                _ => unreachable!(),
            };
            reported_tx.send(()).unwrap();
            let ran_on = *(&child).await.unwrap();
            (timed_out, here, ran_on)
        })
        .unwrap();
    reported_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the parent never reported");
    let _ = release_tx.send(());
    let seen = *parent.result().unwrap();
    pool.join().unwrap();
    seen
}

#[test]
fn a_timed_as_completed_in_an_async_body_times_out_instead_of_running_the_child_in_place() {
    let (timed_out, parent, child) = within(60, || run("as_completed"));
    assert!(timed_out, "as_completed(timeout = 100 ms) did not time out");
    assert_ne!(
        parent, child,
        "the child ran inside the parent's timed wait"
    );
}

#[test]
fn a_timed_wait_first_completed_in_an_async_body_times_out_instead_of_running_the_child() {
    let (timed_out, parent, child) = within(60, || run("first_completed"));
    assert!(timed_out, "wait(FIRST_COMPLETED, 100 ms) did not time out");
    assert_ne!(
        parent, child,
        "the child ran inside the parent's timed wait"
    );
}

#[test]
fn a_timed_wait_first_exception_in_an_async_body_times_out_instead_of_running_the_child() {
    let (timed_out, parent, child) = within(60, || run("first_exception"));
    assert!(timed_out, "wait(FIRST_EXCEPTION, 100 ms) did not time out");
    assert_ne!(
        parent, child,
        "the child ran inside the parent's timed wait"
    );
}

#[test]
fn a_timed_wait_all_completed_in_an_async_body_times_out() {
    // The control: AllCompleted goes through `block_until_done`, which is marked.
    let seen = within(60, || {
        let pool = pool(2);
        let executor = pool.executor();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (reported_tx, reported_rx) = mpsc::channel::<()>();
        let parent = pool
            .submit_async(async move {
                let here = std::thread::current().id();
                let child = executor
                    .submit(move || {
                        let _ = release_rx.recv_timeout(Duration::from_secs(2));
                        std::thread::current().id()
                    })
                    .unwrap();
                let waited = wait(
                    [&child],
                    Some(Duration::from_millis(100)),
                    ReturnWhen::AllCompleted,
                );
                reported_tx.send(()).unwrap();
                let ran_on = *(&child).await.unwrap();
                (waited.done.is_empty(), here, ran_on)
            })
            .unwrap();
        reported_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let _ = release_tx.send(());
        let seen = *parent.result().unwrap();
        pool.join().unwrap();
        seen
    });
    assert!(seen.0);
    assert_ne!(seen.1, seen.2);
}

/// An untimed `wait(FIRST_COMPLETED)` over two children must return once the first is done,
/// without running the other (which waits for the parent to get past the wait) in place.
fn first_completed_then_release(use_as_completed: bool) -> bool {
    let pool = pool(2);
    let executor = pool.executor();
    let parent = pool
        .submit_async(async move {
            let (tx, rx) = mpsc::channel::<()>();
            let quick = executor.submit(|| true).unwrap();
            // Newest: it waits until the parent's wait has returned (2 s hang detector).
            let waits_for_parent = executor
                .submit(move || rx.recv_timeout(Duration::from_secs(2)).is_ok())
                .unwrap();
            let children = [quick.clone(), waits_for_parent.clone()];
            if use_as_completed {
                let first = as_completed(&children, None).next().unwrap().unwrap();
                let _ = first;
            } else {
                let waited = wait(&children, None, ReturnWhen::FirstCompleted);
                assert!(!waited.done.is_empty());
            }
            let _ = tx.send(());
            *(&waits_for_parent).await.unwrap()
        })
        .unwrap();
    let released = *parent.result().unwrap();
    pool.join().unwrap();
    released
}

#[test]
fn an_untimed_wait_first_completed_in_an_async_body_returns_before_running_the_other_child() {
    let released = within(60, || first_completed_then_release(false));
    assert!(
        released,
        "the second child ran inside wait(FIRST_COMPLETED) and waited for the parent in vain"
    );
}

#[test]
fn an_untimed_as_completed_in_an_async_body_yields_before_running_the_other_child() {
    let released = within(60, || first_completed_then_release(true));
    assert!(
        released,
        "the second child ran inside as_completed's first step and waited for the parent in vain"
    );
}
