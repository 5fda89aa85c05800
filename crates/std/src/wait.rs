//! Waits over many futures, as in Python's `concurrent.futures`: blocking ([`wait`],
//! [`as_completed`]) and inside async tasks ([`wait_async`], [`as_completed_async`], a
//! `futures_core::Stream`; [`yield_until_done_timeout`]).
//!
//! All are built on [`Completions`]: one [`WaitDone`] per pending future, each polled once with a
//! waker that records the future's index in a shared ready list and wakes whoever waits on the
//! list: a task's waker, or for the blocking forms a waker that unparks the waiting thread. So a
//! completion costs O(1) to notice (no re-scan of every future), the work grows linearly with
//! the number of futures, and the blocking and async forms differ only in how they wait for the
//! list (parking, or returning `Pending`) and for the deadline (a timed park, or a
//! [`time::sleep`](crate::time::sleep)). Which futures satisfy a [`ReturnWhen`] is decided in
//! one place ([`Gathered`]). Dropping the waits removes their wakers from futures still pending.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;

use betterconcurrent_core::block_until_done;
use betterconcurrent_core::executor::{deadline_after, park_until, run_may_block};
use betterconcurrent_core::sync::blocking::thread::{self, Thread};
use betterconcurrent_core::sync::blocking::{lock, Mutex};
use betterconcurrent_core::sync::Arc;
use betterconcurrent_core::{Error, Future, WaitDone};

use crate::time::{self, Sleep};

/// When [`wait`] returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ReturnWhen {
    /// As soon as any future is done (finished or cancelled).
    FirstCompleted,
    /// As soon as any future finishes with an error (not a cancellation), or when all are done.
    FirstException,
    /// When every future is done.
    #[default]
    AllCompleted,
}

/// What [`wait`] returns: the futures that are done and those that are not, each distinct future
/// once (Python returns two sets).
pub struct Waited<T> {
    /// Done futures: first those already done when `wait` was called (in input order), then in
    /// completion order; for [`ReturnWhen::AllCompleted`], the rest in input order (it waits
    /// for each in turn, so the order they finished in is not recorded).
    pub done: Vec<Future<T>>,
    /// Futures still not done, in input order.
    pub not_done: Vec<Future<T>>,
}

/// `Debug` whatever `T` is, as a [`Future`]'s handle is.
impl<T> fmt::Debug for Waited<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waited")
            .field("done", &self.done)
            .field("not_done", &self.not_done)
            .finish()
    }
}

/// Distinct futures in input order; Python takes `set(fs)`, so a future listed twice counts once.
fn distinct<'a, T: 'a>(futures: impl IntoIterator<Item = &'a Future<T>>) -> Vec<Future<T>> {
    let mut seen = HashSet::new();
    futures
        .into_iter()
        .filter(|future| seen.insert(future.id()))
        .cloned()
        .collect()
}

/// The ready list shared by a [`Completions`] and its wakers.
#[derive(Default)]
struct ReadyList {
    /// Indices of futures whose completion woke us, in completion order.
    indices: VecDeque<usize>,
    /// Who to wake: the task or thread waiting now.
    waiter: Option<Waker>,
}

struct IndexWaker {
    ready: Arc<Mutex<ReadyList>>,
    index: usize,
}

impl Wake for IndexWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Taken, not cloned, under the lock (a foreign waker's clone is user code, which could
        // complete another watched future and re-enter this lock); woken after it. The waiter
        // registers again if its next poll finds nothing.
        let waiter = {
            let mut ready = lock(&self.ready);
            ready.indices.push_back(self.index);
            ready.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// The waker of a blocking wait: unparks the waiting thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Futures being watched for completion, reported one at a time in completion order.
struct Completions<T> {
    /// In input order; a reported one is moved out (`reported`), so an `as_completed` that
    /// yielded a future holds none of it (CPython's issue 14406).
    futures: Vec<Option<Future<T>>>,
    waits: Vec<Option<WaitDone<T>>>,
    ready: Arc<Mutex<ReadyList>>,
    remaining: usize,
    /// The blocking form's waker, made by its first wait and kept for the thread it unparks.
    unpark: Option<(thread::ThreadId, Waker)>,
}

impl<T> Completions<T> {
    /// Watch `futures` (pending ones; any that complete meanwhile are reported first). Its polls
    /// and parks run as a blocking wait's ([`run_may_block`]): on a pool thread they run no
    /// awaited task in place (a timed wait must not, and `FIRST_COMPLETED` must not wait for
    /// one task's run before seeing another's end).
    fn new(futures: Vec<Future<T>>) -> Self {
        run_may_block(|| Self::watch(futures))
    }

    fn watch(futures: Vec<Future<T>>) -> Self {
        let ready = Arc::new(Mutex::new(ReadyList::default()));
        let mut waits = Vec::with_capacity(futures.len());
        for (index, future) in futures.iter().enumerate() {
            let mut wait = future.yield_until_done();
            let waker = Waker::from(Arc::new(IndexWaker {
                ready: ready.clone(),
                index,
            }));
            if Pin::new(&mut wait)
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
            {
                waker.wake();
            }
            waits.push(Some(wait));
        }
        Self {
            remaining: futures.len(),
            futures: futures.into_iter().map(Some).collect(),
            waits,
            ready,
            unpark: None,
        }
    }

    /// The index of the next future to complete (`Ready(None)`: every future was reported);
    /// `Pending` after leaving `cx`'s waker to be woken by the next completion.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        // Cloned outside the lock: a foreign waker's clone is user code.
        let mut waker = None;
        loop {
            if let Some(index) = self.pop_ready() {
                return Poll::Ready(Some(index));
            }
            if self.remaining == 0 {
                return Poll::Ready(None);
            }
            let mut ready = lock(&self.ready);
            if !ready.indices.is_empty() {
                // Completed since `pop_ready` looked: report it instead of waiting.
                continue;
            }
            match waker.take() {
                Some(waker) => {
                    let replaced = ready.waiter.replace(waker);
                    drop(ready);
                    // A waker's drop is user code too: after the lock.
                    drop(replaced);
                    return Poll::Pending;
                }
                None if ready
                    .waiter
                    .as_ref()
                    .is_some_and(|waiter| waiter.will_wake(cx.waker())) =>
                {
                    return Poll::Pending;
                }
                None => {
                    drop(ready);
                    waker = Some(cx.waker().clone());
                }
            }
        }
    }

    /// Stop watching (a timed-out stream or iterator that is kept): every future's waker entry
    /// is removed and the waiter released, so nothing is held or woken until it is dropped.
    fn stop(&mut self) {
        for wait in &mut self.waits {
            drop(wait.take());
        }
        self.remaining = 0;
        // The futures it will not yield now: released too, so their results are freed with
        // their last handle elsewhere, not when this is dropped.
        let futures = std::mem::take(&mut self.futures);
        let waiter = lock(&self.ready).waiter.take();
        drop((waiter, futures));
    }

    /// The index of the next future to complete, blocking the thread; `None` if `deadline`
    /// passed first or every future was already reported.
    fn next_blocking(&mut self, deadline: Option<Instant>) -> Option<usize> {
        // A completion already in the list needs no waker (the common case of a long
        // `as_completed` over tasks that finish faster than it iterates).
        if let Some(index) = self.pop_ready() {
            return Some(index);
        }
        let current = thread::current();
        let waker = match &self.unpark {
            Some((thread, waker)) if *thread == current.id() => waker.clone(),
            _ => {
                let id = current.id();
                let waker = Waker::from(Arc::new(Unpark(current)));
                self.unpark = Some((id, waker.clone()));
                waker
            }
        };
        let mut cx = Context::from_waker(&waker);
        loop {
            match self.poll_next(&mut cx) {
                Poll::Ready(next) => return next,
                Poll::Pending => {
                    if !park_until(deadline) {
                        return None;
                    }
                }
            }
        }
    }

    /// The next completion already in the ready list, if any (registering nothing).
    fn pop_ready(&mut self) -> Option<usize> {
        while self.remaining > 0 {
            let index = lock(&self.ready).indices.pop_front()?;
            if self.waits[index].take().is_some() {
                self.remaining -= 1;
                return Some(index);
            }
        }
        None
    }

    /// The future `poll_next` or `next_blocking` just reported at `index`, moved out.
    fn reported(&mut self, index: usize) -> Future<T> {
        self.futures[index]
            .take()
            .expect("each future is reported once")
    }

    /// The futures not yet reported, in input order.
    fn unreported(&mut self) -> Vec<Future<T>> {
        self.futures
            .iter_mut()
            .zip(&self.waits)
            .filter(|(_, wait)| wait.is_some())
            .filter_map(|(future, _)| future.take())
            .collect()
    }
}

fn failed_with_exception<T>(future: &Future<T>) -> bool {
    matches!(future.try_result(), Some(Err(error)) if !matches!(error, Error::Cancelled))
}

/// What a [`wait`] has gathered so far, and the one place that decides when its
/// [`ReturnWhen`] is met (for the blocking and the async form alike).
struct Gathered<T> {
    return_when: ReturnWhen,
    done: Vec<Future<T>>,
    /// Whether a future in `done` failed with an exception (kept, so `FirstException` looks at
    /// each future once, not at all of them after every completion).
    failed: bool,
}

impl<T> Gathered<T> {
    /// Split `futures` (distinct, in input order) into those done now and those to watch.
    fn new<'a>(
        futures: impl IntoIterator<Item = &'a Future<T>>,
        return_when: ReturnWhen,
    ) -> (Self, Vec<Future<T>>)
    where
        T: 'a,
    {
        let (done, pending): (Vec<_>, Vec<_>) =
            distinct(futures).into_iter().partition(Future::done);
        let failed = done.iter().any(failed_with_exception);
        (
            Self {
                return_when,
                done,
                failed,
            },
            pending,
        )
    }

    /// A future reported done, in completion order (not for `AllCompleted`, whose `done` is in
    /// input order: see `finish`).
    fn push(&mut self, future: Future<T>) {
        self.failed |= failed_with_exception(&future);
        self.done.push(future);
    }

    /// Whether the wait is over with `pending` futures still not done.
    fn satisfied(&self, pending: usize) -> bool {
        pending == 0
            || match self.return_when {
                ReturnWhen::FirstCompleted => !self.done.is_empty(),
                ReturnWhen::FirstException => self.failed,
                ReturnWhen::AllCompleted => false,
            }
    }

    /// The result, with `rest` the futures not reported as done: those that completed while
    /// the wait was returning belong in `done`, as in Python's sets.
    fn finish(mut self, rest: Vec<Future<T>>) -> Waited<T> {
        let (late, not_done): (Vec<_>, Vec<_>) = rest.into_iter().partition(Future::done);
        self.done.extend(late);
        Waited {
            done: self.done,
            not_done,
        }
    }
}

/// Wait until the futures meet `return_when`, or `timeout` passes (`None`: no limit), as Python's
/// `concurrent.futures.wait`. Never fails: on timeout, the unfinished futures are in `not_done`.
/// It blocks the calling thread; inside an async task, [`wait_async`] waits without holding it.
///
/// ```
/// use betterconcurrent_std::{wait, ReturnWhen, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new();
/// let futures: Vec<_> = (0..4).map(|n| pool.submit(move || n).unwrap()).collect();
/// let waited = wait(&futures, None, ReturnWhen::AllCompleted);
/// assert_eq!(waited.done.len(), 4);
/// assert!(waited.not_done.is_empty());
/// ```
pub fn wait<'a, T: 'a>(
    futures: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> Waited<T> {
    let deadline = timeout.and_then(deadline_after);
    let (mut gathered, pending) = Gathered::new(futures, return_when);
    if gathered.satisfied(pending.len()) {
        return gathered.finish(pending);
    }
    if let ReturnWhen::AllCompleted = return_when {
        // Waiting for all is waiting for each in turn: the one blocking wait of the core, which
        // on a pool thread also runs an unstarted closure of that pool in place.
        let timeout = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        block_until_done(&pending, timeout);
        return gathered.finish(pending);
    }
    let mut completions = Completions::new(pending);
    while let Some(index) = completions.next_blocking(deadline) {
        gathered.push(completions.reported(index));
        if gathered.satisfied(completions.remaining) {
            break;
        }
    }
    gathered.finish(completions.unreported())
}

/// [`wait`] inside an async task: suspends the task, without holding its thread, until the
/// futures meet `return_when` or `timeout` passes (a [`time::sleep`], counted from this call).
/// The futures are cloned at the call, so the wait borrows nothing. Its polls never run an
/// awaited task in place (as a blocking wait's), so a slow first poll of one task cannot hide
/// another's end or the timeout.
///
/// ```
/// use betterconcurrent_std::{wait_async, Executor, ReturnWhen, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
/// let first = pool
///     .submit_async(async {
///         let executor = Executor::current().unwrap();
///         let (release, released) = std::sync::mpsc::channel::<()>();
///         let slow = executor.submit(move || released.recv().is_ok()).unwrap();
///         let fast = executor.submit(|| true).unwrap();
///         let waited = wait_async([&slow, &fast], None, ReturnWhen::FirstCompleted).await;
///         release.send(()).unwrap();
///         waited.done.len()
///     })
///     .unwrap();
/// assert_eq!(*first.result().unwrap(), 1);
/// ```
pub fn wait_async<'a, T: 'a>(
    futures: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> WaitAsync<T> {
    let (gathered, pending) = Gathered::new(futures, return_when);
    let watched = if gathered.satisfied(pending.len()) {
        Watched::Satisfied(pending)
    } else {
        Watched::Watching(Completions::new(pending))
    };
    WaitAsync {
        gathered: Some(gathered),
        watched,
        sleep: timeout.map(time::sleep),
    }
}

/// The future of [`wait_async`].
#[must_use = "a wait does nothing unless awaited"]
pub struct WaitAsync<T> {
    /// `None` once it returned.
    gathered: Option<Gathered<T>>,
    watched: Watched<T>,
    sleep: Option<Sleep>,
}

/// What a [`WaitAsync`] waits on.
enum Watched<T> {
    /// Met at the call: these are the futures not done then.
    Satisfied(Vec<Future<T>>),
    Watching(Completions<T>),
}

impl<T> std::future::Future for WaitAsync<T> {
    type Output = Waited<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Waited<T>> {
        let this = self.get_mut();
        let gathered = this
            .gathered
            .as_mut()
            .expect("a WaitAsync polled after it returned");
        let rest = match &mut this.watched {
            Watched::Satisfied(pending) => std::mem::take(pending),
            Watched::Watching(completions) => {
                loop {
                    match completions.poll_next(cx) {
                        Poll::Ready(Some(index)) => {
                            if gathered.return_when != ReturnWhen::AllCompleted {
                                gathered.push(completions.reported(index));
                            }
                            if gathered.satisfied(completions.remaining) {
                                break;
                            }
                        }
                        Poll::Ready(None) => break,
                        Poll::Pending => match poll_deadline(&mut this.sleep, cx) {
                            Poll::Ready(()) => break,
                            Poll::Pending => return Poll::Pending,
                        },
                    }
                }
                match gathered.return_when {
                    // In input order, as the blocking form's.
                    ReturnWhen::AllCompleted => completions
                        .futures
                        .iter_mut()
                        .filter_map(Option::take)
                        .collect(),
                    _ => completions.unreported(),
                }
            }
        };
        this.sleep = None;
        let gathered = this.gathered.take().expect("checked above");
        Poll::Ready(gathered.finish(rest))
    }
}

impl<T> fmt::Debug for WaitAsync<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = match &self.watched {
            Watched::Satisfied(_) => 0,
            Watched::Watching(completions) => completions.remaining,
        };
        f.debug_struct("WaitAsync")
            .field("returned", &self.gathered.is_none())
            .field("pending", &pending)
            .finish()
    }
}

/// `Ready` once the optional deadline's sleep is; `Pending` without one.
fn poll_deadline(sleep: &mut Option<Sleep>, cx: &mut Context<'_>) -> Poll<()> {
    match sleep {
        Some(sleep) => Pin::new(sleep).poll(cx),
        None => Poll::Pending,
    }
}

/// [`yield_until_done`](crate::yield_until_done) with a timeout (`None`: no limit): inside an
/// async task, wait without holding the thread until every future is done; true if all are,
/// false if `timeout` (counted from this call) passed first. The async counterpart of
/// [`block_until_done`](crate::block_until_done): [`wait_async`] with `AllCompleted`.
pub fn yield_until_done_timeout<'a, T: 'a>(
    futures: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
) -> AllDone<T> {
    AllDone(wait_async(futures, timeout, ReturnWhen::AllCompleted))
}

/// The future of [`yield_until_done_timeout`]: true if every future is done.
#[must_use = "a wait does nothing unless awaited"]
pub struct AllDone<T>(WaitAsync<T>);

impl<T> fmt::Debug for AllDone<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AllDone").field(&self.0).finish()
    }
}

impl<T> std::future::Future for AllDone<T> {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|waited| waited.not_done.is_empty())
    }
}

/// An iterator over futures as they complete, as Python's `concurrent.futures.as_completed`.
///
/// Yields each distinct future once: first those already done (in input order), then the rest in
/// completion order, cancelled ones included. If `timeout` passes first, it yields one
/// `Err(Error::Timeout)` and ends. It keeps no future it has yielded, so a result the caller
/// drops is freed at once, not when the iterator ends. It blocks the calling thread; inside an async task,
/// [`as_completed_async`] is the same as a `Stream`.
///
/// ```
/// use betterconcurrent_std::{as_completed, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new();
/// let futures: Vec<_> = (0..4).map(|n| pool.submit(move || n * 10).unwrap()).collect();
/// let mut total = 0;
/// for future in as_completed(&futures, None) {
///     total += future.unwrap().result().unwrap();
/// }
/// assert_eq!(total, 60);
/// ```
pub fn as_completed<'a, T: 'a>(
    futures: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
) -> AsCompleted<T> {
    let deadline = timeout.and_then(deadline_after);
    let (done, pending): (Vec<_>, Vec<_>) = distinct(futures).into_iter().partition(Future::done);
    AsCompleted {
        done: done.into(),
        completions: Completions::new(pending),
        deadline,
        timed_out: false,
    }
}

/// The iterator of [`as_completed`].
#[must_use = "as_completed reports the futures only as it is iterated"]
pub struct AsCompleted<T> {
    done: VecDeque<Future<T>>,
    completions: Completions<T>,
    deadline: Option<Instant>,
    timed_out: bool,
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Result<Future<T>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(future) = self.done.pop_front() {
            return Some(Ok(future));
        }
        if self.timed_out || self.completions.remaining == 0 {
            return None;
        }
        match self.completions.next_blocking(self.deadline) {
            Some(index) => Some(Ok(self.completions.reported(index))),
            None => {
                self.timed_out = true;
                self.completions.stop();
                Some(Err(Error::Timeout))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        left_to_yield(self.done.len() + self.completions.remaining, self.timed_out)
    }
}

/// The bounds of what is left to yield, the one timeout error included.
fn left_to_yield(left: usize, timed_out: bool) -> (usize, Option<usize>) {
    if timed_out {
        return (0, Some(0));
    }
    (0, Some(left + usize::from(left > 0)))
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("ready", &self.done.len())
            .field("pending", &self.completions.remaining)
            .field("timed_out", &self.timed_out)
            .finish()
    }
}

/// [`as_completed`] inside an async task: a `futures_core::Stream` of the futures in
/// completion order, cooperatively (the task suspends between them without holding its
/// thread). Yields the same items: each distinct future once, those already done first, then
/// one `Err(Error::Timeout)` and the end if `timeout` passes first (a [`time::sleep`]).
///
/// ```
/// use betterconcurrent_std::{as_completed_async, Executor, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
/// let total = pool
///     .submit_async(async {
///         let executor = Executor::current().unwrap();
///         let futures: Vec<_> = (1..=4).map(|n| executor.submit(move || n * 10).unwrap()).collect();
///         let mut completions = as_completed_async(&futures, None);
///         let mut total = 0;
///         while let Some(future) = std::future::poll_fn(|cx| {
///             futures_core::Stream::poll_next(std::pin::Pin::new(&mut completions), cx)
///         })
///         .await
///         {
///             total += future.unwrap().try_result().unwrap().unwrap();
///         }
///         total
///     })
///     .unwrap();
/// assert_eq!(*total.result().unwrap(), 100);
/// ```
pub fn as_completed_async<'a, T: 'a>(
    futures: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
) -> AsCompletedStream<T> {
    let (done, pending): (Vec<_>, Vec<_>) = distinct(futures).into_iter().partition(Future::done);
    AsCompletedStream {
        done: done.into(),
        completions: Completions::new(pending),
        sleep: timeout.map(time::sleep),
        timed_out: false,
    }
}

/// The stream of [`as_completed_async`].
#[must_use = "a stream does nothing unless polled"]
pub struct AsCompletedStream<T> {
    done: VecDeque<Future<T>>,
    completions: Completions<T>,
    sleep: Option<Sleep>,
    timed_out: bool,
}

impl<T> Stream for AsCompletedStream<T> {
    type Item = Result<Future<T>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(future) = this.done.pop_front() {
            return Poll::Ready(Some(Ok(future)));
        }
        if this.timed_out {
            return Poll::Ready(None);
        }
        match this.completions.poll_next(cx) {
            Poll::Ready(Some(index)) => Poll::Ready(Some(Ok(this.completions.reported(index)))),
            Poll::Ready(None) => {
                // Ended: its deadline's sleep must not wake the consumer later.
                this.sleep = None;
                Poll::Ready(None)
            }
            Poll::Pending => poll_deadline(&mut this.sleep, cx).map(|()| {
                this.timed_out = true;
                this.sleep = None;
                this.completions.stop();
                Some(Err(Error::Timeout))
            }),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        left_to_yield(self.done.len() + self.completions.remaining, self.timed_out)
    }
}

impl<T> fmt::Debug for AsCompletedStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompletedStream")
            .field("ready", &self.done.len())
            .field("pending", &self.completions.remaining)
            .field("timed_out", &self.timed_out)
            .finish()
    }
}
