//! Issue 16: a stuck pool reports itself unasked (`Builder::on_stuck`), once per episode and
//! never while a task still runs; the dump names running and blocked tasks with where each
//! was submitted.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::mpsc;
use std::time::Duration;

#[cfg(feature = "locations")]
use betterconcurrent::executor::TaskKind;
use betterconcurrent::executor::TaskPhase;
use betterconcurrent::{Dump, Future, ThreadPoolExecutor};
use common::dump::{cycle, dump_when, ids, rotated_to_min, AbortOnDrop};

/// A pool whose stuck reports arrive on the returned channel, as the cycles each names.
fn reporting_pool(workers: usize) -> (ThreadPoolExecutor, mpsc::Receiver<Dump>) {
    let (reports, reported) = mpsc::channel();
    let reports = std::sync::Mutex::new(reports);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(workers)
        .on_stuck(move |dump| {
            reports.lock().unwrap().send(dump.clone()).unwrap();
        })
        .build()
        .unwrap();
    (pool, reported)
}

/// Long enough for the watcher's first looks (0.1 s, then 0.2 s, 0.4 s, ...) several times
/// over: a report that was going to come for an episode has come by then.
const QUIET: Duration = Duration::from_millis(1500);

/// Generous: the first look is after a tenth of a second.
const REPORTED_WITHIN: Duration = Duration::from_secs(20);

#[test]
fn a_deadlock_is_reported_once_per_episode_naming_its_cycle() {
    let (pool, reported) = reporting_pool(2);
    let pool = AbortOnDrop(pool);
    let first = cycle(&pool, 2);
    let report = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
    assert_eq!(report.cycles(), [rotated_to_min(ids(&first))], "{report}");
    assert!(report.has_closed_cycle());
    // The same episode is not reported again, however long it lasts.
    assert!(reported.recv_timeout(QUIET).is_err(), "reported twice");
    // Broken (the tasks end cancelled), and a new deadlock is a new episode.
    assert!(first[0].abort());
    for task in &first {
        assert!(task.result().is_err());
    }
    let second = cycle(&pool, 3);
    let report = reported
        .recv_timeout(REPORTED_WITHIN)
        .expect("reported again");
    assert_eq!(report.cycles(), [rotated_to_min(ids(&second))], "{report}");
    assert!(reported.recv_timeout(QUIET).is_err(), "reported twice");
    assert!(second[0].abort());
}

#[test]
fn a_pool_with_a_task_still_running_is_never_reported() {
    let (pool, reported) = reporting_pool(2);
    let (release, released) = mpsc::channel::<()>();
    // A closure that blocks outside the pool's view (a channel), and an async task awaiting
    // it: slow, not stuck.
    let slow = pool.submit(move || released.recv().unwrap()).unwrap();
    let awaited = slow.clone();
    let waiting = pool
        .submit_async(async move { (&awaited).await.is_ok() })
        .unwrap();
    let dump = dump_when(&pool, |dump| {
        dump.task(waiting.id())
            .is_some_and(|task| task.phase() == TaskPhase::Suspended)
    });
    assert!(!dump.is_stuck(), "{dump}");
    assert!(
        reported.recv_timeout(QUIET).is_err(),
        "a running pool was reported"
    );
    release.send(()).unwrap();
    assert!(*waiting.result().unwrap());
}

#[test]
fn a_pool_that_goes_idle_with_nothing_outstanding_is_never_reported() {
    let (pool, reported) = reporting_pool(2);
    for round in 0..20u32 {
        let futures: Vec<Future<u32>> = (0..50)
            .map(|i| pool.submit(move || i + round).unwrap())
            .collect();
        for future in futures {
            future.result().unwrap();
        }
    }
    pool.wait_idle().unwrap();
    assert!(reported.recv_timeout(QUIET).is_err());
}

#[cfg(feature = "locations")]
#[test]
fn the_dump_names_a_running_closure_with_its_thread_and_where_it_was_submitted() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .thread_name_prefix("dumped")
        .build()
        .unwrap();
    let (release, released) = mpsc::channel::<()>();
    let (inside, entered) = mpsc::channel::<()>();
    let work = move || {
        inside.send(()).unwrap();
        released.recv().unwrap()
    };
    let (running, line) = (pool.submit(work).unwrap(), line!());
    entered.recv().unwrap();
    let dump = pool.dump();
    let task = dump
        .task(running.id())
        .expect("the running closure is listed");
    assert_eq!(task.kind(), TaskKind::Closure);
    assert_eq!(task.phase(), TaskPhase::Running);
    assert!(!task.is_blocked());
    assert!(task.thread().unwrap().starts_with("dumped_"), "{dump}");
    let location = task.site().location().expect("recorded");
    assert_eq!((location.file(), location.line()), (file!(), line));
    let printed = dump.to_string();
    assert!(
        printed.contains(&format!("submitted at {}:{line}", file!())),
        "{printed}"
    );
    assert!(!dump.is_stuck());
    release.send(()).unwrap();
    running.result().unwrap();
    pool.wait_idle().unwrap();
    assert!(
        pool.dump().tasks().is_empty(),
        "a finished task stays listed"
    );
}

#[cfg(feature = "locations")]
#[test]
fn suspended_tasks_carry_their_submit_site_through_every_submit_path() {
    let pool = AbortOnDrop(common::pool(2));
    let gate = Future::<()>::new();
    let group = betterconcurrent::TaskGroup::new(&pool);
    let (awaits_a, awaits_b) = (gate.clone(), gate.clone());
    let (body_a, body_b) = (async move { (&awaits_a).await.is_ok() }, async move {
        (&awaits_b).await.is_ok()
    });
    let (on_pool, line_pool) = (pool.submit_async(body_a).unwrap(), line!());
    let (in_group, line_group) = (group.submit_async(body_b).unwrap(), line!());
    let dump = dump_when(&pool, |dump| common::dump::suspended(dump, 2));
    for (future, line) in [(&on_pool, line_pool), (&in_group, line_group)] {
        let site = dump.task(future.id()).unwrap().site();
        assert_eq!(site.location().unwrap().line(), line, "{dump}");
        assert_eq!(site.location().unwrap().file(), file!());
    }
    gate.set_result(()).unwrap();
    assert!(*on_pool.result().unwrap() && *in_group.result().unwrap());
}

#[test]
fn a_panicking_on_stuck_hook_is_caught_and_the_next_episode_is_reported_too() {
    let (reports, reported) = mpsc::channel::<usize>();
    let reports = std::sync::Mutex::new(reports);
    let pool = AbortOnDrop(
        ThreadPoolExecutor::builder()
            .max_workers(2)
            .on_stuck(move |dump| {
                reports.lock().unwrap().send(dump.cycles().len()).unwrap();
                panic!("a hook that panics");
            })
            .build()
            .unwrap(),
    );
    let first = cycle(&pool, 2);
    assert_eq!(reported.recv_timeout(REPORTED_WITHIN), Ok(1));
    assert!(first[0].abort());
    // The pool lives on, and so does its watcher: work runs, and a new episode is reported.
    assert_eq!(*pool.submit(|| 7).unwrap().result().unwrap(), 7);
    let second = cycle(&pool, 2);
    assert_eq!(reported.recv_timeout(REPORTED_WITHIN), Ok(1));
    assert!(second[0].abort());
}

#[cfg(feature = "locations")]
#[test]
fn a_spawned_task_and_a_map_task_name_their_callers_line() {
    let pool = common::pool(1);
    let (release, released) = mpsc::channel::<()>();
    let (inside, entered) = mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let work = move |_: &betterconcurrent::Executor| {
        inside.send(()).unwrap();
        released.lock().unwrap().recv().unwrap();
    };
    let line = line!() + 1;
    pool.spawn(work).unwrap();
    entered.recv().unwrap();
    let dump = pool.dump();
    let spawned = dump
        .tasks()
        .iter()
        .find(|task| task.kind() == TaskKind::Detached)
        .expect("the running spawned task is listed");
    assert_eq!(spawned.site().location().unwrap().line(), line, "{dump}");
    release.send(()).unwrap();
    pool.wait_idle().unwrap();

    // A map's tasks were submitted by the `map` call, wherever the iterator is consumed.
    let (inside, entered) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let gate = std::sync::Mutex::new((inside, released));
    let f = move |n: u32| {
        let gate = gate.lock().unwrap();
        gate.0.send(()).unwrap();
        gate.1.recv().unwrap();
        n
    };
    let (results, line) = (pool.map(f, [1u32]).unwrap(), line!());
    entered.recv().unwrap();
    let dump = pool.dump();
    let mapped = dump
        .tasks()
        .iter()
        .find(|task| task.kind() == TaskKind::Closure)
        .expect("the running map task is listed");
    assert_eq!(mapped.site().location().unwrap().line(), line, "{dump}");
    release.send(()).unwrap();
    assert_eq!(results.map(Result::unwrap).collect::<Vec<_>>(), [1]);
}

/// The threads of this process whose name (`comm`, at most 15 bytes) is `name`.
#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// `shutdown(wait = true)` stops and joins the watcher, mid-pause or mid-look: a shut-down
/// pool keeps no thread and no dump (CI once measured a watcher's dump of 100,000 tasks
/// still alive after a cancelling shutdown).
#[cfg(target_os = "linux")]
#[test]
fn shutdown_with_wait_joins_the_watcher() {
    let (reports, reported) = mpsc::channel();
    let reports = std::sync::Mutex::new(reports);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .thread_name_prefix("joinwatch")
        .on_stuck(move |dump| {
            let _ = reports.lock().unwrap().send(dump.clone());
        })
        .build()
        .unwrap();
    let tasks = cycle(&pool, 2);
    reported.recv_timeout(REPORTED_WITHIN).expect("reported");
    // The watcher reported, and keeps watching the same episode (in a pause of up to 5 s).
    assert_eq!(threads_named("joinwatch_watch"), 1);
    pool.shutdown(true, true);
    assert_eq!(threads_named("joinwatch_watch"), 0);
    for task in &tasks {
        assert!(task.result().is_err());
    }
    // A closed pool starts no watcher again.
    assert_eq!(threads_named("joinwatch_watch"), 0);
}
