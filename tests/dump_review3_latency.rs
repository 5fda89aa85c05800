//! Third dump review, how soon a deadlock is reported. The builder's docs promise a closed
//! cycle is "reported within about a tenth of a second" (README: "within about a tenth of a
//! second"). That holds for a fresh pool; this asks it of a pool that has been busy, or slow,
//! for a while first (a long-running closure, a long sleep), so that its watcher has been
//! looking and backing off, before a deadlock forms. A generous bound (one second) is asked.
//! The spells last 3.5 s: a watcher started at the spell's beginning looks at about 0.1, 0.3,
//! 0.7, 1.5, 3.1 and 6.3 s (pauses doubling from 0.1 s to 5 s), so a deadlock formed at 3.5 s
//! waits for the 6.3 s look; a longer spell would see up to 5 s.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use betterconcurrent::time::sleep;
use betterconcurrent::Dump;
use common::dump::{cycle, dump_when, ids, rotated_to_min, AbortOnDrop};
use common::watchdog::within;

const PROMISED: Duration = Duration::from_millis(1500);

fn reporting_pool(workers: usize) -> (AbortOnDrop, mpsc::Receiver<(Instant, Dump)>) {
    common::dump::reporting_pool(workers, |dump| (Instant::now(), dump.clone()))
}

/// A fresh pool: the promise as documented (the baseline for the test below).
#[test]
fn a_deadlock_in_a_fresh_pool_is_reported_within_the_promise() {
    within(30, || {
        let (pool, reported) = reporting_pool(2);
        let ring = cycle(&pool, 2);
        dump_when(&pool, |dump| dump.has_closed_cycle());
        let formed = Instant::now();
        let (at, report) = reported
            .recv_timeout(Duration::from_secs(10))
            .expect("reported");
        assert_eq!(report.cycles(), [rotated_to_min(ids(&ring))], "{report}");
        let late = at.saturating_duration_since(formed);
        assert!(late < PROMISED, "reported {late:?} after the cycle formed");
        assert!(ring[0].abort());
    });
}

/// Three and a half seconds of a slow (not stuck) pool: a closure running outside the pool's view, while
/// another worker sleeps with work outstanding, so the watcher runs and backs off. Then the
/// closure is released and, at the same moment, a deadlock forms.
#[test]
fn a_deadlock_after_a_long_busy_spell_is_reported_within_the_promise() {
    within(40, || {
        let (pool, reported) = reporting_pool(2);
        // Start both workers, then keep one running a closure that waits on a channel.
        let (release, released) = mpsc::channel::<()>();
        let busy = pool.submit(move || released.recv().unwrap()).unwrap();
        assert_eq!(*pool.submit(|| 1).unwrap().result().unwrap(), 1);
        // The busy spell: nothing is reported (a closure runs).
        if let Ok((_, report)) = reported.recv_timeout(Duration::from_millis(3500)) {
            panic!("a busy pool was reported:\n{report}");
        }
        let ring = cycle(&pool, 2);
        release.send(()).unwrap();
        busy.result().unwrap();
        dump_when(&pool, |dump| dump.has_closed_cycle() && dump.is_stuck());
        let formed = Instant::now();
        let (at, report) = reported
            .recv_timeout(Duration::from_secs(10))
            .expect("reported");
        assert_eq!(report.cycles(), [rotated_to_min(ids(&ring))], "{report}");
        let late = at.saturating_duration_since(formed);
        assert!(
            late < PROMISED,
            "reported {late:?} after the cycle formed (promised: about a tenth of a second)"
        );
        assert!(ring[0].abort());
    });
}

/// The same after a long sleep: a task asleep on the timer for three and a half seconds (a slow pool, not a
/// stuck one), then a deadlock.
#[test]
fn a_deadlock_after_a_long_sleep_is_reported_within_the_promise() {
    within(40, || {
        let (pool, reported) = reporting_pool(2);
        let sleeper = pool
            .submit_async(async {
                sleep(Duration::from_millis(3500)).await;
                1u32
            })
            .unwrap();
        assert_eq!(*sleeper.result().unwrap(), 1);
        assert!(reported.try_recv().is_err(), "a sleeping pool was reported");
        let ring = cycle(&pool, 2);
        dump_when(&pool, |dump| dump.has_closed_cycle() && dump.is_stuck());
        let formed = Instant::now();
        let (at, report) = reported
            .recv_timeout(Duration::from_secs(10))
            .expect("reported");
        assert_eq!(report.cycles(), [rotated_to_min(ids(&ring))], "{report}");
        let late = at.saturating_duration_since(formed);
        assert!(
            late < PROMISED,
            "reported {late:?} after the cycle formed (promised: about a tenth of a second)"
        );
        assert!(ring[0].abort());
    });
}
