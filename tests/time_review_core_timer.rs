//! The no_std `timer::Timer` on a clock advanced by hand: deadlines fire in (deadline, arming)
//! order across more than one `FIRE_BATCH`, `fire_due` wakes every due sleep and returns the
//! next deadline, `arm` is called whenever a driver would otherwise miss a sleep (checked with a
//! simulated driver that only wakes when told), re-polling with another waker moves the wake,
//! a sleep is ready again after it was ready, huge tick counts saturate instead of wrapping,
//! a clock that goes backwards never makes a sleep early, and `Timeout` polls its future first,
//! drops it exactly once, and leaves no entry behind.
#![cfg(not(feature = "loom"))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use betterconcurrent::timer::{Elapsed, Timer, FIRE_BATCH};

/// Counts its wakes, and logs `id` into a shared log when woken.
struct Probe {
    id: usize,
    wakes: AtomicUsize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(self.id);
    }
}

fn probe(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> (Arc<Probe>, Waker) {
    let p = Arc::new(Probe {
        id,
        wakes: AtomicUsize::new(0),
        log: log.clone(),
    });
    (p.clone(), Waker::from(p))
}

fn poll_with<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// A tiny deterministic generator, so the tests need no crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn deadline_and_arming_order_hold_across_several_fire_batches() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut rng = Lcg(7);
    let n = FIRE_BATCH * 5 + 3;
    let deadlines: Vec<u64> = (0..n).map(|_| 1 + rng.next() % 20).collect();
    let mut sleeps = Vec::new();
    let mut probes = Vec::new();
    for (id, &d) in deadlines.iter().enumerate() {
        let mut s = timer.sleep_until(d);
        let (p, w) = probe(id, &log);
        assert!(poll_with(&mut s, &w).is_pending());
        sleeps.push(s);
        probes.push((p, w));
    }
    assert_eq!(timer.pending(), n);
    CLOCK.store(1000, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None, "every sleep was due");
    assert_eq!(timer.pending(), 0);
    let fired = log.lock().unwrap().clone();
    assert_eq!(
        fired.len(),
        n,
        "one fire_due wakes every due sleep, not one batch"
    );
    let mut expected: Vec<usize> = (0..n).collect();
    expected.sort_by_key(|&id| (deadlines[id], id));
    assert_eq!(fired, expected, "fired in (deadline, arming) order");
    for (p, _) in &probes {
        assert_eq!(p.wakes.load(Ordering::SeqCst), 1);
    }
    for s in &mut sleeps {
        assert!(poll_with(s, futures::task::noop_waker_ref()).is_ready());
    }
}

#[test]
fn fire_until_fires_only_what_is_due_and_returns_the_next_deadline() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut sleeps: Vec<_> = [30u64, 10, 20, 10]
        .iter()
        .map(|&d| timer.sleep_until(d))
        .collect();
    let wakers: Vec<_> = (0..4).map(|i| probe(i, &log)).collect();
    for (s, (_, w)) in sleeps.iter_mut().zip(&wakers) {
        assert!(poll_with(s, w).is_pending());
    }
    assert_eq!(timer.fire_until(9), Some(10));
    assert!(log.lock().unwrap().is_empty(), "nothing is due at 9");
    assert_eq!(timer.fire_until(10), Some(20));
    assert_eq!(*log.lock().unwrap(), vec![1, 3]);
    assert_eq!(timer.pending(), 2);
    assert_eq!(timer.fire_until(25), Some(30));
    assert_eq!(timer.fire_until(u64::MAX), None);
    assert_eq!(*log.lock().unwrap(), vec![1, 3, 2, 0]);
    assert_eq!(timer.pending(), 0);
}

#[test]
fn arm_is_called_for_the_first_sleep_for_earlier_ones_and_again_after_the_map_emptied() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    static ARMS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let timer = Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |d| ARMS.lock().unwrap().push(d),
    );
    let arms = || ARMS.lock().unwrap().clone();
    let mut a = timer.sleep_until(50);
    assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_pending());
    assert!(
        arms().contains(&50),
        "the first sleep must arm the driver: {:?}",
        arms()
    );
    let mut b = timer.sleep_until(20);
    assert!(poll_with(&mut b, futures::task::noop_waker_ref()).is_pending());
    assert!(
        arms().contains(&20),
        "an earlier sleep must re-arm: {:?}",
        arms()
    );
    // The driver fires at 20 and is told 50.
    CLOCK.store(20, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), Some(50));
    let mut c = timer.sleep_until(30);
    assert!(poll_with(&mut c, futures::task::noop_waker_ref()).is_pending());
    assert!(
        arms().contains(&30),
        "earlier than the driver's 50: {:?}",
        arms()
    );
    CLOCK.store(100, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None);
    // The driver now sleeps with nothing to wait for: the next sleep must tell it.
    let mut d = timer.sleep_until(500);
    assert!(poll_with(&mut d, futures::task::noop_waker_ref()).is_pending());
    assert!(arms().contains(&500), "after the map emptied: {:?}", arms());
    // Dropping the only sleep, then arming a later one, must still arm the driver (the driver
    // may have been told nothing new since it last woke).
    drop(d);
    assert_eq!(timer.pending(), 0);
    assert_eq!(timer.fire_due(), None);
    let mut e = timer.sleep_until(600);
    assert!(poll_with(&mut e, futures::task::noop_waker_ref()).is_pending());
    assert!(
        arms().contains(&600),
        "after a drop emptied it: {:?}",
        arms()
    );
    drop((a, b, c, e));
    assert_eq!(timer.pending(), 0);
}

/// A driver that only wakes at the deadline `fire_due` returned or at an `arm`, advancing the
/// clock straight there, never misses a sleep, and never sees one complete early.
#[test]
fn a_driver_that_wakes_only_when_told_never_misses_a_sleep() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    static NEXT_ARM: AtomicU64 = AtomicU64::new(u64::MAX);
    let timer = Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |d| {
            NEXT_ARM.fetch_min(d, Ordering::SeqCst);
        },
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut rng = Lcg(99);
    let mut live: Vec<(usize, betterconcurrent::timer::Sleep<'_>, Arc<Probe>, Waker)> = Vec::new();
    let mut driver_next: Option<u64> = None;
    let mut id = 0;
    for _step in 0..20_000 {
        match rng.next() % 10 {
            0..=4 => {
                // Arm a sleep.
                let ticks = rng.next() % 50;
                let mut s = timer.sleep(ticks);
                let (p, w) = probe(id, &log);
                id += 1;
                if poll_with(&mut s, &w).is_pending() {
                    live.push((id, s, p, w));
                } else {
                    assert!(CLOCK.load(Ordering::SeqCst) >= s.deadline());
                }
            }
            5 if !live.is_empty() => {
                // Drop one.
                let i = (rng.next() as usize) % live.len();
                drop(live.swap_remove(i));
            }
            6 if !live.is_empty() => {
                // Re-poll one with a fresh waker.
                let i = (rng.next() as usize) % live.len();
                let (p, w) = probe(live[i].0, &log);
                let ready = poll_with(&mut live[i].1, &w).is_ready();
                live[i].2 = p;
                live[i].3 = w;
                if ready {
                    assert!(CLOCK.load(Ordering::SeqCst) >= live[i].1.deadline());
                    drop(live.swap_remove(i));
                }
            }
            _ => {
                // The driver wakes at the earliest time it was told of.
                let armed = NEXT_ARM.swap(u64::MAX, Ordering::SeqCst);
                let target = driver_next.unwrap_or(u64::MAX).min(armed);
                if target == u64::MAX {
                    // Told nothing: every live sleep would be lost.
                    assert!(
                        live.is_empty(),
                        "the driver was told nothing but {} sleeps are armed",
                        live.len()
                    );
                    continue;
                }
                let now = CLOCK.load(Ordering::SeqCst).max(target);
                CLOCK.store(now, Ordering::SeqCst);
                driver_next = timer.fire_due();
                // Every woken sleep is ready now, and only due ones were woken.
                live.retain_mut(|(_, s, p, _)| {
                    if p.wakes.load(Ordering::SeqCst) > 0 {
                        assert!(now >= s.deadline(), "woken before its deadline");
                        assert!(poll_with(s, futures::task::noop_waker_ref()).is_ready());
                        false
                    } else {
                        assert!(now < s.deadline(), "a due sleep was not woken");
                        true
                    }
                });
            }
        }
        assert_eq!(timer.pending(), live.len());
    }
}

#[test]
fn a_sleep_repolled_with_another_waker_wakes_the_new_one_only_once() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let (old, old_w) = probe(1, &log);
    let (new, new_w) = probe(2, &log);
    let mut s = timer.sleep(5);
    assert!(poll_with(&mut s, &old_w).is_pending());
    assert!(poll_with(&mut s, &old_w).is_pending());
    assert_eq!(timer.pending(), 1, "polling twice does not arm twice");
    assert!(poll_with(&mut s, &new_w).is_pending());
    assert_eq!(timer.pending(), 1);
    CLOCK.store(5, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None);
    assert_eq!(
        new.wakes.load(Ordering::SeqCst),
        1,
        "the latest waker is woken"
    );
    assert_eq!(
        old.wakes.load(Ordering::SeqCst),
        0,
        "the replaced waker is not"
    );
    assert!(poll_with(&mut s, &new_w).is_ready());
    assert!(
        poll_with(&mut s, &new_w).is_ready(),
        "ready again after ready"
    );
    assert_eq!(timer.pending(), 0);
}

#[test]
fn a_sleep_polled_after_its_deadline_before_the_driver_removes_itself() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let (p, w) = probe(0, &log);
    let mut s = timer.sleep(3);
    assert!(!s.is_elapsed());
    assert!(poll_with(&mut s, &w).is_pending());
    CLOCK.store(3, Ordering::SeqCst);
    assert!(s.is_elapsed());
    assert!(poll_with(&mut s, &w).is_ready());
    assert_eq!(timer.pending(), 0);
    assert_eq!(timer.fire_due(), None);
    assert_eq!(
        p.wakes.load(Ordering::SeqCst),
        0,
        "its entry was gone before the fire"
    );
}

#[test]
fn zero_and_past_deadlines_are_ready_at_once_and_arm_nothing() {
    static CLOCK: AtomicU64 = AtomicU64::new(100);
    static ARMED: AtomicUsize = AtomicUsize::new(0);
    let timer = Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |_| {
            ARMED.fetch_add(1, Ordering::SeqCst);
        },
    );
    let mut a = timer.sleep(0);
    let mut b = timer.sleep_until(0);
    let mut c = timer.sleep_until(100);
    for s in [&mut a, &mut b, &mut c] {
        assert!(poll_with(s, futures::task::noop_waker_ref()).is_ready());
    }
    assert_eq!(timer.pending(), 0);
    assert_eq!(ARMED.load(Ordering::SeqCst), 0);
    let mut t = timer.timeout(0, std::future::pending::<()>());
    assert_eq!(
        poll_with(&mut t, futures::task::noop_waker_ref()),
        Poll::Ready(Err(Elapsed))
    );
    let mut t = timer.timeout(0, std::future::ready(7));
    assert_eq!(
        poll_with(&mut t, futures::task::noop_waker_ref()),
        Poll::Ready(Ok(7))
    );
    assert_eq!(timer.pending(), 0);
}

#[test]
fn huge_tick_counts_saturate_instead_of_wrapping_around() {
    static CLOCK: AtomicU64 = AtomicU64::new(1_000);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let mut s = timer.sleep(u64::MAX);
    assert!(
        s.deadline() >= 1_000,
        "now + u64::MAX wrapped to {}",
        s.deadline()
    );
    assert!(!s.is_elapsed());
    assert!(
        poll_with(&mut s, futures::task::noop_waker_ref()).is_pending(),
        "a sleep of u64::MAX ticks completed at once"
    );
    let mut s2 = timer.sleep(u64::MAX - 500);
    assert!(
        poll_with(&mut s2, futures::task::noop_waker_ref()).is_pending(),
        "u64::MAX - 500 wrapped"
    );
    let mut t = timer.timeout(u64::MAX, std::future::pending::<()>());
    assert!(
        poll_with(&mut t, futures::task::noop_waker_ref()).is_pending(),
        "a timeout of u64::MAX ticks elapsed at once"
    );
    assert_eq!(timer.pending(), 3);
    // Far in the future but still finite: fire_until(u64::MAX - 1) leaves the saturated ones.
    CLOCK.store(u64::MAX - 1, Ordering::SeqCst);
    let _ = timer.fire_until(u64::MAX - 1);
    drop((s, s2, t));
    assert_eq!(timer.pending(), 0);
    // A deadline of exactly u64::MAX fires when the clock gets there.
    let mut m = timer.sleep_until(u64::MAX);
    assert!(poll_with(&mut m, futures::task::noop_waker_ref()).is_pending());
    assert_eq!(timer.fire_until(u64::MAX - 1), Some(u64::MAX));
    assert_eq!(timer.fire_until(u64::MAX), None);
    assert!(poll_with(&mut m, futures::task::noop_waker_ref()).is_ready());
}

#[test]
fn a_clock_that_goes_backwards_never_makes_a_sleep_early_or_unready() {
    static CLOCK: AtomicU64 = AtomicU64::new(100);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let (p, w) = probe(0, &log);
    let mut s = timer.sleep(10);
    assert_eq!(s.deadline(), 110);
    CLOCK.store(50, Ordering::SeqCst);
    assert!(poll_with(&mut s, &w).is_pending());
    assert_eq!(timer.fire_due(), Some(110));
    assert_eq!(p.wakes.load(Ordering::SeqCst), 0);
    CLOCK.store(110, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None);
    assert_eq!(p.wakes.load(Ordering::SeqCst), 1);
    CLOCK.store(0, Ordering::SeqCst);
    assert!(
        poll_with(&mut s, &w).is_ready(),
        "a fired sleep polled after the clock went back must stay ready"
    );
    // Ready by the clock at its first poll, then the clock goes back: still ready.
    CLOCK.store(500, Ordering::SeqCst);
    let mut r = timer.sleep_until(400);
    assert!(poll_with(&mut r, &w).is_ready());
    CLOCK.store(0, Ordering::SeqCst);
    assert!(poll_with(&mut r, &w).is_ready(), "ready again after ready");
    assert_eq!(timer.pending(), 0);
}

/// Ready after `polls_left` polls; counts drops.
struct Countdown {
    polls_left: usize,
    dropped: Arc<AtomicUsize>,
}
impl Future for Countdown {
    type Output = &'static str;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<&'static str> {
        if self.polls_left == 0 {
            Poll::Ready("done")
        } else {
            self.polls_left -= 1;
            Poll::Pending
        }
    }
}
impl Drop for Countdown {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn timeout_polls_its_future_first_and_drops_it_exactly_once() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let (p, w) = probe(0, &log);

    // Ready at the very poll at which the deadline has come: the future wins.
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut t = timer.timeout(
        10,
        Countdown {
            polls_left: 1,
            dropped: dropped.clone(),
        },
    );
    assert!(poll_with(&mut t, &w).is_pending());
    assert_eq!(timer.pending(), 1);
    CLOCK.store(10, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None);
    assert_eq!(
        p.wakes.load(Ordering::SeqCst),
        1,
        "the deadline wakes the timeout's task"
    );
    assert_eq!(poll_with(&mut t, &w), Poll::Ready(Ok("done")));
    drop(t);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(timer.pending(), 0);

    // Never ready: Elapsed, the future dropped once, no entry.
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut t = timer.timeout(
        5,
        Countdown {
            polls_left: usize::MAX,
            dropped: dropped.clone(),
        },
    );
    assert!(poll_with(&mut t, &w).is_pending());
    CLOCK.store(15, Ordering::SeqCst);
    assert_eq!(poll_with(&mut t, &w), Poll::Ready(Err(Elapsed)));
    drop(t);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(timer.pending(), 0);

    // Given up with into_inner after it armed: the entry goes, the future comes back whole.
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut t = timer.timeout(
        5,
        Countdown {
            polls_left: 3,
            dropped: dropped.clone(),
        },
    );
    assert!(poll_with(&mut t, &w).is_pending());
    assert_eq!(t.get_ref().polls_left, 2);
    assert_eq!(timer.pending(), 1);
    let inner = t.into_inner();
    assert_eq!(timer.pending(), 0, "into_inner leaves no entry");
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    assert_eq!(inner.polls_left, 2);
    drop(inner);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn timeouts_of_sleeps_on_the_same_timer_race_in_deadline_order() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let mut wins = timer.timeout(10, timer.sleep(5));
    let mut loses = timer.timeout(5, timer.sleep(10));
    assert!(poll_with(&mut wins, futures::task::noop_waker_ref()).is_pending());
    assert!(poll_with(&mut loses, futures::task::noop_waker_ref()).is_pending());
    assert_eq!(timer.pending(), 4);
    CLOCK.store(7, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), Some(10));
    assert_eq!(
        poll_with(&mut wins, futures::task::noop_waker_ref()),
        Poll::Ready(Ok(()))
    );
    assert_eq!(
        poll_with(&mut loses, futures::task::noop_waker_ref()),
        Poll::Ready(Err(Elapsed))
    );
    drop((wins, loses));
    assert_eq!(timer.pending(), 0);
}

#[test]
fn two_timers_keep_separate_books() {
    static CLOCK_A: AtomicU64 = AtomicU64::new(0);
    static CLOCK_B: AtomicU64 = AtomicU64::new(0);
    static B_ARMED: AtomicBool = AtomicBool::new(false);
    let a = Timer::new(|| CLOCK_A.load(Ordering::SeqCst), |_| {});
    let b = Timer::new(
        || CLOCK_B.load(Ordering::SeqCst),
        |_| B_ARMED.store(true, Ordering::SeqCst),
    );
    let mut sa = a.sleep(5);
    assert!(poll_with(&mut sa, futures::task::noop_waker_ref()).is_pending());
    assert_eq!((a.pending(), b.pending()), (1, 0));
    assert!(!B_ARMED.load(Ordering::SeqCst));
    CLOCK_B.store(100, Ordering::SeqCst);
    assert_eq!(b.fire_due(), None);
    assert_eq!(a.pending(), 1, "b's clock does not fire a's sleeps");
    drop(sa);
    assert_eq!(a.pending(), 0);
}

#[test]
fn sleep_and_timeout_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<betterconcurrent::timer::Sleep<'static>>();
    send_sync::<Timer>();
    send::<betterconcurrent::timer::Timeout<'static, std::future::Pending<u8>>>();
    send_sync::<Elapsed>();
}

/// `fire_until` takes the caller's reading of the clock, which may be ahead of `now` (a driver
/// that reads a hardware counter, a timer whose `now` lags it). A sleep it fired is ready, and,
/// as the docs promise, ready again when polled again: it must not arm a second time.
#[test]
fn a_sleep_fired_by_fire_until_ahead_of_the_clock_stays_ready() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let (p, w) = probe(0, &log);
    let mut s = timer.sleep_until(10);
    assert!(poll_with(&mut s, &w).is_pending());
    assert_eq!(timer.fire_until(10), None);
    assert_eq!(p.wakes.load(Ordering::SeqCst), 1);
    assert!(poll_with(&mut s, &w).is_ready(), "fired: ready");
    assert!(poll_with(&mut s, &w).is_ready(), "ready again after ready");
    assert_eq!(timer.pending(), 0, "the ready sleep armed itself again");
}
