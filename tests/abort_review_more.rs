//! Review of `Future::abort`: aborts from pool threads (the aborting worker then blocks, or it
//! belongs to another pool), from a scope inside a task, racing a `LocalExecutor` running on
//! another thread, and in nested groups.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{pool, yield_now, DropCount};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};

use betterconcurrent::{Error, Executor, Future, LocalExecutor, TaskGroup};

/// A parent on a 1-worker pool submits a child, aborts it, then blocks (not awaits) on its
/// result: the child, queued on that very worker, must still be ended.
#[test]
fn a_worker_aborts_its_queued_child_then_blocks_on_it() {
    within(30, || {
        let pool = pool(1);
        let parent = pool
            .submit_async(async {
                let executor = Executor::current().unwrap();
                let child = executor.submit_async(async { 1 }).unwrap();
                assert!(child.abort());
                matches!(child.result(), Err(Error::Cancelled))
            })
            .unwrap();
        assert!(*parent.result().unwrap());
        pool.wait_idle().unwrap();
    });
}

/// As above with a suspended child aborted by the worker before blocking on it (the abort
/// queues the child from that worker).
#[test]
fn a_worker_aborts_its_suspended_child_then_blocks_on_it() {
    within(30, || {
        let pool = pool(1);
        let never = Future::<()>::new();
        let n = never.clone();
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let child = executor
                    .submit_async(async move {
                        let _ = (&n).await;
                    })
                    .unwrap();
                // Let the child run to its await.
                yield_now().await;
                yield_now().await;
                assert!(child.abort());
                matches!(child.result(), Err(Error::Cancelled))
            })
            .unwrap();
        assert!(*parent.result().unwrap());
        pool.wait_idle().unwrap();
    });
}

/// The only worker blocks on a suspended task's result; a third thread aborts the task.
#[test]
fn abort_of_a_task_the_only_worker_blocks_on() {
    within(30, || {
        let pool = pool(1);
        let never = Future::<()>::new();
        let (tx, rx) = mpsc::channel();
        let n = never.clone();
        let victim = pool
            .submit_async(async move {
                tx.send(()).unwrap();
                let _ = (&n).await;
            })
            .unwrap();
        rx.recv().unwrap();
        let (blocking_tx, blocking_rx) = mpsc::channel();
        let v = victim.clone();
        let blocker = pool
            .submit(move || {
                blocking_tx.send(()).unwrap();
                matches!(v.result(), Err(Error::Cancelled))
            })
            .unwrap();
        blocking_rx.recv().unwrap();
        assert!(victim.abort());
        assert!(*blocker.result().unwrap());
        pool.wait_idle().unwrap();
    });
}

/// A worker of another pool aborts a suspended task: it goes to its own pool's queue.
#[test]
fn a_worker_of_another_pool_aborts() {
    within(30, || {
        let a = pool(1);
        let b = pool(1);
        let never = Future::<()>::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (n, kept) = (never.clone(), DropCount(drops.clone()));
        let victim = a
            .submit_async(async move {
                let _kept = kept;
                tx.send(()).unwrap();
                let _ = (&n).await;
            })
            .unwrap();
        rx.recv().unwrap();
        let v = victim.clone();
        let aborter = b
            .submit_async(async move {
                assert!(v.abort());
                matches!((&v).await, Err(Error::Cancelled))
            })
            .unwrap();
        assert!(*aborter.result().unwrap());
        a.wait_idle().unwrap();
        b.wait_idle().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// A scope opened inside a task of a 1-worker pool aborts its own (queued) tasks and returns.
#[test]
fn a_scope_inside_a_task_aborts_its_queued_tasks() {
    within(30, || {
        let pool = pool(1);
        let outer = pool
            .submit_async(async {
                let executor = Executor::current().unwrap();
                let never = Future::<()>::new();
                let dropped = AtomicUsize::new(0);
                executor.scope(|scope| {
                    let futures: Vec<_> = (0..5)
                        .map(|_| {
                            let (never, bump) = (&never, Bump(&dropped));
                            scope
                                .submit_async(async move {
                                    let _d = bump;
                                    let _ = never.await;
                                })
                                .unwrap()
                        })
                        .collect();
                    for f in &futures {
                        assert!(f.abort());
                    }
                });
                dropped.load(Ordering::SeqCst)
            })
            .unwrap();
        assert_eq!(*outer.result().unwrap(), 5);
        pool.wait_idle().unwrap();
    });
}

struct Bump<'a>(&'a AtomicUsize);
impl Drop for Bump<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A scope whose tasks another thread aborts while the scope waits for them.
#[test]
fn a_scope_waiting_for_tasks_another_thread_aborts() {
    within(30, || {
        let pool = pool(2);
        let never = Future::<()>::new();
        let dropped = AtomicUsize::new(0);
        let (futures_tx, futures_rx) = mpsc::channel::<Vec<Future<()>>>();
        let aborter = std::thread::spawn(move || {
            let futures = futures_rx.recv().unwrap();
            futures.iter().filter(|f| f.abort()).count()
        });
        pool.scope(|scope| {
            let (tx, rx) = mpsc::channel();
            let futures: Vec<_> = (0..8)
                .map(|i| {
                    let (never, bump, tx) = (&never, Bump(&dropped), tx.clone());
                    scope
                        .submit_async(async move {
                            let _d = bump;
                            if i % 2 == 0 {
                                tx.send(()).unwrap();
                            }
                            let _ = never.await;
                        })
                        .unwrap()
                })
                .collect();
            for _ in 0..4 {
                rx.recv().unwrap();
            }
            futures_tx.send(futures).unwrap();
        });
        assert_eq!(dropped.load(Ordering::SeqCst), 8);
        assert_eq!(aborter.join().unwrap(), 8);
        pool.wait_idle().unwrap();
    });
}

/// A `LocalExecutor` run on another thread while the test thread aborts its tasks.
#[test]
fn local_executor_racing_aborts_from_another_thread() {
    within(60, || {
        for _ in 0..200 {
            let executor = LocalExecutor::<16>::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let never = Future::<()>::new();
            let futures: Vec<_> = (0..16)
                .map(|i| {
                    let (kept, n) = (DropCount(drops.clone()), never.clone());
                    executor
                        .spawn(async move {
                            let _kept = kept;
                            if i % 2 == 0 {
                                yield_now().await;
                            }
                            if i % 4 == 0 {
                                let _ = (&n).await;
                            }
                            i
                        })
                        .unwrap()
                })
                .collect();
            let barrier = Arc::new(Barrier::new(2));
            let b = barrier.clone();
            let runner = std::thread::spawn(move || {
                b.wait();
                executor.join();
                executor.outstanding()
            });
            barrier.wait();
            for f in &futures {
                f.abort();
            }
            assert_eq!(runner.join().unwrap(), 0);
            for (i, f) in futures.iter().enumerate() {
                match f.try_result() {
                    Some(Ok(v)) => assert_eq!(*v, i),
                    Some(Err(Error::Cancelled)) => {}
                    other => panic!("task {i}: {other:?}"),
                }
            }
            assert_eq!(drops.load(Ordering::SeqCst), 16);
            assert_eq!(never.waiter_count(), 0);
        }
    });
}

/// Tasks of a child group aborted: the child's and the parent's joins return.
#[test]
fn aborted_tasks_of_a_nested_group() {
    within(30, || {
        let pool = pool(2);
        let parent = TaskGroup::new(&pool);
        let never = Future::<()>::new();
        let (tx, rx) = mpsc::channel();
        let n = never.clone();
        let made = parent
            .submit(move || {
                let child = TaskGroup::new(&Executor::current().unwrap());
                let futures: Vec<_> = (0..4)
                    .map(|_| {
                        let n = n.clone();
                        child
                            .submit_async(async move {
                                let _ = (&n).await;
                            })
                            .unwrap()
                    })
                    .collect();
                tx.send(futures).unwrap();
            })
            .unwrap();
        made.result().unwrap();
        let futures = rx.recv().unwrap();
        for f in &futures {
            assert!(f.abort());
        }
        parent.join().unwrap();
        for f in &futures {
            assert!(matches!(f.result(), Err(Error::Cancelled)));
        }
        pool.wait_idle().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// A `LocalExecutor` dropped on one thread while another aborts its suspended tasks (the
/// abort may hold the executor's state last and drop it): every body dropped once, every
/// future ends.
#[test]
fn local_executor_dropped_while_aborts_reschedule_into_it() {
    within(60, || {
        for _ in 0..300 {
            let executor = LocalExecutor::<8>::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let never = Future::<()>::new();
            let futures: Vec<_> = (0..8)
                .map(|_| {
                    let (kept, n) = (DropCount(drops.clone()), never.clone());
                    executor
                        .spawn(async move {
                            let _kept = kept;
                            let _ = (&n).await;
                        })
                        .unwrap()
                })
                .collect();
            executor.run_until_idle();
            let barrier = Arc::new(Barrier::new(2));
            let (b, fs) = (barrier.clone(), futures.clone());
            let aborter = std::thread::spawn(move || {
                b.wait();
                fs.iter().filter(|f| f.abort()).count()
            });
            barrier.wait();
            drop(executor);
            assert_eq!(aborter.join().unwrap(), 8);
            for f in &futures {
                assert!(matches!(f.try_result(), Some(Err(Error::Cancelled))));
            }
            assert_eq!(drops.load(Ordering::SeqCst), 8);
            assert_eq!(never.waiter_count(), 0);
        }
    });
}
