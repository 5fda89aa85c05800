//! The mix BENCHMARKS.md counts instructions on (valgrind's callgrind, repeatable where timing is
//! not on this machine): 20,000 spawns, 20,000 submits and an async fib(16) on two workers.
//! `cargo bench --bench instructions --no-run`, then
//! `valgrind --tool=callgrind target/release/deps/instructions-<hash>`; run plainly it checks
//! its results and exits.
use betterconcurrent::{Executor, Future, ThreadPoolExecutor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn fib(executor: Executor, n: u64) -> Future<u64> {
    let inner = executor.clone();
    executor
        .submit_async(async move {
            if n < 2 {
                return n;
            }
            let a = fib(inner.clone(), n - 1);
            let b = fib(inner, n - 2);
            *(&a).await.unwrap() + *(&b).await.unwrap()
        })
        .unwrap()
}

fn main() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let count = Arc::new(AtomicU64::new(0));
    for _ in 0..20_000 {
        let count = count.clone();
        pool.spawn(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    pool.wait_idle().unwrap();
    let futures: Vec<_> = (0..20_000u64)
        .map(|i| pool.submit(move || i).unwrap())
        .collect();
    let sum: u64 = futures.iter().map(|f| *f.result().unwrap()).sum();
    let f = fib(pool.executor(), 16);
    assert_eq!(*f.result().unwrap(), 987);
    assert_eq!(sum, 20_000 * 19_999 / 2);
    assert_eq!(count.load(Ordering::Relaxed), 20_000);
}
