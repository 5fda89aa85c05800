//! Review of work-first: memory after completion. Chains and trees whose children ran in
//! place (and some that suspended in place and were woken later) leave nothing behind in an
//! idle pool, and drop every captured value exactly once. One test in this binary, so the
//! live-heap count is not moved by others.
#![cfg(not(feature = "loom"))]

mod common;
use common::counting_allocator::{live_bytes, CountingAllocator};
use common::watchdog::within;
use common::DropCount;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use betterconcurrent::{Executor, Future, TaskGroup, ThreadPoolExecutor};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// A chain whose every level captures a 4 KiB buffer and a drop counter; every 7th level's
/// child suspends once (a self-wake) while running in place.
fn chain(executor: Executor, n: u32, drops: Arc<AtomicUsize>) -> Future<u64> {
    let spawner = executor.clone();
    let buffer = vec![n as u8; 4096];
    let guard = DropCount(drops.clone());
    spawner
        .submit_async(async move {
            let _guard = guard;
            if n.is_multiple_of(7) {
                common::yield_now().await;
            }
            if n == 0 {
                return buffer.len() as u64;
            }
            let next = chain(executor, n - 1, drops);
            let below = *(&next).await.unwrap();
            below + buffer.len() as u64
        })
        .unwrap()
}

fn round(pool: &ThreadPoolExecutor, group: Option<&TaskGroup>, drops: &Arc<AtomicUsize>) {
    let executor = group.map_or_else(|| pool.executor(), TaskGroup::executor);
    let roots: Vec<_> = (0..50)
        .map(|_| chain(executor.clone(), 200, drops.clone()))
        .collect();
    for root in &roots {
        assert_eq!(*root.result().unwrap(), 201 * 4096);
    }
    drop(roots);
    if let Some(group) = group {
        group.join().unwrap();
    }
    pool.wait_idle().unwrap();
}

#[test]
fn in_place_chains_leave_nothing_behind_in_an_idle_pool() {
    within(120, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(4)
            .build()
            .unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        // Warm up: threads, queues, registry shards.
        round(&pool, None, &drops);
        let group = TaskGroup::new(&pool);
        round(&pool, Some(&group), &drops);
        drop(group);
        pool.wait_idle().unwrap();
        let before = live_bytes();
        for i in 0..10 {
            if i % 2 == 0 {
                round(&pool, None, &drops);
            } else {
                let group = TaskGroup::new(&pool);
                round(&pool, Some(&group), &drops);
            }
        }
        pool.wait_idle().unwrap();
        let after = live_bytes();
        // 10 rounds of 50 chains of 201 levels, each level holding > 4 KiB: ~41 MB passed
        // through. Allow a little slack for lazily grown queues.
        assert!(
            after - before < 256 * 1024,
            "live heap grew by {} bytes over 10 idle rounds",
            after - before
        );
        assert_eq!(drops.load(Ordering::SeqCst), 12 * 50 * 201);
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0);
        assert_eq!(stats.tasks_suspended, 0);
        assert_eq!(stats.tasks_running, 0);
        pool.join().unwrap();
    });
}
