//! Ordinary programs on the process's timer (`betterconcurrent::time`): sleeps in pool tasks,
//! in tokio, in `futures::executor::block_on` and on the `LocalExecutor` never complete before
//! their deadline (by `Instant`); `sleep_until` and `timeout_at` honour an `Instant`; `timeout`
//! gives `Ok` or `Elapsed` (which `?` turns into `Error::Timeout`); zero durations are ready at
//! once; a woken task resumes on its pool, not on the timer thread; and every test leaves
//! `pending_sleeps()` where it found it.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use betterconcurrent::{time, Error, Executor, LocalExecutor, ThreadPoolExecutor};

/// The timer is process-wide: tests that count its entries run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(n)
        .build()
        .unwrap()
}

#[test]
fn sleeps_in_pool_tasks_are_never_early() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(2);
    let futures: Vec<_> = (0..40u64)
        .map(|i| {
            pool.submit_async(async move {
                let d = Duration::from_millis(1 + (i * 7) % 60);
                let start = Instant::now();
                time::sleep(d).await;
                (start.elapsed(), d)
            })
            .unwrap()
        })
        .collect();
    for f in &futures {
        let (took, d) = *f.result().unwrap();
        assert!(took >= d, "slept {took:?}, asked for {d:?}");
    }
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn sleep_until_and_timeout_at_honour_odd_instants() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(2);
    let futures: Vec<_> = (0..30u64)
        .map(|i| {
            // Deadlines that are not whole milliseconds.
            let deadline = Instant::now() + Duration::from_nanos(1_000_000 + i * 733_331);
            pool.submit_async(async move {
                time::sleep_until(deadline).await;
                let after_sleep = Instant::now();
                let t = time::timeout_at(
                    deadline + Duration::from_micros(1_501),
                    std::future::pending::<()>(),
                )
                .await;
                (deadline, after_sleep, t.is_err(), Instant::now())
            })
            .unwrap()
        })
        .collect();
    for f in &futures {
        let (deadline, after_sleep, elapsed, after_timeout) = *f.result().unwrap();
        assert!(
            after_sleep >= deadline,
            "sleep_until woke {:?} early",
            deadline - after_sleep
        );
        assert!(elapsed);
        assert!(
            after_timeout >= deadline + Duration::from_micros(1_501),
            "timeout_at elapsed early"
        );
    }
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn timeout_gives_ok_or_elapsed_and_elapsed_converts_with_the_question_mark() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(2);
    async fn body() -> Result<u32, Error> {
        let fast = time::timeout(Duration::from_secs(30), async {
            time::sleep(Duration::from_millis(5)).await;
            7u32
        })
        .await?;
        assert_eq!(fast, 7);
        let start = Instant::now();
        time::timeout(Duration::from_millis(20), std::future::pending::<()>()).await?;
        unreachable!(
            "the pending future cannot win; started {:?} ago",
            start.elapsed()
        )
    }
    let f = pool
        .submit_async(async {
            let start = Instant::now();
            let r = body().await;
            (r, start.elapsed())
        })
        .unwrap();
    let (r, took) = f.result().unwrap();
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(*took >= Duration::from_millis(25));
    let e: Error = time::Elapsed.into();
    assert!(matches!(e, Error::Timeout));
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn zero_durations_are_ready_at_the_first_poll_and_arm_nothing() {
    let _g = serial();
    let base = time::pending_sleeps();
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut s = time::sleep(Duration::ZERO);
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
    let mut s = time::sleep_until(Instant::now());
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
    // An instant long before the timer's first use (its clock's zero).
    let long_ago = Instant::now()
        .checked_sub(Duration::from_secs(3600))
        .unwrap_or_else(Instant::now);
    let mut s = time::sleep_until(long_ago);
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
    let mut t = time::timeout(Duration::ZERO, std::future::ready(3));
    assert_eq!(
        Pin::new(&mut t).poll(&mut cx),
        Poll::Ready(Ok(3)),
        "the future is polled first"
    );
    let mut t = time::timeout(Duration::ZERO, std::future::pending::<()>());
    assert!(matches!(
        Pin::new(&mut t).poll(&mut cx),
        Poll::Ready(Err(_))
    ));
    let mut t = time::timeout_at(long_ago, std::future::pending::<()>());
    assert!(matches!(
        Pin::new(&mut t).poll(&mut cx),
        Poll::Ready(Err(_))
    ));
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn a_woken_task_resumes_on_its_pool_not_on_the_timer_thread() {
    let _g = serial();
    let pool = pool(2);
    let f = pool
        .submit_async(async {
            time::sleep(Duration::from_millis(10)).await;
            (
                std::thread::current().name().map(str::to_owned),
                Executor::current().is_some(),
            )
        })
        .unwrap();
    let (name, on_pool) = f.result().unwrap().clone();
    assert!(on_pool, "resumed outside its pool (thread {name:?})");
    assert_ne!(name.as_deref(), Some("betterconcurrent-timer"));
}

#[test]
fn the_same_program_in_tokio_block_on_and_the_local_executor() {
    let _g = serial();
    let base = time::pending_sleeps();
    // tokio, racing our sleep against tokio's.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let (ours_first, took) = rt.block_on(async {
        let start = Instant::now();
        let ours_first = tokio::select! {
            _ = time::sleep(Duration::from_millis(10)) => true,
            _ = tokio::time::sleep(Duration::from_secs(20)) => false,
        };
        (ours_first, start.elapsed())
    });
    assert!(ours_first);
    assert!(took >= Duration::from_millis(10));
    let r = rt.block_on(async {
        time::timeout(
            Duration::from_millis(10),
            tokio::time::sleep(Duration::from_secs(20)),
        )
        .await
    });
    assert!(r.is_err());
    let r = rt.block_on(async {
        time::timeout(
            Duration::from_secs(20),
            tokio::time::sleep(Duration::from_millis(5)),
        )
        .await
    });
    assert!(r.is_ok());
    // tokio tasks.
    let handles: Vec<_> = (0..20u64)
        .map(|i| {
            rt.spawn(async move {
                let d = Duration::from_millis(i);
                let start = Instant::now();
                time::sleep(d).await;
                start.elapsed() >= d
            })
        })
        .collect();
    for h in handles {
        assert!(rt.block_on(h).unwrap());
    }
    drop(rt);

    // A blocking block_on.
    let start = Instant::now();
    futures::executor::block_on(time::sleep(Duration::from_millis(15)));
    assert!(start.elapsed() >= Duration::from_millis(15));

    // The LocalExecutor.
    let executor = LocalExecutor::<8>::new();
    let done = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..4u64)
        .map(|i| {
            let done = done.clone();
            executor
                .spawn(async move {
                    let d = Duration::from_millis(5 * i);
                    let start = Instant::now();
                    time::sleep(d).await;
                    done.fetch_add(1, Ordering::SeqCst);
                    start.elapsed() >= d
                })
                .unwrap()
        })
        .collect();
    executor.join();
    assert_eq!(done.load(Ordering::SeqCst), 4);
    for f in &futures {
        assert!(*f.try_result().unwrap().unwrap());
    }
    let r = executor.block_on(time::timeout(
        Duration::from_millis(5),
        std::future::pending::<()>(),
    ));
    assert!(r.is_err());
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn many_sleeping_tasks_on_one_worker_overlap() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(1);
    let start = Instant::now();
    let futures: Vec<_> = (0..500)
        .map(|_| {
            pool.submit_async(async {
                time::sleep(Duration::from_millis(100)).await;
            })
            .unwrap()
        })
        .collect();
    for f in &futures {
        f.result().unwrap();
    }
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(100));
    // 500 sequential 100 ms sleeps would take 50 s.
    assert!(
        took < Duration::from_secs(20),
        "took {took:?}: the sleeps did not overlap"
    );
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn a_timeout_over_a_subtask_drops_only_the_wait() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(2);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let sub = pool.submit(move || release_rx.recv().is_ok()).unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let sub2 = sub.clone();
    let d2 = dropped.clone();
    let waited = pool
        .submit_async(async move {
            let guard = Guard(d2.clone());
            let r = time::timeout(Duration::from_millis(20), async move {
                let _g = guard;
                *(&sub2).await.unwrap()
            })
            .await;
            (r.is_err(), d2.load(Ordering::SeqCst))
        })
        .unwrap();
    let (elapsed, dropped_when_elapsed) = *waited.result().unwrap();
    assert!(elapsed);
    assert_eq!(
        dropped_when_elapsed, 1,
        "the timed-out future was dropped before timeout returned"
    );
    assert!(!sub.done(), "the subtask keeps running");
    release_tx.send(()).unwrap();
    assert!(*sub.result().unwrap());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn the_std_futures_are_send_sync_and_static() {
    fn send_sync_static<T: Send + Sync + 'static>() {}
    fn send_static<T: Send + 'static>() {}
    send_sync_static::<time::Sleep>();
    send_static::<time::Timeout<std::future::Pending<u8>>>();
    send_static::<time::Timeout<time::Sleep>>();
    send_sync_static::<time::Elapsed>();
    fn unpin<T: Unpin>() {}
    unpin::<time::Sleep>();
}
