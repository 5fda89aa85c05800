//! Blocking waits over many futures: [`wait`] and [`as_completed`], as in Python's
//! `concurrent.futures`.
//!
//! Both are built on [`Completions`]: one [`WaitDone`] per pending future, each polled once with a
//! waker that records the future's index in a shared ready list and unparks the waiting thread. So a
//! completion costs O(1) to notice (no re-scan of every future), and the work grows linearly with
//! the number of futures. Dropping the waits removes their wakers from futures still pending.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use betterconcurrent_core::block_until_done;
use betterconcurrent_core::executor::{deadline_after, park_until, run_may_block};
use betterconcurrent_core::sync::blocking::thread::{self, Thread};
use betterconcurrent_core::sync::blocking::{lock, Mutex};
use betterconcurrent_core::sync::Arc;
use betterconcurrent_core::{Error, Future, WaitDone};

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
#[derive(Debug)]
pub struct Waited<T> {
    /// Done futures: first those already done when `wait` was called (in input order), then in
    /// completion order.
    pub done: Vec<Future<T>>,
    /// Futures still not done, in input order.
    pub not_done: Vec<Future<T>>,
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
    /// The thread to unpark; set by whoever is waiting now.
    waiter: Option<Thread>,
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
        let waiter = {
            let mut ready = lock(&self.ready);
            ready.indices.push_back(self.index);
            ready.waiter.clone()
        };
        if let Some(thread) = waiter {
            thread.unpark();
        }
    }
}

/// Futures being watched for completion, reported one at a time in completion order.
struct Completions<T> {
    futures: Vec<Future<T>>,
    waits: Vec<Option<WaitDone<T>>>,
    ready: Arc<Mutex<ReadyList>>,
    remaining: usize,
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
            futures,
            waits,
            ready,
        }
    }

    /// The index of the next future to complete, or `None` if `deadline` passed first or every
    /// future was already reported.
    fn next(&mut self, deadline: Option<Instant>) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            let index = {
                let mut ready = lock(&self.ready);
                let index = ready.indices.pop_front();
                if index.is_none() {
                    ready.waiter = Some(thread::current());
                }
                index
            };
            match index {
                // Each waker fires once, on completion; `take` guards against reporting twice.
                Some(index) if self.waits[index].take().is_some() => {
                    self.remaining -= 1;
                    return Some(index);
                }
                Some(_) => {}
                None => {
                    if !park_until(deadline) {
                        return None;
                    }
                }
            }
        }
    }

    /// The futures not yet reported, in input order.
    fn unreported(&self) -> Vec<Future<T>> {
        self.futures
            .iter()
            .zip(&self.waits)
            .filter(|(_, wait)| wait.is_some())
            .map(|(future, _)| future.clone())
            .collect()
    }
}

fn failed_with_exception<T>(future: &Future<T>) -> bool {
    matches!(future.try_result(), Some(Err(error)) if !matches!(error, Error::Cancelled))
}

/// Wait until the futures meet `return_when`, or `timeout` passes (`None`: no limit), as Python's
/// `concurrent.futures.wait`. Never fails: on timeout, the unfinished futures are in `not_done`.
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
    let (mut done, pending): (Vec<_>, Vec<_>) =
        distinct(futures).into_iter().partition(Future::done);
    let satisfied = |done: &[Future<T>], pending: usize| {
        pending == 0
            || match return_when {
                ReturnWhen::FirstCompleted => !done.is_empty(),
                ReturnWhen::FirstException => done.iter().any(failed_with_exception),
                ReturnWhen::AllCompleted => false,
            }
    };
    if satisfied(&done, pending.len()) {
        return Waited {
            done,
            not_done: pending,
        };
    }
    if let ReturnWhen::AllCompleted = return_when {
        // Waiting for all is waiting for each in turn: the one blocking wait of the core, which
        // on a pool thread also runs an unstarted closure of that pool in place.
        let timeout = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        block_until_done(&pending, timeout);
        let (late, not_done): (Vec<_>, Vec<_>) = pending.into_iter().partition(Future::done);
        done.extend(late);
        return Waited { done, not_done };
    }
    let mut completions = Completions::new(pending);
    while let Some(index) = completions.next(deadline) {
        done.push(completions.futures[index].clone());
        if satisfied(&done, completions.remaining) {
            break;
        }
    }
    // Futures that completed while we were returning belong in `done`, as in Python's sets.
    let (late, not_done): (Vec<_>, Vec<_>) =
        completions.unreported().into_iter().partition(Future::done);
    done.extend(late);
    Waited { done, not_done }
}

/// An iterator over futures as they complete, as Python's `concurrent.futures.as_completed`.
///
/// Yields each distinct future once: first those already done (in input order), then the rest in
/// completion order, cancelled ones included. If `timeout` passes first, it yields one
/// `Err(Error::Timeout)` and ends.
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
        match self.completions.next(self.deadline) {
            Some(index) => Some(Ok(self.completions.futures[index].clone())),
            None => {
                self.timed_out = true;
                Some(Err(Error::Timeout))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.done.len() + self.completions.remaining;
        (0, Some(left + usize::from(left > 0)))
    }
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
