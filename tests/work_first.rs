//! Work-first: an async task that awaits an unstarted child of its own pool, still in its
//! worker's own queue, runs the child in place inside its poll instead of suspending
//! (`worker::run_awaited_here`). What a user can observe: the polls the pool counts, the order
//! in which queued work runs, which thread runs what, and that nothing runs twice or is lost.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, TaskGroup, ThreadPoolExecutor};
use common::watchdog::within;
use common::{await_chain, in_group, pool};

/// Polls counted by every thread of `pool` (a task that suspends once is polled twice).
fn polls(pool: &ThreadPoolExecutor) -> u64 {
    pool.stats()
        .per_worker
        .iter()
        .map(|worker| worker.polls)
        .sum()
}

#[test]
fn a_short_chain_of_awaits_runs_in_place_without_a_suspension() {
    within(60, || {
        let pool = pool(1);
        assert_eq!(*await_chain(pool.executor(), 50).result().unwrap(), 50);
        pool.join().unwrap();
        // 51 tasks, each polled once: no parent suspended for its child.
        assert_eq!(polls(&pool), 51);
        assert_eq!(pool.stats().tasks_completed, 51);
    });
}

#[test]
fn a_chain_deeper_than_the_stack_budget_suspends_and_still_completes_on_one_worker() {
    within(120, || {
        // The pool's threads have the default stack: the in-place runs stop at half of it and
        // the parents past that suspend as before.
        let pool = pool(1);
        let depth = 100_000;
        assert_eq!(
            *await_chain(pool.executor(), depth).result().unwrap(),
            depth
        );
        pool.join().unwrap();
        let polls = polls(&pool);
        let tasks = depth + 1;
        assert_eq!(pool.stats().tasks_completed, tasks);
        assert!(
            polls > tasks,
            "no task suspended at all: the depth was not capped"
        );
        assert!(
            polls < 2 * tasks,
            "every task suspended: nothing ran in place"
        );
    });
}

#[test]
fn an_awaited_async_child_runs_in_place_on_the_parents_thread() {
    within(60, || {
        let pool = pool(2);
        let executor = pool.executor();
        let threads = pool
            .submit_async(async move {
                let parent = std::thread::current().id();
                let child = executor
                    .submit_async(async { std::thread::current().id() })
                    .unwrap();
                let child_thread = *(&child).await.unwrap();
                (parent, child_thread)
            })
            .unwrap();
        let (parent, child) = *threads.result().unwrap();
        assert_eq!(parent, child);
        pool.join().unwrap();
        // The parent polled once, the child once.
        assert_eq!(polls(&pool), 2);
    });
}

#[test]
fn the_awaited_child_runs_before_older_queued_work() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let order = Arc::new(Mutex::new(Vec::new()));
        let log = order.clone();
        let parent = pool
            .submit_async(async move {
                let (first, second) = (log.clone(), log.clone());
                let older = executor
                    .submit_async(async move { first.lock().unwrap().push("older") })
                    .unwrap();
                let awaited = executor
                    .submit_async(async move { second.lock().unwrap().push("awaited") })
                    .unwrap();
                (&awaited).await.unwrap();
                log.lock().unwrap().push("parent resumed");
                (&older).await.unwrap();
            })
            .unwrap();
        parent.result().unwrap();
        // `awaited` was the newest task (the LIFO slot), `older` the deque's: awaiting
        // `older` afterwards ran it in place too.
        assert_eq!(
            *order.lock().unwrap(),
            ["awaited", "parent resumed", "older"]
        );
        pool.join().unwrap();
        assert_eq!(polls(&pool), 3);
    });
}

#[test]
fn a_panic_in_an_in_place_child_stays_in_its_future() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let child = executor
                    .submit_async(async { panic!("child panics in place") })
                    .unwrap();
                let seen = (&child).await.map(|_: &()| ());
                matches!(seen, Err(Error::Panicked(_)))
            })
            .unwrap();
        assert!(
            *parent.result().unwrap(),
            "the parent saw its child's panic"
        );
        pool.wait_idle().unwrap();
        assert_eq!(pool.stats().tasks_panicked, 1);
        // The worker survived and the pool still works.
        assert_eq!(*pool.submit(|| 7).unwrap().result().unwrap(), 7);
    });
}

#[test]
fn an_in_place_child_of_another_group_is_counted_there_and_the_parents_group_comes_back() {
    within(60, || {
        let pool = pool(1);
        let outer = TaskGroup::new(&pool);
        let inner = TaskGroup::new(&pool);
        let (outer_probe, inner_probe) = (outer.clone(), inner.clone());
        let inner_executor = inner.executor();
        let late = Arc::new(AtomicUsize::new(0));
        let late_in_task = late.clone();
        let parent = outer
            .submit_async(async move {
                let child = inner_executor
                    .submit(move || in_group(&inner_probe))
                    .unwrap();
                let child_in_inner = *(&child).await.unwrap();
                // Back in the outer group: work submitted through the current handle is the
                // outer group's.
                let still_outer = in_group(&outer_probe);
                Executor::current()
                    .unwrap()
                    .spawn(move |_| {
                        late_in_task.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                (child_in_inner, still_outer)
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), (true, true));
        inner.join().unwrap();
        outer.join().unwrap();
        assert_eq!(late.load(Ordering::SeqCst), 1);
        pool.join().unwrap();
    });
}

#[test]
fn claiming_an_awaited_child_never_runs_one_a_thief_took_or_runs_a_child_twice() {
    within(120, || {
        let pool = pool(2);
        let runs: Arc<Vec<AtomicUsize>> =
            Arc::new((0..4000).map(|_| AtomicUsize::new(0)).collect());
        let threads: Arc<Mutex<Vec<(ThreadId, ThreadId)>>> = Arc::default();
        let mut parents = Vec::new();
        for round in 0..1000 {
            let executor = pool.executor();
            let (runs, threads) = (runs.clone(), threads.clone());
            parents.push(
                pool.submit_async(async move {
                    let here = std::thread::current().id();
                    // Four children: the newest in the LIFO slot, the rest in the deque, where the
                    // other worker may steal them while this one claims the one it awaits.
                    let children: Vec<Future<ThreadId>> = (0..4)
                        .map(|i| {
                            let runs = runs.clone();
                            executor
                                .submit(move || {
                                    runs[round * 4 + i].fetch_add(1, Ordering::SeqCst);
                                    std::thread::current().id()
                                })
                                .unwrap()
                        })
                        .collect();
                    for child in &children {
                        let ran_on = *child.await.unwrap();
                        threads.lock().unwrap().push((here, ran_on));
                    }
                })
                .unwrap(),
            );
        }
        for parent in &parents {
            parent.result().unwrap();
        }
        pool.join().unwrap();
        for (i, count) in runs.iter().enumerate() {
            assert_eq!(
                count.load(Ordering::SeqCst),
                1,
                "child {i} ran a wrong number of times"
            );
        }
        assert_eq!(threads.lock().unwrap().len(), 4000);
    });
}

#[test]
fn an_awaited_closure_is_not_run_in_place() {
    within(60, || {
        // A closure may block on anything: run inside the parent's poll it would hide the
        // parent's other branches (a `select`, a timeout) until it returned. The parent
        // suspends, as before work-first.
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let child = executor.submit(|| 5).unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 5);
        pool.join().unwrap();
        // The parent's two polls (it suspended) and the closure's one.
        assert_eq!(polls(&pool), 3);
    });
}

#[test]
fn a_timed_blocking_wait_inside_an_async_task_never_runs_the_child_in_place() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let threads = pool
            .submit_async(async move {
                let parent = std::thread::current().id();
                let child = executor
                    .submit_async(async { std::thread::current().id() })
                    .unwrap();
                // A timed wait must not run work that could outlast its deadline: the child
                // runs on the spare thread the blocked pool starts.
                let child_thread = *child.result_timeout(Duration::from_secs(30)).unwrap();
                (parent, child_thread)
            })
            .unwrap();
        let (parent, child) = *threads.result().unwrap();
        assert_ne!(parent, child);
        pool.join().unwrap();
    });
}
