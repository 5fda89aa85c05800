//! A pool that cannot finish, and says why: three tasks that await each other in a ring, and a
//! task awaiting a future nothing will ever complete. `join_timeout` gives up with
//! `Error::Stuck`, whose diagnosis (the pool's dump) names the cycle's three tasks and the
//! orphaned wait; the example prints it and exits with a failure code, as a program that found
//! itself deadlocked should.
//!
//! ```text
//! cargo run --example deadlock
//! ```

use std::process::ExitCode;
use std::time::Duration;

use betterconcurrent::{Error, Future, ThreadPoolExecutor};

fn main() -> ExitCode {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();

    // Task i awaits task (i + 1) % 3. Each learns its successor's future through a slot, set
    // once all three are submitted.
    let slots: Vec<Future<Future<u32>>> = (0..3).map(|_| Future::new()).collect();
    let ring: Vec<Future<u32>> = (0..3)
        .map(|i| {
            let slot = slots[(i + 1) % 3].clone();
            pool.submit_async(async move {
                let next = (&slot).await.unwrap().clone();
                *(&next).await.unwrap() + 1
            })
            .unwrap()
        })
        .collect();
    for (slot, task) in slots.iter().zip(&ring) {
        slot.set_result(task.clone()).unwrap();
    }

    // A future made by hand and never set: its waiter waits forever.
    let orphan = Future::<u32>::new();
    let awaited = orphan.clone();
    let waiting = pool
        .submit_async(async move { *(&awaited).await.unwrap() })
        .unwrap();

    println!(
        "ring: {:#x} -> {:#x} -> {:#x}",
        ring[0].id(),
        ring[1].id(),
        ring[2].id()
    );
    println!("awaiting the orphaned future: {:#x}", waiting.id());
    let code = match pool.join_timeout(Duration::from_secs(1)) {
        Err(Error::Stuck(diagnosis)) => {
            println!("join_timeout: the pool is stuck:\n{diagnosis}");
            ExitCode::FAILURE
        }
        other => {
            println!("expected Error::Stuck, got {other:?}");
            ExitCode::from(2)
        }
    };
    // Nothing else ends these tasks: abort them, so the pool's drop does not wait forever.
    pool.shutdown(true, true);
    code
}
