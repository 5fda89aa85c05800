//! Issue 15's timer on the pool: sleeps wake in deadline order (recorded by their wakers, not
//! timed), a sleeping task holds no thread, `timeout` over a subtask that never finishes, and
//! the same futures from other executors (tokio, a blocking `block_on`, the `LocalExecutor`).
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::{time, Error, Future, LocalExecutor};

mod common;

/// Appends its id to the log when woken, then wakes the task it stands in for.
struct LogOnWake {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
    task: Waker,
}

impl Wake for LogOnWake {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
        self.task.wake_by_ref();
    }
}

/// Polls `sleep` with a waker that logs `id` when the timer wakes it; fails if the sleep was
/// already due when first polled (then no wake would be logged).
struct LoggedSleep {
    sleep: time::Sleep,
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
    polled: bool,
}

impl std::future::Future for LoggedSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let waker = Waker::from(Arc::new(LogOnWake {
            id: self.id,
            log: self.log.clone(),
            task: cx.waker().clone(),
        }));
        let first = !std::mem::replace(&mut self.polled, true);
        let ready = Pin::new(&mut self.sleep).poll(&mut Context::from_waker(&waker));
        assert!(
            !(first && ready.is_ready()),
            "sleep {} was due before it was first polled: the test's head start was too short",
            self.id
        );
        ready
    }
}

#[test]
fn ten_thousand_sleeps_on_two_workers_wake_in_deadline_order() {
    const SLEEPS: usize = 10_000;
    let pool = common::pool(2);
    let log = Arc::new(Mutex::new(Vec::with_capacity(SLEEPS)));
    // Every task arms its sleep well before the first deadline (the head start), and deadlines
    // are 10 us apart; task i gets rank (i * 7919) % SLEEPS, so submission order is not
    // deadline order.
    let first_deadline = Instant::now() + Duration::from_secs(1);
    let futures: Vec<Future<()>> = (0..SLEEPS)
        .map(|i| {
            let rank = (i * 7919) % SLEEPS;
            let deadline = first_deadline + Duration::from_micros(10 * rank as u64);
            let log = log.clone();
            pool.submit_async(async move {
                LoggedSleep {
                    sleep: time::sleep_until(deadline),
                    id: rank,
                    log,
                    polled: false,
                }
                .await
            })
            .unwrap()
        })
        .collect();
    pool.join().unwrap();
    for future in &futures {
        future.result().unwrap();
    }
    let log = log.lock().unwrap();
    assert_eq!(log.len(), SLEEPS, "every sleep was woken once");
    let out_of_order = log.windows(2).position(|pair| pair[0] > pair[1]);
    assert_eq!(out_of_order, None, "woken in deadline order");
    assert!(Instant::now() >= first_deadline + Duration::from_micros(10 * (SLEEPS as u64 - 1)));
}

#[test]
fn a_sleeping_task_holds_no_thread() {
    let pool = common::pool(1);
    let other_ran = Arc::new(AtomicBool::new(false));
    let seen = other_ran.clone();
    // With one worker, the other task can only run while the sleeper is suspended.
    let sleeper = pool
        .submit_async(async move {
            for _ in 0..1000 {
                if seen.load(Ordering::SeqCst) {
                    return true;
                }
                time::sleep(Duration::from_millis(10)).await;
            }
            false
        })
        .unwrap();
    let flag = other_ran.clone();
    pool.submit(move || flag.store(true, Ordering::SeqCst))
        .unwrap();
    assert!(
        *sleeper.result().unwrap(),
        "the other task ran while the sleeper slept"
    );
}

#[test]
fn a_timeout_over_a_subtask_that_never_finishes_returns_the_timeout_error_and_the_subtask_keeps_running(
) {
    let pool = common::pool(2);
    let (release, released) = mpsc::channel::<()>();
    let subtask = pool.submit(move || released.recv().is_ok()).unwrap();
    let awaiting = subtask.clone();
    let parent = pool
        .submit_async(async move {
            let waited: Result<bool, Error> = async {
                let ran = time::timeout(Duration::from_millis(20), &awaiting).await?;
                Ok(*ran.expect("the subtask completed"))
            }
            .await;
            (waited, awaiting.done())
        })
        .unwrap();
    let (waited, subtask_done) = parent.into_result().unwrap();
    assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
    assert!(!subtask_done, "the subtask is still running");
    release.send(()).unwrap();
    assert!(*subtask.result().unwrap(), "and it finishes afterwards");
}

#[test]
fn a_timeout_over_an_async_subtask_that_never_finishes_on_one_worker() {
    let pool = common::pool(1);
    let never = Future::<u32>::new();
    let waits_forever = never.clone();
    let parent = pool
        .submit_async(async move {
            let executor = betterconcurrent::Executor::current().unwrap();
            // An unstarted async child, so the await runs it in place first (work-first): it
            // suspends on a future nobody completes, and the timeout still fires.
            let child = executor
                .submit_async(async move { *(&waits_forever).await.unwrap() })
                .unwrap();
            let waited = time::timeout(Duration::from_millis(20), &child).await;
            (waited.is_err(), child)
        })
        .unwrap();
    let (timed_out, child) = parent.into_result().unwrap();
    assert!(timed_out);
    assert!(!child.done(), "the child is still suspended");
    never.set_result(5).unwrap();
    assert_eq!(*child.result().unwrap(), 5);
    pool.join().unwrap();
}

#[test]
fn a_subtask_that_finishes_in_time_wins_the_timeout() {
    let pool = common::pool(2);
    let parent = pool
        .submit_async(async move {
            let executor = betterconcurrent::Executor::current().unwrap();
            let child = executor.submit(|| 6 * 7).unwrap();
            let value = time::timeout(Duration::from_secs(60), &child).await;
            value.map(|outcome| *outcome.unwrap())
        })
        .unwrap();
    assert_eq!(*parent.result().unwrap(), Ok(42));
}

#[test]
fn the_same_sleep_works_in_tokio_in_a_blocking_block_on_and_on_the_local_executor() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let start = Instant::now();
    runtime.block_on(async { time::sleep(Duration::from_millis(5)).await });
    assert!(start.elapsed() >= Duration::from_millis(5));

    let start = Instant::now();
    futures::executor::block_on(time::sleep(Duration::from_millis(5)));
    assert!(start.elapsed() >= Duration::from_millis(5));

    let executor = LocalExecutor::<4>::new();
    let start = Instant::now();
    let slept = executor
        .spawn(async move {
            time::sleep(Duration::from_millis(5)).await;
            start.elapsed()
        })
        .unwrap();
    let slept = *executor.block_on(&slept).unwrap();
    assert!(slept >= Duration::from_millis(5));
}

#[test]
fn sleep_until_a_past_instant_is_ready_at_once() {
    let waker = futures::task::noop_waker_ref();
    let past = Instant::now();
    let mut sleep = time::sleep_until(past);
    assert!(Pin::new(&mut sleep)
        .poll(&mut Context::from_waker(waker))
        .is_ready());
    let mut zero = time::sleep(Duration::ZERO);
    assert!(Pin::new(&mut zero)
        .poll(&mut Context::from_waker(waker))
        .is_ready());
}
