//! Review of work-first: odd corners. A child that shuts the pool down (or drops the owning
//! handle) while it runs in place; thread-local destructors on pool threads that wait for pool
//! work; a child that the parent's *waker* cannot reach; `Executor::current()` in a done
//! callback of an in-place child; `stats()` while in place.
#![cfg(not(feature = "loom"))]

mod common;

use std::cell::RefCell;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{Error, Executor, SubmitError, ThreadPoolExecutor};
use common::pool;
use common::watchdog::within;

const HANG: Duration = Duration::from_secs(30);

#[test]
fn a_child_that_shuts_the_pool_down_in_place_lets_its_parent_finish_and_nothing_hangs() {
    within(60, || {
        for cancel in [false, true] {
            let pool = pool(1);
            let executor = pool.executor();
            let parent = pool
                .submit_async(async move {
                    // Async: only an async child runs in place.
                    let child = executor
                        .submit_async(
                            async move { Executor::current().unwrap().shutdown(true, cancel) },
                        )
                        .unwrap();
                    let first = (&child).await.is_ok();
                    // After the shutdown a submit is refused.
                    let refused = matches!(executor.submit(|| ()), Err(SubmitError::Shutdown));
                    (first, refused)
                })
                .unwrap();
            let outcome = parent.result().copied();
            pool.shutdown(true, false);
            match outcome {
                Ok(v) => assert_eq!(v, (true, true)),
                // A cancelling shutdown may end the parent at an await; it has none left.
                Err(e) => panic!("parent ended with {e:?} (cancel = {cancel})"),
            }
        }
    });
}

#[test]
fn a_child_that_drops_the_owning_pool_in_place_does_not_deadlock() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let owner = Arc::new(Mutex::new(Some(pool)));
        let o = owner.clone();
        let parent = executor
            .submit_async({
                let executor = executor.clone();
                async move {
                    let child = executor
                        .submit(move || drop(o.lock().unwrap().take()))
                        .unwrap();
                    (&child).await.is_ok()
                }
            })
            .unwrap();
        assert!(*parent.result().unwrap());
        assert!(owner.lock().unwrap().is_none());
        // The pool is shut down; its threads exit.
        executor.shutdown(true, false);
    });
}

thread_local! {
    static AT_EXIT: RefCell<Option<AwaitAtExit>> = const { RefCell::new(None) };
}

/// Dropped when a pool thread exits: waits for work of *another* pool, submitted from here.
struct AwaitAtExit {
    other: Executor,
    ran: Arc<AtomicUsize>,
}

impl Drop for AwaitAtExit {
    fn drop(&mut self) {
        let ran = self.ran.clone();
        if let Ok(f) = self.other.submit_async(async move {
            ran.fetch_add(1, Ordering::SeqCst);
        }) {
            let _ = futures::executor::block_on((&f).into_future());
        }
    }
}

#[test]
fn a_thread_local_destructor_of_a_pool_thread_may_await_another_pools_task() {
    within(60, || {
        let other = ThreadPoolExecutor::builder()
            .max_workers(1)
            .build()
            .unwrap();
        let pool = pool(2);
        let ran = Arc::new(AtomicUsize::new(0));
        let executor = pool.executor();
        let other_ex = other.executor();
        let r = ran.clone();
        let parent = pool
            .submit_async(async move {
                let (other_ex, r) = (other_ex.clone(), r.clone());
                // The in-place child installs the thread-local on the parent's thread.
                let child = executor
                    .submit_async(async move {
                        AT_EXIT.with(|slot| {
                            *slot.borrow_mut() = Some(AwaitAtExit {
                                other: other_ex,
                                ran: r,
                            })
                        });
                    })
                    .unwrap();
                (&child).await.unwrap();
            })
            .unwrap();
        parent.result().unwrap();
        // Joining ends the pool's threads: the destructor runs there and waits for `other`.
        pool.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        other.join().unwrap();
    });
}

#[test]
fn a_thread_local_destructor_of_a_pool_thread_submitting_to_its_own_pool_is_refused_cleanly() {
    thread_local! {
        static OWN: RefCell<Option<SubmitsOwn>> = const { RefCell::new(None) };
    }
    struct SubmitsOwn(Executor, mpsc::Sender<bool>);
    impl Drop for SubmitsOwn {
        fn drop(&mut self) {
            // The pool is shutting down: a submit is refused (or, if accepted, must not be
            // run in place on a thread whose pool context is gone).
            let refused = self.0.submit(|| ()).is_err();
            let _ = self.1.send(refused);
        }
    }
    within(60, || {
        let pool = pool(1);
        let (tx, rx) = mpsc::channel();
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let ex = executor.clone();
                let child = executor
                    .submit(move || OWN.with(|slot| *slot.borrow_mut() = Some(SubmitsOwn(ex, tx))))
                    .unwrap();
                (&child).await.unwrap();
            })
            .unwrap();
        parent.result().unwrap();
        pool.join().unwrap();
        assert!(rx.recv_timeout(HANG).unwrap());
    });
}

#[test]
fn executor_current_in_a_done_callback_of_an_in_place_child_submits_to_the_pool() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let later = Arc::new(AtomicUsize::new(0));
        let l = later.clone();
        let parent = pool
            .submit_async(async move {
                let child = executor.submit(|| 1u32).unwrap();
                child.add_done_callback(move |_| {
                    let l = l.clone();
                    Executor::current()
                        .expect("a done callback on a pool thread sees its pool")
                        .spawn(move |_| {
                            l.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                });
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 1);
        pool.join().unwrap();
        assert_eq!(later.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn stats_read_from_inside_nested_in_place_runs_are_consistent_and_settle_at_zero() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let ex = executor.clone();
                let child = executor
                    .submit_async(async move {
                        let ex2 = ex.clone();
                        let grandchild = ex
                            .submit(move || {
                                let s = ex2.stats();
                                (s.tasks_running, s.tasks_outstanding)
                            })
                            .unwrap();
                        *(&grandchild).await.unwrap()
                    })
                    .unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        let (running, outstanding) = *parent.result().unwrap();
        // Three tasks are running (nested on one thread) and outstanding.
        assert_eq!(outstanding, 3);
        assert!((1..=3).contains(&running), "running {running}");
        pool.wait_idle().unwrap();
        let s = pool.stats();
        assert_eq!(
            (s.tasks_running, s.tasks_outstanding, s.tasks_queued),
            (0, 0, 0)
        );
        pool.join().unwrap();
    });
}

#[test]
fn awaiting_a_child_whose_waits_are_dropped_before_it_completes_leaks_no_waiter() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let gate = betterconcurrent::Future::<()>::new();
        let g = gate.clone();
        let (polled_tx, polled_rx) = mpsc::channel::<betterconcurrent::Future<u32>>();
        let parent = pool
            .submit_async(async move {
                let child = executor
                    .submit_async(async move {
                        (&g).await.unwrap();
                        4u32
                    })
                    .unwrap();
                // Poll the wait once (the child runs in place and suspends on the gate), then
                // drop the wait: its waker must be removed.
                {
                    let mut wait = std::pin::pin!(child.yield_until_done());
                    let first = std::future::poll_fn(|cx| {
                        std::task::Poll::Ready(std::future::Future::poll(wait.as_mut(), cx))
                    })
                    .await;
                    assert!(first.is_pending());
                }
                polled_tx.send(child.clone()).unwrap();
                child.waiter_count()
            })
            .unwrap();
        let child = polled_rx.recv_timeout(HANG).unwrap();
        assert_eq!(
            *parent.result().unwrap(),
            0,
            "a dropped wait left its waker behind"
        );
        gate.set_result(()).unwrap();
        assert_eq!(*child.result().unwrap(), 4);
        pool.join().unwrap();
        let _ = Error::Cancelled;
    });
}
