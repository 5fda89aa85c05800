//! `Executor::spawn`, the fire-and-forget submit: `join` waits for whole trees of spawned
//! tasks, panics are counted and survived, refused or cancelled work is dropped (never lost
//! silently), and `stats()` counts spawned tasks exactly although workers count them from a
//! prepaid share of the join count.
#![cfg(not(feature = "loom"))]

mod common;
#[path = "shared_with_core/drop_count.rs"]
mod drop_count;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use betterconcurrent::{Executor, SubmitError};
use common::pool;
use drop_count::DropCount;

/// Spawn a full tree of `fan_out` children per node down to `depth`, counting the nodes.
fn tree(executor: &Executor, nodes: Arc<AtomicUsize>, fan_out: usize, depth: u32) {
    nodes.fetch_add(1, Ordering::Relaxed);
    if depth > 0 {
        for _ in 0..fan_out {
            let nodes = nodes.clone();
            executor
                .spawn(move |executor| tree(executor, nodes, fan_out, depth - 1))
                .unwrap();
        }
    }
}

#[test]
fn join_waits_for_every_spawned_descendant() {
    // 1 + 7 + 49 + 343 + 2401 nodes: enough for the workers' prepaid shares to be used up,
    // refilled and given back many times over.
    for workers in [1, 2, 4] {
        let pool = pool(workers);
        let nodes = Arc::new(AtomicUsize::new(0));
        tree(&pool, nodes.clone(), 7, 4);
        pool.wait_idle().unwrap();
        assert_eq!(nodes.load(Ordering::Relaxed), 2801, "{workers} workers");
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0);
        if cfg!(feature = "stats") {
            assert_eq!(
                stats.tasks_completed, 2800,
                "every node but the root ran as a task"
            );
        }
        // A second round on the same pool: nothing left over from the first.
        tree(&pool, nodes.clone(), 7, 4);
        pool.join().unwrap();
        assert_eq!(nodes.load(Ordering::Relaxed), 2 * 2801);
    }
}

#[test]
fn the_spawned_task_is_given_its_own_pool() {
    let pool = pool(2);
    let (sender, receiver) = mpsc::channel();
    let expected = pool.executor();
    pool.spawn(move |executor| sender.send(*executor == expected).unwrap())
        .unwrap();
    assert!(receiver.recv().unwrap());
}

#[test]
fn a_panicking_spawned_task_is_counted_and_the_pool_lives_on() {
    let pool = pool(1);
    pool.spawn(|_| panic!("counted, not fatal")).unwrap();
    let after = pool.submit(|| "the worker survived").unwrap();
    assert_eq!(*after.result().unwrap(), "the worker survived");
    pool.wait_idle().unwrap();
    let stats = pool.stats();
    if cfg!(feature = "stats") {
        assert_eq!(stats.tasks_panicked, 1);
        assert_eq!(stats.tasks_completed, 2);
    }
    assert_eq!(stats.tasks_outstanding, 0);
}

#[test]
fn a_spawn_after_shutdown_is_refused_and_its_closure_dropped_unrun() {
    let pool = pool(1);
    pool.shutdown(true, false);
    let (drops, ran) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (guard, flag) = (DropCount(drops.clone()), ran.clone());
    let refused = pool.spawn(move |_| {
        let _guard = guard;
        flag.fetch_add(1, Ordering::SeqCst);
    });
    assert!(matches!(refused, Err(SubmitError::Shutdown)));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn shutdown_with_cancel_drops_queued_spawned_closures_unrun() {
    let pool = pool(1);
    let (started, release) = (mpsc::channel(), mpsc::channel::<()>());
    let (started_sender, started_receiver) = started;
    let (release_sender, release_receiver) = release;
    pool.spawn(move |_| {
        started_sender.send(()).unwrap();
        release_receiver.recv().unwrap();
    })
    .unwrap();
    started_receiver.recv().unwrap();
    // The one worker is busy: these stay queued.
    let (drops, ran) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for _ in 0..10 {
        let (guard, flag) = (DropCount(drops.clone()), ran.clone());
        pool.spawn(move |_| {
            let _guard = guard;
            flag.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    pool.shutdown(false, true);
    release_sender.send(()).unwrap();
    pool.shutdown(true, false);
    assert_eq!(drops.load(Ordering::SeqCst), 10, "every closure dropped");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "none of them ran");
    assert_eq!(pool.stats().tasks_outstanding, 0);
}

#[test]
fn stats_count_spawned_tasks_exactly_while_a_worker_holds_a_prepaid_share() {
    let pool = pool(1);
    let (spawned_sender, spawned_receiver) = mpsc::channel();
    let (release_sender, release_receiver) = mpsc::channel::<()>();
    pool.spawn(move |executor| {
        for _ in 0..3 {
            executor.spawn(|_| {}).unwrap();
        }
        spawned_sender.send(()).unwrap();
        // A plain channel, not one of the pool's waits: the worker keeps its prepaid share.
        release_receiver.recv().unwrap();
    })
    .unwrap();
    spawned_receiver.recv().unwrap();
    let stats = pool.stats();
    assert_eq!(
        stats.tasks_outstanding, 4,
        "the parent and its three children"
    );
    if cfg!(feature = "stats") {
        assert_eq!(stats.tasks_running, 1);
    }
    release_sender.send(()).unwrap();
    pool.wait_idle().unwrap();
    assert_eq!(pool.stats().tasks_outstanding, 0);
    if cfg!(feature = "stats") {
        assert_eq!(pool.stats().tasks_completed, 4);
    }
}
