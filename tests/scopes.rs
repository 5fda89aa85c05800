//! Scopes: tasks that borrow the caller's locals, converge before `scope` returns (subtasks
//! included, on any thread, a 1-worker pool's own thread too), and re-raise a panic with its
//! payload once the others finished.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{in_group, pool, yield_now, DropCount};

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};

use betterconcurrent::{Error, Executor, Scope, SubmitError, TaskGroup};

#[test]
fn a_scope_borrowing_a_local_vec_and_an_atomic_on_a_one_worker_pool_from_inside_a_pool_task() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let outer = pool
            .submit(move || {
                let numbers: Vec<u64> = (1..=100).collect();
                let sum = AtomicUsize::new(0);
                let sum_ref = &sum;
                executor.scope(|scope| {
                    for chunk in numbers.chunks(10) {
                        scope
                            .spawn(move |_| {
                                let part: u64 = chunk.iter().sum();
                                sum_ref.fetch_add(part as usize, Ordering::SeqCst);
                            })
                            .unwrap();
                    }
                });
                // Every task ended before `scope` returned: the total is complete here.
                (sum.load(Ordering::SeqCst), numbers.len())
            })
            .unwrap();
        assert_eq!(*outer.result().unwrap(), (5050, 100));
    });
}

#[test]
fn a_scope_called_from_outside_the_pool_waits_for_every_borrowing_task() {
    within(60, || {
        let pool = pool(2);
        let mut slots = vec![0u64; 64];
        pool.scope(|scope| {
            for (index, slot) in slots.iter_mut().enumerate() {
                scope.spawn(move |_| *slot = index as u64 * 2).unwrap();
            }
        });
        assert!(slots.iter().enumerate().all(|(i, v)| *v == i as u64 * 2));
    });
}

#[test]
fn a_scope_returns_the_value_of_its_closure() {
    let pool = pool(2);
    let text = String::from("borrowed");
    let length = pool.scope(|scope| {
        let future = scope.submit(|| text.len()).unwrap();
        *future.result().unwrap()
    });
    assert_eq!(length, 8);
}

#[test]
fn subtasks_spawned_through_the_scope_and_through_executor_current_converge_before_it_returns() {
    within(60, || {
        let pool = pool(2);
        let through_scope = AtomicUsize::new(0);
        let through_current = Arc::new(AtomicUsize::new(0));
        fn tree<'scope, 'env>(
            scope: &'scope Scope<'scope, 'env>,
            nodes: &'scope AtomicUsize,
            depth: u32,
        ) {
            nodes.fetch_add(1, Ordering::SeqCst);
            if depth > 0 {
                for _ in 0..3 {
                    scope
                        .spawn(move |scope| tree(scope, nodes, depth - 1))
                        .unwrap();
                }
            }
        }
        fn static_tree(nodes: Arc<AtomicUsize>, depth: u32) {
            nodes.fetch_add(1, Ordering::SeqCst);
            if depth > 0 {
                let executor = Executor::current().expect("runs on a pool thread");
                for _ in 0..3 {
                    let nodes = nodes.clone();
                    executor
                        .spawn(move |_| static_tree(nodes, depth - 1))
                        .unwrap();
                }
            }
        }
        pool.scope(|scope| {
            let nodes = &through_scope;
            scope.spawn(move |scope| tree(scope, nodes, 3)).unwrap();
            let nodes = through_current.clone();
            scope.spawn(move |_| static_tree(nodes, 3)).unwrap();
        });
        assert_eq!(through_scope.load(Ordering::SeqCst), 1 + 3 + 9 + 27);
        assert_eq!(through_current.load(Ordering::SeqCst), 1 + 3 + 9 + 27);
    });
}

#[test]
fn a_scoped_panic_is_reraised_with_its_payload_after_the_others_finished() {
    within(60, || {
        let pool = pool(2);
        let finished = AtomicUsize::new(0);
        // The panicking task goes first; the others wait for it to have panicked, so they
        // surely finish after it.
        let (panicked_tx, panicked_rx) = mpsc::channel::<()>();
        let panicked_rx = Mutex::new(panicked_rx);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                let panicked_tx = panicked_tx.clone();
                scope
                    .spawn(move |_| {
                        // A guard that signals while the panic unwinds.
                        struct Signal(mpsc::Sender<()>);
                        impl Drop for Signal {
                            fn drop(&mut self) {
                                let _ = self.0.send(());
                            }
                        }
                        let _signal = Signal(panicked_tx);
                        std::panic::panic_any(42_u32);
                    })
                    .unwrap();
                let (finished, panicked_rx) = (&finished, &panicked_rx);
                scope
                    .spawn(move |_| {
                        panicked_rx.lock().unwrap().recv().unwrap();
                        for _ in 0..10 {
                            finished.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                    .unwrap();
                for _ in 0..20 {
                    scope
                        .spawn(move |_| {
                            finished.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                }
            });
        }));
        let payload = caught.expect_err("the scope re-raises the task's panic");
        assert_eq!(
            payload.downcast_ref::<u32>(),
            Some(&42),
            "the original payload"
        );
        assert_eq!(
            finished.load(Ordering::SeqCst),
            30,
            "the others still ran to the end"
        );
        // The pool lives on.
        assert_eq!(*pool.submit(|| 7).unwrap().result().unwrap(), 7);
    });
}

#[test]
fn a_panic_in_the_scopes_closure_is_reraised_after_its_tasks_finished() {
    within(60, || {
        let pool = pool(2);
        let finished = AtomicUsize::new(0);
        let gate = Barrier::new(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                let (finished, gate) = (&finished, &gate);
                scope
                    .spawn(move |_| {
                        gate.wait();
                        finished.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                gate.wait();
                panic!("in the scope's closure");
            })
        }));
        let payload = caught.expect_err("the closure's panic is re-raised");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"in the scope's closure")
        );
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "its task finished first"
        );
    });
}

#[test]
fn a_panic_in_a_scoped_task_with_a_future_ends_that_future_and_does_not_unwind_the_scope() {
    let pool = pool(2);
    let message = pool.scope(|scope| {
        let future = scope
            .submit(|| -> u32 { panic!("kept in the future") })
            .unwrap();
        match future.result() {
            Err(Error::Panicked(panic)) => panic.message().to_owned(),
            other => panic!("expected a panic, got {other:?}"),
        }
    });
    assert_eq!(message, "kept in the future");
}

#[test]
fn scoped_async_bodies_borrow_and_suspend_without_holding_the_one_thread() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let outer = pool
            .submit(move || {
                let log = Mutex::new(Vec::new());
                let log_ref = &log;
                let total = executor.scope(|scope| {
                    let first = scope
                        .submit_async(async move {
                            log_ref.lock().unwrap().push("first");
                            yield_now().await;
                            log_ref.lock().unwrap().push("first again");
                            1u32
                        })
                        .unwrap();
                    scope
                        .spawn_async(async move {
                            log_ref.lock().unwrap().push("second");
                            yield_now().await;
                        })
                        .unwrap();
                    let sum = scope
                        .submit_async(async move { first.await.unwrap() + 1 })
                        .unwrap();
                    *sum.result().unwrap()
                });
                let mut log = log.into_inner().unwrap();
                log.sort_unstable();
                (total, log)
            })
            .unwrap();
        let (total, log) = outer.result().unwrap().clone();
        assert_eq!(total, 2);
        assert_eq!(log, ["first", "first again", "second"]);
    });
}

#[test]
fn a_panic_in_a_scoped_async_body_without_a_future_is_reraised() {
    within(60, || {
        let pool = pool(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                scope
                    .spawn_async(async {
                        yield_now().await;
                        std::panic::panic_any(String::from("async payload"));
                    })
                    .unwrap();
            })
        }));
        let payload = caught.expect_err("re-raised");
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("async payload")
        );
    });
}

#[test]
fn a_scoped_future_may_outlive_its_scope_and_its_value_is_owned() {
    let pool = pool(2);
    let prefix = String::from("value of ");
    let future = pool.scope(|scope| scope.submit(|| format!("{prefix}a scoped task")).unwrap());
    drop(prefix);
    assert_eq!(future.into_result().unwrap(), "value of a scoped task");
}

#[test]
fn nested_scopes_on_pool_threads_converge_from_the_inside_out() {
    within(60, || {
        let pool = pool(2);
        let leaves = AtomicUsize::new(0);
        pool.scope(|outer| {
            for _ in 0..4 {
                let leaves = &leaves;
                let executor = pool.executor();
                outer
                    .spawn(move |_| {
                        let mut counted = [0usize; 4];
                        executor.scope(|inner| {
                            for slot in counted.iter_mut() {
                                inner
                                    .spawn(move |_| {
                                        *slot = 1;
                                        leaves.fetch_add(1, Ordering::SeqCst);
                                    })
                                    .unwrap();
                            }
                        });
                        assert_eq!(counted, [1; 4], "the inner scope converged first");
                    })
                    .unwrap();
            }
        });
        assert_eq!(leaves.load(Ordering::SeqCst), 16);
    });
}

#[test]
fn a_scope_on_a_groups_handle_is_its_child_and_is_cancelled_with_it() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let executor = group.executor();
        let drops = Arc::new(AtomicUsize::new(0));
        let ran = AtomicBool::new(false);
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let group_for_cancel = group.clone();
        executor.scope(|scope| {
            let release_rx = &release_rx;
            // Holds the one worker until the group was cancelled.
            scope
                .spawn(move |_| {
                    started_tx.send(()).unwrap();
                    release_rx.lock().unwrap().recv().unwrap();
                })
                .unwrap();
            started_rx.recv().unwrap();
            let ran = &ran;
            let kept = DropCount(drops.clone());
            scope
                .spawn(move |_| {
                    let _kept = kept;
                    ran.store(true, Ordering::SeqCst);
                })
                .unwrap();
            group_for_cancel.cancel();
            assert!(matches!(scope.spawn(|_| {}), Err(SubmitError::Cancelled)));
            release_tx.send(()).unwrap();
        });
        assert!(
            !ran.load(Ordering::SeqCst),
            "the queued task was ended unrun"
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "its captures dropped exactly once"
        );
        group.join().unwrap();
    });
}

#[test]
fn a_groups_join_waits_for_a_scope_made_in_one_of_its_tasks() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let leaves = Arc::new(AtomicUsize::new(0));
        let counted = leaves.clone();
        group
            .spawn(move |executor| {
                let local = [1usize, 2, 3];
                executor.scope(|scope| {
                    for value in &local {
                        let counted = &counted;
                        scope
                            .spawn(move |_| {
                                counted.fetch_add(*value, Ordering::SeqCst);
                            })
                            .unwrap();
                    }
                });
            })
            .unwrap();
        group.join().unwrap();
        assert_eq!(leaves.load(Ordering::SeqCst), 6);
    });
}

#[test]
fn a_scope_made_inside_a_group_task_is_in_that_group() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let probe = group.clone();
        let inside = group
            .submit(move || {
                let executor = Executor::current().expect("runs on a pool thread");
                executor.scope(|scope| {
                    *scope
                        .submit(move || in_group(&probe))
                        .unwrap()
                        .result()
                        .unwrap()
                })
            })
            .unwrap();
        assert!(
            *inside.result().unwrap(),
            "the scope's task runs within the group"
        );
        group.join().unwrap();
    });
}

#[test]
fn spawning_into_a_scope_of_a_shut_down_pool_fails_and_drops_the_work() {
    let pool = pool(1);
    pool.shutdown(true, false);
    let drops = Arc::new(AtomicUsize::new(0));
    let refused = pool.scope(|scope| {
        let kept = DropCount(drops.clone());
        scope.spawn(move |_| drop(kept))
    });
    assert_eq!(refused, Err(SubmitError::Shutdown));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[cfg(feature = "stats")]
#[test]
fn panics_of_scoped_tasks_without_a_future_count_in_the_pools_stats() {
    within(60, || {
        let pool = pool(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                for _ in 0..3 {
                    scope.spawn(|_| panic!("counted")).unwrap();
                }
                scope.spawn_async(async { panic!("counted too") }).unwrap();
            })
        }));
        assert!(caught.is_err());
        assert_eq!(pool.stats().tasks_panicked, 4);
    });
}
