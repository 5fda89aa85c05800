//! Review of the dump's wait-for cycles: a task awaiting its own future (a cycle of one), cycles
//! of two, three and a thousand tasks, several disjoint cycles at once, a cycle with tails of
//! tasks awaiting into it, diamonds (two tasks awaiting one) that are not cycles, the order of
//! the ids in each cycle, `join_timeout`/`wait_idle_timeout` answering `Error::Stuck` for each
//! real cycle, and aborting one member of a cycle ending it.
#![cfg(not(feature = "loom"))]

use std::time::Duration;

use betterconcurrent::{Dump, Error, Future, ThreadPoolExecutor};

mod common;
use common::dump::{cycle, dump_when, ids, rotated_to_min, suspended, AbortOnDrop};
use common::watchdog::within;

fn assert_cycle_order(dump: &Dump, cycle: &[usize]) {
    assert_eq!(
        cycle[0],
        *cycle.iter().min().unwrap(),
        "starts at the smallest id: {dump}"
    );
    for i in 0..cycle.len() {
        let task = dump
            .task(cycle[i])
            .unwrap_or_else(|| panic!("cycle member not listed:\n{dump}"));
        let next = cycle[(i + 1) % cycle.len()];
        assert!(
            task.awaits().contains(&next),
            "cycle[{i}] = {:#x} should await {next:#x}, awaits {:x?}\n{dump}",
            cycle[i],
            task.awaits()
        );
    }
}

#[test]
fn a_task_awaiting_its_own_future_is_a_cycle_of_one() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let slot = Future::<Future<u32>>::new();
        let awaited = slot.clone();
        let me = pool
            .submit_async(async move {
                let me = (&awaited).await.unwrap().clone();
                drop(awaited);
                match (&me).await {
                    Ok(v) => *v,
                    Err(_) => 7,
                }
            })
            .unwrap();
        slot.set_result(me.clone()).unwrap();
        drop(slot);
        let dump = dump_when(&pool, |dump| {
            suspended(dump, 1) && !dump.cycles().is_empty()
        });
        assert_eq!(dump.cycles(), [vec![me.id()]], "{dump}");
        let task = dump.task(me.id()).unwrap();
        assert_eq!(task.awaits(), [me.id()], "{dump}");
        assert!(!task.awaits_outside());
        assert!(dump.is_stuck());
        let printed = dump.to_string();
        assert_eq!(printed.matches("wait-for cycle").count(), 1, "{printed}");
        match pool.join_timeout(Duration::from_millis(30)) {
            Err(Error::Stuck(d)) => assert!(d.contains(&format!("{:#x}", me.id())), "{d}"),
            other => panic!("expected Stuck, got {other:?}"),
        }
        pool.shutdown(true, true);
        assert!(me.cancelled());
    })
}

#[test]
fn cycles_of_two_three_and_a_thousand_are_named_in_waiting_order() {
    within(20, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let sizes = [2usize, 3, 1000, 5, 1, 17];
        // A cycle of 1 built the same way: task 0 awaits slot 0, its own.
        let cycles: Vec<Vec<Future<u32>>> = sizes.iter().map(|&n| cycle(&pool, n)).collect();
        let total: usize = sizes.iter().sum();
        let dump = dump_when(&pool, |dump| {
            suspended(dump, total) && dump.cycles().len() == sizes.len()
        });
        let mut got: Vec<Vec<usize>> = dump.cycles().to_vec();
        got.sort_by_key(|c| (c.len(), c[0]));
        let mut want: Vec<Vec<usize>> = cycles.iter().map(|c| rotated_to_min(ids(c))).collect();
        want.sort_by_key(|c| (c.len(), c[0]));
        let short = format!("{}", dump.cycles().len());
        assert_eq!(got, want, "cycles: {short}");
        for c in dump.cycles() {
            assert_cycle_order(&dump, c);
        }
        assert_eq!(dump.outstanding(), total);
        assert!(dump.is_stuck());
        let printed = dump.to_string();
        assert_eq!(printed.matches("wait-for cycle").count(), sizes.len());
        for c in &cycles {
            for t in c {
                assert!(printed.contains(&format!("{:#x}", t.id())));
            }
        }
        match pool.wait_idle_timeout(Duration::from_millis(30)) {
            Err(Error::Stuck(_)) => {}
            other => panic!("expected Stuck, got {other:?}"),
        }
        pool.shutdown(true, true);
        assert!(cycles.iter().flatten().all(Future::cancelled));
    })
}

#[test]
fn tails_awaiting_into_a_cycle_are_not_in_the_cycle() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 3);
        // Tail of three: t2 -> t1 -> t0 -> ring[1]; and another directly into ring[2].
        let mut tail = Vec::new();
        let mut target = ring[1].clone();
        for _ in 0..3 {
            let t = target.clone();
            let next = pool
                .submit_async(async move { *(&t).await.unwrap() + 1 })
                .unwrap();
            tail.push(next.clone());
            target = next;
        }
        let t = ring[2].clone();
        let other = pool
            .submit_async(async move { *(&t).await.unwrap() + 1 })
            .unwrap();
        let dump = dump_when(&pool, |dump| suspended(dump, 7) && dump.cycles().len() == 1);
        assert_eq!(dump.cycles(), [rotated_to_min(ids(&ring))], "{dump}");
        assert_eq!(dump.task(tail[0].id()).unwrap().awaits(), [ring[1].id()]);
        assert_eq!(dump.task(tail[1].id()).unwrap().awaits(), [tail[0].id()]);
        assert_eq!(dump.task(tail[2].id()).unwrap().awaits(), [tail[1].id()]);
        assert_eq!(dump.task(other.id()).unwrap().awaits(), [ring[2].id()]);
        for t in tail.iter().chain([&other]) {
            assert!(!dump.task(t.id()).unwrap().awaits_outside(), "{dump}");
        }
        let printed = dump.to_string();
        for t in ring.iter().chain(&tail).chain([&other]) {
            assert!(printed.contains(&format!("{:#x}", t.id())), "{printed}");
        }
        match pool.join_timeout(Duration::from_millis(30)) {
            Err(Error::Stuck(_)) => {}
            other => panic!("expected Stuck, got {other:?}"),
        }
        pool.shutdown(true, true);
        assert!(ring.iter().chain(&tail).chain([&other]).all(Future::done));
    })
}

#[test]
fn a_diamond_is_not_a_cycle_and_times_out_as_timeout() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let gate = Future::<u32>::new();
        let g = gate.clone();
        let bottom = pool
            .submit_async(async move { *(&g).await.unwrap() })
            .unwrap();
        let b = bottom.clone();
        let left = pool
            .submit_async(async move { *(&b).await.unwrap() + 1 })
            .unwrap();
        let b = bottom.clone();
        let right = pool
            .submit_async(async move { *(&b).await.unwrap() + 2 })
            .unwrap();
        let (l, r) = (left.clone(), right.clone());
        let top = pool
            .submit_async(async move { *(&l).await.unwrap() + *(&r).await.unwrap() })
            .unwrap();
        // And a second top awaiting the same two in the other order.
        let (l, r) = (left.clone(), right.clone());
        let top2 = pool
            .submit_async(async move { *(&r).await.unwrap() + *(&l).await.unwrap() })
            .unwrap();
        let dump = dump_when(&pool, |dump| suspended(dump, 5));
        assert!(dump.cycles().is_empty(), "{dump}");
        assert_eq!(dump.task(top.id()).unwrap().awaits(), [left.id()]);
        assert_eq!(dump.task(top2.id()).unwrap().awaits(), [right.id()]);
        assert_eq!(dump.task(left.id()).unwrap().awaits(), [bottom.id()]);
        assert_eq!(dump.task(right.id()).unwrap().awaits(), [bottom.id()]);
        assert!(dump.task(bottom.id()).unwrap().awaits_outside());
        let printed = dump.to_string();
        assert!(!printed.contains("wait-for cycle"), "{printed}");
        for t in [&bottom, &left, &right, &top, &top2] {
            assert!(printed.contains(&format!("{:#x}", t.id())), "{printed}");
        }
        assert!(matches!(
            pool.join_timeout(Duration::from_millis(30)),
            Err(Error::Timeout)
        ));
        gate.set_result(10).unwrap();
        assert_eq!(*top.result().unwrap(), 23);
        assert_eq!(*top2.result().unwrap(), 23);
        pool.wait_idle().unwrap();
        assert!(pool.dump().tasks().is_empty());
    })
}

#[test]
fn aborting_one_member_ends_the_cycle() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 4);
        dump_when(&pool, |dump| suspended(dump, 4) && dump.cycles().len() == 1);
        assert!(ring[2].abort());
        // ring[1] awaited ring[2], so it panics on unwrap; that cascades round the ring.
        for t in &ring {
            let _ = t.result();
        }
        pool.wait_idle_timeout(Duration::from_secs(5)).unwrap();
        let dump = pool.dump();
        assert!(dump.tasks().is_empty(), "{dump}");
        assert!(dump.cycles().is_empty());
        assert!(!dump.is_stuck());
    })
}

#[test]
fn stuck_is_reported_by_join_timeout_and_the_pool_stays_usable() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 2);
        dump_when(&pool, |dump| suspended(dump, 2) && dump.cycles().len() == 1);
        for _ in 0..3 {
            match pool.join_timeout(Duration::from_millis(10)) {
                Err(Error::Stuck(_)) => {}
                other => panic!("expected Stuck, got {other:?}"),
            }
        }
        // Not shut down by the failed join: still accepts and runs work.
        assert_eq!(*pool.submit(|| 5).unwrap().result().unwrap(), 5);
        let a = pool.submit_async(async { 6 }).unwrap();
        assert_eq!(*a.result().unwrap(), 6);
        assert!(!ring[0].done());
        pool.shutdown(true, true);
        assert!(ring.iter().all(Future::cancelled));
    })
}
