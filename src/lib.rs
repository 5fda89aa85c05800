//! # betterconcurrent
//!
//! Python's `concurrent.futures` for Rust: [`Future`]s with Python's states, done callbacks and
//! typed errors, and a [`ThreadPoolExecutor`] with `submit`, ordered `map`, `shutdown`, [`wait`]
//! and [`as_completed`]. The future core is `no_std` + `alloc` (build with
//! `default-features = false`); the thread pool needs the default feature `std`. The default
//! feature `stats` keeps the per-worker event counters behind `stats()`; without it they read
//! zero and no task pays for counting them.
//!
//! ```
//! # #[cfg(not(feature = "loom"))] {
//! use betterconcurrent::{as_completed, ThreadPoolExecutor};
//!
//! let pool = ThreadPoolExecutor::builder().max_workers(4).build()?;
//! let futures: Vec<_> = (1..=10u64)
//!     .map(|n| pool.submit(move || n * n))
//!     .collect::<Result<_, _>>()?;
//! let mut total = 0;
//! for future in as_completed(&futures, None) {
//!     total += future?.result()?;
//! }
//! assert_eq!(total, 385);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## From Python
//!
//! | Python | Rust |
//! | --- | --- |
//! | `ThreadPoolExecutor(max_workers, thread_name_prefix, initializer, initargs)` | `ThreadPoolExecutor::builder().max_workers(n).thread_name_prefix(p).initializer(f).build()`; `initargs` are captured by the closure |
//! | `with ThreadPoolExecutor() as ex:` | the pool's scope: dropping it is `shutdown(wait = true)` |
//! | `ex.submit(fn, *args)` | `pool.submit(move \|\| f(args))` → `Result<Future<T>, SubmitError>` |
//! | `ex.map(fn, *iterables, timeout, buffersize)` | `pool.map(f, items)`, `pool.map_with(f, items, MapOptions { timeout, buffersize })` |
//! | `ex.shutdown(wait, cancel_futures=...)` | `pool.shutdown(wait, cancel_futures)` |
//! | `f.result(timeout)` | `f.result()`, `f.result_timeout(d)` → `Result<&T, Error>` |
//! | `f.exception(timeout)` | `f.exception()`, `f.exception_timeout(d)` → `Result<Option<Error>, Error>` |
//! | `f.cancel()`, `f.cancelled()`, `f.running()`, `f.done()` | the same names |
//! | `f.add_done_callback(fn)` | `f.add_done_callback(\|f: &Future<T>\| ...)` |
//! | `f.set_running_or_notify_cancel()`, `f.set_result(v)`, `f.set_exception(e)` | the same names, returning `Result<_, InvalidStateError>` |
//! | `wait(fs, timeout, return_when=FIRST_COMPLETED)` | `wait(&fs, Some(d), ReturnWhen::FirstCompleted)` → `Waited { done, not_done }` |
//! | `as_completed(fs, timeout)` | `as_completed(&fs, Some(d))`, an iterator of `Result<Future<T>, Error>` |
//! | `CancelledError`, `TimeoutError`, `InvalidStateError`, `BrokenThreadPool` | [`Error::Cancelled`], [`Error::Timeout`], [`Error::InvalidState`], [`Error::BrokenExecutor`] |
//! | an exception raised by the task | [`Error::Panicked`] (a caught panic) or [`Error::Exception`] (`set_exception`) |
//! | `RuntimeError` on submit after shutdown | [`SubmitError::Shutdown`] |
//! | original: generator task, `yield from f.yield_until_done()` | `pool.submit_async(async move { f.yield_until_done().await; ... })` |
//! | original: `yield from yield_until_done(fs)` | [`yield_until_done`]`(&fs).await`; [`block_until_done`] in sync code |
//! | original: `ex.join()` | `pool.join()`, `join_timeout(d)`, `wait_idle()` |
//! | original: the future's weak reference to its executor | [`Executor::of`]`(&f)`; [`Executor::current`] inside a task |
//!
//! ## Cooperative waiting
//!
//! [`Executor::submit_async`] runs an `async` body on the pool. Awaiting another future inside it
//! suspends the task without holding a thread, and the task is queued again when that future
//! completes, so tasks that wait for their own subtasks never deadlock, even on one thread:
//!
//! ```
//! # #[cfg(not(feature = "loom"))] {
//! use betterconcurrent::ThreadPoolExecutor;
//!
//! let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
//! let executor = pool.executor();
//! let parent = pool
//!     .submit_async(async move {
//!         let child = executor.submit(|| 5u32.pow(2)).unwrap();
//!         child.yield_until_done().await; // the one worker runs the child meanwhile
//!         *child.result().unwrap() + 1 // done now: no blocking
//!     })
//!     .unwrap();
//! assert_eq!(*parent.result().unwrap(), 26);
//! # }
//! ```
//!
//! A blocking `result()` on one of the pool's own threads is safe as well: an unstarted closure
//! of the same pool runs in place ([`MAX_RUN_HERE_DEPTH`] nested at most), otherwise a spare
//! thread is started while every pool thread is blocked ([`MAX_SPARE_THREADS`] at most), so
//! blocking chains nest `(1 + MAX_SPARE_THREADS) * (1 + MAX_RUN_HERE_DEPTH)` levels deep. A
//! closure may also wait for its subtasks by means the pool cannot see (a channel, a barrier):
//! its submits stay visible to idle workers. A task awaiting a future that nothing completes
//! stays outstanding until `shutdown(_, true)` ends it (the README lists what holds exactly).
//!
//! ## join vs shutdown
//!
//! [`Executor::join`] waits until every task and every subtask tasks keep submitting has finished
//! (fire-and-forget work converges), then shuts down; [`Executor::shutdown`] stops accepting
//! work now; [`Executor::wait_idle`] converges and keeps the pool open.
//!
//! ```
//! # #[cfg(not(feature = "loom"))] {
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use betterconcurrent::{Executor, ThreadPoolExecutor};
//!
//! fn countdown(executor: Executor, count: Arc<AtomicU32>, n: u32) {
//!     if n > 0 {
//!         count.fetch_add(1, Ordering::Relaxed);
//!         let next = executor.clone();
//!         let _ = executor.submit(move || countdown(next, count, n - 1));
//!     }
//! }
//!
//! let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
//! let count = Arc::new(AtomicU32::new(0));
//! countdown(pool.executor(), count.clone(), 100);
//! pool.join().unwrap();
//! assert_eq!(count.load(Ordering::Relaxed), 100);
//! # }
//! ```
//!
//! ## Panics
//!
//! A panic in a task is caught: the task's future holds [`Error::Panicked`] with the message, and
//! the worker thread lives on. A panicking done callback is caught and reported on standard error;
//! the future stays complete and the other callbacks still run. A failing or panicking initializer
//! breaks the pool: queued and later work fails with [`Error::BrokenExecutor`].
//!
//! ```
//! # #[cfg(not(feature = "loom"))] {
//! use betterconcurrent::{Error, ThreadPoolExecutor};
//!
//! let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
//! let failed = pool.submit(|| -> u32 { panic!("bad input") }).unwrap();
//! assert!(matches!(failed.result(), Err(Error::Panicked(m)) if &*m == "bad input"));
//! assert_eq!(*pool.submit(|| 7).unwrap().result().unwrap(), 7);
//! # }
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use betterconcurrent_core::{
    yield_until_done, Error, Future, InvalidStateError, Outcome, OwnedOutcome, Panic, State,
    SubmitError, SubmitSite, UserError, WaitDone,
};

#[cfg(feature = "std")]
pub use betterconcurrent_core::block_until_done;

#[cfg(feature = "std")]
pub use betterconcurrent_std::{
    as_completed, as_completed_async, wait, wait_async, yield_until_done_timeout, AllDone,
    AsCompleted, AsCompletedStream, BlockedThread, BuildError, Builder, Dump, DumpedTask, Executor,
    GroupJoin, Map, MapOptions, ReturnWhen, Scope, Stats, TaskGroup, ThreadPoolExecutor, WaitAsync,
    Waited, WorkerStats, MAX_RUN_HERE_DEPTH, MAX_SPARE_THREADS, MAX_WORKERS,
};

/// The process's pool, built on first use, and the free functions that submit to it.
#[cfg(feature = "std")]
pub use betterconcurrent_std::{global_pool, spawn, submit, submit_async};

/// Time on `std`: `sleep`, `sleep_until`, `timeout`, `timeout_at` on the process's one timer.
#[cfg(feature = "std")]
pub use betterconcurrent_std::time;

/// Time without an operating system: a [`Timer`](timer::Timer) on a clock the program supplies
/// (a firmware's tick interrupt), with the same `Sleep` and `Timeout` futures as the `time`
/// module.
pub use betterconcurrent_core::timer;

/// For executor authors: the task cell and the hooks an executor installs (see the core's
/// docs); nothing a user of the pool needs.
pub use betterconcurrent_core::executor;

/// The single-threaded, fixed-capacity executor for firmware and hosts (no `std` needed).
pub use betterconcurrent_core::local::{self, LocalExecutor, LocalSpawner};

/// The README's example is compiled and run as a doc test, so it cannot go stale.
#[cfg(all(doctest, not(feature = "loom")))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
