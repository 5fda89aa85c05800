//! Time for futures: a [`Timer`] holds every pending [`Sleep`] of one clock, and [`Timeout`]
//! races a future against one.
//!
//! The core has no clock of its own. A timer is made with two functions: `now`, which reads the
//! clock in ticks (the `std` crate's timer counts nanoseconds of `Instant`; a firmware counts its
//! SysTick interrupts), and `arm`, which the timer calls when a sleep was armed earlier than any
//! other, so that whoever drives the timer wakes by then (the `std` crate unparks its timer
//! thread; a firmware whose tick interrupt drives it does nothing). The driver calls
//! [`Timer::fire_due`], which wakes every sleep whose deadline has come and says when the next
//! one is due.
//!
//! # The protocol
//!
//! All pending sleeps are one ordered map, `(deadline, sequence) -> waker`, under one short lock
//! (`sync::Mutex`; no user code runs under it: wakers are cloned before and woken or dropped
//! after it). The sequence number is unique per arming, so two sleeps with one deadline fire in
//! the order they were armed, and an entry's key names it for good (never reused).
//! - *Arming* (a sleep's first poll before its deadline) inserts the entry; if its deadline is
//!   earlier than the one the driver last said it wakes for (`driver_wakes_at`), that is lowered
//!   under the lock and `arm` is called after it.
//! - *Firing* removes due entries under the lock, in batches of [`FIRE_BATCH`] so the lock is
//!   never held for long, wakes them after releasing it, and with the last batch records the
//!   next deadline as `driver_wakes_at`. A fired entry is gone from the map, so a sleep that
//!   finds its key missing has fired, and returns `Ready` (ownership of "did it fire" is the
//!   map's; no flag per sleep).
//! - *Polling again* replaces the entry's waker if it would wake another task; a sleep polled
//!   after its deadline (before the driver came) removes its own entry and is `Ready`.
//! - *Dropping* an armed sleep removes its entry, if it is still there, so a dropped sleep
//!   leaves nothing behind.
//!
//! A firing racing a drop is one of the two under the lock: the fire takes the waker (and wakes
//! a task that no longer waits: harmless), or the drop removes the entry first. Model:
//! `tests/loom_timer.rs`.
//!
//! Why an ordered map and not a hierarchical timing wheel (tokio's): the map is exact (a sleep
//! fires in deadline order, with no slot granularity to round to), frees its memory as entries
//! leave (nothing is kept after a burst of sleeps), needs no periodic tick to advance levels,
//! and costs O(log n) per arming, which BENCHMARKS.md's 100,000-sleeps run measures against
//! tokio's wheel.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::future::IntoFuture;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::error::Error;
use crate::panic;
use crate::sync::Mutex;

/// How many due sleeps one firing takes from the map per hold of its lock.
pub const FIRE_BATCH: usize = 64;

/// The key of an armed sleep: its deadline, then the order of arming.
type Key = (u64, u64);

/// Every pending sleep of one clock (see the module docs for the protocol).
///
/// ```
/// # use core::future::Future as _;
/// use betterconcurrent_core::timer::Timer;
/// use core::sync::atomic::{AtomicU64, Ordering};
///
/// // A clock advanced by hand (a firmware advances it from its tick interrupt).
/// static TICKS: AtomicU64 = AtomicU64::new(0);
/// let timer = Timer::new(|| TICKS.load(Ordering::Acquire), |_deadline| {});
///
/// # struct Noop;
/// # impl std::task::Wake for Noop { fn wake(self: std::sync::Arc<Self>) {} }
/// let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
/// let mut cx = core::task::Context::from_waker(&waker);
/// let mut sleep = Box::pin(timer.sleep(3));
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// assert_eq!(timer.pending(), 1);
///
/// TICKS.store(3, Ordering::Release);
/// assert_eq!(timer.fire_due(), None); // nothing else is armed
/// assert!(sleep.as_mut().poll(&mut cx).is_ready());
/// assert_eq!(timer.pending(), 0);
/// ```
pub struct Timer {
    now: fn() -> u64,
    arm: fn(u64),
    pending: Mutex<Pending>,
}

/// What the timer's lock guards.
struct Pending {
    entries: BTreeMap<Key, Waker>,
    next_sequence: u64,
    /// The deadline the driver was last told (or said) it wakes for; `None`: it sleeps until
    /// armed.
    driver_wakes_at: Option<u64>,
}

impl Timer {
    /// A timer on the clock `now` (in ticks); `arm(deadline)` is called when a sleep is armed
    /// earlier than every other, so that the driver calls [`fire_due`](Self::fire_due) by then.
    pub fn new(now: fn() -> u64, arm: fn(u64)) -> Self {
        Self {
            now,
            arm,
            pending: Mutex::new(Pending {
                entries: BTreeMap::new(),
                next_sequence: 0,
                driver_wakes_at: None,
            }),
        }
    }

    /// The clock's reading, in ticks.
    pub fn now(&self) -> u64 {
        (self.now)()
    }

    /// A future that is ready once the clock has advanced `ticks` from now.
    pub fn sleep(&self, ticks: u64) -> Sleep<'_> {
        self.sleep_until(self.now().saturating_add(ticks))
    }

    /// A future that is ready once the clock reads `deadline` or later.
    pub fn sleep_until(&self, deadline: u64) -> Sleep<'_> {
        Sleep {
            timer: self,
            deadline,
            state: SleepState::Unarmed,
        }
    }

    /// Run `future` for at most `ticks`: its output, or [`Elapsed`] if the clock got there first
    /// (the future is then dropped: a pool task it awaited keeps running).
    pub fn timeout<F: IntoFuture>(&self, ticks: u64, future: F) -> Timeout<'_, F::IntoFuture> {
        Timeout {
            future: future.into_future(),
            sleep: self.sleep(ticks),
        }
    }

    /// Run `future` until the clock reads `deadline`, as [`timeout`](Self::timeout).
    pub fn timeout_at<F: IntoFuture>(
        &self,
        deadline: u64,
        future: F,
    ) -> Timeout<'_, F::IntoFuture> {
        Timeout {
            future: future.into_future(),
            sleep: self.sleep_until(deadline),
        }
    }

    /// How many sleeps are armed (polled before their deadline, not yet fired or dropped).
    pub fn pending(&self) -> usize {
        self.pending.lock().entries.len()
    }

    /// Append the data pointer of every armed sleep's waker: for a dump, since an async task's
    /// waker points at its task (see `executor::TaskSnapshot`), these name the tasks asleep. A
    /// read under the lock; no waker is cloned.
    pub fn waiter_ids(&self, ids: &mut Vec<usize>) {
        let pending = self.pending.lock();
        ids.extend(pending.entries.values().map(|waker| waker.data() as usize));
    }

    /// Wake every sleep whose deadline the clock has reached; the driver's one call. Returns the
    /// deadline of the earliest sleep still armed, which the driver must call again by (a sleep
    /// armed earlier than that calls `arm`).
    pub fn fire_due(&self) -> Option<u64> {
        self.fire_until(self.now())
    }

    /// Wake every sleep whose deadline is `now` or earlier, as [`fire_due`](Self::fire_due) with
    /// the clock read by the caller.
    pub fn fire_until(&self, now: u64) -> Option<u64> {
        // Allocates only when something is due (an idle firmware calls this in its idle loop).
        let mut due = Vec::new();
        loop {
            let mut pending = self.pending.lock();
            while due.len() < FIRE_BATCH {
                match pending.entries.first_key_value() {
                    Some((&(deadline, _), _)) if deadline <= now => {
                        due.extend(pending.entries.pop_first().map(|(_, waker)| waker));
                    }
                    _ => break,
                }
            }
            let full = due.len() == FIRE_BATCH;
            let next = pending
                .entries
                .first_key_value()
                .map(|(&(deadline, _), _)| deadline);
            if !full {
                pending.driver_wakes_at = next;
            }
            drop(pending);
            for waker in due.drain(..) {
                if let Err(error) = panic::catch(|| waker.wake()) {
                    panic::report("a waker woken by the timer", &error);
                }
            }
            if !full {
                return next;
            }
        }
    }

    /// Arm a sleep: insert its entry. Returns its sequence, and whether it is now the earliest
    /// (then the caller calls `arm`, after recording the sequence, so a panicking `arm` leaves
    /// a sleep that its drop still disarms).
    fn insert(&self, deadline: u64, waker: Waker) -> (u64, bool) {
        let mut pending = self.pending.lock();
        let sequence = pending.next_sequence;
        pending.next_sequence += 1;
        pending.entries.insert((deadline, sequence), waker);
        let earliest = pending.driver_wakes_at.is_none_or(|at| deadline < at);
        if earliest {
            pending.driver_wakes_at = Some(deadline);
        }
        (sequence, earliest)
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("now", &self.now())
            .field("pending", &self.pending())
            .finish()
    }
}

/// A future that is ready once its timer's clock reaches a deadline ([`Timer::sleep`],
/// [`Timer::sleep_until`]; on `std`, `betterconcurrent::time::sleep`).
///
/// It is armed by its first poll before the deadline (creating it costs nothing) and dropping
/// it disarms it. Polled again after it was ready, it is ready again (even if the clock went
/// back).
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep<'t> {
    timer: &'t Timer,
    deadline: u64,
    state: SleepState,
}

/// Where a [`Sleep`] is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SleepState {
    /// Not polled before its deadline yet.
    Unarmed,
    /// In the timer's map under this sequence number.
    Armed(u64),
    /// It was ready once, so it stays ready.
    Elapsed,
}

impl Sleep<'_> {
    /// The deadline, in the timer's ticks.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    /// Whether the deadline has come (by the clock; the timer may not have fired yet).
    pub fn is_elapsed(&self) -> bool {
        self.timer.now() >= self.deadline
    }
}

impl core::future::Future for Sleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let sequence = match self.state {
            SleepState::Elapsed => return Poll::Ready(()),
            SleepState::Unarmed if self.is_elapsed() => {
                self.state = SleepState::Elapsed;
                return Poll::Ready(());
            }
            SleepState::Unarmed => {
                let waker = cx.waker().clone();
                let (sequence, earliest) = self.timer.insert(self.deadline, waker);
                self.state = SleepState::Armed(sequence);
                if earliest {
                    (self.timer.arm)(self.deadline);
                }
                return Poll::Pending;
            }
            SleepState::Armed(sequence) => sequence,
        };
        let key = (self.deadline, sequence);
        let elapsed = self.is_elapsed();
        let mut pending = self.timer.pending.lock();
        if !pending.entries.contains_key(&key) {
            drop(pending);
            self.state = SleepState::Elapsed;
            return Poll::Ready(());
        }
        if elapsed {
            let waker = pending.entries.remove(&key);
            drop(pending);
            drop(waker);
            self.state = SleepState::Elapsed;
            return Poll::Ready(());
        }
        if pending
            .entries
            .get(&key)
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        drop(pending);
        // Cloned outside the lock (a foreign waker's clone is user code), then swapped in if the
        // entry is still there; the old waker is dropped after unlocking.
        let new = cx.waker().clone();
        let mut pending = self.timer.pending.lock();
        let Some(waker) = pending.entries.get_mut(&key) else {
            drop(pending);
            self.state = SleepState::Elapsed;
            return Poll::Ready(());
        };
        let old = core::mem::replace(waker, new);
        drop(pending);
        drop(old);
        Poll::Pending
    }
}

impl Drop for Sleep<'_> {
    fn drop(&mut self) {
        if let SleepState::Armed(sequence) = self.state {
            let waker = self
                .timer
                .pending
                .lock()
                .entries
                .remove(&(self.deadline, sequence));
            drop(waker);
        }
    }
}

impl fmt::Debug for Sleep<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("state", &self.state)
            .finish()
    }
}
/// A future run against a deadline ([`Timer::timeout`]): its output, or [`Elapsed`].
///
/// The future is polled first, so one that is ready at the deadline still wins.
#[must_use = "a timeout does nothing unless awaited"]
pub struct Timeout<'t, F> {
    future: F,
    sleep: Sleep<'t>,
}

impl<F> Timeout<'_, F> {
    /// The future it runs.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Give the future up without waiting for it.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: core::future::Future> core::future::Future for Timeout<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out while pinned: `into_inner`
        // takes `self` by value, which a pinned `Timeout` cannot give); `sleep` is `Unpin` and
        // not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above, `future` stays where it is for as long as `self` is pinned.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(&mut this.sleep).poll(cx).map(|()| Err(Elapsed))
    }
}

/// Without the future, which is rarely `Debug` (an `async` block never is): a type holding a
/// `Timeout` of any future can still derive `Debug`.
impl<F> fmt::Debug for Timeout<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish_non_exhaustive()
    }
}

/// A [`Timeout`]'s deadline came before its future was ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl core::error::Error for Elapsed {}

impl From<Elapsed> for Error {
    /// [`Error::Timeout`], Python's `TimeoutError`.
    fn from(Elapsed: Elapsed) -> Self {
        Error::Timeout
    }
}
