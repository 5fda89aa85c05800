//! [`Builder`], the options of a [`ThreadPoolExecutor`] (Python's constructor arguments), and
//! [`BuildError`], why a pool could not be built.

use std::error::Error as StdError;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::AtomicUsize as GlobalCounter;

use betterconcurrent_core::sync::Arc;

use super::threads::{Initializer, Threads};
use super::watch::StuckHook;
use super::Pool;
use crate::dump::Dump;
use crate::executor::ThreadPoolExecutor;

/// The largest `max_workers` a pool accepts: 2^22, Linux's `PID_MAX_LIMIT` on 64-bit targets,
/// beyond which no process can have threads. A larger value is an error
/// ([`BuildError::TooManyWorkers`]), not a promise the OS cannot keep.
pub const MAX_WORKERS: usize = 1 << 22;

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
    /// [`build_global`](Builder::build_global) found the global pool built already.
    GlobalPoolExists,
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
            BuildError::GlobalPoolExists => f.write_str(
                "the global pool was built already (by build_global or by its first use)",
            ),
        }
    }
}

impl StdError for BuildError {}

/// Python's default: `min(32, os.process_cpu_count() + 4)`.
/// What `std` gives a thread it starts without a size: `RUST_MIN_STACK`, else 2 MiB. (Read when
/// a pool is built; `std` itself reads it once per process, which is why the pool sets the
/// size on each thread it starts instead of relying on the same default.)
fn default_stack_size() -> usize {
    std::env::var("RUST_MIN_STACK")
        .ok()
        .and_then(|size| size.parse().ok())
        .unwrap_or(2 << 20)
}

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
    stack_size: Option<usize>,
    on_stuck: Option<StuckHook>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_workers", &self.max_workers)
            .field("thread_name_prefix", &self.thread_name_prefix)
            .field("initializer", &self.initializer.is_some())
            .field("stack_size", &self.stack_size)
            .field("on_stuck", &self.on_stuck.is_some())
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

    /// Each pool thread's stack, in bytes (rounded up to the platform's minimum). Default: what
    /// `std` gives a new thread, `RUST_MIN_STACK` as the pool is built, else 2 MiB.
    ///
    /// A task awaited by a task of the pool may run in place, on top of its parent's stack
    /// (work-first, see the crate's README), and a waiting scope runs its tasks the same way;
    /// those in-place runs stop once they fill half of the stack. So a task that needs more
    /// than half of a thread's stack for itself (deep recursion, large locals) needs a pool
    /// whose stack is more than twice that.
    ///
    /// ```
    /// use betterconcurrent_std::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder().stack_size(8 << 20).build().unwrap();
    /// assert_eq!(*pool.submit(|| 2 + 2).unwrap().result().unwrap(), 4);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Run `initializer` on each worker thread before its first task (Python's `initializer`;
    /// capture what would be `initargs`). If it returns an error or panics, the pool becomes
    /// broken: every queued and later task fails with [`Error::BrokenExecutor`](betterconcurrent_core::Error::BrokenExecutor), later submits
    /// fail with [`SubmitError::Broken`](betterconcurrent_core::SubmitError::Broken), and the threads exit.
    pub fn initializer<F, E>(mut self, initializer: F) -> Self
    where
        F: Fn() -> Result<(), E> + Send + Sync + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.initializer = Some(Arc::new(move || initializer().map_err(Into::into)));
        self
    }

    /// Call `on_stuck` with the pool's [`Dump`] once per stuck episode: when the pool has work
    /// outstanding, nothing queued or running, and its tasks are in a closed wait-for cycle
    /// (reported within about a tenth of a second of the pool going quiet) or suspended or
    /// blocked on futures outside its view for ten seconds ([`Dump::is_stuck`]). An episode is
    /// its cause (the closed cycles, the tasks awaiting outside futures, the blocked threads),
    /// not the tasks beside it; a pool whose work reached zero since starts a new one. Default:
    /// the dump is printed on standard error. The pool looks only when it goes idle with work
    /// outstanding, from a thread of its own (`{prefix}_watch`), spending at most a twentieth of
    /// it on dumps (so a pool of many thousands of tasks is looked at less often); a panic in
    /// `on_stuck` is caught and reported, as a callback's. Pass `|_| {}` to say nothing. The pool keeps the hook until it is dropped, so a pool
    /// handle captured in it would keep the pool alive: report to a channel or a log instead.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use betterconcurrent_core::Future;
    /// use betterconcurrent_std::ThreadPoolExecutor;
    ///
    /// let (reports, reported) = mpsc::channel();
    /// let pool = ThreadPoolExecutor::builder()
    ///     .on_stuck(move |dump| reports.send(dump.cycles().to_vec()).unwrap())
    ///     .build()
    ///     .unwrap();
    /// // Two tasks that await each other: each learns the other's future through a slot.
    /// let slots: Vec<Future<Future<u32>>> = vec![Future::new(), Future::new()];
    /// let tasks: Vec<Future<u32>> = (0..2)
    ///     .map(|i| {
    ///         let slot = slots[1 - i].clone();
    ///         pool.submit_async(async move {
    ///             let other = (&slot).await.unwrap().clone();
    ///             drop(slot);
    ///             *(&other).await.unwrap() + 1
    ///         })
    ///         .unwrap()
    ///     })
    ///     .collect();
    /// for (slot, task) in slots.iter().zip(&tasks) {
    ///     slot.set_result(task.clone()).unwrap();
    /// }
    /// let cycles = reported.recv().unwrap();
    /// assert_eq!(cycles.len(), 1);
    /// tasks[0].abort(); // the other ends cancelled in turn
    /// ```
    pub fn on_stuck(mut self, on_stuck: impl Fn(&Dump) + Send + Sync + 'static) -> Self {
        self.on_stuck = Some(Arc::new(on_stuck));
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
        Ok(ThreadPoolExecutor::from_pool(Pool::new(
            Threads::new(
                max_workers,
                thread_name_prefix,
                self.initializer,
                self.stack_size.unwrap_or_else(default_stack_size),
            ),
            self.on_stuck,
        )))
    }
}
