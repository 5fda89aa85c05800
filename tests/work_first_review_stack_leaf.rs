//! Review of work-first: a task that needs a little more than half of a worker's stack.
//! Without work-first every task starts at the bottom of a worker's stack (2 MiB by default),
//! so a closure needing ~1.1 MiB runs fine. With work-first an awaited child runs on top of its
//! in-place ancestors, which may already fill up to half of the stack (the budget is checked
//! only before the claim, not against what the child needs): the child overflows the stack and
//! the whole process aborts. Kept in a file of its own, since an overflow kills the test binary.
#![cfg(not(feature = "loom"))]

mod common;

use betterconcurrent::{Executor, Future};
use common::pool;
use common::watchdog::within;

#[inline(never)]
fn burn_kib(kib: usize, seed: u64) -> u64 {
    let mut scratch = [0u8; 16 * 1024];
    scratch[(seed as usize) % scratch.len()] = seed as u8;
    let acc = std::hint::black_box(&mut scratch)[(seed as usize * 7) % 16384] as u64 + seed;
    if kib > 16 {
        acc.wrapping_add(burn_kib(kib - 16, acc))
    } else {
        acc
    }
}

/// Sanity check: the leaf alone runs on a worker.
#[test]
fn a_closure_using_1100_kib_of_stack_runs_on_a_worker() {
    within(60, || {
        let pool = pool(1);
        let f = pool.submit(|| burn_kib(1100, 1) > 0).unwrap();
        assert!(*f.result().unwrap());
        // And awaited by a single async parent (in place, one level deep).
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let leaf = executor.submit(|| burn_kib(1100, 2) > 0).unwrap();
                *(&leaf).await.unwrap()
            })
            .unwrap();
        assert!(*parent.result().unwrap());
        pool.join().unwrap();
    });
}

/// A chain of async tasks; every level first awaits a closure leaf that uses `leaf_kib` KiB of
/// stack, then its next level.
fn chain(executor: Executor, n: u32, leaf_kib: usize) -> Future<u32> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if n == 0 {
                return 0;
            }
            let leaf = executor
                .submit(move || burn_kib(leaf_kib, n as u64) > 0)
                .unwrap();
            assert!(*(&leaf).await.unwrap());
            let next = chain(executor, n - 1, leaf_kib);
            (&next).await.unwrap() + 1
        })
        .unwrap()
}

#[test]
fn closure_leaves_using_1100_kib_of_stack_under_a_chain_of_awaits_do_not_overflow() {
    within(60, || {
        let pool = pool(1);
        assert_eq!(
            *chain(pool.executor(), 2_000, 1100).result().unwrap(),
            2_000
        );
        pool.join().unwrap();
    });
}
