//! Review of scopes: adversarial endings. Every captured value must be dropped exactly once and
//! before `scope` returns (a value dropped after it returned is a soundness bug: it may borrow
//! what is gone), no future may stay pending, nothing may deadlock: futures cancelled while
//! queued, `shutdown(cancel_futures)` with queued and suspended scoped tasks, a parent group
//! cancelled mid-scope, the pool's owner dropped (from another thread, from a scoped task),
//! suspended async tasks whose wakers are all dropped, wakers kept and woken after the scope,
//! panicking destructors, a body that panics while tasks are blocked, and a broken pool.
#![cfg(not(feature = "loom"))]

mod common;
use common::ledger::{Ledger, Tracked};
use common::watchdog::within;
use common::{pool, yield_now};

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};

use betterconcurrent::{Error, Executor, Future, SubmitError, TaskGroup, ThreadPoolExecutor};

/// A captured value whose destructor panics (and counts in the ledger first).
struct PanicsOnDrop(#[allow(dead_code)] Tracked);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a captured value's destructor panicked");
        }
    }
}

/// Occupy the scope's pool thread with a scoped task until `release` is sent to (or dropped);
/// returns once it runs.
fn hold_a_worker<'scope, 'env>(
    scope: &'scope betterconcurrent::Scope<'scope, 'env>,
) -> mpsc::Sender<()> {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    scope
        .spawn(move |_| {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        })
        .unwrap();
    started_rx.recv().unwrap();
    release_tx
}

#[test]
fn futures_cancelled_while_queued_drop_their_work_once_and_before_the_scope_returns() {
    within(60, || {
        let pool = pool(1);
        let ledger = Ledger::new();
        let ran = AtomicUsize::new(0);
        let (closure, body) = pool.scope(|scope| {
            let release = hold_a_worker(scope);
            let ran = &ran;
            let kept = ledger.make();
            let closure = scope
                .submit(move || {
                    drop(kept);
                    ran.fetch_add(1, Ordering::SeqCst);
                    1
                })
                .unwrap();
            let kept = ledger.make();
            let body = scope
                .submit_async(async move {
                    drop(kept);
                    ran.fetch_add(1, Ordering::SeqCst);
                    2
                })
                .unwrap();
            let kept = PanicsOnDrop(ledger.make());
            let with_panicking_capture = scope
                .submit(move || {
                    drop(kept);
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            assert!(closure.cancel() && body.cancel() && with_panicking_capture.cancel());
            drop(release);
            (closure, body)
        });
        ledger.returned();
        assert_eq!(ran.into_inner(), 0, "cancelled tasks never ran");
        assert!(matches!(closure.result(), Err(Error::Cancelled)));
        assert!(matches!(body.result(), Err(Error::Cancelled)));
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn a_future_finished_by_the_user_while_queued_drops_its_scoped_work_before_the_scope_returns() {
    within(60, || {
        let pool = pool(1);
        let ledger = Ledger::new();
        let ran = AtomicBool::new(false);
        let (closure, body) = pool.scope(|scope| {
            let release = hold_a_worker(scope);
            let ran = &ran;
            let kept = ledger.make();
            let closure = scope
                .submit(move || {
                    drop(kept);
                    ran.store(true, Ordering::SeqCst);
                    1u8
                })
                .unwrap();
            let kept = ledger.make();
            let body = scope
                .submit_async(async move {
                    drop(kept);
                    ran.store(true, Ordering::SeqCst);
                    2u8
                })
                .unwrap();
            closure.set_result(10).unwrap();
            body.set_result(20).unwrap();
            drop(release);
            (closure, body)
        });
        ledger.returned();
        assert!(!ran.into_inner());
        assert_eq!(*closure.result().unwrap(), 10);
        assert_eq!(*body.result().unwrap(), 20);
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn run_here_from_the_scope_body_and_from_a_helper_thread_runs_the_scoped_closure_once() {
    within(60, || {
        let pool = pool(1);
        let ledger = Ledger::new();
        let runs = AtomicUsize::new(0);
        pool.scope(|scope| {
            let release = hold_a_worker(scope);
            let runs = &runs;
            let futures: Vec<Future<()>> = (0..4)
                .map(|_| {
                    let kept = ledger.make();
                    scope
                        .submit(move || {
                            drop(kept);
                            runs.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap()
                })
                .collect();
            assert!(futures[0].run_here());
            std::thread::scope(|threads| {
                for future in &futures[1..] {
                    threads.spawn(move || future.run_here());
                }
            });
            assert!(futures.iter().all(|f| !f.run_here()));
            drop(release);
        });
        ledger.returned();
        assert_eq!(runs.into_inner(), 4);
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn shutdown_cancel_futures_ends_queued_and_suspended_scoped_tasks_before_the_scope_returns() {
    within(60, || {
        let pool = pool(1);
        let ledger = Ledger::new();
        let never = Future::<()>::new();
        let after_await = AtomicUsize::new(0);
        let refused_in_task = Mutex::new(None);
        let (suspended_future, queued_closure, queued_body) = pool.scope(|scope| {
            let (never, after_await) = (&never, &after_await);
            let (about_to_await_tx, about_to_await_rx) = mpsc::channel::<()>();
            let kept = ledger.make();
            let tx = about_to_await_tx.clone();
            scope
                .spawn_async(async move {
                    let _kept = kept;
                    tx.send(()).unwrap();
                    let _ = never.await;
                    after_await.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let kept = ledger.make();
            let tx = about_to_await_tx;
            let suspended_future = scope
                .submit_async(async move {
                    let _kept = kept;
                    tx.send(()).unwrap();
                    let _ = never.await;
                    after_await.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            about_to_await_rx.recv().unwrap();
            about_to_await_rx.recv().unwrap();
            // One worker: it runs this task only after the two above suspended.
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let refused_in_task = &refused_in_task;
            scope
                .spawn(move |scope| {
                    started_tx.send(()).unwrap();
                    let _ = release_rx.recv();
                    *refused_in_task.lock().unwrap() = Some(scope.spawn(|_| unreachable!()));
                })
                .unwrap();
            started_rx.recv().unwrap();
            let kept = ledger.make();
            scope
                .spawn(move |_| {
                    drop(kept);
                    after_await.fetch_add(100, Ordering::SeqCst);
                })
                .unwrap();
            let kept = ledger.make();
            let queued_closure = scope
                .submit(move || {
                    drop(kept);
                    after_await.fetch_add(100, Ordering::SeqCst);
                })
                .unwrap();
            let kept = ledger.make();
            let queued_body = scope
                .submit_async(async move {
                    drop(kept);
                    after_await.fetch_add(100, Ordering::SeqCst);
                })
                .unwrap();
            pool.shutdown(false, true);
            release_tx.send(()).unwrap();
            (suspended_future, queued_closure, queued_body)
        });
        ledger.returned();
        assert_eq!(
            after_await.into_inner(),
            0,
            "nothing ran after the shutdown"
        );
        assert!(matches!(
            refused_in_task.into_inner().unwrap(),
            Some(Err(SubmitError::Shutdown))
        ));
        for future in [&suspended_future, &queued_closure, &queued_body] {
            assert!(future.cancelled(), "{:?}", future.state());
        }
        assert_eq!(
            never.waiter_count(),
            0,
            "the aborted bodies forgot their wakers"
        );
        never.set_result(()).unwrap();
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn a_parent_group_cancelled_mid_scope_ends_queued_and_suspended_tasks_before_it_returns() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let ledger = Ledger::new();
        let never = Future::<()>::new();
        let ran_after_cancel = AtomicUsize::new(0);
        let refused = Mutex::new(None);
        let kept_waker: Arc<Mutex<Option<Waker>>> = Arc::default();
        let suspended = group.executor().scope(|scope| {
            let (never, ran_after_cancel) = (&never, &ran_after_cancel);
            let (suspending_tx, suspending_rx) = mpsc::channel::<()>();
            let kept = ledger.make();
            let tx = suspending_tx.clone();
            let stash = kept_waker.clone();
            scope
                .spawn_async(async move {
                    let _kept = kept;
                    // Keep our waker past the scope: it will be woken after the scope
                    // returned, when this body is long gone.
                    std::future::poll_fn(|cx| {
                        *stash.lock().unwrap() = Some(cx.waker().clone());
                        Poll::Ready(())
                    })
                    .await;
                    tx.send(()).unwrap();
                    let _ = never.await;
                    ran_after_cancel.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let kept = ledger.make();
            let tx = suspending_tx;
            let suspended = scope
                .submit_async(async move {
                    let _kept = kept;
                    tx.send(()).unwrap();
                    let _ = never.await;
                    ran_after_cancel.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            suspending_rx.recv().unwrap();
            suspending_rx.recv().unwrap();
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let refused = &refused;
            scope
                .spawn(move |scope| {
                    started_tx.send(()).unwrap();
                    let _ = release_rx.recv();
                    *refused.lock().unwrap() = Some(scope.spawn(|_| unreachable!()));
                })
                .unwrap();
            started_rx.recv().unwrap();
            for _ in 0..3 {
                let kept = ledger.make();
                scope
                    .spawn(move |_| {
                        drop(kept);
                        ran_after_cancel.fetch_add(100, Ordering::SeqCst);
                    })
                    .unwrap();
                let kept = PanicsOnDrop(ledger.make());
                scope
                    .spawn(move |_| {
                        drop(kept);
                        ran_after_cancel.fetch_add(100, Ordering::SeqCst);
                    })
                    .unwrap();
            }
            group.cancel();
            assert!(matches!(scope.spawn(|_| {}), Err(SubmitError::Cancelled)));
            release_tx.send(()).unwrap();
            suspended
        });
        ledger.returned();
        assert_eq!(ran_after_cancel.into_inner(), 0);
        assert!(matches!(
            refused.into_inner().unwrap(),
            Some(Err(SubmitError::Cancelled))
        ));
        assert!(suspended.cancelled(), "{:?}", suspended.state());
        // The stashed waker outlived the task's body: waking it now must do nothing.
        let waker = kept_waker.lock().unwrap().take().unwrap();
        waker.wake_by_ref();
        waker.wake();
        never.set_result(()).unwrap();
        ledger.assert_all_dropped_in_time();
        group.join().unwrap();
        assert_eq!(*pool.submit(|| 1).unwrap().result().unwrap(), 1);
    });
}

#[test]
fn suspended_scoped_async_tasks_whose_wakers_are_all_dropped_end_before_the_scope_returns() {
    within(60, || {
        let pool = pool(2);
        let ledger = Ledger::new();
        let borrowed = AtomicUsize::new(0);
        pool.scope(|scope| {
            let borrowed = &borrowed;
            for _ in 0..10 {
                let kept = ledger.make();
                scope
                    .spawn_async(async move {
                        let _kept = kept;
                        borrowed.fetch_add(1, Ordering::SeqCst);
                        std::future::pending::<()>().await;
                    })
                    .unwrap();
                let kept = ledger.make();
                drop(
                    scope
                        .submit_async(async move {
                            let _kept = kept;
                            borrowed.fetch_add(1, Ordering::SeqCst);
                            std::future::pending::<()>().await;
                        })
                        .unwrap(),
                );
            }
            // Its future is held by the body until the task suspended, then dropped: the task
            // is freed by that drop, here, on the scope's own thread.
            let kept = ledger.make();
            let (polled_tx, polled_rx) = mpsc::channel::<()>();
            let held = scope
                .submit_async(async move {
                    let _kept = kept;
                    polled_tx.send(()).unwrap();
                    std::future::pending::<()>().await;
                })
                .unwrap();
            polled_rx.recv().unwrap();
            let clone = held.clone();
            drop(held);
            drop(clone);
        });
        ledger.returned();
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn a_waker_kept_after_the_scope_and_woken_later_touches_nothing_of_the_task() {
    within(60, || {
        let pool = pool(2);
        let ledger = Ledger::new();
        let stash: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let polls = AtomicUsize::new(0);
        pool.scope(|scope| {
            let polls = &polls;
            for _ in 0..8 {
                let stash = stash.clone();
                let kept = ledger.make();
                let (stored_tx, stored_rx) = mpsc::channel::<()>();
                scope
                    .spawn_async(async move {
                        let _kept = kept;
                        let mut first = true;
                        std::future::poll_fn(|cx| {
                            polls.fetch_add(1, Ordering::SeqCst);
                            if std::mem::take(&mut first) {
                                stash.lock().unwrap().push(cx.waker().clone());
                                stored_tx.send(()).unwrap();
                                Poll::Pending
                            } else {
                                Poll::Ready(())
                            }
                        })
                        .await;
                        yield_now().await;
                    })
                    .unwrap();
                stored_rx.recv().unwrap();
            }
            // Wake each once by reference, keep the originals.
            for waker in stash.lock().unwrap().iter() {
                waker.wake_by_ref();
            }
        });
        ledger.returned();
        assert_eq!(polls.load(Ordering::SeqCst), 16);
        for waker in stash.lock().unwrap().drain(..) {
            waker.wake_by_ref();
            waker.wake();
        }
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn the_pools_owner_dropped_from_another_thread_while_a_scope_waits() {
    within(60, || {
        let owner = pool(2);
        let executor = owner.executor();
        let ledger = Ledger::new();
        let ran = AtomicUsize::new(0);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let dropper = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            drop(owner);
        });
        let refused = Mutex::new(None);
        executor.scope(|scope| {
            let (ran, refused) = (&ran, &refused);
            scope
                .spawn(move |scope| {
                    // Wait (without sleeping) until the drop closed the pool.
                    let current = Executor::current().unwrap();
                    while current.submit(|| ()).is_ok() {
                        std::thread::yield_now();
                    }
                    *refused.lock().unwrap() = Some(scope.spawn(|_| unreachable!()));
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            for _ in 0..20 {
                let kept = ledger.make();
                scope
                    .spawn(move |_| {
                        drop(kept);
                        ran.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
            }
            go_tx.send(()).unwrap();
        });
        ledger.returned();
        dropper.join().unwrap();
        assert_eq!(ran.into_inner(), 21, "queued work still ran (no cancel)");
        assert!(matches!(
            refused.into_inner().unwrap(),
            Some(Err(SubmitError::Shutdown))
        ));
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn the_pools_owner_dropped_inside_a_scoped_task_and_shutdown_cancel_from_another() {
    within(60, || {
        let owner = pool(1);
        let executor = owner.executor();
        let ledger = Ledger::new();
        let ran = AtomicUsize::new(0);
        executor.scope(|scope| {
            let ran = &ran;
            let release = hold_a_worker(scope);
            let kept = ledger.make();
            scope
                .spawn(move |scope| {
                    drop(kept);
                    // `shutdown(wait = true)` from a pool thread does not wait.
                    drop(owner);
                    ran.fetch_add(1, Ordering::SeqCst);
                    // The scope still takes work until a shutdown closes the pool: the drop did.
                    assert!(matches!(scope.spawn(|_| {}), Err(SubmitError::Shutdown)));
                })
                .unwrap();
            for _ in 0..5 {
                let kept = ledger.make();
                scope
                    .spawn(move |scope| {
                        drop(kept);
                        ran.fetch_add(1, Ordering::SeqCst);
                        // Cancels whatever is still queued, from a pool thread.
                        scope.executor().shutdown(false, true);
                    })
                    .unwrap();
            }
            drop(release);
        });
        ledger.returned();
        assert!(ran.into_inner() >= 2);
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn panicking_destructors_of_captures_in_every_ending_are_contained_or_reraised() {
    within(60, || {
        let pool = pool(2);
        let ledger = Ledger::new();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                // Ran: dropped inside the call, re-raised by the scope.
                let kept = PanicsOnDrop(ledger.make());
                scope.spawn(move |_| drop(kept)).unwrap();
                // With a future: the future ends panicked.
                let kept = PanicsOnDrop(ledger.make());
                let future = scope.submit(move || drop(kept)).unwrap();
                assert!(matches!(future.result(), Err(Error::Panicked(_))));
                // Freed while suspended: reported, the scope still converges.
                let kept = PanicsOnDrop(ledger.make());
                scope
                    .spawn_async(async move {
                        let _kept = kept;
                        std::future::pending::<()>().await;
                    })
                    .unwrap();
            })
        }));
        ledger.returned();
        let payload = caught.expect_err("the spawned task's destructor panic is re-raised");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"a captured value's destructor panicked")
        );
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn a_scope_body_that_panics_while_its_tasks_are_blocked_on_it_waits_then_reraises() {
    within(60, || {
        let pool = pool(2);
        let ledger = Ledger::new();
        let (tx, rx) = mpsc::channel::<()>();
        let rx = Mutex::new(rx);
        let woke = AtomicUsize::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                // Owned by the body: dropped while it unwinds, which unblocks the tasks.
                let tx = tx;
                let (rx, woke) = (&rx, &woke);
                let (started_tx, started_rx) = mpsc::channel::<()>();
                for i in 0..6 {
                    let kept = ledger.make();
                    let started_tx = started_tx.clone();
                    scope
                        .spawn(move |_| {
                            let _kept = kept;
                            let _ = started_tx.send(());
                            assert!(rx.lock().unwrap().recv().is_err());
                            woke.fetch_add(1, Ordering::SeqCst);
                            if i == 3 {
                                panic!("a task panicked too");
                            }
                        })
                        .unwrap();
                }
                started_rx.recv().unwrap();
                let _still_mine = &tx;
                panic!("the body panicked");
            })
        }));
        ledger.returned();
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the body panicked"));
        assert_eq!(woke.into_inner(), 6);
        ledger.assert_all_dropped_in_time();
    });
}

#[test]
fn a_pool_broken_by_its_initializer_mid_scope_fails_the_queued_scoped_tasks_in_time() {
    within(60, || {
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = starts.clone();
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .initializer(move || {
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    Ok(())
                } else {
                    Err("the second thread refuses to start")
                }
            })
            .build()
            .unwrap();
        let ledger = Ledger::new();
        let ran = AtomicUsize::new(0);
        let futures = pool.scope(|scope| {
            let ran = &ran;
            let release = hold_a_worker(scope);
            let mut futures = Vec::new();
            for _ in 0..5 {
                let kept = ledger.make();
                futures.push(
                    scope
                        .submit(move || {
                            drop(kept);
                            ran.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap(),
                );
            }
            // The second thread's start broke the pool: these fail (wait here, so the
            // blocked worker cannot run them first).
            for future in &futures {
                assert!(matches!(future.result(), Err(Error::BrokenExecutor(_))));
            }
            drop(release);
            futures
        });
        ledger.returned();
        assert_eq!(ran.into_inner(), 0);
        assert!(futures.iter().all(Future::done));
        ledger.assert_all_dropped_in_time();
    });
}

/// A panic payload whose own destructor panics.
struct PayloadPanicsOnDrop;

impl Drop for PayloadPanicsOnDrop {
    fn drop(&mut self) {
        panic!("a panic payload's destructor panicked");
    }
}

#[test]
fn a_body_panic_over_a_task_panic_whose_payload_panics_on_drop_does_not_abort() {
    within(60, || {
        let pool = pool(1);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                scope
                    .spawn(|_| std::panic::panic_any(PayloadPanicsOnDrop))
                    .unwrap();
                // One worker, first in first out: the panic was recorded once this ran.
                scope.submit(|| ()).unwrap().result().unwrap();
                panic!("the body's own panic");
            })
        }));
        let payload = caught.unwrap_err();
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the body's own panic")
        );
    });
}

#[test]
fn a_scope_on_another_pool_from_inside_a_one_worker_pools_task() {
    within(60, || {
        let outer = pool(1);
        let inner = Arc::new(pool(2));
        let in_task = inner.clone();
        let future = outer
            .submit(move || {
                let data = vec![3u64; 100];
                let sum = std::sync::atomic::AtomicU64::new(0);
                in_task.scope(|scope| {
                    for chunk in data.chunks(10) {
                        let sum = &sum;
                        scope
                            .spawn(move |_| {
                                sum.fetch_add(chunk.iter().sum(), Ordering::SeqCst);
                            })
                            .unwrap();
                    }
                });
                sum.into_inner()
            })
            .unwrap();
        assert_eq!(*future.result().unwrap(), 300);
    });
}

/// Runs a scope of its own (on the pool it was given) when dropped.
struct ScopeOnDrop(
    Option<Executor>,
    Arc<AtomicUsize>,
    #[allow(dead_code)] Tracked,
);

impl Drop for ScopeOnDrop {
    fn drop(&mut self) {
        let executor = self.0.take().unwrap();
        let local = vec![1usize, 2, 3];
        let ran = &self.1;
        executor.scope(|scope| {
            for value in &local {
                // Refused in a cancelled group; run otherwise.
                let _ = scope.spawn(move |_| {
                    ran.fetch_add(*value, Ordering::SeqCst);
                });
            }
        });
    }
}

#[test]
fn a_scope_run_by_a_destructor_while_the_pool_ends_a_scoped_task_unrun_or_frees_it() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let ledger = Ledger::new();
        let ran = Arc::new(AtomicUsize::new(0));
        group.executor().scope(|scope| {
            let release = hold_a_worker(scope);
            // Queued, then ended unrun by the group's cancel: its destructor runs a scope on
            // the worker that discards it (inside the cancelled group: its spawns are refused).
            let guard = ScopeOnDrop(Some(pool.executor()), ran.clone(), ledger.make());
            scope.spawn(move |_| drop(guard)).unwrap();
            group.cancel();
            drop(release);
        });
        ledger.returned();
        ledger.assert_all_dropped_in_time();
        let ledger = Ledger::new();
        // Suspended with no waker: freed on the worker after its poll, running the
        // destructor's scope there (not in any cancelled group: its tasks run).
        let after_free = Arc::new(AtomicUsize::new(0));
        pool.scope(|scope| {
            let guard = ScopeOnDrop(Some(pool.executor()), after_free.clone(), ledger.make());
            scope
                .spawn_async(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                })
                .unwrap();
        });
        ledger.returned();
        ledger.assert_all_dropped_in_time();
        assert_eq!(after_free.load(Ordering::SeqCst), 6);
    });
}
