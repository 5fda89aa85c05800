//! The timer thread's lost unpark (see `time_review_timer_thread_park.rs`) reached through the
//! library alone, no foreign waker: a `LocalExecutor` is dropped while its task sleeps; the
//! timer's wake cancels the task there, on the timer thread, dropping its body; a guard in the
//! body waits in its `Drop` for a `betterconcurrent::Future` (`result()`, a blocking wait that
//! parks the thread). Sleeps armed meanwhile must still fire. In a binary of its own, since the
//! bug breaks the process's timer.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::{time, Future, LocalExecutor};

/// In its drop: says on which thread it runs, then blocks until `gate` is done.
struct WaitsOnDrop {
    entered: mpsc::Sender<Option<String>>,
    gate: Future<()>,
}
impl Drop for WaitsOnDrop {
    fn drop(&mut self) {
        let _ = self
            .entered
            .send(std::thread::current().name().map(str::to_owned));
        let _ = self.gate.result_timeout(Duration::from_secs(10));
    }
}

struct Notify(Mutex<Option<mpsc::Sender<Instant>>>);
impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(Instant::now());
        }
    }
}

#[test]
fn sleeps_armed_while_a_cancelled_body_waits_on_the_timer_thread_are_not_lost() {
    let gate = Future::<()>::new();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (polled_tx, polled_rx) = mpsc::channel();
    {
        let executor = LocalExecutor::<2>::new();
        let guard = WaitsOnDrop {
            entered: entered_tx,
            gate: gate.clone(),
        };
        executor
            .spawn(async move {
                let _guard = guard;
                let _ = polled_tx.send(());
                time::sleep(Duration::from_millis(10)).await;
            })
            .unwrap();
        executor.run_until_idle();
        polled_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // Dropped with its task suspended in the sleep.
    }
    let thread = entered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the task was never cancelled");
    // The body is being dropped; if on the timer thread, it is now parked in `result_timeout`.
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let mut sleeps = Vec::new();
    for i in 0..10u64 {
        let mut s = time::sleep(Duration::from_millis(1 + i));
        let w = Waker::from(Arc::new(Notify(Mutex::new(Some(tx.clone())))));
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(&w))
            .is_pending());
        sleeps.push(s);
    }
    drop(tx);
    gate.set_result(()).unwrap();
    for k in 0..10 {
        let at = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
            panic!(
                "LOST WAKE: {k} of 10 sleeps armed while the cancelled body waited (on thread \
                 {thread:?}) fired; {} still pending",
                time::pending_sleeps()
            )
        });
        assert!(at >= start + Duration::from_millis(1));
    }
    drop(sleeps);
}
