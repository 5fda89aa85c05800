//! Re-entrancy into one `timer::Timer` from the user code it calls: a waker woken by
//! `fire_due` that arms, polls, drops or fires sleeps of the same timer; a waker whose `clone`
//! or `drop` calls into the timer (during a poll, a re-poll that replaces it, a drop); an `arm`
//! function that calls back into the timer; a `now` function that does. None may deadlock (each
//! runs under a watchdog), lose a sleep a waker armed, or leave an entry behind.
#![cfg(not(feature = "loom"))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::time::Duration;

use betterconcurrent::timer::{Sleep, Timer};

/// Run `f` on its own thread; fail if it has not finished in `secs` seconds (a deadlock).
fn within<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
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

fn leak(timer: Timer) -> &'static Timer {
    Box::leak(Box::new(timer))
}

/// Runs its closure when woken.
struct OnWake(Mutex<Option<Box<dyn FnOnce() + Send>>>);
impl Wake for OnWake {
    fn wake(self: Arc<Self>) {
        if let Some(f) = self.0.lock().unwrap().take() {
            f()
        }
    }
}
fn on_wake(f: impl FnOnce() + Send + 'static) -> Waker {
    Waker::from(Arc::new(OnWake(Mutex::new(Some(Box::new(f))))))
}

#[test]
fn a_waker_that_arms_a_new_sleep_of_the_same_timer_from_fire_due() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    static ARMS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let timer = leak(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |d| ARMS.lock().unwrap().push(d),
    ));
    let rearmed: Arc<Mutex<Vec<Sleep<'static>>>> = Arc::default();
    // 200 sleeps at 10 (over three fire batches), each arming one for 15 when woken, and a
    // long-standing one at 100.
    let mut far = timer.sleep_until(100);
    assert!(poll_with(&mut far, futures::task::noop_waker_ref()).is_pending());
    let mut firsts: Vec<_> = (0..200)
        .map(|_| {
            let mut s = timer.sleep_until(10);
            let rearmed = rearmed.clone();
            let w = on_wake(move || {
                let mut next = timer.sleep_until(15);
                assert!(poll_with(&mut next, futures::task::noop_waker_ref()).is_pending());
                rearmed.lock().unwrap().push(next);
            });
            assert!(poll_with(&mut s, &w).is_pending());
            s
        })
        .collect();
    CLOCK.store(10, Ordering::SeqCst);
    ARMS.lock().unwrap().clear();
    let next = within(10, move || timer.fire_due());
    assert_eq!(rearmed.lock().unwrap().len(), 200, "every waker ran");
    assert_eq!(timer.pending(), 201);
    // The driver must learn about 15 one way or the other: from fire_due's answer, or an arm.
    let told = next
        .into_iter()
        .chain(ARMS.lock().unwrap().iter().copied())
        .min();
    assert_eq!(
        told,
        Some(15),
        "fire_due said {next:?}, arms {:?}",
        ARMS.lock().unwrap()
    );
    for s in &mut firsts {
        assert!(poll_with(s, futures::task::noop_waker_ref()).is_ready());
    }
    CLOCK.store(15, Ordering::SeqCst);
    assert_eq!(within(10, move || timer.fire_due()), Some(100));
    for s in rearmed.lock().unwrap().iter_mut() {
        assert!(poll_with(s, futures::task::noop_waker_ref()).is_ready());
    }
    rearmed.lock().unwrap().clear();
    drop(far);
    assert_eq!(timer.pending(), 0);
}

#[test]
fn a_waker_that_arms_an_already_due_sleep_is_not_lost() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    static ARMS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let timer = leak(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |d| ARMS.lock().unwrap().push(d),
    ));
    // The driver passes its own reading (20) while the timer's clock reads 10: a waker arms a
    // sleep for 12, which is due by the driver's reading but not by the clock.
    let woken = Arc::new(AtomicUsize::new(0));
    let held: Arc<Mutex<Option<Sleep<'static>>>> = Arc::default();
    let mut first = timer.sleep_until(5);
    let (held2, woken2) = (held.clone(), woken.clone());
    let w = on_wake(move || {
        let mut s = timer.sleep_until(12);
        let woken3 = woken2.clone();
        let w2 = on_wake(move || {
            woken3.fetch_add(1, Ordering::SeqCst);
        });
        assert!(poll_with(&mut s, &w2).is_pending());
        *held2.lock().unwrap() = Some(s);
    });
    assert!(poll_with(&mut first, &w).is_pending());
    CLOCK.store(10, Ordering::SeqCst);
    ARMS.lock().unwrap().clear();
    let next = within(10, move || timer.fire_until(20));
    // Either that same firing woke it, or the driver was told to come back by 12.
    let told = next
        .into_iter()
        .chain(ARMS.lock().unwrap().iter().copied())
        .min();
    assert!(
        woken.load(Ordering::SeqCst) == 1 || told.is_some_and(|t| t <= 12),
        "the re-armed sleep was neither fired nor announced: next {next:?}, arms {:?}",
        ARMS.lock().unwrap()
    );
    drop(held.lock().unwrap().take());
    assert_eq!(timer.pending(), 0);
}

#[test]
fn a_waker_that_drops_other_armed_sleeps_and_fires_again() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = leak(Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {}));
    // Sleeps due later that the waker drops; one due now that the waker polls itself, and
    // one more due now that the waker fires by calling fire_due re-entrantly.
    let victims: Arc<Mutex<Vec<Sleep<'static>>>> = Arc::default();
    for d in [50, 60, 70] {
        let mut s = timer.sleep_until(d);
        assert!(poll_with(&mut s, futures::task::noop_waker_ref()).is_pending());
        victims.lock().unwrap().push(s);
    }
    let me: Arc<Mutex<Option<Sleep<'static>>>> = Arc::default();
    let results = Arc::new(Mutex::new(Vec::new()));
    let (v2, me2, r2) = (victims.clone(), me.clone(), results.clone());
    let w = on_wake(move || {
        v2.lock().unwrap().clear(); // drops three armed sleeps
        r2.lock()
            .unwrap()
            .push(format!("pending {}", timer.pending()));
        let ready = poll_with(
            me2.lock().unwrap().as_mut().unwrap(),
            futures::task::noop_waker_ref(),
        )
        .is_ready();
        r2.lock().unwrap().push(format!("self ready {ready}"));
        let inner = timer.fire_due();
        r2.lock().unwrap().push(format!("inner fire {inner:?}"));
    });
    let mut s = timer.sleep_until(10);
    assert!(poll_with(&mut s, &w).is_pending());
    *me.lock().unwrap() = Some(s);
    let mut other = timer.sleep_until(10);
    let other_woken = Arc::new(AtomicUsize::new(0));
    let ow = other_woken.clone();
    let w2 = on_wake(move || {
        ow.fetch_add(1, Ordering::SeqCst);
    });
    assert!(poll_with(&mut other, &w2).is_pending());
    CLOCK.store(10, Ordering::SeqCst);
    let outer = within(10, move || timer.fire_due());
    // The answer may be one computed before the waker dropped the 50 (an early wake of the
    // driver is harmless); a later one would not be.
    assert!(matches!(outer, None | Some(50)), "{outer:?}");
    assert_eq!(timer.fire_due(), None);
    let r = results.lock().unwrap().clone();
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[1], "self ready true", "{r:?}");
    assert_eq!(
        other_woken.load(Ordering::SeqCst),
        1,
        "the other due sleep was woken once"
    );
    assert!(poll_with(&mut other, futures::task::noop_waker_ref()).is_ready());
    drop(me.lock().unwrap().take());
    assert_eq!(timer.pending(), 0);
}

// A waker whose clone, wake and drop call into the timer (through a static, as a waker has no
// arguments).
static HOOK_TIMER: OnceLock<&'static Timer> = OnceLock::new();
static HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

fn hook() {
    if let Some(t) = HOOK_TIMER.get() {
        let _ = t.pending();
        // Arm and drop a sleep of the same timer, far away.
        let mut s = t.sleep(1_000_000);
        let _ = poll_with(&mut s, futures::task::noop_waker_ref());
        drop(s);
        HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
    }
}
const VTABLE: RawWakerVTable = RawWakerVTable::new(
    |p| {
        hook();
        RawWaker::new(p, &VTABLE)
    },
    |_| hook(),
    |_| hook(),
    |_| hook(),
);
fn hooked_waker() -> Waker {
    // SAFETY: the vtable ignores its data pointer.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

#[test]
fn a_waker_whose_clone_wake_and_drop_call_into_the_timer() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = leak(Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {}));
    HOOK_TIMER.set(timer).unwrap();
    within(10, move || {
        let w = hooked_waker();
        // Poll (clones the waker), re-poll with another (drops the stored clone), drop.
        let mut a = timer.sleep_until(10);
        assert!(poll_with(&mut a, &w).is_pending());
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_pending());
        assert!(poll_with(&mut a, &w).is_pending());
        drop(a);
        // Poll, then fire (wakes, which drops).
        let mut b = timer.sleep_until(10);
        assert!(poll_with(&mut b, &w).is_pending());
        CLOCK.store(10, Ordering::SeqCst);
        assert_eq!(timer.fire_due(), None);
        assert!(poll_with(&mut b, &w).is_ready());
        // Poll, then the clock passes and the sleep is polled: it removes its own entry.
        let mut c = timer.sleep(5);
        assert!(poll_with(&mut c, &w).is_pending());
        CLOCK.store(20, Ordering::SeqCst);
        assert!(poll_with(&mut c, futures::task::noop_waker_ref()).is_ready());
        drop(w);
    });
    assert!(HOOK_CALLS.load(Ordering::SeqCst) >= 3);
    assert_eq!(timer.pending(), 0);
}

static ARM_TIMER: OnceLock<&'static Timer> = OnceLock::new();
static ARM_SAW: Mutex<Vec<(u64, usize)>> = Mutex::new(Vec::new());

#[test]
fn an_arm_function_that_calls_back_into_the_timer() {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = leak(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |d| {
            let t = ARM_TIMER.get().unwrap();
            let pending = t.pending();
            // A driver that fires inline from arm.
            let _ = t.fire_due();
            ARM_SAW.lock().unwrap().push((d, pending));
        },
    ));
    ARM_TIMER.set(timer).unwrap();
    within(10, move || {
        let mut a = timer.sleep_until(10);
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_pending());
        let mut b = timer.sleep_until(5);
        assert!(poll_with(&mut b, futures::task::noop_waker_ref()).is_pending());
        CLOCK.store(10, Ordering::SeqCst);
        assert_eq!(timer.fire_due(), None);
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_ready());
        assert!(poll_with(&mut b, futures::task::noop_waker_ref()).is_ready());
    });
    let saw = ARM_SAW.lock().unwrap().clone();
    assert_eq!(
        saw,
        vec![(10, 1), (5, 2)],
        "arm runs after the entry is in the map"
    );
    assert_eq!(timer.pending(), 0);
}

static NOW_TIMER: OnceLock<&'static Timer> = OnceLock::new();
static NOW_CLOCK: AtomicU64 = AtomicU64::new(0);

/// The docs promise that no user code runs under the timer's lock; `now` is user code too. A
/// clock that consults the timer (here: `pending()`; in a program, a clock behind a lock that
/// a thread holds while it arms a sleep) must not deadlock.
#[test]
fn a_now_function_that_calls_back_into_the_timer() {
    let timer = leak(Timer::new(
        || {
            if let Some(t) = NOW_TIMER.get() {
                let _ = t.pending();
            }
            NOW_CLOCK.load(Ordering::SeqCst)
        },
        |_| {},
    ));
    NOW_TIMER.set(timer).unwrap();
    within(5, move || {
        let mut a = timer.sleep(10);
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_pending());
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_pending());
        NOW_CLOCK.store(10, Ordering::SeqCst);
        assert_eq!(timer.fire_due(), None);
        assert!(poll_with(&mut a, futures::task::noop_waker_ref()).is_ready());
        let mut t = timer.timeout(5, std::future::pending::<()>());
        assert!(poll_with(&mut t, futures::task::noop_waker_ref()).is_pending());
        NOW_CLOCK.store(20, Ordering::SeqCst);
        assert!(poll_with(&mut t, futures::task::noop_waker_ref()).is_ready());
    });
    assert_eq!(timer.pending(), 0);
}
