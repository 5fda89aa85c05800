//! Third dump review, pools stuck only on futures outside their view: reported once, after the
//! documented ten seconds of it ("a pool stuck only on futures from outside it is reported
//! after ten seconds of it", README), counted from the start of *that* episode: an episode
//! resolved from outside before its grace ends is never reported, and the next one gets its
//! own ten seconds. A pool thread blocked in a wait on an orphaned future is such a pool too.
//! These tests are slow by nature (the grace is ten seconds); the two run in parallel.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use betterconcurrent::executor::TaskPhase;
use betterconcurrent::{Dump, Error, Future, ThreadPoolExecutor};
use common::dump::{dump_when, AbortOnDrop};
use common::watchdog::within;

/// `OUTSIDE_GRACE` less some slack for the watcher's clock and ours.
const AT_LEAST: Duration = Duration::from_millis(9_000);
const REPORTED_WITHIN: Duration = Duration::from_secs(25);
const QUIET: Duration = Duration::from_millis(1500);

fn reporting_pool(workers: usize) -> (AbortOnDrop, mpsc::Receiver<(Instant, Dump)>) {
    common::dump::reporting_pool(workers, |dump| (Instant::now(), dump.clone()))
}

fn awaiting(pool: &ThreadPoolExecutor, orphan: &Future<u32>) -> Future<u32> {
    let awaited = orphan.clone();
    pool.submit_async(async move { *(&awaited).await.unwrap() })
        .unwrap()
}

fn suspended(pool: &ThreadPoolExecutor, task: &Future<u32>) -> Instant {
    dump_when(pool, |dump| {
        dump.task(task.id())
            .is_some_and(|t| t.phase() == TaskPhase::Suspended)
    });
    Instant::now()
}

#[test]
fn an_outside_episode_resolved_in_its_grace_is_not_reported_and_the_next_gets_its_own() {
    within(60, || {
        let (pool, reported) = reporting_pool(2);
        let first_orphan = Future::<u32>::new();
        let first = awaiting(&pool, &first_orphan);
        suspended(&pool, &first);
        // Six seconds of the first episode: not reported (it is within its grace).
        if let Ok((_, report)) = reported.recv_timeout(Duration::from_secs(6)) {
            panic!("reported within the grace:\n{report}");
        }
        assert!(matches!(
            pool.join_timeout(Duration::from_millis(100)),
            Err(Error::Timeout)
        ));
        // Resolved from outside.
        let setter = std::thread::spawn(move || first_orphan.set_result(1).unwrap());
        setter.join().unwrap();
        assert_eq!(*first.result().unwrap(), 1);
        // The second episode starts now.
        let second_orphan = Future::<u32>::new();
        let second = awaiting(&pool, &second_orphan);
        let since = suspended(&pool, &second);
        let (at, report) = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
        let waited = at.saturating_duration_since(since);
        assert!(
            waited >= AT_LEAST,
            "reported {waited:?} into the second episode (the first one's grace carried over?):\n{report}"
        );
        assert!(report.task(first.id()).is_none(), "{report}");
        let task = report.task(second.id()).expect("the second task is named");
        assert!(task.awaits_outside(), "{report}");
        assert!(report.is_stuck() && !report.has_closed_cycle(), "{report}");
        assert!(report.cycles().is_empty(), "{report}");
        // Once.
        assert!(reported.recv_timeout(QUIET).is_err(), "reported twice");
        // Its timed waits still say Timeout (it is not a deadlock).
        assert!(matches!(
            pool.wait_idle_timeout(Duration::from_millis(100)),
            Err(Error::Timeout)
        ));
        assert!(matches!(
            second.result_timeout(Duration::from_millis(100)),
            Err(Error::Timeout)
        ));
        second_orphan.set_result(2).unwrap();
        assert_eq!(*second.result().unwrap(), 2);
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            reported.recv_timeout(QUIET).is_err(),
            "reported after it ended"
        );
    });
}

#[test]
fn a_pool_thread_blocked_on_an_orphan_is_reported_once_after_the_grace() {
    within(60, || {
        let (pool, reported) = reporting_pool(2);
        let orphan = Future::<u32>::new();
        let awaited = orphan.clone();
        let blocked = pool.submit(move || *awaited.result().unwrap()).unwrap();
        let dump = dump_when(&pool, |dump| {
            dump.task(blocked.id()).is_some_and(|t| t.is_blocked())
        });
        let since = Instant::now();
        assert!(dump.is_stuck(), "{dump}");
        let (at, report) = reported.recv_timeout(REPORTED_WITHIN).expect("reported");
        assert!(at.saturating_duration_since(since) >= AT_LEAST, "{report}");
        let task = report.task(blocked.id()).expect("the closure is named");
        assert!(task.is_blocked() && task.awaits_outside(), "{report}");
        assert_eq!(report.blocked().len(), 1, "{report}");
        assert!(report.blocked()[0].blocked_for() >= AT_LEAST, "{report}");
        assert!(reported.recv_timeout(QUIET).is_err(), "reported twice");
        orphan.set_result(4).unwrap();
        assert_eq!(*blocked.result().unwrap(), 4);
    });
}
