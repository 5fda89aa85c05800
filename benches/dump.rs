//! Issue 16: the time to take a dump of a pool's suspended tasks, at 10,000 and 100,000 of them
//! (linear in their number, so the per-task time at 100,000 should be about that at 10,000).
//! Each task awaits the previous one's future, the first a free future nothing completes, so
//! the dump joins a chain of waiters (the graph's work) as well as listing the tasks.
//!
//! ```text
//! cargo bench --bench dump
//! ```
#![cfg_attr(feature = "loom", allow(unused))]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// A pool with `tasks` async tasks suspended in a chain; returns it with the free future at the
/// chain's head (completing it ends them all).
#[cfg(not(feature = "loom"))]
fn suspended_chain(
    tasks: usize,
) -> (
    betterconcurrent::ThreadPoolExecutor,
    betterconcurrent::Future<u64>,
) {
    use betterconcurrent::Future;
    let pool = betterconcurrent::ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let head = Future::<u64>::new();
    let mut previous = head.clone();
    for _ in 0..tasks {
        let awaited = previous;
        previous = pool
            .submit_async(async move { *(&awaited).await.unwrap() + 1 })
            .unwrap();
    }
    while pool.dump().tasks().len() < tasks {
        std::thread::yield_now();
    }
    drop(previous);
    (pool, head)
}

#[cfg(not(feature = "loom"))]
fn dump(c: &mut Criterion) {
    let mut group = c.benchmark_group("dump_suspended");
    group.sample_size(10);
    for tasks in [10_000usize, 100_000] {
        let (pool, head) = suspended_chain(tasks);
        group.bench_with_input(BenchmarkId::from_parameter(tasks), &tasks, |b, &tasks| {
            b.iter(|| {
                let dump = pool.dump();
                assert_eq!(dump.tasks().len(), tasks);
                assert!(dump.cycles().is_empty());
                dump
            })
        });
        head.set_result(0).unwrap();
        pool.join().unwrap();
    }
    group.finish();
}

#[cfg(not(feature = "loom"))]
criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    targets = dump
}
#[cfg(not(feature = "loom"))]
criterion_main!(benches);

/// Under loom every primitive is loom's, which only works inside a model: nothing to measure.
#[cfg(feature = "loom")]
fn main() {}
