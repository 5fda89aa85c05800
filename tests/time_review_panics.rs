//! Panics in the user code a `timer::Timer` calls, and in the futures it runs: a waker that
//! panics when `fire_due` wakes it (the other due sleeps must still be woken, by that call or
//! the driver's next one), a waker whose `clone` panics during a poll, an `arm` or `now` that
//! panics, and a future inside `timeout` that panics. Afterwards the timer must still work (no
//! lock left held), and dropping every sleep must bring `pending()` back to zero.
#![cfg(not(feature = "loom"))]

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::time::Duration;

use betterconcurrent::timer::{Timer, FIRE_BATCH};

fn within<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("DEADLOCK: did not finish within {secs} s"),
    }
}

fn poll_with<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.to_string();
            if !msg.contains("test panic") {
                default(info)
            }
        }));
    });
}

struct Counter(AtomicUsize);
impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Panicker;
impl Wake for Panicker {
    fn wake(self: Arc<Self>) {
        panic!("test panic: waker");
    }
}

/// A panicking waker among due sleeps: every other due sleep is woken, by that call to
/// `fire_due` or by the next one (the driver's retry); none is silently dropped.
fn panicking_waker_among(
    clock: &'static AtomicU64,
    now: fn() -> u64,
    n_before: usize,
    n_after: usize,
) {
    quiet_panics();
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(now, |_| {})));
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    let good = Waker::from(counter.clone());
    let bad = Waker::from(Arc::new(Panicker));
    let mut sleeps = Vec::new();
    for i in 0..n_before + 1 + n_after {
        let mut s = timer.sleep_until(10);
        let w = if i == n_before { &bad } else { &good };
        assert!(poll_with(&mut s, w).is_pending());
        sleeps.push(s);
    }
    // A later sleep, to see the driver is still told about it.
    let mut later = timer.sleep_until(50);
    assert!(poll_with(&mut later, &good).is_pending());
    clock.store(10, Ordering::SeqCst);
    // The waker's panic may reach the driver or be caught by the timer: either way is fine.
    let _first = within(10, move || {
        catch_unwind(AssertUnwindSafe(|| timer.fire_due()))
    });
    let second = within(10, move || {
        catch_unwind(AssertUnwindSafe(|| timer.fire_due()))
    });
    let woken = counter.0.load(Ordering::SeqCst);
    assert_eq!(
        woken,
        n_before + n_after,
        "{} of the {} other due sleeps were never woken (second fire: {:?})",
        n_before + n_after - woken,
        n_before + n_after,
        second.as_ref().ok()
    );
    assert_eq!(second.ok().flatten(), Some(50));
    for s in &mut sleeps {
        assert!(poll_with(s, futures::task::noop_waker_ref()).is_ready());
    }
    drop(sleeps);
    drop(later);
    assert_eq!(timer.pending(), 0);
}

#[test]
fn a_panicking_waker_first_in_a_batch_does_not_lose_the_others() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    panicking_waker_among(&CLOCK, || CLOCK.load(Ordering::SeqCst), 0, 5);
}

#[test]
fn a_panicking_waker_mid_batch_does_not_lose_the_others() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    panicking_waker_among(&CLOCK, || CLOCK.load(Ordering::SeqCst), 3, 3);
}

#[test]
fn a_panicking_waker_across_batches_does_not_lose_the_others() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    panicking_waker_among(
        &CLOCK,
        || CLOCK.load(Ordering::SeqCst),
        FIRE_BATCH / 2,
        FIRE_BATCH * 2,
    );
}

static CLONE_PANICS: AtomicBool = AtomicBool::new(false);
const VTABLE: RawWakerVTable = RawWakerVTable::new(
    |p| {
        if CLONE_PANICS.load(Ordering::SeqCst) {
            panic!("test panic: waker clone");
        }
        RawWaker::new(p, &VTABLE)
    },
    |_| {},
    |_| {},
    |_| {},
);

#[test]
fn a_waker_whose_clone_panics_leaves_the_timer_usable() {
    quiet_panics();
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |_| {},
    )));
    // SAFETY: the vtable ignores the data pointer.
    let bad = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    CLONE_PANICS.store(true, Ordering::SeqCst);
    within(10, move || {
        // First poll (arming) and a re-poll (replacing the waker) with the panicking clone.
        let mut a = timer.sleep_until(10);
        let r = catch_unwind(AssertUnwindSafe(|| poll_with(&mut a, &bad)));
        assert!(r.is_err());
        let mut b = timer.sleep_until(10);
        assert!(poll_with(&mut b, futures::task::noop_waker_ref()).is_pending());
        let r = catch_unwind(AssertUnwindSafe(|| poll_with(&mut b, &bad)));
        assert!(r.is_err());
        // The timer still works, and a sleep polled again with a good waker is woken.
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let good = Waker::from(counter.clone());
        assert!(poll_with(&mut a, &good).is_pending());
        assert!(poll_with(&mut b, &good).is_pending());
        CLOCK.store(10, Ordering::SeqCst);
        assert_eq!(timer.fire_due(), None);
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        drop((a, b));
        // Arming with the bad waker, then dropping.
        let mut c = timer.sleep(5);
        let _ = catch_unwind(AssertUnwindSafe(|| poll_with(&mut c, &bad)));
        drop(c);
    });
    CLONE_PANICS.store(false, Ordering::SeqCst);
    assert_eq!(timer.pending(), 0, "an entry was left behind");
}

static ARM_PANICS: AtomicBool = AtomicBool::new(false);

#[test]
fn an_arm_that_panics_leaves_no_entry_behind() {
    quiet_panics();
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |_| {
            if ARM_PANICS.load(Ordering::SeqCst) {
                panic!("test panic: arm");
            }
        },
    )));
    ARM_PANICS.store(true, Ordering::SeqCst);
    within(10, move || {
        let mut a = timer.sleep_until(10);
        let r = catch_unwind(AssertUnwindSafe(|| {
            poll_with(&mut a, futures::task::noop_waker_ref())
        }));
        assert!(r.is_err(), "arm was not called for the first sleep");
        drop(a);
        assert_eq!(
            timer.pending(),
            0,
            "the sleep whose arm panicked left its entry"
        );
    });
}

static ARM_PANICS_2: AtomicBool = AtomicBool::new(false);

#[test]
fn a_sleep_whose_arm_panicked_arms_once_and_completes_when_polled_again() {
    quiet_panics();
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |_| {
            if ARM_PANICS_2.load(Ordering::SeqCst) {
                panic!("test panic: arm");
            }
        },
    )));
    ARM_PANICS_2.store(true, Ordering::SeqCst);
    within(10, move || {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let good = Waker::from(counter.clone());
        let mut b = timer.sleep_until(5);
        let r = catch_unwind(AssertUnwindSafe(|| poll_with(&mut b, &good)));
        assert!(r.is_err());
        ARM_PANICS_2.store(false, Ordering::SeqCst);
        assert!(poll_with(&mut b, &good).is_pending());
        assert_eq!(timer.pending(), 1, "the re-poll armed a second entry");
        CLOCK.store(5, Ordering::SeqCst);
        assert_eq!(timer.fire_due(), None);
        assert!(counter.0.load(Ordering::SeqCst) >= 1, "never woken");
        assert!(poll_with(&mut b, &good).is_ready());
        drop(b);
        assert_eq!(timer.pending(), 0);
    });
}

static NOW_PANICS: AtomicBool = AtomicBool::new(false);
static NOW_CLOCK: AtomicU64 = AtomicU64::new(0);

#[test]
fn a_now_that_panics_leaves_the_timer_usable() {
    quiet_panics();
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(
        || {
            if NOW_PANICS.load(Ordering::SeqCst) {
                panic!("test panic: now");
            }
            NOW_CLOCK.load(Ordering::SeqCst)
        },
        |_| {},
    )));
    within(10, move || {
        let mut a = timer.sleep(10);
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_pending());
        NOW_PANICS.store(true, Ordering::SeqCst);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            poll_with(&mut a, futures::task::noop_waker_ref())
        }));
        let _ = catch_unwind(AssertUnwindSafe(|| timer.fire_due()));
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let mut b = timer.sleep(3);
            let _ = poll_with(&mut b, futures::task::noop_waker_ref());
        }));
        NOW_PANICS.store(false, Ordering::SeqCst);
        assert_eq!(timer.pending(), 1);
        NOW_CLOCK.store(10, Ordering::SeqCst);
        assert_eq!(timer.fire_due(), None);
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_ready());
    });
    assert_eq!(timer.pending(), 0);
}

#[test]
fn a_future_that_panics_inside_timeout_leaves_no_entry() {
    quiet_panics();
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |_| {},
    )));
    let mut polls = 0;
    let inner = std::future::poll_fn(move |_| {
        polls += 1;
        if polls == 2 {
            panic!("test panic: inner future");
        }
        Poll::<()>::Pending
    });
    let mut t = Box::pin(timer.timeout(10, inner));
    assert!(t
        .as_mut()
        .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
        .is_pending());
    assert_eq!(timer.pending(), 1);
    let r = catch_unwind(AssertUnwindSafe(|| {
        t.as_mut()
            .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
    }));
    assert!(r.is_err());
    drop(t);
    assert_eq!(timer.pending(), 0);
    // And from inside an async block unwinding.
    let mut f = Box::pin(async move {
        let _ = timer.timeout(10, timer.sleep(3)).await;
        let mut armed = timer.sleep(100);
        let _ = futures::poll!(&mut armed);
        let t = timer.timeout(100, async {
            timer.sleep(50).await;
        });
        let _ = futures::poll!(Box::pin(t));
        panic!("test panic: async body");
    });
    assert!(f
        .as_mut()
        .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
        .is_pending());
    CLOCK.store(3, Ordering::SeqCst);
    let r = catch_unwind(AssertUnwindSafe(|| {
        f.as_mut()
            .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
    }));
    assert!(r.is_err());
    drop(f);
    assert_eq!(timer.pending(), 0);
}
