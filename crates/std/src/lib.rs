//! The OS-thread side of betterconcurrent: [`ThreadPoolExecutor`] (work-stealing worker threads
//! with condvar parking), blocking waits over many futures ([`wait`], [`as_completed`]) and the
//! ordered parallel [`map`](Executor::map).
//!
//! The futures it returns are [`betterconcurrent_core::Future`]s; with this crate their blocking
//! methods (`result`, `result_timeout`, `exception`, `exception_timeout`) are available.
//! [`global_pool`] is a pool for the whole process, built on first use, which the free
//! functions [`submit`], [`submit_async`] and [`spawn`] reach.
//!
//! ```
//! use betterconcurrent_std::ThreadPoolExecutor;
//!
//! let pool = ThreadPoolExecutor::new();
//! let future = pool.submit(|| 6 * 7).unwrap();
//! assert_eq!(*future.result().unwrap(), 42);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod blocking;
mod dump;
mod executor;
mod global;
mod group;
mod map;
mod pool;
mod queue;
mod scope;
mod sleep;
mod stats;
pub mod time;
mod wait;
mod worker;

pub use betterconcurrent_core::{
    block_until_done, yield_until_done, Error, Future, InvalidStateError, State, SubmitError,
    SubmitSite,
};
pub use blocking::MAX_RUN_HERE_DEPTH;
pub use dump::{BlockedThread, Dump, DumpedTask};
pub use executor::{Executor, ThreadPoolExecutor};
pub use global::{global_pool, spawn, submit, submit_async};
pub use group::{GroupJoin, TaskGroup};
pub use map::{Map, MapOptions};
pub use pool::{BuildError, Builder, MAX_SPARE_THREADS, MAX_WORKERS};
pub use scope::Scope;
pub use stats::{Stats, WorkerStats};
pub use wait::{
    as_completed, as_completed_async, wait, wait_async, yield_until_done_timeout, AllDone,
    AsCompleted, AsCompletedStream, ReturnWhen, WaitAsync, Waited,
};

/// The crate's README, whose example runs as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
