//! Programs a user would write that once hung: a task waiting for its child by a means the pool
//! cannot see, shutdown racing the workers, the last pool handle dropped from the pool's own
//! cancellation path, one pool blocking in another's lifecycle, zero-timeout polls, and a
//! panicking destructor of an async body (absurd pool sizes are in `pool_size.rs`). Each test bounds its waits,
//! so a regression fails instead of hanging the suite.
#![cfg(not(feature = "loom"))]

mod common;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use betterconcurrent::{
    block_until_done, Error, Executor, Future, LocalExecutor, SubmitError, ThreadPoolExecutor,
};

/// Long enough never to flake on a loaded machine; a hang shows up as a failure after it.
const PATIENCE: Duration = Duration::from_secs(30);

/// Run `work` on its own thread; `None` if it did not return within `PATIENCE` (the thread is
/// then left behind, and the test fails instead of hanging).
fn within<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result.recv_timeout(PATIENCE).ok()
}

/// A pool of `workers` threads, each started and then idle (asleep) when this returns.
fn started_idle_pool(workers: usize) -> ThreadPoolExecutor {
    let pool = common::pool(workers);
    let (release, blockers) = common::block_workers(&pool, workers);
    drop(release);
    assert!(block_until_done(&blockers, Some(PATIENCE)));
    pool.wait_idle().unwrap();
    pool
}

/// Run `parent` as a closure task on a 4-worker pool whose workers are all started and idle;
/// it submits a child and waits for it by means the pool cannot see, then reports through the
/// sender. Returns the report, or fails (leaving the stuck pool behind) if none came.
fn parent_waiting_by_its_own_means<T: Send + 'static>(
    parent: impl FnOnce(&Executor, mpsc::Sender<T>) + Send + 'static,
) -> T {
    let (report, reported) = mpsc::channel();
    let pool = started_idle_pool(4);
    let executor = pool.executor();
    let _parent = pool.submit(move || parent(&executor, report)).unwrap();
    match reported.recv_timeout(PATIENCE + PATIENCE) {
        Ok(seen) => seen,
        Err(_) => {
            std::mem::forget(pool);
            panic!("the parent never saw its child run");
        }
    }
}

#[test]
fn a_closure_waiting_on_a_std_channel_for_its_child_sees_the_child_run() {
    let seen = parent_waiting_by_its_own_means(|executor, report| {
        let (tx, rx) = mpsc::channel();
        let _child = executor.submit(move || tx.send(7u32).unwrap()).unwrap();
        report.send(rx.recv_timeout(PATIENCE)).unwrap();
    });
    assert_eq!(seen, Ok(7));
}

#[test]
fn a_closure_spinning_on_a_flag_its_spawned_child_sets_sees_the_child_run() {
    let seen = parent_waiting_by_its_own_means(|executor, report| {
        let flag = Arc::new(AtomicBool::new(false));
        let for_child = flag.clone();
        executor
            .spawn(move |_| for_child.store(true, Ordering::Release))
            .unwrap();
        let give_up = Instant::now() + PATIENCE;
        while !flag.load(Ordering::Acquire) && Instant::now() < give_up {
            std::hint::spin_loop();
        }
        report.send(flag.load(Ordering::Acquire)).unwrap();
    });
    assert!(seen);
}

#[test]
fn a_closure_meeting_its_child_at_a_barrier_sees_the_child_run() {
    parent_waiting_by_its_own_means(|executor, report| {
        let barrier = Arc::new(Barrier::new(2));
        let for_child = barrier.clone();
        let _child = executor.submit(move || for_child.wait()).unwrap();
        barrier.wait();
        report.send(()).unwrap();
    });
}

#[test]
fn a_closure_waiting_on_a_condvar_its_child_signals_sees_the_child_run() {
    let seen = parent_waiting_by_its_own_means(|executor, report| {
        let signal = Arc::new((Mutex::new(false), Condvar::new()));
        let for_child = signal.clone();
        let _child = executor
            .submit(move || {
                *for_child.0.lock().unwrap() = true;
                for_child.1.notify_one();
            })
            .unwrap();
        let (set, _) = signal
            .1
            .wait_timeout_while(signal.0.lock().unwrap(), PATIENCE, |set| !*set)
            .unwrap();
        report.send(*set).unwrap();
    });
    assert!(seen);
}

#[test]
fn a_closure_awaiting_its_child_in_a_foreign_block_on_sees_the_child_run() {
    let seen = parent_waiting_by_its_own_means(|executor, report| {
        let child = executor.submit(|| 5u32).unwrap();
        let via_futures = *futures::executor::block_on((&child).into_future()).unwrap();
        let second = executor.submit(|| 6u32).unwrap();
        let via_local_executor = *LocalExecutor::<2>::new().block_on(&second).unwrap();
        report.send((via_futures, via_local_executor)).unwrap();
    });
    assert_eq!(seen, (5, 6));
}

/// A done callback is blocking code too, whichever kind of task completed the future: here an
/// async task's, run on the worker that polled the body to its end.
#[test]
fn a_done_callback_of_an_async_task_waiting_for_its_child_sees_the_child_run() {
    let pool = started_idle_pool(4);
    let executor = pool.executor();
    let (report, reported) = mpsc::channel();
    let go = Future::<()>::new();
    let task = {
        let go = go.clone();
        pool.submit_async(async move {
            let _ = (&go).await;
            1u32
        })
        .unwrap()
    };
    task.add_done_callback(move |_| {
        let (tx, rx) = mpsc::channel();
        let _child = executor.submit(move || tx.send(7u32).unwrap()).unwrap();
        report.send(rx.recv_timeout(PATIENCE)).unwrap();
    });
    go.set_result(()).unwrap();
    let seen = reported.recv_timeout(PATIENCE + PATIENCE);
    if seen.is_err() {
        std::mem::forget(pool);
    }
    assert_eq!(seen.unwrap(), Ok(7));
}

/// Spin until `flag` is set or `PATIENCE` has passed; whether it was set.
fn spin_until_set(flag: &AtomicBool) -> bool {
    let give_up = Instant::now() + PATIENCE;
    while !flag.load(Ordering::Acquire) && Instant::now() < give_up {
        std::thread::yield_now();
    }
    flag.load(Ordering::Acquire)
}

/// An async body's last submit sits in its worker's LIFO slot when the body returns `Ready`;
/// the task's own done callback, run next on that worker, waits for it by spinning. Entering
/// the callback must make the slot's task stealable.
#[test]
fn a_done_callback_waiting_for_what_its_async_body_submitted_last_sees_it_run() {
    let pool = started_idle_pool(2);
    let executor = pool.executor();
    let flag = Arc::new(AtomicBool::new(false));
    let go = Future::<()>::new();
    let task = {
        let (go, flag) = (go.clone(), flag.clone());
        pool.submit_async(async move {
            let _ = (&go).await;
            let _last = executor
                .submit(move || flag.store(true, Ordering::Release))
                .unwrap();
        })
        .unwrap()
    };
    let (report, reported) = mpsc::channel();
    task.add_done_callback(move |_| report.send(spin_until_set(&flag)).unwrap());
    go.set_result(()).unwrap();
    assert_eq!(reported.recv_timeout(PATIENCE + PATIENCE), Ok(true));
}

/// The same with a closure the body's blocking `result()` runs in place: it waits, by spinning,
/// for the task the body submitted after it (which the LIFO slot holds).
#[test]
fn a_closure_run_in_place_waiting_for_what_the_async_body_submitted_last_sees_it_run() {
    let pool = started_idle_pool(3);
    let executor = pool.executor();
    let flag = Arc::new(AtomicBool::new(false));
    let task = pool
        .submit_async(async move {
            let waits = {
                let flag = flag.clone();
                executor.submit(move || spin_until_set(&flag)).unwrap()
            };
            let _last = executor
                .submit(move || flag.store(true, Ordering::Release))
                .unwrap();
            *waits.result().unwrap()
        })
        .unwrap();
    let seen = task.result_timeout(PATIENCE + PATIENCE).copied();
    if seen.is_err() {
        std::mem::forget(pool);
    }
    assert!(matches!(seen, Ok(true)));
}

/// The race of issue 12 (defect 2): a graceful shutdown, then, while workers are still
/// polling, a cancelling one. A worker that took a task from a queue just before the drain
/// used to poll it anyway, after the wake meant to cancel it, and leave it suspended forever.
#[test]
fn cancelling_shutdown_after_a_graceful_one_ends_every_suspended_task() {
    for round in 0..100 {
        let pool = common::pool(64);
        let polled = Arc::new(AtomicUsize::new(0));
        let futures: Vec<Future<()>> = (0..40_000)
            .map(|_| {
                let polled = polled.clone();
                pool.submit_async(async move {
                    let never = Future::<()>::new();
                    polled.fetch_add(1, Ordering::Relaxed);
                    let _ = (&never).await;
                })
                .unwrap()
            })
            .collect();
        pool.shutdown(false, false);
        let give_up = Instant::now() + PATIENCE;
        while polled.load(Ordering::Relaxed) < 10_000 && Instant::now() < give_up {
            std::thread::yield_now();
        }
        pool.shutdown(false, true);
        let all_done = block_until_done(&futures, Some(PATIENCE));
        let pending = futures.iter().filter(|future| !future.done()).count();
        if !all_done {
            std::mem::forget(pool);
            panic!("round {round}: {pending} futures never ended");
        }
        assert!(futures
            .iter()
            .all(|future| matches!(future.try_result(), Some(Err(Error::Cancelled)))));
        assert!(
            within(move || drop(pool)).is_some(),
            "round {round}: drop hung"
        );
    }
}

/// Counts its drops.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// `shutdown(cancel_futures = true)` with async tasks suspended (on futures nothing completes),
/// running (inside a poll) and queued: every future ends cancelled, every body is dropped
/// exactly once, and the pool's drop returns.
#[test]
fn a_cancelling_shutdown_ends_suspended_running_and_queued_async_tasks_once_each() {
    let pool = common::pool(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicUsize::new(0));
    let mut futures = Vec::new();
    for _ in 0..4 {
        let (held, polled) = (DropCount(drops.clone()), polled.clone());
        futures.push(
            pool.submit_async(async move {
                let _held = held;
                let never = Future::<()>::new();
                polled.fetch_add(1, Ordering::SeqCst);
                let _ = (&never).await;
            })
            .unwrap(),
        );
    }
    let give_up = Instant::now() + PATIENCE;
    while polled.load(Ordering::SeqCst) < 4 && Instant::now() < give_up {
        std::thread::yield_now();
    }
    let in_poll = Arc::new(Barrier::new(2));
    let (release, released) = mpsc::channel::<()>();
    {
        let (held, in_poll) = (DropCount(drops.clone()), in_poll.clone());
        let released = Mutex::new(released);
        futures.push(
            pool.submit_async(async move {
                let _held = held;
                in_poll.wait();
                let _ = released.lock().unwrap().recv_timeout(PATIENCE);
                std::future::pending::<()>().await;
            })
            .unwrap(),
        );
    }
    in_poll.wait();
    for _ in 0..4 {
        let held = DropCount(drops.clone());
        futures.push(
            pool.submit_async(async move {
                let _held = held;
            })
            .unwrap(),
        );
    }
    pool.shutdown(false, true);
    drop(release);
    let all_done = block_until_done(&futures, Some(PATIENCE));
    if !all_done {
        std::mem::forget(pool);
        panic!("a task's future never ended");
    }
    assert!(futures
        .iter()
        .all(|future| matches!(future.try_result(), Some(Err(Error::Cancelled)))));
    assert!(within(move || drop(pool)).is_some(), "drop hung");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        9,
        "each body dropped exactly once"
    );
}

#[test]
fn a_refused_submit_dropping_the_last_pool_handle_does_not_deadlock() {
    let refused = within(|| {
        let pool = common::pool(1);
        let executor = pool.executor();
        executor.shutdown(false, false);
        executor.submit(move || drop(pool)).map(|_| ())
    });
    assert_eq!(refused, Some(Err(SubmitError::Shutdown)));
}

/// Owns the last handle of a pool; dropping it drops the pool, then says so.
struct OwnsPool {
    pool: Option<ThreadPoolExecutor>,
    dropped: mpsc::Sender<()>,
}

impl Drop for OwnsPool {
    fn drop(&mut self) {
        drop(self.pool.take());
        let _ = self.dropped.send(());
    }
}

#[test]
fn a_cancelling_shutdown_dropping_a_queued_closure_that_owns_the_pool_does_not_deadlock() {
    let pool = common::pool(1);
    let executor = pool.executor();
    let (release, blockers) = common::block_workers(&pool, 1);
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let owner = OwnsPool {
        pool: Some(pool),
        dropped: dropped_tx,
    };
    let queued = executor
        .submit(move || {
            let _owner = &owner;
        })
        .unwrap();
    let shutdown = {
        let executor = executor.clone();
        std::thread::spawn(move || executor.shutdown(true, true))
    };
    // The drain dropped the queued closure, and with it the pool, without waiting for itself.
    assert_eq!(dropped_rx.recv_timeout(PATIENCE), Ok(()));
    assert!(matches!(queued.try_result(), Some(Err(Error::Cancelled))));
    drop(release);
    assert!(within(move || shutdown.join().unwrap()).is_some());
    assert!(block_until_done(&blockers, Some(PATIENCE)));
}

/// Pool B's only worker runs `wait_on_a` (which waits for pool A: drops it, joins it, ...),
/// while A's task waits for a B task queued behind that very wait: B must compensate for the
/// thread blocked on A as for any blocking wait, or the two pools deadlock.
fn another_pools_wait_is_compensated(wait_on_a: impl FnOnce(ThreadPoolExecutor) + Send + 'static) {
    let pool_a = common::pool(1);
    let pool_b = common::pool(1);
    let (hand_over, handed) = mpsc::channel::<Future<u32>>();
    let waits_on_b = pool_a
        .submit(move || *handed.recv().unwrap().result().unwrap())
        .unwrap();
    let started = Arc::new(Barrier::new(2));
    let waiter = {
        let started = started.clone();
        pool_b
            .submit(move || {
                started.wait();
                wait_on_a(pool_a);
            })
            .unwrap()
    };
    started.wait();
    hand_over.send(pool_b.submit(|| 5u32).unwrap()).unwrap();
    let finished = waiter.result_timeout(PATIENCE).is_ok();
    if !finished {
        std::mem::forget(pool_b);
    }
    assert!(finished, "pool B deadlocked waiting for pool A");
    assert!(matches!(waits_on_b.try_result(), Some(Ok(5))));
}

#[test]
fn a_pool_thread_blocked_in_another_pools_drop_is_compensated() {
    another_pools_wait_is_compensated(drop);
}

#[test]
fn a_pool_thread_waiting_for_another_pool_to_converge_is_compensated() {
    another_pools_wait_is_compensated(|pool_a| {
        pool_a.wait_idle().unwrap();
        pool_a.join().unwrap();
    });
}

#[test]
fn zero_timeout_polls_on_a_pool_thread_start_no_spare_threads() {
    let pool = common::pool(1);
    let timeouts = pool
        .submit(|| {
            let never = Future::<u32>::new();
            (0..2_000)
                .filter(|_| matches!(never.result_timeout(Duration::ZERO), Err(Error::Timeout)))
                .count()
        })
        .unwrap();
    assert!(matches!(timeouts.result(), Ok(2_000)));
    assert_eq!(pool.stats().compensating_threads_started, 0);
}

/// A body whose value is ready at once, but whose destructor panics.
struct PanicsWhenDropped;

impl std::future::Future for PanicsWhenDropped {
    type Output = u32;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        std::task::Poll::Ready(9)
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the body's destructor panicked");
    }
}

/// One rule for both kinds of task: a panic while dropping what the task holds (a closure's
/// captures drop inside its call) ends it `Panicked`, and the worker lives on.
#[test]
fn a_panicking_destructor_ends_an_async_task_panicked_as_it_does_a_closure() {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            panic!("the closure's capture panicked");
        }
    }
    let pool = common::pool(1);
    let guard = Guard;
    let closure = pool
        .submit(move || {
            let _guard = &guard;
            9u32
        })
        .unwrap();
    let async_body = pool.submit_async(PanicsWhenDropped).unwrap();
    assert!(matches!(closure.result(), Err(Error::Panicked(_))));
    assert!(
        matches!(async_body.result(), Err(Error::Panicked(message)) if &*message == "the body's destructor panicked")
    );
    assert_eq!(*pool.submit(|| 1u32).unwrap().result().unwrap(), 1);
}
