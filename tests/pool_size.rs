//! `max_workers` costs memory and search time for the threads a pool starts, not for the
//! maximum, and a size no OS could run is a typed error. Alone in its test binary, so that the
//! live-heap count it reads is not moved by other tests allocating at the same time.
#![cfg(not(feature = "loom"))]

mod common;

use std::time::{Duration, Instant};

use betterconcurrent::{BuildError, ThreadPoolExecutor, MAX_WORKERS};
use common::counting_allocator::{live_bytes, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn max_workers_beyond_what_an_os_can_run_is_a_build_error() {
    for requested in [usize::MAX, 1 << 40, MAX_WORKERS + 1] {
        let built = ThreadPoolExecutor::builder().max_workers(requested).build();
        assert_eq!(
            built.err(),
            Some(BuildError::TooManyWorkers { requested }),
            "max_workers({requested})"
        );
    }
}

/// Builds a million-worker pool five times: the cheapest build (a preempted one says nothing
/// about the code) must take under 10 ms and every one must allocate under 10 MiB (it allocates a
/// few hundred bytes; a per-worker cost would be a million times that). Then the pool works,
/// with one worker slot made for the one thread it needed.
#[test]
fn a_million_worker_pool_builds_in_under_10_ms_and_10_mib() {
    let mut fastest = Duration::MAX;
    for _ in 0..5 {
        let before = live_bytes();
        let started = Instant::now();
        let pool = ThreadPoolExecutor::builder()
            .max_workers(1_000_000)
            .build()
            .unwrap();
        fastest = fastest.min(started.elapsed());
        let grew = live_bytes() - before;
        assert!(grew < 10 << 20, "build allocated {grew} bytes");
        drop(pool);
    }
    assert!(
        fastest < Duration::from_millis(10),
        "build took {fastest:?}"
    );
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1_000_000)
        .build()
        .unwrap();
    assert_eq!(*pool.submit(|| 3u32).unwrap().result().unwrap(), 3);
    assert_eq!(
        pool.stats().per_worker.len(),
        2,
        "one worker slot and the shared one"
    );
}
