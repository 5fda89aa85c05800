//! A guard that counts its drops, moved into a closure to see that the closure was dropped
//! exactly once, run or not. Shared by the core's task-cell tests and the facade's `spawn`
//! tests (included by path).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Adds one to its counter when dropped.
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
