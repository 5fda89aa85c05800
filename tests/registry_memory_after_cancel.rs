//! after `shutdown(true, true)` ends 100,000 suspended async tasks (the pool handle
//! kept, not dropped), the pool holds no memory for them. Alone in its binary: it has a
//! counting allocator.
#![cfg(not(feature = "loom"))]

mod common;
use common::counting_allocator::{live_bytes, CountingAllocator};
use common::watchdog::within;
use common::DropCount;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use betterconcurrent::{Error, Future, ThreadPoolExecutor};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn shutdown_cancel_of_100_000_suspended_tasks_leaves_no_memory_behind() {
    within(60, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        // Start the threads and let the queues reach their resting size.
        for _ in 0..2 {
            let fs: Vec<_> = (0..2_000)
                .map(|i| pool.submit_async(async move { i }).unwrap())
                .collect();
            for f in &fs {
                f.result_timeout(Duration::from_secs(10)).unwrap();
            }
        }
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
        let before = live_bytes();
        let drops = Arc::new(AtomicUsize::new(0));
        let never = Future::<()>::new();
        let polled = Future::<()>::new();
        let count = Arc::new(AtomicUsize::new(0));
        const N: usize = 100_000;
        let fs: Vec<Future<()>> = (0..N)
            .map(|_| {
                let (n, d, p, c) = (
                    never.clone(),
                    DropCount(drops.clone()),
                    polled.clone(),
                    count.clone(),
                );
                pool.submit_async(async move {
                    let _d = d;
                    if c.fetch_add(1, Ordering::SeqCst) + 1 == N / 2 {
                        let _ = p.set_result(());
                    }
                    let _ = (&n).await;
                })
                .unwrap()
            })
            .collect();
        // Half of them suspended, the rest still queued.
        polled.result_timeout(Duration::from_secs(20)).unwrap();
        pool.shutdown(true, true);
        assert!(fs
            .iter()
            .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
        assert_eq!(drops.load(Ordering::SeqCst), N);
        assert_eq!(
            never.waiter_count(),
            0,
            "aborted tasks left wakers on what they awaited"
        );
        drop(fs);
        drop(polled);
        let s = pool.stats();
        assert_eq!((s.tasks_outstanding, s.threads_alive), (0, 0), "{s:?}");
        // The awaited future itself keeps its waiter slab's capacity (~1 MB for 50,000 former
        // waiters) until it is dropped: that is the user's memory, not the pool's.
        drop(never);
        let held = live_bytes() - before;
        assert!(
            held < 64 << 10,
            "the shut-down pool still holds {held} bytes"
        );
        // 100,000 async submits refused by the closed pool leave nothing either.
        let refused_drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let d = DropCount(refused_drops.clone());
            assert!(pool.submit_async(async move { drop(d) }).is_err());
        }
        assert_eq!(refused_drops.load(Ordering::SeqCst), N);
        let held = live_bytes() - before;
        assert!(
            held < 64 << 10,
            "refused submits left {held} bytes in the pool"
        );
    })
}
