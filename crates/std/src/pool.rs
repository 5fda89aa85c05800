//! [`ThreadPoolExecutor`]: the OS-thread pool, its builder, and its lifecycle (lazy thread start,
//! shutdown, the broken state).
//!
//! # Accounting
//!
//! - `outstanding`: tasks accepted and not yet finished (queued, running or suspended), plus the
//!   workers' *prepaid shares*. A submit counts its task *before* it checks `closing` and
//!   enqueues; a finished task is counted off after its future is complete and its callbacks
//!   have run. So `outstanding == 0` means every task has finished: what `join` waits for.
//! - Prepaid shares keep that one shared counter off the per-task path of a pool's own tasks
//!   (on two cores, a read-modify-write of a line the other core just wrote costs more than
//!   running a tiny task). Each worker keeps a share of `outstanding`, counted there but not
//!   yet used, in its slot (`WorkerCounters::prepaid`, written only by that worker). A submit
//!   from the worker takes one unit of the share (adding `PREPAY` to `outstanding` when it is
//!   empty); a task the worker finishes adds one unit back instead of decrementing; the share is
//!   given back (one `fetch_sub`) whenever it passes `MAX_PREPAID`, and in full before the worker
//!   looks for work in vain, parks in a blocking wait, or exits. Shares never make the count
//!   low, only late to fall, and a worker cannot idle while holding one, so the count still
//!   reaches zero once the tasks are done. Spare threads and outside threads count directly.
//! - `closing`: set by `shutdown` or when the pool breaks; never unset. Workers exit when
//!   `closing && outstanding == 0`. A submit from outside increments `outstanding` before it
//!   loads `closing` (both SeqCst, with a fence), so a task that slips in concurrently with
//!   `shutdown` either sees `closing` and is refused, or is counted before any worker can decide
//!   to exit. A submit from a worker needs no fence: its task lands in that worker's own queue,
//!   which the worker empties before it can exit.
//! - `idle_tokens`: workers that have become idle and are not yet claimed by a submit (Python's
//!   `_idle_semaphore`). A submit claims one or, if none, starts a thread (up to `max_workers`).
//!   A worker releases its token as soon as the user's closure returns, *before* the future
//!   completes, so a caller that saw a result and submits again reuses that thread.
//! - A task refused by a closing pool was never accepted: its count is undone *before* its work
//!   is dropped, so a destructor that drops the pool (whose drop waits for the count) does not
//!   wait for itself. Work ended unrun by the pool itself (drained by `shutdown(cancel_futures)`
//!   or a break) is counted finished after its drop, as every task is; while the pool drops it,
//!   the thread counts as running this pool's tasks (`worker::EndingTasks`), so waits on the
//!   pool from that destructor behave as they do on a worker (no self-wait).
//!
//! # Waiting for the pool
//!
//! `wait_idle`, `join` and `shutdown(wait = true)` wait for `lifecycle` (threads alive, and
//! `outstanding`) through a future ([`Quiescence`]) driven by the core's blocking wait, so on
//! another pool's thread the wait goes through that pool's blocking hook and is compensated
//! like any blocking wait. Waiters register their waker under the `lifecycle` lock and check
//! the condition there; every change that can end a wait (a thread exits or retires; the last
//! outstanding unit of a closing or waited-on pool finishes) wakes them after taking that lock.
//!
//! # Worker slots
//!
//! A worker's deque, its event counters and its registry shard number are made when its thread starts and
//! appended to `slots` (an append-only concurrent vector), so a pool costs memory and search
//! time for the threads it has, not for `max_workers`. Spare and outside threads share one
//! more slot (`shared_slot`), which has no deque. A thread holds its own slot (its worker
//! context keeps a handle), so the per-task paths never look a slot up.

use std::error::Error as StdError;
use std::fmt;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize as GlobalCounter;
use std::task::{Context, Poll, Waker};

use betterconcurrent_core::blocking::block_on_until;
use betterconcurrent_core::sync::blocking::{lock, thread, Mutex, MutexGuard};
use std::any::Any;
use std::time::Instant;

use crate::queue::{Injector, Stealer, Worker};
use betterconcurrent_core::sync::{fence, Arc, AtomicBool, AtomicUsize, Ordering, Weak};
use betterconcurrent_core::task::{Registration, RunOutcome, Schedule, SchedulerHandle, Task};
use betterconcurrent_core::{panic, Error, SubmitError};

use crate::executor::ThreadPoolExecutor;
use crate::registry::Registry;
use crate::sleep::{Recheck, Sleep};
use crate::stats::{Event, Stats, WorkerCounters};
use crate::worker;

/// Units of `outstanding` a worker prepays when its share is used up (see the module docs).
const PREPAY: usize = 32;

/// A worker's prepaid share beyond this is given back, down to `PREPAY`.
const MAX_PREPAID: usize = 2 * PREPAY;

/// The most spare threads a pool starts beyond `max_workers` while all its threads are blocked
/// in waits (Java's ForkJoinPool caps its compensation threads the same way).
pub const MAX_SPARE_THREADS: usize = 256;

/// The largest `max_workers` a pool accepts: 2^22, Linux's `PID_MAX_LIMIT` on 64-bit targets,
/// beyond which no process can have threads. A larger value is an error
/// ([`BuildError::TooManyWorkers`]), not a promise the OS cannot keep.
pub const MAX_WORKERS: usize = 1 << 22;

/// An initializer run once on each worker thread before it takes any task.
type Initializer = Arc<dyn Fn() -> Result<(), Box<dyn StdError + Send + Sync>> + Send + Sync>;

/// Why a pool could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_workers` was 0; a pool needs at least one thread (Python raises `ValueError`).
    ZeroWorkers,
    /// The thread name prefix contains a NUL byte, which no OS thread name may hold.
    NulInThreadName,
    /// `max_workers` was above [`MAX_WORKERS`].
    TooManyWorkers {
        /// What was asked for.
        requested: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => f.write_str("max_workers must be greater than 0"),
            BuildError::NulInThreadName => {
                f.write_str("the thread name prefix must not contain a NUL byte")
            }
            BuildError::TooManyWorkers { requested } => write!(
                f,
                "max_workers must be at most {MAX_WORKERS} (asked for {requested})"
            ),
        }
    }
}

impl StdError for BuildError {}

/// Python's default: `min(32, os.process_cpu_count() + 4)`.
fn default_max_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    (cpus + 4).min(32)
}

/// Builds a [`ThreadPoolExecutor`] with Python's options.
///
/// ```
/// use betterconcurrent_std::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::builder()
///     .max_workers(2)
///     .thread_name_prefix("crawler")
///     .initializer(|| -> Result<(), std::io::Error> { Ok(()) })
///     .build()
///     .unwrap();
/// let future = pool.submit(|| std::thread::current().name().unwrap().to_owned()).unwrap();
/// assert_eq!(future.result().unwrap(), "crawler_0");
/// ```
#[derive(Default)]
#[must_use = "a Builder does nothing until `build` is called"]
pub struct Builder {
    max_workers: Option<usize>,
    thread_name_prefix: Option<String>,
    initializer: Option<Initializer>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_workers", &self.max_workers)
            .field("thread_name_prefix", &self.thread_name_prefix)
            .field("initializer", &self.initializer.is_some())
            .finish()
    }
}

impl Builder {
    /// The most threads the pool starts. Default: `min(32, available parallelism + 4)`.
    /// 0 makes [`build`](Builder::build) fail with [`BuildError::ZeroWorkers`], more than
    /// [`MAX_WORKERS`] with [`BuildError::TooManyWorkers`]. Nothing is allocated per worker until
    /// its thread starts.
    pub fn max_workers(mut self, max_workers: usize) -> Self {
        self.max_workers = Some(max_workers);
        self
    }

    /// Threads are named `{prefix}_{n}`, `n` counting from 0. Default prefix:
    /// `ThreadPoolExecutor-{k}`, `k` counting pools, as in Python.
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = Some(prefix.into());
        self
    }

    /// Run `initializer` on each worker thread before its first task (Python's `initializer`;
    /// capture what would be `initargs`). If it returns an error or panics, the pool becomes
    /// broken: every queued and later task fails with [`Error::BrokenExecutor`], later submits
    /// fail with [`SubmitError::Broken`], and the threads exit.
    pub fn initializer<F, E>(mut self, initializer: F) -> Self
    where
        F: Fn() -> Result<(), E> + Send + Sync + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.initializer = Some(Arc::new(move || initializer().map_err(Into::into)));
        self
    }

    /// Build the pool. No thread starts until work is submitted.
    pub fn build(self) -> Result<ThreadPoolExecutor, BuildError> {
        static POOLS: GlobalCounter = GlobalCounter::new(0);
        let max_workers = self.max_workers.unwrap_or_else(default_max_workers);
        if max_workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        if max_workers > MAX_WORKERS {
            return Err(BuildError::TooManyWorkers {
                requested: max_workers,
            });
        }
        let thread_name_prefix = match self.thread_name_prefix {
            Some(prefix) if prefix.contains('\0') => return Err(BuildError::NulInThreadName),
            Some(prefix) => prefix,
            None => format!(
                "ThreadPoolExecutor-{}",
                POOLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
        };
        Ok(ThreadPoolExecutor::from_shared(Arc::new_cyclic(|this| {
            Shared {
                this: this.clone(),
                scheduler: SchedulerHandle::new(this.clone()),
                slots: boxcar::Vec::new(),
                shared_slot: Arc::new(WorkerSlot::new(None, 0)),
                registry: Registry::new(max_workers),
                injector: Injector::new(),
                sleep: Sleep::new(),
                outstanding: AtomicUsize::new(0),
                idle_tokens: AtomicUsize::new(0),
                threads_started: AtomicUsize::new(0),
                closing: AtomicBool::new(false),
                cancel_queued: AtomicBool::new(false),
                broken: Mutex::new(None),
                handles: Mutex::new(Vec::new()),
                lifecycle: Mutex::new(Lifecycle::default()),
                idle_waiters: AtomicUsize::new(0),
                blocked: AtomicUsize::new(0),
                spares: AtomicUsize::new(0),
                spare_cap_reported: AtomicBool::new(false),
                spares_started: AtomicUsize::new(0),
                max_workers,
                thread_name_prefix,
                initializer: self.initializer,
            }
        })))
    }
}

/// What a started worker thread owns in the pool (see the module docs' "Worker slots"), or,
/// without a deque, what spare and outside threads share.
pub(crate) struct WorkerSlot {
    /// The stealing side of the worker's deque (`None` for the shared slot).
    stealer: Option<Stealer<Task>>,
    /// Its event counters and prepaid share, written only by that worker (the shared slot's with
    /// read-modify-writes, and it keeps no share).
    counters: WorkerCounters,
    /// The registry shard its thread registers async tasks in.
    registry_shard: usize,
}

impl WorkerSlot {
    fn new(stealer: Option<Stealer<Task>>, registry_shard: usize) -> Self {
        Self {
            counters: WorkerCounters::new(stealer.is_some()),
            stealer,
            registry_shard,
        }
    }
}

/// Threads alive, and the wakers of the threads and tasks waiting for the pool to converge or
/// stop (see the module docs' "Waiting for the pool").
#[derive(Default)]
struct Lifecycle {
    /// Worker threads started (or being started) and not yet exited.
    alive: usize,
    waiters: Vec<Waker>,
}

/// What a wait for the pool waits for.
#[derive(Clone, Copy)]
enum Until {
    /// No task outstanding (`wait_idle`, `join`).
    Idle,
    /// No task outstanding and every thread exited (`shutdown(wait = true)`).
    Stopped,
}

/// A wait for the pool to reach a state (see the module docs' "Waiting for the pool").
struct Quiescence<'a> {
    shared: &'a Shared,
    until: Until,
}

impl std::future::Future for Quiescence<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut lifecycle = self.shared.lifecycle();
        let idle = self.shared.outstanding.load(Ordering::SeqCst) == 0;
        let reached = match self.until {
            Until::Idle => idle,
            Until::Stopped => idle && lifecycle.alive == 0,
        };
        if reached {
            return Poll::Ready(());
        }
        // One entry per waiting thread or task: a wait that timed out leaves its waker behind
        // until the next wake, and the same thread waiting again reuses it.
        if !lifecycle
            .waiters
            .iter()
            .any(|waiter| waiter.will_wake(cx.waker()))
        {
            lifecycle.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The state shared by a pool's handle and its worker threads.
pub(crate) struct Shared {
    /// This pool, for the paths that reach it by reference and must hand a thread its own
    /// handle (`Schedule` takes `&self`).
    this: Weak<Shared>,
    /// One per started worker thread, in start order (see the module docs' "Worker slots"). A
    /// thread's slot is pushed when it starts, never derived from a count, so no two live
    /// workers share one even after a failed start, which matters because a slot holds state
    /// only its worker may write (its prepaid share of `outstanding`, its event counters).
    slots: boxcar::Vec<Arc<WorkerSlot>>,
    /// The slot of spare and outside threads.
    shared_slot: Arc<WorkerSlot>,
    /// What each task keeps to find this pool again (made once, cloned per task).
    scheduler: SchedulerHandle,
    /// Every unfinished async task (see `registry`).
    registry: Registry,
    pub(crate) injector: Injector<Task>,
    pub(crate) sleep: Sleep,
    outstanding: AtomicUsize,
    idle_tokens: AtomicUsize,
    threads_started: AtomicUsize,
    closing: AtomicBool,
    /// `shutdown(cancel_futures = true)` was called: queued tasks are cancelled, not run.
    cancel_queued: AtomicBool,
    broken: Mutex<Option<Arc<str>>>,
    handles: Mutex<Vec<thread::JoinHandle<()>>>,
    lifecycle: Mutex<Lifecycle>,
    /// Threads in `wait_idle_until`, so `finish` knows to wake the lifecycle waiters.
    idle_waiters: AtomicUsize,
    /// Pool threads parked in a blocking wait (see `thread_blocked`).
    blocked: AtomicUsize,
    /// Spare threads started to compensate for blocked ones, alive now.
    spares: AtomicUsize,
    spare_cap_reported: AtomicBool,
    /// Spare threads ever started, for unique names.
    spares_started: AtomicUsize,
    max_workers: usize,
    thread_name_prefix: String,
    initializer: Option<Initializer>,
}

impl Shared {
    /// The stealing sides of every started worker's deque.
    pub(crate) fn stealers(&self) -> impl Iterator<Item = &Stealer<Task>> {
        self.slots
            .iter()
            .filter_map(|(_, slot)| slot.stealer.as_ref())
    }

    /// Every slot: the workers' in start order, then the shared one.
    fn all_slots(&self) -> impl Iterator<Item = &WorkerSlot> {
        self.slots
            .iter()
            .map(|(_, slot)| &**slot)
            .chain(std::iter::once(&*self.shared_slot))
    }

    fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
        lock(&self.lifecycle)
    }

    /// Wake every lifecycle waiter, after `lifecycle` (taken by the caller) may have changed.
    fn wake_waiters(&self, mut lifecycle: MutexGuard<'_, Lifecycle>) {
        let waiters = std::mem::take(&mut lifecycle.waiters);
        drop(lifecycle);
        for waiter in waiters {
            waiter.wake();
        }
    }

    /// Wait until the pool reached `until` or `deadline` passed (false then), through the
    /// current thread's blocking hook (see the module docs' "Waiting for the pool").
    fn wait_for(&self, until: Until, deadline: Option<Instant>) -> bool {
        block_on_until(
            Quiescence {
                shared: self,
                until,
            },
            deadline,
        )
        .is_some()
    }

    /// Accept a new task: count it, refuse it if the pool is closing, then queue it.
    pub(crate) fn submit(self: &Arc<Self>, task: Task) -> Result<(), SubmitError> {
        // An async task is registered before the closing check, so `shutdown(cancel_futures)`
        // reaches it if it is accepted (see `registry`). A worker counts its submit from its
        // prepaid share (its task lands in its own queue, see the module docs).
        let prepaid = worker::with_own_slot(self, |slot| {
            self.registry.register(&task, slot.registry_shard);
            let exclusive = slot.counters.is_exclusive();
            if exclusive {
                self.count_prepaid(slot);
            }
            exclusive
        })
        .unwrap_or_else(|| {
            self.registry
                .register(&task, self.shared_slot.registry_shard);
            false
        });
        if !prepaid {
            self.outstanding.fetch_add(1, Ordering::SeqCst);
            // Pairs with `closing`'s SeqCst store in `shutdown`/`mark_broken` and the fence in
            // `sleep.notify_all` after it (before the workers' exit check loads `outstanding`):
            // one side sees the other.
            fence(Ordering::SeqCst);
        }
        if self.closing.load(Ordering::SeqCst) {
            let error = self.submit_error();
            // Never accepted: undo its count before its work is dropped (module docs).
            if prepaid {
                worker::with_own_slot(self, |slot| self.finish_in_slot(slot));
            } else {
                self.finish_one();
            }
            // Ended (not merely dropped), so the cell does not count itself unfinished later;
            // nothing is left to count.
            let entry = registry_entry(&task);
            let _uncounted = task.cancel();
            self.forget(entry);
            return Err(error);
        }
        self.enqueue(task);
        Ok(())
    }

    /// Queue a counted task where the current thread finds it fastest, then claim an idle worker
    /// for it or start one (Python's `_adjust_thread_count`), and wake a sleeper.
    fn enqueue(&self, task: Task) {
        let stealable = match worker::push_local(self, task) {
            Ok(pushed_to_deque) => pushed_to_deque,
            Err(task) => {
                self.injector.push(task);
                true
            }
        };
        // Once every worker has started there is no thread to start and no token to claim
        // (Python's `_adjust_thread_count` stops there too): skip the shared counter.
        if !self.all_threads_started() && !self.claim_idle_token() {
            self.start_thread();
        }
        // A task in the submitting worker's LIFO slot is that worker's to run: waking another
        // for it would only find nothing to steal.
        if stealable {
            self.sleep.notify_one();
        }
    }

    /// The handle a task keeps to this pool (for re-queueing and `Executor::of`).
    pub(crate) fn scheduler(&self) -> SchedulerHandle {
        self.scheduler.clone()
    }

    /// An owned handle to this pool, if it is still alive.
    pub(crate) fn upgrade(&self) -> Option<Arc<Shared>> {
        self.this.upgrade()
    }

    pub(crate) fn max_workers(&self) -> usize {
        self.max_workers
    }

    pub(crate) fn thread_count(&self) -> usize {
        self.threads_started.load(Ordering::Acquire)
    }

    fn submit_error(&self) -> SubmitError {
        match &*lock(&self.broken) {
            Some(reason) => SubmitError::Broken(reason.clone()),
            None => SubmitError::Shutdown,
        }
    }

    /// Every worker slot has a thread: idle tokens no longer decide anything.
    fn all_threads_started(&self) -> bool {
        self.threads_started.load(Ordering::Relaxed) >= self.max_workers
    }

    fn claim_idle_token(&self) -> bool {
        self.idle_tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                tokens.checked_sub(1)
            })
            .is_ok()
    }

    /// A worker became idle: it will look at the queues before it sleeps. Tokens never exceed the
    /// number of threads, so a burst of completions cannot stop later submits from starting threads.
    pub(crate) fn release_idle_token(&self) {
        if self.all_threads_started() {
            return;
        }
        let threads = self.threads_started.load(Ordering::Acquire);
        let _ = self
            .idle_tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                (tokens < threads).then_some(tokens + 1)
            });
    }

    /// Start one more worker thread if fewer than `max_workers` run.
    fn start_thread(&self) {
        // Reached from `submit` or `schedule`, whose callers hold the pool alive.
        let Some(shared) = self.this.upgrade() else {
            debug_assert!(false, "a pool reached by reference is alive");
            return;
        };
        let claimed =
            self.threads_started
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |started| {
                    (started < self.max_workers).then_some(started + 1)
                });
        let Ok(index) = claimed else { return };
        let deque = Worker::new_lifo();
        let slot = Arc::new(WorkerSlot::new(
            Some(deque.stealer()),
            self.registry.shard_of_worker(index),
        ));
        self.slots.push(slot.clone());
        self.lifecycle().alive += 1;
        let spawned = thread::Builder::new()
            .name(format!("{}_{index}", self.thread_name_prefix))
            .spawn(move || worker::run(shared, Some(deque), slot));
        match spawned {
            Ok(handle) => lock(&self.handles).push(handle),
            Err(error) => {
                // The deque went with the closure: this slot stays empty, and no one owns it.
                self.thread_exited();
                self.thread_not_started(&format!("could not start a worker thread: {error}"));
            }
        }
    }

    /// Undo the count of a thread that did not start. With no thread at all, nothing would ever
    /// run the queue (our caller's task included, pushed before it got here): break the pool,
    /// which drains the queues, so no future waits forever.
    fn thread_not_started(&self, reason: &str) {
        if self.threads_started.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.mark_broken(reason.to_owned());
        }
    }

    /// Run the user's initializer on a new worker thread; false (and the pool broken) if it
    /// failed or panicked.
    pub(crate) fn initialize_thread(&self) -> bool {
        let Some(initializer) = &self.initializer else {
            return true;
        };
        if self.broken_reason().is_some() {
            return false;
        }
        let reason = match panic::catch(|| initializer()) {
            Ok(Ok(())) => return true,
            Ok(Err(error)) => format!("an initializer failed: {error}"),
            Err(error) => format!("an initializer panicked: {}", panic_text(&error)),
        };
        self.mark_broken(reason);
        false
    }

    /// Break the pool: refuse new work, fail every queued task, let the threads exit.
    fn mark_broken(&self, reason: String) {
        {
            let mut broken = lock(&self.broken);
            if broken.is_none() {
                *broken = Some(reason.into());
            }
        }
        self.closing.store(true, Ordering::SeqCst);
        self.drain_queues();
        self.sleep.notify_all();
    }

    fn broken_reason(&self) -> Option<Arc<str>> {
        lock(&self.broken).clone()
    }

    /// Take every queued task out and end it without running it: cancelled after
    /// `shutdown(cancel_futures = true)`, failed if the pool is broken.
    fn drain_queues(&self) {
        // Dropping the work is user code, which may drop (or wait for) this very pool.
        let _ending = worker::EndingTasks::of(self);
        loop {
            let mut took_any = false;
            while let Some(task) = self.injector.steal().success() {
                took_any = true;
                self.discard(task);
            }
            for stealer in self.stealers() {
                while let Some(task) = stealer.steal().success() {
                    took_any = true;
                    self.discard(task);
                }
            }
            if !took_any {
                break;
            }
        }
    }

    /// End a task unrun, as the pool's state requires, and count it finished.
    fn discard(&self, task: Task) {
        let entry = registry_entry(&task);
        let ended_here = match self.broken_reason() {
            Some(reason) => task.fail(Error::BrokenExecutor(reason)),
            None => task.cancel(),
        };
        if ended_here {
            self.forget(entry);
            self.finish_one();
        }
    }

    /// Forget the registry entry of a task that ended (see `registry`).
    fn forget(&self, entry: Option<usize>) {
        if let Some(entry) = entry {
            self.registry.forget(entry);
        }
    }

    /// False once queued work must be ended unrun: after `shutdown(cancel_futures = true)` or
    /// when the pool broke. Checked before running a queued task, and before running one in place.
    pub(crate) fn may_run_work(&self) -> bool {
        !(self.closing.load(Ordering::Acquire)
            && (self.cancel_queued.load(Ordering::Acquire) || self.broken_reason().is_some()))
    }

    /// Run a task taken from a queue (or end it unrun if the pool broke or cancelled its queue),
    /// counting it in `slot`, the running thread's.
    pub(crate) fn execute(&self, task: Task, slot: &WorkerSlot) {
        if !self.may_run_work() {
            self.discard(task);
            return;
        }
        let counters = &slot.counters;
        let entry = registry_entry(&task);
        counters.count(Event::PollStarted);
        let outcome = task.execute(|| self.release_idle_token());
        counters.count(Event::PollEnded);
        match outcome {
            RunOutcome::Completed => counters.count(Event::Completed),
            RunOutcome::Panicked => {
                counters.count(Event::Completed);
                counters.count(Event::Panicked);
            }
            RunOutcome::Suspended | RunOutcome::RanElsewhere => {}
        }
        if outcome.finished() {
            self.forget(entry);
            self.finish_in_slot(slot);
        }
    }

    /// Count a task submitted by the worker of `slot` from its prepaid share (see the module
    /// docs), prepaying `PREPAY` more first if the share is used up.
    fn count_prepaid(&self, slot: &WorkerSlot) {
        let counters = &slot.counters;
        match counters.prepaid() {
            0 => {
                self.outstanding.fetch_add(PREPAY, Ordering::SeqCst);
                counters.set_prepaid(PREPAY - 1);
            }
            prepaid => counters.set_prepaid(prepaid - 1),
        }
    }

    /// A task the thread of `slot` ran has finished. On a worker's own slot its unit goes to the
    /// worker's prepaid share, and the share beyond `PREPAY` is given back once it passes
    /// `MAX_PREPAID`; the shared slot keeps no share.
    fn finish_in_slot(&self, slot: &WorkerSlot) {
        let counters = &slot.counters;
        if !counters.is_exclusive() {
            self.finish_one();
            return;
        }
        let prepaid = counters.prepaid() + 1;
        if prepaid > MAX_PREPAID {
            counters.set_prepaid(PREPAY);
            self.finish(prepaid - PREPAY);
        } else {
            counters.set_prepaid(prepaid);
        }
    }

    /// Give back the whole prepaid share of the worker of `slot`: it is about to look for work
    /// in vain, park, or exit, and `join` must not wait for a share nobody will use.
    pub(crate) fn return_prepaid(&self, slot: &WorkerSlot) {
        let counters = &slot.counters;
        if counters.is_exclusive() {
            let prepaid = counters.prepaid();
            if prepaid > 0 {
                counters.set_prepaid(0);
                self.finish(prepaid);
            }
        }
    }

    /// Count a steal by the thread of `slot`.
    pub(crate) fn count_steal(&self, slot: &WorkerSlot) {
        slot.counters.count(Event::Steal);
    }

    /// A snapshot of the pool; see [`Stats`].
    pub(crate) fn stats(&self) -> Stats {
        let per_worker: Vec<_> = self.all_counters().map(WorkerCounters::snapshot).collect();
        let tasks_queued =
            self.injector.len() + self.stealers().map(|stealer| stealer.len()).sum::<usize>();
        let tasks_running = self.all_counters().map(WorkerCounters::running).sum();
        let tasks_outstanding = self.outstanding_tasks().max(tasks_queued + tasks_running);
        Stats {
            threads_alive: self.lifecycle().alive,
            threads_idle: self.sleep.sleeping(),
            threads_searching: self.sleep.searching(),
            compensating_threads: self.spares.load(Ordering::Acquire),
            compensating_threads_started: self.spares_started.load(Ordering::Relaxed),
            tasks_queued,
            tasks_running,
            tasks_suspended: tasks_outstanding.saturating_sub(tasks_queued + tasks_running),
            tasks_outstanding,
            tasks_completed: per_worker.iter().map(|w| w.tasks_completed).sum(),
            tasks_panicked: per_worker.iter().map(|w| w.tasks_panicked).sum(),
            steals: per_worker.iter().map(|w| w.steals).sum(),
            per_worker,
        }
    }

    /// Every slot's counters: the workers' in start order, then the shared slot's.
    fn all_counters(&self) -> impl Iterator<Item = &WorkerCounters> {
        self.all_slots().map(|slot| &slot.counters)
    }

    /// `outstanding` less the workers' prepaid shares: the tasks alone, for `stats()`.
    ///
    /// The shares are read one by one while workers move units between them and the counter,
    /// so the count is re-read around them until it held still (a few tries at most): a worker
    /// that gave its share back or refilled it in between is then seen before or after both
    /// steps. What remains can only count high (a share that changed on one side of the steady
    /// counter), or be off by the few tasks submitted and finished during the reads.
    fn outstanding_tasks(&self) -> usize {
        let mut before = self.outstanding.load(Ordering::Acquire);
        for _ in 0..4 {
            let prepaid: usize = self.all_counters().map(WorkerCounters::prepaid).sum();
            let after = self.outstanding.load(Ordering::Acquire);
            if after == before {
                return after.saturating_sub(prepaid);
            }
            before = after;
        }
        // Still moving: the counter alone never counts low.
        before
    }

    /// A task finished; if it was the last one of a closing pool, wake the workers so they exit
    /// and whoever waits in `shutdown(wait = true)`.
    fn finish_one(&self) {
        self.finish(1);
    }

    /// `finished` units of `outstanding` are done (tasks, or a returned prepaid share); as
    /// `finish_one` if that was the last.
    fn finish(&self, finished: usize) {
        if self.outstanding.fetch_sub(finished, Ordering::SeqCst) == finished {
            // Pairs with the fence in `wait_idle_until` (count the waiter, fence, load
            // `outstanding`) and with `closing`'s store: one side sees the other.
            fence(Ordering::SeqCst);
            let closing = self.closing.load(Ordering::SeqCst);
            if closing {
                self.sleep.notify_all();
            }
            if closing || self.idle_waiters.load(Ordering::SeqCst) > 0 {
                self.wake_waiters(self.lifecycle());
            }
        }
    }

    /// Block until no task is outstanding (the whole tree of tasks converged) or `deadline`.
    ///
    /// Protocol: the waiter counts itself in `idle_waiters` (SeqCst) and fences before it loads
    /// `outstanding`; `finish` decrements `outstanding` (SeqCst) and fences before it loads
    /// `idle_waiters`, and wakes the waiters after taking the `lifecycle` lock, under which the
    /// waiter checks and registers. So either the waiter sees zero, or the finisher sees the
    /// waiter and wakes it.
    pub(crate) fn wait_idle_until(&self, deadline: Option<Instant>) -> Result<(), Error> {
        if worker::runs_tasks_of(self) {
            return Err(Error::WouldDeadlock);
        }
        self.idle_waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let converged = self.wait_for(Until::Idle, deadline);
        self.idle_waiters.fetch_sub(1, Ordering::SeqCst);
        if converged {
            Ok(())
        } else {
            Err(Error::Timeout)
        }
    }

    /// A worker thread is exiting (or failed to start).
    pub(crate) fn thread_exited(&self) {
        let mut lifecycle = self.lifecycle();
        lifecycle.alive -= 1;
        self.wake_waiters(lifecycle);
    }

    /// Whether any queue holds a task.
    pub(crate) fn has_queued(&self) -> bool {
        !self.injector.is_empty() || self.stealers().any(|stealer| !stealer.is_empty())
    }

    /// The decision a worker re-checks under the sleep lock (see `sleep`).
    /// A spare (compensating) thread also retires once no thread is blocked any more.
    pub(crate) fn recheck(&self, spare: bool) -> Recheck {
        if self.has_queued() {
            Recheck::Work
        } else if self.closing.load(Ordering::SeqCst)
            && self.outstanding.load(Ordering::SeqCst) == 0
        {
            Recheck::Exit
        } else if spare && self.try_retire_spare() {
            Recheck::Retire
        } else {
            Recheck::Sleep
        }
    }

    /// Take a spare off the counts if no thread is blocked, atomically with respect to
    /// `thread_blocked`: both decide with `alive` locked (and `blocked` is SeqCst), so a thread
    /// that blocks right after sees the lower `alive` and starts a new spare if it must.
    fn try_retire_spare(&self) -> bool {
        let mut lifecycle = self.lifecycle();
        if self.blocked.load(Ordering::SeqCst) > 0 {
            return false;
        }
        lifecycle.alive -= 1;
        self.spares.fetch_sub(1, Ordering::AcqRel);
        self.wake_waiters(lifecycle);
        true
    }

    /// A pool thread is about to park in a blocking wait. If every live thread is now blocked,
    /// nothing would run the queue (possibly the very work being waited for): start a spare
    /// thread, up to [`MAX_SPARE_THREADS`]. At the cap the wait just blocks, and the pool says so
    /// once on standard error.
    pub(crate) fn thread_blocked(self: &Arc<Self>) {
        let blocked = self.blocked.fetch_add(1, Ordering::SeqCst) + 1;
        if blocked < self.lifecycle().alive {
            return;
        }
        let claimed = self
            .spares
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |spares| {
                (spares < MAX_SPARE_THREADS).then_some(spares + 1)
            });
        match claimed {
            Ok(_) => self.start_spare(),
            Err(_) => {
                if !self.spare_cap_reported.swap(true, Ordering::Relaxed) {
                    std::eprintln!(
                        "betterconcurrent: every thread of pool {} is blocked in a wait and the \
                         {MAX_SPARE_THREADS} spare threads are in use; further blocking waits \
                         hold their threads (await futures inside async tasks instead)",
                        self.thread_name_prefix
                    );
                }
            }
        }
    }

    /// The blocked thread resumed. When the last one does, idle spares are woken to retire.
    pub(crate) fn thread_unblocked(&self) {
        if self.blocked.fetch_sub(1, Ordering::SeqCst) == 1
            && self.spares.load(Ordering::SeqCst) > 0
        {
            self.sleep.notify_all();
        }
    }

    fn start_spare(self: &Arc<Self>) {
        self.lifecycle().alive += 1;
        let shared = self.clone();
        let slot = self.shared_slot.clone();
        let serial = self.spares_started.fetch_add(1, Ordering::Relaxed);
        let spawned = thread::Builder::new()
            .name(format!("{}_spare_{serial}", self.thread_name_prefix))
            .spawn(move || worker::run(shared, None, slot));
        match spawned {
            Ok(handle) => {
                let mut handles = lock(&self.handles);
                // Retired spares come and go in a long-lived pool: reap the finished handles
                // so their threads' resources are released now, not at shutdown. (loom's
                // handles cannot tell whether their thread finished; under loom they are all
                // kept until shutdown, which its short models reach.)
                #[cfg(not(feature = "loom"))]
                handles.retain(|handle| !handle.is_finished());
                handles.push(handle);
            }
            Err(_) => {
                // The blocked thread stays blocked: the documented wait at the cap.
                self.thread_exited();
                self.spare_exited();
            }
        }
    }

    /// A spare thread retired (or failed to start).
    pub(crate) fn spare_exited(&self) {
        self.spares.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        if cancel_futures {
            self.cancel_queued.store(true, Ordering::SeqCst);
        }
        self.closing.store(true, Ordering::SeqCst);
        if cancel_futures {
            // The drain and the aborts may drop tasks' last handles here, running their
            // destructors, which may drop or wait for this very pool.
            let _ending = worker::EndingTasks::of(self);
            self.drain_queues();
            // Suspended tasks sit in no queue, and a task a worker took from a queue before the
            // drain may be about to be polled: abort each, so whoever holds it next ends it
            // (and a suspended one is queued for that), even if what it awaits never completes.
            for task in self.registry.unfinished() {
                task.abort();
            }
        }
        self.sleep.notify_all();
        if wait && !worker::runs_tasks_of(self) {
            self.join_threads();
        }
    }

    /// Wait until nothing is outstanding and every worker has exited, then reap the threads.
    ///
    /// Waiting on the count rather than on the join handles covers a submit that was accepted
    /// just before `closing` was set and is still starting its thread, and a second concurrent
    /// `shutdown(wait = true)` that finds the handles already taken.
    fn join_threads(&self) {
        self.wait_for(Until::Stopped, None);
        let handles = std::mem::take(&mut *lock(&self.handles));
        for handle in handles {
            // Worker threads catch every user panic; an Err here carries nothing to report.
            let _ = handle.join();
        }
    }
}

/// The registry entry of an async task, read before the task is consumed.
fn registry_entry(task: &Task) -> Option<usize> {
    task.registration().and_then(Registration::get)
}

fn panic_text(error: &Error) -> &str {
    error.panic_message().unwrap_or("a panic")
}

impl Schedule for Shared {
    /// A woken async task goes back to the queue like a new one, but it is already counted, and
    /// it is accepted even after shutdown: a worker ends it (cancels it after
    /// `shutdown(cancel_futures = true)`).
    fn schedule(&self, task: Task) {
        self.enqueue(task);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn finished_elsewhere(&self, registered: Option<usize>) {
        self.forget(registered);
        self.finish_one();
    }
}
