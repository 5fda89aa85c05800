//! loom models of the timer's protocol (crates/core/src/timer.rs docs), run by
//! `cargo test --features loom`: a firing racing its sleep being dropped, racing a re-poll with
//! another waker, and racing an arming of an earlier deadline (the driver must learn of it). The
//! timer's lock is loom's; its clock reads tick 0 and the driver's `fire_until` is given the
//! tick it fires.
#![cfg(feature = "loom")]

use std::cell::RefCell;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use betterconcurrent::timer::{Sleep, Timer};
use loom::sync::Arc;
use loom::thread;

#[path = "shared_with_core/counting_waker.rs"]
mod counting_waker;
use counting_waker::CountingWaker;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

fn poll_with(sleep: &mut Sleep<'_>, waker: &Waker) -> Poll<()> {
    Pin::new(sleep).poll(&mut Context::from_waker(waker))
}

std::thread_local! {
    /// The deadlines `arm` was called with in this iteration. loom runs a model's threads on
    /// the test's own thread, one iteration at a time, so a thread-local is one per model.
    static ARMED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn armed() -> Vec<u64> {
    ARMED.with(|armed| armed.borrow().clone())
}

fn timer() -> Arc<Timer> {
    ARMED.with(|armed| armed.borrow_mut().clear());
    Arc::new(Timer::new(
        || 0,
        |deadline| ARMED.with(|armed| armed.borrow_mut().push(deadline)),
    ))
}

/// A sleep armed and then dropped while the driver fires it: whichever comes first under the
/// lock, no entry is left and the waker is woken at most once.
#[test]
fn a_timer_firing_racing_its_sleep_being_dropped_leaves_no_entry() {
    model(|| {
        let timer = timer();
        let (counter, waker) = CountingWaker::new();
        let mut sleep = timer.sleep_until(1);
        assert!(poll_with(&mut sleep, &waker).is_pending());
        let driver = {
            let timer = timer.clone();
            thread::spawn(move || timer.fire_until(1))
        };
        drop(sleep);
        assert_eq!(driver.join().unwrap(), None);
        assert_eq!(timer.pending(), 0);
        assert!(counter.wakes() <= 1);
    });
}

/// A re-poll with a new waker racing the firing: a re-poll that returns `Pending` has left its
/// new waker in the entry, and the firing wakes that one; otherwise the re-poll saw it fired.
#[test]
fn a_timer_firing_racing_a_repoll_with_a_new_waker_loses_no_wake() {
    model(|| {
        let timer = timer();
        let (first, first_waker) = CountingWaker::new();
        let (second, second_waker) = CountingWaker::new();
        let mut sleep = timer.sleep_until(1);
        assert!(poll_with(&mut sleep, &first_waker).is_pending());
        let driver = {
            let timer = timer.clone();
            thread::spawn(move || timer.fire_until(1))
        };
        let repolled = poll_with(&mut sleep, &second_waker);
        driver.join().unwrap();
        match repolled {
            Poll::Pending => {
                assert_eq!(second.wakes(), 1, "the new waker is the one woken");
                assert!(poll_with(&mut sleep, &second_waker).is_ready());
            }
            Poll::Ready(()) => assert_eq!(first.wakes(), 1, "fired before the re-poll"),
        }
        assert_eq!(first.wakes() + second.wakes(), 1);
        assert_eq!(timer.pending(), 0);
    });
}

/// A sleep armed earlier than the driver would wake, racing a firing that records when the
/// driver wakes next: either `arm` was told of the new deadline or the firing returned it, so
/// the driver never sleeps past an armed sleep.
#[test]
fn arming_an_earlier_deadline_racing_a_firing_always_reaches_the_driver() {
    model(|| {
        let timer = timer();
        let waker = futures::task::noop_waker_ref();
        let mut late = timer.sleep_until(10);
        let mut ready_now = timer.sleep_until(1);
        assert!(poll_with(&mut late, waker).is_pending());
        assert!(poll_with(&mut ready_now, waker).is_pending());
        let driver = {
            let timer = timer.clone();
            thread::spawn(move || timer.fire_until(1))
        };
        let mut earlier = timer.sleep_until(3);
        assert!(poll_with(&mut earlier, waker).is_pending());
        let next = driver.join().unwrap();
        let armed = armed();
        assert!(
            armed.contains(&3) || next == Some(3),
            "next {next:?}, armed {armed:?}"
        );
        drop((late, ready_now, earlier));
        assert_eq!(timer.pending(), 0);
    });
}
