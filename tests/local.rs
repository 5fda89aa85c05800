//! The `LocalExecutor` on a host: the pool's semantics (fire-and-forget trees converge under
//! `join`, cooperative waits, panics become values) on one thread, and wakes and spawns arriving
//! from another thread as they would from an interrupt handler.
#![cfg(not(feature = "loom"))]

use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use betterconcurrent::{Error, Future, LocalExecutor, LocalSpawner, SubmitError};

#[path = "shared_with_core/doorbell.rs"]
mod doorbell;
use doorbell::Doorbell;

/// What the tree search shares: nodes visited, and whether the target was among them.
#[derive(Default)]
struct Search {
    tasks: AtomicU64,
    found: AtomicBool,
}

/// The seed's tree search (base 3), fire-and-forget: each node spawns its children and never
/// looks at a result; `join` must still wait for the whole tree.
fn visit(spawner: LocalSpawner, search: Arc<Search>, node: u64, depth: u32, target: u64) {
    search.tasks.fetch_add(1, Ordering::Relaxed);
    if node == target {
        search.found.store(true, Ordering::Relaxed);
    }
    if depth == 0 {
        return;
    }
    for i in 0..3 {
        let (child_spawner, search) = (spawner.clone(), search.clone());
        spawner
            .spawn(async move { visit(child_spawner, search, node * 3 + i, depth - 1, target) })
            .expect("capacity for the tree");
    }
}

#[test]
fn a_fire_and_forget_tree_converges_under_join() {
    let executor = LocalExecutor::<256>::new();
    let search = Arc::new(Search::default());
    let (spawner, shared) = (executor.spawner(), search.clone());
    // 42 = ((1 * 3 + 1) * 3 + 2) * 3 + 0, at depth 3.
    drop(executor.spawn(async move { visit(spawner, shared, 1, 4, 42) }));
    executor.join();
    assert_eq!(search.tasks.load(Ordering::Relaxed), 1 + 3 + 9 + 27 + 81);
    assert!(search.found.load(Ordering::Relaxed));
    assert_eq!(executor.outstanding(), 0);
}

fn fib(spawner: LocalSpawner, n: u64) -> Pin<Box<dyn StdFuture<Output = u64> + Send>> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        let a = spawner.spawn(fib(spawner.clone(), n - 1)).unwrap();
        let b = spawner.spawn(fib(spawner.clone(), n - 2)).unwrap();
        // Cooperative waits: the task suspends until its subtasks finish.
        *(&a).await.unwrap() + *(&b).await.unwrap()
    })
}

#[test]
fn nested_cooperative_waits_complete_on_one_thread() {
    let executor = LocalExecutor::<512>::new();
    let result = executor.spawn(fib(executor.spawner(), 12)).unwrap();
    assert_eq!(executor.block_on(&result).copied().unwrap(), 144);
    assert_eq!(executor.outstanding(), 0);
}

#[test]
fn a_panicking_task_ends_its_future_and_the_executor_goes_on() {
    let executor = LocalExecutor::<4>::new();
    let panicking = executor
        .spawn(async { panic!("task failed on purpose") })
        .unwrap();
    let fine = executor.spawn(async { 5 }).unwrap();
    executor.join();
    let () = match panicking.try_result() {
        Some(Err(Error::Panicked(message))) => assert!(message.contains("on purpose")),
        other => panic!("expected a panic, got {other:?}"),
    };
    assert_eq!(*fine.try_result().unwrap().unwrap(), 5);
}

#[test]
fn spawning_beyond_capacity_is_a_typed_error_inside_tasks_too() {
    let executor = LocalExecutor::<2>::new();
    let spawner = executor.spawner();
    let outer = executor
        .spawn(async move {
            let first = spawner.spawn(async { 1 });
            let second = spawner.spawn(async { 2 });
            (first.is_ok(), second.err())
        })
        .unwrap();
    executor.join();
    assert_eq!(
        outer.try_result().unwrap().unwrap(),
        &(true, Some(SubmitError::Full { capacity: 2 }))
    );
}

#[test]
fn wakes_and_spawns_from_another_thread_reach_the_executor() {
    let executor = LocalExecutor::<64>::new();
    let doorbell = Doorbell::new();
    let (suspended_tx, suspended_rx) = mpsc::channel();
    let rung = doorbell.rung();
    let waiting = executor
        .spawn(async move {
            rung.await;
            "rung"
        })
        .unwrap();
    executor.run_until_idle();
    assert!(!waiting.done());
    suspended_tx.send(()).unwrap();

    let spawner = executor.spawner();
    let other = std::thread::spawn(move || {
        suspended_rx.recv().unwrap();
        let spawned: Vec<Future<u32>> = (0..32)
            .map(|i| spawner.spawn(async move { i }).unwrap())
            .collect();
        doorbell.ring();
        spawned
    });
    // The other thread's spawns and its wake arrive while this thread runs the executor.
    assert_eq!(executor.block_on(&waiting).copied().unwrap(), "rung");
    let spawned = other.join().unwrap();
    executor.join();
    let sum: u32 = spawned
        .iter()
        .map(|f| *f.try_result().unwrap().unwrap())
        .sum();
    assert_eq!(sum, (0..32).sum());
}

#[test]
fn block_on_drives_any_future_and_the_tasks_it_awaits() {
    let executor = LocalExecutor::<8>::new();
    let spawner = executor.spawner();
    let total = executor.block_on(async move {
        let a = spawner.spawn(async { 20 }).unwrap();
        let b = spawner.spawn(async { 22 }).unwrap();
        *(&a).await.unwrap() + *(&b).await.unwrap()
    });
    assert_eq!(total, 42);
}

#[test]
fn a_spawner_outliving_its_executor_reports_shutdown() {
    let executor = LocalExecutor::<2>::new();
    let spawner = executor.spawner();
    drop(executor);
    assert_eq!(spawner.spawn(async {}).unwrap_err(), SubmitError::Shutdown);
}

#[test]
fn a_waker_kept_by_block_on_s_future_does_not_keep_the_executor_alive() {
    // e.g. a driver that stores the last waker it was polled with and never clears it.
    let kept: Arc<std::sync::Mutex<Option<std::task::Waker>>> = Arc::default();
    let executor = LocalExecutor::<4>::new();
    let keeper = kept.clone();
    executor.block_on(std::future::poll_fn(move |cx| {
        *keeper.lock().unwrap() = Some(cx.waker().clone());
        std::task::Poll::Ready(())
    }));
    let spawner = executor.spawner();
    let queued = executor.spawn(async { 1 }).unwrap();
    drop(executor);
    assert!(
        matches!(queued.try_result(), Some(Err(Error::Cancelled))),
        "the dropped executor cancelled its queued task"
    );
    assert_eq!(spawner.spawn(async {}).unwrap_err(), SubmitError::Shutdown);
    assert!(kept.lock().unwrap().is_some());
}

#[test]
fn a_nested_block_on_does_not_swallow_the_outer_wake() {
    let executor = LocalExecutor::<4>::new();
    let gate = Future::<u32>::new();
    let opener = gate.clone();
    let setter = executor
        .spawn(async move {
            opener.set_result(7).unwrap();
        })
        .unwrap();
    let nested = &executor;
    let mut idles = 0u64;
    let value = executor.block_on_with(
        async {
            // Register the outer waker on `gate`, then block on the setter inside: the gate's
            // wake for the outer call arrives while the inner call runs.
            let mut gated = std::pin::pin!(async { *(&gate).await.unwrap() });
            let first = std::future::poll_fn(|cx| std::task::Poll::Ready(gated.as_mut().poll(cx)));
            assert!(first.await.is_pending());
            nested.block_on(&setter).unwrap();
            // Suspend once without waking itself: only the gate's wake can resume it.
            let mut suspended = false;
            std::future::poll_fn(|_| {
                if std::mem::replace(&mut suspended, true) {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            })
            .await;
            gated.await
        },
        || {
            idles += 1;
            assert!(
                idles < 1_000_000,
                "the outer block_on was never woken again"
            );
        },
    );
    assert_eq!(value, 7);
}
