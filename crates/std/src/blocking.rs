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
use std::cell::Cell;
use std::time::Instant;

use betterconcurrent_core::executor::{park_plain, BlockingHook};
use betterconcurrent_core::sync::Arc;

use crate::pool::Pool;

/// How deep in-place runs may nest on one thread before waits fall back to compensation.
pub const MAX_RUN_HERE_DEPTH: usize = 16;

/// The [`BlockingHook`] installed on every pool thread.
pub(crate) struct PoolThreadHook {
    pool: Arc<Pool>,
    depth: Cell<usize>,
    /// The worker's may-block mark from before the outermost in-place run (which, being a
    /// closure, may block outside the pool's view: see `worker`).
    outer_may_block: Cell<bool>,
}

impl PoolThreadHook {
    pub(crate) fn new(pool: Arc<Pool>) -> Self {
        Self {
            pool,
            depth: Cell::new(0),
            outer_may_block: Cell::new(false),
        }
    }
}

impl BlockingHook for PoolThreadHook {
    fn begin_run_here(&self, scheduler: &dyn Any) -> bool {
        let own_pool = std::ptr::addr_eq(scheduler, Arc::as_ptr(&self.pool));
        if own_pool && self.depth.get() < MAX_RUN_HERE_DEPTH && self.pool.may_run_work() {
            let may_block = crate::worker::set_may_block(&self.pool, true);
            if self.depth.get() == 0 {
                self.outer_may_block.set(may_block);
            }
            self.depth.set(self.depth.get() + 1);
            true
        } else {
            false
        }
    }

    fn end_run_here(&self) {
        self.depth.set(self.depth.get() - 1);
        if self.depth.get() == 0 {
            crate::worker::set_may_block(&self.pool, self.outer_may_block.get());
        }
    }

    fn mark_may_block(&self, may_block: bool) -> bool {
        crate::worker::set_may_block(&self.pool, may_block)
    }

    fn park(&self, deadline: Option<Instant>) -> bool {
        // A task in this worker's LIFO slot must not wait for the wait to end (it may be what
        // the wait is for): make it stealable first.
        crate::worker::flush_lifo(&self.pool);
        // Nor may its prepaid share of the pool's count wait for it (see `pool`).
        crate::worker::with_own_record(&self.pool, |record| self.pool.return_share(record));
        self.pool.thread_blocked();
        let in_time = park_plain(deadline);
        self.pool.thread_unblocked();
        in_time
    }
}
