//! Issue 17: the pool behind `futures`' `Spawn` trait: code written against it (here
//! `SpawnExt` and a function generic over `impl Spawn`) runs its futures as the pool's async
//! tasks, a panicking one is caught as any task's is, and a closed pool refuses with
//! `SpawnError::shutdown`.
#![cfg(all(not(feature = "loom"), feature = "futures"))]

use std::sync::mpsc;

use betterconcurrent::{Executor, ThreadPoolExecutor};
use futures::task::{Spawn, SpawnExt};

/// Library code that knows only the trait.
fn fan_out(spawner: &impl Spawn, n: u64) -> mpsc::Receiver<u64> {
    let (sender, receiver) = mpsc::channel();
    for i in 0..n {
        let sender = sender.clone();
        spawner
            .spawn(async move {
                let on_pool = Executor::current().is_some();
                sender.send(if on_pool { i } else { u64::MAX }).unwrap();
            })
            .unwrap();
    }
    receiver
}

#[test]
fn futures_spawned_through_the_trait_run_as_pool_tasks() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let mut seen: Vec<u64> = fan_out(&pool.executor(), 20).iter().take(20).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
    // `join` converges them like any task.
    let receiver = fan_out(&pool.executor(), 5);
    pool.join().unwrap();
    assert_eq!(receiver.try_iter().count(), 5);
}

#[test]
fn a_panicking_spawned_future_leaves_the_pool_working() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let executor = pool.executor();
    let handle = executor
        .spawn_with_handle(async { panic!("a spawned future broke") })
        .unwrap();
    // The remote handle sees the task end without a value (its sender is dropped).
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(handle)
    }));
    assert!(outcome.is_err());
    let after = executor.spawn_with_handle(async { 5 }).unwrap();
    assert_eq!(futures::executor::block_on(after), 5);
}

#[test]
fn a_closed_pool_refuses_through_the_trait() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let executor = pool.executor();
    assert!(executor.status().is_ok());
    pool.shutdown(true, false);
    let error = executor.status().unwrap_err();
    assert!(error.is_shutdown());
    // The inherent `spawn` (a closure) wins over `SpawnExt::spawn`: name the trait.
    let error = SpawnExt::spawn(&executor, async {}).unwrap_err();
    assert!(error.is_shutdown());
}
