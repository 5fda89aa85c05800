//! `stats()`: the event counters add up, and the gauges describe a pool held in a known state.
#![cfg(all(not(feature = "loom"), feature = "stats"))]

mod common;

use betterconcurrent::{Error, Future};
use common::{block_workers, pool};

#[test]
fn counters_count_completed_and_panicked_tasks_per_worker_and_in_total() {
    let pool = pool(2);
    let ok: Vec<_> = (0..10).map(|i| pool.submit(move || i).unwrap()).collect();
    let failing: Vec<_> = (0..3)
        .map(|_| {
            pool.submit(|| -> u32 { panic!("counted, not fatal") })
                .unwrap()
        })
        .collect();
    pool.wait_idle().unwrap();
    assert!(ok.iter().all(|f| f.try_result().unwrap().is_ok()));
    assert!(failing
        .iter()
        .all(|f| matches!(f.try_result(), Some(Err(Error::Panicked(_))))));

    let stats = pool.stats();
    assert_eq!(stats.tasks_completed, 13);
    assert_eq!(stats.tasks_panicked, 3);
    assert_eq!(stats.tasks_outstanding, 0);
    assert_eq!(stats.tasks_running, 0);
    assert_eq!(stats.tasks_queued, 0);
    // Two worker slots and the spares' slot; the per-worker counters sum to the totals.
    assert_eq!(stats.per_worker.len(), 3);
    let per_worker_completed: u64 = stats.per_worker.iter().map(|w| w.tasks_completed).sum();
    assert_eq!(per_worker_completed, stats.tasks_completed);
    let polls: u64 = stats.per_worker.iter().map(|w| w.polls).sum();
    assert_eq!(polls, 13);
    // Every task was submitted from outside: workers took them from the shared queue, one or a
    // batch at a time.
    assert!((1..=13).contains(&stats.steals), "steals: {}", stats.steals);
}

#[test]
fn gauges_show_a_running_task_the_queue_behind_it_and_a_suspended_task() {
    let pool = pool(1);
    let (release, blockers) = block_workers(&pool, 1);
    let queued: Vec<_> = (0..5).map(|i| pool.submit(move || i).unwrap()).collect();

    let stats = pool.stats();
    assert_eq!(stats.threads_alive, 1);
    assert_eq!(stats.tasks_running, 1);
    assert_eq!(stats.tasks_queued, 5);
    assert_eq!(stats.tasks_outstanding, 6);
    assert_eq!(stats.threads_idle, 0);

    release.send(()).unwrap();
    blockers[0].result().unwrap();
    for f in &queued {
        f.result().unwrap();
    }

    // An async task awaiting a future nothing completes yet is suspended: outstanding, but
    // neither queued nor running. The one worker runs it before the closure behind it, so while
    // that closure runs, the async task has suspended.
    let never = Future::<u32>::new();
    let awaited = never.clone();
    // If an assertion below fails, complete the awaited future anyway, so that dropping the pool
    // (which waits for every task) does not hang the test.
    let _unblock = CompleteOnDrop(never.clone());
    let suspended = pool
        .submit_async(async move { *(&awaited).await.unwrap() })
        .unwrap();
    // The snapshot is taken from inside that closure, while it runs: a deterministic moment.
    let executor = pool.executor();
    let stats = pool.submit(move || executor.stats()).unwrap();
    let stats = stats.result().unwrap();
    assert_eq!(stats.tasks_outstanding, 2);
    assert_eq!(stats.tasks_running, 1);
    assert_eq!(stats.tasks_queued, 0);
    assert_eq!(stats.tasks_suspended, 1);

    never.set_result(4).unwrap();
    assert_eq!(*suspended.result().unwrap(), 4);
    pool.join().unwrap();
    assert_eq!(pool.stats().tasks_completed, 1 + 5 + 1 + 1);
}

/// Completes its future when dropped (if nothing did before).
struct CompleteOnDrop(Future<u32>);

impl Drop for CompleteOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_result(0);
    }
}
