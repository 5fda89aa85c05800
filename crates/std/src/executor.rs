//! The handles users hold: [`Executor`], the cheap clonable handle through which tasks submit
//! subtasks, and [`ThreadPoolExecutor`], the owning handle whose drop shuts the pool down.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use betterconcurrent_core::executor::deadline_after;
use betterconcurrent_core::executor::{SchedulerHandle, Task};
use betterconcurrent_core::sync::Arc;
use betterconcurrent_core::{Error, Future, SubmitError, SubmitSite};

use crate::dump::Dump;
use crate::map::{Map, MapOptions};
use crate::pool::{Builder, Group, Pool};
use crate::stats::Stats;
use crate::worker;

/// A handle to a thread pool: cheap to clone, `Send + Sync`, usable from inside the pool's own
/// tasks to submit subtasks. Dropping it does not shut the pool down; dropping the owning
/// [`ThreadPoolExecutor`] does.
///
/// ```
/// use betterconcurrent_std::{Executor, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new();
/// let parent = pool
///     .submit(|| {
///         let executor = Executor::current().expect("runs on a pool thread");
///         executor.submit(|| "from a subtask").unwrap()
///     })
///     .unwrap();
/// assert_eq!(*parent.result().unwrap().result().unwrap(), "from a subtask");
/// ```
#[derive(Clone)]
pub struct Executor {
    pub(crate) pool: Arc<Pool>,
    /// The group this handle submits to (see [`TaskGroup`](crate::TaskGroup)); `None`: the pool
    /// itself.
    pub(crate) group: Option<Arc<Group>>,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("max_workers", &self.max_workers())
            .field("threads", &self.thread_count())
            .finish()
    }
}

impl PartialEq for Executor {
    /// Two handles are equal if they reach the same pool.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pool, &other.pool)
    }
}

impl Eq for Executor {}

impl Executor {
    /// The pool whose task is running on this thread, if any. If that task belongs to a
    /// [`TaskGroup`](crate::TaskGroup), the handle submits to that group.
    pub fn current() -> Option<Executor> {
        worker::current_executor()
    }

    /// The pool that made `future`, if it still exists (a future does not keep its pool alive,
    /// as in the Python original's weak reference). `None` for futures made with `Future::new`.
    pub fn of<T>(future: &Future<T>) -> Option<Executor> {
        if let Some(pool) = future.executor_as(Pool::upgrade) {
            return Some(Executor {
                pool: pool?,
                group: None,
            });
        }
        let group = future.executor_as(Group::upgrade)??;
        Some(Executor {
            pool: group.pool.clone(),
            group: Some(group),
        })
    }

    /// Run `work` on a pool thread; returns the future of its result.
    ///
    /// A panic in `work` is caught and stored in the future ([`Error::Panicked`]); the thread lives
    /// on. Fails with [`SubmitError::Shutdown`] after [`shutdown`](Self::shutdown), or
    /// [`SubmitError::Broken`] if an initializer failed; the closure is then dropped unrun.
    #[track_caller]
    pub fn submit<F, T>(&self, work: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_at(work, SubmitSite::caller())
    }

    /// [`submit`](Self::submit), recording `site` as where it was submitted.
    pub(crate) fn submit_at<F, T>(
        &self,
        work: F,
        site: SubmitSite,
    ) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, future) = Task::from_closure_at(work, Some(self.scheduler()), site);
        self.submit_task(task)?;
        Ok(future)
    }

    /// Run `work` on a pool thread, fire-and-forget: no future is made, so nothing can wait for
    /// this one task, but [`join`](Self::join) and [`wait_idle`](Self::wait_idle) wait for it
    /// (and for everything it spawns in turn). `work` is given the pool's handle, to spawn or
    /// submit subtasks without cloning one; this is the cheapest way to run a tree of tasks.
    ///
    /// A panic in `work` is caught: the thread lives on, the panic hook reports it (on standard
    /// error, by default) and [`Stats::tasks_panicked`] counts it (with the `stats` feature).
    /// Fails as [`submit`](Self::submit) does; `work` is then dropped unrun.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use betterconcurrent_std::{Executor, ThreadPoolExecutor};
    ///
    /// /// Count the nodes of a tree of the given depth and fan-out, a task per node.
    /// fn visit(executor: &Executor, nodes: Arc<AtomicU64>, depth: u32) {
    ///     nodes.fetch_add(1, Ordering::Relaxed);
    ///     if depth > 0 {
    ///         for _ in 0..3 {
    ///             let nodes = nodes.clone();
    ///             executor
    ///                 .spawn(move |executor| visit(executor, nodes, depth - 1))
    ///                 .unwrap();
    ///         }
    ///     }
    /// }
    ///
    /// let pool = ThreadPoolExecutor::new();
    /// let nodes = Arc::new(AtomicU64::new(0));
    /// visit(&pool, nodes.clone(), 4);
    /// pool.join().unwrap();
    /// assert_eq!(nodes.load(Ordering::Relaxed), 1 + 3 + 9 + 27 + 81);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, work: F) -> Result<(), SubmitError>
    where
        F: FnOnce(&Executor) + Send + 'static,
    {
        let work = move || worker::with_current_executor(work);
        match &self.group {
            None => self.pool.submit(Task::detached(work)),
            // A group's detached task keeps the group's handle, as its other tasks do, so the
            // worker runs it in the group (and the handle given to `work` submits there).
            // SAFETY: the group's handle lives as long as the group, which holds itself while
            // it has work (`pool::group`): from this submit's count until the task ends.
            Some(group) => group.submit(unsafe { Task::detached_with(work, group.handle()) }),
        }
    }

    /// What this handle's tasks keep to find their executor: the group's, or the pool's.
    fn scheduler(&self) -> SchedulerHandle {
        match &self.group {
            Some(group) => group.scheduler(),
            None => self.pool.scheduler(),
        }
    }

    /// Submit a task made with [`scheduler`](Self::scheduler)'s handle.
    fn submit_task(&self, task: Task) -> Result<(), SubmitError> {
        match &self.group {
            Some(group) => group.submit(task),
            None => self.pool.submit(task),
        }
    }

    /// Run an `async` body on the pool; returns the future of its output.
    ///
    /// Inside the body, awaiting another future (`(&sub).await`, `sub.yield_until_done().await`,
    /// or `yield_until_done(&subs).await`) suspends the task *without holding a thread*: the
    /// worker runs other tasks, and the task is queued on this pool again when what it awaits
    /// completes. So tasks that wait for their own subtasks never deadlock, even on one thread.
    ///
    /// ```
    /// use betterconcurrent_std::{Executor, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
    /// let executor = pool.executor();
    /// let future = pool
    ///     .submit_async(async move {
    ///         let square = executor.submit(|| 5u32.pow(2)).unwrap();
    ///         *(&square).await.unwrap()
    ///     })
    ///     .unwrap();
    /// assert_eq!(*future.result().unwrap(), 25);
    /// ```
    #[track_caller]
    pub fn submit_async<F>(&self, body: F) -> Result<Future<F::Output>, SubmitError>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, future) = Task::from_async(body, self.scheduler());
        self.submit_task(task)?;
        Ok(future)
    }

    /// Apply `f` to every item on the pool; the iterator yields the results in input order (Python's
    /// `Executor.map`), with the default [`MapOptions`]: no timeout, and at most
    /// `2 * max_workers` tasks submitted ahead of the consumer, so an endless iterator works.
    ///
    /// Each item is `Ok(value)` or the error its task ended with; after the first error the
    /// remaining tasks are cancelled and the iterator ends.
    ///
    /// ```
    /// let pool = betterconcurrent_std::ThreadPoolExecutor::new();
    /// let squares: Vec<u64> = pool
    ///     .map(|n: u64| n * n, 1..)
    ///     .unwrap()
    ///     .take(5)
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(squares, [1, 4, 9, 16, 25]);
    /// ```
    #[track_caller]
    pub fn map<I, F, T>(&self, f: F, items: I) -> Result<Map<I::IntoIter, F, T>, SubmitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let options = MapOptions {
            buffersize: self
                .max_workers()
                .checked_mul(2)
                .and_then(std::num::NonZeroUsize::new),
            ..MapOptions::default()
        };
        self.map_with(f, items, options)
    }

    /// [`map`](Self::map) with explicit options: a timeout measured from this call, and the
    /// look-ahead (`buffersize`; `None` submits every item at once, as Python's default does).
    #[track_caller]
    pub fn map_with<I, F, T>(
        &self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Map<I::IntoIter, F, T>, SubmitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Map::start(self.clone(), f, items.into_iter(), options)
    }

    /// Block until every task, and every subtask tasks keep submitting, has finished (suspended
    /// tasks included), then shut the pool down and wait for its threads, as the Python
    /// original's `join()`.
    ///
    /// `join` converges on fire-and-forget work; [`shutdown`](Self::shutdown) stops it. Several
    /// threads may join at once, also while another shuts down; all return. Called from one of
    /// the pool's own tasks it returns [`Error::WouldDeadlock`] at once.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use betterconcurrent_std::{Executor, ThreadPoolExecutor};
    ///
    /// fn countdown(executor: Executor, counter: Arc<AtomicUsize>, n: u32) {
    ///     if n == 0 {
    ///         return;
    ///     }
    ///     counter.fetch_add(1, Ordering::SeqCst);
    ///     let next = executor.clone();
    ///     // Fire and forget: nobody looks at this future.
    ///     let _ = executor.submit(move || countdown(next, counter, n - 1));
    /// }
    ///
    /// let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
    /// let counter = Arc::new(AtomicUsize::new(0));
    /// countdown(pool.executor(), counter.clone(), 100);
    /// pool.join().unwrap();
    /// assert_eq!(counter.load(Ordering::SeqCst), 100);
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        self.pool.wait_idle_until(None)?;
        self.pool.shutdown(true, false);
        Ok(())
    }

    /// As [`join`](Self::join), but gives up with [`Error::Timeout`] after `timeout`; the pool is
    /// then left open and running.
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.pool.wait_idle_until(deadline_after(timeout))?;
        self.pool.shutdown(true, false);
        Ok(())
    }

    /// A snapshot of the pool's threads and tasks (see [`Stats`]): threads alive, idle,
    /// searching and compensating; tasks queued, running, suspended and outstanding; and, per
    /// worker and summed, tasks completed and panicked and steals (these event counters, and
    /// tasks running, read zero without the `stats` feature, which is on by default).
    ///
    /// ```
    /// # #[cfg(all(not(feature = "loom"), feature = "stats"))] {
    /// use betterconcurrent_std::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder().max_workers(2).build()?;
    /// for i in 0..100 {
    ///     drop(pool.submit(move || i * 2));
    /// }
    /// pool.wait_idle()?;
    /// let stats = pool.stats();
    /// assert_eq!(stats.tasks_completed, 100);
    /// assert_eq!(stats.tasks_outstanding, 0);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.pool.stats()
    }

    /// Every unfinished task the pool can name, and who waits on whom: a [`Dump`] of its async
    /// tasks that have suspended, their phases and the tasks each awaits, with the wait-for
    /// cycles among them; `Display` prints it as a tree. It does not stop the pool. (On a
    /// group's handle it lists the whole pool's tasks.)
    pub fn dump(&self) -> Dump {
        self.pool.dump()
    }

    /// Block until every task and subtask has finished, but keep the pool open for more work.
    pub fn wait_idle(&self) -> Result<(), Error> {
        self.pool.wait_idle_until(None)
    }

    /// As [`wait_idle`](Self::wait_idle), but gives up with [`Error::Timeout`] after `timeout`.
    pub fn wait_idle_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.pool.wait_idle_until(deadline_after(timeout))
    }

    /// Stop accepting work, as Python's `Executor.shutdown`. Safe to call more than once.
    ///
    /// - `cancel_futures`: cancel every task that has not started; its future ends cancelled.
    ///   Async tasks that started are ended too, at their `.await`: a suspended one is queued
    ///   and ended by the next worker to take it (even if what it awaits never completes), a
    ///   running one when its poll returns `Pending`;
    ///   their futures end cancelled and their bodies are dropped. Running closures finish.
    ///   Otherwise queued tasks still run, and suspended ones run to completion.
    /// - `wait`: return only when every accepted task has finished and every thread has exited.
    ///   Called from one of this pool's own threads, or from a destructor of work the pool is
    ///   ending unrun, it does not wait (a thread cannot wait for itself). On another pool's
    ///   thread the wait counts as blocked there, so that pool starts a spare thread if needed.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.shutdown(wait, cancel_futures);
    }

    /// The most threads this pool starts.
    pub fn max_workers(&self) -> usize {
        self.pool.max_workers()
    }

    /// How many threads this pool has started so far.
    pub fn thread_count(&self) -> usize {
        self.pool.thread_count()
    }
}

/// `futures`' spawner trait, so code written against it runs on the pool: each spawned future
/// is an async task ([`submit_async`](Executor::submit_async)), and a closed pool refuses it
/// with [`SpawnError::shutdown`](futures_task::SpawnError::shutdown). A `ThreadPoolExecutor`
/// reaches it through its handle (`pool.spawn_with_handle(..)` dereferences), so its own
/// [`spawn`](Executor::spawn) keeps its meaning with `SpawnExt` in scope.
///
/// ```
/// use betterconcurrent_std::ThreadPoolExecutor;
/// use futures::future::{join_all, FutureExt};
/// use futures::task::SpawnExt;
///
/// let pool = ThreadPoolExecutor::builder().max_workers(2).build().unwrap();
/// // The futures' combinators over tasks the pool runs.
/// let squares = (1..=4u64).map(|n| pool.spawn_with_handle(async move { n * n }).unwrap());
/// let total = join_all(squares).map(|squares| squares.into_iter().sum::<u64>());
/// assert_eq!(futures::executor::block_on(total), 30);
/// pool.shutdown(true, false);
/// assert!(futures::task::Spawn::status(&pool.executor()).is_err());
/// ```
#[cfg(feature = "futures")]
#[cfg_attr(docsrs, doc(cfg(feature = "futures")))]
impl futures_task::Spawn for Executor {
    #[track_caller]
    fn spawn_obj(
        &self,
        future: futures_task::FutureObj<'static, ()>,
    ) -> Result<(), futures_task::SpawnError> {
        match self.submit_async(future) {
            // Nobody waits for the future: the spawner's handle (if any) has the output.
            Ok(_future) => Ok(()),
            Err(_) => Err(futures_task::SpawnError::shutdown()),
        }
    }

    fn status(&self) -> Result<(), futures_task::SpawnError> {
        self.pool
            .accepts_work()
            .map_err(|_| futures_task::SpawnError::shutdown())
    }
}

/// A pool of OS threads running submitted closures and `async` bodies, as Python's
/// `concurrent.futures.ThreadPoolExecutor` (and the betterconcurrent original's cooperative
/// waits and `join`).
///
/// Threads start lazily, one per submit that finds no idle thread, up to `max_workers`, and are
/// reused. Every [`Executor`] method is available on the pool itself (it dereferences to its
/// handle). Dropping the pool is `shutdown(wait = true, cancel_futures = false)`, like leaving
/// Python's `with` block: queued work still runs, and every thread has exited when `drop` returns.
///
/// ```
/// use betterconcurrent_std::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::builder().max_workers(4).build().unwrap();
/// let futures: Vec<_> = (0..8u64).map(|n| pool.submit(move || n * n).unwrap()).collect();
/// let total: u64 = futures.iter().map(|f| *f.result().unwrap()).sum();
/// assert_eq!(total, 140);
/// ```
pub struct ThreadPoolExecutor {
    executor: Executor,
}

impl fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ThreadPoolExecutor")
            .field(&self.executor)
            .finish()
    }
}

impl Default for ThreadPoolExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadPoolExecutor {
    /// A pool with the default options (see [`Builder`]).
    pub fn new() -> Self {
        match Builder::default().build() {
            Ok(pool) => pool,
            Err(error) => unreachable!("the default options are valid: {error}"),
        }
    }

    /// A builder for a pool with chosen options.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn from_pool(pool: Arc<Pool>) -> Self {
        Self {
            executor: Executor { pool, group: None },
        }
    }

    /// A clonable handle to this pool, e.g. to move into tasks that submit subtasks.
    pub fn executor(&self) -> Executor {
        self.executor.clone()
    }
}

impl Deref for ThreadPoolExecutor {
    type Target = Executor;

    fn deref(&self) -> &Executor {
        &self.executor
    }
}

impl Drop for ThreadPoolExecutor {
    fn drop(&mut self) {
        self.executor.shutdown(true, false);
    }
}
