//! Review of `Future::abort`: an idle pool holds no memory for aborted tasks (suspended ones,
//! which were registered; running ones aborted in their first poll; queued ones), and the
//! aborted tasks' wakers leave what they awaited. Alone in its binary, one test (a counting
//! allocator).
#![cfg(not(feature = "loom"))]

mod common;
use common::counting_allocator::{live_bytes, settled_above, CountingAllocator};
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use betterconcurrent::{Error, Future, ThreadPoolExecutor};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const LIMIT: isize = 64 << 10;

/// `n` tasks that suspend on a future nobody completes (some after a yield), all aborted once
/// all have started (from the test thread, or half of them in their own first poll).
fn aborted_burst(pool: &ThreadPoolExecutor, n: usize, self_abort: bool) {
    let never = Future::<()>::new();
    let started = Arc::new(AtomicUsize::new(0));
    let all_started = Future::<()>::new();
    let slots: Arc<Vec<std::sync::Mutex<Option<Future<()>>>>> =
        Arc::new((0..n).map(|_| std::sync::Mutex::new(None)).collect());
    let mut futures = Vec::with_capacity(n);
    for i in 0..n {
        let (nv, s, a, sl) = (
            never.clone(),
            started.clone(),
            all_started.clone(),
            slots.clone(),
        );
        futures.push(
            pool.submit_async(async move {
                if i % 2 == 0 {
                    common::yield_now().await;
                }
                if self_abort && i % 2 == 1 {
                    // Its own future, set before `all_started` completes.
                    let _ = (&a).await;
                    if let Some(me) = sl[i].lock().unwrap().take() {
                        assert!(me.abort());
                    }
                } else if s.fetch_add(1, Ordering::SeqCst) + 1 == n / if self_abort { 2 } else { 1 }
                {
                    a.set_result(()).unwrap();
                }
                let _ = (&nv).await;
            })
            .unwrap(),
        );
        if self_abort && i % 2 == 1 {
            *slots[i].lock().unwrap() = Some(futures[i].clone());
        }
    }
    all_started.result().unwrap();
    for future in &futures {
        future.abort();
    }
    for future in &futures {
        assert!(matches!(future.result(), Err(Error::Cancelled)));
    }
    drop(futures);
    pool.wait_idle().unwrap();
    assert_eq!(never.waiter_count(), 0);
}

/// `n` tasks aborted right after their submit (queued, or in their first poll).
fn aborted_at_once_burst(pool: &ThreadPoolExecutor, n: usize) {
    let never = Future::<()>::new();
    for _ in 0..n {
        let nv = never.clone();
        let future = pool
            .submit_async(async move {
                let _ = (&nv).await;
            })
            .unwrap();
        future.abort();
    }
    pool.wait_idle().unwrap();
    assert_eq!(never.waiter_count(), 0);
}

#[test]
fn an_idle_pool_holds_no_memory_for_aborted_tasks() {
    within(240, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        aborted_burst(&pool, 2_000, false);
        aborted_burst(&pool, 2_000, true);
        aborted_at_once_burst(&pool, 2_000);
        let before = live_bytes();
        for round in 0..2 {
            aborted_burst(&pool, 50_000, false);
            let held = settled_above(before, LIMIT);
            assert!(held < LIMIT, "suspended, round {round}: {held} bytes held");
            aborted_burst(&pool, 50_000, true);
            let held = settled_above(before, LIMIT);
            assert!(
                held < LIMIT,
                "self-aborted, round {round}: {held} bytes held"
            );
            aborted_at_once_burst(&pool, 50_000);
            let held = settled_above(before, LIMIT);
            assert!(held < LIMIT, "at once, round {round}: {held} bytes held");
        }
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0, "{stats:?}");
        assert_eq!(stats.tasks_suspended, 0, "{stats:?}");
    });
}
