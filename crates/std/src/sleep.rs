//! Where idle workers sleep, and the protocol that makes sure no new task is left in a queue while
//! every worker sleeps (no missed wake-up).
//!
//! # Protocol
//!
//! A worker that found no task:
//! 1. locks `lock`, increments `sleepers` (SeqCst), then issues a SeqCst fence;
//! 2. checks the queues again (and whether it should exit); if there is work it decrements
//!    `sleepers` and goes back to work;
//! 3. otherwise waits on the condvar, which releases `lock` atomically.
//!
//! A thread that made a task available:
//! 1. pushes the task, then issues a SeqCst fence;
//! 2. loads `sleepers`; if it is non-zero, locks `lock` and notifies one waiter.
//!
//! Why nothing is missed: the two fences order the push and the increment. If the submitter's load
//! saw `sleepers == 0`, the worker's increment comes after the submitter's fence, so the worker's
//! re-check in step 2 (after its own fence) sees the pushed task. If the load saw a sleeper, the
//! submitter takes `lock`, which the worker holds from step 1 until it is inside the condvar wait,
//! so the notification cannot fall between the worker's re-check and its wait. A woken worker
//! re-checks the queues; a spurious or surplus wake-up only costs a re-check.

use betterconcurrent_core::sync::blocking::{Condvar, Mutex};
use betterconcurrent_core::sync::{fence, AtomicUsize, Ordering};

/// The sleeping place of one pool's idle workers.
#[derive(Debug)]
pub(crate) struct Sleep {
    lock: Mutex<()>,
    condvar: Condvar,
    /// Workers between step 1 and leaving their wait.
    sleepers: AtomicUsize,
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
            lock: Mutex::new(()),
            condvar: Condvar::new(),
            sleepers: AtomicUsize::new(0),
        }
    }

    /// Sleep until `recheck` says there is work or the worker should exit (steps 1-3 above).
    /// Returns `true` for work, `false` for exit.
    pub(crate) fn sleep_until(&self, mut recheck: impl FnMut() -> Recheck) -> bool {
        let mut guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let work = loop {
            match recheck() {
                Recheck::Work => break true,
                Recheck::Exit | Recheck::Retire => break false,
                Recheck::Sleep => {
                    guard = self
                        .condvar
                        .wait(guard)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        work
    }

    /// Wake one sleeping worker, if any, after a task was made available (submitter's steps).
    pub(crate) fn notify_one(&self) {
        self.notify(false);
    }

    /// Wake every sleeping worker, e.g. so they see that the pool closed.
    pub(crate) fn notify_all(&self) {
        self.notify(true);
    }

    fn notify(&self, all: bool) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self
                .lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if all {
                self.condvar.notify_all();
            } else {
                self.condvar.notify_one();
            }
        }
    }
}
