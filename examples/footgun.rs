//! The deadlock "footgun" of plain thread pools, and why it cannot happen here.
//!
//! In Python's `concurrent.futures` (and the threadpool crate), a task that blocks on a subtask
//! of the same pool holds its worker while it waits. On a one-worker pool the very first nested
//! wait deadlocks:
//!
//! ```text
//! def level(k):                       # ThreadPoolExecutor(max_workers=1)
//!     child = executor.submit(level, k + 1)
//!     return child.result()           # the only worker waits for a task that needs a worker
//! ```
//!
//! This program runs that chain on ONE worker thread, two ways:
//! - default: cooperative waits, nested 10,000 deep. Each level is an async task that awaits its
//!   child; awaiting suspends the task and frees the thread, so the chain unwinds on one thread.
//! - `--blocking`: blocking `result()` calls, nested 1,000 deep. A blocked pool thread runs the
//!   awaited (unstarted) subtask in place, and when that nests too deep it parks and the pool
//!   starts a spare thread, so the blocking version completes too.
//!
//! ```text
//! cargo run --release --example footgun [-- --blocking] [--depth N]
//! ```

use std::time::Instant;

use betterconcurrent::{Executor, Future, ThreadPoolExecutor};

/// Level `k` of the cooperative chain: an async task awaiting level `k + 1`.
fn cooperative_level(executor: Executor, k: u32, depth: u32) -> Future<u32> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if k == depth {
                return k;
            }
            let child = cooperative_level(executor, k + 1, depth);
            *(&child).await.expect("the child level completes")
        })
        .expect("the pool accepts work until the chain is done")
}

/// Level `k` of the blocking chain: a closure blocking on level `k + 1`.
fn blocking_level(executor: Executor, k: u32, depth: u32) -> u32 {
    if k == depth {
        return k;
    }
    let next = executor.clone();
    let child = executor
        .submit(move || blocking_level(next, k + 1, depth))
        .expect("the pool accepts work until the chain is done");
    *child.result().expect("the child level completes")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let blocking = args.iter().any(|arg| arg == "--blocking");
    let depth = match args.iter().position(|arg| arg == "--depth") {
        Some(at) => args.get(at + 1).ok_or("--depth needs a value")?.parse()?,
        None if blocking => 1_000,
        None => 10_000,
    };
    let pool = ThreadPoolExecutor::builder().max_workers(1).build()?;
    let started = Instant::now();
    let deepest = if blocking {
        let executor = pool.executor();
        *pool
            .submit(move || blocking_level(executor, 0, depth))?
            .result()?
    } else {
        *cooperative_level(pool.executor(), 0, depth).result()?
    };
    pool.join()?;
    println!(
        "{} waits nested {depth} deep on a 1-worker pool: completed, deepest level {deepest}, \
         {:.1?}",
        if blocking { "blocking" } else { "cooperative" },
        started.elapsed()
    );
    if deepest != depth {
        return Err(format!("expected the deepest level {depth}, got {deepest}").into());
    }
    Ok(())
}
