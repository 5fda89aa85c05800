//! loom models of the `LocalExecutor`'s run queue (crates/core/src/local.rs), run by
//! `cargo test --features loom`: a wake from another context (a thread here, an interrupt on
//! firmware) racing the run loop is never lost, including when the enqueue fails because the run
//! loop is mid-operation on the queue (under loom the queue is a stand-in that fails exactly
//! then, as heapless's can) and the task has to go through a parking bay.
#![cfg(feature = "loom")]

use std::sync::Arc;

use betterconcurrent::{Future, LocalExecutor};
use loom::thread;

#[path = "shared_with_core/doorbell.rs"]
mod doorbell;
use doorbell::Doorbell;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// An executor with one task suspended (or about to suspend) on a doorbell.
fn waiting_on_a_doorbell() -> (LocalExecutor<2>, Arc<Doorbell>, Future<()>) {
    let executor = LocalExecutor::<2>::new();
    let doorbell = Doorbell::new();
    let waiting = executor.spawn(doorbell.rung()).unwrap();
    (executor, doorbell, waiting)
}

#[test]
fn a_wake_from_another_context_racing_the_run_loop_is_never_lost() {
    model(|| {
        let (executor, doorbell, waiting) = waiting_on_a_doorbell();
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
        let (executor, doorbell, waiting) = waiting_on_a_doorbell();
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

#[test]
fn two_wakes_parked_at_once_are_both_run() {
    model(|| {
        let executor = LocalExecutor::<4>::new();
        let (first_bell, second_bell) = (Doorbell::new(), Doorbell::new());
        let first = executor.spawn(first_bell.rung()).unwrap();
        let second = executor.spawn(second_bell.rung()).unwrap();
        executor.run_until_idle();
        // Both wakes' enqueues fail: two tasks are parked, each raising `rescan`, while the run
        // loop may be scanning.
        executor.fail_next_enqueues(2);
        let ringers = [first_bell, second_bell].map(|bell| thread::spawn(move || bell.ring()));
        executor.run_until_idle();
        for ringer in ringers {
            ringer.join().unwrap();
        }
        executor.run_until_idle();
        assert!(first.done() && second.done(), "a parked task was stranded");
        assert_eq!(executor.parked_total(), 2);
    });
}
