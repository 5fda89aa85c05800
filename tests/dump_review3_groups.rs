//! Third dump review, cycles across groups and scopes: a ring of four whose members were
//! submitted through the pool, two task groups (one a child of the other) and a scope, and a
//! ring of two split between a group and the pool, are found, reported, named with their
//! submit sites, and time out as `Error::Stuck`; cancelling the group breaks the ring.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::{mpsc, Mutex};
use std::time::Duration;

use betterconcurrent::{Dump, Error, Executor, Future, TaskGroup, ThreadPoolExecutor};
use common::dump::{rotated_to_min, AbortOnDrop};
use common::watchdog::within;

const SHORT: Duration = Duration::from_millis(150);
const REPORTED_WITHIN: Duration = Duration::from_secs(10);

fn reporting_pool(workers: usize) -> (AbortOnDrop, mpsc::Receiver<Dump>) {
    let (reports, reported) = mpsc::channel();
    let reports = Mutex::new(reports);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(workers)
        .on_stuck(move |dump| {
            let _ = reports.lock().unwrap().send(dump.clone());
        })
        .build()
        .unwrap();
    (AbortOnDrop(pool), reported)
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
