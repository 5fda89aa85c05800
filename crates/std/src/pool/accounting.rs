//! Work accounting: how many tasks a pool has accepted and not yet ended, which is what `join`,
//! `wait_idle` and the workers' exit wait on.
//!
//! # Protocol
//!
//! - `outstanding` counts tasks accepted and not yet ended (queued, running or suspended), plus
//!   the workers' *prepaid shares*. A submit counts its task *before* it checks `closing` and
//!   enqueues ([`Accounting::count_one`], [`Accounting::count_from_share`]); a task is counted
//!   ended after its future is complete and its callbacks have run ([`Accounting::end`],
//!   [`Accounting::end_on_share`]). So `outstanding == 0` means every task has ended.
//! - Prepaid shares keep that one shared counter off the per-task path of a pool's own tasks
//!   (on two cores, a read-modify-write of a line the other core just wrote costs more than
//!   running a tiny task). Each worker keeps a share of `outstanding`, counted there but not yet
//!   used, in its [`PrepaidShare`] (written only by that worker). A submit from the worker takes
//!   one unit of the share (adding [`PREPAY`] to `outstanding` when it is empty); a task the
//!   worker ends adds one unit back instead of decrementing; the share is given back (one
//!   `fetch_sub`) whenever it passes [`MAX_PREPAID`], and in full ([`Accounting::return_share`])
//!   before the worker looks for work in vain, parks in a blocking wait, or exits. Shares never
//!   make the count low, only late to fall, and a worker cannot idle while holding one, so the
//!   count still reaches zero once the tasks are done. Spare and outside threads count directly.
//! - A count taken directly is followed by a SeqCst fence, which pairs with the fence after
//!   `closing` is stored (the lifecycle's side, before the workers' exit check loads
//!   `outstanding`): a submit racing `shutdown` is either refused or seen by every worker that
//!   decides whether to exit. A submit from a worker needs no fence: its task lands in that
//!   worker's own queue, which it empties before it can exit.
//! - Waiting for zero: a waiter counts itself ([`Accounting::begin_wait`], SeqCst, then a
//!   fence) before it loads `outstanding`; [`Accounting::end`] decrements (SeqCst) and, when it
//!   reaches zero, fences before its caller loads the waiter count ([`Accounting::has_waiters`])
//!   to decide whether to wake the waiters. So either the waiter sees zero or the one that
//!   reached it sees the waiter. (The waking itself is the pool's `Waiters`, see `lifecycle`.)
//!
//! Nothing here knows about the pool: a group of tasks can keep an `Accounting` of its own and
//! count each of its tasks in both.

use betterconcurrent_core::sync::{fence, AtomicUsize, Ordering};

/// Units of `outstanding` a worker prepays when its share is used up (see the module docs).
pub(crate) const PREPAY: usize = 32;

/// A worker's prepaid share beyond this is given back, down to `PREPAY`.
pub(crate) const MAX_PREPAID: usize = 2 * PREPAY;

/// Tasks accepted and not yet ended, and the threads waiting for that to reach zero.
#[derive(Debug, Default)]
pub(crate) struct Accounting {
    outstanding: AtomicUsize,
    /// Threads waiting for `outstanding` to reach zero, so that reaching it wakes them.
    waiters: AtomicUsize,
}

/// A worker's prepaid share of `outstanding` (see the module docs), or, for the record spare
/// and outside threads share, none (`exclusive == false`: they count directly).
#[derive(Debug)]
pub(crate) struct PrepaidShare {
    exclusive: bool,
    /// Written only by the share's own worker; read by `stats()` to report the true count.
    units: AtomicUsize,
}

impl PrepaidShare {
    /// A worker's own share (`exclusive`), or the shared record's empty one.
    pub(crate) fn new(exclusive: bool) -> Self {
        Self {
            exclusive,
            units: AtomicUsize::new(0),
        }
    }

    /// Whether this is a worker's own share (not the shared record's empty one).
    #[inline]
    pub(crate) fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Units counted in `outstanding` and not yet used.
    #[inline]
    pub(crate) fn units(&self) -> usize {
        self.units.load(Ordering::Relaxed)
    }

    #[inline]
    fn set(&self, units: usize) {
        debug_assert!(self.exclusive, "only a worker's own share holds units");
        self.units.store(units, Ordering::Relaxed);
    }
}

impl Accounting {
    /// Count a task submitted by a thread without a share of its own, then fence (module docs).
    #[inline]
    pub(crate) fn count_one(&self) {
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// As [`count_one`](Accounting::count_one); true if nothing was outstanding before (a group
    /// becomes busy then, see `group`).
    #[inline]
    pub(crate) fn count_first(&self) -> bool {
        let first = self.outstanding.fetch_add(1, Ordering::SeqCst) == 0;
        fence(Ordering::SeqCst);
        first
    }

    /// Count a task submitted by the worker that owns `share`, from its share if it has one
    /// (prepaying `PREPAY` more first if it is used up): `Some(first)`, where `first` says
    /// nothing was outstanding before (see [`count_first`](Accounting::count_first)); `None`
    /// if `share` is not exclusive and the caller must count directly instead.
    #[inline]
    pub(crate) fn count_from_share(&self, share: &PrepaidShare) -> Option<bool> {
        if !share.exclusive {
            return None;
        }
        match share.units() {
            0 => {
                let first = self.outstanding.fetch_add(PREPAY, Ordering::SeqCst) == 0;
                share.set(PREPAY - 1);
                Some(first)
            }
            units => {
                share.set(units - 1);
                Some(false)
            }
        }
    }

    /// A task the thread owning `share` ran has ended: its unit goes back to the share (given
    /// back beyond `PREPAY` once it passes `MAX_PREPAID`); without an exclusive share it is
    /// counted ended directly. True if `outstanding` reached zero.
    #[must_use = "reaching zero must wake whoever waits for it"]
    #[inline]
    pub(crate) fn end_on_share(&self, share: &PrepaidShare) -> bool {
        if !share.exclusive {
            return self.end(1);
        }
        let units = share.units() + 1;
        if units > MAX_PREPAID {
            share.set(PREPAY);
            self.end(units - PREPAY)
        } else {
            share.set(units);
            false
        }
    }

    /// Give back the whole of `share`: its worker is about to look for work in vain, park, or
    /// exit, and no one may wait for units nobody will use. True if `outstanding` reached zero.
    #[must_use = "reaching zero must wake whoever waits for it"]
    #[inline]
    pub(crate) fn return_share(&self, share: &PrepaidShare) -> bool {
        if !share.exclusive {
            return false;
        }
        match share.units() {
            0 => false,
            units => {
                share.set(0);
                self.end(units)
            }
        }
    }

    /// `ended` units are done (tasks, or a returned share). True if that was the last: then a
    /// fence has been issued, so the caller's loads of `closing` and of the waiter count see
    /// every waiter that did not see zero (module docs).
    #[must_use = "reaching zero must wake whoever waits for it"]
    #[inline]
    pub(crate) fn end(&self, ended: usize) -> bool {
        let reached_zero = self.outstanding.fetch_sub(ended, Ordering::SeqCst) == ended;
        if reached_zero {
            fence(Ordering::SeqCst);
        }
        reached_zero
    }

    /// Whether every accepted task has ended (and no share is held).
    #[inline]
    pub(crate) fn is_zero(&self) -> bool {
        self.outstanding.load(Ordering::SeqCst) == 0
    }

    /// A thread starts waiting for zero; it then loads `outstanding` (module docs).
    pub(crate) fn begin_wait(&self) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The waiter of [`begin_wait`](Accounting::begin_wait) stopped waiting.
    pub(crate) fn end_wait(&self) {
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a thread waits for zero (loaded after [`end`](Accounting::end) reached it).
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) > 0
    }

    /// `outstanding` less the shares: the tasks alone, for `stats()`. `shares` sums the
    /// workers' shares as they are now.
    ///
    /// The shares are read one by one while workers move units between them and the counter,
    /// so the count is re-read around them until it held still (a few tries at most): a worker
    /// that gave its share back or refilled it in between is then seen before or after both
    /// steps. What remains can only count high (a share that changed on one side of the steady
    /// counter), or be off by the few tasks submitted and ended during the reads.
    pub(crate) fn tasks(&self, shares: impl Fn() -> usize) -> usize {
        let mut before = self.outstanding.load(Ordering::Acquire);
        for _ in 0..4 {
            let prepaid = shares();
            let after = self.outstanding.load(Ordering::Acquire);
            if after == before {
                return after.saturating_sub(prepaid);
            }
            before = after;
        }
        // Still moving: the counter alone never counts low.
        before
    }
}
