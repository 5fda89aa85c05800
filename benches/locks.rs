//! The futures' lock under oversubscription (issue 13, point 6): 64 threads on this machine's 2
//! cores relay a token through a chain of futures, each thread waiting (blocking `result()`) on
//! the two futures before its own and then completing its own, so every future has two waiters
//! registering while its completer takes the lock. A spin lock's holder preempted in its
//! critical section would have its waiters spin through their time slices; a parking lock's
//! unlock costs a read-modify-write. Run it with each lock, back to back:
//!
//! ```text
//! cargo bench --bench locks                            # spin (the default)
//! cargo bench --bench locks --features parking-lock    # std's parking mutex
//! ```
#![cfg_attr(feature = "loom", allow(unused))]

use std::time::{Duration, Instant};

use betterconcurrent::Future;
use criterion::{criterion_group, criterion_main, Criterion};

/// Threads relaying the token.
const THREADS: usize = 64;
/// Futures in the chain: each thread completes this many divided by `THREADS`.
const STEPS: usize = THREADS * 8;

/// One relay through a fresh chain; the time from the threads' start to the last completion.
fn relay() -> Duration {
    let chain: Vec<Future<()>> = (0..STEPS).map(|_| Future::new()).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for first in 0..THREADS {
            let chain = &chain;
            scope.spawn(move || {
                for step in (first..STEPS).step_by(THREADS) {
                    if step >= 2 {
                        chain[step - 2].result().unwrap();
                    }
                    if step >= 1 {
                        chain[step - 1].result().unwrap();
                    }
                    chain[step].set_result(()).unwrap();
                }
            });
        }
    });
    assert!(chain.iter().all(Future::done));
    started.elapsed()
}

fn locks(c: &mut Criterion) {
    let lock = if cfg!(feature = "parking-lock") {
        "parking"
    } else {
        "spin"
    };
    let mut group = c.benchmark_group("locks_oversubscribed");
    group.sample_size(20);
    group.bench_function(lock, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| relay()).sum())
    });
    group.finish();
}

#[cfg(not(feature = "loom"))]
criterion_group!(benches, locks);
#[cfg(not(feature = "loom"))]
criterion_main!(benches);

#[cfg(feature = "loom")]
fn main() {}
