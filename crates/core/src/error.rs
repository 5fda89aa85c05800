//! The typed errors: what a future's outcome or a wait can fail with, and the misuse errors of the
//! executor-facing API. They replace Python's `CancelledError`, `TimeoutError`,
//! `InvalidStateError`, `BrokenThreadPool` and the exceptions a task raises.

#[cfg(feature = "std")]
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::future::State;
use crate::sync::Arc;

/// A user error stored in a future by [`Future::set_exception`](crate::Future::set_exception).
pub type UserError = Arc<dyn core::error::Error + Send + Sync + 'static>;

/// Why a future has no value, or why a wait gave up.
///
/// Cheap to clone: the payloads are reference-counted, so every clone of a failed future reports
/// the same error.
#[derive(Clone)]
#[non_exhaustive]
pub enum Error {
    /// The future was cancelled before it ran (Python's `CancelledError`).
    Cancelled,
    /// The wait's timeout passed before the future completed (Python's `TimeoutError`). The future
    /// itself is unaffected and may still complete.
    Timeout,
    /// An executor-facing operation was used in the wrong state (Python's `InvalidStateError`).
    InvalidState(InvalidStateError),
    /// The executor broke before the task could run, e.g. an initializer failed
    /// (Python's `BrokenThreadPool`). Holds the reason.
    BrokenExecutor(Arc<str>),
    /// The executor was shut down before the work could be accepted.
    Shutdown,
    /// The task panicked; holds the panic's message and its payload ([`Panic`]).
    Panicked(Panic),
    /// The task failed with this error (set with `set_exception`).
    Exception(UserError),
    /// The wait was refused because it could never end: e.g. `join` called from one of the
    /// pool's own tasks would wait for that task itself. Await the futures instead.
    WouldDeadlock,
    /// A timed wait gave up on work that can never finish: tasks suspended in a wait-for
    /// cycle, each waiting only on the next (a pool's `join_timeout` and `wait_idle_timeout`
    /// when it has such a cycle; a task group's `join_timeout` when one of its tasks is in or
    /// waits on one; `result_timeout` / `exception_timeout` of a future whose task is in or
    /// waits on one, as its executor tells through `Schedule::deadlock_diagnosis`).
    /// Holds the diagnosis (the pool's dump: the cycles by task id, and what every other task
    /// awaits). Like `Timeout`, the tasks are unaffected. (Tasks that only await futures from
    /// outside the pool time out with `Timeout`: another thread may still complete those.)
    Stuck(Arc<str>),
    /// A fixed-capacity executor refused the work: it already held `capacity` unfinished tasks
    /// (from [`SubmitError::Full`]).
    Full {
        /// How many unfinished tasks the executor can hold.
        capacity: usize,
    },
}

impl Error {
    /// The panic message, if the task panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            Error::Panicked(panic) => Some(panic.message()),
            _ => None,
        }
    }

    /// The user error, if one was set with `set_exception`.
    pub fn exception(&self) -> Option<&UserError> {
        match self {
            Error::Exception(error) => Some(error),
            _ => None,
        }
    }

    /// Build [`Error::Panicked`] from the payload that `catch_unwind` returns.
    ///
    /// The payload is kept ([`Panic::take_payload`]), so the panic can be resumed where it is
    /// read; untaken, it is dropped with the last clone of the error, and if its destructor
    /// panics too, that second panic is caught and the payload leaked, so an error never
    /// unwinds.
    #[cfg(feature = "std")]
    pub fn from_panic(payload: Box<dyn core::any::Any + Send>) -> Self {
        Error::Panicked(Panic::new(panic_message(&*payload), Some(payload)))
    }
}

/// The text of a panic payload: the `&str` or `String` passed to `panic!`, or a placeholder.
pub fn panic_message(payload: &(dyn core::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        String::from(*message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        String::from("a panic with a non-string payload")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cancelled => f.write_str("the future was cancelled before it ran"),
            Error::Timeout => {
                f.write_str("timed out waiting for the future; it may still complete")
            }
            Error::InvalidState(error) => fmt::Display::fmt(error, f),
            Error::BrokenExecutor(reason) => write!(
                f,
                "the executor is broken and cannot run tasks ({reason}); build a new one"
            ),
            Error::Shutdown => {
                f.write_str("the executor was shut down; no new work can be submitted")
            }
            Error::Panicked(panic) => write!(f, "the task panicked: {}", panic.message()),
            // The user's error is the `source()`: an error reporter prints each message once.
            Error::Exception(_) => f.write_str("the task failed"),
            Error::WouldDeadlock => f.write_str(
                "refused to wait: called from one of the pool's own tasks, it would wait for \
                 itself; await the futures of the work instead",
            ),
            Error::Stuck(diagnosis) => write!(
                f,
                "the wait timed out on a deadlocked pool (tasks await each other):\n{diagnosis}"
            ),
            Error::Full { capacity } => write!(
                f,
                "the executor already held its capacity of {capacity} unfinished tasks"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cancelled => f.write_str("Cancelled"),
            Error::Timeout => f.write_str("Timeout"),
            Error::InvalidState(error) => f.debug_tuple("InvalidState").field(error).finish(),
            Error::BrokenExecutor(reason) => f.debug_tuple("BrokenExecutor").field(reason).finish(),
            Error::Shutdown => f.write_str("Shutdown"),
            Error::Panicked(panic) => f.debug_tuple("Panicked").field(panic).finish(),
            Error::Exception(error) => f.debug_tuple("Exception").field(error).finish(),
            Error::WouldDeadlock => f.write_str("WouldDeadlock"),
            Error::Stuck(diagnosis) => f.debug_tuple("Stuck").field(diagnosis).finish(),
            Error::Full { capacity } => f.debug_struct("Full").field("capacity", capacity).finish(),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Exception(error) => Some(&**error),
            // Transparent: its message is this one's (`Display`), so it is not a source too.
            Error::InvalidState(error) => error.source(),
            _ => None,
        }
    }
}

impl From<InvalidStateError> for Error {
    fn from(error: InvalidStateError) -> Self {
        Error::InvalidState(error)
    }
}

impl From<SubmitError> for Error {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::Shutdown => Error::Shutdown,
            SubmitError::Broken(reason) => Error::BrokenExecutor(reason),
            SubmitError::Cancelled => Error::Cancelled,
            SubmitError::Full { capacity } => Error::Full { capacity },
        }
    }
}

/// What `catch_unwind` returns for a panic.
type PanicPayload = alloc::boxed::Box<dyn core::any::Any + Send>;

/// A caught panic of user code ([`Error::Panicked`]): its message, and its payload, which one
/// caller can take to resume the panic where the error is read
/// (`std::panic::resume_unwind(panic.take_payload().unwrap())`, or [`Panic::resume`]), as
/// rayon's and `std::thread::scope`'s joins do. Clones share both; it derefs to the message.
#[derive(Clone)]
pub struct Panic(Arc<PanicRecord>);

/// What a [`Panic`]'s clones share: one pointer in every `Error`, so an error (and each task
/// cell's outcome slot) is no larger than before panics kept their payloads.
struct PanicRecord {
    message: alloc::string::String,
    /// Empty for a panic described by its message only (made with `From`), and once taken. The
    /// payload is user data behind a take-once slot: a plain spin lock, not the `sync` shim's,
    /// because no protocol runs through it and it is made outside loom's models too.
    payload: spin::Mutex<Option<PanicPayload>>,
}

impl Panic {
    fn new(message: alloc::string::String, payload: Option<PanicPayload>) -> Self {
        Panic(Arc::new(PanicRecord {
            message,
            payload: spin::Mutex::new(payload),
        }))
    }

    /// The panic's message (`&str` and `String` payloads; a fixed text for others).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The payload `catch_unwind` returned, for the first caller that asks (of every clone).
    pub fn take_payload(&self) -> Option<PanicPayload> {
        self.0.payload.lock().take()
    }

    /// Resume the panic: with its payload if no one took it yet, else with its message.
    #[cfg(feature = "std")]
    pub fn resume(self) -> ! {
        match self.take_payload() {
            Some(payload) => std::panic::resume_unwind(payload),
            None => {
                std::panic::resume_unwind(Box::new(alloc::string::String::from(self.message())))
            }
        }
    }
}

impl Drop for PanicRecord {
    /// A payload nobody took is user data whose destructor may panic too: that second panic is
    /// caught and the payload leaked, so dropping an error never unwinds.
    fn drop(&mut self) {
        if let Some(payload) = self.payload.get_mut().take() {
            #[cfg(feature = "std")]
            if let Err(payload_of_drop) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)))
            {
                core::mem::forget(payload_of_drop);
            }
            #[cfg(not(feature = "std"))]
            drop(payload);
        }
    }
}

// A take-once slot cannot be seen half-changed after a panic (nothing user-visible runs under
// its lock), so an `Error` stays unwind-safe as it was before it kept the payload.
impl core::panic::UnwindSafe for Panic {}
impl core::panic::RefUnwindSafe for Panic {}

impl core::ops::Deref for Panic {
    type Target = str;

    fn deref(&self) -> &str {
        self.message()
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.message(), f)
    }
}

impl From<&str> for Panic {
    fn from(message: &str) -> Self {
        Panic::new(message.into(), None)
    }
}

impl From<alloc::string::String> for Panic {
    fn from(message: alloc::string::String) -> Self {
        Panic::new(message, None)
    }
}

/// An executor-facing operation (`set_result`, `set_exception`, `set_running_or_notify_cancel`)
/// was called on a future in a state that does not allow it. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidStateError {
    /// The operation that was refused.
    pub operation: &'static str,
    /// The state the future was in.
    pub state: State,
}

impl fmt::Display for InvalidStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not allowed on a future in state {:?}",
            self.operation, self.state
        )
    }
}

impl core::error::Error for InvalidStateError {}

/// Why an executor refused new work. The work was not run and nothing was queued.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SubmitError {
    /// `shutdown` was called, or the executor was dropped (Python raises `RuntimeError` here).
    Shutdown,
    /// The executor is broken (e.g. an initializer failed); holds the reason.
    Broken(Arc<str>),
    /// The group of tasks it was submitted to was cancelled (a group of a thread pool).
    Cancelled,
    /// A fixed-capacity executor ([`LocalExecutor`](crate::local::LocalExecutor)) already holds
    /// `capacity` unfinished tasks; submit again once some have finished.
    Full {
        /// How many unfinished tasks the executor can hold.
        capacity: usize,
    },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Shutdown => f.write_str("cannot submit: the executor was shut down"),
            SubmitError::Cancelled => f.write_str("cannot submit: the task group was cancelled"),
            SubmitError::Broken(reason) => {
                write!(f, "cannot submit: the executor is broken ({reason})")
            }
            SubmitError::Full { capacity } => write!(
                f,
                "cannot submit: the executor already holds its capacity of {capacity} unfinished tasks"
            ),
        }
    }
}

impl core::error::Error for SubmitError {}

impl PartialEq for SubmitError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SubmitError::Shutdown, SubmitError::Shutdown) => true,
            (SubmitError::Cancelled, SubmitError::Cancelled) => true,
            (SubmitError::Broken(a), SubmitError::Broken(b)) => a == b,
            (SubmitError::Full { capacity: a }, SubmitError::Full { capacity: b }) => a == b,
            _ => false,
        }
    }
}

impl Eq for SubmitError {}
