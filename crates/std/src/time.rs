//! Time on `std`: [`sleep`], [`sleep_until`], [`timeout`] and [`timeout_at`], on one timer for
//! the whole process, driven by one thread started by the first sleep that has to wait.
//!
//! The futures are the core's ([`Sleep`], [`Timeout`]) on a [`Timer`] whose clock counts the
//! nanoseconds of [`Instant`] since the timer's first use; the core's `timer` module owns the
//! protocol (one ordered map of every pending sleep, armed at the first poll, removed when it
//! fires or is dropped). This module owns only the driver: a thread named
//! `betterconcurrent-timer` that calls `fire_due` and parks until the next deadline, unparked
//! when a sleep is armed earlier than it would wake.
//!
//! Why one process-wide timer with its own thread, and not the pools' parked workers: the futures
//! work wherever they are polled (a pool task, a `LocalExecutor`, another runtime, a blocking
//! `block_on`) and across pools, so they cannot depend on one pool's threads being parked; and
//! the workers' sleep protocol stays untimed. The cost is one thread, started at the first sleep
//! (none before: a program that never sleeps has no timer thread), and a wake that crosses from
//! it to the woken task's executor. Wakers run on the driver's thread: one that blocks delays
//! every other sleep of the process until it returns (this library's wakers only queue a task;
//! a foreign one that parks is survived, see `drive`). The driver is an OS thread outside
//! loom's view; the core's models cover the timer's own protocol.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

pub use betterconcurrent_core::timer::Elapsed;
use betterconcurrent_core::timer::{self, Timer};

/// The future of [`sleep`] and [`sleep_until`]: ready at its deadline; dropping it disarms it.
pub type Sleep = timer::Sleep<'static>;

/// The future of [`timeout`] and [`timeout_at`]: `Ok` with the future's output, or
/// `Err(`[`Elapsed`]`)`.
pub type Timeout<F> = timer::Timeout<'static, F>;

/// The instant the clock counts from (tick 0).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The process's timer.
static TIMER: LazyLock<Timer> = LazyLock::new(|| Timer::new(now, wake_driver));

/// The driver thread, started by the first sleep armed.
static DRIVER: OnceLock<Thread> = OnceLock::new();

/// Set by every `arm` before it unparks the driver: the driver's park token alone is not
/// enough, since the wakers it runs are user code on its thread and may park it themselves
/// (a channel's blocking send, a blocking wait in a destructor), using the token up.
static DRIVER_TOLD: AtomicBool = AtomicBool::new(false);

/// Nanoseconds since [`EPOCH`] (saturating at 584 years).
fn now() -> u64 {
    ticks(EPOCH.elapsed())
}

fn ticks(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The tick `instant` falls on (0 for instants before the epoch).
fn tick_of(instant: Instant) -> u64 {
    ticks(instant.saturating_duration_since(*EPOCH))
}

/// A sleep was armed earlier than the driver would wake: start it, or unpark it.
fn wake_driver(_deadline: u64) {
    DRIVER_TOLD.store(true, Ordering::SeqCst);
    DRIVER.get_or_init(start_driver).unpark();
}

fn start_driver() -> Thread {
    thread::Builder::new()
        .name("betterconcurrent-timer".into())
        .spawn(drive)
        .expect("betterconcurrent: the operating system refused to start the timer thread")
        .thread()
        .clone()
}

/// The driver's loop: fire what is due, park until the next deadline or an unpark. An arming
/// of an earlier deadline while `fire_due` ran its wakers is seen in `DRIVER_TOLD` (the wakers
/// may have used the park token up); one after that check leaves the park token, so the park
/// returns at once. Either way no earlier deadline is missed.
fn drive() {
    loop {
        DRIVER_TOLD.store(false, Ordering::SeqCst);
        let next = TIMER.fire_due();
        if DRIVER_TOLD.load(Ordering::SeqCst) {
            continue;
        }
        match next {
            Some(deadline) => {
                thread::park_timeout(Duration::from_nanos(deadline.saturating_sub(now())))
            }
            None => thread::park(),
        }
    }
}

/// A future that is ready after `duration`, without holding a thread: inside a pool task, the
/// task suspends and its worker runs other tasks. It works in any executor, and with a
/// blocking `block_on` too.
///
/// ```
/// use std::time::{Duration, Instant};
/// use betterconcurrent_std::{time, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new();
/// let start = Instant::now();
/// let slept = pool
///     .submit_async(async move {
///         time::sleep(Duration::from_millis(20)).await;
///         start.elapsed()
///     })
///     .unwrap();
/// assert!(*slept.result().unwrap() >= Duration::from_millis(20));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    TIMER.sleep(ticks(duration))
}

/// A future that is ready at `deadline` (at once if it has passed), as [`sleep`].
pub fn sleep_until(deadline: Instant) -> Sleep {
    TIMER.sleep_until(tick_of(deadline))
}

/// Run `future` for at most `duration`: `Ok(output)`, or `Err(Elapsed)` if the time ran out
/// first, in which case `future` is dropped (a pool task it was awaiting keeps running: only the
/// wait is given up). `Elapsed` converts into [`Error::Timeout`](crate::Error::Timeout) with `?`.
///
/// ```
/// use std::time::Duration;
/// use betterconcurrent_std::{time, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new();
/// let (release, released) = std::sync::mpsc::channel::<()>();
/// let slow = pool.submit(move || released.recv().is_ok()).unwrap();
/// let waited = pool
///     .submit_async(async move { time::timeout(Duration::from_millis(10), &slow).await.is_err() })
///     .unwrap();
/// assert!(*waited.result().unwrap(), "the subtask is still running");
/// release.send(()).unwrap();
/// ```
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    TIMER.timeout(ticks(duration), future)
}

/// Run `future` until `deadline`, as [`timeout`].
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    TIMER.timeout_at(tick_of(deadline), future)
}

/// The ids of the tasks asleep on the process's timer (the data pointers of its armed sleeps'
/// wakers; see `crate::dump`), each with how many sleeps it has armed.
pub(crate) fn sleeping_ids() -> std::collections::HashMap<usize, usize> {
    let mut ids = Vec::new();
    TIMER.waiter_ids(&mut ids);
    let mut sleeping = std::collections::HashMap::new();
    for id in ids {
        *sleeping.entry(id).or_insert(0) += 1;
    }
    sleeping
}

/// How many sleeps of the process's timer are armed: polled before their deadline, neither
/// fired nor dropped (for diagnosis and tests: a dropped sleep leaves no entry).
pub fn pending_sleeps() -> usize {
    TIMER.pending()
}
