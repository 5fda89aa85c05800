//! Review of scopes: nesting deeper than the spare-thread cap on a 1-worker pool. Found hanging
//! at review commit a5cdfa9 (each nested scope's wait blocked its thread, so past
//! `MAX_SPARE_THREADS` levels no thread was left for the innermost task); a scope's wait on a
//! worker now runs its own queued tasks first (while nested scopes use less than half its
//! stack). The second test nests deeper than the spare-thread cap plus 84 levels.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};

use betterconcurrent::{Executor, MAX_SPARE_THREADS};

fn nest(executor: &Executor, depth: usize, visits: &AtomicUsize) {
    visits.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        return;
    }
    executor.scope(|scope| {
        scope
            .spawn(move |_| nest(&Executor::current().unwrap(), depth - 1, visits))
            .unwrap();
    });
}

#[test]
fn scopes_nested_past_the_spare_thread_cap_on_one_worker_converge() {
    within(60, || {
        let pool = pool(1);
        let visits = AtomicUsize::new(0);
        let depth = MAX_SPARE_THREADS + 10;
        nest(&pool.executor(), depth, &visits);
        assert_eq!(visits.into_inner(), depth + 1);
    });
}

#[test]
fn scopes_nested_past_in_place_runs_plus_the_spare_cap_on_one_worker_converge() {
    within(60, || {
        let pool = pool(1);
        let visits = AtomicUsize::new(0);
        let depth = 64 + MAX_SPARE_THREADS + 20;
        nest(&pool.executor(), depth, &visits);
        assert_eq!(visits.into_inner(), depth + 1);
    });
}
