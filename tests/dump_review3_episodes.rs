//! Third dump review, episodes: the `on_stuck` hook reports each stuck episode once and only
//! once. The same deadlock built twice in a row (its tasks' cells may reuse the freed addresses,
//! so the second dump can look exactly like the first) is two episodes; a deadlock next to a
//! long-lived heartbeat task, or next to a stream of short-lived timer tasks, is not re-reported
//! in a loop; a cycle that an outside thread resolves and a new one are each reported once.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use betterconcurrent::time::sleep;
use betterconcurrent::{Dump, Error, Future, ThreadPoolExecutor};
use common::dump::{cycle, ids, rotated_to_min, AbortOnDrop};

fn reporting_pool(workers: usize) -> (AbortOnDrop, mpsc::Receiver<Dump>) {
    common::dump::reporting_pool(workers, Dump::clone)
}

const REPORTED_WITHIN: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(1500);

/// A task awaiting its own future (through a slot): the smallest deadlock. Same code, same
/// allocation sizes every time it is called.
fn self_cycle(pool: &ThreadPoolExecutor) -> Future<u32> {
    let slot = Future::<Future<u32>>::new();
    let awaited = slot.clone();
    let task = pool
        .submit_async(async move {
            let me = (&awaited).await.unwrap().clone();
            drop(awaited);
            *(&me).await.unwrap()
        })
        .unwrap();
    slot.set_result(task.clone()).unwrap();
    task
}

/// The same deadlock, built, reported, broken and forgotten, five times over. Each is a new
/// episode (the pool went idle in between), so each must be reported. When the allocator hands
/// the new task the freed cell's address, the new dump's tasks, phases, awaits and outstanding
/// count are identical to the last report's.
#[test]
fn the_same_deadlock_built_again_after_it_was_broken_is_reported_again() {
    let (pool, reported) = reporting_pool(2);
    let mut seen_ids = Vec::new();
    for round in 0..5 {
        let task = self_cycle(&pool);
        let id = task.id();
        seen_ids.push(id);
        let report = reported.recv_timeout(REPORTED_WITHIN).unwrap_or_else(|_| {
            panic!(
                "round {round}: the deadlock of task {id:#x} was never reported \
                     (ids of the rounds so far: {seen_ids:x?})\n{}",
                pool.dump()
            )
        });
        assert_eq!(report.cycles(), [vec![id]], "round {round}:\n{report}");
        assert!(task.abort());
        assert!(task.result().is_err());
        drop(task);
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(pool.dump().outstanding(), 0);
    }
}

/// As above with a ring of two, and a pool thread doing other work between the rounds.
#[test]
fn the_same_two_cycle_built_again_is_reported_again() {
    let (pool, reported) = reporting_pool(2);
    let mut rounds_ids = Vec::new();
    for round in 0..4 {
        let ring = cycle(&pool, 2);
        rounds_ids.push(rotated_to_min(ids(&ring)));
        let report = reported.recv_timeout(REPORTED_WITHIN).unwrap_or_else(|_| {
            panic!(
                "round {round}: the ring was never reported (rings so far: {rounds_ids:x?})\n{}",
                pool.dump()
            )
        });
        assert_eq!(
            report.cycles(),
            [rotated_to_min(ids(&ring))],
            "round {round}:\n{report}"
        );
        assert!(ring[0].abort());
        for task in &ring {
            assert!(task.result().is_err());
        }
        drop(ring);
        assert_eq!(*pool.submit(|| 5).unwrap().result().unwrap(), 5);
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
    }
}

/// A deadlock next to one long-lived task that wakes on the timer over and over: the pool goes
/// quiet many times while the same cycle stays stuck. One episode, one report.
#[test]
fn a_deadlock_next_to_a_heartbeat_task_is_reported_once() {
    let (pool, reported) = reporting_pool(2);
    let stop = Arc::new(AtomicBool::new(false));
    let beating = stop.clone();
    let heartbeat = pool
        .submit_async(async move {
            let mut beats = 0u32;
            while !beating.load(Ordering::Relaxed) {
                sleep(Duration::from_millis(15)).await;
                beats += 1;
            }
            beats
        })
        .unwrap();
    let ring = cycle(&pool, 2);
    let first = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
    assert_eq!(first.cycles(), [rotated_to_min(ids(&ring))], "{first}");
    let again: Vec<Dump> = reported
        .recv_timeout(Duration::from_secs(3))
        .into_iter()
        .collect();
    assert!(
        again.is_empty(),
        "the same deadlock was reported again while a heartbeat ran:\n{}",
        again[0]
    );
    stop.store(true, Ordering::Relaxed);
    assert!(*heartbeat.result().unwrap() > 0);
    assert!(ring[0].abort());
}

/// A deadlock in a pool that otherwise serves a stream of short requests, each a fresh task
/// that waits on the timer a little. The cycle stays exactly as it was; only the short-lived
/// bystanders change. How many times is the one deadlock reported in three seconds? The
/// builder's docs promise "once per stuck episode"; the watcher's docs count "a pool that went
/// on, even to be stuck again elsewhere" as a new episode. This test asks that a server with one
/// permanent deadlock is not told about it at every quiet moment (at most two reports).
#[test]
fn a_deadlock_next_to_a_stream_of_short_timer_tasks_is_not_reported_in_a_loop() {
    let (pool, reported) = reporting_pool(2);
    let ring = cycle(&pool, 2);
    let first = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
    assert_eq!(first.cycles(), [rotated_to_min(ids(&ring))], "{first}");
    let start = Instant::now();
    let mut requests = Vec::new();
    while start.elapsed() < Duration::from_secs(3) {
        let request = pool
            .submit_async(async move {
                sleep(Duration::from_millis(40)).await;
                1u32
            })
            .unwrap();
        requests.push(request);
        // Pace the stream by the requests themselves, not a sleep: at most two in flight,
        // the next submitted when the one before the last has ended.
        let previous = requests.len().checked_sub(2).map(|i| requests[i].clone());
        if let Some(previous) = previous {
            previous.result().unwrap();
        }
    }
    for request in &requests {
        request.result().unwrap();
    }
    let mut more = 0;
    let mut last = None;
    while let Ok(report) = reported.try_recv() {
        more += 1;
        last = Some(report);
    }
    assert!(
        more <= 1,
        "one unchanging deadlock was reported {} times in 3 s; the last report:\n{}",
        more + 1,
        last.unwrap()
    );
    assert!(ring[0].abort());
}

/// Episode one: a ring of two, and a third task that awaits a future an outside thread sets
/// later. Reported at once (the ring is closed). The outside thread sets the future: the third
/// task ends, the pool went on, and the ring is stuck again (a new episode by the watcher's
/// rule). Then the ring is broken and a ring of four is built: one more report. Never more than
/// one report per state.
#[test]
fn episodes_that_change_are_each_reported_once() {
    let (pool, reported) = reporting_pool(3);
    let outside = Future::<u32>::new();
    let awaited = outside.clone();
    let bystander = pool
        .submit_async(async move { *(&awaited).await.unwrap() + 1 })
        .unwrap();
    let ring = cycle(&pool, 2);
    let first = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
    assert_eq!(first.cycles(), [rotated_to_min(ids(&ring))], "{first}");
    assert!(first.is_stuck());
    assert!(
        reported.recv_timeout(QUIET).is_err(),
        "one state reported twice"
    );
    // Resolved from outside the pool.
    let setter = std::thread::spawn(move || outside.set_result(41).unwrap());
    setter.join().unwrap();
    assert_eq!(*bystander.result().unwrap(), 42);
    // The ring alone: a changed state, reported (at most) once.
    let second = reported.recv_timeout(REPORTED_WITHIN);
    if let Ok(second) = &second {
        assert_eq!(second.cycles(), [rotated_to_min(ids(&ring))], "{second}");
        assert!(second.task(bystander.id()).is_none(), "{second}");
    }
    assert!(
        reported.recv_timeout(QUIET).is_err(),
        "one state reported twice"
    );
    assert!(ring[0].abort());
    for task in &ring {
        assert!(task.result().is_err());
    }
    let four = cycle(&pool, 4);
    let third = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
    assert_eq!(third.cycles(), [rotated_to_min(ids(&four))], "{third}");
    assert!(
        reported.recv_timeout(QUIET).is_err(),
        "one state reported twice"
    );
    assert!(matches!(
        pool.join_timeout(Duration::from_millis(200)),
        Err(Error::Stuck(_))
    ));
    assert!(four[2].abort());
    for task in &four {
        assert!(task.result().is_err());
    }
    pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
}
