//! Blocking waits for threads that are not async tasks (feature `std`).
//!
//! There is no second waiting mechanism here: a blocking wait polls the same
//! [`WaitDone`](crate::WaitDone) an `.await` would, with a [`Waker`] that unparks the waiting
//! thread, and parks between polls. A timed-out wait drops its `WaitDone`, which removes the
//! waker from the future's list.
//!
//! An executor can install a [`BlockingHook`] on its own threads: every park of a blocking wait
//! there goes through the hook (so the executor can start a compensating thread), and a wait for
//! one of the executor's own not-yet-started closures runs it in place instead
//! ([`Future::run_here`]). That is what keeps a blocking `result()` on a pool thread from
//! deadlocking a full pool. The same hook serves the work-first path of an `.await`
//! ([`BlockingHook::run_awaited`]): a task that awaits its executor's unstarted task may have it
//! run in place instead of suspending.

use alloc::task::Wake;
use core::any::Any;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use crossbeam_utils::Backoff;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use crate::error::Error;
use crate::future::Future;
use crate::sync::blocking::thread::{self, Thread};
use crate::sync::blocking::{park_timeout, thread_local};
use crate::sync::Arc;

/// How an executor keeps making progress while one of its own threads blocks in a wait.
pub trait BlockingHook {
    /// The thread is about to block on a future made by `scheduler`: may it run that future's
    /// work in place ([`Future::run_here`])? If this returns true, [`end_run_here`] follows.
    ///
    /// [`end_run_here`]: BlockingHook::end_run_here
    fn begin_run_here(&self, scheduler: &dyn Any) -> bool;

    /// The in-place run that [`begin_run_here`](BlockingHook::begin_run_here) allowed is over.
    fn end_run_here(&self);

    /// Park the thread until it is unparked or `deadline` passes, as [`park_until`] does, while
    /// making sure the executor can still run its queued work. False if the deadline had passed.
    /// [`park_until`] calls it only with a deadline that has not passed yet.
    fn park(&self, deadline: Option<Instant>) -> bool;

    /// Code that may block outside the executor's view (done callbacks) starts (`true`) or has
    /// returned (`false` after `true`: the executor restores what it had); returns the previous
    /// mark. An executor that keeps work invisible to its other threads while its own code runs
    /// (a LIFO slot) makes it visible while this is set. The default does nothing.
    fn mark_may_block(&self, may_block: bool) -> bool {
        let _ = may_block;
        false
    }

    /// Work-first: code on this thread awaits the future whose [`Future::id`] is `future`, made
    /// by an executor and not started yet. If the executor can claim that future's task from
    /// where only this thread could take it (its own end of this thread's queue) and run it here
    /// and now, it does so and returns true; the awaiting code then finds the future done, or
    /// the task suspended as any other. The default runs nothing.
    fn run_awaited(&self, future: usize) -> bool {
        let _ = future;
        false
    }
}

/// Ask the current thread's hook to run the awaited, unstarted future `future` in place (see
/// [`BlockingHook::run_awaited`]); false on a thread without a hook.
pub(crate) fn run_awaited(future: usize) -> bool {
    current_hook().is_some_and(|hook| hook.run_awaited(future))
}

/// Run `code`, which may block (done callbacks, outside the executor's view; a blocking wait
/// such as [`block_on_until`], inside it), with the current thread's hook told so (see
/// [`BlockingHook::mark_may_block`]): an executor then keeps no work hidden from its other
/// threads meanwhile, and runs no awaited task in place ([`BlockingHook::run_awaited`]).
/// The mark is put back when `code` returns or unwinds.
pub fn run_may_block<R>(code: impl FnOnce() -> R) -> R {
    // Restored on the way out, by unwinding too (a blocking wait polls any future).
    let _mark = current_hook().map(|hook| {
        let previous = hook.mark_may_block(true);
        RestoreMark { hook, previous }
    });
    code()
}

/// Puts the thread's may-block mark back as it was (see [`run_may_block`]).
struct RestoreMark {
    hook: Rc<dyn BlockingHook>,
    previous: bool,
}

impl Drop for RestoreMark {
    fn drop(&mut self) {
        self.hook.mark_may_block(self.previous);
    }
}

thread_local! {
    // Not a `const` initializer: loom's `thread_local!` does not take one.
    #[allow(clippy::missing_const_for_thread_local)]
    static HOOK: RefCell<Option<Rc<dyn BlockingHook>>> = RefCell::new(None);
}

/// Install `hook` for blocking waits on the current thread, for as long as the returned guard
/// lives. An executor does this once on each thread it owns, for the thread's lifetime.
///
/// Refused ([`HookInstalled`]) if the thread has a hook already: code running on an executor's
/// thread (a task) cannot replace or remove the hook that keeps its blocking waits from
/// deadlocking that executor.
pub fn install_blocking_hook(
    hook: Rc<dyn BlockingHook>,
) -> Result<InstalledBlockingHook, HookInstalled> {
    HOOK.with(|installed| {
        let mut installed = installed.borrow_mut();
        if installed.is_some() {
            return Err(HookInstalled);
        }
        *installed = Some(hook);
        Ok(InstalledBlockingHook {
            _not_send: core::marker::PhantomData,
        })
    })
}

/// The hook installed by [`install_blocking_hook`] on this thread; dropping it removes the hook.
/// Not `Send`: it belongs to the thread it was installed on.
#[must_use = "dropping it removes the hook at once"]
#[derive(Debug)]
pub struct InstalledBlockingHook {
    _not_send: core::marker::PhantomData<*const ()>,
}

impl Drop for InstalledBlockingHook {
    fn drop(&mut self) {
        let removed = HOOK.with(|installed| installed.borrow_mut().take());
        drop(removed);
    }
}

/// [`install_blocking_hook`] refused: the thread has a hook already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookInstalled;

impl core::fmt::Display for HookInstalled {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("this thread already has a blocking hook (it belongs to an executor)")
    }
}

impl std::error::Error for HookInstalled {}

fn current_hook() -> Option<Rc<dyn BlockingHook>> {
    HOOK.with(|installed| installed.borrow().clone())
}

/// Wakes a thread parked in [`block_on_until`].
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// One unparking waker per thread, made once, so a blocking wait allocates nothing.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

/// The id of the calling thread's blocking waits: the data pointer of the one waker they all
/// register ([`block_on_until`]), so an executor's dump can tell which futures' waiter lists a
/// thread blocked in a wait is in (as an async task's waker names the task).
pub fn thread_waker_id() -> usize {
    THREAD_WAKER.with(|waker| waker.data() as usize)
}

/// The earliest instant a timeout starting now ends at; `None` (wait forever) if it is too far to
/// represent.
pub fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Drive `future` on this thread, parking between polls, until it completes or `deadline` passes.
/// Returns `None` on timeout. `deadline = None` waits for as long as it takes.
///
/// Before it parks, the wait polls a few more times, briefly: work that
/// completes within a microsecond or two is then seen without parking.
///
/// Park can return spuriously; every return re-polls, so that is harmless, and the unpark that a
/// wake performs before we park is remembered by the thread's park token, so no wake is lost.
///
/// On an executor's thread the wait runs marked as code that may block
/// ([`BlockingHook::mark_may_block`]), so its polls never run an awaited task in place
/// ([`BlockingHook::run_awaited`] is for `.await`): a timed wait must not run work that could
/// outlast its deadline, and an untimed one has run the awaited closure in place already.
pub fn block_on_until<F: core::future::Future + Unpin>(
    future: F,
    deadline: Option<Instant>,
) -> Option<F::Output> {
    block_on_spinning(future, deadline, true)
}

/// [`block_on_until`], with its brief polls before the first park (`spin`) or without (a
/// caller that has spun on a cheaper readiness check already).
fn block_on_spinning<F: core::future::Future + Unpin>(
    mut future: F,
    deadline: Option<Instant>,
    spin: bool,
) -> Option<F::Output> {
    run_may_block(|| {
        THREAD_WAKER.with(|waker| {
            let mut cx = Context::from_waker(waker);
            let mut poll = || Pin::new(&mut future).poll(&mut cx);
            if spin {
                let mut ready = None;
                spin_until(deadline, Spin::Brief, || match poll() {
                    Poll::Ready(output) => {
                        ready = Some(output);
                        true
                    }
                    Poll::Pending => false,
                });
                if ready.is_some() {
                    return ready;
                }
            }
            loop {
                if let Poll::Ready(output) = poll() {
                    return Some(output);
                }
                if !park_until(deadline) {
                    return None;
                }
            }
        })
    })
}

/// How a blocking wait checks before it parks ([`spin_until`]).
#[derive(Clone, Copy)]
enum Spin {
    /// Eight rounds of growing pauses, a microsecond or two: for a check that polls a future,
    /// which takes locks its completers need (a wait on many futures would slow them).
    Brief,
    /// As crossbeam's channels wait: seven rounds of growing pauses, then four that yield the
    /// core (on a machine with few cores the thread that will complete the work may be waiting
    /// for this one), about 10-20 µs in all: for a check that is one load.
    Patient,
}

/// Check `ready` a few more times before a blocking wait parks: work that completes within
/// that (a round trip to an idle pool) is then seen without parking and being unparked, which
/// costs both sides a system call and the waiter a scheduler wake-up; a longer wait parks, so
/// no core is burnt. True once `ready` is; false after the rounds, or at once if `deadline`
/// has passed (a zero timeout). No rounds under loom, where spinning only multiplies
/// interleavings.
fn spin_until(deadline: Option<Instant>, spin: Spin, mut ready: impl FnMut() -> bool) -> bool {
    const BRIEF_ROUNDS: u32 = 8;
    let backoff = Backoff::new();
    let mut rounds = 0;
    while !cfg!(feature = "loom") {
        let more = match spin {
            Spin::Brief => rounds < BRIEF_ROUNDS,
            Spin::Patient => !backoff.is_completed(),
        };
        if !more {
            break;
        }
        if ready() {
            return true;
        }
        if has_passed(deadline) {
            break;
        }
        match spin {
            Spin::Brief => backoff.spin(),
            Spin::Patient => backoff.snooze(),
        }
        rounds += 1;
    }
    false
}

/// Whether `deadline` (if any) has passed.
fn has_passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

/// Park this thread until it is unparked (or spuriously woken) or `deadline` passes. Returns
/// `false`, without parking, if the deadline has already passed. On an executor's thread the
/// park goes through its [`BlockingHook`], but only if it would really park: a wait whose
/// deadline has passed is not a blocked thread (a zero-timeout poll must not start spare
/// threads).
pub fn park_until(deadline: Option<Instant>) -> bool {
    if has_passed(deadline) {
        return false;
    }
    match current_hook() {
        Some(hook) => hook.park(deadline),
        None => park_plain(deadline),
    }
}

/// [`park_until`] without the hook: what a hook itself uses to park.
pub fn park_plain(deadline: Option<Instant>) -> bool {
    match deadline {
        None => thread::park(),
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            park_timeout(deadline - now);
        }
    }
    true
}

impl<T> Future<T> {
    /// Block until done or until `deadline`; first, for an untimed wait on an executor thread
    /// whose hook allows it, run the future's own unstarted work in place. (A timed wait does
    /// not: running the work could take longer than the caller is willing to wait.)
    fn wait_done_until(&self, deadline: Option<Instant>) -> bool {
        if self.done() {
            return true;
        }
        if let (None, Some(hook), Some(scheduler)) = (deadline, current_hook(), self.scheduler()) {
            if hook.begin_run_here(scheduler.as_any()) {
                self.run_here();
                hook.end_run_here();
            }
        }
        // Spin on the state (one load a round, so for longer) rather than on polls, each of
        // which would take the future's lock that its completion needs; register and park
        // only after.
        spin_until(deadline, Spin::Patient, || self.done())
            || block_on_spinning(self.yield_until_done(), deadline, false).is_some()
    }

    /// Block until done or until `deadline`, then read the outcome (`Timeout` if not done).
    fn outcome_until(&self, deadline: Option<Instant>) -> Result<&T, Error> {
        self.wait_done_until(deadline);
        self.try_result().unwrap_or_else(|| Err(self.timed_out()))
    }

    /// Block until done and return the value, as Python's `Future.result()`.
    ///
    /// Errors: [`Error::Cancelled`], [`Error::Panicked`], [`Error::Exception`],
    /// [`Error::BrokenExecutor`]: whatever the work ended with.
    pub fn result(&self) -> Result<&T, Error> {
        self.outcome_until(None)
    }

    /// Block until done and return the outcome owned: the value is moved out if this is the
    /// last handle ([`into_outcome`](Future::into_outcome): no clone, whatever its size), and
    /// cloned otherwise, as [`Arc::unwrap_or_clone`](alloc::sync::Arc::unwrap_or_clone) does.
    /// Waits as [`result`](Future::result) does.
    ///
    /// ```
    /// use betterconcurrent_core::Future;
    ///
    /// let future = Future::new();
    /// future.set_result(vec![0u8; 1 << 20]).unwrap();
    /// let bytes: Vec<u8> = future.into_result().unwrap(); // the same buffer, not a copy
    /// assert_eq!(bytes.len(), 1 << 20);
    /// ```
    pub fn into_result(self) -> Result<T, Error>
    where
        T: Clone,
    {
        if let Err(error) = self.outcome_until(None) {
            // A wait that could not wait (the future is not done): its error is the answer.
            if !self.done() {
                return Err(error);
            }
        }
        self.into_outcome_or_clone()
    }

    /// As [`result`](Future::result), but gives up with [`Error::Timeout`] after `timeout`.
    pub fn result_timeout(&self, timeout: Duration) -> Result<&T, Error> {
        self.outcome_until(deadline_after(timeout))
    }

    /// Block until done and return the error it finished with, or `Ok(None)` if it finished with a
    /// value, as Python's `Future.exception()`. A cancelled future gives `Err(Error::Cancelled)`.
    pub fn exception(&self) -> Result<Option<Error>, Error> {
        exception_of(self.outcome_until(None))
    }

    /// As [`exception`](Future::exception), but gives up with `Err(Error::Timeout)` after
    /// `timeout`.
    pub fn exception_timeout(&self, timeout: Duration) -> Result<Option<Error>, Error> {
        exception_of(self.outcome_until(deadline_after(timeout)))
    }
}

/// Block the calling thread until every future in `futures` is done, or until `timeout` passes
/// (`None`: no limit). True if all are done. The blocking counterpart of
/// [`yield_until_done`](crate::future::yield_until_done), for code that is not an async task.
pub fn block_until_done<'a, T: 'a>(
    futures: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
) -> bool {
    let deadline = timeout.and_then(deadline_after);
    futures
        .into_iter()
        .all(|future| future.wait_done_until(deadline))
}

fn exception_of<T>(outcome: Result<&T, Error>) -> Result<Option<Error>, Error> {
    match outcome {
        Ok(_) => Ok(None),
        Err(error @ (Error::Cancelled | Error::Timeout | Error::Stuck(_))) => Err(error),
        Err(error) => Ok(Some(error)),
    }
}
