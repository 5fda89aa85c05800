//! The shortest tour: submit work, map over items, collect results as they complete, and see a
//! panicking task turn into an error value instead of killing the pool.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Instant;

use betterconcurrent::{as_completed, Error, ThreadPoolExecutor};

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let pool = ThreadPoolExecutor::builder()
        .thread_name_prefix("quickstart")
        .build()?;

    // submit + as_completed: count primes in ranges, in whichever order the ranges finish.
    let chunk = 50_000u64;
    let futures = (0..8u64)
        .map(|i| {
            pool.submit(move || {
                (i * chunk..(i + 1) * chunk)
                    .filter(|&n| is_prime(n))
                    .count()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut primes = 0;
    for future in as_completed(&futures, None) {
        primes += future?.result()?;
    }
    println!("primes below {}: {primes}", 8 * chunk);

    // map: results come back in input order.
    let squares: Vec<u64> = pool.map(|n: u64| n * n, 1..=5)?.collect::<Result<_, _>>()?;
    println!("squares: {squares:?}");

    // A panic is caught and stored in the future; the pool keeps working.
    let failing = pool.submit(|| -> u32 { panic!("bad input") })?;
    match failing.result() {
        Err(Error::Panicked(message)) => println!("the task panicked: {message}"),
        other => return Err(format!("expected a caught panic, got {other:?}").into()),
    }
    let after = pool.submit(|| "still working")?;
    println!("after the panic: {}", after.result()?);

    println!(
        "{} threads used, {:.1?} in all",
        pool.thread_count(),
        started.elapsed()
    );
    Ok(())
}
