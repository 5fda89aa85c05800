//! loom models of the `LocalExecutor`'s run queue (crates/core/src/local.rs), run by
//! `cargo test --features loom`: a wake from another context (a thread here, an interrupt on
//! firmware) racing the run loop is never lost, including when the enqueue fails because the run
//! loop is mid-operation on the queue (under loom the queue is a stand-in that fails exactly
//! then, as heapless's can) and the task has to go through a parking slot.
#![cfg(feature = "loom")]

use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use betterconcurrent::LocalExecutor;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Mutex;
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// A waker slot filled by a task and fired from another thread.
struct Doorbell {
    rung: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Doorbell {
    fn new() -> Arc<Self> {
        Arc::new(Doorbell {
            rung: AtomicBool::new(false),
            waker: Mutex::new(None),
        })
    }

    fn ring(&self) {
        self.rung.store(true, Ordering::SeqCst);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

struct Ringing(Arc<Doorbell>);

impl StdFuture for Ringing {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut waker = self.0.waker.lock().unwrap();
        if self.0.rung.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_wake_from_another_context_racing_the_run_loop_is_never_lost() {
    model(|| {
        let executor = LocalExecutor::<2>::new();
        let doorbell = Doorbell::new();
        let waiting = {
            let doorbell = doorbell.clone();
            executor.spawn(Ringing(doorbell)).unwrap()
        };
        let ringer = thread::spawn(move || doorbell.ring());
        executor.join();
        ringer.join().unwrap();
        assert!(waiting.try_result().is_some_and(|r| r.is_ok()));
        assert_eq!(executor.outstanding(), 0);
    });
}

#[test]
fn a_wake_whose_enqueue_fails_is_parked_and_still_run() {
    model(|| {
        let executor = LocalExecutor::<2>::new();
        let doorbell = Doorbell::new();
        let waiting = {
            let doorbell = doorbell.clone();
            executor.spawn(Ringing(doorbell)).unwrap()
        };
        // Suspend the waiting task first, so the ring's wake enqueues it.
        executor.run_until_idle();
        // A second task keeps the run loop busy on the queue while the wake arrives: the wake's
        // enqueue fails whenever it lands during one of the loop's queue operations.
        let other = executor.spawn(async { 1 }).unwrap();
        let ringer = thread::spawn(move || doorbell.ring());
        executor.join();
        ringer.join().unwrap();
        assert!(waiting.try_result().is_some_and(|r| r.is_ok()));
        assert!(other.try_result().is_some_and(|r| r.is_ok()));
        assert_eq!(executor.outstanding(), 0);
    });
}
