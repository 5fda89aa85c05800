//! The `no_std` + `alloc` core of betterconcurrent.
//!
//! It owns everything that does not need an operating system: the [`Future`] state machine with its
//! one waker-based waiting mechanism and its done callbacks, the typed [`Error`]s, the task cell
//! that executors run ([`executor`]), and the `sync` shim through which every protocol reaches its
//! atomics and locks (so that `--features loom` can model-check them).
//!
//! With the feature `std`, futures also get blocking waits (`result`, `result_timeout`,
//! `exception`, ...) and user panics are caught and stored in the future instead of unwinding
//! through the executor.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
mod blocking;
pub mod error;
pub mod future;
pub mod local;
mod panic;
pub mod site;
/// The synchronisation shim every protocol of the workspace goes through (the loom and
/// portable-atomic switch). Public only so the workspace's other crates share it: not part of
/// the API, and it may change in any release.
#[doc(hidden)]
pub mod sync;
mod task;
pub mod timer;

/// For executor authors: the task cell an executor queues and runs, how a task finds its way
/// back to its executor, and the hooks an executor installs on its own threads. Everything else
/// in this crate is the API of the futures' users; this module is what an executor built on the
/// core (the `std` crate's pool, the [`LocalExecutor`](local::LocalExecutor)) needs, and it is
/// kept as stable as the rest.
pub mod executor {
    pub use crate::task::{
        KindAndSite, Registration, RunHooks, RunOutcome, Schedule, SchedulerHandle, Suspending,
        Task, TaskFacts, TaskKind, TaskPhase, TaskSnapshot, TaskWatch,
    };

    #[cfg(feature = "std")]
    pub use crate::blocking::{
        block_on_until, deadline_after, install_blocking_hook, park_plain, park_until,
        run_may_block, thread_waker_id, BlockingHook, HookInstalled, InstalledBlockingHook,
    };
    pub use crate::panic::{catch as catch_panic, report as report_panic, report_line};
}

#[cfg(feature = "std")]
pub use blocking::block_until_done;
pub use error::{Error, InvalidStateError, Panic, SubmitError, UserError};
pub use future::{yield_until_done, Future, Outcome, OwnedOutcome, State, WaitDone};
pub use site::SubmitSite;

/// The crate's README, whose example runs as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
