//! Third dump review, races: dumps taken from several threads while pool threads block and
//! unblock in waits on tasks that are finishing (each dump self-consistent, no cycle where
//! there is none, blocked tasks named with their thread); done callbacks that dump the pool,
//! fired by completions racing other threads' dumps and by aborts; and an `on_stuck` hook that
//! dumps while other threads dump. No panic, and above all no deadlock of the dump itself.
#![cfg(not(feature = "loom"))]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::executor::TaskPhase;
use betterconcurrent::{Dump, Executor, Future, ThreadPoolExecutor};
use common::dump::{cycle, ids, rotated_to_min, AbortOnDrop};
use common::watchdog::within;

/// `thread_means_running`: `DumpedTask::thread`'s docs, "if it is running (then its phase is
/// `TaskPhase::Running`)".
fn check_with(dump: &Dump, thread_means_running: bool) {
    let listed: HashSet<usize> = dump.tasks().iter().map(|t| t.id()).collect();
    assert_eq!(
        listed.len(),
        dump.tasks().len(),
        "a task listed twice:\n{dump}"
    );
    for task in dump.tasks() {
        assert_ne!(task.phase(), TaskPhase::Complete, "{dump}");
        assert!(task.awaits().iter().all(|id| listed.contains(id)), "{dump}");
        if task.is_blocked() {
            assert!(
                task.thread().is_some(),
                "a blocked task with no thread:\n{dump}"
            );
            assert_eq!(task.phase(), TaskPhase::Running, "{dump}");
        }
        if thread_means_running && task.thread().is_some() {
            assert_eq!(task.phase(), TaskPhase::Running, "{dump}");
        }
    }
    for thread in dump.blocked() {
        if let Some(task) = thread.task() {
            assert!(
                listed.contains(&task),
                "a blocked thread's task is not listed:\n{dump}"
            );
        }
        assert!(
            thread.awaits().iter().all(|id| listed.contains(id)),
            "{dump}"
        );
    }
    let text = dump.to_string();
    assert!(text.lines().count() >= 1);
}

/// Closures that block in `result()` on async tasks that await gates an outside thread sets,
/// round after round, while three threads dump without pause. There is never a cycle, and a
/// task listed with a thread has the phase `Running` (as `DumpedTask::thread` documents).
#[test]
fn dumps_racing_blocking_waits_and_finishing_tasks_stay_consistent() {
    blocking_rounds(true);
}

/// As above, without asking that a task listed with a thread be `Running` (the dump reads each
/// task "at a slightly different moment"): everything else must still hold.
#[test]
fn dumps_racing_blocking_waits_stay_consistent_but_for_the_phase_of_running_tasks() {
    blocking_rounds(false);
}

fn blocking_rounds(thread_means_running: bool) {
    within(60, move || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let dumps = Arc::new(AtomicUsize::new(0));
        let dumpers: Vec<_> = (0..3)
            .map(|_| {
                let executor = pool.executor();
                let (stop, dumps) = (stop.clone(), dumps.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let dump = executor.dump();
                        check_with(&dump, thread_means_running);
                        assert!(
                            dump.cycles().is_empty(),
                            "a cycle where there is none:\n{dump}"
                        );
                        dumps.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for round in 0..600u32 {
            let gates: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
            let inner: Vec<Future<u32>> = gates
                .iter()
                .map(|gate| {
                    let gate = gate.clone();
                    pool.submit_async(async move { *(&gate).await.unwrap() * 2 })
                        .unwrap()
                })
                .collect();
            let outer: Vec<Future<u32>> = inner
                .iter()
                .map(|task| {
                    let task = task.clone();
                    pool.submit(move || *task.result().unwrap() + 1).unwrap()
                })
                .collect();
            let setter = {
                let gates = gates.clone();
                std::thread::spawn(move || {
                    for (i, gate) in gates.iter().enumerate().rev() {
                        gate.set_result(round + i as u32).unwrap();
                    }
                })
            };
            for (i, task) in outer.iter().enumerate() {
                assert_eq!(*task.result().unwrap(), (round + i as u32) * 2 + 1);
            }
            setter.join().unwrap();
        }
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
        stop.store(true, Ordering::Relaxed);
        for dumper in dumpers {
            dumper.join().expect("a dumper panicked");
        }
        assert!(dumps.load(Ordering::Relaxed) > 0);
        let last = pool.dump();
        assert!(last.tasks().is_empty() && last.outstanding() == 0, "{last}");
    });
}

/// Every task's done callback dumps the pool, on whichever thread completes it, while other
/// threads dump too; then a ring is aborted and its members' callbacks dump as well.
#[test]
fn done_callbacks_that_dump_never_deadlock_with_other_dumps() {
    within(60, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let dumpers: Vec<_> = (0..2)
            .map(|_| {
                let executor = pool.executor();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        check_with(&executor.dump(), false);
                    }
                })
            })
            .collect();
        let called = Arc::new(AtomicUsize::new(0));
        let add_callback = |future: &Future<u32>, executor: Executor| {
            let called = called.clone();
            future.add_done_callback(move |_| {
                check_with(&executor.dump(), false);
                called.fetch_add(1, Ordering::SeqCst);
            });
        };
        let gates: Vec<Future<u32>> = (0..200).map(|_| Future::new()).collect();
        let tasks: Vec<Future<u32>> = gates
            .iter()
            .enumerate()
            .map(|(i, gate)| {
                let gate = gate.clone();
                let task = if i % 2 == 0 {
                    pool.submit_async(async move { *(&gate).await.unwrap() })
                        .unwrap()
                } else {
                    pool.submit(move || *gate.result().unwrap()).unwrap()
                };
                add_callback(&task, pool.executor());
                task
            })
            .collect();
        for (i, gate) in gates.iter().enumerate() {
            gate.set_result(i as u32).unwrap();
        }
        for (i, task) in tasks.iter().enumerate() {
            assert_eq!(*task.result().unwrap(), i as u32);
        }
        let ring = cycle(&pool, 3);
        for member in &ring {
            add_callback(member, pool.executor());
        }
        common::dump::dump_when(&pool, |dump| dump.has_closed_cycle());
        assert!(ring[0].abort());
        for member in &ring {
            assert!(member.result().is_err());
        }
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
        stop.store(true, Ordering::Relaxed);
        for dumper in dumpers {
            dumper.join().expect("a dumper panicked");
        }
        assert_eq!(called.load(Ordering::SeqCst), 203);
    });
}

/// The hook dumps the pool (through a handle it is given after `build`) while three threads
/// dump without pause: the hook's dump and theirs agree on the cycle.
#[test]
fn a_hook_dumping_while_other_threads_dump_agrees_on_the_cycle() {
    within(60, || {
        let handle: Arc<Mutex<Option<Executor>>> = Arc::default();
        let (tx, rx) = mpsc::channel::<(Dump, Dump)>();
        let tx = Mutex::new(tx);
        let in_hook = handle.clone();
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .on_stuck(move |dump| {
                    let executor = in_hook.lock().unwrap().clone();
                    if let Some(executor) = executor {
                        let _ = tx.lock().unwrap().send((dump.clone(), executor.dump()));
                    }
                })
                .build()
                .unwrap(),
        );
        *handle.lock().unwrap() = Some(pool.executor());
        let stop = Arc::new(AtomicBool::new(false));
        let dumpers: Vec<_> = (0..3)
            .map(|_| {
                let executor = pool.executor();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        check_with(&executor.dump(), false);
                    }
                })
            })
            .collect();
        let ring = cycle(&pool, 4);
        let (given, again) = rx.recv_timeout(Duration::from_secs(10)).expect("reported");
        let expected = [rotated_to_min(ids(&ring))];
        assert_eq!(given.cycles(), expected, "{given}");
        assert_eq!(again.cycles(), expected, "{again}");
        assert!(given.has_closed_cycle(), "{given}");
        assert!(
            again.has_closed_cycle(),
            "the hook's own dump, taken while others dump, sees the cycle open:\n{again}"
        );
        stop.store(true, Ordering::Relaxed);
        for dumper in dumpers {
            dumper.join().expect("a dumper panicked");
        }
        *handle.lock().unwrap() = None;
        assert!(ring[0].abort());
    });
}

/// One async task ping-pongs with an outside thread: it awaits a gate, the thread sets it, over
/// and over, while another thread dumps without pause. A dump that lists the task as run by a
/// pool thread (and not blocked) shows a pool making progress: it must not say `is_stuck`, and
/// must not print the task as "suspended on thread ...".
#[test]
fn a_dump_never_calls_a_pool_stuck_while_it_lists_a_task_running() {
    within(60, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let bad: Arc<Mutex<Vec<String>>> = Arc::default();
        let dumper = {
            let (executor, stop, bad) = (pool.executor(), stop.clone(), bad.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let dump = executor.dump();
                    let running = dump
                        .tasks()
                        .iter()
                        .any(|t| t.thread().is_some() && !t.is_blocked());
                    let mut bad = bad.lock().unwrap();
                    if running && dump.is_stuck() && !bad.iter().any(|b| b.starts_with("is_stuck"))
                    {
                        bad.push(format!("is_stuck with a running task:\n{dump}"));
                    }
                    let text = dump.to_string();
                    if text.contains("suspended on thread")
                        && !bad.iter().any(|b| b.starts_with("printed"))
                    {
                        bad.push(format!("printed as suspended on a thread:\n{text}"));
                    }
                }
            })
        };
        let (gates_tx, gates_rx) = mpsc::channel::<Future<u32>>();
        let setter = std::thread::spawn(move || {
            for gate in gates_rx {
                gate.set_result(1).unwrap();
            }
        });
        let rounds = 20_000u32;
        let pinger = pool
            .submit_async(async move {
                let mut sum = 0;
                for _ in 0..rounds {
                    let gate = Future::<u32>::new();
                    gates_tx.send(gate.clone()).unwrap();
                    sum += *(&gate).await.unwrap();
                }
                sum
            })
            .unwrap();
        assert_eq!(*pinger.result().unwrap(), rounds);
        setter.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        dumper.join().unwrap();
        let bad = bad.lock().unwrap();
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    });
}
