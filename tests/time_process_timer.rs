//! The process's one timer, in a test binary of its own so nothing else arms it: no timer thread
//! before the first sleep that waits, one after (never one per sleep), and dropped sleeps leave
//! no entry behind (counted with `time::pending_sleeps`).
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use betterconcurrent::time;

/// The threads of this process named `betterconcurrent-timer` (Linux: `/proc/self/task`).
#[cfg(target_os = "linux")]
fn timer_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        // `comm` holds at most 15 bytes of the name.
        .filter(|name| name.trim_end() == "betterconcurren")
        .count()
}

#[test]
fn the_timer_thread_starts_at_the_first_sleep_and_dropped_sleeps_leave_no_entry() {
    let pool = betterconcurrent::ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    #[cfg(target_os = "linux")]
    let threads_before = timer_threads();
    // A pool alone starts no timer.
    pool.submit(|| ()).unwrap().result().unwrap();
    // A sleep already due arms nothing.
    futures::executor::block_on(time::sleep(Duration::ZERO));
    #[cfg(target_os = "linux")]
    assert_eq!(
        timer_threads(),
        threads_before,
        "no timer thread before a sleep waits"
    );
    assert_eq!(time::pending_sleeps(), 0);

    // 1,000 sleeps armed by pool tasks and dropped before their deadline (a `timeout` whose
    // future wins drops its sleep too).
    let armed_and_dropped: Vec<_> = (0..1000u64)
        .map(|i| {
            pool.submit_async(async move {
                let waker = futures::task::noop_waker_ref();
                let mut sleep = time::sleep(Duration::from_secs(3600 + i));
                assert!(Pin::new(&mut sleep)
                    .poll(&mut Context::from_waker(waker))
                    .is_pending());
                drop(sleep);
                time::timeout(Duration::from_secs(3600), async { i })
                    .await
                    .unwrap()
            })
            .unwrap()
        })
        .collect();
    for (i, future) in armed_and_dropped.iter().enumerate() {
        assert_eq!(*future.result().unwrap(), i as u64);
    }
    assert_eq!(
        time::pending_sleeps(),
        0,
        "every dropped sleep removed its entry"
    );

    // Sleeps that fire are gone too, and one thread served them all.
    let slept: Vec<_> = (0..100u64)
        .map(|i| {
            pool.submit_async(async move { time::sleep(Duration::from_millis(1 + i % 7)).await })
                .unwrap()
        })
        .collect();
    for future in &slept {
        future.result().unwrap();
    }
    assert_eq!(time::pending_sleeps(), 0);
    #[cfg(target_os = "linux")]
    assert_eq!(
        timer_threads(),
        threads_before + 1,
        "one timer thread for every sleep"
    );
}
