//! Adversarial review of task groups: a group whose every handle is dropped while a queue still
//! holds a task of it that no longer counts in it (the copy of a closure run in place).
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::mpsc;
use std::time::Duration;

use betterconcurrent::{Future, TaskGroup};

/// 1 worker. A plain pool task blocks on `result()` of a group closure that is still queued
/// (in the injector): it runs in place, the group's count falls to 0, the group releases
/// itself. Then the user drops the group's handle and the future; only the queued copy (which
/// keeps a weak handle) remains. The worker then pops that copy.
#[test]
fn the_queued_copy_of_a_group_closure_run_in_place_after_the_group_was_dropped() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let (future_tx, future_rx) = mpsc::channel::<Future<u32>>();
        let (ran_tx, ran_rx) = mpsc::channel::<u32>();
        let (dropped_tx, dropped_rx) = mpsc::channel::<()>();
        let outer = pool
            .submit(move || {
                let f = future_rx.recv().unwrap();
                let v = *f.result().unwrap(); // runs the queued group closure in place
                drop(f);
                ran_tx.send(v).unwrap();
                dropped_rx.recv().unwrap();
            })
            .unwrap();
        let f = group.submit(|| 42u32).unwrap();
        future_tx.send(f).unwrap();
        assert_eq!(ran_rx.recv().unwrap(), 42);
        drop(group); // the last handle: nothing holds the group now
        dropped_tx.send(()).unwrap();
        outer.result().unwrap();
        // The one worker now pops the stale copy; the pool must still run work afterwards.
        let after = pool.submit(|| 7).unwrap();
        assert_eq!(*after.result_timeout(Duration::from_secs(20)).unwrap(), 7);
        let again = TaskGroup::new(&pool);
        assert_eq!(
            *again
                .submit(|| 8)
                .unwrap()
                .result_timeout(Duration::from_secs(20))
                .unwrap(),
            8
        );
        pool.join().unwrap();
    });
}
