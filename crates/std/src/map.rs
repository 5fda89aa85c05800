//! [`Map`]: the iterator behind `Executor::map`, with Python's timeout (measured from the
//! call) and Python 3.14's bounded look-ahead (`buffersize`).
//!
//! The look-ahead never holds more than `buffersize` tasks: a result is taken out of the window
//! *before* the next item is submitted (CPython issue 131466 was submitting first, one too many).

use std::collections::VecDeque;
use std::fmt;
use std::iter::Fuse;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use betterconcurrent_core::executor::deadline_after;
use betterconcurrent_core::sync::Arc;
use betterconcurrent_core::{Error, Future, SubmitError, SubmitSite};

use crate::executor::Executor;

/// Options of [`Executor::map_with`](crate::Executor::map_with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapOptions {
    /// Give up waiting this long after the `map` call: the item being waited for is
    /// `Err(Error::Timeout)` and the iterator ends, cancelling what has not started.
    pub timeout: Option<Duration>,
    /// Submit at most this many items ahead of the consumer. `None` submits every item during the
    /// call, as Python's default (never use `None` with an endless iterator).
    pub buffersize: Option<NonZeroUsize>,
}

/// The iterator of results of [`Executor::map`](crate::Executor::map), in
/// input order. Dropping it cancels the tasks that have not started, so Python's habit of
/// calling `executor.map(f, items)` for its effects is a warning here:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// # fn main() -> Result<(), betterconcurrent_std::SubmitError> {
/// let pool = betterconcurrent_std::ThreadPoolExecutor::new();
/// pool.map(|n: u64| println!("{n}"), 0..100)?; // dropping a Map cancels the calls not started
/// # Ok(())
/// # }
/// ```
///
/// Iterate it instead (`for result in pool.map(f, items)? { .. }`, or `.count()`).
#[must_use = "dropping a Map cancels the calls it has not started: iterate it to run them all"]
pub struct Map<I: Iterator, F, T> {
    executor: Executor,
    f: Arc<F>,
    items: Fuse<I>,
    /// Submitted tasks in input order; an `Err` holds the place of an item that could not be
    /// submitted (the pool shut down meanwhile).
    window: VecDeque<Result<Future<T>, SubmitError>>,
    buffersize: Option<NonZeroUsize>,
    deadline: Option<Instant>,
    exhausted: bool,
    /// Where `map` was called: the site of every task it submits.
    site: SubmitSite,
}

impl<I, F, T> Map<I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    #[track_caller]
    pub(crate) fn start(
        executor: Executor,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Self, SubmitError> {
        let mut map = Map {
            executor,
            f: Arc::new(f),
            items: items.fuse(),
            window: VecDeque::new(),
            buffersize: options.buffersize,
            deadline: options.timeout.and_then(deadline_after),
            exhausted: false,
            site: SubmitSite::caller(),
        };
        let limit = options.buffersize.map_or(usize::MAX, NonZeroUsize::get);
        while map.window.len() < limit {
            match map.items.next() {
                Some(item) => {
                    let future = map.submit(item)?;
                    map.window.push_back(Ok(future));
                }
                None => break,
            }
        }
        Ok(map)
    }

    fn submit(&self, item: I::Item) -> Result<Future<T>, SubmitError> {
        let f = self.f.clone();
        self.executor.submit_at(move || f(item), self.site)
    }
}

impl<I: Iterator, F, T> Map<I, F, T> {
    /// Stop: cancel every task in the window that has not started.
    fn stop(&mut self) {
        self.exhausted = true;
        for future in self.window.drain(..).flatten() {
            future.cancel();
        }
    }
}

impl<I, F, T> Iterator for Map<I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.exhausted {
            return None;
        }
        let Some(head) = self.window.pop_front() else {
            self.exhausted = true;
            return None;
        };
        let outcome = match head {
            Err(error) => Err(Error::from(error)),
            Ok(future) => {
                let outcome = match self.deadline {
                    None => future.result(),
                    Some(deadline) => {
                        future.result_timeout(deadline.saturating_duration_since(Instant::now()))
                    }
                };
                match outcome {
                    // Done, and this is its only handle: the value moves out, never cloned.
                    Ok(_) => match future.into_outcome() {
                        Ok(outcome) => outcome,
                        Err(_) => unreachable!("only this Map holds its tasks' futures"),
                    },
                    Err(error) => {
                        // A timed-out task is cancelled if it has not started, as Python does.
                        future.cancel();
                        Err(error)
                    }
                }
            }
        };
        if outcome.is_err() {
            self.stop();
            return Some(outcome);
        }
        // The result left the window; only now may the next item enter it.
        if self.buffersize.is_some() {
            if let Some(item) = self.items.next() {
                let next = self.submit(item);
                self.window.push_back(next);
            }
        }
        Some(outcome)
    }
}

impl<I: Iterator, F, T> Drop for Map<I, F, T> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<I: Iterator, F, T> fmt::Debug for Map<I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.window.len())
            .field("buffersize", &self.buffersize)
            .field("deadline", &self.deadline)
            .field("exhausted", &self.exhausted)
            .finish()
    }
}
