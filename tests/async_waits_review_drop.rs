//! Dropping the async waits half way, and what they leave behind: a `wait_async`, stream or
//! `yield_until_done_timeout` dropped after a poll (or never polled) leaves no waker on the
//! futures it watched, so completing them afterwards wakes nobody and the waiting task's waker
//! is released; waits that return or end (timeout included) clean up as well, even if the
//! stream itself is kept; waits in a loop over a long-lived future do not grow its waiter list;
//! a stream polled after its end keeps saying `None`; drops racing completions on other threads.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use betterconcurrent::{
    as_completed, as_completed_async, wait_async, yield_until_done_timeout, Error, Executor,
    Future, ReturnWhen,
};
use futures::{Stream, StreamExt as _};

mod common;
use common::watchdog::within;

struct Counting(AtomicUsize);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Counting>, Waker) {
    let c = Arc::new(Counting(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn waiters(fs: &[Future<u32>]) -> Vec<usize> {
    fs.iter().map(Future::waiter_count).collect()
}

#[test]
fn a_dropped_wait_async_leaves_no_waker_and_wakes_nobody() {
    within(30, || {
        for mode in [
            ReturnWhen::FirstCompleted,
            ReturnWhen::FirstException,
            ReturnWhen::AllCompleted,
        ] {
            for timeout in [None, Some(Duration::from_secs(60))] {
                let fs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
                // One already done (FirstCompleted would return at once on it).
                if !matches!(mode, ReturnWhen::FirstCompleted) {
                    fs[0].set_result(0).unwrap();
                }
                let (count, waker) = counting();
                {
                    let mut w = Box::pin(wait_async(&fs, timeout, mode));
                    assert!(w
                        .as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_pending());
                    assert!(
                        fs[1..].iter().all(|f| f.waiter_count() >= 1),
                        "{:?}",
                        waiters(&fs)
                    );
                }
                assert_eq!(
                    waiters(&fs),
                    [0, 0, 0, 0],
                    "{mode:?} {timeout:?}: wakers left after drop"
                );
                drop(waker);
                assert_eq!(
                    Arc::strong_count(&count),
                    1,
                    "the task's waker is still held somewhere"
                );
                for f in &fs {
                    let _ = f.set_result(1);
                }
                assert_eq!(
                    count.0.load(Ordering::SeqCst),
                    0,
                    "a dropped wait was woken"
                );
            }
        }
    });
}

#[test]
fn a_wait_async_never_polled_leaves_nothing() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let w = wait_async(
            &fs,
            Some(Duration::from_secs(60)),
            ReturnWhen::FirstCompleted,
        );
        let s = as_completed_async(&fs, Some(Duration::from_secs(60)));
        let y = yield_until_done_timeout(&fs, Some(Duration::from_secs(60)));
        drop((w, s, y));
        assert_eq!(waiters(&fs), [0, 0, 0]);
        for f in &fs {
            f.set_result(1).unwrap();
        }
    });
}

#[test]
fn a_stream_dropped_half_way_leaves_no_waker() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..5).map(|_| Future::new()).collect();
        let (count, waker) = counting();
        {
            let mut s = as_completed_async(&fs, None);
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(&mut s).poll_next(&mut cx).is_pending());
            fs[3].set_result(3).unwrap();
            assert!(
                matches!(Pin::new(&mut s).poll_next(&mut cx), Poll::Ready(Some(Ok(f))) if f == fs[3])
            );
            fs[1].set_result(1).unwrap();
            assert!(
                matches!(Pin::new(&mut s).poll_next(&mut cx), Poll::Ready(Some(Ok(f))) if f == fs[1])
            );
            assert!(Pin::new(&mut s).poll_next(&mut cx).is_pending());
        }
        assert_eq!(waiters(&fs), [0, 0, 0, 0, 0]);
        drop(waker);
        assert_eq!(
            Arc::strong_count(&count),
            1,
            "the stream's waker is still held"
        );
        let woken = count.0.load(Ordering::SeqCst);
        for i in [0, 2, 4] {
            fs[i].set_result(i as u32).unwrap();
        }
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            woken,
            "a dropped stream was woken"
        );
    });
}

#[test]
fn a_dropped_yield_until_done_timeout_leaves_no_waker() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let (count, waker) = counting();
        {
            let mut y = Box::pin(yield_until_done_timeout(&fs, Some(Duration::from_secs(60))));
            assert!(y
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
        }
        assert_eq!(waiters(&fs), [0, 0, 0]);
        drop(waker);
        assert_eq!(Arc::strong_count(&count), 1);
        for f in &fs {
            f.set_result(0).unwrap();
        }
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    });
}

/// Waits that return (first completed, exception, timeout) and streams that end (by timeout)
/// take their wakers off the futures still pending at once, not when dropped later.
#[test]
fn waits_that_return_or_end_clean_up_the_pending_futures() {
    within(30, || {
        let never: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        futures::executor::block_on(async {
            // FirstCompleted returning on another future.
            let quick = Future::<u32>::new();
            let q = quick.clone();
            let t = std::thread::spawn(move || {
                // Completes once the wait watches it.
                while q.waiter_count() == 0 {
                    std::thread::yield_now();
                }
                q.set_result(1).unwrap();
            });
            let mut input = never.clone();
            input.push(quick.clone());
            let w = wait_async(&input, None, ReturnWhen::FirstCompleted).await;
            t.join().unwrap();
            assert_eq!(w.done.len(), 1);
            assert_eq!(waiters(&never), [0, 0, 0], "after a FirstCompleted return");
            // Timeouts.
            let w = wait_async(
                &never,
                Some(Duration::from_millis(5)),
                ReturnWhen::AllCompleted,
            )
            .await;
            assert_eq!(w.not_done.len(), 3);
            assert_eq!(waiters(&never), [0, 0, 0], "after a timed-out wait");
            assert!(!yield_until_done_timeout(&never, Some(Duration::from_millis(5))).await);
            assert_eq!(
                waiters(&never),
                [0, 0, 0],
                "after a timed-out yield_until_done_timeout"
            );
        });
    });
}

/// A stream that ended by its timeout but is kept (a struct field, a fused stream in a select
/// loop) must not keep the consumer's waker on the still-pending futures: when they complete
/// later, the task that long moved on must not be woken, and its waker must be released.
#[test]
fn a_stream_ended_by_timeout_and_kept_holds_no_waker() {
    within(30, || {
        let never: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut s = as_completed_async(&never, Some(Duration::from_millis(5)));
        let first = loop {
            match Pin::new(&mut s).poll_next(&mut cx) {
                Poll::Ready(item) => break item,
                // Our waker is a counter: wait for the timer to wake it.
                Poll::Pending => {
                    let before = count.0.load(Ordering::SeqCst);
                    let start = std::time::Instant::now();
                    while count.0.load(Ordering::SeqCst) == before {
                        assert!(
                            start.elapsed() < Duration::from_secs(20),
                            "the timeout never woke us"
                        );
                        std::thread::yield_now();
                    }
                }
            }
        };
        assert!(matches!(first, Some(Err(Error::Timeout))), "{first:?}");
        assert!(matches!(
            Pin::new(&mut s).poll_next(&mut cx),
            Poll::Ready(None)
        ));
        for _ in 0..3 {
            assert!(
                matches!(Pin::new(&mut s).poll_next(&mut cx), Poll::Ready(None)),
                "polled after its end"
            );
        }
        let woken = count.0.load(Ordering::SeqCst);
        let pending_waiters = waiters(&never);
        let held = Arc::strong_count(&count) - 1; // ours
        for f in &never {
            f.set_result(0).unwrap();
        }
        let stale_wakes = count.0.load(Ordering::SeqCst) - woken;
        assert_eq!(
            (pending_waiters, held, stale_wakes),
            (vec![0, 0, 0], 1, 0),
            "after its end the kept stream still had wakers on the pending futures, held \
             the consumer's waker (clones besides the context's) and woke it when they completed"
        );
        drop(s);
    });
}

/// The blocking iterator, likewise: ended by its timeout and kept, it leaves no waker on the
/// pending futures.
#[test]
fn an_iterator_ended_by_timeout_and_kept_holds_no_waker() {
    within(30, || {
        let never: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let mut it = as_completed(&never, Some(Duration::from_millis(5)));
        assert!(matches!(it.next(), Some(Err(Error::Timeout))));
        assert!(it.next().is_none());
        assert!(it.next().is_none());
        assert_eq!(
            waiters(&never),
            [0, 0, 0],
            "after the iterator's end, iterator kept"
        );
        drop(it);
    });
}

/// A task that waits in a loop, FirstCompleted over one long-lived future and a fresh one each
/// time: the long-lived future's waiter list stays empty between waits (no growth).
#[test]
fn waits_in_a_loop_do_not_grow_a_long_lived_futures_waiter_list() {
    within(60, || {
        let pool = common::pool(1);
        let long_lived = Future::<u32>::new();
        let inside = long_lived.clone();
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let mut max_waiters = 0;
                for i in 0..3000u32 {
                    let tick = executor.submit(move || i).unwrap();
                    let w = if i % 2 == 0 {
                        wait_async([&inside, &tick], None, ReturnWhen::FirstCompleted)
                            .await
                            .done
                            .len()
                    } else {
                        let mut s = as_completed_async([&inside, &tick], None);
                        let first = s.next().await.unwrap().unwrap();
                        assert!(first == tick);
                        1
                    };
                    assert_eq!(w, 1);
                    max_waiters = max_waiters.max(inside.waiter_count());
                }
                max_waiters
            })
            .unwrap();
        assert_eq!(
            *parent.result().unwrap(),
            0,
            "waiters piled up on the long-lived future"
        );
        assert_eq!(long_lived.waiter_count(), 0);
        long_lived.set_result(0).unwrap();
        pool.join().unwrap();
    });
}

/// Drop the wait on one thread while others complete its futures: no crash, no waker left, and
/// the waker released (run many times to hit the window).
#[test]
fn drops_racing_completions() {
    within(60, || {
        for round in 0..2000 {
            let fs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
            let (count, waker) = counting();
            let barrier = Arc::new(Barrier::new(2));
            let completer = {
                let fs = fs.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    for f in fs.iter().rev() {
                        f.set_result(1).unwrap();
                    }
                })
            };
            let mut cx = Context::from_waker(&waker);
            match round % 3 {
                0 => {
                    let mut w = Box::pin(wait_async(&fs, None, ReturnWhen::AllCompleted));
                    let _ = w.as_mut().poll(&mut cx);
                    barrier.wait();
                    let _ = w.as_mut().poll(&mut cx);
                    drop(w);
                }
                1 => {
                    let mut s = as_completed_async(&fs, Some(Duration::from_secs(60)));
                    let _ = Pin::new(&mut s).poll_next(&mut cx);
                    barrier.wait();
                    let _ = Pin::new(&mut s).poll_next(&mut cx);
                    drop(s);
                }
                _ => {
                    let mut y =
                        Box::pin(yield_until_done_timeout(&fs, Some(Duration::from_secs(60))));
                    let _ = y.as_mut().poll(&mut cx);
                    barrier.wait();
                    drop(y);
                }
            }
            completer.join().unwrap();
            assert!(fs.iter().all(|f| f.waiter_count() == 0), "round {round}");
            drop(waker);
            assert_eq!(Arc::strong_count(&count), 1, "round {round}: waker leaked");
        }
    });
}

/// Repeatedly poll-and-drop waits on the same pending futures; the waiter lists stay empty and
/// the number of live wakers does not grow.
#[test]
fn poll_and_drop_many_times_over_the_same_futures() {
    within(60, || {
        let fs: Vec<Future<u32>> = (0..8).map(|_| Future::new()).collect();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        for i in 0..20_000 {
            match i % 3 {
                0 => {
                    let mut w = Box::pin(wait_async(&fs, None, ReturnWhen::FirstException));
                    assert!(w.as_mut().poll(&mut cx).is_pending());
                    assert!(w.as_mut().poll(&mut cx).is_pending());
                }
                1 => {
                    let mut s = as_completed_async(&fs, None);
                    assert!(Pin::new(&mut s).poll_next(&mut cx).is_pending());
                }
                _ => {
                    let mut y =
                        Box::pin(yield_until_done_timeout(&fs, Some(Duration::from_secs(60))));
                    assert!(y.as_mut().poll(&mut cx).is_pending());
                }
            }
        }
        assert_eq!(waiters(&fs), vec![0; 8]);
        assert_eq!(
            Arc::strong_count(&count),
            2,
            "only ours and the context's waker"
        );
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        for f in &fs {
            f.set_result(0).unwrap();
        }
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    });
}

/// Wait (bounded, for time to pass) `ms` milliseconds: this is about the timer firing later.
fn let_time_pass(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// A stream that ended because every future was reported, but is kept: its timeout's sleep
/// must not stay armed with the consumer's waker (a wake when it fires, the waker held by the
/// process timer until then).
#[test]
fn an_ended_stream_kept_is_not_woken_by_its_timeout_later() {
    within(30, || {
        let f = Future::<u32>::new();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut s = as_completed_async([&f], Some(Duration::from_millis(30)));
        assert!(Pin::new(&mut s).poll_next(&mut cx).is_pending());
        f.set_result(1).unwrap();
        assert!(matches!(
            Pin::new(&mut s).poll_next(&mut cx),
            Poll::Ready(Some(Ok(_)))
        ));
        assert!(matches!(
            Pin::new(&mut s).poll_next(&mut cx),
            Poll::Ready(None)
        ));
        let woken_at_end = count.0.load(Ordering::SeqCst);
        let_time_pass(150);
        let stale = count.0.load(Ordering::SeqCst) - woken_at_end;
        assert_eq!(
            stale, 0,
            "the ended stream was woken by its timeout after its end"
        );
        drop(s);
    });
}

/// A `wait_async` that returned early, kept (a fused future in a select loop), is not woken by
/// its timeout later.
#[test]
fn a_returned_wait_kept_is_not_woken_by_its_timeout_later() {
    within(30, || {
        let g = Future::<u32>::new();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut w = Box::pin(wait_async(
            [&g],
            Some(Duration::from_millis(30)),
            ReturnWhen::FirstCompleted,
        ));
        assert!(w.as_mut().poll(&mut cx).is_pending());
        g.set_result(1).unwrap();
        assert!(w.as_mut().poll(&mut cx).is_ready());
        let woken_at_end = count.0.load(Ordering::SeqCst);
        let_time_pass(150);
        assert_eq!(count.0.load(Ordering::SeqCst) - woken_at_end, 0);
        drop(w);
    });
}
