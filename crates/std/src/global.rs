//! The global pool: one [`ThreadPoolExecutor`] per process, built on first use, for programs
//! that want a pool without passing one around (rayon's global pool, Python's habit of one
//! executor per program), and the free functions that submit to it.
//!
//! It is a pool like any other: its tasks wait cooperatively, [`wait_idle`](Executor::wait_idle)
//! runs it to convergence, and [`dump`](Executor::dump) explains it when it is stuck. Being a
//! `static`, it is never dropped: when `main` returns, work still queued or running on it is
//! lost with the process, so wait for what matters (its futures, or `wait_idle()`) first.

use std::sync::OnceLock;

use betterconcurrent_core::{Future, SubmitError};

use crate::executor::{Executor, ThreadPoolExecutor};
use crate::pool::{BuildError, Builder};

/// The global pool, if built: by the first [`global_pool`] (with the default options) or by
/// [`Builder::build_global`].
static GLOBAL: OnceLock<ThreadPoolExecutor> = OnceLock::new();

/// The prefix of the global pool's thread names when it is built with the default options.
const GLOBAL_THREAD_NAME_PREFIX: &str = "betterconcurrent-global";

/// The process's global pool, built on the first call with the default options
/// (`max_workers` as [`Builder::max_workers`] says, threads named
/// `betterconcurrent-global_{n}`) unless [`Builder::build_global`] built it first. No thread
/// starts until work is submitted.
///
/// [`shutdown`](Executor::shutdown) and [`join`](Executor::join) close it for the whole
/// process (every later submit fails with [`SubmitError::Shutdown`]);
/// [`wait_idle`](Executor::wait_idle) waits for its work and keeps it open.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let lines = Arc::new(AtomicUsize::new(0));
/// for file in ["a.txt", "b.txt", "c.txt"] {
///     let lines = lines.clone();
///     betterconcurrent_std::spawn(move |_| {
///         lines.fetch_add(file.len(), Ordering::Relaxed);
///     })
///     .unwrap();
/// }
/// let square = betterconcurrent_std::submit(|| 12 * 12).unwrap();
/// assert_eq!(*square.result().unwrap(), 144);
/// // Fire-and-forget work is not lost at exit only if waited for.
/// betterconcurrent_std::global_pool().wait_idle().unwrap();
/// assert_eq!(lines.load(Ordering::Relaxed), 15);
/// ```
pub fn global_pool() -> &'static ThreadPoolExecutor {
    GLOBAL.get_or_init(|| {
        match Builder::default()
            .thread_name_prefix(GLOBAL_THREAD_NAME_PREFIX)
            .build()
        {
            Ok(pool) => pool,
            Err(error) => unreachable!("the default options are valid: {error}"),
        }
    })
}

impl Builder {
    /// Build the process's [`global_pool`] with these options instead of the defaults
    /// (rayon's `build_global`). Fails with [`BuildError::GlobalPoolExists`] if it was built
    /// already (by an earlier call, or by the first use of the global pool), and as
    /// [`build`](Builder::build) does.
    ///
    /// ```
    /// use betterconcurrent_std::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder().max_workers(2).build_global().unwrap();
    /// assert_eq!(pool.max_workers(), 2);
    /// assert!(std::ptr::eq(pool, betterconcurrent_std::global_pool()));
    /// assert!(ThreadPoolExecutor::builder().build_global().is_err());
    /// ```
    pub fn build_global(self) -> Result<&'static ThreadPoolExecutor, BuildError> {
        let mut built = Some(self.build()?);
        let global = GLOBAL.get_or_init(|| built.take().expect("taken once"));
        match built {
            // Ours was not needed: unused, it has no thread to stop, and its drop is quick.
            Some(_) => Err(BuildError::GlobalPoolExists),
            None => Ok(global),
        }
    }
}

/// [`submit`](Executor::submit) to the [`global_pool`]: run `work` on one of its threads and
/// return its future.
#[track_caller]
pub fn submit<F, T>(work: F) -> Result<Future<T>, SubmitError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    global_pool().submit(work)
}

/// [`submit_async`](Executor::submit_async) to the [`global_pool`]: run an `async` body as
/// one of its tasks and return its future.
#[track_caller]
pub fn submit_async<F>(body: F) -> Result<Future<F::Output>, SubmitError>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    global_pool().submit_async(body)
}

/// [`spawn`](Executor::spawn) on the [`global_pool`]: run `work` fire-and-forget, handing it
/// the pool's handle for its subtasks.
#[track_caller]
pub fn spawn<F>(work: F) -> Result<(), SubmitError>
where
    F: FnOnce(&Executor) + Send + 'static,
{
    global_pool().spawn(work)
}
