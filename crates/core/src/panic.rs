//! Where user code runs: the one place that catches its panics (with `std`) and reports the
//! panics of done callbacks, so no protocol is left half-done by an unwinding user closure.

use crate::error::Error;

/// Run user code, turning a panic into [`Error::Panicked`] when unwinding can be caught (`std`).
///
/// Without `std` there is no `catch_unwind`; embedded targets build with `panic = "abort"`, so a
/// panic there ends the program instead of leaving a future pending.
#[inline]
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Error> {
    #[cfg(feature = "std")]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(Error::from_panic)
    }
    #[cfg(not(feature = "std"))]
    {
        Ok(f())
    }
}

/// Report a panic that has no future to hold it (a done callback, a waker): it is printed to
/// standard error, as Python's `concurrent.futures` logs an exception raised by a callback.
/// `what` names the code that panicked (and the future it ran for, if any).
pub fn report(what: impl core::fmt::Display, error: &Error) {
    match error.panic_message() {
        // The panic's own message: `Error::Panicked`'s text speaks of a task.
        Some(message) => report_line(format_args!("{what} panicked: {message}")),
        None => report_line(format_args!("{what} failed: {error}")),
    }
}

/// Print one report line where every report of this library goes: standard error, prefixed
/// with the crate's name (nowhere without `std`). Used for what no caller sees otherwise, as
/// a pool broken by its initializer.
pub fn report_line(message: core::fmt::Arguments<'_>) {
    #[cfg(feature = "std")]
    std::eprintln!("betterconcurrent: {message}");
    #[cfg(not(feature = "std"))]
    let _ = message;
}
