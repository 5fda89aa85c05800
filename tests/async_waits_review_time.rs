//! Timeouts of the async waits (and of the blocking forms alongside): a zero timeout partitions
//! without suspending (done ones yielded, no timeout error when nothing is pending),
//! `Duration::MAX` and other huge timeouts mean "no limit" without overflowing, the stream's
//! timeout bounds the whole iteration (not each item), a wait whose timeout passed reports the
//! futures done by then as done, bounds on how long a timed-out wait takes, and many tiny
//! timeouts in a row are each woken by the timer.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use betterconcurrent::{
    as_completed, as_completed_async, wait, wait_async, yield_until_done_timeout, Error, Executor,
    Future, ReturnWhen,
};
use futures::{Stream, StreamExt as _};

mod common;
use common::watchdog::within;

fn noop_cx() -> Context<'static> {
    Context::from_waker(futures::task::noop_waker_ref())
}

#[test]
fn zero_timeout_returns_at_the_first_poll() {
    within(30, || {
        let a = Future::<u32>::new();
        let b = Future::<u32>::new();
        b.set_result(2).unwrap();
        for mode in [
            ReturnWhen::FirstCompleted,
            ReturnWhen::FirstException,
            ReturnWhen::AllCompleted,
        ] {
            let mut w = Box::pin(wait_async([&a, &b], Some(Duration::ZERO), mode));
            let Poll::Ready(r) = w.as_mut().poll(&mut noop_cx()) else {
                panic!("{mode:?}: a zero timeout suspended")
            };
            assert!(r.done.len() == 1 && r.done[0] == b, "{mode:?}");
            assert!(r.not_done.len() == 1 && r.not_done[0] == a, "{mode:?}");
        }
        let mut y = Box::pin(yield_until_done_timeout([&a, &b], Some(Duration::ZERO)));
        assert_eq!(y.as_mut().poll(&mut noop_cx()), Poll::Ready(false));
        // The stream: b, then the timeout error, then the end, all without suspending.
        let mut s = as_completed_async([&a, &b], Some(Duration::ZERO));
        assert!(
            matches!(Pin::new(&mut s).poll_next(&mut noop_cx()), Poll::Ready(Some(Ok(f))) if f == b)
        );
        assert!(matches!(
            Pin::new(&mut s).poll_next(&mut noop_cx()),
            Poll::Ready(Some(Err(Error::Timeout)))
        ));
        assert!(matches!(
            Pin::new(&mut s).poll_next(&mut noop_cx()),
            Poll::Ready(None)
        ));
        // Everything done: no timeout error, even with a zero timeout.
        a.set_result(1).unwrap();
        let mut s = as_completed_async([&a, &b], Some(Duration::ZERO));
        let mut items = Vec::new();
        loop {
            match Pin::new(&mut s).poll_next(&mut noop_cx()) {
                Poll::Ready(Some(item)) => {
                    items.push(item.map(|f| *f.try_result().unwrap().unwrap()))
                }
                Poll::Ready(None) => break,
                Poll::Pending => panic!("suspended with everything done"),
            }
        }
        assert!(matches!(items[..], [Ok(1), Ok(2)]), "{items:?}");
        let blocking: Vec<_> = as_completed([&a, &b], Some(Duration::ZERO)).collect();
        assert_eq!(blocking.len(), 2);
        assert!(blocking.iter().all(Result::is_ok));
        let mut y = Box::pin(yield_until_done_timeout([&a, &b], Some(Duration::ZERO)));
        assert_eq!(y.as_mut().poll(&mut noop_cx()), Poll::Ready(true));
    });
}

#[test]
fn huge_timeouts_mean_no_limit() {
    within(30, || {
        let huge = [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            Duration::from_secs(1 << 40),
            Duration::from_secs(100 * 365 * 24 * 3600),
        ];
        let pool = common::pool(1);
        for &t in &huge {
            let parent = pool
                .submit_async(async move {
                    let executor = Executor::current().unwrap();
                    let gate = Future::<()>::new();
                    let g = gate.clone();
                    let kid = executor
                        .submit_async(async move {
                            (&g).await.unwrap();
                            5u32
                        })
                        .unwrap();
                    let opener = gate.clone();
                    executor
                        .submit(move || opener.set_result(()).unwrap())
                        .unwrap();
                    let w = wait_async([&kid], Some(t), ReturnWhen::AllCompleted).await;
                    let y = yield_until_done_timeout([&kid], Some(t)).await;
                    let kid2 = executor.submit(|| 6u32).unwrap();
                    let items: Vec<u32> = as_completed_async([&kid2], Some(t))
                        .map(|f| *f.unwrap().try_result().unwrap().unwrap())
                        .collect()
                        .await;
                    (w.done.len(), y, items)
                })
                .unwrap();
            assert_eq!(parent.into_result().unwrap(), (1, true, vec![6]), "{t:?}");
            // The blocking forms.
            let f = Future::<u32>::new();
            let f2 = f.clone();
            let t2 = std::thread::spawn(move || {
                while f2.waiter_count() == 0 {
                    std::thread::yield_now();
                }
                f2.set_result(1).unwrap();
            });
            let w = wait([&f], Some(t), ReturnWhen::FirstCompleted);
            t2.join().unwrap();
            assert_eq!(w.done.len(), 1, "{t:?}");
            assert_eq!(as_completed([&f], Some(t)).count(), 1);
        }
        pool.join().unwrap();
    });
}

/// The stream's timeout is for the whole iteration (Python's `as_completed`), not per item:
/// items spaced further apart than the timeout in total end with the timeout error.
#[test]
fn the_stream_timeout_bounds_the_whole_iteration() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let (item_tx, item_rx) = mpsc::channel::<Result<u32, ()>>();
        let inside = fs.clone();
        let consumer = std::thread::spawn(move || {
            futures::executor::block_on(async {
                let mut s = as_completed_async(&inside, Some(Duration::from_millis(300)));
                while let Some(item) = s.next().await {
                    item_tx
                        .send(
                            item.map(|f| *f.try_result().unwrap().unwrap())
                                .map_err(|_| ()),
                        )
                        .unwrap();
                }
            })
        });
        let mut got = Vec::new();
        for (i, future) in fs.iter().enumerate().take(3) {
            future.set_result(i as u32).unwrap();
            let item = item_rx.recv_timeout(Duration::from_secs(20)).unwrap();
            got.push(item);
            if item.is_err() {
                break;
            }
            // Each gap alone is shorter than the timeout; together they exceed it.
            std::thread::sleep(Duration::from_millis(200));
        }
        consumer.join().unwrap();
        let rest: Vec<_> = item_rx.try_iter().collect();
        got.extend(rest);
        // Ok(0), maybe Ok(1) (if it arrived before 300 ms), then Err; never Ok(2).
        assert_eq!(got[0], Ok(0), "{got:?}");
        assert_eq!(*got.last().unwrap(), Err(()), "{got:?}");
        assert!(
            !got.contains(&Ok(2)),
            "the timeout restarted per item: {got:?}"
        );
        // The blocking iterator, the same.
        let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let inside = fs.clone();
        let (item_tx, item_rx) = mpsc::channel::<Result<u32, ()>>();
        let consumer = std::thread::spawn(move || {
            for item in as_completed(&inside, Some(Duration::from_millis(300))) {
                item_tx
                    .send(
                        item.map(|f| *f.try_result().unwrap().unwrap())
                            .map_err(|_| ()),
                    )
                    .unwrap();
            }
        });
        let mut got = Vec::new();
        for (i, future) in fs.iter().enumerate().take(3) {
            future.set_result(i as u32).unwrap();
            let item = item_rx.recv_timeout(Duration::from_secs(20)).unwrap();
            got.push(item);
            if item.is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        consumer.join().unwrap();
        assert_eq!(got[0], Ok(0), "{got:?}");
        assert!(
            !got.contains(&Ok(2)),
            "blocking: the timeout restarted per item: {got:?}"
        );
    });
}

/// A wait whose timeout has passed by its first poll, with a future completed meanwhile: that
/// future is in `done` (Python's `wait` gathers what finished), not in `not_done`.
#[test]
fn a_timed_out_wait_reports_what_completed_meanwhile_as_done() {
    within(30, || {
        for mode in [ReturnWhen::FirstException, ReturnWhen::AllCompleted] {
            let a = Future::<u32>::new();
            let b = Future::<u32>::new();
            let w = wait_async([&a, &b], Some(Duration::from_millis(10)), mode);
            b.set_result(2).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let r = futures::executor::block_on(w);
            assert!(
                r.done.len() == 1 && r.done[0] == b,
                "{mode:?}: {} done",
                r.done.len()
            );
            assert!(r.not_done.len() == 1 && r.not_done[0] == a, "{mode:?}");
        }
    });
}

#[test]
fn timed_out_waits_take_about_their_timeout() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let never = Future::<u32>::new();
                let mut spans = Vec::new();
                for mode in [
                    ReturnWhen::FirstCompleted,
                    ReturnWhen::FirstException,
                    ReturnWhen::AllCompleted,
                ] {
                    let start = Instant::now();
                    let w = wait_async([&never], Some(Duration::from_millis(40)), mode).await;
                    assert_eq!(w.not_done.len(), 1);
                    spans.push(start.elapsed());
                }
                let start = Instant::now();
                let items: Vec<_> = as_completed_async([&never], Some(Duration::from_millis(40)))
                    .collect()
                    .await;
                assert!(matches!(items[..], [Err(Error::Timeout)]));
                spans.push(start.elapsed());
                let start = Instant::now();
                assert!(!yield_until_done_timeout([&never], Some(Duration::from_millis(40))).await);
                spans.push(start.elapsed());
                spans
            })
            .unwrap();
        for span in parent.into_result().unwrap() {
            assert!(
                span >= Duration::from_millis(40),
                "returned before its timeout: {span:?}"
            );
            assert!(span < Duration::from_secs(10), "far too late: {span:?}");
        }
        // A blocking timed wait on the pool's own thread.
        let never = Future::<u32>::new();
        let n2 = never.clone();
        let blocking = pool
            .submit(move || {
                let start = Instant::now();
                let w = wait(
                    [&n2],
                    Some(Duration::from_millis(40)),
                    ReturnWhen::AllCompleted,
                );
                (w.not_done.len(), start.elapsed())
            })
            .unwrap();
        let (n, span) = blocking.into_result().unwrap();
        assert_eq!(n, 1);
        assert!(
            span >= Duration::from_millis(40) && span < Duration::from_secs(10),
            "{span:?}"
        );
        pool.join().unwrap();
    });
}

/// Many tiny timeouts one after another in a task on one worker: each is woken by the timer
/// (a lost timer wake would hang here), and nothing is left on the pending future.
#[test]
fn many_tiny_timeouts_in_a_row() {
    within(60, || {
        let pool = common::pool(1);
        let never = Future::<u32>::new();
        let inside = never.clone();
        let parent = pool
            .submit_async(async move {
                let mut n = 0;
                for i in 0..600u32 {
                    let t = Duration::from_micros(u64::from(i % 5));
                    match i % 3 {
                        0 => {
                            n += wait_async([&inside], Some(t), ReturnWhen::FirstCompleted)
                                .await
                                .not_done
                                .len()
                        }
                        1 => n += as_completed_async([&inside], Some(t)).count().await,
                        _ => n += usize::from(!yield_until_done_timeout([&inside], Some(t)).await),
                    }
                }
                n
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 600);
        assert_eq!(never.waiter_count(), 0);
        pool.join().unwrap();
    });
}

/// Does the timeout count from the call or from the first poll? The waits gather the futures
/// already done at the call, so the timeout should count from there too: a wait created, left
/// unpolled past its timeout, returns at its first poll.
#[test]
fn the_timeout_counts_from_the_call() {
    within(30, || {
        let never = Future::<u32>::new();
        let w = wait_async(
            [&never],
            Some(Duration::from_millis(30)),
            ReturnWhen::AllCompleted,
        );
        let s = as_completed_async([&never], Some(Duration::from_millis(30)));
        let y = yield_until_done_timeout([&never], Some(Duration::from_millis(30)));
        std::thread::sleep(Duration::from_millis(80));
        let mut w = Box::pin(w);
        let mut s = s;
        let mut y = Box::pin(y);
        let wp = w.as_mut().poll(&mut noop_cx()).is_ready();
        let sp = matches!(
            Pin::new(&mut s).poll_next(&mut noop_cx()),
            Poll::Ready(Some(Err(Error::Timeout)))
        );
        let yp = y.as_mut().poll(&mut noop_cx()) == Poll::Ready(false);
        assert_eq!((wp, sp, yp), (true, true, true), "(wait_async, stream, yield_until_done_timeout) ready at the first poll after their timeout");
    });
}
