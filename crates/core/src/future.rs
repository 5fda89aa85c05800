//! [`Future<T>`]: the state machine of one unit of work, as in Python's `concurrent.futures.Future`,
//! and the single mechanism by which anything waits for it.
//!
//! # States
//!
//! ```text
//! PENDING ──set_running_or_notify_cancel──▶ RUNNING ──set_result / set_exception──▶ FINISHED
//!    │  └──────────────set_result / set_exception───────────────────────────────────▲
//!    └──cancel──▶ CANCELLED ──set_running_or_notify_cancel──▶ CANCELLED_AND_NOTIFIED
//! ```
//!
//! `CANCELLED`, `CANCELLED_AND_NOTIFIED` and `FINISHED` are *done*: once a future is done its state
//! never goes back, and once it is `FINISHED` its outcome never changes, so any clone can read it by
//! reference, any number of times, without a lock. (The executor's own cancellation of a task it
//! drops, `cancel_started`, also goes from `PENDING` or `RUNNING` to `CANCELLED_AND_NOTIFIED`.)
//! The values and their transitions are the `state` submodule's `FutureState`, one pure function
//! per arrow (unit-tested there), applied under the lock by `StateWord::apply`.
//!
//! # Waiting
//!
//! Every way of waiting (`.await`, [`Future::yield_until_done`], the blocking `result()`, `wait`,
//! `as_completed`) registers a [`Waker`] in the future's waiter list under the same lock that
//! completion takes. Completion moves the list out under the lock and wakes every waker after
//! releasing it. So a waiter either sees the future done under the lock, or is in the list that
//! completion empties: no wake-up is lost. A waiter that gives up (a dropped [`WaitDone`], a timed
//! out blocking wait) removes its entry, so lists do not grow without bound.
//!
//! # Lock discipline
//!
//! The lock guards the state transitions, the waiter list and the callback list. No user code (a
//! callback, a waker, a destructor of `T`) ever runs while it is held.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::future::IntoFuture;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use slab::Slab;

use crate::error::{Error, InvalidStateError};
use crate::panic;
use crate::site::SubmitSite;
use crate::sync::{Arc, AtomicU32, Mutex, Ordering, UnsafeCell};
use crate::task::{Schedule, SchedulerHandle};

/// The state of a [`Future`], as in Python's `concurrent.futures`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started; can still be cancelled.
    Pending,
    /// An executor is running it; it can no longer be cancelled.
    Running,
    /// Cancelled before it ran; the executor has not yet seen it.
    Cancelled,
    /// Cancelled, and the executor has seen it and dropped the work.
    CancelledAndNotified,
    /// Completed with a value or an error.
    Finished,
}

mod state;
use state::{CancelTransition, FutureState, StateWord};

type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;

/// The registered wakers and done callbacks of a future. The first waker lives inline, so the
/// common case (one task awaiting one future) registers without allocating: a scheduling step
/// allocates nothing, which the embedded executor promises. More waiters and any callbacks go to
/// a box allocated on first need, which keeps every future (and so every task cell) small.
/// Waiter keys: 0 is the inline entry, `k + 1` is slab entry `k`.
struct Lists<T> {
    first_waiter: Option<Waker>,
    more: Option<Box<MoreLists<T>>>,
}

/// The rarely needed part of [`Lists`].
struct MoreLists<T> {
    /// Keyed so a waiter that gives up removes itself.
    waiters: Slab<Waker>,
    /// In registration order.
    callbacks: Vec<Callback<T>>,
}

/// What completion hands out: the lists moved out of the lock.
type Notify<T> = Lists<T>;

impl<T> Default for Lists<T> {
    fn default() -> Self {
        Self {
            first_waiter: None,
            more: None,
        }
    }
}

impl<T> Lists<T> {
    fn more(&mut self) -> &mut MoreLists<T> {
        self.more.get_or_insert_with(|| {
            Box::new(MoreLists {
                waiters: Slab::new(),
                callbacks: Vec::new(),
            })
        })
    }

    fn insert_waiter(&mut self, waker: Waker) -> usize {
        if self.first_waiter.is_none() {
            self.first_waiter = Some(waker);
            0
        } else {
            self.more().waiters.insert(waker) + 1
        }
    }

    /// The waker under `key`, which must be registered.
    fn waiter_mut(&mut self, key: usize) -> &mut Waker {
        match key {
            0 => self.first_waiter.as_mut(),
            _ => self
                .more
                .as_mut()
                .and_then(|more| more.waiters.get_mut(key - 1)),
        }
        .expect("a registered waiter key")
    }

    /// Remove and return the waker under `key`, which must be registered.
    fn remove_waiter(&mut self, key: usize) -> Waker {
        match key {
            0 => self.first_waiter.take(),
            _ => self
                .more
                .as_mut()
                .and_then(|more| more.waiters.try_remove(key - 1)),
        }
        .expect("a registered waiter key")
    }

    fn waiter_count(&self) -> usize {
        usize::from(self.first_waiter.is_some())
            + self.more.as_ref().map_or(0, |more| more.waiters.len())
    }

    fn push_callback(&mut self, callback: Callback<T>) {
        self.more().callbacks.push(callback);
    }

    /// Every waker (the inline one first), and the callbacks in registration order.
    fn has_callbacks(&self) -> bool {
        self.more
            .as_ref()
            .is_some_and(|more| !more.callbacks.is_empty())
    }

    fn into_parts(self) -> (impl Iterator<Item = Waker>, Vec<Callback<T>>) {
        let (waiters, callbacks) = match self.more {
            Some(more) => {
                let more = *more;
                (Some(more.waiters), more.callbacks)
            }
            None => (None, Vec::new()),
        };
        let rest = waiters
            .into_iter()
            .flat_map(|waiters| waiters.into_iter().map(|(_, waker)| waker));
        (self.first_waiter.into_iter().chain(rest), callbacks)
    }
}

/// The shared state of a future: everything but the work itself.
pub(crate) struct FutureCore<T> {
    /// The executor whose task completes this future (weak: a future does not keep it alive).
    scheduler: Option<SchedulerHandle>,
    /// Written only with `lists` locked (`StateWord::apply`); read lock-free.
    state: StateWord,
    lists: Mutex<Lists<T>>,
    /// Written once, with `lists` locked, while the state is not done; read only after loading
    /// `FINISHED` with `Acquire`; taken out only by the last handle (`Future::into_outcome`).
    outcome: UnsafeCell<Option<Result<T, Error>>>,
    /// The user's `Future` handles, plus one while done callbacks run (they read the outcome
    /// through the completer's handle): the outcome may be moved out only when this is 1 and the
    /// one is the caller's. The executor's own handles (`Completer`) do not count.
    handles: AtomicU32,
    /// Where the task that completes it was submitted (two bytes, in padding the cell had
    /// after `state`: see [`crate::site`]).
    pub(crate) site: SubmitSite,
}

// SAFETY: the outcome cell is written once before `FINISHED` is published and only read after it,
// so no access is unsynchronised, and the executor side only ever moves a `T` in (and drops it as
// the last owner), which `T: Send` allows. A `&T` is only created through a `Future<T>` handle,
// and `Future<T>` is `Send`/`Sync` only when `T: Send + Sync` (its `PhantomData<Arc<T>>`); a done
// callback, the one thing that reads `&T` on the completing thread, requires `T: Sync`. So sharing
// the core between the user's thread and a worker needs only `T: Send`.
unsafe impl<T: Send> Sync for FutureCore<T> {}
// SAFETY: as above; moving the core moves the `T` it may hold.
unsafe impl<T: Send> Send for FutureCore<T> {}

// The submit site sits in padding: a future's shared state stays 72 bytes (W7's budget).
#[cfg(all(
    target_pointer_width = "64",
    not(feature = "loom"),
    not(feature = "parking-lock")
))]
const _: () = assert!(core::mem::size_of::<FutureCore<()>>() == 72);

impl<T> FutureCore<T> {
    pub(crate) fn new(scheduler: Option<SchedulerHandle>, site: SubmitSite) -> Self {
        Self {
            scheduler,
            state: StateWord::new(),
            lists: Mutex::new(Lists::default()),
            outcome: UnsafeCell::new(None),
            // The first user handle is made with the core (`Future::from_cell`): counted here,
            // before anything shares the cell, instead of by a read-modify-write per task.
            handles: AtomicU32::new(1),
            site,
        }
    }

    fn state(&self) -> FutureState {
        self.state.load()
    }

    pub(crate) fn scheduler(&self) -> Option<Arc<dyn Schedule>> {
        self.scheduler.as_ref()?.upgrade()
    }

    /// The handle itself (not upgraded).
    pub(crate) fn handle(&self) -> Option<&SchedulerHandle> {
        self.scheduler.as_ref()
    }

    /// How many of the user's `Future` handles exist (each holds a reference to the cell).
    pub(crate) fn user_handles(&self) -> usize {
        self.handles.load(Ordering::Relaxed) as usize
    }

    /// Append the data pointer of every registered waker (see `TaskSnapshot::waiters`): a read
    /// of two words per waker under the lock, nothing cloned, woken or dropped.
    pub(crate) fn waiter_ids(&self, ids: &mut alloc::vec::Vec<usize>) {
        let lists = self.lists.lock();
        let rest = lists.more.iter().flat_map(|more| more.waiters.iter());
        let wakers = lists
            .first_waiter
            .iter()
            .chain(rest.map(|(_, waker)| waker));
        ids.extend(wakers.map(|waker| waker.data() as usize));
    }
}

/// What a task cell keeps beside its future; see [`crate::task`]. A plain [`Future::new`] has none.
pub(crate) trait Body<T>: Send + Sync {
    /// Run the work on the calling thread if nobody has claimed it yet; see [`Future::run_here`].
    fn run_here(&self, _future: &Future<T>) -> bool {
        false
    }

    /// The cell is being freed: the last handle of any kind is gone.
    fn on_free(&self, _core: &FutureCore<T>) {}

    /// Abort the work if it is an async body that has not completed; see [`Future::abort`].
    /// `cell` is the future's handle to this body's own cell.
    fn abort(&self, _cell: &Arc<Cell<T, dyn Body<T>>>) -> bool {
        false
    }
}

impl<T> Body<T> for () {}

/// The allocation behind a future: its shared state followed by the work that completes it, so a
/// submitted task is one allocation (the body is unsized away in the [`Future`] handle).
pub(crate) struct Cell<T, B: ?Sized + Body<T>> {
    pub(crate) core: FutureCore<T>,
    pub(crate) body: B,
}

impl<T, B: ?Sized + Body<T>> Drop for Cell<T, B> {
    fn drop(&mut self) {
        self.body.on_free(&self.core);
    }
}

/// The eventual outcome of a piece of work: a value of type `T`, an [`Error`], or a cancellation.
///
/// A `Future` is a cheap handle (one reference count) to shared state, like Python's
/// `concurrent.futures.Future`: clone it freely; every clone sees the same state and the same
/// outcome. It is `Send + Sync` when `T` is, because every clone can read the value by reference.
///
/// Executors create futures for the work they are given; [`Future::new`] makes a free-standing one
/// that you complete yourself with [`set_result`](Future::set_result) or
/// [`set_exception`](Future::set_exception).
///
/// Waiting for it: `.await` a `&Future<T>` (yields `Result<&T, Error>`), await
/// [`yield_until_done`](Future::yield_until_done), or, with `std`, block with `result()`.
///
/// ```
/// use betterconcurrent_core::{Future, State};
///
/// let future = Future::new();
/// assert_eq!(future.state(), State::Pending);
/// assert!(future.set_running_or_notify_cancel().unwrap());
/// future.set_result(42).unwrap();
/// assert_eq!(future.try_result().unwrap().unwrap(), &42);
/// ```
pub struct Future<T> {
    cell: Arc<Cell<T, dyn Body<T>>>,
    /// Every clone reads `&T`, so a handle may cross threads only if `T: Send + Sync`.
    shares: PhantomData<Arc<T>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        // Relaxed, as `Arc`'s own count: a new handle is made from an existing one.
        self.core().handles.fetch_add(1, Ordering::Relaxed);
        Self {
            cell: self.cell.clone(),
            shares: PhantomData,
        }
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        // Release: what this handle did happens before a last handle takes the outcome (which
        // loads the count under the lock, after the lock's acquire).
        self.core().handles.fetch_sub(1, Ordering::Release);
    }
}

/// The handle a [`Future`] holds of a task cell, whose body may borrow for less than `'static`
/// (a scoped task: see `task`'s "Scoped work"). Safe to call because such a cell is made only
/// by the scoped constructors, whose callers end the task before the body's lifetime does, and a
/// future's handles reach the body only while the task is unfinished (`Body::run_here`,
/// `Body::on_free`): afterwards they touch the core alone.
fn erase_body<'a, T, B: Body<T> + 'a>(cell: Arc<Cell<T, B>>) -> Arc<Cell<T, dyn Body<T>>> {
    let cell: Arc<Cell<T, dyn Body<T> + 'a>> = crate::sync::unsize!(cell);
    // SAFETY: the two types differ only in the object's lifetime bound, which does not change
    // the layout; that the body is not used after `'a` is argued above.
    unsafe {
        core::mem::transmute::<Arc<Cell<T, dyn Body<T> + 'a>>, Arc<Cell<T, dyn Body<T>>>>(cell)
    }
}

/// The executor's own handle to a task's future, which completes it: a [`Future`] that does not
/// count among the user's handles (`FutureCore::handles`), so a user holding the last handle
/// can take the outcome while the executor still drops its own.
pub(crate) struct Completer<T> {
    future: ManuallyDrop<Future<T>>,
}

impl<T> Completer<T> {
    /// The completer of a task cell's future; see [`crate::task`].
    pub(crate) fn from_cell<B: Body<T>>(cell: Arc<Cell<T, B>>) -> Self {
        Self {
            future: ManuallyDrop::new(Future {
                cell: erase_body(cell),
                shares: PhantomData,
            }),
        }
    }
}

impl<T> core::ops::Deref for Completer<T> {
    type Target = Future<T>;

    fn deref(&self) -> &Future<T> {
        &self.future
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        // SAFETY: the handle is never used again; its cell reference is released without the
        // `Future` drop, which would uncount a user handle this never counted.
        drop(unsafe { core::ptr::read(&self.future.cell) });
    }
}

impl<T> Default for Future<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Future<T> {
    /// A new pending future, not tied to any executor.
    pub fn new() -> Self {
        Self::from_cell(Arc::new(Cell {
            core: FutureCore::new(None, SubmitSite::UNKNOWN),
            body: (),
        }))
    }

    /// The user's handle of a task cell's future: the first, made once per cell, which
    /// `FutureCore::new` counted already (see [`crate::task`]).
    pub(crate) fn from_cell<B: Body<T>>(cell: Arc<Cell<T, B>>) -> Self {
        Self {
            cell: erase_body(cell),
            shares: PhantomData,
        }
    }

    /// Take the outcome out of the future without cloning it, if this is the last handle to
    /// it and it is done (as [`Arc::into_inner`] for an `Arc`): `Ok` with the value, or the
    /// error it ended with ([`Error::Cancelled`] if it was cancelled). Otherwise the handle
    /// comes back in `Err`: while other clones exist, or done callbacks are still running,
    /// the outcome is theirs to read too, and stays in place.
    ///
    /// ```
    /// use betterconcurrent_core::Future;
    ///
    /// let future = Future::new();
    /// let other = future.clone();
    /// future.set_result(vec![7u8; 4]).unwrap();
    /// let future = future.into_outcome().unwrap_err(); // `other` can still read it
    /// drop(other);
    /// assert_eq!(future.into_outcome().unwrap().unwrap(), vec![7u8; 4]);
    /// ```
    pub fn into_outcome(self) -> Result<Result<T, Error>, Future<T>> {
        let taken = {
            let lists = self.core().lists.lock();
            let state = self.core().state.load();
            // Under the lock: a completer counts itself for its callbacks before it releases
            // the lock that published the outcome (`notify`).
            if !state.is_done() || self.core().handles.load(Ordering::Acquire) != 1 {
                None
            } else {
                // SAFETY: the state is done, so the outcome is written and never written
                // again; this is the only handle and no callback runs (the count is 1), so
                // nothing else reads it, and the lock orders this after every earlier read.
                let outcome = self
                    .core()
                    .outcome
                    .with_mut(|outcome_cell| unsafe { (*outcome_cell).take() });
                drop(lists);
                Some(outcome.unwrap_or(Err(Error::Cancelled)))
            }
        };
        taken.ok_or(self)
    }

    /// If this future's work is a closure that no thread has started, run it now on the calling
    /// thread and return `true`; otherwise (already claimed, or an async task) do nothing and
    /// return `false`. The executor is told, and its queued copy of the task becomes a no-op.
    ///
    /// Pool threads do this when they block on a future of their own pool (see
    /// `ThreadPoolExecutor`), so a blocking wait on a subtask cannot deadlock a full pool. Called
    /// elsewhere, the work runs on a thread its executor's initializer never saw.
    pub fn run_here(&self) -> bool {
        self.cell.body.run_here(self)
    }

    /// The executor that made this future, if it still exists (Python's original keeps a weak
    /// reference too). `None` for a free-standing [`Future::new`]. Crate-private: a handle to an
    /// executor's `Schedule` side could queue tasks it never counted.
    pub(crate) fn scheduler(&self) -> Option<Arc<dyn Schedule>> {
        self.core().scheduler()
    }

    /// Call `with` on the executor that made this future, if it still exists and is an `S`:
    /// how an executor crate recovers its own handle from a future (e.g. `Executor::of`).
    pub fn executor_as<S: Schedule, R>(&self, with: impl FnOnce(&S) -> R) -> Option<R> {
        let scheduler = self.scheduler()?;
        let executor = scheduler.as_any().downcast_ref::<S>()?;
        Some(with(executor))
    }

    fn core(&self) -> &FutureCore<T> {
        &self.cell.core
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.core().state().public()
    }

    /// True if it was cancelled (`Cancelled` or `CancelledAndNotified`).
    #[doc(alias = "is_cancelled")]
    pub fn cancelled(&self) -> bool {
        self.core().state().is_cancelled()
    }

    /// True while an executor is running it.
    #[doc(alias = "is_running")]
    pub fn running(&self) -> bool {
        self.core().state() == FutureState::RUNNING
    }

    /// True once it was cancelled or finished; it never becomes false again.
    #[doc(alias = "is_done")]
    pub fn done(&self) -> bool {
        self.core().state().is_done()
    }

    /// True if `self` and `other` are handles to the same future.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }

    /// The error of a timed wait for this future that gave up: [`Error::Stuck`] with the
    /// executor's diagnosis if the executor that completes it is deadlocked, else
    /// [`Error::Timeout`].
    #[cfg(feature = "std")]
    pub(crate) fn timed_out(&self) -> Error {
        self.core()
            .scheduler()
            .and_then(|scheduler| scheduler.deadlock_diagnosis(self.id()))
            .map_or(Error::Timeout, Error::Stuck)
    }

    /// An address that identifies this future among live ones (for de-duplication).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.cell) as *const () as usize
    }

    /// The outcome, without waiting: `None` while not done, `Some(Err(Error::Cancelled))` if it
    /// was cancelled, otherwise the value or the error it finished with.
    pub fn try_result(&self) -> Option<Result<&T, Error>> {
        match self.core().state() {
            FutureState::FINISHED => {
                // `FINISHED` was loaded with `Acquire` and is stored with `Release` after the
                // outcome was written; the outcome is never written again (`FutureCore::outcome`).
                // SAFETY: so a shared reference to it is valid while `self` keeps it alive.
                let outcome = unsafe { &*self.core().outcome.with(|outcome| outcome) };
                match outcome {
                    Some(Ok(value)) => Some(Ok(value)),
                    Some(Err(error)) => Some(Err(error.clone())),
                    None => unreachable!("FINISHED is only published after the outcome is written"),
                }
            }
            state if state.is_cancelled() => Some(Err(Error::Cancelled)),
            _ => None,
        }
    }

    /// Abort the async task this future belongs to, whether it is queued, suspended or running
    /// (tokio's `abort`): it stops at its next `.await`, never in the middle of a poll; its body
    /// is dropped (destructors run once), the future ends cancelled and its waiters wake, and its
    /// executor counts it finished. A suspended task is queued to be ended, even if nothing it
    /// awaits ever completes. Returns true if the abort landed on an unfinished task, false if
    /// there is nothing to abort: the task completed, or this is a closure's future (a running
    /// closure cannot be stopped; [`cancel`] one that has not started) or a free-standing one.
    /// A task whose running poll returns `Ready` after the abort landed keeps its value: the
    /// future has exactly one outcome either way.
    ///
    /// [`cancel`]: Future::cancel
    pub fn abort(&self) -> bool {
        self.cell.body.abort(&self.cell)
    }

    /// Attempt to cancel it, as Python's `Future.cancel`.
    ///
    /// Returns `false` if it is running or finished (it cannot be cancelled), `true` if it is now
    /// cancelled (or already was). Cancelling wakes every waiter and runs the done callbacks.
    pub fn cancel(&self) -> bool {
        let notify = {
            let mut lists = self.core().lists.lock();
            match self.core().state.apply(&lists, FutureState::cancel) {
                CancelTransition::Refused => return false,
                CancelTransition::AlreadyCancelled => return true,
                CancelTransition::Cancelled => self.take_lists(&mut lists),
            }
        };
        self.notify(notify);
        true
    }

    /// Executor-facing: end a started (or pending) task's future as cancelled, because its
    /// executor dropped the work, e.g. a suspended task at `shutdown(cancel_futures = true)`.
    /// Unlike [`cancel`](Future::cancel) this also works while `Running`. False if already done.
    pub(crate) fn cancel_started(&self) -> bool {
        let notify = {
            let mut lists = self.core().lists.lock();
            let ended = self.core().state.apply(&lists, |state| {
                let next = state.end_cancelled();
                (next, next.is_some())
            });
            if !ended {
                return false;
            }
            self.take_lists(&mut lists)
        };
        self.notify(notify);
        true
    }

    /// Executor-facing: claim the future before running its work, as Python's
    /// `set_running_or_notify_cancel`.
    ///
    /// `Ok(true)`: it was pending and is now running; run the work. `Ok(false)`: it was cancelled
    /// and is now `CancelledAndNotified`; drop the work. An [`InvalidStateError`] if it was
    /// already running or done with an outcome (nothing is changed).
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, InvalidStateError> {
        let lists = self.core().lists.lock();
        self.core()
            .state
            .apply(&lists, |state| match state.claim() {
                Ok((next, run)) => (Some(next), Ok(run)),
                Err(state) => (
                    None,
                    Err(InvalidStateError {
                        operation: "set_running_or_notify_cancel",
                        state: state.public(),
                    }),
                ),
            })
    }

    /// Executor-facing: finish with a value, waking every waiter and running the done callbacks.
    ///
    /// Allowed from `Pending` or `Running`. On a cancelled or finished future it changes nothing,
    /// drops `value` and returns an [`InvalidStateError`].
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.complete_with(Ok(value), "set_result")
    }

    /// Executor-facing: finish with an error (Python's `set_exception`); `result()` then returns
    /// [`Error::Exception`] holding it. Same states as [`set_result`](Future::set_result).
    ///
    /// ```
    /// use betterconcurrent_core::{Error, Future};
    ///
    /// let future = Future::<u32>::new();
    /// future.set_exception("disk full").unwrap();
    /// let error = future.try_result().unwrap().unwrap_err();
    /// assert_eq!(error.exception().unwrap().to_string(), "disk full");
    /// ```
    pub fn set_exception(
        &self,
        error: impl Into<Box<dyn core::error::Error + Send + Sync>>,
    ) -> Result<(), InvalidStateError> {
        self.complete_with(
            Err(Error::Exception(Arc::from(error.into()))),
            "set_exception",
        )
    }

    /// Executor-facing: finish with any outcome, e.g. [`Error::Panicked`] or
    /// [`Error::BrokenExecutor`]. Same states as [`set_result`](Future::set_result).
    pub fn set_outcome(&self, outcome: Result<T, Error>) -> Result<(), InvalidStateError> {
        self.complete_with(outcome, "set_outcome")
    }

    fn complete_with(
        &self,
        outcome: Result<T, Error>,
        operation: &'static str,
    ) -> Result<(), InvalidStateError> {
        let notify = {
            let mut lists = self.core().lists.lock();
            let refused = self
                .core()
                .state
                .apply(&lists, |state| match state.complete() {
                    Ok(finished) => {
                        // SAFETY: the state is not done and we hold the lock, so no other thread
                        // writes the outcome, and none reads it until it loads `FINISHED`, which
                        // `apply` stores after this with `Release`.
                        self.core()
                            .outcome
                            .with_mut(|outcome_cell| unsafe { *outcome_cell = Some(outcome) });
                        (Some(finished), None)
                    }
                    Err(state) => (None, Some((state, outcome))),
                });
            if let Some((state, outcome)) = refused {
                drop(lists);
                // `outcome` (user data) is dropped here, after the lock is released.
                drop(outcome);
                return Err(InvalidStateError {
                    operation,
                    state: state.public(),
                });
            }
            self.take_lists(&mut lists)
        };
        self.notify(notify);
        Ok(())
    }

    /// The waiters and callbacks to notify of the state just published, taken with the lock
    /// held; with callbacks to run, the future counts one handle more until they ran, so no
    /// last handle takes the outcome they read ([`into_outcome`](Future::into_outcome)).
    fn take_lists(&self, lists: &mut Lists<T>) -> Notify<T> {
        let notify = take_lists(lists);
        if notify.has_callbacks() {
            self.core().handles.fetch_add(1, Ordering::Relaxed);
        }
        notify
    }

    /// Wake the waiters, then run the callbacks in registration order. Called without the lock.
    /// A panicking waker or callback is caught and reported; the rest still run.
    fn notify(&self, notify: Notify<T>) {
        let (waiters, callbacks) = notify.into_parts();
        for waker in waiters {
            if let Err(error) = panic::catch(|| waker.wake()) {
                panic::report("a waker", &error);
            }
        }
        if !callbacks.is_empty() {
            run_callbacks(|| {
                for callback in callbacks {
                    if let Err(error) = panic::catch(|| callback(self)) {
                        panic::report(self.callback_named(), &error);
                    }
                }
            });
            // The count `take_lists` took for them.
            self.core().handles.fetch_sub(1, Ordering::Release);
        }
    }

    /// Call `callback` with this future once it is done, as Python's `add_done_callback`.
    ///
    /// Callbacks run exactly once, in the order they were added, on the thread that completes or
    /// cancels the future; one added after that runs at once on the calling thread. A panicking
    /// callback is caught and reported on standard error (with `std`); the others still run.
    /// `T: Sync` because the completing thread hands the callback a reference to the value.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static)
    where
        T: Send + Sync,
    {
        let callback: Callback<T> = Box::new(callback);
        let run_now = {
            let mut lists = self.core().lists.lock();
            if self.core().state.load().is_done() {
                Some(callback)
            } else {
                lists.push_callback(callback);
                None
            }
        };
        if let Some(callback) = run_now {
            run_callbacks(|| {
                if let Err(error) = panic::catch(|| callback(self)) {
                    panic::report(self.callback_named(), &error);
                }
            });
        }
    }

    /// How a panic report names a done callback of this future: by the future's
    /// [`id`](Future::id), which a dump and the future's `Debug` show too.
    fn callback_named(&self) -> CallbackOf {
        CallbackOf(self.id())
    }

    /// A future (in the `async` sense) that resolves to `()` once this one is done. Awaiting it
    /// inside an executor's task suspends the task without holding a thread; afterwards
    /// [`done`](Future::done) is true and [`try_result`](Future::try_result) is `Some`.
    pub fn yield_until_done(&self) -> WaitDone<T> {
        WaitDone {
            future: self.clone(),
            key: None,
        }
    }

    /// The core of every wait: `Ready` if done, otherwise register (or refresh) `cx`'s waker in
    /// entry `key` under the completion lock.
    fn poll_done(&self, cx: &mut Context<'_>, key: &mut Option<usize>) -> Poll<()> {
        if self.done() || (key.is_none() && self.ran_awaited_here()) {
            // Completion moved the list (and our entry, if any) out; nothing to remove.
            *key = None;
            return Poll::Ready(());
        }
        self.register_waiter(cx, key)
    }

    /// `poll_done`'s registration of `cx`'s waker. Not inlined, so its frame is not on the stack
    /// while an awaited task runs in place from `poll_done` (a level of in-place runs costs
    /// stack, and they stop at a budget: see `ran_awaited_here`).
    #[inline(never)]
    fn register_waiter(&self, cx: &mut Context<'_>, key: &mut Option<usize>) -> Poll<()> {
        // Cloning and dropping a waker runs foreign code: both happen outside the lock.
        let waker = cx.waker().clone();
        let (poll, unused_waker) = {
            let mut lists = self.core().lists.lock();
            if self.core().state.load().is_done() {
                *key = None;
                (Poll::Ready(()), Some(waker))
            } else if let Some(registered_key) = *key {
                let registered = lists.waiter_mut(registered_key);
                if registered.will_wake(&waker) {
                    (Poll::Pending, Some(waker))
                } else {
                    (Poll::Pending, Some(mem::replace(registered, waker)))
                }
            } else {
                *key = Some(lists.insert_waiter(waker));
                (Poll::Pending, None)
            }
        };
        drop(unused_waker);
        poll
    }

    /// Work-first: a wait's first poll of an executor's unstarted task asks the thread's hook
    /// to run that task here ([`BlockingHook::run_awaited`](crate::executor::BlockingHook::run_awaited));
    /// true if it did and this future is done now. Without `std` there is no hook: false.
    #[inline]
    fn ran_awaited_here(&self) -> bool {
        #[cfg(feature = "std")]
        {
            self.state() == State::Pending
                && self.core().handle().is_some()
                && crate::blocking::run_awaited(self.id())
                && self.done()
        }
        #[cfg(not(feature = "std"))]
        {
            false
        }
    }

    /// Remove the waker at `key`, if it is still registered.
    fn forget_waiter(&self, key: &mut Option<usize>) {
        if let Some(registered_key) = key.take() {
            let removed = {
                let mut lists = self.core().lists.lock();
                if self.core().state.load().is_done() {
                    // Completion took the list; the entry is gone already.
                    None
                } else {
                    Some(lists.remove_waiter(registered_key))
                }
            };
            drop(removed);
        }
    }

    /// How many wakers are registered (for tests that check waiters clean up after themselves).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        self.core().lists.lock().waiter_count()
    }
}

/// Wait until every future in `futures` is done (the Python original's
/// `yield from yield_until_done(fs)`). Inside an executor's async task this suspends the task
/// without holding a thread; afterwards every future's outcome can be read without blocking.
///
/// ```
/// # async fn demo(subtasks: Vec<betterconcurrent_core::Future<u64>>) {
/// betterconcurrent_core::future::yield_until_done(&subtasks).await;
/// assert!(subtasks.iter().all(|f| f.done()));
/// # }
/// ```
pub async fn yield_until_done<'a, T: 'a>(futures: impl IntoIterator<Item = &'a Future<T>>) {
    for future in futures {
        future.yield_until_done().await;
    }
}

fn take_lists<T>(lists: &mut Lists<T>) -> Notify<T> {
    mem::take(lists)
}

impl<T> PartialEq for Future<T> {
    /// Identity, as Python compares futures: two handles are equal if they share state.
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
    }
}

impl<T> Eq for Future<T> {}

impl<T> Hash for Future<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("id", &(self.id() as *const ()))
            .field("state", &self.state())
            .finish()
    }
}

/// Resolves to `()` when its [`Future`] is done. Made by [`Future::yield_until_done`].
///
/// Dropping it before it resolves removes its waker from the future's waiter list.
#[must_use = "a WaitDone does nothing unless awaited or polled"]
pub struct WaitDone<T> {
    future: Future<T>,
    key: Option<usize>,
}

impl<T> WaitDone<T> {
    /// The future being waited for.
    pub fn future(&self) -> &Future<T> {
        &self.future
    }
}

impl<T> core::future::Future for WaitDone<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.future.poll_done(cx, &mut this.key)
    }
}

impl<T> Drop for WaitDone<T> {
    fn drop(&mut self) {
        self.future.forget_waiter(&mut self.key);
    }
}

impl<T> fmt::Debug for WaitDone<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitDone")
            .field("future", &self.future)
            .field("registered", &self.key.is_some())
            .finish()
    }
}

/// Resolves to the outcome of a [`Future`]: what `(&future).await` gives.
#[must_use = "an Outcome does nothing unless awaited or polled"]
pub struct Outcome<'a, T> {
    future: &'a Future<T>,
    wait: WaitDone<T>,
}

impl<T> fmt::Debug for Outcome<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("future", &self.future)
            .finish()
    }
}

impl<'a, T> core::future::Future for Outcome<'a, T> {
    type Output = Result<&'a T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.wait).poll(cx) {
            Poll::Ready(()) => match this.future.try_result() {
                Some(outcome) => Poll::Ready(outcome),
                None => unreachable!("a done future has an outcome"),
            },
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Awaiting `&future` waits until it is done and gives its outcome by reference:
///
/// ```
/// # async fn demo() -> Result<(), betterconcurrent_core::Error> {
/// let future = betterconcurrent_core::Future::new();
/// future.set_result(String::from("hi")).unwrap();
/// let value: &String = (&future).await?;
/// assert_eq!(value, "hi");
/// # Ok(()) }
/// ```
///
/// The future is borrowed, not consumed, because every clone shares the same value.
impl<'a, T> IntoFuture for &'a Future<T> {
    type Output = Result<&'a T, Error>;
    type IntoFuture = Outcome<'a, T>;

    fn into_future(self) -> Outcome<'a, T> {
        Outcome {
            future: self,
            wait: self.yield_until_done(),
        }
    }
}

/// Awaiting a `Future` by value waits until it is done and gives its outcome owned: the value
/// is moved out if this was the last handle (no clone, see [`Future::into_outcome`]), and
/// cloned otherwise, as [`Arc::unwrap_or_clone`] does (other clones still read it).
///
/// ```
/// # async fn demo(pool_future: betterconcurrent_core::Future<Vec<u8>>) {
/// let bytes: Vec<u8> = pool_future.await.unwrap(); // moved out, not copied
/// # }
/// ```
impl<T: Clone> IntoFuture for Future<T> {
    type Output = Result<T, Error>;
    type IntoFuture = OwnedOutcome<T>;

    fn into_future(self) -> OwnedOutcome<T> {
        OwnedOutcome {
            future: Some(self),
            key: None,
        }
    }
}

/// Resolves to the owned outcome of a [`Future`]: what `future.await` gives.
#[must_use = "an OwnedOutcome does nothing unless awaited or polled"]
pub struct OwnedOutcome<T> {
    /// `None` once it resolved.
    future: Option<Future<T>>,
    key: Option<usize>,
}

impl<T: Clone> core::future::Future for OwnedOutcome<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let future = this
            .future
            .as_ref()
            .expect("an OwnedOutcome is not polled after it resolved");
        match future.poll_done(cx, &mut this.key) {
            Poll::Ready(()) => {
                let future = this.future.take().expect("checked above");
                Poll::Ready(future.into_outcome_or_clone())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for OwnedOutcome<T> {
    fn drop(&mut self) {
        if let Some(future) = &self.future {
            future.forget_waiter(&mut self.key);
        }
    }
}

impl<T> fmt::Debug for OwnedOutcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedOutcome")
            .field("resolved", &self.future.is_none())
            .finish()
    }
}

impl<T> Future<T> {
    /// The outcome of a done future, owned: moved out if this is the last handle, else cloned.
    pub(crate) fn into_outcome_or_clone(self) -> Result<T, Error>
    where
        T: Clone,
    {
        match self.into_outcome() {
            Ok(outcome) => outcome,
            Err(shared) => match shared.try_result() {
                Some(outcome) => outcome.cloned(),
                None => unreachable!("a done future has an outcome"),
            },
        }
    }
}

/// Run done callbacks: user code that, like a closure task, may block on anything, so an
/// executor's thread makes the work it would otherwise keep to itself visible meanwhile.
fn run_callbacks(callbacks: impl FnOnce()) {
    #[cfg(feature = "std")]
    crate::blocking::run_may_block(callbacks);
    #[cfg(not(feature = "std"))]
    callbacks();
}

/// Names a done callback in a panic report by the [`id`](Future::id) of its future.
struct CallbackOf(usize);

impl fmt::Display for CallbackOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a done callback of future {:#x}", self.0)
    }
}
