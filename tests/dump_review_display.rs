//! Review of the dump's printed form and its types: every listed task appears in `Display`
//! whatever its shape (a cycle of sleepers under `timeout`, a sleeper awaited by a chain, a
//! task asleep while awaiting another), a 100,000-deep chain prints without overflowing a
//! thread's default stack and in bounded size, and `Dump`, `DumpedTask` and `BlockedThread` are
//! `Send + Sync` (a dump can be handed to a logging thread).
#![cfg(not(feature = "loom"))]

use std::time::{Duration, Instant};

use betterconcurrent::time::{sleep, timeout};
use betterconcurrent::{BlockedThread, Dump, DumpedTask, Future, ThreadPoolExecutor};

mod common;
use common::dump::{dump_when, suspended, AbortOnDrop};
use common::watchdog::within;

fn every_listed_task_is_printed(dump: &Dump) {
    let printed = dump.to_string();
    let task_lines: Vec<&str> = printed
        .lines()
        .filter(|l| l.trim_start().starts_with("task "))
        .collect();
    for task in dump.tasks() {
        let id = format!("task {:#x}", task.id());
        assert!(
            task_lines.iter().any(|l| l.contains(&id)),
            "{id} is listed but has no line of its own in:\n{printed}"
        );
    }
}

#[test]
fn dump_and_its_parts_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Dump>();
    send_sync::<DumpedTask>();
    send_sync::<BlockedThread>();
    let pool = AbortOnDrop(
        ThreadPoolExecutor::builder()
            .max_workers(1)
            .build()
            .unwrap(),
    );
    let gate = Future::<()>::new();
    let g = gate.clone();
    let t = pool
        .submit_async(async move {
            (&g).await.unwrap();
        })
        .unwrap();
    let dump = dump_when(&pool, |d| suspended(d, 1));
    let id = t.id();
    let printed = std::thread::spawn(move || {
        assert!(dump.task(id).is_some());
        dump.to_string()
    })
    .join()
    .unwrap();
    assert!(printed.contains(&format!("{id:#x}")));
    gate.set_result(()).unwrap();
    t.result().unwrap();
}

#[test]
fn a_cycle_of_tasks_asleep_under_timeout_prints_every_member() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let slots = [Future::<Future<u32>>::new(), Future::new()];
        let tasks: Vec<Future<u32>> = (0..2)
            .map(|i| {
                let slot = slots[1 - i].clone();
                pool.submit_async(async move {
                    let other = (&slot).await.unwrap().clone();
                    drop(slot);
                    match timeout(Duration::from_secs(3600), &other).await {
                        Ok(_) => 1,
                        Err(_) => 0,
                    }
                })
                .unwrap()
            })
            .collect();
        slots[0].set_result(tasks[0].clone()).unwrap();
        slots[1].set_result(tasks[1].clone()).unwrap();
        let dump = dump_when(&pool, |d| suspended(d, 2));
        every_listed_task_is_printed(&dump);
        pool.shutdown(true, true);
    })
}

#[test]
fn a_task_asleep_while_awaiting_another_prints_both() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let gate = Future::<u32>::new();
        let g = gate.clone();
        let inner = pool
            .submit_async(async move { *(&g).await.unwrap() })
            .unwrap();
        let i = inner.clone();
        let outer = pool
            .submit_async(async move {
                *timeout(Duration::from_secs(3600), &i)
                    .await
                    .unwrap()
                    .unwrap()
            })
            .unwrap();
        let o = outer.clone();
        let top = pool
            .submit_async(async move { *(&o).await.unwrap() })
            .unwrap();
        let dump = dump_when(&pool, |d| suspended(d, 3));
        assert!(dump.task(outer.id()).unwrap().is_asleep());
        assert_eq!(dump.task(top.id()).unwrap().awaits(), [outer.id()]);
        every_listed_task_is_printed(&dump);
        gate.set_result(3).unwrap();
        assert_eq!(*top.result().unwrap(), 3);
    })
}

#[test]
fn a_chain_onto_a_sleeper_prints_every_link() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let sleeper = pool
            .submit_async(async {
                sleep(Duration::from_secs(3600)).await;
                1u32
            })
            .unwrap();
        let mut chain = vec![sleeper.clone()];
        for _ in 0..5 {
            let prev = chain.last().unwrap().clone();
            chain.push(
                pool.submit_async(async move { *(&prev).await.unwrap() + 1 })
                    .unwrap(),
            );
        }
        let dump = dump_when(&pool, |d| suspended(d, 6));
        every_listed_task_is_printed(&dump);
        assert!(sleeper.abort());
        for t in &chain {
            let _ = t.result();
        }
    })
}

#[test]
fn a_100000_deep_chain_prints_on_a_default_stack_in_bounded_size() {
    within(60, || {
        const N: usize = 100_000;
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let gate = Future::<u32>::new();
        let g = gate.clone();
        let mut chain = vec![pool
            .submit_async(async move { *(&g).await.unwrap() })
            .unwrap()];
        for _ in 1..N {
            let prev = chain.last().unwrap().clone();
            chain.push(
                pool.submit_async(async move { *(&prev).await.unwrap() + 1 })
                    .unwrap(),
            );
        }
        let dump = dump_when(&pool, |d| suspended(d, N));
        assert!(dump.cycles().is_empty());
        let start = Instant::now();
        // A spawned thread's default stack (2 MiB), as a logging thread would have.
        let (printed, dump) = std::thread::spawn(move || (dump.to_string(), dump))
            .join()
            .expect("printing a deep chain overflowed the stack or panicked");
        let took = start.elapsed();
        assert!(
            printed.len() < 200 * N,
            "{} bytes for {N} tasks: indentation grows with depth?",
            printed.len()
        );
        let longest = printed.lines().map(str::len).max().unwrap();
        assert!(longest < 4096, "a line of {longest} bytes is not readable");
        for t in chain.iter().step_by(997) {
            assert!(
                printed.contains(&format!("{:#x}", t.id())),
                "task {:#x} missing",
                t.id()
            );
        }
        assert!(took < Duration::from_secs(20), "printing took {took:?}");
        drop(dump);
        gate.set_result(0).unwrap();
        assert_eq!(*chain.last().unwrap().result().unwrap(), (N - 1) as u32);
    })
}
