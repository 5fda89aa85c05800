//! How the waits' cost grows with the number of futures (the module promises linear work):
//! `FIRST_EXCEPTION` over many futures that all succeed must cost about what `ALL_COMPLETED`
//! costs over the same number, in the async and the blocking form; a quadratic re-check of
//! every done future at each completion shows up as a cost many times larger.
#![cfg(not(feature = "loom"))]

use std::task::Context;
use std::time::{Duration, Instant};

use betterconcurrent::{wait, wait_async, Future, ReturnWhen};

mod common;
use common::watchdog::within;

/// Time to watch `n` pending futures in `mode` and complete them all (successes), async form:
/// the wait is polled once, the futures completed, then the wait driven to its end.
fn async_cost(n: usize, mode: ReturnWhen) -> Duration {
    let fs: Vec<Future<u32>> = (0..n).map(|_| Future::new()).collect();
    let start = Instant::now();
    let mut w = Box::pin(wait_async(&fs, None, mode));
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    assert!(std::future::Future::poll(w.as_mut(), &mut cx).is_pending());
    for f in &fs {
        f.set_result(1).unwrap();
    }
    let r = futures::executor::block_on(w);
    let spent = start.elapsed();
    assert_eq!(r.done.len(), n);
    spent
}

/// The same for the blocking form, with the futures completed from another thread once the
/// wait watches the first of them.
fn blocking_cost(n: usize, mode: ReturnWhen) -> Duration {
    let fs: Vec<Future<u32>> = (0..n).map(|_| Future::new()).collect();
    let completer = {
        let fs = fs.clone();
        std::thread::spawn(move || {
            while fs[0].waiter_count() == 0 {
                std::thread::yield_now();
            }
            for f in &fs {
                f.set_result(1).unwrap();
            }
        })
    };
    let start = Instant::now();
    let r = wait(&fs, None, mode);
    let spent = start.elapsed();
    completer.join().unwrap();
    assert_eq!(r.done.len() + r.not_done.len(), n);
    assert_eq!(
        r.done.len(),
        n,
        "FIRST_EXCEPTION without exceptions returns when all are done"
    );
    spent
}

#[test]
fn first_exception_over_many_successes_costs_about_what_all_completed_costs() {
    within(60, || {
        let n = 16_000;
        let all = async_cost(n, ReturnWhen::AllCompleted);
        let first_exception = async_cost(n, ReturnWhen::FirstException);
        assert!(
            first_exception < all * 10 + Duration::from_secs(1),
            "wait_async over {n} futures: FIRST_EXCEPTION took {first_exception:?}, \
             ALL_COMPLETED {all:?} (quadratic?)"
        );
    });
}

#[test]
fn blocking_first_exception_over_many_successes_is_not_quadratic() {
    within(60, || {
        let n = 8_000;
        let all_completed = blocking_cost(n, ReturnWhen::AllCompleted);
        let first_exception = blocking_cost(n, ReturnWhen::FirstException);
        assert!(
            first_exception < all_completed * 10 + Duration::from_millis(500),
            "wait over {n} futures: FIRST_EXCEPTION took {first_exception:?}, \
             ALL_COMPLETED {all_completed:?} (quadratic?)"
        );
    });
}
