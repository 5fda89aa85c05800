//! The process's timer thread runs user code (the wakers it wakes), and that code may park the
//! thread itself: here a foreign executor's waker hands its task over a rendezvous
//! `sync_channel(0)`, whose blocking `send` parks the calling thread. Sleeps armed meanwhile
//! unpark the timer thread to tell it of their deadline; that unpark must not be swallowed by
//! the waker's own park, or the driver goes back to `park()` with no deadline and every sleep
//! of the process waits forever. In a binary of its own, since it can break the process's timer.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::time;

/// A foreign executor's waker: tells the test it started (unbounded, never blocks), then hands
/// its task id over a rendezvous channel (blocks, parking the waking thread, until taken).
struct HandOver {
    started: Mutex<Option<mpsc::Sender<()>>>,
    queue: mpsc::SyncSender<usize>,
}
impl Wake for HandOver {
    fn wake(self: Arc<Self>) {
        if let Some(tx) = self.started.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let _ = self.queue.send(1);
    }
}

/// Sends the instant it was woken.
struct Notify(Mutex<Option<mpsc::Sender<Instant>>>);
impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(Instant::now());
        }
    }
}

#[test]
fn sleeps_armed_while_a_waker_parks_the_timer_thread_are_not_lost() {
    let (queue_tx, queue_rx) = mpsc::sync_channel::<usize>(0);
    let (started_tx, started_rx) = mpsc::channel();
    let foreign = Waker::from(Arc::new(HandOver {
        started: Mutex::new(Some(started_tx)),
        queue: queue_tx,
    }));
    let mut first = time::sleep(Duration::from_millis(5));
    assert!(Pin::new(&mut first)
        .poll(&mut Context::from_waker(&foreign))
        .is_pending());
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the first sleep was never woken");
    // The timer thread is inside the foreign waker, about to park in `send` (or parked there).
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
    // The foreign executor takes its task: the waker returns, the timer thread goes on.
    assert_eq!(queue_rx.recv_timeout(Duration::from_secs(10)), Ok(1));
    for k in 0..10 {
        let at = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
            panic!(
                "LOST WAKE: {k} of 10 sleeps armed while the timer thread was in a waker fired; \
                 {} still pending",
                time::pending_sleeps()
            )
        });
        assert!(at >= start + Duration::from_millis(1));
    }
    drop(sleeps);
}
