//! Third dump review, cycles across groups and scopes: a ring of four whose members were
//! submitted through the pool, two task groups (one a child of the other) and a scope, and a
//! ring of two split between a group and the pool, are found, reported, named with their
//! submit sites, and time out as `Error::Stuck`; a group's own `join_timeout` says `Stuck` on a
//! deadlocked group and `Timeout` on a slow one beside a deadlock elsewhere; cancelling the
//! group breaks the ring.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use betterconcurrent::{Dump, Error, Executor, Future, TaskGroup};
use common::dump::{rotated_to_min, AbortOnDrop};
use common::watchdog::within;

const SHORT: Duration = Duration::from_millis(150);
const REPORTED_WITHIN: Duration = Duration::from_secs(10);

fn reporting_pool(workers: usize) -> (AbortOnDrop, mpsc::Receiver<Dump>) {
    common::dump::reporting_pool(workers, Dump::clone)
}

/// The body of ring member `i`: await the slot, then the future found there.
async fn member(slot: Future<Future<u32>>) -> u32 {
    let next = (&slot).await.unwrap().clone();
    drop(slot);
    match (&next).await {
        Ok(v) => *v + 1,
        Err(_) => 0,
    }
}

#[test]
fn a_ring_of_four_across_the_pool_two_groups_and_a_scope_is_found_and_reported() {
    within(60, || {
        let (pool, reported) = reporting_pool(3);
        let outer = TaskGroup::new(&pool);
        let inner = TaskGroup::new(&outer.executor());
        let slots: Vec<Future<Future<u32>>> = (0..4).map(|_| Future::new()).collect();
        let executor: Executor = pool.executor();
        pool.scope(|scope| {
            let t0 = executor.submit_async(member(slots[1].clone())).unwrap();
            let t1 = outer.submit_async(member(slots[2].clone())).unwrap();
            let t2 = inner.submit_async(member(slots[3].clone())).unwrap();
            let t3 = scope.submit_async(member(slots[0].clone())).unwrap();
            let ring = [t0, t1, t2, t3];
            for (slot, task) in slots.iter().zip(&ring) {
                slot.set_result(task.clone()).unwrap();
            }
            let ids: Vec<usize> = ring.iter().map(Future::id).collect();
            let report = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
            assert_eq!(report.cycles(), [rotated_to_min(ids.clone())], "{report}");
            assert!(report.has_closed_cycle() && report.is_stuck(), "{report}");
            let text = report.to_string();
            for id in &ids {
                let name = format!("task {id:#x}");
                assert_eq!(
                    text.lines()
                        .filter(
                            |l| l.trim_start().starts_with(&name) && !l.ends_with("listed above")
                        )
                        .count(),
                    1,
                    "{name} not printed exactly once:\n{text}"
                );
            }
            #[cfg(feature = "locations")]
            for task in report.tasks() {
                let location = task.site().location().expect("a site");
                assert!(
                    location.file().ends_with("dump_review3_groups.rs"),
                    "{report}"
                );
            }
            assert!(matches!(pool.join_timeout(SHORT), Err(Error::Stuck(_))));
            for task in &ring {
                assert!(
                    matches!(task.result_timeout(SHORT), Err(Error::Stuck(_))),
                    "{:?}",
                    task.result_timeout(SHORT)
                );
            }
            // The documented verdict of a group's own timed join is `Timeout` (its docs do not
            // mention `Stuck`): it must at least give up.
            assert!(matches!(
                inner.join_timeout(SHORT),
                Err(Error::Timeout | Error::Stuck(_))
            ));
            // Cancelling the outer group ends its member and the inner group's: the ring is
            // broken, and the scope's and pool's members end with the error as a value.
            outer.cancel();
            for task in &ring {
                let _ = task.result();
            }
            assert!(ring[1].cancelled() && ring[2].cancelled());
        });
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
        assert!(reported.try_recv().is_err(), "reported twice");
    });
}

/// A group whose tasks are deadlocked says so in its own timed join, as the pool's does.
#[test]
fn a_deadlocked_groups_join_timeout_says_stuck() {
    within(60, || {
        let (pool, _reported) = reporting_pool(2);
        let group = TaskGroup::new(&pool);
        let slots: Vec<Future<Future<u32>>> = (0..2).map(|_| Future::new()).collect();
        let a = group.submit_async(member(slots[1].clone())).unwrap();
        let b = pool.submit_async(member(slots[0].clone())).unwrap();
        slots[0].set_result(a.clone()).unwrap();
        slots[1].set_result(b.clone()).unwrap();
        common::dump::dump_when(&pool, |dump| dump.has_closed_cycle());
        let joined = group.join_timeout(SHORT);
        let verdict = format!("{joined:?}");
        group.cancel();
        assert_eq!(*b.result().unwrap(), 0);
        assert!(a.cancelled());
        assert!(
            matches!(joined, Err(Error::Stuck(_))),
            "a deadlocked group's join_timeout: {verdict}"
        );
    });
}

/// A group that is merely slow times out as `Timeout`, even while a cycle elsewhere in the
/// pool (among tasks outside the group) is closed.
#[test]
fn a_slow_groups_join_timeout_beside_a_deadlock_elsewhere_is_a_timeout() {
    within(60, || {
        let (pool, _reported) = reporting_pool(2);
        let slots: Vec<Future<Future<u32>>> = (0..2).map(|_| Future::new()).collect();
        let a = pool.submit_async(member(slots[1].clone())).unwrap();
        let b = pool.submit_async(member(slots[0].clone())).unwrap();
        slots[0].set_result(a.clone()).unwrap();
        slots[1].set_result(b.clone()).unwrap();
        common::dump::dump_when(&pool, |dump| dump.has_closed_cycle());
        let group = TaskGroup::new(&pool);
        let gate = Future::<()>::new();
        let waiting = gate.clone();
        let slow = group
            .submit_async(async move {
                (&waiting).await.unwrap();
                1u32
            })
            .unwrap();
        let joined = group.join_timeout(SHORT);
        let verdict = format!("{joined:?}");
        gate.set_result(()).unwrap();
        assert_eq!(*slow.result().unwrap(), 1);
        group.join().unwrap();
        assert!(a.abort());
        assert!(
            matches!(joined, Err(Error::Timeout)),
            "a slow group's join_timeout: {verdict}"
        );
    });
}
