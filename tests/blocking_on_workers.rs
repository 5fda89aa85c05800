//! Beyond the original: blocking waits on the pool's own threads cannot deadlock it. A blocked
//! pool thread runs the awaited unstarted closure in place, and when it cannot (an async task,
//! nesting past the cap, another kind of wait), the pool starts a spare thread while every
//! thread is blocked.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::mpsc;

use common::pool;

use betterconcurrent::{
    as_completed, block_until_done, wait, Executor, Future, ReturnWhen, ThreadPoolExecutor,
    MAX_RUN_HERE_DEPTH,
};

fn blocking_chain(executor: Executor, k: u32, depth: u32) -> u32 {
    if k == depth {
        return k;
    }
    let next = executor.clone();
    let child = executor
        .submit(move || blocking_chain(next, k + 1, depth))
        .unwrap();
    *child.result().unwrap()
}

// The footgun: a task blocking on its own subtask, on a one-worker pool.
#[test]
fn blocking_on_a_subtask_on_one_worker_completes() {
    let pool = pool(1);
    let executor = pool.executor();
    let parent = pool
        .submit(move || {
            let child = executor.submit(|| 6 * 7).unwrap();
            *child.result().unwrap()
        })
        .unwrap();
    assert_eq!(*parent.result().unwrap(), 42);
    assert_eq!(pool.thread_count(), 1);
    pool.join().unwrap();
}

// Nested blocking waits deeper than the in-place cap: spare threads take over, all complete.
#[test]
fn nested_blocking_waits_beyond_the_in_place_cap_complete() {
    let pool = pool(1);
    let executor = pool.executor();
    let depth = 10 * MAX_RUN_HERE_DEPTH as u32;
    let root = pool
        .submit(move || blocking_chain(executor, 0, depth))
        .unwrap();
    assert_eq!(*root.result().unwrap(), depth);
    pool.join().unwrap();
}

// A blocking wait for an async subtask (which cannot run in place): a spare thread runs it.
#[test]
fn blocking_on_an_async_subtask_on_one_worker_completes() {
    let pool = pool(1);
    let executor = pool.executor();
    let parent = pool
        .submit(move || {
            let child = executor.submit_async(async { 5u32 }).unwrap();
            *child.result().unwrap() * 2
        })
        .unwrap();
    assert_eq!(*parent.result().unwrap(), 10);
    pool.join().unwrap();
}

// wait() and as_completed() inside a task, over subtasks of the same one-worker pool.
#[test]
fn wait_and_as_completed_inside_a_task_complete() {
    let pool = pool(1);
    let executor = pool.executor();
    let parent = pool
        .submit(move || {
            let children: Vec<_> = (0..10u32)
                .map(|n| executor.submit(move || n).unwrap())
                .collect();
            let waited = wait(&children, None, ReturnWhen::AllCompleted);
            assert_eq!(waited.done.len(), 10);
            let more: Vec<_> = (0..10u32)
                .map(|n| executor.submit(move || n).unwrap())
                .collect();
            as_completed(&more, None)
                .map(|f| *f.unwrap().result().unwrap())
                .sum::<u32>()
        })
        .unwrap();
    assert_eq!(*parent.result().unwrap(), 45);
    pool.join().unwrap();
}

// block_until_done inside a task (the blocking yield_until_done of sync code).
#[test]
fn block_until_done_inside_a_task_completes() {
    let pool = pool(1);
    let executor = pool.executor();
    let parent = pool
        .submit(move || {
            let children: Vec<_> = (1..=4u32)
                .map(|n| executor.submit(move || n * n).unwrap())
                .collect();
            assert!(block_until_done(&children, None));
            children.iter().map(|f| *f.result().unwrap()).sum::<u32>()
        })
        .unwrap();
    assert_eq!(*parent.result().unwrap(), 30);
    pool.join().unwrap();
}

// A done callback that runs on the worker, submits to the same pool and blocks on the result:
// the awaited closure runs in place instead of waiting for the busy worker.
#[test]
fn a_callback_blocking_on_new_work_of_its_own_pool_completes() {
    let pool = pool(1);
    let executor = pool.executor();
    let (tx, rx) = mpsc::channel();
    let first = pool.submit(|| 1u32).unwrap();
    first.add_done_callback(move |future: &Future<u32>| {
        let base = *future.result().unwrap();
        let more = executor.submit(move || base + 1).unwrap();
        tx.send(*more.result().unwrap()).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 2);
    pool.join().unwrap();
}

// A task blocking on another pool's future does not run it in place (wrong pool's thread).
#[test]
fn blocking_on_another_pools_future_runs_it_there() {
    let pool = pool(1);
    let other = ThreadPoolExecutor::builder()
        .max_workers(1)
        .thread_name_prefix("other")
        .build()
        .unwrap();
    let elsewhere = other.executor();
    let parent = pool
        .submit(move || {
            let child = elsewhere
                .submit(|| std::thread::current().name().unwrap().to_owned())
                .unwrap();
            child.result().unwrap().clone()
        })
        .unwrap();
    assert_eq!(parent.result().unwrap(), "other_0");
}
