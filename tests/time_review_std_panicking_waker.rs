//! The process's timer thread meets a waker that panics (a foreign executor's bug), in a binary
//! of its own since it could break the process-wide timer: the timer thread must live on, the
//! sleeps due with it must still be woken, and later sleeps must still complete; a waker that
//! panics on drop, and one that holds the timer thread for a while (spinning), must not lose the
//! sleeps armed meanwhile. (The same with a wake blocked in a channel's `recv` is in
//! `time_review_timer_thread_park.rs`, a binary of its own because it breaks the timer.)
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::{time, ThreadPoolExecutor};

fn within<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("HANG: did not finish within {secs} s"),
    }
}

struct PanicOnWake;
impl Wake for PanicOnWake {
    fn wake(self: Arc<Self>) {
        panic!("test panic: waker on the timer thread");
    }
}

struct PanicOnDrop;
impl Wake for PanicOnDrop {
    fn wake(self: Arc<Self>) {}
}
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("test panic: waker dropped on the timer thread");
        }
    }
}

/// Sends once when woken.
struct Notify(Mutex<Option<mpsc::Sender<Instant>>>);
impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(Instant::now());
        }
    }
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn timer_thread_alive() -> bool {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks.filter_map(Result::ok).any(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim_end() == "betterconcurren")
            })
        })
        .unwrap_or(true)
}

#[test]
fn the_timer_thread_survives_wakers_that_panic() {
    let _g = serial();
    let base = time::pending_sleeps();
    let mut cx_bad;
    // Three sleeps due at once: a panicking waker between two good ones, plus a waker that
    // panics when dropped.
    let deadline = Instant::now() + Duration::from_millis(20);
    let (tx, rx) = mpsc::channel();
    let good =
        |tx: &mpsc::Sender<Instant>| Waker::from(Arc::new(Notify(Mutex::new(Some(tx.clone())))));
    let mut a = time::sleep_until(deadline);
    let mut b = time::sleep_until(deadline);
    let mut c = time::sleep_until(deadline);
    let mut d = time::sleep_until(deadline);
    assert!(Pin::new(&mut a)
        .poll(&mut Context::from_waker(&good(&tx)))
        .is_pending());
    let bad = Waker::from(Arc::new(PanicOnWake));
    cx_bad = Context::from_waker(&bad);
    assert!(Pin::new(&mut b).poll(&mut cx_bad).is_pending());
    let bad_drop = Waker::from(Arc::new(PanicOnDrop));
    assert!(Pin::new(&mut c)
        .poll(&mut Context::from_waker(&bad_drop))
        .is_pending());
    std::mem::forget(bad_drop); // our own handle must not panic here
    assert!(Pin::new(&mut d)
        .poll(&mut Context::from_waker(&good(&tx)))
        .is_pending());
    drop(tx);
    for _ in 0..2 {
        let at = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a good sleep due with the panicking wakers was never woken");
        assert!(at >= deadline);
    }
    // Later sleeps, armed after the panics, still complete: from block_on and from a pool.
    let took = within(10, || {
        let start = Instant::now();
        futures::executor::block_on(time::sleep(Duration::from_millis(20)));
        start.elapsed()
    });
    assert!(took >= Duration::from_millis(20));
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let f = pool
        .submit_async(async {
            time::sleep(Duration::from_millis(5)).await;
            7
        })
        .unwrap();
    assert_eq!(*f.result_timeout(Duration::from_secs(10)).unwrap(), 7);
    assert!(timer_thread_alive(), "the timer thread died");
    drop((a, b, c, d));
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn a_waker_that_spins_on_the_timer_thread_loses_no_sleep_armed_meanwhile() {
    blocked_timer_thread_loses_nothing(false);
}

/// A wake that holds the timer thread until the test releases it, while sleeps are armed
/// (their `arm` unparks the timer thread). With `channel`, it waits in `mpsc::recv_timeout`,
/// which parks the thread itself; without, it spins on an atomic.
fn blocked_timer_thread_loses_nothing(channel: bool) {
    let _g = serial();
    let base = time::pending_sleeps();
    /// Tells the test it is running on the timer thread, then blocks it until released.
    struct Slow {
        entered: Mutex<Option<mpsc::Sender<()>>>,
        release: Mutex<mpsc::Receiver<()>>,
        released: std::sync::atomic::AtomicBool,
        channel: bool,
    }
    impl Wake for Slow {
        fn wake(self: Arc<Self>) {
            if let Some(tx) = self.entered.lock().unwrap().take() {
                let _ = tx.send(());
            }
            if self.channel {
                let _ = self
                    .release
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(10));
            } else {
                let start = Instant::now();
                while !self.released.load(std::sync::atomic::Ordering::SeqCst)
                    && start.elapsed() < Duration::from_secs(10)
                {
                    std::hint::spin_loop();
                }
            }
        }
    }
    let (release_tx, release_rx) = mpsc::channel();
    let (entered_tx, entered_rx) = mpsc::channel();
    let mut slow_sleep = time::sleep(Duration::from_millis(5));
    let slow = Arc::new(Slow {
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(release_rx),
        released: std::sync::atomic::AtomicBool::new(false),
        channel,
    });
    let slow_waker = Waker::from(slow.clone());
    assert!(Pin::new(&mut slow_sleep)
        .poll(&mut Context::from_waker(&slow_waker))
        .is_pending());
    entered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the slow sleep was never woken");
    // The timer thread is inside the slow wake: arm sleeps, earlier and later than anything.
    let (tx, rx) = mpsc::channel();
    let mut sleeps = Vec::new();
    let start = Instant::now();
    for i in 0..50u64 {
        let mut s = time::sleep(Duration::from_millis(1 + i % 7));
        let w = Waker::from(Arc::new(Notify(Mutex::new(Some(tx.clone())))));
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(&w))
            .is_pending());
        sleeps.push(s);
    }
    drop(tx);
    release_tx.send(()).unwrap();
    slow.released
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..50 {
        let at = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a sleep armed during a wake was lost");
        assert!(at >= start + Duration::from_millis(1));
    }
    drop(sleeps);
    drop(slow_sleep);
    assert_eq!(time::pending_sleeps(), base);
}
