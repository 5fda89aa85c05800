//! Review 17: `futures`' `Spawn` for `Executor` as a user of `futures` would drive it:
//! `SpawnExt::spawn`, `spawn_with_handle`, `join_all` and `select` over pool tasks, spawning from
//! inside a pool task, a panicking spawned future, dropping a `RemoteHandle` (futures' semantics:
//! the task is cancelled and its future dropped), `LocalSpawn` absent, status after shutdown,
//! very many spawned futures, and `join` converging spawned futures that spawn more.
#![cfg(all(not(feature = "loom"), feature = "futures"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{Executor, Future, ThreadPoolExecutor};
use futures::future::{self, Either};
use futures::task::{Spawn, SpawnExt};

const LONG: Duration = Duration::from_secs(20);

/// Sends on drop: shows a spawned future's body was dropped.
struct OnDrop(Option<mpsc::Sender<&'static str>>, &'static str);
impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            let _ = s.send(self.1);
        }
    }
}

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(n)
        .build()
        .unwrap()
}

#[test]
fn join_all_and_select_over_handles() {
    let pool = pool(2);
    let handles: Vec<_> = (0..16u64)
        .map(|n| pool.spawn_with_handle(async move { n * n }).unwrap())
        .collect();
    let squares = futures::executor::block_on(future::join_all(handles));
    assert_eq!(squares, (0..16u64).map(|n| n * n).collect::<Vec<_>>());

    // select: one branch finishes, the other waits on a pool future that is never set.
    let (tx, rx) = mpsc::channel();
    let never = Future::<u8>::new();
    let awaited = never.clone();
    // Made outside the body, so it is dropped even if the task is cancelled before its first poll.
    let guard = OnDrop(Some(tx), "slow dropped");
    let slow = pool
        .spawn_with_handle(async move {
            let _guard = guard;
            *(&awaited).await.unwrap()
        })
        .unwrap();
    let fast = pool.spawn_with_handle(async { 5u8 }).unwrap();
    let winner = futures::executor::block_on(future::select(slow, fast));
    match winner {
        Either::Right((v, slow)) => {
            assert_eq!(v, 5);
            drop(slow); // futures' RemoteHandle: dropping it cancels the remote task
        }
        Either::Left(_) => panic!("the slow one cannot finish"),
    }
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "slow dropped");
    // The cancelled task counts finished: the pool converges although `never` is unset.
    pool.wait_idle_timeout(LONG).unwrap();
}

#[test]
fn dropping_a_remote_handle_cancels_a_suspended_task() {
    let pool = pool(1);
    let (tx, rx) = mpsc::channel();
    let (entered, is_entered) = mpsc::channel();
    let never = Future::<u8>::new();
    let awaited = never.clone();
    let handle = pool
        .spawn_with_handle(async move {
            let _guard = OnDrop(Some(tx), "dropped");
            entered.send(()).unwrap();
            *(&awaited).await.unwrap()
        })
        .unwrap();
    is_entered.recv_timeout(LONG).unwrap();
    drop(handle);
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "dropped");
    pool.join_timeout(LONG).unwrap();
}

#[test]
fn forget_keeps_the_task_running() {
    let pool = pool(1);
    let (tx, rx) = mpsc::channel();
    let gate = Future::<()>::new();
    let awaited = gate.clone();
    let handle = pool
        .spawn_with_handle(async move {
            (&awaited).await.unwrap();
            tx.send("ran").unwrap();
        })
        .unwrap();
    handle.forget();
    gate.set_result(()).unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "ran");
    pool.join().unwrap();
}

#[test]
fn spawning_from_inside_a_pool_task_and_awaiting_the_handle_on_one_worker() {
    let pool = pool(1);
    let top = pool
        .submit_async(async {
            let executor = Executor::current().unwrap();
            let handles: Vec<_> = (0..10u32)
                .map(|i| executor.spawn_with_handle(async move { i + 1 }).unwrap())
                .collect();
            // RemoteHandle is a foreign future: the task suspends on it and the one worker
            // runs the spawned tasks.
            future::join_all(handles).await.into_iter().sum::<u32>()
        })
        .unwrap();
    assert_eq!(*top.result_timeout(LONG).unwrap(), 55);
    pool.join().unwrap();
}

#[test]
fn a_closure_blocking_on_a_handle_with_a_foreign_block_on() {
    // Documented: a closure may wait for its subtasks by any means (another crate's block_on);
    // an idle worker takes what it submitted.
    let pool = pool(2);
    let top = pool
        .submit(|| {
            let executor = Executor::current().unwrap();
            let h = executor.spawn_with_handle(async { 21u32 * 2 }).unwrap();
            futures::executor::block_on(h)
        })
        .unwrap();
    assert_eq!(*top.result_timeout(LONG).unwrap(), 42);
}

#[test]
fn a_panicking_spawned_future_without_handle_is_caught() {
    let pool = pool(1);
    SpawnExt::spawn(&pool.executor(), async {
        panic!("spawned via trait broke")
    })
    .unwrap();
    let (tx, rx) = mpsc::channel();
    SpawnExt::spawn(&pool.executor(), async move { tx.send(1).unwrap() }).unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), 1);
    pool.join().unwrap();
    #[cfg(feature = "stats")]
    assert_eq!(pool.stats().tasks_panicked, 1);
}

#[test]
fn a_panicking_spawned_future_resumes_in_the_handle_owner() {
    let pool = pool(2);
    let handle = pool
        .spawn_with_handle(async { std::panic::panic_any(17u32) })
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(handle)
    }))
    .unwrap_err();
    // futures' remote handle resumes the original payload.
    assert_eq!(caught.downcast_ref::<u32>(), Some(&17));
    pool.join().unwrap();
}

#[test]
fn local_spawn_is_not_implemented() {
    trait NotLocal {
        fn is_local_spawn(&self) -> bool {
            false
        }
    }
    impl<T> NotLocal for std::marker::PhantomData<T> {}
    struct Probe<T>(std::marker::PhantomData<T>);
    impl<T: futures::task::LocalSpawn> Probe<T> {
        #[allow(dead_code)]
        fn is_local_spawn(&self) -> bool {
            true
        }
    }
    impl<T> std::ops::Deref for Probe<T> {
        type Target = std::marker::PhantomData<T>;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }
    let probe = Probe::<Executor>(std::marker::PhantomData);
    assert!(!probe.is_local_spawn());
    let probe = Probe::<ThreadPoolExecutor>(std::marker::PhantomData);
    assert!(!probe.is_local_spawn());
    // The probe's control: a type that has it.
    let probe = Probe::<futures::executor::LocalSpawner>(std::marker::PhantomData);
    assert!(probe.is_local_spawn());
}

#[test]
fn status_and_spawn_after_shutdown_and_after_join() {
    let pool = pool(1);
    let executor = pool.executor();
    assert!(executor.status().is_ok());
    let keep = pool.executor();
    pool.join().unwrap();
    assert!(keep.status().unwrap_err().is_shutdown());
    assert!(SpawnExt::spawn(&keep, async {}).unwrap_err().is_shutdown());
    let error = keep.spawn_with_handle(async { 1 }).unwrap_err();
    assert!(error.is_shutdown());
    // SpawnError's Display says so.
    assert!(error.to_string().to_lowercase().contains("shut"), "{error}");
    drop(pool);
    assert!(keep.status().is_err());
}

#[test]
fn a_spawned_future_dropped_by_shutdown_cancel_drops_its_body() {
    let pool = pool(1);
    let (tx, rx) = mpsc::channel();
    let never = Future::<u8>::new();
    let awaited = never.clone();
    // The guard is made outside the body: a task cancelled before its first poll drops it too.
    let guard = OnDrop(Some(tx), "dropped by shutdown");
    SpawnExt::spawn(&pool.executor(), async move {
        let _guard = guard;
        let _ = (&awaited).await;
    })
    .unwrap();
    pool.shutdown(true, true);
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "dropped by shutdown");
}

#[test]
fn a_hundred_thousand_spawned_futures_converge_under_join() {
    let pool = pool(4);
    let count = Arc::new(AtomicUsize::new(0));
    let executor = pool.executor();
    for _ in 0..100_000 {
        let count = count.clone();
        SpawnExt::spawn(&executor, async move {
            count.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    pool.join().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 100_000);
}

fn spawn_tree(spawner: Executor, count: Arc<AtomicUsize>, depth: u32) {
    count.fetch_add(1, Ordering::Relaxed);
    if depth == 0 {
        return;
    }
    for _ in 0..4 {
        let (s, c) = (spawner.clone(), count.clone());
        SpawnExt::spawn(&spawner, async move {
            // Yield once so the task suspends and is woken before spawning more.
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if yielded {
                    std::task::Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await;
            spawn_tree(s, c, depth - 1)
        })
        .unwrap();
    }
}

#[test]
fn join_converges_spawned_futures_that_keep_spawning() {
    let pool = pool(3);
    let count = Arc::new(AtomicUsize::new(0));
    spawn_tree(pool.executor(), count.clone(), 6);
    pool.join_timeout(LONG).unwrap();
    assert_eq!(count.load(Ordering::Relaxed), (4usize.pow(7) - 1) / 3);
}

#[test]
fn remote_handles_awaited_by_another_runtime() {
    let pool = pool(2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handles: Vec<_> = (0..50u32)
        .map(|i| pool.spawn_with_handle(async move { i }).unwrap())
        .collect();
    let total: u32 = rt.block_on(async { future::join_all(handles).await.into_iter().sum() });
    assert_eq!(total, (0..50).sum());
}

/// A spawned future whose destructor panics: nothing holds a future for it, the worker lives on.
#[test]
fn a_spawned_future_whose_drop_panics_leaves_the_pool_working() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("a spawned future's drop broke");
        }
    }
    let pool = pool(1);
    let bomb = PanicOnDrop;
    SpawnExt::spawn(&pool.executor(), async move {
        let _bomb = bomb;
    })
    .unwrap();
    let h = pool.spawn_with_handle(async { 3 }).unwrap();
    assert_eq!(futures::executor::block_on(h), 3);
    pool.join_timeout(LONG).unwrap();
}
