//! Sleeps in the life of pool tasks: a task suspended in a long sleep is aborted (its sleep is
//! dropped with its body, the entry goes), or cancelled by `shutdown(cancel_futures)`; a Sleep
//! armed in one task (or runtime) is moved to another and completes there, not early; a
//! `timeout` inside a task whose inner future panics; sleeps polled from many threads at once;
//! and `pending_sleeps()` returns to its earlier value after each.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::{time, Error, ThreadPoolExecutor};

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

/// Sends on drop: declared before a task's sleep, it drops after it.
struct SignalOnDrop(Option<mpsc::Sender<()>>);
impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `timed` once (arming every sleep in it), tells the test it is armed, then awaits it.
async fn armed_then<F: std::future::Future>(timed: F, armed: mpsc::Sender<()>) -> F::Output {
    let mut timed = std::pin::pin!(timed);
    let first = std::future::poll_fn(|cx| Poll::Ready(timed.as_mut().poll(cx))).await;
    assert!(first.is_pending());
    let _ = armed.send(());
    timed.await
}

/// Polls its sleep once and tells the test it is armed.
async fn armed_then_sleep(d: Duration, armed: mpsc::Sender<()>) {
    armed_then(time::sleep(d), armed).await
}

#[test]
fn aborting_tasks_suspended_in_sleeps_removes_their_entries() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(2);
    let (armed_tx, armed_rx) = mpsc::channel();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let n = 100;
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (armed_tx, dropped_tx) = (armed_tx.clone(), dropped_tx.clone());
            pool.submit_async(async move {
                let _signal = SignalOnDrop(Some(dropped_tx));
                armed_then_sleep(Duration::from_secs(3600), armed_tx).await;
            })
            .unwrap()
        })
        .collect();
    for _ in 0..n {
        armed_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    assert_eq!(time::pending_sleeps(), base + n);
    for t in &tasks {
        assert!(t.abort());
    }
    for t in &tasks {
        assert!(matches!(
            t.result_timeout(Duration::from_secs(10)),
            Err(Error::Cancelled)
        ));
    }
    for _ in 0..n {
        dropped_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("an aborted body was not dropped");
    }
    assert_eq!(time::pending_sleeps(), base);
    // The pool, and the timer, still work.
    let f = pool
        .submit_async(async {
            time::sleep(Duration::from_millis(5)).await;
            1
        })
        .unwrap();
    assert_eq!(*f.result_timeout(Duration::from_secs(10)).unwrap(), 1);
}

#[test]
fn shutdown_with_cancel_futures_removes_the_entries_of_sleeping_tasks() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(2);
    let (armed_tx, armed_rx) = mpsc::channel();
    let n = 64;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let armed_tx = armed_tx.clone();
            pool.submit_async(async move {
                // Some in a timeout, some in a plain sleep.
                if i % 2 == 0 {
                    armed_then_sleep(Duration::from_secs(3600), armed_tx).await;
                } else {
                    // Armed once the timeout has polled its future and then its own sleep
                    // (both entries in place).
                    let timed = time::timeout(
                        Duration::from_secs(3600),
                        time::sleep(Duration::from_secs(7200)),
                    );
                    let _ = armed_then(timed, armed_tx).await;
                }
            })
            .unwrap()
        })
        .collect();
    for _ in 0..n {
        armed_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    assert_eq!(time::pending_sleeps(), base + n + n / 2);
    let (done_tx, done_rx) = mpsc::channel();
    let shutter = std::thread::spawn(move || {
        pool.shutdown(true, true);
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("shutdown(wait, cancel_futures) waited for the hour-long sleeps");
    shutter.join().unwrap();
    for t in &tasks {
        assert!(matches!(t.try_result(), Some(Err(Error::Cancelled))));
    }
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn a_sleep_armed_in_one_task_completes_in_another_not_early() {
    let _g = serial();
    let base = time::pending_sleeps();
    let a = pool(1);
    let b = pool(1);
    let deadline_ms = 40;
    let start = Instant::now();
    // Armed in a task of pool A (the entry holds A's waker), awaited in a task of pool B.
    let (tx2, rx2) = mpsc::channel::<time::Sleep>();
    let armer = a
        .submit_async(async move {
            let mut s = time::sleep(Duration::from_millis(deadline_ms));
            let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut s).poll(cx))).await;
            assert!(first.is_pending());
            tx2.send(s).unwrap();
        })
        .unwrap();
    armer.result().unwrap();
    let moved = rx2.recv().unwrap();
    let finisher = b
        .submit_async(async move {
            moved.await;
            Instant::now()
        })
        .unwrap();
    let at = *finisher
        .result_timeout(Duration::from_secs(10))
        .expect("the moved sleep never completed");
    assert!(at >= start + Duration::from_millis(deadline_ms));
    // And from a pool task to tokio to a blocking block_on.
    let (tx3, rx3) = mpsc::channel::<time::Sleep>();
    let start = Instant::now();
    a.submit_async(async move {
        let mut s = time::sleep(Duration::from_millis(30));
        let _ = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut s).poll(cx))).await;
        tx3.send(s).unwrap();
    })
    .unwrap()
    .result()
    .unwrap();
    let mut s = rx3.recv().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let polled_in_tokio = rt.block_on(async {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut s).poll(cx))).await
    });
    assert!(polled_in_tokio.is_pending() || start.elapsed() >= Duration::from_millis(30));
    drop(rt);
    futures::executor::block_on(s);
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn a_panicking_future_inside_a_timeout_in_a_task_leaves_no_entry() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = pool(2);
    let f = pool
        .submit_async(async {
            let _ = time::timeout(Duration::from_secs(3600), async {
                time::sleep(Duration::from_millis(5)).await;
                panic!("inner future panics after a sleep");
            })
            .await;
        })
        .unwrap();
    let e = f.result().unwrap_err();
    assert!(
        e.panic_message()
            .is_some_and(|m| m.contains("inner future panics")),
        "{e:?}"
    );
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn sleeps_polled_from_many_threads_at_once_are_never_early_or_lost() {
    let _g = serial();
    let base = time::pending_sleeps();
    let threads = 8;
    let per_thread = 100;
    let barrier = Arc::new(Barrier::new(threads));
    let early = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = mpsc::channel();
    for t in 0..threads {
        let (barrier, early, done_tx) = (barrier.clone(), early.clone(), done_tx.clone());
        std::thread::spawn(move || {
            barrier.wait();
            for i in 0..per_thread {
                let d = Duration::from_micros(((t * 131 + i * 977) % 3_000) as u64);
                let deadline = Instant::now() + d;
                match i % 3 {
                    0 => futures::executor::block_on(time::sleep_until(deadline)),
                    1 => {
                        // Re-polled with a different waker each time.
                        let mut s = time::sleep_until(deadline);
                        let wakers: Vec<Waker> = (0..3)
                            .map(|_| futures::task::noop_waker_ref().clone())
                            .collect();
                        let _ = Pin::new(&mut s).poll(&mut Context::from_waker(&wakers[0]));
                        futures::executor::block_on(s);
                    }
                    _ => {
                        let r = futures::executor::block_on(time::timeout_at(
                            deadline,
                            std::future::pending::<()>(),
                        ));
                        assert!(r.is_err());
                    }
                }
                if Instant::now() < deadline {
                    early.fetch_add(1, Ordering::SeqCst);
                }
            }
            let _ = done_tx.send(());
        });
    }
    drop(done_tx);
    for _ in 0..threads {
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a thread's sleep never completed");
    }
    assert_eq!(
        early.load(Ordering::SeqCst),
        0,
        "sleeps completed before their deadline"
    );
    assert_eq!(time::pending_sleeps(), base);
}
