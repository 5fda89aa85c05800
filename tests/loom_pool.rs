//! loom models of the thread pool's protocols, run by `cargo test --features loom`: the real
//! `ThreadPoolExecutor` with one worker (a loom thread), its sleep/notify protocol, its join
//! counting and its shutdown. loom sees every atomic, lock, condvar, park and thread-local of
//! ours; under loom the run queues are lock-based stand-ins for crossbeam-deque
//! (crates/std/src/queue.rs), whose own atomics loom could not see.
#![cfg(feature = "loom")]

use std::sync::Arc;

use betterconcurrent::{Error, Future, TaskGroup, ThreadPoolExecutor};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(f);
}

fn one_worker() -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap()
}

/// A worker going to sleep racing a new submit: the second task always runs (no missed
/// wake-up of the sleeping worker), and dropping the pool joins the worker.
#[test]
fn worker_parking_never_misses_a_submit() {
    model(|| {
        let pool = one_worker();
        let first = pool.submit(|| 1u32).unwrap();
        assert_eq!(*first.result().unwrap(), 1);
        let second = pool.submit(|| 2u32).unwrap();
        assert_eq!(*second.result().unwrap(), 2);
        drop(pool);
    });
}

/// A 1-worker cooperative await of a subtask terminates: the parent suspends, the one worker
/// runs the child, and the parent resumes.
#[test]
fn a_one_worker_cooperative_await_terminates() {
    model(|| {
        let pool = one_worker();
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let child = executor.submit(|| 5u32).unwrap();
                *(&child).await.unwrap() + 1
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 6);
        pool.join().unwrap();
    });
}

/// join counting with a subtask submitted while join waits: join returns only after both ran,
/// and it does return.
#[test]
fn join_waits_for_subtasks_submitted_while_it_waits() {
    model(|| {
        let pool = one_worker();
        let executor = pool.executor();
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = ran.clone();
        let _fire_and_forget = pool
            .submit(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let counter = counter.clone();
                let _ = executor.submit(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                });
            })
            .unwrap();
        pool.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    });
}

/// The prepaid shares of the join count: a detached task's detached child is counted from the
/// worker's share, not the shared counter. join returns only after both ran (the share never
/// lets the count fall early), it does return (the idle worker gives its share back), and
/// `stats()` reports nothing outstanding afterwards.
#[test]
fn join_waits_for_spawns_counted_from_a_prepaid_share() {
    model(|| {
        let pool = one_worker();
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = ran.clone();
        pool.spawn(move |executor| {
            counter.fetch_add(1, Ordering::SeqCst);
            let counter = counter.clone();
            executor
                .spawn(move |_| {
                    counter.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        })
        .unwrap();
        pool.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// The LIFO slot: a worker's submit lands in its slot, invisible to other threads, and the
/// worker then blocks on something only that task provides (not the task's own future, so it
/// is not run in place). Before parking the worker moves the task to its deque; as the pool's
/// only thread is now blocked, a spare thread starts, steals it and runs it, and the worker
/// wakes. A task left in the slot would hang this model.
///
/// Three loom threads (the worker, the spare and the caller), so at most one preemption, as in
/// the two-worker model below.
#[test]
fn a_task_in_the_lifo_slot_of_a_blocked_worker_still_runs() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(1);
    builder.check(|| {
        let pool = one_worker();
        let executor = pool.executor();
        let signal = Future::<u32>::new();
        let parent = pool
            .submit(move || {
                let for_child = signal.clone();
                let _child = executor
                    .submit(move || for_child.set_result(7).unwrap())
                    .unwrap();
                *signal.result().unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 7);
        drop(pool);
    });
}

/// shutdown(cancel_futures) racing the completion a suspended task awaits: every future ends
/// done (the task's continuation ran, or it was cancelled), and shutdown returns.
#[test]
fn shutdown_cancel_racing_a_completion_and_a_suspended_task() {
    model(|| {
        let pool = one_worker();
        let awaited = Future::<u32>::new();
        let task = {
            let awaited = awaited.clone();
            pool.submit_async(async move { *(&awaited).await.unwrap() + 1 })
                .unwrap()
        };
        let completer = {
            let awaited = awaited.clone();
            thread::spawn(move || awaited.set_result(1).unwrap())
        };
        pool.shutdown(true, true);
        completer.join().unwrap();
        assert!(task.done());
        assert!(matches!(
            task.try_result(),
            Some(Ok(2)) | Some(Err(Error::Cancelled))
        ));
    });
}

/// shutdown(cancel_futures) racing the worker that took an async task from the queue: the task
/// awaits a future nothing completes, so only the cancel can end it. Whether the worker polls
/// it before, during or after the drain and the abort (a worker that took the task just before
/// the drain once polled it after the wake meant to cancel it, and it stayed suspended
/// forever), it ends cancelled and `shutdown(wait = true)` returns.
#[test]
fn shutdown_cancel_racing_a_worker_that_took_the_task() {
    model(|| {
        let pool = one_worker();
        let task = pool
            .submit_async(async move {
                let never = Future::<u32>::new();
                (&never).await.is_ok()
            })
            .unwrap();
        pool.shutdown(true, true);
        assert!(matches!(task.try_result(), Some(Err(Error::Cancelled))));
    });
}

/// The registry: shutdown(cancel_futures) walks it to abort a suspended task while the
/// completion the task awaits arrives, so the task may complete (and forget its entry) before,
/// during or after the walk. Exactly one outcome, the body dropped exactly once, shutdown
/// returns, and no entry is left behind (the registry's drop asserts it in debug builds).
#[test]
fn shutdown_walking_the_registry_racing_a_task_that_completes() {
    model(|| {
        let pool = one_worker();
        let awaited = Future::<u32>::new();
        let suspending = Future::<()>::new();
        let bodies_dropped = Arc::new(AtomicUsize::new(0));
        let task = {
            let awaited = awaited.clone();
            let suspending = suspending.clone();
            let body_dropped = DropCounter(bodies_dropped.clone());
            pool.submit_async(async move {
                let _held = body_dropped;
                suspending.set_result(()).unwrap();
                *(&awaited).await.unwrap() + 1
            })
            .unwrap()
        };
        // The task is registered and at (or about to reach) its `.await`, in no queue.
        suspending.result().unwrap();
        let completer = {
            let awaited = awaited.clone();
            thread::spawn(move || awaited.set_result(1).unwrap())
        };
        pool.shutdown(true, true);
        completer.join().unwrap();
        assert!(matches!(
            task.try_result(),
            Some(Ok(2)) | Some(Err(Error::Cancelled))
        ));
        drop(pool);
        assert_eq!(bodies_dropped.load(Ordering::SeqCst), 1);
    });
}

/// The registry, the other half: a task registers only when its first poll suspends, so
/// shutdown(cancel_futures) may walk the registry before, while or after the worker registers
/// a task that awaits a future nobody completes. Either the walk finds it or the worker sees
/// the cancel after registering and aborts it: it always ends cancelled, its body dropped once,
/// and shutdown(wait = true) returns (loom reports a deadlock if the task stays suspended).
#[test]
fn shutdown_walking_the_registry_racing_a_task_that_suspends() {
    model(|| {
        let pool = one_worker();
        let never_completed = Future::<u32>::new();
        let polling = Future::<()>::new();
        let bodies_dropped = Arc::new(AtomicUsize::new(0));
        let task = {
            let never_completed = never_completed.clone();
            let polling = polling.clone();
            let body_dropped = DropCounter(bodies_dropped.clone());
            pool.submit_async(async move {
                let _held = body_dropped;
                polling.set_result(()).unwrap();
                *(&never_completed).await.unwrap() + 1
            })
            .unwrap()
        };
        // The task is in its first poll, about to suspend (and register), or suspended.
        polling.result().unwrap();
        pool.shutdown(true, true);
        assert!(matches!(task.try_result(), Some(Err(Error::Cancelled))));
        drop(pool);
        assert_eq!(bodies_dropped.load(Ordering::SeqCst), 1);
    });
}

/// Group accounting: a group's join racing its last task's end and a spawn from inside that
/// task (counted in the group before the task ends, so the join never returns between them).
/// The join returns after both ran, and the group and pool shut down cleanly.
#[test]
fn a_groups_join_racing_its_last_task_and_a_spawn_from_it() {
    model(|| {
        let pool = one_worker();
        let group = TaskGroup::new(&pool);
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = ran.clone();
        group
            .spawn(move |executor| {
                counted.fetch_add(1, Ordering::SeqCst);
                let counted = counted.clone();
                executor
                    .spawn(move |_| {
                        counted.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
            })
            .unwrap();
        group.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        drop(group);
        drop(pool);
    });
}

/// Counts its drop.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Two workers and the wake-up tokens: a submit while one worker searches and the other sleeps
/// (or both sleep) is always run, and no token is left behind (the pool shuts down cleanly).
///
/// Three loom threads (two workers and the submitter) explode the state space at the bound the
/// other models use, so this one checks every interleaving with at most one preemption.
#[test]
fn two_workers_searching_and_sleeping_never_miss_a_submit() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(1);
    builder.check(|| {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        // Two tasks start both workers; then a third arrives as they go idle.
        let first = pool.submit(|| 1u32).unwrap();
        let second = pool.submit(|| 2u32).unwrap();
        assert_eq!(*first.result().unwrap() + *second.result().unwrap(), 3);
        let third = pool.submit(|| 3u32).unwrap();
        assert_eq!(*third.result().unwrap(), 3);
        drop(pool);
    });
}

/// Work-first racing a steal: a parent awaits its older child, which sits at the owner end of
/// its worker's deque (the newer one is in the LIFO slot), while the other worker may steal it.
/// The awaiting worker's pop and the thief's steal never both get it: each child runs exactly
/// once, the parent resumes with both values, and the pool converges. (The second worker is
/// started by the children's submits; two preemptions let it steal between the push and the
/// claim, which one does not.)
#[test]
fn claiming_an_awaited_child_racing_a_steal_runs_it_once() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        let executor = pool.executor();
        let runs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let counted = runs.clone();
        let parent = pool
            .submit_async(async move {
                let (older_runs, newer_runs) = (counted.clone(), counted);
                let older = executor
                    .submit(move || older_runs[0].fetch_add(1, Ordering::SeqCst) + 10)
                    .unwrap();
                let newer = executor
                    .submit(move || newer_runs[1].fetch_add(1, Ordering::SeqCst) + 20)
                    .unwrap();
                *(&older).await.unwrap() + *(&newer).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 30);
        pool.join().unwrap();
        assert_eq!(runs[0].load(Ordering::SeqCst), 1);
        assert_eq!(runs[1].load(Ordering::SeqCst), 1);
    });
}
