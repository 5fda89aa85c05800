//! Third dump review, the `on_stuck` hook doing things a user's hook might: dumping the pool
//! again, waiting for the pool's timed waits and for a cycle member's `result_timeout`,
//! submitting work and waiting for it, breaking the cycle and shutting the pool down, and
//! dropping the pool's last owner from inside the hook. None of it may deadlock the watcher or
//! the pool, and the hook is not called again for the same state.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{Dump, Error, Executor, Future, SubmitError, ThreadPoolExecutor};
use common::dump::{cycle, ids, rotated_to_min, AbortOnDrop};
use common::watchdog::within;

const REPORTED_WITHIN: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(1500);

/// The hook's way to the pool: set after `build`, cleared before the test ends (a handle kept
/// in the hook would keep the pool alive, as the builder's docs warn).
type Handle = Arc<Mutex<Option<Executor>>>;

#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// What a hook saw and did, sent to the test.
#[derive(Debug)]
struct Seen {
    given: Dump,
    again: Dump,
    join: Result<(), Error>,
    idle: Result<(), Error>,
    member: Result<u32, Error>,
}

#[test]
fn a_hook_that_dumps_and_makes_timed_waits_sees_the_same_deadlock() {
    within(30, || {
        let handle: Handle = Arc::default();
        let members: Arc<Mutex<Vec<Future<u32>>>> = Arc::default();
        let (tx, rx) = mpsc::channel::<Seen>();
        let tx = Mutex::new(tx);
        let (in_hook, in_members) = (handle.clone(), members.clone());
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .on_stuck(move |dump| {
                    let executor = in_hook.lock().unwrap().clone().expect("handle set");
                    let member = in_members.lock().unwrap()[0].clone();
                    let seen = Seen {
                        given: dump.clone(),
                        again: executor.dump(),
                        join: executor.join_timeout(Duration::from_millis(50)),
                        idle: executor.wait_idle_timeout(Duration::from_millis(50)),
                        member: member.result_timeout(Duration::from_millis(50)).copied(),
                    };
                    let _ = tx.lock().unwrap().send(seen);
                })
                .build()
                .unwrap(),
        );
        *handle.lock().unwrap() = Some(pool.executor());
        let ring = cycle(&pool, 3);
        *members.lock().unwrap() = ring.clone();
        let seen = rx.recv_timeout(REPORTED_WITHIN).expect("reported");
        let expected = [rotated_to_min(ids(&ring))];
        assert_eq!(seen.given.cycles(), expected, "{}", seen.given);
        assert_eq!(seen.again.cycles(), expected, "{}", seen.again);
        assert!(seen.again.is_stuck(), "{}", seen.again);
        assert!(matches!(seen.join, Err(Error::Stuck(_))), "{:?}", seen.join);
        assert!(matches!(seen.idle, Err(Error::Stuck(_))), "{:?}", seen.idle);
        assert!(
            matches!(seen.member, Err(Error::Stuck(_))),
            "{:?}",
            seen.member
        );
        // The hook's own waits changed nothing: not reported again.
        assert!(rx.recv_timeout(QUIET).is_err(), "reported twice");
        // join_timeout from the hook must not have shut the pool (it timed out).
        assert_eq!(*pool.submit(|| 3).unwrap().result().unwrap(), 3);
        *handle.lock().unwrap() = None;
        assert!(ring[0].abort());
        for task in &ring {
            assert!(task.result().is_err());
        }
    });
}

#[test]
fn a_hook_that_submits_work_and_waits_for_it_is_not_called_again_for_the_same_deadlock() {
    within(30, || {
        let handle: Handle = Arc::default();
        let (tx, rx) = mpsc::channel::<(usize, u64)>();
        let tx = Mutex::new(tx);
        let in_hook = handle.clone();
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .on_stuck(move |dump| {
                    let executor = in_hook.lock().unwrap().clone().expect("handle set");
                    // A closure and an async task, waited for from the watcher thread.
                    let closure = executor.submit(|| 20u64).unwrap();
                    let asynchronous = executor.submit_async(async { 22u64 }).unwrap();
                    let sum = *closure.result().unwrap() + *asynchronous.result().unwrap();
                    let _ = tx.lock().unwrap().send((dump.cycles().len(), sum));
                })
                .build()
                .unwrap(),
        );
        *handle.lock().unwrap() = Some(pool.executor());
        let ring = cycle(&pool, 2);
        assert_eq!(rx.recv_timeout(REPORTED_WITHIN), Ok((1, 42)));
        assert!(
            rx.recv_timeout(QUIET).is_err(),
            "the hook's own work made the same deadlock a new episode"
        );
        *handle.lock().unwrap() = None;
        assert!(ring[0].abort());
    });
}

/// The hook breaks the deadlock and shuts the pool down with `cancel_futures`: every task ends
/// cancelled, later submits fail, and the watcher (which ran the shutdown) ends.
#[cfg(target_os = "linux")]
#[test]
fn a_hook_that_shuts_the_pool_down_ends_every_task_and_the_watcher() {
    within(30, || {
        let handle: Handle = Arc::default();
        let (tx, rx) = mpsc::channel::<()>();
        let tx = Mutex::new(tx);
        let in_hook = handle.clone();
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .thread_name_prefix("r3shut")
            .on_stuck(move |_| {
                let executor = in_hook.lock().unwrap().take().expect("handle set");
                executor.shutdown(true, true);
                let _ = tx.lock().unwrap().send(());
            })
            .build()
            .unwrap();
        *handle.lock().unwrap() = Some(pool.executor());
        let ring = cycle(&pool, 4);
        let orphan = Future::<u32>::new();
        let awaited = orphan.clone();
        let waiting = pool
            .submit_async(async move { *(&awaited).await.unwrap() })
            .unwrap();
        rx.recv_timeout(REPORTED_WITHIN).expect("reported");
        for task in ring.iter().chain([&waiting]) {
            assert!(task.result().is_err());
        }
        assert!(matches!(pool.submit(|| 1), Err(SubmitError::Shutdown)));
        // The watcher ran the shutdown: it ends on its own (its pause sees the stop).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while threads_named("r3shut_watch") > 0 {
            assert!(std::time::Instant::now() < deadline, "the watcher lives on");
            std::thread::yield_now();
        }
        drop(pool);
        assert!(rx.recv_timeout(QUIET).is_err(), "reported twice");
        drop(orphan);
    });
}

/// The hook owns the pool (moved into a slot after `build`), breaks the cycle by aborting a
/// member, and drops the pool: `drop` is `shutdown(wait = true)` run on the watcher thread
/// itself. It must return (the aborted tasks end), and no thread of the pool may stay behind.
#[cfg(target_os = "linux")]
#[test]
fn a_hook_that_drops_the_last_owner_of_the_pool_returns_and_leaves_no_thread() {
    within(30, || {
        let owner: Arc<Mutex<Option<ThreadPoolExecutor>>> = Arc::default();
        let members: Arc<Mutex<Vec<Future<u32>>>> = Arc::default();
        let (tx, rx) = mpsc::channel::<()>();
        let tx = Mutex::new(tx);
        let (in_hook, in_members) = (owner.clone(), members.clone());
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .thread_name_prefix("r3drop")
            .on_stuck(move |_| {
                let pool = in_hook.lock().unwrap().take();
                for member in in_members.lock().unwrap().iter() {
                    member.abort();
                }
                drop(pool);
                let _ = tx.lock().unwrap().send(());
            })
            .build()
            .unwrap();
        let ring = cycle(&pool, 2);
        *members.lock().unwrap() = ring.clone();
        *owner.lock().unwrap() = Some(pool);
        rx.recv_timeout(REPORTED_WITHIN)
            .expect("the hook reported and its drop of the pool returned");
        for task in &ring {
            assert!(task.result().is_err());
        }
        members.lock().unwrap().clear();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while threads_named("r3drop_watch") + threads_named("r3drop_0") + threads_named("r3drop_1")
            > 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "a thread of the dropped pool lives on"
            );
            std::thread::yield_now();
        }
    });
}

/// The owner drops a deadlocked pool on another thread. `drop` waits for every task (the
/// documented `shutdown(wait = true, cancel_futures = false)`), so it waits for the cycle; the
/// watcher goes on and reports the deadlock meanwhile, and once the test breaks the cycle the
/// drop returns.
#[test]
fn a_deadlocked_pool_being_dropped_is_still_reported_and_its_drop_returns_once_broken() {
    within(30, || {
        let (tx, rx) = mpsc::channel::<Dump>();
        let tx = Mutex::new(tx);
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .on_stuck(move |dump| {
                let _ = tx.lock().unwrap().send(dump.clone());
            })
            .build()
            .unwrap();
        let ring = cycle(&pool, 2);
        let (dropped_tx, dropped) = mpsc::channel::<()>();
        let dropper = std::thread::spawn(move || {
            drop(pool);
            dropped_tx.send(()).unwrap();
        });
        let report = rx
            .recv_timeout(REPORTED_WITHIN)
            .expect("reported while dropping");
        assert_eq!(report.cycles(), [rotated_to_min(ids(&ring))], "{report}");
        assert!(dropped.recv_timeout(Duration::from_millis(300)).is_err());
        assert!(ring[1].abort());
        dropped
            .recv_timeout(Duration::from_secs(10))
            .expect("the drop returned once the cycle was broken");
        dropper.join().unwrap();
        for task in &ring {
            assert!(task.result().is_err());
        }
    });
}

/// A hook that panics with a non-string payload, on every call: caught each time, and the pool
/// goes on (the cycle can still be broken, and a later deadlock is reported again).
#[test]
fn a_hook_panicking_with_any_payload_leaves_the_pool_working() {
    within(30, || {
        let (tx, rx) = mpsc::channel::<usize>();
        let tx = Mutex::new(tx);
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .on_stuck(move |dump| {
                    let _ = tx.lock().unwrap().send(dump.cycles()[0].len());
                    std::panic::panic_any(vec![1u8, 2, 3]);
                })
                .build()
                .unwrap(),
        );
        let two = cycle(&pool, 2);
        assert_eq!(rx.recv_timeout(REPORTED_WITHIN), Ok(2));
        assert!(two[0].abort());
        for task in &two {
            assert!(task.result().is_err());
        }
        let three = cycle(&pool, 3);
        assert_eq!(rx.recv_timeout(REPORTED_WITHIN), Ok(3));
        assert!(matches!(
            pool.join_timeout(Duration::from_millis(100)),
            Err(Error::Stuck(_))
        ));
        assert!(three[0].abort());
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
    });
}

/// A hook that blocks (untimed `result()`) on a member of the very cycle it reports: the
/// watcher waits inside the hook. The owner's `shutdown(wait = true, cancel_futures = true)`
/// aborts the cycle, which ends the hook's wait, and then joins the watcher: it returns.
#[test]
fn a_hook_blocked_on_a_cycle_member_does_not_hang_a_cancelling_shutdown() {
    within(30, || {
        let members: Arc<Mutex<Vec<Future<u32>>>> = Arc::default();
        let (tx, rx) = mpsc::channel::<&'static str>();
        let tx = Mutex::new(tx);
        let in_members = members.clone();
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .on_stuck(move |_| {
                let member = in_members.lock().unwrap()[0].clone();
                let _ = tx.lock().unwrap().send("waiting");
                let outcome = match member.result() {
                    Ok(_) => "finished",
                    Err(Error::Cancelled) => "cancelled",
                    Err(_) => "other error",
                };
                let _ = tx.lock().unwrap().send(outcome);
            })
            .build()
            .unwrap();
        let ring = cycle(&pool, 2);
        *members.lock().unwrap() = ring.clone();
        assert_eq!(rx.recv_timeout(REPORTED_WITHIN), Ok("waiting"));
        pool.shutdown(true, true);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok("cancelled"));
        members.lock().unwrap().clear();
        drop(pool);
    });
}
