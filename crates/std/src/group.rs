//! [`TaskGroup`]: a piece of a pool's work that can be joined and cancelled on its own, while
//! other code shares the pool. Its protocol (how a task finds its group, the counts, cancel) is
//! argued in `pool::group`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use betterconcurrent_core::executor::deadline_after;
use betterconcurrent_core::sync::Arc;
use betterconcurrent_core::{Error, Future, SubmitError};

use crate::executor::Executor;
use crate::pool::{Group, Waiter};
use crate::worker;

/// A group of tasks on a shared pool: [`join`](TaskGroup::join) waits for every task of the
/// group and every subtask they keep adding, and [`cancel`](TaskGroup::cancel) ends them,
/// without waiting for or touching the pool's other work.
///
/// A task belongs to the group if it was submitted through the group, or from inside one of
/// the group's tasks through [`Executor::current`] or the [`Executor`] that
/// [`spawn`](TaskGroup::spawn) hands over: a fire-and-forget tree stays in its group without a
/// handle threaded through it. A group made while one of a group's tasks runs (or from a
/// handle bound to a group) is that group's child: the parent's join waits for it too, and
/// cancelling the parent cancels it. The handle is cheap to clone and `'static`; the pool's own
/// [`join`](Executor::join) still waits for everything on the pool, groups included.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use betterconcurrent_std::{Executor, TaskGroup, ThreadPoolExecutor};
///
/// fn visit(executor: &Executor, nodes: Arc<AtomicU64>, depth: u32) {
///     nodes.fetch_add(1, Ordering::Relaxed);
///     for _ in 0..depth.min(1) * 3 {
///         let nodes = nodes.clone();
///         executor.spawn(move |executor| visit(executor, nodes, depth - 1)).unwrap();
///     }
/// }
///
/// let pool = ThreadPoolExecutor::new();
/// let group = TaskGroup::new(&pool);
/// let nodes = Arc::new(AtomicU64::new(0));
/// let counted = nodes.clone();
/// group.spawn(move |executor| visit(executor, counted, 3)).unwrap();
/// group.join().unwrap(); // the whole tree, and nothing else on the pool
/// assert_eq!(nodes.load(Ordering::Relaxed), 1 + 3 + 9 + 27);
/// ```
#[derive(Clone)]
pub struct TaskGroup {
    /// Bound to the group (`executor.group` is set).
    executor: Executor,
}

impl TaskGroup {
    /// A new, empty group of `executor`'s pool; a child of the group `executor` is bound to, or
    /// else of the group of the task running on this thread (if it runs one of this pool's).
    pub fn new(executor: &Executor) -> TaskGroup {
        let parent = executor.group.clone().or_else(|| {
            worker::current_group().filter(|group| Arc::ptr_eq(&group.pool, &executor.pool))
        });
        let group = Group::new(executor.pool.clone(), parent);
        TaskGroup {
            executor: Executor {
                pool: executor.pool.clone(),
                group: Some(group),
            },
        }
    }

    pub(crate) fn group(&self) -> &Arc<Group> {
        self.executor
            .group
            .as_ref()
            .expect("a task group's handle is bound to its group")
    }

    /// The handle that submits to this group (what [`Executor::current`] returns inside the
    /// group's tasks).
    pub fn executor(&self) -> Executor {
        self.executor.clone()
    }

    /// Run `work` in the group; returns the future of its result. Fails with
    /// [`SubmitError::Cancelled`] once the group was cancelled, and as
    /// [`Executor::submit`] does.
    #[track_caller]
    pub fn submit<F, T>(&self, work: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.executor.submit(work)
    }

    /// Run `work` in the group, fire-and-forget; it is handed the group's [`Executor`], so what
    /// it spawns stays in the group. Fails as [`submit`](TaskGroup::submit) does.
    #[track_caller]
    pub fn spawn<F>(&self, work: F) -> Result<(), SubmitError>
    where
        F: FnOnce(&Executor) + Send + 'static,
    {
        self.executor.spawn(work)
    }

    /// Run an `async` body in the group; returns the future of its output. Fails as
    /// [`submit`](TaskGroup::submit) does.
    #[track_caller]
    pub fn submit_async<F>(&self, body: F) -> Result<Future<F::Output>, SubmitError>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.submit_async(body)
    }

    /// Block until every task of the group (and every subtask they added, child groups
    /// included) has finished. On one of the pool's threads the wait is compensated as every
    /// blocking wait is; inside an async task, await [`joined`](TaskGroup::joined) instead,
    /// which does not hold the thread. Fails with [`Error::WouldDeadlock`] from inside one of
    /// the group's own tasks (it would wait for itself).
    pub fn join(&self) -> Result<(), Error> {
        self.group().join_until(None)
    }

    /// [`join`](TaskGroup::join), giving up with [`Error::Timeout`] after `timeout`, or with
    /// [`Error::Stuck`] (the pool's dump) if a suspended task of the group, or of a group within
    /// it, is in or waits on a closed wait-for cycle: the group can never finish.
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.group().join_until(deadline_after(timeout))
    }

    /// A future that resolves once the group has no work (as [`join`](TaskGroup::join), but
    /// awaited: inside a pool task it suspends without holding a thread). Resolves to
    /// [`Error::WouldDeadlock`] if polled from inside one of the group's own tasks.
    pub fn joined(&self) -> GroupJoin {
        let group = self.group().clone();
        group.begin_async_join();
        GroupJoin {
            group,
            waiter: Waiter::default(),
            done: false,
        }
    }

    /// End the group's queued tasks and its suspended async tasks (their futures end
    /// cancelled, their bodies are dropped, destructors run), and those of its child groups;
    /// running closures finish, and an async task that is running ends at its next `.await`.
    /// Later submits to the group fail with [`SubmitError::Cancelled`]. Returns at once;
    /// [`join`](TaskGroup::join) waits for the group to empty.
    pub fn cancel(&self) {
        self.group().cancel();
    }

    /// Whether [`cancel`](TaskGroup::cancel) was called on this group or a parent.
    pub fn is_cancelled(&self) -> bool {
        self.group().is_cancelled()
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("outstanding", &self.group().outstanding())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The future of [`TaskGroup::joined`].
#[must_use = "a join does nothing unless awaited"]
pub struct GroupJoin {
    group: Arc<Group>,
    waiter: Waiter,
    done: bool,
}

impl std::future::Future for GroupJoin {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(Ok(()));
        }
        if worker::current_group().is_some_and(|current| current.is_within(&this.group)) {
            this.finish();
            return Poll::Ready(Err(Error::WouldDeadlock));
        }
        match this.group.poll_joined(&mut this.waiter, cx) {
            Poll::Ready(()) => {
                this.finish();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl GroupJoin {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.group.end_async_join(&mut self.waiter);
        }
    }
}

impl Drop for GroupJoin {
    fn drop(&mut self) {
        self.finish();
    }
}

impl fmt::Debug for GroupJoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupJoin")
            .field("done", &self.done)
            .finish()
    }
}
