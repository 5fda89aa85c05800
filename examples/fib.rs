//! Recursive fan-out with cooperative waits: `fib(n)` submits `fib(n - 1)` and `fib(n - 2)` as
//! async tasks and awaits both. Every waiting parent is suspended, not blocking a thread, so the
//! whole tree (tens of thousands of tasks) runs on a handful of threads without deadlock.
//!
//! ```text
//! cargo run --release --example fib -- [n = 22] [--workers 2]
//! ```

use std::time::Instant;

use betterconcurrent::{Executor, Future, ThreadPoolExecutor};

/// `fib(n)` as a task that submits `fib(n - 1)` and `fib(n - 2)` and awaits both.
pub fn fib(executor: Executor, n: u64) -> Future<u64> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if n < 2 {
                return n;
            }
            let (a, b) = (fib(executor.clone(), n - 1), fib(executor, n - 2));
            (&a).await.expect("fib(n - 1) completes") + (&b).await.expect("fib(n - 2) completes")
        })
        .expect("the pool stays open until fib is done")
}

/// The plain recursive definition, to check the parallel answer.
fn fib_sequential(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_sequential(n - 1) + fib_sequential(n - 2)
    }
}

#[allow(dead_code)] // the benchmarks include this file for `fib` alone
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = match args.first().filter(|arg| !arg.starts_with("--")) {
        Some(n) => n.parse()?,
        None => 22,
    };
    let workers = match args.iter().position(|arg| arg == "--workers") {
        Some(at) => args.get(at + 1).ok_or("--workers needs a value")?.parse()?,
        None => 2,
    };
    let pool = ThreadPoolExecutor::builder().max_workers(workers).build()?;
    let started = Instant::now();
    let value = *fib(pool.executor(), n).result()?;
    let elapsed = started.elapsed();
    pool.join()?;
    let expected = fib_sequential(n);
    // fib(n) as tasks runs one task per call: 2 * fib(n + 1) - 1 of them.
    let tasks = 2 * fib_sequential(n + 1) - 1;
    println!("fib({n}) = {value} with {tasks} tasks on {workers} workers in {elapsed:.1?}");
    if value != expected {
        return Err(format!("expected {expected}").into());
    }
    Ok(())
}
