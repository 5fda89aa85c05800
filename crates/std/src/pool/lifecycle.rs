//! A pool's lifecycle (open, closing, cancelling its queue, broken) and the waiters for it to
//! converge or stop.
//!
//! # Protocol
//!
//! - `closing` is set by `shutdown` or when the pool breaks, and never unset. It is stored
//!   SeqCst and followed by a fence (in the sleep module's `notify_all`) before the workers'
//!   exit check loads the accounting's `outstanding`, which pairs with the fence after a direct
//!   count (see `accounting`): a task accepted concurrently with `shutdown` is either refused or
//!   counted before any worker decides to exit. Workers exit when `closing` and nothing is
//!   outstanding.
//! - `cancel_queued` (`shutdown(cancel_futures = true)`) and `broken` (a failed initializer, or
//!   no thread could start) both mean queued work is ended unrun: cancelled, or failed with
//!   [`Error::BrokenExecutor`](betterconcurrent_core::Error::BrokenExecutor). Checked before
//!   running a queued task and before running one in place.
//! - Waiting: `wait_idle`, `join` and `shutdown(wait = true)` wait through a future polled by
//!   the core's blocking wait (so on another pool's thread the wait goes through that pool's
//!   blocking hook and is compensated like any blocking wait). A waiter checks its condition and
//!   registers its waker under the [`Waiters`] lock; every change that can end a wait (a thread
//!   exits or retires; the last outstanding unit of a closing or waited-on pool ends) happens
//!   before its maker takes that lock to wake them. So a waiter that saw the old value
//!   registered before the waker took the list.

use std::task::{Context, Poll, Waker};

use betterconcurrent_core::sync::blocking::{lock, Mutex};
use betterconcurrent_core::sync::{Arc, AtomicBool, Ordering};
use betterconcurrent_core::SubmitError;

/// Whether the pool takes work and runs what is queued (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    closing: AtomicBool,
    /// `shutdown(cancel_futures = true)` was called: queued tasks are cancelled, not run.
    cancel_queued: AtomicBool,
    broken: Mutex<Option<Arc<str>>>,
}

impl Lifecycle {
    /// Stop accepting work; with `cancel_queued`, queued work is also ended unrun from now on.
    pub(crate) fn close(&self, cancel_queued: bool) {
        if cancel_queued {
            self.cancel_queued.store(true, Ordering::SeqCst);
        }
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Break the pool for `reason` (the first reason stays) and close it; true if this call
    /// broke it, so the break is reported once.
    pub(crate) fn break_for(&self, reason: String) -> bool {
        let first = {
            let mut broken = lock(&self.broken);
            let first = broken.is_none();
            if first {
                *broken = Some(reason.into());
            }
            first
        };
        self.closing.store(true, Ordering::SeqCst);
        first
    }

    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Why the pool broke, if it did.
    pub(crate) fn broken_reason(&self) -> Option<Arc<str>> {
        lock(&self.broken).clone()
    }

    /// Why a submit is refused now that the pool is closing.
    pub(crate) fn submit_error(&self) -> SubmitError {
        match self.broken_reason() {
            Some(reason) => SubmitError::Broken(reason),
            None => SubmitError::Shutdown,
        }
    }

    /// True once `shutdown(cancel_futures = true)` was called: a task that suspends from now on
    /// is aborted (see `registry`).
    #[inline]
    pub(crate) fn is_cancelling(&self) -> bool {
        self.cancel_queued.load(Ordering::Acquire)
    }

    /// False once queued work must be ended unrun (see the module docs).
    #[inline]
    pub(crate) fn may_run_work(&self) -> bool {
        !(self.closing.load(Ordering::Acquire)
            && (self.cancel_queued.load(Ordering::Acquire) || self.broken_reason().is_some()))
    }
}

/// One wait on a [`Waiters`] list, as a wait future keeps it: polled, it registers its waker
/// unless the condition holds; a wait dropped unfinished calls [`Waiter::leave`], so waits that
/// time out leave nothing behind.
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    /// The waker it registered, while it may still be in the list.
    registered: Option<Waker>,
}

impl Waiter {
    /// `Ready` once `reached()` holds (see [`Waiters::poll_until`]).
    pub(crate) fn poll(
        &mut self,
        waiters: &Waiters,
        cx: &Context<'_>,
        reached: impl FnOnce() -> bool,
    ) -> Poll<()> {
        let polled = waiters.poll_until(cx, reached);
        self.registered = match polled {
            Poll::Ready(()) => None,
            Poll::Pending => Some(cx.waker().clone()),
        };
        polled
    }

    /// Stop waiting: remove the waker this wait registered, if it is still listed.
    pub(crate) fn leave(&mut self, waiters: &Waiters) {
        if let Some(waker) = self.registered.take() {
            waiters.remove(&waker);
        }
    }
}

/// The wakers of the threads and tasks waiting for the pool (or a group) to converge or stop
/// (see the module docs' last point).
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    /// `Ready` if `reached()` holds, checked with the list locked; otherwise `cx`'s waker is
    /// registered (once per waiting thread or task). A wait that gives up removes it
    /// ([`Waiters::remove`]), so waits that time out leave nothing behind.
    pub(crate) fn poll_until(&self, cx: &Context<'_>, reached: impl FnOnce() -> bool) -> Poll<()> {
        let mut wakers = lock(&self.wakers);
        if reached() {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|waiter| waiter.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// A waiter whose waker is `waker` stopped waiting: forget its entry (if a wake took it
    /// already, there is nothing to forget).
    pub(crate) fn remove(&self, waker: &Waker) {
        let removed = {
            let mut wakers = lock(&self.wakers);
            wakers
                .iter()
                .position(|waiter| waiter.will_wake(waker))
                .map(|index| wakers.swap_remove(index))
        };
        // A waker's drop is not ours to run under the lock.
        drop(removed);
    }

    /// Wake every waiter: something that can end a wait has changed (before this call).
    pub(crate) fn wake_all(&self) {
        let wakers = std::mem::take(&mut *lock(&self.wakers));
        for waker in wakers {
            waker.wake();
        }
    }
}
