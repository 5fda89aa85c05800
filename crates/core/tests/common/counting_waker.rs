//! A waker that counts its wakes, so a test sees exactly when (and how often) a waiter was
//! woken. Shared by the core's tests, the facade's future tests and loom models, and the fuzz
//! harness (`crates/testkit`), each including this file by path. The counter comes from the
//! core's `sync` shim, so under loom it is a loom atomic and loom orders it too.
#![allow(dead_code)] // each includer uses its own part

use std::sync::Arc;
use std::task::{Wake, Waker};

use betterconcurrent_core::sync::{AtomicUsize, Ordering};

/// See the module docs.
pub struct CountingWaker(AtomicUsize);

impl CountingWaker {
    /// A counter at zero and a waker that bumps it.
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    /// Times woken so far.
    pub fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
