//! timed-out `wait_idle_timeout` calls from short-lived threads leave their wakers in the
//! pool's waiter list; the pool going idle afterwards (with nobody waiting at that moment) does
//! not clear them, so the list grows with every thread that ever timed out. Alone in its
//! binary: it has a counting allocator.
#![cfg(not(feature = "loom"))]

mod common;
use common::counting_allocator::{live_bytes, CountingAllocator};
use common::watchdog::within;

use std::time::Duration;

use betterconcurrent::{Future, ThreadPoolExecutor};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn timed_out_waits_from_exited_threads_leave_nothing_behind_once_the_pool_is_idle() {
    within(60, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        let ex = pool.executor();
        let round = |threads: usize| {
            let gate = Future::<()>::new();
            let g = gate.clone();
            let busy = ex
                .submit_async(async move { (&g).await.map(|_| ()) })
                .unwrap();
            for _ in 0..threads {
                let ex = ex.clone();
                std::thread::spawn(move || {
                    let _ = ex.wait_idle_timeout(Duration::ZERO);
                    let _ = ex.wait_idle_timeout(Duration::from_micros(50));
                })
                .join()
                .unwrap();
            }
            gate.set_result(()).unwrap();
            busy.result_timeout(Duration::from_secs(10))
                .unwrap()
                .as_ref()
                .unwrap();
            // idle again, nobody waiting at this moment
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while ex.stats().tasks_outstanding > 0 {
                assert!(std::time::Instant::now() < deadline);
                std::thread::yield_now();
            }
        };
        round(100);
        let before = live_bytes();
        round(5_000);
        let held = live_bytes() - before;
        assert!(
            held < 64 << 10,
            "the idle pool holds {held} bytes for 5,000 exited threads whose waits timed out"
        );
        pool.join_timeout(Duration::from_secs(10)).unwrap();
    })
}
