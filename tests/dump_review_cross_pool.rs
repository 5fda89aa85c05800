//! Review of the dump across two pools: tasks of two pools awaiting each other (a cross-pool
//! cycle, invisible to each pool's graph) are reported as awaiting outside, with no cycle
//! claimed and `Timeout` (not `Stuck`) from each pool's timed waits; a task of one pool
//! awaiting into a real cycle of the other is seen as outside by the first while the second
//! reports its own cycle; and ids of one pool's tasks never appear in the other's dump.
#![cfg(not(feature = "loom"))]

use std::time::Duration;

use betterconcurrent::{Error, Future, ThreadPoolExecutor};

mod common;
use common::dump::{cycle, dump_when, suspended, AbortOnDrop};
use common::watchdog::within;

fn new_pool() -> AbortOnDrop {
    AbortOnDrop(
        ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap(),
    )
}

#[test]
fn a_cross_pool_cycle_is_outside_in_both_and_not_stuck() {
    within(10, || {
        let (p, q) = (new_pool(), new_pool());
        let slot_a = Future::<Future<u32>>::new();
        let slot_b = Future::<Future<u32>>::new();
        let s = slot_b.clone();
        let a = p
            .submit_async(async move {
                let b = (&s).await.unwrap().clone();
                drop(s);
                *(&b).await.unwrap()
            })
            .unwrap();
        let s = slot_a.clone();
        let b = q
            .submit_async(async move {
                let a = (&s).await.unwrap().clone();
                drop(s);
                *(&a).await.unwrap()
            })
            .unwrap();
        slot_a.set_result(a.clone()).unwrap();
        slot_b.set_result(b.clone()).unwrap();
        let dp = dump_when(&p, |d| {
            suspended(d, 1) && d.task(a.id()).is_some_and(|t| t.awaits_outside())
        });
        let dq = dump_when(&q, |d| {
            suspended(d, 1) && d.task(b.id()).is_some_and(|t| t.awaits_outside())
        });
        for (d, mine, theirs) in [(&dp, &a, &b), (&dq, &b, &a)] {
            assert!(d.cycles().is_empty(), "{d}");
            assert!(
                d.task(theirs.id()).is_none(),
                "the other pool's task is not listed: {d}"
            );
            assert!(d.task(mine.id()).unwrap().awaits().is_empty());
            assert!(
                !d.to_string().contains(&format!("{:#x}", theirs.id())),
                "{d}"
            );
        }
        for pool in [&p, &q] {
            assert!(matches!(
                pool.join_timeout(Duration::from_millis(20)),
                Err(Error::Timeout)
            ));
        }
        p.shutdown(true, true);
        // `b` awaited `a`, which is now cancelled: b's unwrap panics and b ends.
        assert!(a.cancelled());
        let _ = b.result();
        assert!(b.done());
        q.wait_idle_timeout(Duration::from_secs(5)).unwrap();
    })
}

#[test]
fn a_task_awaiting_another_pools_cycle_is_outside_and_that_pool_is_stuck() {
    within(10, || {
        let (p, q) = (new_pool(), new_pool());
        let ring = cycle(&q, 3);
        let r = ring[1].clone();
        let a = p.submit_async(async move { (&r).await.is_err() }).unwrap();
        let dp = dump_when(&p, |d| suspended(d, 1));
        dump_when(&q, |d| suspended(d, 3) && d.cycles().len() == 1);
        assert!(dp.task(a.id()).unwrap().awaits_outside(), "{dp}");
        assert!(dp.cycles().is_empty());
        assert!(matches!(
            p.join_timeout(Duration::from_millis(20)),
            Err(Error::Timeout)
        ));
        match q.join_timeout(Duration::from_millis(20)) {
            Err(Error::Stuck(d)) => assert!(!d.contains(&format!("{:#x}", a.id())), "{d}"),
            other => panic!("expected Stuck, got {other:?}"),
        }
        // A worker of p blocked on q's cycle member: listed as blocked in p, awaiting nothing
        // p lists (q's task is not p's).
        let r = ring[2].clone();
        let blocker = p.submit(move || r.result().is_err()).unwrap();
        let dp = dump_when(&p, |d| !d.blocked().is_empty());
        assert!(dp.blocked()[0].awaits().is_empty(), "{dp}");
        q.shutdown(true, true);
        assert!(*a.result().unwrap());
        assert!(*blocker.result().unwrap());
    })
}
