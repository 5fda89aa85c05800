//! loom models of the future's protocols, run by `cargo test --features loom`. They drive the real
//! `Future` through the core's `sync` shim (loom's atomics, mutex and `UnsafeCell`), exploring
//! every interleaving of the threads within the preemption bound.
#![cfg(feature = "loom")]

use std::task::Context;

use betterconcurrent::{Future, State};
use loom::thread;
use std::future::Future as _;
use std::pin::Pin;

#[path = "shared_with_core/counting_waker.rs"]
mod counting_waker;
use counting_waker::CountingWaker;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Completion racing waiter registration: a waiter whose poll returned `Pending` is always woken,
/// and the value is then readable. (DESIGN.md section 6, case 1.)
#[test]
fn completion_racing_registration_never_loses_the_wake() {
    model(|| {
        let future = Future::<u32>::new();
        let setter = future.clone();
        let completer = thread::spawn(move || setter.set_result(7).unwrap());
        let (counter, waker) = CountingWaker::new();
        let mut wait = future.yield_until_done();
        let registered = Pin::new(&mut wait)
            .poll(&mut Context::from_waker(&waker))
            .is_pending();
        completer.join().unwrap();
        if registered {
            assert_eq!(counter.wakes(), 1, "the registered waker was woken");
        }
        assert!(Pin::new(&mut wait)
            .poll(&mut Context::from_waker(&waker))
            .is_ready());
        assert_eq!(future.try_result().unwrap().unwrap(), &7);
    });
}

/// Two waiters on one future, registering concurrently with completion: both are woken exactly
/// once if they registered. (Case 2.)
#[test]
fn two_waiters_both_resume() {
    model(|| {
        let future = Future::<u32>::new();
        let waiter = {
            let future = future.clone();
            thread::spawn(move || {
                let (counter, waker) = CountingWaker::new();
                let mut wait = future.yield_until_done();
                let registered = Pin::new(&mut wait)
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending();
                // The wait is returned, not dropped: dropping it would deregister the waker.
                (registered, counter, wait)
            })
        };
        let (counter, waker) = CountingWaker::new();
        let mut wait = future.yield_until_done();
        let registered = Pin::new(&mut wait)
            .poll(&mut Context::from_waker(&waker))
            .is_pending();
        future.set_result(1).unwrap();
        let (other_registered, other_counter, _other_wait) = waiter.join().unwrap();
        if registered {
            assert_eq!(counter.wakes(), 1);
        }
        if other_registered {
            assert_eq!(other_counter.wakes(), 1);
        }
    });
}

/// `cancel` racing `set_running_or_notify_cancel`: exactly one wins, and the end state says
/// which. (Case 10.)
#[test]
fn cancel_racing_set_running_exactly_one_wins() {
    model(|| {
        let future = Future::<u32>::new();
        let canceller = {
            let future = future.clone();
            thread::spawn(move || future.cancel())
        };
        let claimed = future.set_running_or_notify_cancel().unwrap();
        let cancelled = canceller.join().unwrap();
        assert_ne!(claimed, cancelled, "exactly one of them wins");
        let expected = if claimed {
            State::Running
        } else {
            State::CancelledAndNotified
        };
        assert_eq!(future.state(), expected);
    });
}
