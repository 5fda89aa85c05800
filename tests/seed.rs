//! The Python original's own tests (`tests/` of betterconcurrent 0.0.1.post1), ported: cooperative
//! continuations on a one-worker pool, fire-and-forget `join`, and the tree search.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::pool;

use betterconcurrent::{yield_until_done, Executor};

#[path = "../examples/tree_search.rs"]
#[allow(dead_code)]
mod tree_search;

// test_continuation.py: a task on a 1-worker pool waits cooperatively on a subtask (5 ** 2).
#[test]
fn continuation_on_one_worker() {
    let pool = pool(1);
    let executor = pool.executor();
    let future = pool
        .submit_async(async move {
            let square = executor.submit(|| 5u64.pow(2)).unwrap();
            square.yield_until_done().await;
            assert!(square.done(), "done after the wait returns");
            *square.result().unwrap()
        })
        .unwrap();
    assert_eq!(*future.result().unwrap(), 25);
    pool.join().unwrap();
}

// test_multiple_continuations.py: a task waits on 8 subtasks with yield_until_done(fs).
#[test]
fn multiple_continuations_on_one_worker() {
    let pool = pool(1);
    let executor = pool.executor();
    let future = pool
        .submit_async(async move {
            let powers: Vec<_> = (2..10)
                .map(|i| executor.submit(move || 5u64.pow(i)).unwrap())
                .collect();
            yield_until_done(&powers).await;
            powers
                .iter()
                .map(|f| *f.result().unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(
        *future.result().unwrap(),
        [25, 125, 625, 3125, 15625, 78125, 390625, 1953125]
    );
    pool.join().unwrap();
}

fn countdown(executor: Executor, counter: Arc<AtomicUsize>, n: usize) {
    if n == 0 {
        return;
    }
    counter.fetch_add(1, Ordering::SeqCst);
    let next = executor.clone();
    let _ = executor.submit(move || countdown(next, counter, n - 1));
}

// test_join.py: a fire-and-forget countdown of 100 subtasks; join waits for all of them.
#[test]
fn join_waits_for_a_fire_and_forget_countdown() {
    let pool = pool(1);
    let counter = Arc::new(AtomicUsize::new(0));
    countdown(pool.executor(), counter.clone(), 100);
    pool.join().unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 100);
}

// test_tree_search.py: test_success
#[test]
fn tree_search_finds_115() {
    let report = tree_search::parallel_search(10, 3, 5, 115).unwrap();
    assert!(report.found);
}

// Not in the original: independent searches as task groups on one pool kept busy by a task
// that never ends; each join returns with its own tree searched.
#[test]
fn tree_searches_in_groups_each_converge_while_the_pool_stays_busy() {
    let reports = tree_search::grouped_searches(10, 3, 3, 215, 4).unwrap();
    assert_eq!(reports.len(), 4);
    for report in &reports {
        assert!(!report.found);
        assert_eq!(report.tasks, 1 + 10 + 100 + 1000);
        assert!(report.background_rounds > 0);
    }
}

// test_tree_search.py: test_failure
#[test]
fn tree_search_does_not_find_215() {
    let report = tree_search::parallel_search(10, 3, 5, 215).unwrap();
    assert!(!report.found);
    assert_eq!(report.tasks, 1 + 10 + 100 + 1000, "every node was visited");
    // The root is visited directly; every other node was a task the pool counted.
    if cfg!(feature = "stats") {
        assert_eq!(report.stats.tasks_completed, report.tasks - 1);
    }
    assert_eq!(report.stats.tasks_outstanding, 0);
}
