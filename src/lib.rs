//! # betterconcurrent
//!
//! Python's `concurrent.futures` for Rust: [`Future`]s with Python's states, done callbacks and
//! typed errors, and a [`ThreadPoolExecutor`] with `submit`, ordered `map`, `shutdown`, [`wait`]
//! and [`as_completed`]. The future core is `no_std` + `alloc` (build with
//! `default-features = false`); the thread pool needs the default feature `std`.
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
//!
//! ## Panics
//!
//! A panic in a task is caught: the task's future holds [`Error::Panicked`] with the message, and
//! the worker thread lives on. A panicking done callback is caught and reported on standard error;
//! the future stays complete and the other callbacks still run. A failing or panicking initializer
//! breaks the pool: queued and later work fails with [`Error::BrokenExecutor`].
#![cfg_attr(not(feature = "std"), no_std)]

pub use betterconcurrent_core::{
    yield_until_done, Error, Future, InvalidStateError, Outcome, State, SubmitError, UserError,
    WaitDone,
};

#[cfg(feature = "std")]
pub use betterconcurrent_core::block_until_done;

#[cfg(feature = "std")]
pub use betterconcurrent_std::{
    as_completed, wait, AsCompleted, BuildError, Builder, Executor, Map, MapOptions, ReturnWhen,
    ThreadPoolExecutor, Waited, MAX_RUN_HERE_DEPTH, MAX_SPARE_THREADS,
};

/// The task cell, for writing executors on the core.
pub use betterconcurrent_core::task;

/// The README's example is compiled and run as a doc test, so it cannot go stale.
#[cfg(all(doctest, not(feature = "loom")))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
