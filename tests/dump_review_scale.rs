//! Review of the dump at scale: 100,000 suspended tasks on one gate are all listed and the
//! pool keeps running while they are dumped; a single wait-for cycle of 100,000 tasks is found
//! (without overflowing a default thread stack) and `join_timeout` calls it stuck; a
//! 100,000-deep tail into a small cycle is not mistaken for part of it.
#![cfg(not(feature = "loom"))]

use std::time::{Duration, Instant};

use betterconcurrent::executor::TaskPhase;
use betterconcurrent::{Error, Future, ThreadPoolExecutor};

mod common;
use common::dump::{cycle, dump_when, ids, rotated_to_min, suspended, AbortOnDrop};
use common::watchdog::within;

#[test]
fn a_hundred_thousand_suspended_tasks_are_listed_and_released() {
    within(60, || {
        const N: usize = 100_000;
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let gate = Future::<u32>::new();
        let tasks: Vec<Future<u32>> = (0..N)
            .map(|i| {
                let g = gate.clone();
                pool.submit_async(async move { *(&g).await.unwrap() + i as u32 })
                    .unwrap()
            })
            .collect();
        let dump = dump_when(&pool, |d| suspended(d, N));
        assert_eq!(dump.outstanding(), N);
        assert!(dump.cycles().is_empty());
        assert!(dump
            .tasks()
            .iter()
            .all(|t| t.awaits_outside() && t.awaits().is_empty()));
        let mut listed: Vec<usize> = dump.tasks().iter().map(|t| t.id()).collect();
        listed.sort_unstable();
        listed.dedup();
        assert_eq!(listed.len(), N, "a task listed twice");
        // The pool is not stopped by dumps: a closure runs while another thread dumps.
        let dumper = {
            let ex = pool.executor();
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut n = 0;
                while start.elapsed() < Duration::from_millis(300) {
                    assert!(ex.dump().tasks().len() <= N);
                    n += 1;
                }
                n
            })
        };
        for _ in 0..50 {
            assert_eq!(*pool.submit(|| 1).unwrap().result().unwrap(), 1);
        }
        assert!(dumper.join().unwrap() >= 1);
        assert!(matches!(
            pool.join_timeout(Duration::from_millis(10)),
            Err(Error::Timeout)
        ));
        gate.set_result(0).unwrap();
        for (i, t) in tasks.iter().enumerate() {
            assert_eq!(*t.result().unwrap(), i as u32);
        }
        pool.wait_idle().unwrap();
        assert!(pool.dump().tasks().is_empty());
    })
}

#[test]
fn a_cycle_of_a_hundred_thousand_tasks_is_found_on_a_default_stack() {
    within(10, || {
        const N: usize = 100_000;
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, N);
        let ex = pool.executor();
        let dump = std::thread::spawn(move || {
            let start = Instant::now();
            loop {
                let d = ex.dump();
                if suspended(&d, N) {
                    return d;
                }
                assert!(start.elapsed() < Duration::from_secs(9), "too slow");
                std::thread::yield_now();
            }
        })
        .join()
        .expect("dumping a 100,000-task cycle overflowed or panicked");
        assert_eq!(dump.cycles().len(), 1);
        assert_eq!(dump.cycles()[0], rotated_to_min(ids(&ring)));
        let printed = std::thread::spawn(move || dump.to_string())
            .join()
            .expect("printing a 100,000-task cycle overflowed or panicked");
        assert_eq!(printed.matches("wait-for cycle").count(), 1);
        match pool.join_timeout(Duration::from_millis(10)) {
            Err(Error::Stuck(d)) => assert!(d.contains(&format!("{:#x}", ring[N / 2].id()))),
            other => panic!("expected Stuck, got {other:?}"),
        }
        pool.shutdown(true, true);
        assert!(ring.iter().all(Future::cancelled));
    })
}

#[test]
fn a_hundred_thousand_deep_tail_into_a_small_cycle() {
    within(60, || {
        const N: usize = 100_000;
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 2);
        let mut tail = vec![];
        let mut target = ring[0].clone();
        for _ in 0..N {
            let t = target.clone();
            let next = pool
                .submit_async(async move { *(&t).await.unwrap() + 1 })
                .unwrap();
            tail.push(next.clone());
            target = next;
        }
        let ex = pool.executor();
        let (dump, printed) = std::thread::spawn(move || {
            let start = Instant::now();
            loop {
                let d = ex.dump();
                if suspended(&d, N + 2) {
                    let p = d.to_string();
                    return (d, p);
                }
                assert!(start.elapsed() < Duration::from_secs(30));
                std::thread::yield_now();
            }
        })
        .join()
        .expect("dumping a deep tail overflowed or panicked");
        assert_eq!(dump.cycles(), [rotated_to_min(ids(&ring))]);
        assert_eq!(printed.matches("wait-for cycle").count(), 1);
        assert!(printed.contains(&format!("{:#x}", tail[N - 1].id())));
        match pool.wait_idle_timeout(Duration::from_millis(10)) {
            Err(Error::Stuck(_)) => {}
            other => {
                let s = pool.stats();
                let d = pool.dump();
                panic!(
                    "expected Stuck, got {other:?}; stats: queued {} running {} outstanding {}; \
                     dump lists {} of {} outstanding, {} suspended, {} cycles",
                    s.tasks_queued,
                    s.tasks_running,
                    s.tasks_outstanding,
                    d.tasks().len(),
                    d.outstanding(),
                    d.tasks()
                        .iter()
                        .filter(|t| t.phase() == TaskPhase::Suspended)
                        .count(),
                    d.cycles().len()
                )
            }
        }
        pool.shutdown(true, true);
        assert!(tail.iter().all(Future::done));
    })
}
