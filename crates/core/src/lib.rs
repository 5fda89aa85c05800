//! The `no_std` + `alloc` core of betterconcurrent.
//!
//! It owns everything that does not need an operating system: the [`Future`] state machine with its
//! one waker-based waiting mechanism and its done callbacks, the typed [`Error`]s, the task cell
//! that executors run ([`task`]), and the [`sync`] shim through which every protocol reaches its
//! atomics and locks (so that `--features loom` can model-check them).
//!
//! With the feature `std`, futures also get blocking waits (`result`, `result_timeout`,
//! `exception`, ...) and user panics are caught and stored in the future instead of unwinding
//! through the executor.
#![no_std]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
pub mod blocking;
pub mod error;
pub mod future;
pub mod local;
pub mod panic;
#[doc(hidden)]
pub mod sync;
pub mod task;

#[cfg(feature = "std")]
pub use blocking::block_until_done;
pub use error::{Error, InvalidStateError, SubmitError, UserError};
pub use future::{yield_until_done, Future, Outcome, State, WaitDone};
