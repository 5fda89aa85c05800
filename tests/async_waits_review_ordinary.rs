//! Ordinary programs with the async waits: on 1-worker pools (a wait that held the thread would
//! leave nothing to run what it waits for) `wait_async` with each `ReturnWhen` reports `done`
//! in the documented order (already done in input order, then completion order) and `not_done`
//! in input order; `FIRST_EXCEPTION` ignores cancellations and successes but not panics or
//! exceptions; empty input, duplicates, `yield_until_done_timeout`, and the stream's items and
//! `size_hint` as it goes; and the blocking forms give the same answers as the async ones.
#![cfg(not(feature = "loom"))]

use std::sync::mpsc;
use std::time::Duration;

use betterconcurrent::{
    as_completed, as_completed_async, wait, wait_async, yield_until_done_timeout, Error, Executor,
    Future, ReturnWhen,
};
use futures::{Stream as _, StreamExt as _};

mod common;
use common::watchdog::within;

/// An async child of the current pool that finishes with `value` once `gate` is set.
fn gated(executor: &Executor, gate: &Future<()>, value: u32) -> Future<u32> {
    let gate = gate.clone();
    executor
        .submit_async(async move {
            (&gate).await.unwrap();
            value
        })
        .unwrap()
}

fn values(futures: &[Future<u32>]) -> Vec<u32> {
    futures
        .iter()
        .map(|f| match f.try_result() {
            Some(Ok(v)) => *v,
            Some(Err(Error::Cancelled)) => 1000,
            Some(Err(_)) => 2000,
            None => 9999,
        })
        .collect()
}

fn index_of(all: &[Future<u32>], f: &Future<u32>) -> usize {
    all.iter()
        .position(|g| g == f)
        .expect("a future that was not in the input")
}

#[test]
fn all_completed_orders_done_already_done_first_then_in_input_order() {
    within(30, || {
        let pool = common::pool(1);
        let gates: Vec<Future<()>> = (0..5).map(|_| Future::new()).collect();
        let openers = gates.clone();
        let (children_tx, children_rx) = mpsc::channel::<Vec<Future<u32>>>();
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                // Children 0..5 gated; children 5, 6 already done before the wait.
                let children: Vec<Future<u32>> = (0..5)
                    .map(|i| gated(&executor, &gates[i], i as u32))
                    .collect();
                let a = executor.submit(|| 5u32).unwrap();
                let b = executor.submit(|| 6u32).unwrap();
                (&a).await.unwrap();
                (&b).await.unwrap();
                // Input order: 6, 0, 1, 5, 2, 3, 4 (done ones interleaved with pending).
                let input = vec![
                    b.clone(),
                    children[0].clone(),
                    children[1].clone(),
                    a.clone(),
                    children[2].clone(),
                    children[3].clone(),
                    children[4].clone(),
                ];
                children_tx.send(children.clone()).unwrap();
                // No await between the send and the call: the one worker is ours, so no child
                // can finish before the call.
                let waited = wait_async(&input, None, ReturnWhen::AllCompleted).await;
                (values(&waited.done), waited.not_done.len())
            })
            .unwrap();
        let children = children_rx.recv().unwrap();
        // Open in the order 3, 0, 4, 2, 1, each after the previous child finished.
        for &i in &[3usize, 0, 4, 2, 1] {
            openers[i].set_result(()).unwrap();
            assert_eq!(*children[i].result().unwrap(), i as u32);
        }
        let (done, not_done) = parent.into_result().unwrap();
        assert_eq!(not_done, 0);
        assert_eq!(
            done,
            [6, 5, 0, 1, 2, 3, 4],
            "already done first in input order, then the rest in input order"
        );
        pool.join().unwrap();
    });
}

#[test]
fn all_completed_done_is_in_input_order_whatever_the_completion_order() {
    // Free futures completed one by one from the test thread in a scrambled order: `done`
    // lists them in input order (the documented order for `AllCompleted`).
    within(30, || {
        let pool = common::pool(1);
        let futures: Vec<Future<u32>> = (0..6).map(|_| Future::new()).collect();
        let inside = futures.clone();
        let parent = pool
            .submit_async(async move {
                let waited = wait_async(&inside, None, ReturnWhen::AllCompleted).await;
                let order: Vec<usize> = waited.done.iter().map(|f| index_of(&inside, f)).collect();
                (order, waited.not_done.len())
            })
            .unwrap();
        until_watched(&futures);
        let order = [4usize, 1, 5, 0, 3, 2];
        for &i in &order {
            futures[i].set_result(i as u32).unwrap();
        }
        let (got, not_done) = parent.into_result().unwrap();
        assert_eq!(not_done, 0);
        assert_eq!(got, [0, 1, 2, 3, 4, 5], "done must be in input order");
    });
}

#[test]
fn first_completed_returns_the_first_and_not_done_in_input_order() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let gates: Vec<Future<()>> = (0..4).map(|_| Future::new()).collect();
                let children: Vec<Future<u32>> = (0..4)
                    .map(|i| gated(&executor, &gates[i], i as u32))
                    .collect();
                let opener = gates[2].clone();
                executor
                    .submit(move || opener.set_result(()).unwrap())
                    .unwrap();
                let waited = wait_async(&children, None, ReturnWhen::FirstCompleted).await;
                let done: Vec<usize> = waited.done.iter().map(|f| index_of(&children, f)).collect();
                let not_done: Vec<usize> = waited
                    .not_done
                    .iter()
                    .map(|f| index_of(&children, f))
                    .collect();
                for g in &gates {
                    let _ = g.set_result(());
                }
                (done, not_done)
            })
            .unwrap();
        let (done, not_done) = parent.into_result().unwrap();
        assert_eq!(done, [2]);
        assert_eq!(not_done, [0, 1, 3]);
        pool.join().unwrap();
    });
}

#[test]
fn first_exception_ignores_successes_and_cancellations_but_not_panics() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let gate = Future::<()>::new();
                let stuck = gated(&executor, &gate, 0);
                let ok = executor.submit(|| 1u32).unwrap();
                let cancelled = Future::<u32>::new();
                // A task that is aborted ends cancelled: not an exception either.
                let never = Future::<()>::new();
                let aborted = gated(&executor, &never, 3);
                // A gate for the panicking one: it panics only after the others ended.
                let panic_gate = Future::<()>::new();
                let pg = panic_gate.clone();
                let panics = executor
                    .submit_async(async move {
                        (&pg).await.unwrap();
                        if true {
                            panic!("boom");
                        }
                        4u32
                    })
                    .unwrap();
                let all = [
                    stuck.clone(),
                    ok.clone(),
                    cancelled.clone(),
                    aborted.clone(),
                    panics.clone(),
                ];
                let c = cancelled.clone();
                let a = aborted.clone();
                let p = panic_gate.clone();
                executor
                    .submit(move || {
                        assert!(c.cancel());
                        assert!(a.abort());
                    })
                    .unwrap();
                // Wait until ok, cancelled and aborted are done, with a FirstException wait
                // that must not return for them (it has a generous timeout as a backstop).
                let early = wait_async(
                    &all,
                    Some(Duration::from_secs(20)),
                    ReturnWhen::FirstException,
                );
                let mut early = Box::pin(early);
                // Drive until those three are done: poll the wait as we go.
                let mut early_result = None;
                while !(ok.done() && cancelled.done() && aborted.done()) {
                    let waited =
                        futures::future::select(early.as_mut(), Box::pin(common::yield_now()))
                            .await;
                    if let futures::future::Either::Left((w, _)) = waited {
                        early_result = Some(w);
                        break;
                    }
                }
                let early_returned_with = early_result.map(|w| values(&w.done));
                // Now the panicking one.
                p.set_result(()).unwrap();
                let waited = wait_async(&all, None, ReturnWhen::FirstException).await;
                let done: Vec<usize> = waited.done.iter().map(|f| index_of(&all, f)).collect();
                let not_done: Vec<usize> =
                    waited.not_done.iter().map(|f| index_of(&all, f)).collect();
                gate.set_result(()).unwrap();
                (early_returned_with, done, not_done)
            })
            .unwrap();
        let (early, done, not_done) = parent.into_result().unwrap();
        assert_eq!(early, None, "FirstException returned without an exception");
        // Already done at the call in input order: ok (1), cancelled (2), aborted (3); then the
        // panic (4). The stuck one is not done.
        assert_eq!(done, [1, 2, 3, 4]);
        assert_eq!(not_done, [0]);
        pool.join().unwrap();
    });
}

#[test]
fn first_exception_counts_set_exception_and_returns_when_all_done_without_one() {
    within(30, || {
        let a = Future::<u32>::new();
        let b = Future::<u32>::new();
        let c = Future::<u32>::new();
        // Without exceptions: returns when all are done.
        let waiting = wait_async([&a, &b, &c], None, ReturnWhen::FirstException);
        a.set_result(1).unwrap();
        assert!(b.cancel());
        c.set_result(3).unwrap();
        let waited = futures::executor::block_on(waiting);
        assert_eq!(values(&waited.done), [1, 1000, 3]);
        assert!(waited.not_done.is_empty());

        // With an exception: returns on it with the others not done.
        let d = Future::<u32>::new();
        let e = Future::<u32>::new();
        let f = Future::<u32>::new();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let e2 = e.clone();
        let t = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            e2.set_exception("disk full").unwrap();
        });
        let waiting = wait_async([&d, &e, &f], None, ReturnWhen::FirstException);
        go_tx.send(()).unwrap();
        let waited = futures::executor::block_on(waiting);
        t.join().unwrap();
        assert_eq!(values(&waited.done), [2000]);
        assert_eq!(waited.not_done.len(), 2);
        assert!(waited.not_done[0] == d && waited.not_done[1] == f);
    });
}

#[test]
fn empty_input_returns_at_once_in_every_mode() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let none: Vec<Future<u32>> = Vec::new();
                let mut lens = Vec::new();
                for mode in [
                    ReturnWhen::FirstCompleted,
                    ReturnWhen::FirstException,
                    ReturnWhen::AllCompleted,
                ] {
                    for timeout in [None, Some(Duration::ZERO), Some(Duration::MAX)] {
                        let w = wait_async(&none, timeout, mode).await;
                        lens.push(w.done.len() + w.not_done.len());
                    }
                }
                let stream = as_completed_async(&none, None);
                let hint = stream.size_hint();
                let items: Vec<_> = stream.collect().await;
                let all = yield_until_done_timeout(&none, Some(Duration::ZERO)).await;
                let all2 = yield_until_done_timeout(&none, None).await;
                (lens, hint, items.len(), all, all2)
            })
            .unwrap();
        let (lens, hint, items, all, all2) = parent.into_result().unwrap();
        assert!(lens.iter().all(|&n| n == 0));
        assert_eq!(hint, (0, Some(0)));
        assert_eq!(items, 0);
        assert!(all && all2);
        // The blocking forms too.
        let none: Vec<Future<u32>> = Vec::new();
        let w = wait(&none, None, ReturnWhen::AllCompleted);
        assert!(w.done.is_empty() && w.not_done.is_empty());
        assert_eq!(as_completed(&none, None).count(), 0);
    });
}

#[test]
fn duplicates_count_once_everywhere() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let done = executor.submit(|| 7u32).unwrap();
                (&done).await.unwrap();
                let gate = Future::<()>::new();
                let later = gated(&executor, &gate, 8);
                let input = [&later, &done, &later, &done, &later, &later];
                let opener = gate.clone();
                executor
                    .submit(move || opener.set_result(()).unwrap())
                    .unwrap();
                let w = wait_async(input, None, ReturnWhen::AllCompleted).await;
                let w_done = values(&w.done);
                let stream = as_completed_async(input, None);
                let hint = stream.size_hint();
                let items: Vec<u32> = stream
                    .map(|f| *f.unwrap().try_result().unwrap().unwrap())
                    .collect()
                    .await;
                let again = wait_async(input, None, ReturnWhen::FirstCompleted).await;
                (w_done, w.not_done.len(), hint, items, values(&again.done))
            })
            .unwrap();
        let (w_done, not_done, hint, items, again) = parent.into_result().unwrap();
        assert_eq!(w_done, [7, 8]);
        assert_eq!(not_done, 0);
        // Two distinct futures (one room more is tolerated for the timeout error).
        assert!(
            matches!(hint.1, Some(2) | Some(3)),
            "size_hint upper bound counts distinct futures: {hint:?}"
        );
        assert!(hint.0 <= 2);
        // Both done by then: input order (`later` is listed first).
        assert_eq!(items, [8, 7]);
        assert_eq!(again, [8, 7]);
        pool.join().unwrap();
    });
}

#[test]
fn yield_until_done_timeout_false_then_true_on_one_worker() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let gate = Future::<()>::new();
                let children: Vec<_> = (0..3).map(|i| gated(&executor, &gate, i)).collect();
                let first =
                    yield_until_done_timeout(&children, Some(Duration::from_millis(30))).await;
                let any_done_then = children.iter().any(Future::done);
                let opener = gate.clone();
                executor
                    .submit(move || opener.set_result(()).unwrap())
                    .unwrap();
                let second =
                    yield_until_done_timeout(&children, Some(Duration::from_secs(20))).await;
                let all_done = children.iter().all(Future::done);
                let third = yield_until_done_timeout(&children, Some(Duration::ZERO)).await;
                (first, any_done_then, second, all_done, third)
            })
            .unwrap();
        assert_eq!(
            parent.into_result().unwrap(),
            (false, false, true, true, true)
        );
        pool.join().unwrap();
    });
}

#[test]
fn the_stream_size_hint_shrinks_as_items_come() {
    within(30, || {
        let a = Future::<u32>::new();
        let b = Future::<u32>::new();
        let c = Future::<u32>::new();
        a.set_result(1).unwrap();
        futures::executor::block_on(async {
            let mut s = as_completed_async([&a, &b, &c], None);
            // No timeout: 3 items left (one more tolerated in the upper bound).
            let (lo, hi) = s.size_hint();
            assert!(lo <= 3 && matches!(hi, Some(3) | Some(4)), "{:?}", (lo, hi));
            let first = s.next().await.unwrap().unwrap();
            assert!(first == a);
            let (lo, hi) = s.size_hint();
            assert!(lo <= 2 && matches!(hi, Some(2) | Some(3)), "{:?}", (lo, hi));
            c.set_result(3).unwrap();
            assert!(s.next().await.unwrap().unwrap() == c);
            b.set_result(2).unwrap();
            assert!(s.next().await.unwrap().unwrap() == b);
            assert!(s.next().await.is_none());
            assert_eq!(s.size_hint(), (0, Some(0)), "after the end");
            assert!(s.next().await.is_none(), "polled again after the end");
        });
        // With a timeout, the one timeout error counts in the upper bound.
        let d = Future::<u32>::new();
        let s = as_completed_async([&d], Some(Duration::from_millis(5)));
        let (lo, hi) = s.size_hint();
        assert!(lo <= 1 && hi.unwrap() >= 1, "{:?}", (lo, hi));
        let (items, end_hint) = futures::executor::block_on(async move {
            let mut s = s;
            let mut items = Vec::new();
            while let Some(item) = s.next().await {
                items.push(item);
            }
            (items, s.size_hint())
        });
        assert!(matches!(items[..], [Err(Error::Timeout)]), "{items:?}");
        assert_eq!(end_hint, (0, Some(0)));
    });
}

/// Wait (bounded) until every future of `fs` that is not done has a waker registered: the wait
/// has started watching it.
fn until_watched(fs: &[Future<u32>]) {
    until_watched_by(fs, true)
}

/// As [`until_watched`], or with `all` false until at least one pending future is watched (a
/// blocking `ALL_COMPLETED` may watch them one at a time).
fn until_watched_by(fs: &[Future<u32>], all: bool) {
    let start = std::time::Instant::now();
    let watched = |f: &Future<u32>| f.done() || f.waiter_count() > 0;
    while !(if all {
        fs.iter().all(watched)
    } else {
        fs.iter().any(|f| !f.done() && f.waiter_count() > 0)
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the wait never registered its wakers: {:?}",
            fs.iter()
                .map(|f| (f.done(), f.waiter_count()))
                .collect::<Vec<_>>()
        );
        std::thread::yield_now();
    }
}

/// The same scenario through the blocking and the async forms: the same items. The pending
/// futures are completed (in a fixed order) only once the wait watches them; with `hold`, the
/// completer stops after that many steps until the wait returned.
#[test]
fn blocking_and_async_forms_agree() {
    within(30, || {
        // (mode, pre-done indices, completion steps, steps before the wait returns, expected
        // done, expected not_done)
        type Case = (
            ReturnWhen,
            &'static [usize],
            &'static [usize],
            usize,
            &'static [u32],
            &'static [usize],
        );
        let cases: [Case; 4] = [
            (
                ReturnWhen::FirstCompleted,
                &[],
                &[1, 4],
                1,
                &[1000],
                &[0, 2, 3, 4],
            ),
            (
                ReturnWhen::FirstException,
                &[1, 3],
                &[4, 0, 2],
                2,
                &[1000, 3, 4, 2000],
                &[2],
            ),
            (
                ReturnWhen::AllCompleted,
                &[1, 3],
                &[4, 0, 2],
                3,
                // AllCompleted: already done, then the rest in input order (both forms).
                &[1000, 3, 2000, 2, 4],
                &[],
            ),
            (
                ReturnWhen::FirstException,
                &[],
                &[2, 1, 4, 3, 0],
                5,
                &[2, 1000, 4, 3, 2000],
                &[],
            ),
        ];
        fn complete(f: &Future<u32>, i: usize) {
            match i {
                0 => f.set_exception("bad").unwrap(),
                1 => assert!(f.cancel()),
                _ => f.set_result(i as u32).unwrap(),
            }
        }
        for (mode, pre, steps, hold, want_done, want_not_done) in cases {
            for use_async in [false, true] {
                let fs: Vec<Future<u32>> = (0..5).map(|_| Future::new()).collect();
                for &i in pre {
                    complete(&fs[i], i);
                }
                let (returned_tx, returned_rx) = mpsc::channel::<()>();
                let completer = {
                    let fs = fs.clone();
                    std::thread::spawn(move || {
                        let all = use_async || !matches!(mode, ReturnWhen::AllCompleted);
                        until_watched_by(&fs, all);
                        for (n, &i) in steps.iter().enumerate() {
                            if n == hold {
                                returned_rx.recv().unwrap();
                            }
                            complete(&fs[i], i);
                        }
                    })
                };
                let w = if use_async {
                    futures::executor::block_on(wait_async(&fs, None, mode))
                } else {
                    wait(&fs, None, mode)
                };
                let _ = returned_tx.send(());
                completer.join().unwrap();
                let not_done: Vec<usize> = w.not_done.iter().map(|f| index_of(&fs, f)).collect();
                assert_eq!(
                    (values(&w.done), not_done),
                    (want_done.to_vec(), want_not_done.to_vec()),
                    "{mode:?} async={use_async}"
                );
            }
        }
        // And as_completed vs as_completed_async on a mixed set, with a timeout.
        let fs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
        fs[2].set_result(2).unwrap();
        fs[0].set_result(0).unwrap();
        let blocking: Vec<Result<u32, String>> = as_completed(&fs, Some(Duration::from_millis(10)))
            .map(|r| {
                r.map(|f| *f.try_result().unwrap().unwrap())
                    .map_err(|e| format!("{e:?}"))
            })
            .collect();
        let asynced: Vec<Result<u32, String>> = futures::executor::block_on(
            as_completed_async(&fs, Some(Duration::from_millis(10)))
                .map(|r| {
                    r.map(|f| *f.try_result().unwrap().unwrap())
                        .map_err(|e| format!("{e:?}"))
                })
                .collect::<Vec<_>>(),
        );
        assert_eq!(blocking, asynced);
        assert_eq!(blocking.len(), 3);
        assert_eq!(blocking[..2], [Ok(0), Ok(2)]);
        assert!(blocking[2].is_err());
    });
}

/// The blocking `wait(ALL_COMPLETED)` on a plain thread: `done` lists the already-done futures
/// in input order, then the rest in input order, as `wait_async` does (the documented order for
/// `AllCompleted`, which waits for each in turn).
#[test]
fn blocking_all_completed_reports_already_done_then_input_order() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
        fs[1].set_result(1).unwrap();
        let completer = {
            let fs = fs.clone();
            std::thread::spawn(move || {
                // Once the wait watches (at least) one pending future, complete 3, 2, 0.
                until_watched_by(&fs, false);
                for i in [3usize, 2, 0] {
                    fs[i].set_result(i as u32).unwrap();
                }
            })
        };
        let w = wait(&fs, None, ReturnWhen::AllCompleted);
        completer.join().unwrap();
        assert_eq!(
            values(&w.done),
            [1, 0, 2, 3],
            "already done, then input order"
        );
        assert!(w.not_done.is_empty());
    });
}
