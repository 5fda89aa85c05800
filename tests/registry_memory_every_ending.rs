//! an idle pool holds no memory for 100,000 finished async tasks whatever their fate
//! (completed at once, completed after suspending, panicked, cancelled by the user while queued,
//! freed because nothing could wake them). Alone in its binary: it has a counting allocator.
#![cfg(not(feature = "loom"))]

mod common;
use common::counting_allocator::{live_bytes, settled_above, CountingAllocator};
use common::watchdog::within;

use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use betterconcurrent::{Future, ThreadPoolExecutor};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const T: Duration = Duration::from_secs(15);

/// `n` tasks of each fate; returns when the pool is idle, with every handle made here dropped.
fn burst(pool: &ThreadPoolExecutor, n: usize) {
    // 1. complete at once
    for i in 0..n {
        drop(pool.submit_async(async move { i }).unwrap());
    }
    // 2. suspend on a shared gate, then complete; 3. suspend, then panic
    let gate = Future::<()>::new();
    let mut keep = Vec::with_capacity(2 * n);
    for i in 0..2 * n {
        let g = gate.clone();
        keep.push(
            pool.submit_async(async move {
                (&g).await.unwrap();
                if i % 2 == 1 {
                    panic!("after suspending");
                }
                i
            })
            .unwrap(),
        );
    }
    // 4. cancelled by the user while queued behind blockers
    let workers = pool.max_workers();
    let started = Arc::new(Barrier::new(workers + 1));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let blockers: Vec<_> = (0..workers)
        .map(|_| {
            let (s, r) = (started.clone(), release_rx.clone());
            pool.submit(move || {
                s.wait();
                let _ = r.lock().unwrap().recv_timeout(T);
            })
            .unwrap()
        })
        .collect();
    started.wait();
    for i in 0..n {
        let f = pool.submit_async(async move { i }).unwrap();
        assert!(f.cancel());
    }
    for _ in 0..workers {
        release_tx.send(()).unwrap();
    }
    for b in &blockers {
        b.result_timeout(T).unwrap();
    }
    // 5. freed: suspended on something that dropped its waker, with the future dropped
    for _ in 0..n {
        drop(pool.submit_async(std::future::pending::<()>()).unwrap());
    }
    gate.set_result(()).unwrap();
    for f in &keep {
        assert!(f.result_timeout(T).is_ok() || f.done());
    }
    drop(keep);
    drop(blockers);
    pool.wait_idle_timeout(T).unwrap();
}

#[test]
fn an_idle_pool_holds_no_memory_for_100_000_async_tasks_of_every_fate() {
    std::panic::set_hook(Box::new(|_| {}));
    within(60, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        burst(&pool, 500);
        burst(&pool, 500);
        let before = live_bytes();
        burst(&pool, 20_000);
        let held = settled_above(before, 64 << 10);
        let s = pool.stats();
        assert_eq!(
            (
                s.tasks_outstanding,
                s.tasks_suspended,
                s.tasks_queued,
                s.tasks_running
            ),
            (0, 0, 0, 0),
            "{s:?}"
        );
        assert!(
            held < 64 << 10,
            "the idle pool still holds {held} bytes after the burst"
        );
        pool.join_timeout(T).unwrap();
    })
}
