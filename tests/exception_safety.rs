//! The ten exception-safety cases of DESIGN.md section 6, which the Python original left open.
//! Each test carries its case number in its name; races are forced into both orders with
//! barriers, channels, or by waiting for the observable condition (a waker registered), never
//! with sleeps.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use common::pool;

use betterconcurrent::{Error, Future, State, ThreadPoolExecutor};

const LONG: Duration = Duration::from_secs(60);

/// Wait until `n` wakers are registered on `future`: the awaiting tasks have suspended.
fn until_waiters(future: &Future<u32>, n: usize) {
    while future.waiter_count() < n {
        thread::yield_now();
    }
}

/// An async task on `pool` that awaits `awaited` and returns its value plus one.
fn awaiting_task(pool: &ThreadPoolExecutor, awaited: &Future<u32>) -> Future<u32> {
    let awaited = awaited.clone();
    pool.submit_async(async move { *(&awaited).await.unwrap() + 1 })
        .unwrap()
}

// Case 1, order A: the awaited future completes before the task first polls it.
#[test]
fn case_01_completion_before_registration_still_resumes() {
    let pool = pool(1);
    let awaited = Future::new();
    awaited.set_result(1).unwrap();
    assert_eq!(*awaiting_task(&pool, &awaited).result().unwrap(), 2);
}

// Case 1, order B: the task has suspended (its waker is registered) before the completion.
#[test]
fn case_01_completion_after_suspension_resumes() {
    let pool = pool(1);
    let awaited = Future::new();
    let task = awaiting_task(&pool, &awaited);
    until_waiters(&awaited, 1);
    awaited.set_result(10).unwrap();
    assert_eq!(*task.result().unwrap(), 11);
}

// Case 1, both orders raced many times from a barrier.
#[test]
fn case_01_completion_racing_the_await_never_loses_the_wake() {
    let pool = pool(2);
    for round in 0..500 {
        let awaited = Future::new();
        let barrier = Arc::new(Barrier::new(2));
        let gate = barrier.clone();
        let completer_side = awaited.clone();
        let task = {
            let awaited = awaited.clone();
            pool.submit_async(async move {
                gate.wait();
                *(&awaited).await.unwrap()
            })
            .unwrap()
        };
        barrier.wait();
        completer_side.set_result(round).unwrap();
        assert_eq!(*task.result_timeout(LONG).unwrap(), round);
    }
}

// Case 2: several tasks wait on the same future; all of them resume.
#[test]
fn case_02_every_task_waiting_on_one_future_resumes() {
    let pool = pool(1);
    let awaited = Future::new();
    let tasks: Vec<_> = (0..5).map(|_| awaiting_task(&pool, &awaited)).collect();
    until_waiters(&awaited, 5);
    awaited.set_result(41).unwrap();
    for task in &tasks {
        assert_eq!(*task.result().unwrap(), 42);
    }
    pool.join().unwrap();
}

// Case 3, before suspending: the panic is in the future, the worker lives, join returns.
#[test]
fn case_03_task_panicking_before_it_suspends() {
    let pool = pool(1);
    let failing = pool
        .submit_async(async { panic!("before any await") })
        .unwrap();
    let _: &() = match failing.result() {
        Err(Error::Panicked(message)) => {
            assert_eq!(&*message, "before any await");
            &()
        }
        other => panic!("expected the panic, got {other:?}"),
    };
    assert_eq!(*pool.submit(|| 7).unwrap().result().unwrap(), 7);
    pool.join().unwrap();
}

// Case 3, after suspending: the task resumes, then panics.
#[test]
fn case_03_task_panicking_after_it_resumed() {
    let pool = pool(1);
    let awaited = Future::<u32>::new();
    let failing = {
        let awaited = awaited.clone();
        pool.submit_async(async move {
            awaited.yield_until_done().await;
            panic!("after the await")
        })
        .unwrap()
    };
    until_waiters(&awaited, 1);
    awaited.set_result(0).unwrap();
    let _: () = match failing.result() {
        Err(Error::Panicked(message)) => assert_eq!(&*message, "after the await"),
        other => panic!("expected the panic, got {other:?}"),
    };
    pool.join().unwrap();
}

// Case 3, a panicking subtask awaited by its parent: the parent sees the error as a value.
#[test]
fn case_03_parent_sees_a_subtask_panic_as_an_error() {
    let pool = pool(1);
    let executor = pool.executor();
    let parent = pool
        .submit_async(async move {
            let child = executor
                .submit(|| -> u32 { panic!("child failure") })
                .unwrap();
            matches!((&child).await, Err(Error::Panicked(_)))
        })
        .unwrap();
    assert!(*parent.result().unwrap());
    pool.join().unwrap();
}

// Case 4: a done callback panics on the completion path: the future stays complete, the other
// callbacks run, waiting tasks and threads wake, join returns.
#[test]
fn case_04_panicking_callback_on_the_completion_path() {
    let pool = pool(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let subject = pool
        .submit(move || {
            release_rx.recv().unwrap();
            5u32
        })
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    subject.add_done_callback(|_| panic!("callback failure"));
    let counter = ran.clone();
    subject.add_done_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let waiter = awaiting_task(&pool, &subject);
    let blocked = {
        let subject = subject.clone();
        thread::spawn(move || *subject.result().unwrap())
    };
    release_tx.send(()).unwrap();
    assert_eq!(blocked.join().unwrap(), 5);
    assert_eq!(*waiter.result().unwrap(), 6);
    pool.join().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(subject.state(), State::Finished);
}

// Case 5: shutdown(cancel_futures = true) while tasks are suspended on a queued subtask and on a
// future that will never complete: every future ends cancelled and nothing waits forever.
#[test]
fn case_05_cancel_futures_cancels_suspended_tasks() {
    let pool = pool(1);
    let executor = pool.executor();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    let blocker = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        })
        .unwrap();
    started_rx.recv().unwrap();
    let never = Future::<u32>::new();
    let on_never = awaiting_task(&pool, &never);
    let on_subtask = pool
        .submit_async(async move {
            let child = executor.submit(|| 1u32).unwrap();
            *(&child).await.unwrap()
        })
        .unwrap();
    // Let both suspend: release the blocker only after they are queued behind it, then wait
    // until the one on `never` has registered its waker.
    release_tx.send(()).unwrap();
    blocker.result().unwrap();
    until_waiters(&never, 1);
    pool.shutdown(true, true);
    assert!(matches!(
        on_never.result_timeout(LONG),
        Err(Error::Cancelled)
    ));
    assert!(on_never.cancelled());
    assert!(on_subtask.done());
    assert_eq!(
        never.waiter_count(),
        0,
        "the cancelled task dropped its wait"
    );
}

// Case 5, queued work cancelled while a task awaits it: the awaiting task wakes and is cancelled.
#[test]
fn case_05_task_awaiting_cancelled_work_ends_done() {
    let pool = pool(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    let executor = pool.executor();
    let parent = pool
        .submit_async(async move {
            let child = executor.submit(|| 3u32).unwrap();
            let blocker = executor
                .submit(move || {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                })
                .unwrap();
            let _ = (&child).await;
            let _ = (&blocker).await;
            1u32
        })
        .unwrap();
    started_rx.recv().unwrap();
    let releaser = thread::spawn(move || release_tx.send(()).unwrap());
    pool.shutdown(true, true);
    releaser.join().unwrap();
    assert!(parent.done());
}

// Case 6: shutdown(wait = false) while a task is suspended; when what it awaits completes, the
// continuation still runs on a worker that stayed for it.
#[test]
fn case_06_suspended_task_continues_after_shutdown_without_wait() {
    let pool = pool(1);
    let awaited = Future::new();
    let task = awaiting_task(&pool, &awaited);
    until_waiters(&awaited, 1);
    pool.shutdown(false, false);
    assert!(pool.submit(|| 0).is_err(), "no new work after shutdown");
    awaited.set_result(99).unwrap();
    assert_eq!(*task.result_timeout(LONG).unwrap(), 100);
    pool.shutdown(true, false);
}

// Case 7: join from two threads while work unfolds: both return.
#[test]
fn case_07_join_from_two_threads() {
    let pool = Arc::new(pool(2));
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        let done = done.clone();
        pool.submit(move || {
            done.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let barrier = Arc::new(Barrier::new(2));
    let joiners: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                pool.join()
            })
        })
        .collect();
    for joiner in joiners {
        joiner.join().unwrap().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 50);
}

// Case 7: join concurrently with shutdown(cancel_futures): both return, nothing hangs, and every
// future is done.
#[test]
fn case_07_join_racing_shutdown() {
    for _ in 0..20 {
        let pool = Arc::new(pool(2));
        let futures: Vec<_> = (0..100u32)
            .map(|n| pool.submit(move || n).unwrap())
            .collect();
        let barrier = Arc::new(Barrier::new(2));
        let joiner = {
            let pool = pool.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                pool.join()
            })
        };
        barrier.wait();
        pool.shutdown(true, true);
        joiner.join().unwrap().unwrap();
        assert!(futures.iter().all(Future::done));
    }
}

// Case 7: join from inside one of the pool's own tasks is refused, not a deadlock.
#[test]
fn case_07_join_from_a_pool_task_is_refused() {
    let pool = pool(1);
    let executor = pool.executor();
    let inside = pool.submit(move || executor.join()).unwrap();
    assert!(matches!(
        inside.result().unwrap(),
        Err(Error::WouldDeadlock)
    ));
    pool.join().unwrap();
}

// Case 8: the pool is dropped while work (closures and async continuations) is queued: the
// work runs and every future ends done.
#[test]
fn case_08_dropping_the_pool_finishes_queued_work() {
    let pool = pool(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let first = pool.submit(move || release_rx.recv().unwrap()).unwrap();
    let closures: Vec<_> = (0..20u32)
        .map(|n| pool.submit(move || n).unwrap())
        .collect();
    // The continuation's subtask is queued before the drop (after it, submits are refused).
    let continuation = pool
        .submit_async({
            let child = pool.submit(|| 2u32).unwrap();
            async move { *(&child).await.unwrap() * 2 }
        })
        .unwrap();
    let releaser = thread::spawn(move || release_tx.send(()).unwrap());
    drop(pool);
    releaser.join().unwrap();
    first.result().unwrap();
    assert!(closures.iter().all(|f| f.state() == State::Finished));
    assert_eq!(*continuation.result().unwrap(), 4);
}

// Case 9: an initializer fails: the pool is broken, queued and later work gets the broken-pool
// error, async work included, and the threads exit.
#[test]
fn case_09_failing_initializer_breaks_the_pool() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| Err("cannot open the database"))
        .build()
        .unwrap();
    let closure = pool.submit(|| 1).unwrap();
    assert!(
        matches!(closure.result(), Err(Error::BrokenExecutor(reason)) if reason.contains("database"))
    );
    // The first thread may have broken the pool before this submit (then it is refused) or
    // after it (then the queued task fails): either way the broken-pool error, never a hang.
    let asynchronous = pool
        .submit_async(async { 2 })
        .map_err(Error::from)
        .and_then(|future| future.result().copied());
    assert!(
        matches!(asynchronous, Err(Error::BrokenExecutor(reason)) if reason.contains("database"))
    );
    assert!(pool.submit(|| 3).is_err());
    pool.join().unwrap();
}

// Case 9: an initializer panics: the same.
#[test]
fn case_09_panicking_initializer_breaks_the_pool() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| -> Result<(), &'static str> { panic!("initializer bug") })
        .build()
        .unwrap();
    let future = pool.submit(|| 1).unwrap();
    assert!(
        matches!(future.result(), Err(Error::BrokenExecutor(reason)) if reason.contains("initializer bug"))
    );
    drop(pool);
}

// Case 10, order A: cancel wins (before the worker claims the task): the task never runs.
#[test]
fn case_10_cancel_before_claim_never_runs() {
    let pool = pool(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    pool.submit(move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    })
    .unwrap();
    started_rx.recv().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let victim = pool
        .submit(move || flag.store(true, Ordering::SeqCst))
        .unwrap();
    assert!(victim.cancel());
    release_tx.send(()).unwrap();
    pool.join().unwrap();
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(victim.state(), State::CancelledAndNotified);
}

// Case 10, order B: the worker claims first: cancel fails and the task runs to the end.
#[test]
fn case_10_claim_before_cancel_runs() {
    let pool = pool(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let victim = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            "ran"
        })
        .unwrap();
    started_rx.recv().unwrap();
    assert!(!victim.cancel());
    release_tx.send(()).unwrap();
    assert_eq!(*victim.result().unwrap(), "ran");
}

// Case 10, raced: exactly one of cancel and the worker's claim wins, every time.
#[test]
fn case_10_cancel_racing_the_claim_exactly_one_wins() {
    let pool = pool(2);
    for _ in 0..500 {
        let ran = Arc::new(Mutex::new(false));
        let flag = ran.clone();
        let barrier = Arc::new(Barrier::new(2));
        let gate = barrier.clone();
        let victim = pool
            .submit(move || {
                *flag.lock().unwrap() = true;
            })
            .unwrap();
        let canceller = {
            let victim = victim.clone();
            thread::spawn(move || {
                gate.wait();
                victim.cancel()
            })
        };
        barrier.wait();
        let cancelled = canceller.join().unwrap();
        let _ = victim.result_timeout(LONG);
        assert!(victim.done());
        assert_eq!(cancelled, victim.cancelled());
        assert_eq!(
            *ran.lock().unwrap(),
            !cancelled,
            "a cancelled task never runs"
        );
    }
}
