//! Review of scopes: stack use of nested scopes on one worker. Since b459560 a scope's wait on
//! a worker runs the scope's queued tasks in place, up to 64 nested scopes per thread, so a
//! recursion through scopes now stacks up to 64 levels of user frames on one worker's stack
//! (before, each level ran on a thread of its own). With 32 KiB of locals per level that is
//! more than a worker's default 2 MiB stack.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};

use betterconcurrent::Executor;

#[inline(never)]
fn level(executor: &Executor, depth: usize, visits: &AtomicUsize) {
    // A level's own working memory, as a recursive divide-and-conquer keeps.
    let mut scratch = [0u8; 32 * 1024];
    scratch[depth % scratch.len()] = depth as u8;
    std::hint::black_box(&mut scratch);
    visits.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        return;
    }
    executor.scope(|scope| {
        scope
            .spawn(move |_| level(&Executor::current().unwrap(), depth - 1, visits))
            .unwrap();
    });
    std::hint::black_box(&scratch);
}

#[test]
fn eighty_nested_scopes_with_32_kib_of_locals_per_level_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let visits = AtomicUsize::new(0);
        level(&pool.executor(), 80, &visits);
        assert_eq!(visits.into_inner(), 81);
    });
}
