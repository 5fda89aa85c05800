//! A pool's threads: lazy start up to `max_workers`, reuse of idle ones, spare threads that
//! compensate for blocked ones (and their cap), and exit.
//!
//! # Protocol
//!
//! - **Lazy start, idle reuse.** `idle_tokens` counts workers that have become idle and are not
//!   yet claimed by a submit (Python's `_idle_semaphore`). A submit claims one or, if none,
//!   starts a thread (up to `max_workers`); once all have started, neither is looked at again.
//!   A worker releases its token as soon as the user's closure returns, *before* the future
//!   completes, so a caller that saw a result and submits again reuses that thread instead of
//!   starting one. Tokens never outnumber the started threads. (The sleep module's counters
//!   track idle workers too, but only from the moment a worker looks for work, after the future
//!   completed: too late for that reuse, which is why both exist.)
//! - **Alive.** `alive` counts worker and spare threads started (or being started) and not yet
//!   exited; `shutdown(wait = true)` waits for it to reach zero. It is a lock, not an atomic,
//!   because a spare's retirement must decide "no thread is blocked" and leave `alive` as one
//!   step with respect to a thread that blocks and compares `blocked` with `alive`.
//! - **Compensation.** A pool thread about to park in a blocking wait counts itself in
//!   `blocked`; if every live thread is then blocked, nothing would run the queue (possibly the
//!   very work being waited for), so a spare starts, up to [`MAX_SPARE_THREADS`] (Java's
//!   ForkJoinPool caps its compensation threads the same way). At the cap the wait blocks, and
//!   the pool says so once on standard error. A spare retires when it finds nothing to do and
//!   no thread is blocked ([`Threads::try_retire_spare`], deciding with `alive` locked, so a
//!   thread blocking at that moment sees the lower count and starts a new spare if it must).
//!   When the last blocked thread resumes, the caller wakes the idle spares to retire.

use std::error::Error as StdError;
use std::fmt;
use std::fmt::Write as _;

use betterconcurrent_core::executor::catch_panic;
use betterconcurrent_core::sync::blocking::{lock, thread, Mutex};
use betterconcurrent_core::sync::{Arc, AtomicBool, AtomicUsize, Ordering};

/// The most spare threads a pool starts beyond `max_workers` while all its threads are blocked
/// in waits (see the module docs).
pub const MAX_SPARE_THREADS: usize = 256;

/// An initializer run once on each worker thread before it takes any task.
pub(crate) type Initializer =
    Arc<dyn Fn() -> Result<(), Box<dyn StdError + Send + Sync>> + Send + Sync>;

/// What a thread about to block in a wait must do (see [`Threads::blocking`]).
pub(crate) enum Compensation {
    /// Another thread is still running: nothing.
    None,
    /// Every thread is blocked and a spare is claimed: start it.
    StartSpare,
    /// Every thread is blocked and the spares are used up: the wait blocks (reported once).
    AtCap,
}

/// A pool's threads and their counts (see the module docs).
pub(crate) struct Threads {
    max_workers: usize,
    name_prefix: String,
    initializer: Option<Initializer>,
    /// Every pool thread's stack, in bytes: set on each thread, so that the in-place runs'
    /// budget (half of it, see `worker`) is measured against the stack the thread has.
    stack_size: usize,
    /// Worker threads started (or claimed for starting), never more than `max_workers`.
    started: AtomicUsize,
    idle_tokens: AtomicUsize,
    alive: Mutex<usize>,
    /// Pool threads parked in a blocking wait.
    blocked: AtomicUsize,
    /// Spare threads alive now.
    spares: AtomicUsize,
    spare_cap_reported: AtomicBool,
    /// Spare threads ever started, for unique names.
    spares_started: AtomicUsize,
    handles: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl Threads {
    pub(crate) fn new(
        max_workers: usize,
        name_prefix: String,
        initializer: Option<Initializer>,
        stack_size: usize,
    ) -> Self {
        Self {
            max_workers,
            name_prefix,
            initializer,
            stack_size,
            started: AtomicUsize::new(0),
            idle_tokens: AtomicUsize::new(0),
            alive: Mutex::new(0),
            blocked: AtomicUsize::new(0),
            spares: AtomicUsize::new(0),
            spare_cap_reported: AtomicBool::new(false),
            spares_started: AtomicUsize::new(0),
            handles: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn max_workers(&self) -> usize {
        self.max_workers
    }

    /// Every pool thread's stack, in bytes.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Worker threads started so far.
    #[inline]
    pub(crate) fn started(&self) -> usize {
        self.started.load(Ordering::Acquire)
    }

    /// Every worker has a thread: idle tokens no longer decide anything.
    #[inline]
    pub(crate) fn all_started(&self) -> bool {
        self.started.load(Ordering::Relaxed) >= self.max_workers
    }

    /// Claim an idle worker for a new task; false if none is idle.
    #[inline]
    pub(crate) fn claim_idle(&self) -> bool {
        self.idle_tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                tokens.checked_sub(1)
            })
            .is_ok()
    }

    /// A worker became idle: it will look at the queues before it sleeps. Tokens never exceed the
    /// number of threads, so a burst of completions cannot stop later submits from starting threads.
    #[inline]
    pub(crate) fn release_idle(&self) {
        if self.all_started() {
            return;
        }
        let threads = self.started.load(Ordering::Acquire);
        let _ = self
            .idle_tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                (tokens < threads).then_some(tokens + 1)
            });
    }

    /// Claim the next worker thread's number, if fewer than `max_workers` were started.
    pub(crate) fn claim_worker(&self) -> Option<usize> {
        self.started
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |started| {
                (started < self.max_workers).then_some(started + 1)
            })
            .ok()
    }

    /// Undo a claimed worker whose thread did not start; true if no worker thread is left (then
    /// nothing would ever run the queue, and the caller breaks the pool).
    #[must_use = "with no thread left the pool must break"]
    pub(crate) fn worker_not_started(&self) -> bool {
        self.started.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Start a thread named `name` running `body`, counted alive from before it starts. On
    /// failure nothing is counted and the error is returned.
    pub(crate) fn spawn(
        &self,
        name: String,
        body: impl FnOnce() + Send + 'static,
    ) -> Result<(), std::io::Error> {
        *lock(&self.alive) += 1;
        match thread::Builder::new()
            .name(name)
            .stack_size(self.stack_size)
            .spawn(body)
        {
            Ok(handle) => {
                let mut handles = lock(&self.handles);
                // Retired spares come and go in a long-lived pool: reap the finished handles
                // so their threads' resources are released now, not at shutdown. (loom's
                // handles cannot tell whether their thread finished; under loom they are all
                // kept until shutdown, which its short models reach.)
                #[cfg(not(feature = "loom"))]
                handles.retain(|handle| !handle.is_finished());
                handles.push(handle);
                Ok(())
            }
            Err(error) => {
                self.exited();
                Err(error)
            }
        }
    }

    /// The prefix of the threads' names, which names the pool in a report.
    pub(crate) fn name_prefix(&self) -> &str {
        &self.name_prefix
    }

    /// The name of the worker thread numbered `index`.
    pub(crate) fn worker_name(&self, index: usize) -> String {
        format!("{}_{index}", self.name_prefix)
    }

    /// The name of the pool's stuck watcher (`watch`).
    pub(crate) fn watcher_name(&self) -> String {
        format!("{}_watch", self.name_prefix)
    }

    /// The name of the next spare thread.
    pub(crate) fn next_spare_name(&self) -> String {
        let serial = self.spares_started.fetch_add(1, Ordering::Relaxed);
        format!("{}_spare_{serial}", self.name_prefix)
    }

    /// Run the user's initializer on the calling (new worker) thread: the reason the pool must
    /// break if it failed or panicked.
    pub(crate) fn initialize(&self) -> Result<(), String> {
        let Some(initializer) = &self.initializer else {
            return Ok(());
        };
        match catch_panic(|| initializer()) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                // The whole chain: the reason is text (every later submit's error carries it),
                // so the error's causes are written out rather than lost.
                let mut reason = format!("an initializer failed: {error}");
                let mut cause = error.source();
                while let Some(error) = cause {
                    let _ = write!(reason, ": {error}"); // a String takes every write
                    cause = error.source();
                }
                Err(reason)
            }
            Err(error) => Err(format!(
                "an initializer panicked: {}",
                error.panic_message().unwrap_or("a panic")
            )),
        }
    }

    /// Whether an initializer runs on each new thread.
    pub(crate) fn has_initializer(&self) -> bool {
        self.initializer.is_some()
    }

    /// A thread exited (or failed to start, or retired as a spare).
    pub(crate) fn exited(&self) {
        *lock(&self.alive) -= 1;
    }

    /// Threads alive now.
    pub(crate) fn alive(&self) -> usize {
        *lock(&self.alive)
    }

    /// A pool thread is about to park in a blocking wait: what compensates for it.
    pub(crate) fn blocking(&self) -> Compensation {
        let blocked = self.blocked.fetch_add(1, Ordering::SeqCst) + 1;
        if blocked < self.alive() {
            return Compensation::None;
        }
        let claimed = self
            .spares
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |spares| {
                (spares < MAX_SPARE_THREADS).then_some(spares + 1)
            });
        match claimed {
            Ok(_) => Compensation::StartSpare,
            Err(_) => Compensation::AtCap,
        }
    }

    /// Say once that the spares are used up (see [`Compensation::AtCap`]).
    pub(crate) fn report_cap_once(&self) {
        if !self.spare_cap_reported.swap(true, Ordering::Relaxed) {
            std::eprintln!(
                "betterconcurrent: every thread of pool {} is blocked in a wait and the \
                 {MAX_SPARE_THREADS} spare threads are in use; further blocking waits hold their \
                 threads (await futures inside async tasks instead)",
                self.name_prefix
            );
        }
    }

    /// The blocked thread resumed; true if it was the last one and spares are alive (the
    /// caller wakes them to retire).
    #[must_use = "idle spares must be woken to retire"]
    pub(crate) fn unblocked(&self) -> bool {
        self.blocked.fetch_sub(1, Ordering::SeqCst) == 1 && self.spares.load(Ordering::SeqCst) > 0
    }

    /// Take a spare off the counts if no thread is blocked, deciding with `alive` locked (see
    /// the module docs); true if it retired (the caller wakes whoever waits for `alive`).
    pub(crate) fn try_retire_spare(&self) -> bool {
        let mut alive = lock(&self.alive);
        if self.blocked.load(Ordering::SeqCst) > 0 {
            return false;
        }
        *alive -= 1;
        self.spares.fetch_sub(1, Ordering::AcqRel);
        true
    }

    /// A claimed spare exited without retiring (or did not start).
    pub(crate) fn spare_exited(&self) {
        self.spares.fetch_sub(1, Ordering::AcqRel);
    }

    /// Spare threads alive now.
    pub(crate) fn spares(&self) -> usize {
        self.spares.load(Ordering::Acquire)
    }

    /// Spare threads ever started.
    pub(crate) fn spares_started(&self) -> usize {
        self.spares_started.load(Ordering::Relaxed)
    }

    /// Join every thread started so far (called once they have all exited or are exiting).
    pub(crate) fn join_all(&self) {
        let handles = std::mem::take(&mut *lock(&self.handles));
        for handle in handles {
            // Pool threads catch every user panic; an Err here carries nothing to report.
            let _ = handle.join();
        }
    }
}

impl fmt::Debug for Threads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Threads")
            .field("max_workers", &self.max_workers)
            .field("started", &self.started())
            .field("alive", &self.alive())
            .finish_non_exhaustive()
    }
}
