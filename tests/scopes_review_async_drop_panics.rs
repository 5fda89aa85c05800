//! Review of scopes: a panic while a scoped async body is dropped. For `spawn_async` (no
//! future) the scope re-raises a task's panic, and the core treats a panicking body destructor
//! as the task's panic (as a closure's captures drop inside its call): so `scope` should
//! re-raise it, as it does for `spawn` whose capture panics on drop.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::future::Future as StdFuture;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use betterconcurrent::Error;

/// A value whose destructor panics with a `u32` payload.
struct PanicsOnDrop(u32);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            std::panic::panic_any(self.0);
        }
    }
}

/// A future that is ready at once and panics when dropped.
#[allow(dead_code)] // held for its destructor
struct ReadyThenPanicsOnDrop(PanicsOnDrop);

impl StdFuture for ReadyThenPanicsOnDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

fn payload_of(caught: std::thread::Result<()>) -> Option<u32> {
    caught.err()?.downcast_ref::<u32>().copied()
}

#[test]
fn spawn_whose_capture_panics_on_drop_is_reraised_by_the_scope() {
    within(60, || {
        let pool = pool(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                let guard = PanicsOnDrop(7);
                scope.spawn(move |_| drop(guard)).unwrap();
            })
        }));
        assert_eq!(payload_of(caught), Some(7));
    });
}

#[test]
fn spawn_async_whose_body_panics_on_drop_is_reraised_by_the_scope() {
    within(60, || {
        let pool = pool(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                scope
                    .spawn_async(ReadyThenPanicsOnDrop(PanicsOnDrop(8)))
                    .unwrap();
            })
        }));
        assert_eq!(
            payload_of(caught),
            Some(8),
            "the body's panicking destructor is the task's panic: re-raised by the scope"
        );
    });
}

#[test]
fn spawn_async_whose_captured_value_panics_on_drop_is_reraised_by_the_scope() {
    within(60, || {
        let pool = pool(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                let guard = PanicsOnDrop(9);
                // Captured by the `async move` block, never moved into its body's locals:
                // dropped with the body once it completed.
                scope
                    .spawn_async(async move {
                        let _borrowed = &guard;
                    })
                    .unwrap();
            })
        }));
        assert_eq!(payload_of(caught), Some(9));
    });
}

#[test]
fn submit_async_whose_body_panics_on_drop_ends_its_future_panicked() {
    within(60, || {
        let pool = pool(2);
        let outcome = pool.scope(|scope| {
            let future = scope
                .submit_async(ReadyThenPanicsOnDrop(PanicsOnDrop(10)))
                .unwrap();
            match future.result() {
                Err(Error::Panicked(panic)) => panic.take_payload()?.downcast_ref::<u32>().copied(),
                _ => None,
            }
        });
        assert_eq!(outcome, Some(10));
    });
}
