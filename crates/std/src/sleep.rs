//! Where idle workers sleep, and the protocol that makes sure no new task is left in a queue while
//! every worker sleeps (no missed wake-up), without waking more workers than there is work for
//! (no thundering herd) or paying a wake-up per submitted task.
//!
//! # States of a worker
//!
//! - *running*: executing tasks; finds its next one without touching this module.
//! - *searching* (counted in `searching`): found no task and is looking (spinning over the
//!   queues, see `worker.rs`), or was just woken to look. A submitter that sees a searcher does
//!   not wake anyone: the searcher will find the task.
//! - *sleeping* (counted in `sleepers` and, under the lock, `waiting`): waiting on the condvar.
//!
//! # Protocol
//!
//! A searching worker that gives up (`sleep_until`):
//! 1. locks `state`, counts itself in `sleepers` (SeqCst), leaves `searching` (SeqCst), then
//!    issues a SeqCst fence;
//! 2. checks the queues again (and whether it should exit); if there is work it leaves as a
//!    searcher again;
//! 3. otherwise waits on the condvar, which releases the lock atomically.
//!
//! A thread that made a task available (`notify_one`):
//! 1. pushes the task, then issues a SeqCst fence;
//! 2. loads `searching`: if a worker is searching, it is done;
//! 3. loads `sleepers`: if one sleeps, it locks `state` and, unless every sleeper already has a
//!    wake-up coming (`wakeups == waiting`), issues one: counts the woken worker as searching
//!    right away (so the next submitters do not wake another for the same work) and notifies.
//!
//! Why nothing is missed: the fences order "push" before "load searching / sleepers" on one side
//! and "count in sleepers, leave searching" before "check the queues" on the other. If the
//! submitter's loads did not see the worker's count in `sleepers` or its leaving `searching`,
//! the worker's fence comes after the submitter's in their total order, so the worker's re-check
//! sees the task. If the submitter saw the sleeper, it takes the lock, which the worker holds from
//! step 1 until it is inside the condvar wait, so the notification cannot fall between the
//! re-check and the wait. A searcher that stops searching because it found a task, and was the
//! last searcher, wakes another worker if tasks are still queued (`worker.rs`), so work queued
//! while it searched does not wait for it.
//!
//! # Wake-up tokens
//!
//! `wakeups` counts notifications issued and not yet taken; each token already counted one worker
//! in `searching`. A waiter that leaves (woken, found work on its re-check, or exiting) takes a
//! token if there is one, so `wakeups <= waiting` always holds and `searching` never keeps a count
//! for a worker that is not searching; a waiter woken without a token (spuriously, or the condvar
//! picked it while another waiter took the token) re-checks and waits again if there is nothing.

use betterconcurrent_core::sync::blocking::{lock, wait, Condvar, Mutex, MutexGuard};
use betterconcurrent_core::sync::{fence, AtomicUsize, Ordering};

/// The sleeping place of one pool's idle workers.
#[derive(Debug)]
pub(crate) struct Sleep {
    state: Mutex<Sleepers>,
    condvar: Condvar,
    /// Workers between step 1 and leaving their wait (`Sleepers::waiting`, readable without the
    /// lock).
    sleepers: AtomicUsize,
    /// Workers searching for work, including woken ones that have not run yet.
    searching: AtomicUsize,
}

#[derive(Debug, Default)]
struct Sleepers {
    /// Workers waiting on the condvar (or about to).
    waiting: usize,
    /// Notifications issued and not yet taken by a leaving waiter.
    wakeups: usize,
}

/// What a worker's re-check under the lock decided.
pub(crate) enum Recheck {
    /// There is something to do: go back to work.
    Work,
    /// The pool is closing and nothing is outstanding: exit the thread.
    Exit,
    /// Nothing yet: sleep.
    Sleep,
    /// A spare thread is no longer needed and has already been taken off the thread counts:
    /// exit. (`sleep_until` treats it as `Exit`; the caller learns it from its own closure.)
    Retire,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(Sleepers::default()),
            condvar: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sleepers> {
        lock(&self.state)
    }

    /// A running worker found no task and starts searching.
    pub(crate) fn start_searching(&self) {
        self.searching.fetch_add(1, Ordering::SeqCst);
    }

    /// How many workers are asleep (or about to be).
    pub(crate) fn sleeping(&self) -> usize {
        self.sleepers.load(Ordering::Relaxed)
    }

    /// How many workers are searching.
    pub(crate) fn searching(&self) -> usize {
        self.searching.load(Ordering::Relaxed)
    }

    /// A searching worker found a task. True if it was the last searcher: then the caller wakes
    /// another worker if tasks are still queued (module docs).
    #[must_use]
    pub(crate) fn stop_searching(&self) -> bool {
        self.searching.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// A searching worker sleeps until `recheck` says there is work or the worker should exit
    /// (steps 1-3 above). Returns `true` for work (the worker is searching again), `false` for
    /// exit (it is not).
    pub(crate) fn sleep_until(&self, mut recheck: impl FnMut() -> Recheck) -> bool {
        let mut state = self.lock();
        state.waiting += 1;
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        self.searching.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let mut woken = false;
        let work = loop {
            if woken && state.wakeups > 0 {
                // Woken with a token: it counted us searching already; go and look.
                break true;
            }
            match recheck() {
                Recheck::Work => break true,
                Recheck::Exit | Recheck::Retire => break false,
                Recheck::Sleep => {
                    state = wait(&self.condvar, state);
                    woken = true;
                }
            }
        };
        // Leave: take a token if there is one (its count in `searching` becomes ours), so
        // `wakeups <= waiting` keeps holding.
        let had_token = state.wakeups > 0;
        if had_token {
            state.wakeups -= 1;
        }
        state.waiting -= 1;
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        match (work, had_token) {
            (true, false) => {
                self.searching.fetch_add(1, Ordering::SeqCst);
            }
            (false, true) => {
                self.searching.fetch_sub(1, Ordering::SeqCst);
            }
            (true, true) | (false, false) => {}
        }
        drop(state);
        work
    }

    /// Wake one sleeping worker, if no worker is searching already, after a task was made
    /// available (submitter's steps).
    pub(crate) fn notify_one(&self) {
        fence(Ordering::SeqCst);
        if self.searching.load(Ordering::SeqCst) > 0 || self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut state = self.lock();
        if state.wakeups < state.waiting {
            state.wakeups += 1;
            self.searching.fetch_add(1, Ordering::SeqCst);
            drop(state);
            // Outside the lock, so the woken worker does not wake only to wait for it. Every
            // worker counted in `waiting` was inside `wait` while we held the lock, so the
            // notification reaches one of them (or one left already and took the token).
            self.condvar.notify_one();
        }
    }

    /// Wake every sleeping worker, e.g. so they see that the pool closed.
    pub(crate) fn notify_all(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut state = self.lock();
        let new_tokens = state.waiting - state.wakeups;
        state.wakeups = state.waiting;
        self.searching.fetch_add(new_tokens, Ordering::SeqCst);
        drop(state);
        self.condvar.notify_all();
    }
}
