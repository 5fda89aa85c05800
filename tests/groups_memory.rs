//! Adversarial review of task groups: memory. 100k tasks through groups, then the idle pool
//! holds nothing for them; thousands of short-lived groups (plain, cancelled, nested) leave
//! nothing per group. One test in this binary, so the live-heap count is not moved by others.
#![cfg(not(feature = "loom"))]

mod common;
use common::counting_allocator::{live_bytes, settled_above, CountingAllocator};
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use betterconcurrent::{Executor, Future, TaskGroup, ThreadPoolExecutor};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn burst_through_groups(pool: &ThreadPoolExecutor, groups: usize, per_group: usize) -> usize {
    let ran = Arc::new(AtomicUsize::new(0));
    let gate = Future::<()>::new();
    let gs: Vec<TaskGroup> = (0..groups).map(|_| TaskGroup::new(pool)).collect();
    for g in &gs {
        for i in 0..per_group {
            let ran = ran.clone();
            match i % 4 {
                0 => g
                    .spawn(move |e| {
                        let ran2 = ran.clone();
                        e.spawn(move |_| {
                            ran2.fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap();
                    })
                    .unwrap(),
                1 => drop(
                    g.submit(move || {
                        ran.fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap(),
                ),
                2 => {
                    let gate = gate.clone();
                    drop(
                        g.submit_async(async move {
                            (&gate).await.unwrap();
                            ran.fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap(),
                    )
                }
                _ => drop(
                    g.submit(move || {
                        let ran2 = ran.clone();
                        drop(
                            Executor::current()
                                .unwrap()
                                .submit_async(async move {
                                    ran2.fetch_add(1, Ordering::Relaxed);
                                })
                                .unwrap(),
                        );
                    })
                    .unwrap(),
                ),
            }
        }
    }
    gate.set_result(()).unwrap();
    for g in &gs {
        g.join().unwrap();
    }
    drop(gs);
    pool.wait_idle().unwrap();
    ran.load(Ordering::SeqCst)
}

fn short_lived_groups(pool: &ThreadPoolExecutor, count: usize) {
    let never = Future::<()>::new();
    for i in 0..count {
        let g = TaskGroup::new(pool);
        let child = TaskGroup::new(&g.executor());
        for t in 0..3 {
            let target = if t == 0 { &child } else { &g };
            target
                .spawn(move |e| {
                    let _ = e.spawn(|_| ());
                })
                .unwrap();
        }
        if i % 3 == 0 {
            // Suspended work, then cancel.
            let never = never.clone();
            drop(
                child
                    .submit_async(async move {
                        let _ = (&never).await;
                    })
                    .unwrap(),
            );
            g.cancel();
        }
        g.join().unwrap();
        drop((g, child));
    }
    pool.wait_idle().unwrap();
}

#[test]
fn groups_hold_no_memory_once_idle() {
    within(240, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        // Warm up: threads, queues, registry at resting size.
        burst_through_groups(&pool, 4, 2_000);
        short_lived_groups(&pool, 300);
        let before = live_bytes();
        let ran = burst_through_groups(&pool, 10, 10_000);
        assert_eq!(ran, 100_000);
        let held = settled_above(before, 64 << 10);
        eprintln!("held after 100k: {held}");
        assert!(
            held < 64 << 10,
            "after 100k group tasks the idle pool holds {held} bytes"
        );
        assert_eq!(pool.stats().tasks_outstanding, 0);

        short_lived_groups(&pool, 300);
        let before = live_bytes();
        short_lived_groups(&pool, 5_000);
        let held = settled_above(before, 64 << 10);
        eprintln!("held after 5000 groups: {held}");
        assert!(
            held < 64 << 10,
            "after 5000 short-lived groups the idle pool holds {held} bytes ({} per group)",
            held / 5000
        );
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}
