//! Review of work-first: stack use. In-place runs nest until half of the thread's stack is
//! used; these chains put large locals in every level (in the async poll, in closure children,
//! in blocking in-place runs below them) and must complete on one worker without overflowing.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use betterconcurrent::{Executor, Future};
use common::pool;
use common::watchdog::within;

#[inline(never)]
fn burn(kib: usize, seed: u64) -> u64 {
    // Stack working memory of `kib` KiB, touched so it is really used.
    let mut scratch = vec_on_stack::<{ 16 * 1024 }>();
    let rounds = kib / 16;
    let mut acc = seed;
    for r in 0..rounds.max(1) {
        scratch[r % scratch.len()] = acc as u8;
        acc = acc.wrapping_add(std::hint::black_box(&scratch)[(r * 7) % scratch.len()] as u64);
    }
    if rounds > 1 {
        acc.wrapping_add(burn(kib - 16, acc))
    } else {
        acc
    }
}

#[inline(always)]
fn vec_on_stack<const N: usize>() -> [u8; N] {
    [0u8; N]
}

/// A chain whose every level keeps `kib` KiB of stack locals in its poll around the await.
fn chain(executor: Executor, n: u32, kib: usize) -> Future<u32> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if n == 0 {
                return 0;
            }
            // Not held across the await (so not in the state machine), but used in this poll.
            let before = burn(kib, n as u64);
            std::hint::black_box(before);
            let next = chain(executor, n - 1, kib);
            (&next).await.unwrap() + 1
        })
        .unwrap()
}

#[test]
fn a_deep_chain_with_big_poll_locals_on_one_worker_does_not_overflow() {
    within(120, || {
        let pool = pool(1);
        assert_eq!(*chain(pool.executor(), 3_000, 64).result().unwrap(), 3_000);
        pool.join().unwrap();
    });
}

/// As `chain`, but each level also awaits a closure child that itself uses `leaf_kib` KiB.
fn chain_with_leaves(executor: Executor, n: u32, leaf_kib: usize) -> Future<u64> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if n == 0 {
                return 0;
            }
            let next = chain_with_leaves(executor.clone(), n - 1, leaf_kib);
            let below = *(&next).await.unwrap();
            let leaf = executor
                .submit(move || {
                    std::hint::black_box(burn(leaf_kib, n as u64));
                    1u64
                })
                .unwrap();
            below + *(&leaf).await.unwrap()
        })
        .unwrap()
}

#[test]
fn closure_leaves_with_256_kib_of_stack_under_a_deep_chain_do_not_overflow() {
    within(120, || {
        let pool = pool(1);
        assert_eq!(
            *chain_with_leaves(pool.executor(), 2_000, 256)
                .result()
                .unwrap(),
            2_000
        );
        pool.join().unwrap();
    });
}

/// Blocking `result()` nested `levels` deep inside closures (each run in place by the blocking
/// wait), each level with `kib` KiB of locals.
fn nested_blocking(executor: &Executor, levels: u32, kib: usize, count: &Arc<AtomicUsize>) -> u32 {
    count.fetch_add(1, Ordering::SeqCst);
    std::hint::black_box(burn(kib, levels as u64));
    if levels == 0 {
        return 0;
    }
    let (ex, c) = (executor.clone(), count.clone());
    let f = executor
        .submit(move || nested_blocking(&ex, levels - 1, kib, &c))
        .unwrap();
    *f.result().unwrap() + 1
}

#[test]
fn nested_blocking_waits_at_the_bottom_of_a_deep_chain_do_not_overflow() {
    within(120, || {
        let pool = pool(1);
        let count = Arc::new(AtomicUsize::new(0));
        fn chain_then_block(executor: Executor, n: u32, count: Arc<AtomicUsize>) -> Future<u32> {
            let spawner = executor.clone();
            spawner
                .submit_async(async move {
                    if n == 0 {
                        // 8 nested in-place blocking runs of 48 KiB each: 384 KiB.
                        return nested_blocking(&executor, 8, 48, &count);
                    }
                    let next = chain_then_block(executor, n - 1, count);
                    (&next).await.unwrap() + 1
                })
                .unwrap()
        }
        // Deep enough that the bottom is at the in-place budget.
        let root = chain_then_block(pool.executor(), 20_000, count.clone());
        assert_eq!(*root.result().unwrap(), 20_000 + 8);
        assert_eq!(count.load(Ordering::SeqCst), 9);
        pool.join().unwrap();
    });
}
