//! The task cell: one allocation holding a submitted piece of work beside the future it completes,
//! and [`Task`], the type-erased handle an executor queues and runs.
//!
//! Two kinds of work share the cell layout (`Cell<T, Body>` in `future.rs`):
//! - a closure ([`Task::from_closure`]): run once, always completes;
//! - an `async` body ([`Task::from_async`]): polled; it may suspend (return `Pending`) without
//!   holding a thread, and its waker re-queues it on its executor through [`Schedule`].
//!
//! A third, [`Task::detached`], is a fire-and-forget closure with no future at all: its cell
//! holds the closure alone, and its one [`Task`] handle is the only way to it.
//!
//! # Ownership
//!
//! The work is touched only by the thread that holds the task's run right: for a closure, the one
//! [`Task`] handle (its `run`, `cancel`, `fail` consume it); for an async body, the `RUNNING` bit of
//! its state word (below). The future's handles share the allocation but never touch the work.
//!
//! # The async state word
//!
//! Its values and transitions are in the `state` submodule: a `Snapshot` with one pure
//! function per transition (unit-tested there) and `StateWord`, the atomic that applies them
//! through one compare-and-swap loop.
//!
//! | bit | set when | cleared when |
//! | --- | --- | --- |
//! | `SCHEDULED` | submitted; or woken while idle (the waker hands a [`Task`] to the scheduler) | a worker starts polling |
//! | `RUNNING` | a worker starts polling | the poll returns |
//! | `NOTIFIED` | woken while `RUNNING` | the poll returns: the poller re-queues the task itself |
//! | `COMPLETE` | the body finished, panicked, or was dropped unrun | never |
//! | `STARTED` | the first poll claimed the future (`set_running_or_notify_cancel`) | never |
//! | `ABORT` | the executor aborted it ([`TaskWatch::abort`]); an idle task is also `SCHEDULED` | it completes |
//!
//! Invariants: `SCHEDULED` and `RUNNING` are never both set, so a task is in at most one queue and
//! polled by at most one thread; a wake is never lost (it either schedules an idle task, marks a
//! running one `NOTIFIED`, or finds it already scheduled or complete); exactly one [`Task`] handle
//! exists while `SCHEDULED` is set, and none while the task is idle (its waker holds the cell).
//!
//! # Abort
//!
//! An abort ([`TaskWatch::abort`] for an executor, `Future::abort` for a user) is one
//! read-modify-write of the state word, so it is ordered with every poll's
//! transitions: whoever holds the run right next sees `ABORT` there and ends the task instead of
//! polling it (again). A queued task is ended by the worker that pops it (`start_poll` sees the
//! bit, even if that worker took it from the queue before the abort); a running one ends when its
//! poll returns `Pending` (`end_poll` sees it: an abort never cuts a poll short); an idle
//! (suspended) one is scheduled by the abort itself, so it is ended even if nothing it awaits
//! ever completes. Ending means: the body is dropped in place and the future ends cancelled.
//!
//! # Scoped work
//!
//! A task's work may borrow for a lifetime `'a` shorter than `'static` when it is made by a
//! scoped constructor ([`Task::from_closure_scoped`], [`Task::from_async_scoped`],
//! [`Task::detached_with`]), as `std::thread::scope` lends its threads the caller's locals. The
//! cell is then handled as if it were `'static` (`erase`), which is sound because the work is
//! touched only while the task is unfinished (by the holder of the run right, or by a future's
//! `run_here` / last handle before the task ended), every way of ending it drops the work before
//! the executor learns of the end, and the constructor's caller does not let `'a` end until the
//! task has ended. What outlives the end (the future's handles, a waker) touches the cell's
//! state and outcome, never the work. The output is `'static`: it may outlive the scope.

use alloc::vec::Vec;
use core::any::Any;
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::error::Error;
use crate::future::{Body, Cell, Completer, Future, FutureCore};
use crate::panic;
use crate::site::SubmitSite;
use crate::sync::{
    unsize, waker, Arc, ArcWake, AtomicBool, AtomicUsize, Ordering, UnsafeCell, Weak,
};

mod state;
use state::{AbortTransition, IdleTransition, PollTransition, StateWord, WakeTransition};

/// A task's way back to its executor: made once per executor (from a weak reference to its
/// [`Schedule`] side) and cloned into each task. One pointer per task, and cloning it is a plain
/// reference-count increment; the executor itself stays weakly held, so a task never keeps its
/// executor alive.
#[derive(Clone)]
pub struct SchedulerHandle {
    executor: Arc<Weak<dyn Schedule>>,
}

impl SchedulerHandle {
    /// The handle of the executor `scheduler` refers to (allocates once).
    pub fn new(scheduler: Weak<dyn Schedule>) -> Self {
        Self {
            executor: Arc::new(scheduler),
        }
    }

    /// The executor, if it still exists.
    pub fn upgrade(&self) -> Option<Arc<dyn Schedule>> {
        self.executor.upgrade()
    }

    /// The executor, without taking a reference to it.
    ///
    /// # Safety
    /// The executor must stay alive for as long as the returned reference is used: the caller
    /// knows something else holds it (for example, an executor that holds itself while it has
    /// unfinished tasks, asked from one of those tasks).
    #[cfg(target_has_atomic = "ptr")]
    pub unsafe fn executor_unchecked(&self) -> &dyn Schedule {
        // SAFETY: the weak handle points at the executor's allocation, whose value is alive by
        // the caller's promise; `as_ptr` of a `Weak` made by `Arc::downgrade` is that value.
        unsafe { &*self.executor.as_ptr() }
    }

    /// Whether both handles lead to the same executor (made by the same [`new`](Self::new)).
    pub fn is(&self, other: &SchedulerHandle) -> bool {
        Arc::ptr_eq(&self.executor, &other.executor)
    }
}

impl fmt::Debug for SchedulerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerHandle")
            .field("executor_alive", &(self.executor.strong_count() > 0))
            .finish()
    }
}

/// An executor's queue, as seen by the tasks it runs: where a woken async task goes back to.
pub trait Schedule: Send + Sync + 'static {
    /// Queue `task` again: it was woken after suspending. It was counted when first submitted, so
    /// this is not a new submission and must not be refused, even after shutdown.
    fn schedule(&self, task: Task);

    /// Queue again a task that was woken during its own poll (it yielded, or what it awaits
    /// completed meanwhile). It must go behind the work already queued, so a task that keeps
    /// waking itself cannot starve the rest (tokio's `yield_now` scheduling). The default is
    /// [`schedule`](Schedule::schedule), right for an executor whose queue is first-in
    /// first-out.
    fn schedule_yielded(&self, task: Task) {
        self.schedule(task);
    }

    /// This executor as `Any`, so a handle type can be recovered from a future
    /// ([`Future::executor_as`]).
    fn as_any(&self) -> &dyn Any;

    /// One of this executor's tasks ended away from its queue: run to its end through
    /// [`Future::run_here`] (its queued copy will report [`RunOutcome::RanElsewhere`]), or an
    /// async task freed unfinished because nothing could wake it any more. Count it ended;
    /// `registered` is the entry its [`Registration`] held, if the executor gave it one (then
    /// the executor forgets that entry too).
    fn ended_elsewhere(&self, registered: Option<usize>);

    /// An async task of this executor is being freed unfinished (nothing can wake it any more):
    /// call `drop_body` (the task's destructors: user code, which may drop or wait for this very
    /// executor, so an executor runs it as it runs the drop of work it ends itself), then count
    /// the task ended as [`ended_elsewhere`](Schedule::ended_elsewhere) does. The body is
    /// dropped first, so once the task counts as ended (and `join` may return) none of its code
    /// is still running.
    fn end_freed(&self, drop_body: &mut dyn FnMut(), registered: Option<usize>) {
        drop_body();
        self.ended_elsewhere(registered);
    }

    /// A timed wait for the future whose [`Future::id`](crate::Future::id) is `awaited`, one of
    /// this executor's, gave up: if that future can never complete because its task is in, or
    /// waits on, a deadlock (tasks waiting for each other), the executor's diagnosis, which the
    /// wait returns as [`Error::Stuck`] instead of [`Error::Timeout`]. Called only after such a
    /// wait timed out, never on a task's path. The default knows of none.
    fn deadlock_diagnosis(&self, awaited: usize) -> Option<Arc<str>> {
        let _ = awaited;
        None
    }
}

/// Where an executor's registry of unfinished tasks keeps an async task: an entry number the
/// executor chooses when it registers the task ([`Task::registration`]) and forgets when the
/// task ends. The task only carries it, so the executor can forget the entry in O(1) (an
/// executor that keeps no registry never sets it).
pub struct Registration {
    entry: AtomicUsize,
}

impl Registration {
    const NONE: usize = usize::MAX;

    fn new() -> Self {
        Self {
            entry: AtomicUsize::new(Self::NONE),
        }
    }

    /// Record the task's entry: at most once per task, by the thread that holds its run right
    /// (in [`RunHooks::suspending`]), so whoever holds that right later, or frees the cell,
    /// reads it after the hand-over that ordered the two (the state word's transitions, the
    /// queue, the last reference count).
    #[inline]
    pub fn set(&self, entry: usize) {
        debug_assert!(entry != Self::NONE, "usize::MAX means unregistered");
        self.entry.store(entry, Ordering::Relaxed);
    }

    /// The entry recorded, if any.
    #[inline]
    pub fn get(&self) -> Option<usize> {
        match self.entry.load(Ordering::Relaxed) {
            Self::NONE => None,
            entry => Some(entry),
        }
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Registration").field(&self.get()).finish()
    }
}

/// What a worker should do after running a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum RunOutcome {
    /// The task's future is complete and its callbacks have run (a detached task: its closure
    /// returned): count it ended.
    Completed,
    /// As `Completed`, but the user's code panicked (the future holds [`Error::Panicked`]; a
    /// detached task's panic was reported by the panic hook).
    Panicked,
    /// The task suspended; it is still outstanding and will be queued again when woken (or it was
    /// woken during the poll and has been queued again already).
    Suspended,
    /// The work was already run (or dropped) through [`Future::run_here`], which counted it:
    /// nothing to count.
    RanElsewhere,
}

impl RunOutcome {
    /// Whether the task ended and the executor must count it so (`Completed` or `Panicked`).
    pub fn ended(self) -> bool {
        matches!(self, RunOutcome::Completed | RunOutcome::Panicked)
    }
}

/// Which kind of work a [`Task`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskKind {
    /// A closure with a future ([`Task::from_closure`]): runs once, and may block its thread.
    Closure,
    /// An `async` body ([`Task::from_async`]): polled, suspends at its `.await`s.
    Async,
    /// A fire-and-forget closure with no future ([`Task::detached`]).
    Detached,
}

/// Where a task is at one moment, as a dump sees it ([`TaskSnapshot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskPhase {
    /// In a run queue, not being polled.
    Queued,
    /// Being polled (or run) by a thread.
    Running,
    /// Idle at an `.await`: only a wake brings it back.
    Suspended,
    /// Finished, cancelled, aborted or failed.
    Complete,
}

/// What [`Task::facts`] reads about a task in one call: two words, so that they come back in
/// registers (an executor's worker loop reads them for every task it runs).
#[derive(Clone, Copy, Debug)]
pub struct TaskFacts<'a> {
    /// As [`Task::registration`].
    pub registration: Option<&'a Registration>,
    /// As [`Task::kind`] and [`Task::site`].
    pub kind_and_site: KindAndSite,
}

/// A task's [`TaskKind`] and [`SubmitSite`] in the low [`KindAndSite::BITS`] bits of one
/// `u32`, never 0: what an executor keeps about a task it runs, packed with the task's id into
/// one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindAndSite(u32);

impl KindAndSite {
    /// The bits [`to_bits`](KindAndSite::to_bits) may set: the site's 16 above the kind's 2.
    pub const BITS: u32 = 18;

    /// The pair.
    #[inline]
    pub const fn new(kind: TaskKind, site: SubmitSite) -> Self {
        let code = match kind {
            TaskKind::Closure => 1,
            TaskKind::Async => 2,
            TaskKind::Detached => 3,
        };
        Self((site.to_bits() as u32) << 2 | code)
    }

    /// The kind.
    pub fn kind(self) -> TaskKind {
        match self.0 & 0b11 {
            1 => TaskKind::Closure,
            2 => TaskKind::Async,
            _ => TaskKind::Detached,
        }
    }

    /// The site.
    pub fn site(self) -> SubmitSite {
        SubmitSite::from_bits((self.0 >> 2) as u16)
    }

    /// The pair as bits: below `1 << BITS`, never 0.
    #[inline]
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// The pair [`to_bits`](KindAndSite::to_bits) gave, or `None` for bits it never gives.
    pub fn from_bits(bits: u32) -> Option<Self> {
        (bits & 0b11 != 0 && bits >> Self::BITS == 0).then_some(Self(bits))
    }
}

/// One async task at one moment ([`TaskWatch::snapshot`]): what an executor's dump of its
/// unfinished tasks is made of. Read without stopping anything, so it may be stale as soon as
/// it is taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSnapshot {
    /// The task's id: its future's [`Future::id`](crate::Future::id), which is also the data
    /// pointer of the task's waker, so `waiters` name tasks by the same ids.
    pub id: usize,
    /// What kind of task it is.
    pub kind: TaskKind,
    /// Where it is.
    pub phase: TaskPhase,
    /// Who waits for its future, by the data pointer of each waker registered on it: a task's
    /// `id` for a task of an executor built on this crate that awaits the future directly;
    /// another address for anything else (a thread blocked in `result()`, another runtime's
    /// task, a combinator's own waker such as a `wait_async`'s).
    pub waiters: Vec<usize>,
    /// How many of its own wakers exist (its cell's references less its future's handles):
    /// each registration of the task on something it awaits holds one, so a dump that found
    /// fewer registrations than this has not seen everything the task waits for (another
    /// branch of a `select`, a foreign future).
    pub wakers: usize,
    /// Where it was submitted.
    pub site: SubmitSite,
}

/// What an executor can do with a queued task; implemented by each kind of task cell.
///
/// Methods take `&self` (not `self: Arc<Self>`, which `portable-atomic-util`'s `Arc` cannot be
/// on a trait object) and `this`, the handle the caller dispatched through, which keeps the cell
/// alive for the call and from which an implementation takes an owned handle of its own type
/// (`Cell::handle`).
trait Runnable: Send + Sync {
    fn run(&self, this: &Arc<dyn Runnable>, hooks: &mut dyn RunHooks) -> RunOutcome;
    /// False if the work was already claimed elsewhere (then it is not this caller's to count).
    fn cancel(&self, this: &Arc<dyn Runnable>) -> bool;
    /// As `cancel`.
    fn fail(&self, this: &Arc<dyn Runnable>, error: Error) -> bool;
    /// A weak handle to an async task (closures never suspend, so they have none).
    fn watch(&self, this: &Arc<dyn Runnable>) -> Option<TaskWatch> {
        let _ = this;
        None
    }
    /// An async task's registry entry (closures are never registered).
    fn registration(&self) -> Option<&Registration> {
        None
    }
    /// A watched task's snapshot ([`TaskWatch::snapshot`]), `references` the strong references
    /// to its cell other than the caller's; as `wake_now`.
    fn snapshot(&self, references: usize) -> Option<TaskSnapshot> {
        let _ = references;
        None
    }
    fn kind(&self) -> TaskKind;
    /// Where the task was submitted.
    fn site(&self) -> SubmitSite;
    /// Its registration, kind and site in one call (what an executor reads about a task it is
    /// about to run).
    fn facts(&self) -> TaskFacts<'_> {
        TaskFacts {
            registration: self.registration(),
            kind_and_site: KindAndSite::new(self.kind(), self.site()),
        }
    }
    /// The handle back to the task's executor (a detached task has none).
    fn scheduler(&self) -> Option<&SchedulerHandle> {
        None
    }
    /// Wake a watched task as its waker would ([`TaskWatch::wake`]); only async tasks are
    /// watched, so the default is never called.
    fn wake_now(&self, this: &Arc<dyn Runnable>) {
        let _ = this;
    }
    /// Abort a watched task ([`TaskWatch::abort`]); as `wake_now`.
    fn abort_now(&self, this: &Arc<dyn Runnable>) {
        let _ = this;
    }
}

/// What an executor does at the points of a run that only it knows how to handle; the
/// executor passes its hooks to [`Task::run`] or [`Task::execute`]. A closure `FnMut()` is
/// hooks whose `before_complete` calls it and whose `suspending` does nothing.
pub trait RunHooks {
    /// The user's code returned (or was skipped), and the future has not completed yet, so no
    /// waiter can have observed the outcome: executors mark the thread idle here, so a caller
    /// that saw the result and submits again finds it so. Called once per run.
    fn before_complete(&mut self);

    /// An async task's poll returned `Pending`: it is about to suspend (or to be queued again,
    /// if it was woken during the poll), and this thread still holds its run right, so the task
    /// cannot run anywhere else yet. Called before `before_complete`. An executor registers
    /// the task here the first time (it has reached an `.await`, where no queue holds it any
    /// more) and may [`abort`](Suspending::abort) it instead of letting it suspend.
    fn suspending(&mut self, task: Suspending<'_>) {
        let _ = task;
    }
}

impl<F: FnMut()> RunHooks for F {
    fn before_complete(&mut self) {
        self();
    }
}

/// An async task whose poll just returned `Pending`, as [`RunHooks::suspending`] sees it.
pub struct Suspending<'a> {
    task: &'a Arc<dyn Runnable>,
    registration: &'a Registration,
}

impl Suspending<'_> {
    /// Where the executor's registry keeps this task (unset until the executor sets it).
    #[inline]
    pub fn registration(&self) -> &Registration {
        self.registration
    }

    /// A weak handle to the task, for the executor's registry.
    #[inline]
    pub fn watch(&self) -> TaskWatch {
        TaskWatch {
            raw: Arc::downgrade(self.task),
        }
    }

    /// End the task instead of letting it suspend, as [`TaskWatch::abort`] does: when the poll
    /// that returned `Pending` is over, its body is dropped and its future ends cancelled, and
    /// the run reports [`RunOutcome::Completed`].
    #[inline]
    pub fn abort(&self) {
        self.task.abort_now(self.task);
    }
}

impl fmt::Debug for Suspending<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspending")
            .field("registration", self.registration)
            .finish()
    }
}

/// A weak handle to an async task, for the executor that runs it: a suspended task is held only
/// by the wakers of what it awaits, so this is how the executor can still reach it, e.g. to wake
/// it so that `shutdown(cancel_futures = true)` cancels it even if what it awaits never completes.
/// It does not keep the task alive.
pub struct TaskWatch {
    raw: Weak<dyn Runnable>,
}

impl TaskWatch {
    /// Wake the task as its waker would, if it still exists: an idle task is queued again.
    pub fn wake(&self) {
        if let Some(task) = self.raw.upgrade() {
            task.wake_now(&task);
            drop_work(task);
        }
    }

    /// Abort the task, if it still exists and is not complete (see the module docs' "Abort"): it
    /// is not polled again; its body is dropped and its future ends cancelled, by the thread
    /// that holds its run right next: the worker that pops it if it is queued, its poller when
    /// the current poll returns `Pending` (a poll that returns `Ready` completes it as usual),
    /// or, for a suspended task, whichever worker runs it after this call schedules it. The
    /// executor counts it finished as any task that ended (its run reports
    /// [`RunOutcome::Completed`]).
    pub fn abort(&self) {
        if let Some(task) = self.raw.upgrade() {
            task.abort_now(&task);
            drop_work(task);
        }
    }

    /// The handle back to the task's executor, if the task still exists (an executor that hands
    /// out several handles, e.g. one per group of tasks, tells its tasks apart by it).
    pub fn scheduler(&self) -> Option<SchedulerHandle> {
        let task = self.raw.upgrade()?;
        let scheduler = task.scheduler().cloned();
        drop_work(task);
        scheduler
    }

    /// What the task looks like now, if it still exists (see [`TaskSnapshot`]). Takes its
    /// future's lock for as long as it reads its waiters' addresses; runs no user code (the
    /// handle upgraded here is dropped as any other, after the read).
    pub fn snapshot(&self) -> Option<TaskSnapshot> {
        let task = self.raw.upgrade()?;
        // Less the handle just upgraded.
        let references = Arc::strong_count(&task) - 1;
        let snapshot = task.snapshot(references);
        drop_work(task);
        snapshot
    }

    /// The task's id (its future's [`Future::id`](crate::Future::id)), if the task still
    /// exists. Reaches the task as [`scheduler`](TaskWatch::scheduler) does (the handle
    /// upgraded here is dropped as any other).
    pub fn id(&self) -> Option<usize> {
        let task = self.raw.upgrade()?;
        let id = Arc::as_ptr(&task) as *const () as usize;
        drop_work(task);
        Some(id)
    }

    /// True once the task was dropped: the watch can be discarded. (It does not upgrade the
    /// handle, so checking never ends up dropping the task, and its user data, itself.)
    pub fn is_dropped(&self) -> bool {
        self.raw.strong_count() == 0
    }
}

impl Clone for TaskWatch {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
        }
    }
}

impl fmt::Debug for TaskWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskWatch")
            .field("dropped", &self.is_dropped())
            .finish()
    }
}

/// A submitted unit of work and the future it completes (none for a detached task), ready to be
/// queued by an executor.
///
/// Executors end every task with [`run`](Task::run) (until it completes), [`cancel`](Task::cancel)
/// or [`fail`](Task::fail); a `Task` dropped otherwise leaves its future pending (a detached
/// task's closure is dropped unrun, and the executor never learns it ended).
pub struct Task {
    raw: Arc<dyn Runnable>,
}

impl Task {
    /// Package a closure as a task; returns the task and the future it will complete.
    ///
    /// Running the task calls the closure once (if the future was not cancelled first); a panic
    /// in it is caught (with `std`) and stored in the future as [`Error::Panicked`]. `scheduler` is
    /// only recorded, for [`Future::executor_as`].
    #[track_caller]
    pub fn from_closure<F, T>(work: F, scheduler: Option<SchedulerHandle>) -> (Task, Future<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Task::from_closure_at(work, scheduler, SubmitSite::caller())
    }

    /// As [`from_closure`](Task::from_closure), recording `site` as where it was submitted
    /// (for an executor that submits on its caller's behalf later, as a `map` does).
    pub fn from_closure_at<F, T>(
        work: F,
        scheduler: Option<SchedulerHandle>,
        site: SubmitSite,
    ) -> (Task, Future<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: `work` borrows nothing, so no lifetime can end before its uses.
        unsafe { Task::closure_cell(work, scheduler, site) }
    }

    /// As [`from_closure`](Task::from_closure), for a closure that may borrow for `'a` (a scoped
    /// task; see the module docs' "Scoped work").
    ///
    /// # Safety
    /// The task must end before `'a` does: the caller must not let `'a` end until the task has
    /// been run to completion, cancelled or failed, or freed by its executor
    /// ([`Schedule::ended_elsewhere`], [`Schedule::end_freed`]), each of which happens after
    /// its work was dropped.
    #[track_caller]
    pub unsafe fn from_closure_scoped<'a, F, T>(
        work: F,
        scheduler: Option<SchedulerHandle>,
    ) -> (Task, Future<T>)
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'static,
    {
        // SAFETY: this function's contract is `closure_cell`'s.
        unsafe { Task::closure_cell(work, scheduler, SubmitSite::caller()) }
    }

    /// The cell of a closure task submitted at `site`.
    ///
    /// # Safety
    /// As for [`from_closure_scoped`](Task::from_closure_scoped).
    unsafe fn closure_cell<'a, F, T>(
        work: F,
        scheduler: Option<SchedulerHandle>,
        site: SubmitSite,
    ) -> (Task, Future<T>)
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'static,
    {
        let cell = Arc::new(Cell {
            core: FutureCore::new(scheduler, site),
            body: ClosureBody {
                claimed: AtomicBool::new(false),
                work: UnsafeCell::new(Some(work)),
            },
        });
        let future = Future::from_cell(cell.clone());
        // SAFETY: the caller keeps the work's uses within `'a` (this function's contract).
        let raw = unsafe { erase(unsize!(cell)) };
        (Task { raw }, future)
    }

    /// Package a fire-and-forget closure as a task with no future: nothing can wait for it,
    /// cancel it or read its result, so the cell holds the closure alone (no future state, no
    /// executor handle). Running it calls the closure once; a panic is caught (with `std`) and
    /// reported as [`RunOutcome::Panicked`].
    #[track_caller]
    pub fn detached<F>(work: F) -> Task
    where
        F: FnOnce() + Send + 'static,
    {
        let cell = Arc::new(DetachedBody {
            handle: (),
            #[cfg(feature = "locations")]
            site: SubmitSite::caller(),
            work: UnsafeCell::new(Some(work)),
        });
        Task { raw: unsize!(cell) }
    }

    /// As [`detached`](Task::detached), pointing at `scheduler` so that the executor can tell
    /// the task apart from its others ([`Task::scheduler`]), e.g. which group of its tasks it
    /// belongs to. One pointer more in the cell, and no reference count: cloning a handle per
    /// task would write a line every thread that submits shares. `work` may borrow for `'a`
    /// (a scoped task; see the module docs' "Scoped work").
    ///
    /// # Safety
    /// `scheduler` must stay alive and in place until the task is consumed (run, cancelled,
    /// failed or dropped): for example, a field of an executor that holds itself while it has
    /// unfinished tasks. And the task must be consumed before `'a` ends.
    #[track_caller]
    pub unsafe fn detached_with<'a, F>(work: F, scheduler: &SchedulerHandle) -> Task
    where
        F: FnOnce() + Send + 'a,
    {
        let cell = Arc::new(DetachedBody {
            handle: BorrowedHandle(core::ptr::NonNull::from(scheduler)),
            #[cfg(feature = "locations")]
            site: SubmitSite::caller(),
            work: UnsafeCell::new(Some(work)),
        });
        // SAFETY: the caller consumes the task within `'a` (this function's contract), and
        // consuming it runs or drops the work.
        let raw = unsafe { erase(unsize!(cell)) };
        Task { raw }
    }

    /// Package an `async` body as a task that `scheduler` runs; returns the task (already marked
    /// scheduled: queue it) and the future it will complete with the body's output.
    #[track_caller]
    #[inline]
    pub fn from_async<F>(body: F, scheduler: SchedulerHandle) -> (Task, Future<F::Output>)
    where
        F: core::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // SAFETY: `body` borrows nothing, so no lifetime can end before its uses.
        unsafe { Task::from_async_scoped(body, scheduler) }
    }

    /// As [`from_async`](Task::from_async), for a body that may borrow for `'a` (a scoped task;
    /// see the module docs' "Scoped work").
    ///
    /// # Safety
    /// As for [`from_closure_scoped`](Task::from_closure_scoped): the task must end (complete,
    /// be cancelled, aborted, failed, or freed by its executor) before `'a` does.
    #[track_caller]
    #[inline]
    pub unsafe fn from_async_scoped<'a, F>(
        body: F,
        scheduler: SchedulerHandle,
    ) -> (Task, Future<F::Output>)
    where
        F: core::future::Future + Send + 'a,
        F::Output: Send + 'static,
    {
        let cell = Arc::new(Cell {
            core: FutureCore::new(Some(scheduler), SubmitSite::caller()),
            body: AsyncBody {
                state: StateWord::new(),
                registration: Registration::new(),
                body: UnsafeCell::new(Some(body)),
            },
        });
        let future = Future::from_cell(cell.clone());
        // SAFETY: the caller keeps the body's uses within `'a` (this function's contract).
        let raw = unsafe { erase(unsize!(cell)) };
        (Task { raw }, future)
    }

    /// Run the work: call the closure, or poll the async body once.
    ///
    /// If the future was cancelled before the work started, the work is dropped and the future
    /// becomes `CancelledAndNotified`. `hooks` are the executor's (see [`RunHooks`]; a closure
    /// is called where the user's code has returned, before the future completes).
    pub fn run(self, mut hooks: impl RunHooks) -> RunOutcome {
        let outcome = self.raw.run(&self.raw, &mut hooks);
        // The cell's last handle may go here, dropping the value: user code, caught.
        drop_work(self);
        outcome
    }

    /// The scheduling policy every executor shares (the pool's workers and the
    /// [`LocalExecutor`](crate::local::LocalExecutor)): run the task once, as
    /// [`run`](Task::run); [`RunOutcome::ended`] says whether the executor must count one
    /// task fewer outstanding. A suspended task is still outstanding; one that was run elsewhere
    /// was counted there. What can still unwind after the future completed (a panicking
    /// destructor of the value, dropped here as its last owner) is caught and reported, and the
    /// task counts as completed, so the executor's loop survives it.
    #[must_use = "count the task ended if the outcome says so"]
    pub fn execute(self, hooks: impl RunHooks) -> RunOutcome {
        match panic::catch(|| self.run(hooks)) {
            Ok(outcome) => outcome,
            Err(error) => {
                panic::report("dropping a task's value", &error);
                RunOutcome::Completed
            }
        }
    }

    /// Drop the work unrun and end the future cancelled, waking its waiters. Used by
    /// `shutdown(cancel_futures = true)`; a suspended async task that was woken is cancelled too.
    /// Returns false if the work had already been claimed through [`Future::run_here`] (which
    /// counted it): then there is nothing for the caller to count.
    #[must_use = "count the task ended if this returns true"]
    pub fn cancel(self) -> bool {
        let cancelled_here = self.raw.cancel(&self.raw);
        drop_work(self);
        cancelled_here
    }

    /// Drop the work unrun and finish the future with `error` (e.g. [`Error::BrokenExecutor`]).
    /// Returns false as [`cancel`](Task::cancel) does.
    #[must_use = "count the task ended if this returns true"]
    pub fn fail(self, error: Error) -> bool {
        let failed_here = self.raw.fail(&self.raw, error);
        drop_work(self);
        failed_here
    }

    /// A weak handle to this task if it is an async one (which can suspend); see [`TaskWatch`].
    #[inline]
    pub fn watch(&self) -> Option<TaskWatch> {
        self.raw.watch(&self.raw)
    }

    /// Where an executor's registry keeps this task: `Some` exactly for an async task (the only
    /// kind that can sit suspended in no queue), `None` for closures, so it also tells an
    /// executor which kind it holds in one look.
    #[inline]
    pub fn registration(&self) -> Option<&Registration> {
        self.raw.registration()
    }

    /// Which kind of work this task holds.
    #[inline]
    pub fn kind(&self) -> TaskKind {
        self.raw.kind()
    }

    /// Where this task was submitted.
    #[inline]
    pub fn site(&self) -> SubmitSite {
        self.raw.site()
    }

    /// Its [`registration`](Task::registration), [`kind`](Task::kind) and
    /// [`site`](Task::site), in one dynamic call (an executor's worker loop reads all three
    /// for each task it runs).
    #[inline]
    pub fn facts(&self) -> TaskFacts<'_> {
        self.raw.facts()
    }

    /// The handle back to the executor this task was made for (`None` for a detached task).
    pub fn scheduler(&self) -> Option<&SchedulerHandle> {
        self.raw.scheduler()
    }

    /// An address that identifies this task among live ones: the [`Future::id`] of the future
    /// it completes (a detached task has none, so its id equals no future's).
    #[inline]
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.raw) as *const () as usize
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").finish_non_exhaustive()
    }
}

/// Drop user data whose destructor may panic, reporting instead of unwinding into the executor.
fn drop_work<W>(work: W) {
    if let Err(error) = panic::catch(move || drop(work)) {
        panic::report("dropping a task's work", &error);
    }
}

/// Forget how long a cell's work may borrow (see the module docs' "Scoped work"): the handle
/// of a cell whose work lives for `'a`, as the `'static` handle a [`Task`] holds.
///
/// # Safety
/// The cell's work must not be used after `'a` ends: it was made by a scoped constructor, whose
/// caller ends the task within `'a`.
unsafe fn erase<'a>(cell: Arc<dyn Runnable + 'a>) -> Arc<dyn Runnable> {
    // SAFETY: the two types differ only in the object's lifetime bound, which does not change
    // the layout; that no use outlives `'a` is the caller's contract.
    unsafe { core::mem::transmute::<Arc<dyn Runnable + 'a>, Arc<dyn Runnable>>(cell) }
}

/// The work of a closure task. Whoever claims it (the queued [`Task`] when a worker runs or
/// discards it, or [`Future::run_here`]) owns the work and counts the task finished.
struct ClosureBody<F> {
    claimed: AtomicBool,
    work: UnsafeCell<Option<F>>,
}

// SAFETY: the work is only touched by the one caller that won `claim`, so the cell is never
// accessed from two threads at once; sharing the body only requires moving `F`.
unsafe impl<F: Send> Sync for ClosureBody<F> {}

impl<F> ClosureBody<F> {
    /// Claim the work; true for exactly one caller, ever.
    fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }

    /// Take the work out. Only the caller that won `claim` calls this.
    fn take(&self) -> Option<F> {
        // SAFETY: only the single winner of `claim` reaches this (the swap's AcqRel orders its
        // access after any earlier one), so no other access to the cell can happen at once.
        self.work.with_mut(|work| unsafe { (*work).take() })
    }

    /// Run the claimed work and complete `future`: call the closure unless the future was
    /// cancelled (or finished by the user) first, in which case the work is dropped. True if
    /// the closure panicked.
    fn run_claimed<T>(&self, future: &Future<T>, hooks: &mut dyn RunHooks) -> bool
    where
        F: FnOnce() -> T,
    {
        match (future.set_running_or_notify_cancel(), self.take()) {
            (Ok(true), Some(work)) => {
                let outcome = panic::catch(work);
                let panicked = outcome.is_err();
                hooks.before_complete();
                // Only fails if the user finished the future themselves while it ran; then their
                // outcome stands, as in Python.
                let _ = future.set_outcome(outcome);
                panicked
            }
            (_, work) => {
                drop_work(work);
                hooks.before_complete();
                false
            }
        }
    }
}

impl<F, T> Body<T> for ClosureBody<F>
where
    F: FnOnce() -> T + Send,
{
    fn run_here(&self, future: &Future<T>) -> bool {
        if !self.claim() {
            return false;
        }
        self.run_claimed(future, &mut || {});
        if let Some(scheduler) = future.scheduler() {
            scheduler.ended_elsewhere(None);
        }
        true
    }
}

impl<T, B: Body<T>> Cell<T, B> {
    /// An owned handle to this cell (one more strong reference), from `erased`, the type-erased
    /// handle the caller dispatched through. (Not from `&self`: a pointer derived from a
    /// reference to the contents may not reach the reference counts before them.)
    ///
    /// Sound because `erased` points at this very cell (asserted), and within this crate every
    /// such handle (`Task::raw`, `TaskWatch::raw`) was unsized from an `Arc<Self>` (cells are
    /// never fields of other types): the pointer is the `Self` of an `Arc<Self>` allocation,
    /// and `into_raw` gave it that allocation's provenance and one strong reference.
    fn handle<U: ?Sized>(&self, erased: &Arc<U>) -> Arc<Self> {
        assert!(
            core::ptr::eq(Arc::as_ptr(erased).cast::<Self>(), self),
            "a task cell's handle is taken from the handle that points at it"
        );
        let raw = Arc::into_raw(erased.clone()).cast::<Self>();
        // SAFETY: `raw` is this cell inside its `Arc<Self>` allocation, carrying the strong
        // reference `into_raw` released, which the new handle takes over (see the doc above).
        unsafe { Arc::from_raw(raw) }
    }
}

impl<F, T> Runnable for Cell<T, ClosureBody<F>>
where
    F: FnOnce() -> T + Send,
    T: Send + 'static,
{
    // Every path ends with `drop_work` of the handles it took: dropping the cell may drop the
    // value (user code), and a panic there must neither escape nor be counted twice. (The
    // caller's `Task` drops its own handle the same way.)
    fn run(&self, this: &Arc<dyn Runnable>, hooks: &mut dyn RunHooks) -> RunOutcome {
        if !self.body.claim() {
            return RunOutcome::RanElsewhere;
        }
        let future = Completer::<T>::from_cell(self.handle(this));
        let panicked = self.body.run_claimed(&future, hooks);
        drop_work(future);
        if panicked {
            RunOutcome::Panicked
        } else {
            RunOutcome::Completed
        }
    }

    fn cancel(&self, this: &Arc<dyn Runnable>) -> bool {
        if !self.body.claim() {
            return false;
        }
        let work = self.body.take();
        let future = Completer::<T>::from_cell(self.handle(this));
        if future.cancel() {
            let _ = future.set_running_or_notify_cancel();
        }
        drop_work((work, future));
        true
    }

    fn fail(&self, this: &Arc<dyn Runnable>, error: Error) -> bool {
        if !self.body.claim() {
            return false;
        }
        let work = self.body.take();
        let future = Completer::<T>::from_cell(self.handle(this));
        if let Ok(true) = future.set_running_or_notify_cancel() {
            let _ = future.set_outcome(Err(error));
        }
        drop_work((work, future));
        true
    }

    fn kind(&self) -> TaskKind {
        TaskKind::Closure
    }

    fn site(&self) -> SubmitSite {
        self.core.site
    }

    fn scheduler(&self) -> Option<&SchedulerHandle> {
        self.core.handle()
    }
}

/// The work of a detached task ([`Task::detached`]): the closure alone. Its one [`Task`] handle
/// is the only handle there is, and `run`, `cancel` and `fail` consume it, so the work is
/// touched by one thread only and needs no claim.
/// `H` is the handle back to its executor: `()` for a plain detached task (no room spent on
/// one), a pointer to one for a task an executor must tell apart ([`Task::detached_with`]).
struct DetachedBody<F, H = ()> {
    handle: H,
    /// Where it was submitted (8 bytes more per task, so only with the `locations` feature).
    #[cfg(feature = "locations")]
    site: SubmitSite,
    work: UnsafeCell<Option<F>>,
}

// SAFETY: only the holder of the cell's single `Task` handle touches the work (the handle is
// never cloned, and the methods that reach the work consume it), so sharing the cell only
// requires that the closure can move between threads (and that the handle can be shared).
unsafe impl<F: Send, H: Sync> Sync for DetachedBody<F, H> {}

/// The handle a detached task may keep (see [`DetachedBody`]).
trait DetachedHandle: Send + Sync + 'static {
    fn handle(&self) -> Option<&SchedulerHandle>;
}

impl DetachedHandle for () {
    fn handle(&self) -> Option<&SchedulerHandle> {
        None
    }
}

/// A handle a detached task points at rather than holds ([`Task::detached_with`]).
struct BorrowedHandle(core::ptr::NonNull<SchedulerHandle>);

// SAFETY: it stands for a `&SchedulerHandle` (which is `Send + Sync`) that outlives the task
// (`Task::detached_with`'s contract).
unsafe impl Send for BorrowedHandle {}
// SAFETY: as for `Send`.
unsafe impl Sync for BorrowedHandle {}

impl DetachedHandle for BorrowedHandle {
    fn handle(&self) -> Option<&SchedulerHandle> {
        // SAFETY: the handle outlives the task (`Task::detached_with`'s contract), and this is
        // reached only through the task.
        Some(unsafe { self.0.as_ref() })
    }
}

impl<F, H> DetachedBody<F, H> {
    /// Take the work out; only the single `Task` handle's holder calls this.
    fn take(&self) -> Option<F> {
        // SAFETY: see the `Sync` impl: the holder of the one `Task` handle is the only caller.
        self.work.with_mut(|work| unsafe { (*work).take() })
    }
}

impl<F: FnOnce() + Send, H: DetachedHandle> Runnable for DetachedBody<F, H> {
    fn run(&self, _this: &Arc<dyn Runnable>, hooks: &mut dyn RunHooks) -> RunOutcome {
        let outcome = self.take().map(panic::catch);
        hooks.before_complete();
        match outcome {
            // The panic hook has reported it (on standard error); with no future to hold the
            // error, the executor counts it.
            Some(Err(_)) => RunOutcome::Panicked,
            _ => RunOutcome::Completed,
        }
    }

    fn cancel(&self, _this: &Arc<dyn Runnable>) -> bool {
        drop_work(self.take());
        true
    }

    fn fail(&self, this: &Arc<dyn Runnable>, _error: Error) -> bool {
        self.cancel(this)
    }

    fn kind(&self) -> TaskKind {
        TaskKind::Detached
    }

    fn site(&self) -> SubmitSite {
        #[cfg(feature = "locations")]
        return self.site;
        #[cfg(not(feature = "locations"))]
        SubmitSite::UNKNOWN
    }

    fn scheduler(&self) -> Option<&SchedulerHandle> {
        self.handle.handle()
    }
}

/// The work of an async task: its state word and the pinned body, polled in place.
struct AsyncBody<F> {
    state: StateWord,
    registration: Registration,
    /// `None` once the body completed or was dropped. Accessed only by the holder of `RUNNING`,
    /// or by the holder of the one `Task` handle while `SCHEDULED` (to cancel or fail it).
    body: UnsafeCell<Option<F>>,
}

// SAFETY: the body is only accessed by one thread at a time (the holder of `RUNNING`, or of the
// `Task` handle while `SCHEDULED`; the state word's transitions hand that right over with
// Acquire/Release), so sharing the cell only requires that the body can move between threads.
unsafe impl<F: Send> Sync for AsyncBody<F> {}

impl<F, T> Body<T> for AsyncBody<F>
where
    F: core::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    /// A suspended task whose wakers were all dropped can never run again, and nothing else will
    /// end it: the executor drops its body and counts it ended (`Schedule::end_freed`), so
    /// `join` does not wait for it forever.
    fn on_free(&self, core: &FutureCore<T>) {
        if !self.state.has_completed() {
            match core.scheduler() {
                Some(scheduler) => {
                    scheduler.end_freed(&mut || self.complete(), self.registration.get());
                }
                None => self.complete(),
            }
        }
    }

    /// Set `ABORT` (see the module docs' "Abort"); an idle task is queued to be ended.
    fn abort(&self, cell: &Arc<Cell<T, dyn Body<T>>>) -> bool {
        match self.state.abort() {
            AbortTransition::Schedule => {
                let raw = Arc::into_raw(cell.clone()).cast::<Cell<T, AsyncBody<F>>>();
                // SAFETY: a future's cell handle was unsized from the `Arc` of the one cell
                // that holds this body (`Future::from_cell`), so `raw` is that allocation's
                // `Cell<T, AsyncBody<F>>`, carrying the strong reference `into_raw` released.
                let own = unsafe { Arc::from_raw(raw) };
                Cell::reschedule(own, false);
                true
            }
            AbortTransition::Marked => true,
            AbortTransition::Complete => false,
        }
    }
}

impl<F> AsyncBody<F> {
    /// Mark complete and drop the body in place (it is pinned: it must not move before its
    /// destructor runs). A panicking destructor is caught and returned (the caller decides
    /// whether it becomes the task's outcome or is reported). Only the holder of `RUNNING`, or
    /// of the `Task` handle while `SCHEDULED`, calls this, or the cell's destructor (when no
    /// handle is left at all).
    fn complete_catching(&self) -> Result<(), Error> {
        let dropped = panic::catch(|| {
            self.body.with_mut(|body_cell| {
                /// Leaves the body `None` even if the body's destructor unwinds, so it is never
                /// dropped twice.
                struct EmptyOnExit<F>(*mut Option<F>);
                impl<F> Drop for EmptyOnExit<F> {
                    fn drop(&mut self) {
                        // SAFETY: the pointer is the body we hold the run right for; its old
                        // contents were just dropped in place, so overwriting without dropping
                        // them again is right.
                        unsafe { core::ptr::write(self.0, None) };
                    }
                }
                let _empty = EmptyOnExit(body_cell);
                // SAFETY: the caller holds the run right, so no other thread touches the body;
                // `_empty` then overwrites the dropped value, so it is dropped exactly once.
                if let Some(body) = unsafe { &mut *body_cell } {
                    // SAFETY: as above: dropped in place, never moved, never used again.
                    unsafe { core::ptr::drop_in_place(body) };
                }
            })
        });
        self.state.complete();
        dropped
    }

    /// As `complete_catching`, reporting a panicking destructor (on paths where the task's
    /// outcome is already decided: cancelled, failed, or freed).
    fn complete(&self) {
        if let Err(error) = self.complete_catching() {
            panic::report("dropping a task's work", &error);
        }
    }
}

impl<F, T> Cell<T, AsyncBody<F>>
where
    F: core::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    /// End the task unrun (cancelled, or aborted) while the caller holds its run right: drop the
    /// body, call `before_complete` (a run's hook: the user's code, the body's destructors
    /// included, has returned), end the future cancelled. The task is finished.
    fn end_cancelled<U: ?Sized>(
        &self,
        this: &Arc<U>,
        before_complete: impl FnOnce(),
    ) -> RunOutcome {
        self.body.complete();
        before_complete();
        let future = Completer::<T>::from_cell(self.handle(this));
        future.cancel_started();
        drop_work(future);
        RunOutcome::Completed
    }

    /// Hand the task back to its executor; if the executor is gone, nothing could ever run it, so
    /// end it cancelled instead of leaving its future pending forever.
    /// Queue the task on its executor (`yielded`: it was woken during its own poll, see
    /// [`Schedule::schedule_yielded`]).
    fn reschedule(this: Arc<Self>, yielded: bool) {
        let scheduler = this.core.scheduler();
        // SAFETY: a cell whose body borrows is made only by a scoped constructor, and is queued
        // only while its task is unfinished, so within the body's lifetime (module docs).
        let raw = unsafe { erase(unsize!(this)) };
        let task = Task { raw };
        match scheduler {
            Some(scheduler) if yielded => scheduler.schedule_yielded(task),
            Some(scheduler) => scheduler.schedule(task),
            None => {
                // No executor to count it any more; the return value has no one to tell.
                let _ = task.cancel();
            }
        }
    }
}

impl<F, T> ArcWake for Cell<T, AsyncBody<F>>
where
    F: core::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    fn wake(this: Arc<Self>) {
        if let WakeTransition::Schedule = this.body.state.wake() {
            Self::reschedule(this, false);
        }
    }

    fn wake_by_ref(this: &Arc<Self>) {
        if let WakeTransition::Schedule = this.body.state.wake() {
            Self::reschedule(this.clone(), false);
        }
    }
}

impl<F, T> Runnable for Cell<T, AsyncBody<F>>
where
    F: core::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    fn run(&self, this: &Arc<dyn Runnable>, hooks: &mut dyn RunHooks) -> RunOutcome {
        let first_poll = match self.body.state.start_poll() {
            PollTransition::Poll { first } => first,
            PollTransition::Aborted => return self.end_cancelled(this, || hooks.before_complete()),
            PollTransition::Complete => {
                // Never queued once complete (module invariants); nothing to count twice.
                debug_assert!(false, "a complete async task was queued");
                return RunOutcome::RanElsewhere;
            }
        };
        let future = Completer::<T>::from_cell(self.handle(this));
        // The first poll claims the future; if the user cancelled (or finished) it while it was
        // queued, the body is dropped unpolled.
        if first_poll && future.set_running_or_notify_cancel() != Ok(true) {
            self.body.complete();
            hooks.before_complete();
            drop_work(future);
            return RunOutcome::Completed;
        }
        let waker = waker(self.handle(this));
        let mut cx = Context::from_waker(&waker);
        let polled = panic::catch(|| {
            self.body.body.with_mut(|body_cell| {
                // SAFETY: this thread holds `RUNNING`, so it alone touches the body.
                let body = unsafe { &mut *body_cell };
                match body {
                    Some(body) => {
                        // SAFETY: the body lives inside the `Arc` allocation and is never moved
                        // until it is dropped in place (`complete_catching`), so pinning it is
                        // sound.
                        let body = unsafe { Pin::new_unchecked(body) };
                        body.poll(&mut cx)
                    }
                    None => unreachable!("a running task has its body"),
                }
            })
        });
        let outcome = match polled {
            Ok(Poll::Pending) => {
                hooks.suspending(Suspending {
                    task: this,
                    registration: &self.body.registration,
                });
                // `before_complete` once the user's code is over: after the poll, or, for an
                // aborted task, after its body's destructors (which may wait for new work of
                // this executor, which must not count this thread idle meanwhile).
                let outcome = match self.body.state.end_poll() {
                    IdleTransition::Requeue => {
                        hooks.before_complete();
                        Self::reschedule(self.handle(this), true);
                        RunOutcome::Suspended
                    }
                    IdleTransition::Suspended => {
                        hooks.before_complete();
                        RunOutcome::Suspended
                    }
                    IdleTransition::Aborted => self.end_cancelled(this, || hooks.before_complete()),
                };
                drop_work((future, waker));
                return outcome;
            }
            Ok(Poll::Ready(value)) => Ok(value),
            Err(panicked) => Err(panicked),
        };
        // Dropping the body runs the destructors of what it still holds: a panic there is the
        // task's panic, as it is for a closure, whose captures drop inside its call (unless the
        // body panicked already: that first panic stays the outcome).
        let outcome = match (outcome, self.body.complete_catching()) {
            (outcome, Ok(())) => outcome,
            (Ok(value), Err(in_drop)) => {
                drop_work(value);
                Err(in_drop)
            }
            (Err(first), Err(in_drop)) => {
                panic::report("dropping a task's work", &in_drop);
                Err(first)
            }
        };
        let run_outcome = if outcome.is_err() {
            RunOutcome::Panicked
        } else {
            RunOutcome::Completed
        };
        hooks.before_complete();
        let _ = future.set_outcome(outcome);
        // Handles may go here, dropping the value: user code, caught.
        drop_work((future, waker));
        run_outcome
    }

    fn cancel(&self, this: &Arc<dyn Runnable>) -> bool {
        let _finished = self.end_cancelled(this, || {});
        true
    }

    fn fail(&self, this: &Arc<dyn Runnable>, error: Error) -> bool {
        self.body.complete();
        let future = Completer::<T>::from_cell(self.handle(this));
        let _ = future.set_outcome(Err(error));
        drop_work(future);
        true
    }

    fn watch(&self, this: &Arc<dyn Runnable>) -> Option<TaskWatch> {
        Some(TaskWatch {
            raw: Arc::downgrade(this),
        })
    }

    fn registration(&self) -> Option<&Registration> {
        Some(&self.body.registration)
    }

    fn snapshot(&self, references: usize) -> Option<TaskSnapshot> {
        let mut waiters = Vec::new();
        self.core.waiter_ids(&mut waiters);
        Some(TaskSnapshot {
            id: self as *const Self as *const () as usize,
            kind: TaskKind::Async,
            phase: self.body.state.phase(),
            waiters,
            wakers: references.saturating_sub(self.core.user_handles()),
            site: self.core.site,
        })
    }

    fn kind(&self) -> TaskKind {
        TaskKind::Async
    }

    fn site(&self) -> SubmitSite {
        self.core.site
    }

    fn scheduler(&self) -> Option<&SchedulerHandle> {
        self.core.handle()
    }

    fn wake_now(&self, this: &Arc<dyn Runnable>) {
        ArcWake::wake(self.handle(this));
    }

    fn abort_now(&self, this: &Arc<dyn Runnable>) {
        if let AbortTransition::Schedule = self.body.state.abort() {
            Self::reschedule(self.handle(this), false);
        }
    }
}
