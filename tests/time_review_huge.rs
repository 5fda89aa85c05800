//! Huge durations and far instants on the process's timer: `Duration::MAX`, durations whose
//! nanoseconds overflow `u64` (or do once added to the clock), and `Instant`s centuries away
//! must neither panic nor complete early; a `timeout` that long still gives the future's output;
//! and each leaves no entry behind once dropped.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use betterconcurrent::{time, ThreadPoolExecutor};

mod common;
use common::watchdog::within;

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn first_poll(s: &mut time::Sleep) -> Poll<()> {
    Pin::new(s).poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

/// Sleeps of `d` must be pending at their first poll, stay pending for a while after the timer
/// thread had every chance to fire them, and leave no entry when dropped.
fn assert_never_fires(label: &str, d: Duration) {
    let base = time::pending_sleeps();
    let mut s = time::sleep(d);
    assert!(
        first_poll(&mut s).is_pending(),
        "{label}: ready at its first poll"
    );
    assert_eq!(time::pending_sleeps(), base + 1, "{label}: not armed");
    // Let the timer thread run past any wrapped-around deadline: a sentinel sleep of 30 ms fires
    // after every deadline below it would have.
    within(10, || {
        futures::executor::block_on(time::sleep(Duration::from_millis(30)))
    });
    assert!(!s.is_elapsed(), "{label}: elapsed by the clock");
    assert!(first_poll(&mut s).is_pending(), "{label}: fired early");
    drop(s);
    assert_eq!(time::pending_sleeps(), base, "{label}: left an entry");
}

#[test]
fn duration_max_neither_panics_nor_fires() {
    let _g = serial();
    assert_never_fires("Duration::MAX", Duration::MAX);
    assert_never_fires("u64::MAX seconds", Duration::from_secs(u64::MAX));
}

#[test]
fn a_duration_just_past_u64_nanoseconds_does_not_wrap_to_a_short_one() {
    let _g = serial();
    // u64::MAX + 10 ms of nanoseconds: truncated to u64 it would be 10 ms.
    assert_never_fires(
        "2^64 ns + 10 ms",
        Duration::from_nanos(u64::MAX) + Duration::from_millis(10),
    );
}

#[test]
fn a_duration_that_overflows_only_once_added_to_the_clock_does_not_wrap() {
    let _g = serial();
    // Make sure the clock has run a while, so now + d overflows u64 nanoseconds.
    futures::executor::block_on(time::sleep(Duration::from_millis(5)));
    assert_never_fires("u64::MAX - 1 ns", Duration::from_nanos(u64::MAX - 1));
    assert_never_fires(
        "u64::MAX - 1 ms in ns",
        Duration::from_nanos(u64::MAX - 1_000_000),
    );
}

#[test]
fn instants_centuries_away_neither_panic_nor_fire() {
    let _g = serial();
    let base = time::pending_sleeps();
    for years in [1u64, 100, 584, 585, 1_000, 100_000] {
        let Some(far) = Instant::now().checked_add(Duration::from_secs(years * 365 * 24 * 3600))
        else {
            continue;
        };
        let mut s = time::sleep_until(far);
        assert!(
            first_poll(&mut s).is_pending(),
            "{years} years: ready at once"
        );
        let mut t = time::timeout_at(far, std::future::pending::<()>());
        assert!(
            Pin::new(&mut t)
                .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
                .is_pending(),
            "{years} years: the timeout elapsed at once"
        );
        futures::executor::block_on(time::sleep(Duration::from_millis(15)));
        assert!(
            first_poll(&mut s).is_pending(),
            "{years} years: fired early"
        );
        assert!(
            Pin::new(&mut t)
                .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
                .is_pending(),
            "{years} years: the timeout elapsed early"
        );
    }
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn a_timeout_of_duration_max_gives_the_output_in_a_pool_task() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let f = pool
        .submit_async(async {
            let a = time::timeout(Duration::MAX, async {
                time::sleep(Duration::from_millis(10)).await;
                1
            })
            .await;
            let b = time::timeout(Duration::from_nanos(u64::MAX - 1), async { 2 }).await;
            (a.ok(), b.ok())
        })
        .unwrap();
    assert_eq!(*f.result().unwrap(), (Some(1), Some(2)));
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn a_far_sleep_does_not_hold_back_a_near_one() {
    let _g = serial();
    let base = time::pending_sleeps();
    // The far sleep is armed first: the driver must still wake for the near one.
    let mut far = time::sleep(Duration::MAX);
    assert!(first_poll(&mut far).is_pending());
    let took = within(10, || {
        let start = Instant::now();
        futures::executor::block_on(time::sleep(Duration::from_millis(20)));
        start.elapsed()
    });
    assert!(took >= Duration::from_millis(20));
    drop(far);
    assert_eq!(time::pending_sleeps(), base);
}
