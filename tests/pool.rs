//! The thread pool: submit, map, shutdown, initializers, threads. Mirrors CPython's
//! `test_executor.py`, `test_thread_pool.py`, `test_shutdown.py` and `test_init.py` (each test
//! names the Python test it mirrors). Synchronisation is by channels and barriers, never sleeps.
#![cfg(not(feature = "loom"))]

mod common;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use common::{block_workers, pool};

use betterconcurrent::{
    BuildError, Error, Future, MapOptions, State, SubmitError, ThreadPoolExecutor,
};

// ExecutorTest.test_submit
#[test]
fn submit_runs_the_closure() {
    let pool = pool(2);
    let future = pool.submit(|| 2u64.pow(8)).unwrap();
    assert_eq!(future.result().unwrap(), &256);
}

// ExecutorTest.test_submit_keyword (arguments are captured by the closure)
#[test]
fn submit_with_captured_arguments() {
    let pool = pool(2);
    let (a, b) = (6, 7);
    let future = pool.submit(move || a * b).unwrap();
    assert_eq!(*future.result().unwrap(), 42);
}

// A panicking task: its future holds the panic, the worker survives.
#[test]
fn a_panicking_task_is_caught_and_the_worker_lives_on() {
    let pool = pool(1);
    let failing = pool
        .submit(|| -> i32 { panic!("task failure {}", 7) })
        .unwrap();
    match failing.result() {
        Err(Error::Panicked(message)) => assert_eq!(&*message, "task failure 7"),
        other => panic!("expected a caught panic, got {other:?}"),
    }
    let after = pool
        .submit(|| thread::current().name().map(str::to_owned))
        .unwrap();
    assert!(after.result().unwrap().is_some());
    assert_eq!(pool.thread_count(), 1, "the same worker ran the next task");
}

// ExecutorTest.test_map
#[test]
fn map_returns_results_in_input_order() {
    let pool = pool(4);
    let results: Vec<u64> = pool
        .map(|n: u64| n.pow(2), 0..100)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(results, (0..100u64).map(|n| n * n).collect::<Vec<_>>());
}

// ExecutorTest.test_map with unbounded look-ahead (Python's default)
#[test]
fn map_without_buffersize_submits_everything_at_the_call() {
    let pool = pool(2);
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let items = (0..50).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let map = pool
        .map_with(|n: i32| n + 1, items, MapOptions::default())
        .unwrap();
    assert_eq!(pulled.load(Ordering::SeqCst), 50);
    assert_eq!(map.map(Result::unwrap).sum::<i32>(), (1..=50).sum());
}

// ExecutorTest.test_map_exception
#[test]
fn map_surfaces_a_panic_at_its_position_then_ends() {
    let pool = pool(2);
    let mut results = pool
        .map(
            |n: i32| if n == 3 { panic!("bad item {n}") } else { n },
            0..10,
        )
        .unwrap();
    for expected in 0..3 {
        assert_eq!(results.next().unwrap().unwrap(), expected);
    }
    match results.next() {
        Some(Err(Error::Panicked(message))) => assert_eq!(&*message, "bad item 3"),
        other => panic!("expected the panic at position 3, got {other:?}"),
    }
    assert!(results.next().is_none(), "the iterator ends after an error");
}

// ExecutorTest.test_map_timeout
#[test]
fn map_timeout_is_measured_from_the_call() {
    let pool = pool(1);
    let (release, _blockers) = block_workers(&pool, 1);
    let options = MapOptions {
        timeout: Some(Duration::from_millis(50)),
        buffersize: None,
    };
    let mut results = pool.map_with(|n: i32| n, 0..3, options).unwrap();
    assert!(matches!(results.next(), Some(Err(Error::Timeout))));
    assert!(results.next().is_none());
    drop(results);
    drop(release);
}

// ExecutorTest.test_map_buffersize_on_infinite_iterable
#[test]
fn map_with_buffersize_handles_an_endless_iterator() {
    let pool = pool(2);
    let options = MapOptions {
        timeout: None,
        buffersize: NonZeroUsize::new(4),
    };
    let results: Vec<u64> = pool
        .map_with(|n: u64| n * 3, 0.., options)
        .unwrap()
        .take(20)
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, (0..20u64).map(|n| n * 3).collect::<Vec<_>>());
}

// ExecutorTest.test_map_buffersize_on_empty_iterable
#[test]
fn map_over_nothing_yields_nothing() {
    let pool = pool(1);
    assert_eq!(pool.map(|n: i32| n, std::iter::empty()).unwrap().count(), 0);
}

// ExecutorTest.test_map_buffersize_when_buffer_is_full and CPython issue 131466: the look-ahead
// takes exactly `buffersize` items at the call, and pulls item k + buffersize only after the
// result of item k was taken out of the window.
#[test]
fn map_look_ahead_never_holds_more_than_buffersize() {
    const BUFFER: usize = 3;
    let pool = pool(2);
    let pulled = Arc::new(AtomicUsize::new(0));
    let finished: Arc<Vec<AtomicBool>> =
        Arc::new((0..30).map(|_| AtomicBool::new(false)).collect());
    let violations = Arc::new(AtomicUsize::new(0));
    let items = {
        let pulled = pulled.clone();
        let finished = finished.clone();
        let violations = violations.clone();
        (0..30usize).inspect(move |&k| {
            pulled.fetch_add(1, Ordering::SeqCst);
            if k >= BUFFER && !finished[k - BUFFER].load(Ordering::SeqCst) {
                violations.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let task_finished = finished.clone();
    let options = MapOptions {
        timeout: None,
        buffersize: NonZeroUsize::new(BUFFER),
    };
    let mut results = pool
        .map_with(
            move |k: usize| {
                task_finished[k].store(true, Ordering::SeqCst);
                k
            },
            items,
            options,
        )
        .unwrap();
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        BUFFER,
        "only buffersize at the call"
    );
    assert_eq!(results.next().unwrap().unwrap(), 0);
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        BUFFER + 1,
        "one more per result taken"
    );
    assert_eq!(results.map(Result::unwrap).count(), 29);
    assert_eq!(violations.load(Ordering::SeqCst), 0);
}

// Dropping a map iterator cancels what has not started.
#[test]
fn dropping_a_map_cancels_queued_tasks() {
    let pool = pool(1);
    let (release, _blockers) = block_workers(&pool, 1);
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let results = pool
        .map_with(
            move |_: i32| {
                counter.fetch_add(1, Ordering::SeqCst);
            },
            0..10,
            MapOptions::default(),
        )
        .unwrap();
    drop(results);
    drop(release);
    pool.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

// ShutdownTest.test_run_after_shutdown
#[test]
fn submit_after_shutdown_is_an_error_not_a_panic() {
    let pool = pool(2);
    pool.shutdown(true, false);
    assert_eq!(pool.submit(|| 1).unwrap_err(), SubmitError::Shutdown);
    assert!(matches!(
        pool.map(|n: i32| n, 0..3).unwrap_err(),
        SubmitError::Shutdown
    ));
    let as_error: Error = SubmitError::Shutdown.into();
    assert!(matches!(as_error, Error::Shutdown));
}

// ShutdownTest: shutdown may be called again
#[test]
fn shutdown_twice_is_harmless() {
    let pool = pool(2);
    let future = pool.submit(|| 5).unwrap();
    pool.shutdown(true, false);
    pool.shutdown(true, true);
    assert_eq!(future.result().unwrap(), &5);
}

// ThreadPoolShutdownTest.test_cancel_futures
#[test]
fn shutdown_with_cancel_futures_cancels_queued_tasks() {
    let pool = pool(1);
    let (release, blockers) = block_workers(&pool, 1);
    let queued: Vec<_> = (0..10).map(|n| pool.submit(move || n).unwrap()).collect();
    let releaser = thread::spawn(move || drop(release));
    pool.shutdown(true, true);
    releaser.join().unwrap();
    assert!(blockers[0].result().is_ok(), "the running task finished");
    for future in &queued {
        assert!(future.cancelled(), "queued task was cancelled: {future:?}");
        assert!(matches!(future.result(), Err(Error::Cancelled)));
    }
}

// ThreadPoolShutdownTest.test_cancel_futures_wait_false
#[test]
fn shutdown_cancel_without_wait_returns_at_once() {
    let pool = pool(1);
    let (release, blockers) = block_workers(&pool, 1);
    let queued = pool.submit(|| 1).unwrap();
    pool.shutdown(false, true);
    assert!(queued.cancelled());
    assert!(!blockers[0].done(), "the running task is still running");
    drop(release);
    blockers[0].result().unwrap();
}

// ShutdownTest.test_shutdown_no_wait: queued work still runs after shutdown(wait = false)
#[test]
fn shutdown_without_wait_still_runs_queued_work() {
    let pool = pool(1);
    let (release, _blockers) = block_workers(&pool, 1);
    let queued: Vec<_> = (0..5)
        .map(|n| pool.submit(move || n * 2).unwrap())
        .collect();
    pool.shutdown(false, false);
    drop(release);
    let values: Vec<i32> = queued.iter().map(|f| *f.result().unwrap()).collect();
    assert_eq!(values, [0, 2, 4, 6, 8]);
}

// ShutdownTest.test_context_manager_shutdown / test_del_shutdown: dropping the pool waits for
// queued work.
#[test]
fn dropping_the_pool_runs_queued_work_first() {
    let pool = pool(2);
    let counter = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..50)
        .map(|_| {
            let counter = counter.clone();
            pool.submit(move || counter.fetch_add(1, Ordering::SeqCst))
                .unwrap()
        })
        .collect();
    drop(pool);
    assert_eq!(counter.load(Ordering::SeqCst), 50);
    assert!(futures.iter().all(Future::done));
}

/// Counts live worker threads: each thread's initializer stores a guard in a thread-local, and
/// the guard's destructor (run when the thread exits, before `join` returns) counts it down.
struct LiveThreads(Arc<AtomicUsize>);

struct ThreadGuard(Arc<AtomicUsize>);

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

std::thread_local! {
    static GUARD: std::cell::RefCell<Option<ThreadGuard>> = const { std::cell::RefCell::new(None) };
}

impl LiveThreads {
    fn new() -> Self {
        Self(Arc::new(AtomicUsize::new(0)))
    }

    fn pool(&self, workers: usize) -> ThreadPoolExecutor {
        let live = self.0.clone();
        ThreadPoolExecutor::builder()
            .max_workers(workers)
            .initializer(move || -> Result<(), std::io::Error> {
                live.fetch_add(1, Ordering::SeqCst);
                GUARD.with(|slot| *slot.borrow_mut() = Some(ThreadGuard(live.clone())));
                Ok(())
            })
            .build()
            .unwrap()
    }

    fn alive(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

// ShutdownTest.test_threads_terminate
#[test]
fn no_thread_is_left_behind_after_the_pool_is_dropped() {
    let live = LiveThreads::new();
    let pool = live.pool(3);
    let (release, _blockers) = block_workers(&pool, 3);
    assert_eq!(live.alive(), 3);
    drop(release);
    drop(pool);
    assert_eq!(live.alive(), 0);
}

// ShutdownTest.test_threads_terminate (explicit shutdown)
#[test]
fn shutdown_with_wait_joins_every_thread() {
    let live = LiveThreads::new();
    let pool = live.pool(2);
    let (release, _blockers) = block_workers(&pool, 2);
    drop(release);
    pool.shutdown(true, false);
    assert_eq!(live.alive(), 0);
}

// ThreadPoolShutdownTest.test_thread_names_assigned
#[test]
fn threads_are_named_with_the_prefix() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .thread_name_prefix("SpecialPool")
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(3));
    let names: Vec<_> = (0..3)
        .map(|_| {
            let barrier = barrier.clone();
            pool.submit(move || {
                barrier.wait();
                thread::current().name().unwrap().to_owned()
            })
            .unwrap()
        })
        .collect();
    let mut names: Vec<String> = names.iter().map(|f| f.result().unwrap().clone()).collect();
    names.sort();
    assert_eq!(names, ["SpecialPool_0", "SpecialPool_1", "SpecialPool_2"]);
}

// ThreadPoolShutdownTest.test_thread_names_default
#[test]
fn default_thread_names_follow_python() {
    let pool = pool(1);
    let name = pool
        .submit(|| thread::current().name().unwrap().to_owned())
        .unwrap();
    let name = name.result().unwrap();
    assert!(
        name.starts_with("ThreadPoolExecutor-") && name.ends_with("_0"),
        "{name}"
    );
}

// A NUL byte in the prefix is a typed error, not a panic at thread start.
#[test]
fn a_nul_in_the_thread_name_is_refused() {
    let error = ThreadPoolExecutor::builder()
        .thread_name_prefix("bad\0name")
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::NulInThreadName);
}

// ExecutorTest.test_max_workers_negative
#[test]
fn zero_max_workers_is_an_error() {
    let error = ThreadPoolExecutor::builder()
        .max_workers(0)
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::ZeroWorkers);
    assert!(error.to_string().contains("greater than 0"));
}

// ThreadPoolExecutorTest.test_default_workers
#[test]
fn default_max_workers_is_cpus_plus_four_capped_at_32() {
    let cpus = thread::available_parallelism().unwrap().get();
    assert_eq!(ThreadPoolExecutor::new().max_workers(), (cpus + 4).min(32));
}

// ThreadPoolExecutorTest.test_saturation
#[test]
fn blocked_tasks_start_threads_up_to_max_workers() {
    let pool = pool(4);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let futures: Vec<_> = (0..15 * 4)
        .map(|_| {
            let release_rx = release_rx.clone();
            pool.submit(move || {
                let _ = release_rx.lock().unwrap().recv();
            })
            .unwrap()
        })
        .collect();
    assert_eq!(pool.thread_count(), 4);
    drop(release_tx);
    for future in &futures {
        future.result().unwrap();
    }
    assert_eq!(pool.thread_count(), 4);
}

// ThreadPoolExecutorTest.test_idle_thread_reuse
#[test]
fn sequential_submits_reuse_the_idle_thread() {
    let pool = pool(8);
    for _ in 0..20 {
        pool.submit(|| 6 * 7).unwrap().result().unwrap();
    }
    assert_eq!(pool.thread_count(), 1);
}

// Threads start lazily: none before the first submit.
#[test]
fn no_thread_starts_before_work_arrives() {
    let pool = pool(4);
    assert_eq!(pool.thread_count(), 0);
    pool.submit(|| ()).unwrap().result().unwrap();
    assert_eq!(pool.thread_count(), 1);
}

// InitializerMixin.test_initializer
#[test]
fn the_initializer_runs_once_per_thread_before_tasks() {
    let initialized = Arc::new(AtomicUsize::new(0));
    let count = initialized.clone();
    std::thread_local!(static READY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(move || -> Result<(), std::io::Error> {
            count.fetch_add(1, Ordering::SeqCst);
            READY.with(|ready| ready.set(true));
            Ok(())
        })
        .build()
        .unwrap();
    let (release, blockers) = block_workers(&pool, 2);
    drop(release);
    for blocker in blockers {
        blocker.result().unwrap();
    }
    let checks: Vec<_> = (0..10)
        .map(|_| pool.submit(|| READY.with(std::cell::Cell::get)).unwrap())
        .collect();
    assert!(checks.iter().all(|f| *f.result().unwrap()));
    assert_eq!(initialized.load(Ordering::SeqCst), 2);
}

/// Submit ten tasks to a pool whose initializer fails, and check every one ends with the
/// broken-pool error: a submit after the pool broke is refused, one before it fails when queued.
fn assert_broken(pool: &ThreadPoolExecutor, reason: &str) {
    for n in 0..10 {
        let outcome = pool
            .submit(move || n)
            .map_err(Error::from)
            .and_then(|future| future.result().copied());
        match outcome {
            Err(Error::BrokenExecutor(message)) => assert!(message.contains(reason), "{message}"),
            other => panic!("expected a broken-pool error, got {other:?}"),
        }
    }
    match pool.submit(|| 1) {
        Err(SubmitError::Broken(message)) => assert!(message.contains(reason)),
        other => panic!("expected a broken-pool submit error, got {other:?}"),
    }
}

// FailingInitializerMixin.test_initializer (an initializer that returns an error)
#[test]
fn a_failing_initializer_breaks_the_pool() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| Err(std::io::Error::other("no database")))
        .build()
        .unwrap();
    assert_broken(&pool, "no database");
}

// FailingInitializerMixin.test_initializer (an initializer that panics)
#[test]
fn a_panicking_initializer_breaks_the_pool_and_threads_exit() {
    let live = Arc::new(());
    let token = live.clone();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(move || -> Result<(), std::io::Error> {
            let _held_while_initializing = token.clone();
            panic!("initializer exploded")
        })
        .build()
        .unwrap();
    assert_broken(&pool, "initializer exploded");
    drop(pool);
    assert_eq!(
        Arc::strong_count(&live),
        1,
        "threads exited and dropped the initializer"
    );
}

// Tasks submitted from inside a task go to that worker's deque and still run everywhere.
#[test]
fn tasks_submitted_from_a_task_run() {
    let pool = Arc::new(pool(3));
    let inner_pool = pool.clone();
    let outer = pool
        .submit(move || {
            (0..20)
                .map(|n| inner_pool.submit(move || n).unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap();
    let inner: Vec<_> = outer.result().unwrap().clone();
    let sum: i32 = inner.iter().map(|f| *f.result().unwrap()).sum();
    assert_eq!(sum, (0..20).sum());
}

// A task can shut its own pool down (and drop the last handle) without joining itself.
#[test]
fn shutdown_from_inside_a_task_does_not_deadlock() {
    let pool = Arc::new(pool(2));
    let handle = pool.clone();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let future = pool
        .submit(move || {
            handle.shutdown(true, false);
            let refused = handle.submit(|| ()).is_err();
            drop(handle);
            dropped_tx.send(()).unwrap();
            refused
        })
        .unwrap();
    drop(pool);
    dropped_rx.recv().unwrap();
    assert!(*future.result().unwrap());
}

// ExecutorTest.test_shutdown_race_issue12456: submits racing shutdown either run or are refused.
#[test]
fn submits_racing_shutdown_are_run_or_refused_never_lost() {
    for _ in 0..20 {
        let pool = Arc::new(pool(2));
        let barrier = Arc::new(Barrier::new(3));
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    barrier.wait();
                    (0..100)
                        .filter_map(|n| pool.submit(move || n).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        barrier.wait();
        pool.shutdown(true, false);
        for submitter in submitters {
            for future in submitter.join().unwrap() {
                assert!(future.result_timeout(Duration::from_secs(30)).is_ok());
            }
        }
    }
}

// A cancelled future's task never runs.
#[test]
fn a_future_cancelled_while_queued_never_runs() {
    let pool = pool(1);
    let (release, _blockers) = block_workers(&pool, 1);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let future = pool
        .submit(move || flag.store(true, Ordering::SeqCst))
        .unwrap();
    assert!(future.cancel());
    drop(release);
    pool.shutdown(true, false);
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(future.state(), State::CancelledAndNotified);
}

// A running task cannot be cancelled.
#[test]
fn a_running_task_cannot_be_cancelled() {
    let pool = pool(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let future = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            "finished"
        })
        .unwrap();
    started_rx.recv().unwrap();
    assert!(future.running());
    assert!(!future.cancel());
    release_tx.send(()).unwrap();
    assert_eq!(*future.result().unwrap(), "finished");
}

// Callbacks added to a pool future run on completion, on the worker.
#[test]
fn done_callbacks_of_pool_futures_run() {
    let pool = pool(1);
    let (tx, rx) = mpsc::channel();
    let (release, _blockers) = block_workers(&pool, 1);
    let future = pool.submit(|| 10).unwrap();
    future.add_done_callback(move |f: &Future<i32>| tx.send(*f.result().unwrap()).unwrap());
    drop(release);
    assert_eq!(rx.recv().unwrap(), 10);
}

// Many small tasks from several threads all complete.
#[test]
fn many_tasks_from_many_threads_all_complete() {
    let pool = Arc::new(pool(4));
    let submitters: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            thread::spawn(move || {
                (0..2_000u64)
                    .map(|n| pool.submit(move || n + t).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut total = 0;
    for submitter in submitters {
        for future in submitter.join().unwrap() {
            total += future.result().unwrap();
        }
    }
    let expected: u64 = (0..4u64)
        .map(|t| (0..2_000u64).map(|n| n + t).sum::<u64>())
        .sum();
    assert_eq!(total, expected);
}

/// A value whose destructor panics: user code that unwinds outside the task's closure.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("destructor failure");
        }
    }
}

// A task value whose destructor panics on the worker (the last owner) does not kill the worker.
#[test]
fn a_panicking_destructor_of_a_task_value_does_not_kill_the_worker() {
    let pool = pool(1);
    for _ in 0..3 {
        let (dropped_tx, dropped_rx) = mpsc::channel::<()>();
        let future = pool
            .submit(move || {
                dropped_rx.recv().unwrap();
                PanicsOnDrop
            })
            .unwrap();
        // Our handle goes first, so the worker's is the last and drops the value there.
        drop(future);
        dropped_tx.send(()).unwrap();
    }
    let after = pool.submit(|| 5).unwrap();
    assert_eq!(after.result_timeout(Duration::from_secs(30)).unwrap(), &5);
    assert_eq!(pool.thread_count(), 1);
}

// A panic whose payload panics when dropped: the future still holds the panic.
#[test]
fn a_panic_payload_that_panics_on_drop_is_contained() {
    let pool = pool(1);
    let future = pool
        .submit(|| -> i32 { std::panic::panic_any(PanicsOnDrop) })
        .unwrap();
    assert!(matches!(
        future.result_timeout(Duration::from_secs(30)),
        Err(Error::Panicked(_))
    ));
    assert_eq!(pool.submit(|| 1).unwrap().result().unwrap(), &1);
}

// The user finishing a running task's future first: the task's own value is dropped, even if its
// destructor panics, and the worker goes on.
#[test]
fn a_refused_task_value_is_dropped_without_killing_the_worker() {
    let pool = pool(1);
    let (future_tx, future_rx) = mpsc::channel::<Future<Option<PanicsOnDrop>>>();
    let future = pool
        .submit(move || {
            let own = future_rx.recv().unwrap();
            own.set_result(None).unwrap();
            Some(PanicsOnDrop)
        })
        .unwrap();
    future_tx.send(future.clone()).unwrap();
    assert!(
        future.result().unwrap().is_none(),
        "the user's value stands"
    );
    assert_eq!(pool.submit(|| 2).unwrap().result().unwrap(), &2);
}

// ExecutorTest.test_shutdown_race_issue12456, strict form: every submit that was accepted has run
// by the time shutdown(wait = true) returns.
#[test]
fn shutdown_with_wait_returns_after_every_accepted_task_ran() {
    for _ in 0..50 {
        let pool = Arc::new(pool(2));
        let ran = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(3));
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                let ran = ran.clone();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    barrier.wait();
                    (0..20)
                        .filter(|_| {
                            let ran = ran.clone();
                            pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
                                .is_ok()
                        })
                        .count()
                })
            })
            .collect();
        barrier.wait();
        pool.shutdown(true, false);
        let ran_at_shutdown = ran.load(Ordering::SeqCst);
        let accepted: usize = submitters.into_iter().map(|s| s.join().unwrap()).sum();
        assert_eq!(ran_at_shutdown, accepted);
    }
}

/// A task cannot replace or remove the blocking hook its pool thread installed (which keeps its
/// blocking waits from deadlocking the pool): the installation is refused.
#[test]
fn a_task_cannot_replace_its_pool_threads_blocking_hook() {
    use betterconcurrent::executor::{install_blocking_hook, BlockingHook, HookInstalled};
    use std::any::Any;
    use std::rc::Rc;
    use std::time::Instant;

    struct ParkOnly;
    impl BlockingHook for ParkOnly {
        fn begin_run_here(&self, _scheduler: &dyn Any) -> bool {
            false
        }
        fn end_run_here(&self) {}
        fn park(&self, _deadline: Option<Instant>) -> bool {
            true
        }
    }

    let pool = pool(1);
    let refused = pool
        .submit(|| install_blocking_hook(Rc::new(ParkOnly)).err())
        .unwrap();
    assert_eq!(*refused.result().unwrap(), Some(HookInstalled));
    // Outside a pool thread there is no hook: installing one works, and dropping it removes it.
    let installed = install_blocking_hook(Rc::new(ParkOnly)).unwrap();
    assert_eq!(
        install_blocking_hook(Rc::new(ParkOnly)).err(),
        Some(HookInstalled)
    );
    drop(installed);
    drop(install_blocking_hook(Rc::new(ParkOnly)).unwrap());
}
