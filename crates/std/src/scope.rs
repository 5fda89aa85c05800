//! [`Scope`]: tasks that borrow from the caller's stack, as `std::thread::scope` lends threads
//! the caller's locals. A scope is a child [`TaskGroup`] whose join cannot be skipped: its
//! tasks may borrow for `'scope` because [`Executor::scope`] returns (or unwinds) only after the
//! group's count reached zero, and every way a task of a group ends drops its work before it is
//! counted ended (`pool::group`), which is the contract of the core's scoped constructors
//! (`Task::from_closure_scoped` and its siblings). What a scoped task hands back (a future's
//! value) is `'static`: a future may outlive the scope, its work may not.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::Poll;

use betterconcurrent_core::executor::{catch_panic, Task};
use betterconcurrent_core::sync::blocking::{lock, Mutex};
use betterconcurrent_core::{Error, Future, Panic, SubmitError};

use crate::executor::Executor;
use crate::group::TaskGroup;
use crate::worker;

/// The handle [`Executor::scope`] lends its closure: spawn tasks that borrow anything that
/// outlives the call (`'env`), closures and `async` bodies, with or without a future.
///
/// A panic in a task without a future ([`spawn`](Scope::spawn),
/// [`spawn_async`](Scope::spawn_async)) is re-raised by [`Executor::scope`] once every task has
/// finished, with its original payload; the other tasks still run. A task with a future
/// ([`submit`](Scope::submit), [`submit_async`](Scope::submit_async)) ends that future with
/// [`Error::Panicked`] instead (its payload inside), as every task with a future does.
///
/// The borrow checker holds the rest of the contract. A task cannot borrow what the scope's
/// closure owns (it is dropped when the closure returns, before the tasks end):
///
/// ```compile_fail,E0373
/// let pool = betterconcurrent_std::ThreadPoolExecutor::new();
/// pool.scope(|scope| {
///     let local = vec![1, 2, 3];
///     scope.spawn(|_| println!("{local:?}")).unwrap();
/// });
/// ```
///
/// and what a task captures must be `Send`, as it runs on another thread:
///
/// ```compile_fail,E0277
/// let pool = betterconcurrent_std::ThreadPoolExecutor::new();
/// let shared = std::rc::Rc::new(1);
/// pool.scope(|scope| {
///     scope.spawn(|_| println!("{shared}")).unwrap();
/// });
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    /// The scope's tasks, a child of the group the scope was made in (if any).
    group: TaskGroup,
    /// The first panic of a task without a future, re-raised when the scope ends.
    panic: Mutex<Option<Panic>>,
    /// Invariant in both lifetimes, as `std::thread::Scope`: a task may borrow for `'scope`,
    /// which no caller can shorten or lengthen.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl Executor {
    /// Run `body` with a [`Scope`] whose tasks may borrow anything that outlives this call,
    /// and return after every task spawned through the scope, and every subtask they added
    /// (through the scope, [`Executor::current`] or the scope's
    /// [`executor`](Scope::executor)), has finished; then re-raise the first panic of a task
    /// without a future, if any. A panic in `body` itself is re-raised after the same wait.
    ///
    /// The scope is a child group of this handle's group (or of the group of the task running
    /// on this thread), so a parent's join waits for it and a parent's cancel ends its queued
    /// tasks. Called on one of the pool's own threads (even on a 1-worker pool) the wait does
    /// not deadlock: the waiting worker first runs the scope's tasks from its own queue, newest
    /// first (as rayon's scope does, so nested scopes cost no thread per level), and then counts
    /// as blocked, as in every blocking wait, so a spare thread runs the rest if no other can.
    /// `body` runs on the calling thread, outside the scope's group: what it submits through
    /// other handles is not waited for.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use betterconcurrent_std::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new();
    /// let words = vec!["scoped", "tasks", "borrow"];
    /// let letters = AtomicUsize::new(0);
    /// pool.scope(|scope| {
    ///     for word in &words {
    ///         let letters = &letters;
    ///         scope.spawn(move |_| {
    ///             letters.fetch_add(word.len(), Ordering::Relaxed);
    ///         }).unwrap();
    ///     }
    /// });
    /// assert_eq!(letters.into_inner(), 6 + 5 + 6);
    /// ```
    pub fn scope<'env, F, R>(&self, body: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            group: TaskGroup::new(self),
            panic: Mutex::new(None),
            scope: PhantomData,
            env: PhantomData,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| body(&scope)));
        // The tasks borrow for `'scope`: nothing may return or unwind from here before they
        // ended. The wait needs no self-wait check (the group is new: no task of it runs this
        // code), and goes through the thread's blocking hook and thread-locals; if it unwinds
        // (a user's hook panicked, or this runs in a thread-local's destructor) or a user's
        // hook ends it early, the count is polled through nothing that can fail (one load
        // once the wait converged), and only then does the unwind go on.
        let group = scope.group.group();
        let wait_unwound = catch_unwind(AssertUnwindSafe(|| {
            worker::run_scope_tasks_here(group);
            group.wait_until(None)
        }))
        .err();
        group.poll_until_empty();
        if let Some(payload) = wait_unwound {
            resume_unwind(payload);
        }
        let panicked = lock(&scope.panic).take();
        match (outcome, panicked) {
            (Err(payload), _) => resume_unwind(payload),
            (Ok(_), Some(panic)) => panic.resume(),
            (Ok(value), None) => value,
        }
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Run `work` on the pool, fire-and-forget; it may borrow for `'scope` and is handed the
    /// scope, to spawn more. A panic in it is re-raised by [`Executor::scope`] (see
    /// [`Scope`]). Fails with [`SubmitError::Cancelled`] if a group the scope is in was
    /// cancelled, and as [`Executor::submit`] does; `work` is then dropped unrun.
    #[track_caller]
    pub fn spawn<F>(&'scope self, work: F) -> Result<(), SubmitError>
    where
        F: FnOnce(&'scope Scope<'scope, 'env>) + Send + 'scope,
    {
        let work = move || {
            if let Err(panic) = catch_panic(|| work(self)) {
                self.record(panic);
            }
        };
        let group = self.group.group();
        // SAFETY: the group's handle lives as long as the group, which holds itself while it
        // has work (`pool::group`), and the task is counted in the group from this submit until
        // it was consumed; `Executor::scope` does not let `'scope` end before the group's count
        // is zero.
        group.submit(unsafe { Task::detached_with(work, group.handle()) })
    }

    /// Run `work` on the pool; returns the future of its result. `work` may borrow for
    /// `'scope`; the result is owned (`'static`), so the future may outlive the scope. A panic
    /// ends the future with [`Error::Panicked`]. Fails as [`spawn`](Scope::spawn) does.
    #[track_caller]
    pub fn submit<F, T>(&'scope self, work: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'static,
    {
        let group = self.group.group();
        // SAFETY: the task is counted in the scope's group from this submit until it ended
        // (its work dropped), and `Executor::scope` does not let `'scope` end before that.
        let (task, future) = unsafe { Task::from_closure_scoped(work, Some(group.scheduler())) };
        group.submit(task)?;
        Ok(future)
    }

    /// Run an `async` body on the pool; returns the future of its output. The body may borrow
    /// for `'scope` and suspends at its `.await`s without holding a thread, as with
    /// [`Executor::submit_async`]. Fails as [`spawn`](Scope::spawn) does.
    #[track_caller]
    pub fn submit_async<F>(&'scope self, body: F) -> Result<Future<F::Output>, SubmitError>
    where
        F: std::future::Future + Send + 'scope,
        F::Output: Send + 'static,
    {
        let group = self.group.group();
        // SAFETY: as in `submit`: counted in the scope's group until it ended (completed,
        // cancelled, aborted or freed, its body dropped first), which `Executor::scope` awaits.
        let (task, future) = unsafe { Task::from_async_scoped(body, group.scheduler()) };
        group.submit(task)?;
        Ok(future)
    }

    /// Run an `async` body on the pool, fire-and-forget; it may borrow for `'scope`. A panic
    /// in it is re-raised by [`Executor::scope`] (see [`Scope`]). Fails as
    /// [`spawn`](Scope::spawn) does.
    #[track_caller]
    pub fn spawn_async<F>(&'scope self, body: F) -> Result<(), SubmitError>
    where
        F: std::future::Future<Output = ()> + Send + 'scope,
    {
        // The body's panics, in a poll or in its destructor (dropped here, in place, once it
        // is done), are the scope's to re-raise.
        let body = async move {
            let mut body = std::pin::pin!(Some(body));
            std::future::poll_fn(|cx| {
                let polled = body
                    .as_mut()
                    .as_pin_mut()
                    .map(|body| catch_panic(|| body.poll(cx)));
                match polled {
                    Some(Ok(Poll::Pending)) => return Poll::Pending,
                    Some(Err(panic)) => self.record(panic),
                    Some(Ok(Poll::Ready(()))) | None => {}
                }
                if let Err(panic) = catch_panic(|| body.set(None)) {
                    self.record(panic);
                }
                Poll::Ready(())
            })
            .await;
        };
        // The future only reports what the scope records already.
        self.submit_async(body).map(drop)
    }

    /// The handle that submits to the scope's group (`'static` tasks only; what
    /// [`Executor::current`] returns inside the scope's tasks). The scope waits for its tasks
    /// too.
    pub fn executor(&self) -> Executor {
        self.group.executor()
    }

    /// Keep the first panic of a task without a future; later ones are dropped (their
    /// payloads' destructors contained, see [`Error::from_panic`]). Each counts in the pool's
    /// `Stats::tasks_panicked`.
    fn record(&self, error: Error) {
        let Error::Panicked(panic) = error else {
            return;
        };
        self.group.group().pool.count_caught_panic();
        let later = {
            let mut first = lock(&self.panic);
            match *first {
                None => first.replace(panic),
                Some(_) => Some(panic),
            }
        };
        // After the lock: dropping a payload is user code.
        drop(later);
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("group", &self.group)
            .field("panicked", &lock(&self.panic).is_some())
            .finish()
    }
}
