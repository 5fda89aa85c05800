//! What a pool thread does when user code blocks on it (`result()`, `wait`, `as_completed`, ...),
//! so that blocking on the pool's own work cannot deadlock the pool.
//!
//! Two measures, in this order (see ARCHITECTURE.md for why both):
//! 1. **Run it here.** A wait for a closure of this same pool that no thread has started runs
//!    that closure in place ([`Future::run_here`](betterconcurrent_core::Future::run_here)), as
//!    Java's ForkJoinPool runs an unstarted joined task. Only the awaited task itself is run, never
//!    an unrelated queued one, so a lock the waiter holds cannot be re-entered by a stranger
//!    (rayon issue 592); and nesting is capped at [`MAX_RUN_HERE_DEPTH`], so it cannot overflow
//!    the stack (rayon issues 854, 1064).
//! 2. **Compensate.** Otherwise the thread parks; if every live pool thread is now parked in a
//!    wait, a spare thread is started (up to `MAX_SPARE_THREADS`) to run the queue. Spares retire
//!    once no thread is blocked. At the cap the wait simply blocks, and the pool reports it once
//!    on standard error, never silently.

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use betterconcurrent_core::executor::{park_plain, thread_waker_id, BlockingHook};
use betterconcurrent_core::sync::Arc;

use crate::dump::RunningSlot;
use crate::pool::{Group, Pool};
use crate::worker::InGroup;

/// How deep in-place runs may nest on one thread before waits fall back to compensation.
pub const MAX_RUN_HERE_DEPTH: usize = 16;

/// The [`BlockingHook`] installed on every pool thread.
pub(crate) struct PoolThreadHook {
    pool: Arc<Pool>,
    depth: Cell<usize>,
    /// The worker's may-block mark from before the outermost in-place run (which, being a
    /// closure, may block outside the pool's view: see `worker`).
    outer_may_block: Cell<bool>,
    /// The thread's group handles from before each in-place run (a closure runs in its own
    /// group, or in none), put back when the run ends.
    outer_groups: RefCell<Vec<Option<Rc<InGroup>>>>,
    /// The thread's name, for the dump's list of blocked threads (read at its first park).
    name: OnceCell<Arc<str>>,
    /// What the thread runs, for the dump's entry of a blocked thread.
    running: Arc<RunningSlot>,
}

impl PoolThreadHook {
    pub(crate) fn new(pool: Arc<Pool>, running: Arc<RunningSlot>) -> Self {
        Self {
            pool,
            depth: Cell::new(0),
            outer_may_block: Cell::new(false),
            outer_groups: RefCell::new(Vec::new()),
            name: OnceCell::new(),
            running,
        }
    }
}

impl BlockingHook for PoolThreadHook {
    fn begin_run_here(&self, scheduler: &dyn Any) -> bool {
        // A closure of this pool, or of one of its groups (not cancelled: its worker will end
        // it unrun).
        let group = scheduler.downcast_ref::<Group>();
        let ours = match group {
            Some(group) => Arc::ptr_eq(&group.pool, &self.pool) && !group.is_cancelled(),
            None => std::ptr::addr_eq(scheduler, Arc::as_ptr(&self.pool)),
        };
        if ours && self.depth.get() < MAX_RUN_HERE_DEPTH && self.pool.may_run_work() {
            let may_block = crate::worker::set_may_block(&self.pool, true);
            if self.depth.get() == 0 {
                self.outer_may_block.set(may_block);
            }
            self.depth.set(self.depth.get() + 1);
            let in_group = group.map(|group| InGroup::new(group, false));
            let outer = crate::worker::swap_group(in_group);
            self.outer_groups.borrow_mut().push(outer);
            true
        } else {
            false
        }
    }

    fn end_run_here(&self) {
        let outer = self.outer_groups.borrow_mut().pop().flatten();
        // The run's group handle may be its group's last: dropped after the borrow.
        drop(crate::worker::swap_group(outer));
        self.depth.set(self.depth.get() - 1);
        if self.depth.get() == 0 {
            crate::worker::set_may_block(&self.pool, self.outer_may_block.get());
        }
    }

    fn mark_may_block(&self, may_block: bool) -> bool {
        crate::worker::set_may_block(&self.pool, may_block)
    }

    fn run_awaited(&self, future: usize) -> bool {
        crate::worker::run_awaited_here(&self.pool, future)
    }

    fn park(&self, deadline: Option<Instant>) -> bool {
        // Its prepaid shares of the counts must not wait for the wait to end (see `pool`):
        // the group's first, as when the worker idles.
        crate::worker::return_group_share();
        crate::worker::with_own_record(&self.pool, |record| self.pool.return_share(record));
        // Nor may a task in this worker's LIFO slot (it may be what the wait is for, or a task
        // woken just now by a count reaching zero): make it stealable, after the shares.
        crate::worker::flush_lifo(&self.pool);
        // Listed for the dump while parked (a cold path: the thread is about to sleep).
        let name = self
            .name
            .get_or_init(|| std::thread::current().name().unwrap_or("unnamed").into())
            .clone();
        let _listed = self
            .pool
            .blocked
            .enter(thread_waker_id(), name, self.running.read());
        self.pool.thread_blocked();
        let in_time = park_plain(deadline);
        self.pool.thread_unblocked();
        in_time
    }
}
