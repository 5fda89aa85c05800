//! The task cell: one allocation holding a submitted piece of work beside the future it completes,
//! and [`Task`], the type-erased handle an executor queues and runs.
//!
//! Ownership: the work is touched only through the one [`Task`] handle, whose `run`, `cancel` and
//! `fail` consume it, so at most one thread ever reaches the work, and only once. The future's
//! handles share the same allocation but never touch the work.

use core::fmt;

use crate::error::Error;
use crate::future::{Body, Cell, Future, FutureCore};
use crate::panic;
use crate::sync::{Arc, UnsafeCell};

/// What an executor can do with a queued task; implemented by each kind of task cell.
trait Runnable {
    fn run(self: Arc<Self>, before_complete: &mut dyn FnMut());
    fn cancel(self: Arc<Self>);
    fn fail(self: Arc<Self>, error: Error);
}

/// A submitted unit of work and the future it completes, ready to be queued by an executor.
///
/// Dropping a `Task` without running it leaves its future pending: executors always end a task
/// with [`run`](Task::run), [`cancel`](Task::cancel) or [`fail`](Task::fail).
pub struct Task {
    raw: Arc<dyn Runnable>,
}

// SAFETY: every constructor requires the work and its output to be `Send`; a `Task` is the only
// handle through which the work is reached, and running it moves the output into the future, so
// sending a `Task` to another thread sends nothing that is not `Send`.
unsafe impl Send for Task {}

impl Task {
    /// Package a closure as a task; returns the task and the future it will complete.
    ///
    /// Running the task calls the closure once (if the future was not cancelled first); a panic
    /// in it is caught (with `std`) and stored in the future as [`Error::Panicked`].
    pub fn from_closure<F, T>(work: F) -> (Task, Future<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let cell = Arc::new(Cell {
            core: FutureCore::new(),
            body: ClosureBody(UnsafeCell::new(Some(work))),
        });
        let future = Future::from_cell(cell.clone());
        (Task { raw: cell }, future)
    }

    /// Run the work and complete the future with its outcome, unless the future was cancelled;
    /// then the work is dropped and the future becomes `CancelledAndNotified`.
    ///
    /// `before_complete` is called once the user's closure has returned (or was skipped) and
    /// before the future completes, i.e. before any waiter can observe the outcome. Executors use
    /// it to mark the thread idle, so a caller that saw the result and submits again finds it so.
    pub fn run(self, mut before_complete: impl FnMut()) {
        self.raw.run(&mut before_complete);
    }

    /// Drop the work unrun and leave the future cancelled (`CancelledAndNotified`), waking its
    /// waiters. Used by `shutdown(cancel_futures = true)`.
    pub fn cancel(self) {
        self.raw.cancel();
    }

    /// Drop the work unrun and finish the future with `error` (e.g. [`Error::BrokenExecutor`]).
    pub fn fail(self, error: Error) {
        self.raw.fail(error);
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").finish_non_exhaustive()
    }
}

/// The work of a closure task, taken out exactly once.
struct ClosureBody<F>(UnsafeCell<Option<F>>);

// SAFETY: the closure is only reached through the single `Task` handle (see the module docs), so
// the cell is never accessed from two threads at once; sharing the body only requires moving `F`.
unsafe impl<F: Send> Sync for ClosureBody<F> {}

impl<F: Send> Body for ClosureBody<F> {}

impl<F> ClosureBody<F> {
    /// Take the closure out. Only the owner of the one `Task` handle calls this.
    fn take(&self) -> Option<F> {
        // SAFETY: called only from `Runnable` methods, which consume the unique `Task` handle, so
        // no other access to the cell can happen at the same time.
        self.0.with_mut(|work| unsafe { (*work).take() })
    }
}

/// Drop user data whose destructor may panic, reporting instead of unwinding into the executor.
fn drop_work<W>(work: Option<W>) {
    if let Err(error) = panic::catch(move || drop(work)) {
        panic::report("dropping a task's closure", &error);
    }
}

impl<F, T> Runnable for Cell<T, ClosureBody<F>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Arc<Self>, before_complete: &mut dyn FnMut()) {
        let work = self.body.take();
        let future = Future::<T>::from_cell(self);
        match (future.set_running_or_notify_cancel(), work) {
            (Ok(true), Some(work)) => {
                let outcome = panic::catch(work);
                before_complete();
                // Only fails if the user finished the future themselves while it ran; then their
                // outcome stands, as in Python.
                let _ = future.set_outcome(outcome);
            }
            (_, work) => {
                drop_work(work);
                before_complete();
            }
        }
    }

    fn cancel(self: Arc<Self>) {
        let work = self.body.take();
        let future = Future::<T>::from_cell(self);
        if future.cancel() {
            let _ = future.set_running_or_notify_cancel();
        }
        drop_work(work);
    }

    fn fail(self: Arc<Self>, error: Error) {
        let work = self.body.take();
        let future = Future::<T>::from_cell(self);
        if let Ok(true) = future.set_running_or_notify_cancel() {
            let _ = future.set_outcome(Err(error));
        }
        drop_work(work);
    }
}
