//! A ledger of captured values for tests of scoped work: how many were made, how many dropped,
//! and how many dropped after the scope returned (a soundness bug: they may borrow what is
//! gone).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts the values it made and their drops, and the drops that came after `scope` returned.
#[derive(Default)]
pub struct Ledger {
    pub made: AtomicUsize,
    pub dropped: AtomicUsize,
    pub dropped_late: AtomicUsize,
    pub scope_returned: AtomicBool,
}

impl Ledger {
    pub fn new() -> Arc<Ledger> {
        Arc::default()
    }

    pub fn make(self: &Arc<Self>) -> Tracked {
        self.made.fetch_add(1, Ordering::SeqCst);
        Tracked(self.clone())
    }

    /// Call right after `scope` returned (or unwound).
    pub fn returned(&self) {
        self.scope_returned.store(true, Ordering::SeqCst);
    }

    pub fn assert_all_dropped_in_time(&self) {
        assert_eq!(
            self.dropped_late.load(Ordering::SeqCst),
            0,
            "a captured value was dropped after `scope` returned"
        );
        assert_eq!(
            self.dropped.load(Ordering::SeqCst),
            self.made.load(Ordering::SeqCst),
            "every captured value dropped exactly once"
        );
    }
}

/// A captured value counted in its ledger.
pub struct Tracked(Arc<Ledger>);

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.0.scope_returned.load(Ordering::SeqCst) {
            self.0.dropped_late.fetch_add(1, Ordering::SeqCst);
        }
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}
