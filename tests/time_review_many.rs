//! Many sleeps at once: 100,000 on the process's timer from one thread (each woken once, none
//! before its deadline, none left), 100,000 pool tasks sleeping on two workers, and a core
//! `Timer` hammered by eight threads arming, re-polling and dropping sleeps while a driver
//! thread that only wakes when `arm` or `fire_due` tells it advances the clock (a lost `arm`
//! would hang it: watchdog).
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::timer::Timer;
use betterconcurrent::{time, ThreadPoolExecutor};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records whether it was woken before its deadline; counts wakes; signals when all are in.
struct Stamp {
    deadline: Instant,
    wakes: AtomicUsize,
    shared: Arc<Shared>,
}
struct Shared {
    woken: AtomicUsize,
    early: AtomicUsize,
    total: usize,
    all: Mutex<Option<mpsc::Sender<()>>>,
}
impl Wake for Stamp {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if Instant::now() < self.deadline {
            self.shared.early.fetch_add(1, Ordering::SeqCst);
        }
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if self.shared.woken.fetch_add(1, Ordering::SeqCst) + 1 == self.shared.total {
            if let Some(tx) = self.shared.all.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    }
}

#[test]
fn a_hundred_thousand_sleeps_from_one_thread() {
    let _g = serial();
    let base = time::pending_sleeps();
    let n = 100_000;
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        woken: AtomicUsize::new(0),
        early: AtomicUsize::new(0),
        total: n,
        all: Mutex::new(Some(tx)),
    });
    let start = Instant::now();
    let mut sleeps = Vec::with_capacity(n);
    let mut stamps = Vec::with_capacity(n);
    for i in 0..n {
        let deadline = start
            + Duration::from_millis(2_000)
            + Duration::from_micros((i as u64 * 7919) % 500_000);
        let mut s = time::sleep_until(deadline);
        let stamp = Arc::new(Stamp {
            deadline,
            wakes: AtomicUsize::new(0),
            shared: shared.clone(),
        });
        let w = Waker::from(stamp.clone());
        assert!(
            Pin::new(&mut s)
                .poll(&mut Context::from_waker(&w))
                .is_pending(),
            "the test was too slow arming: its head start is too short"
        );
        sleeps.push(s);
        stamps.push(stamp);
    }
    assert_eq!(time::pending_sleeps(), base + n);
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "only {} of {n} sleeps were woken; {} still armed",
                shared.woken.load(Ordering::SeqCst),
                time::pending_sleeps() - base
            )
        });
    assert_eq!(
        shared.early.load(Ordering::SeqCst),
        0,
        "woken before their deadline"
    );
    assert!(
        stamps.iter().all(|s| s.wakes.load(Ordering::SeqCst) == 1),
        "a sleep woken twice"
    );
    assert_eq!(time::pending_sleeps(), base);
    for s in &mut sleeps {
        assert!(Pin::new(s)
            .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
            .is_ready());
    }
}

#[test]
fn a_hundred_thousand_sleeping_tasks_on_two_workers() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let n = 100_000u64;
    let early = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..n)
        .map(|i| {
            let early = early.clone();
            pool.submit_async(async move {
                let d = Duration::from_micros(100_000 + (i * 7919) % 200_000);
                let start = Instant::now();
                time::sleep(d).await;
                if start.elapsed() < d {
                    early.fetch_add(1, Ordering::SeqCst);
                }
            })
            .unwrap()
        })
        .collect();
    for f in &futures {
        f.result_timeout(Duration::from_secs(30))
            .expect("a sleeping task never finished");
    }
    assert_eq!(early.load(Ordering::SeqCst), 0);
    assert_eq!(time::pending_sleeps(), base);
}

static CLOCK: AtomicU64 = AtomicU64::new(0);
/// The earliest deadline `arm` announced since the driver last looked (u64::MAX: none).
static ANNOUNCED: Mutex<u64> = Mutex::new(u64::MAX);
static ANNOUNCE: Condvar = Condvar::new();

#[test]
fn eight_threads_against_a_driver_that_wakes_only_when_told() {
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(
        || CLOCK.load(Ordering::SeqCst),
        |d| {
            let mut a = ANNOUNCED.lock().unwrap();
            *a = (*a).min(d);
            ANNOUNCE.notify_all();
        },
    )));
    let stop = Arc::new(AtomicBool::new(false));
    // The driver: fire, then wait until the clock may be advanced to the next deadline it
    // knows of (from fire_due or arm), and advance it there; with none, wait for an arm.
    let driver = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut next = None;
            while !stop.load(Ordering::SeqCst) {
                let target = {
                    let mut a = ANNOUNCED.lock().unwrap();
                    loop {
                        let t = next.unwrap_or(u64::MAX).min(*a);
                        if t != u64::MAX || stop.load(Ordering::SeqCst) {
                            *a = u64::MAX;
                            break t;
                        }
                        a = ANNOUNCE
                            .wait_timeout(a, Duration::from_millis(50))
                            .unwrap()
                            .0;
                    }
                };
                if target != u64::MAX {
                    CLOCK.fetch_max(target, Ordering::SeqCst);
                }
                next = timer.fire_due();
            }
        })
    };
    let threads = 8;
    let per_thread = 2_000;
    let (done_tx, done_rx) = mpsc::channel();
    for t in 0..threads {
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let mut rng = (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let mut early = 0;
            for _ in 0..per_thread {
                let mut s = timer.sleep(1 + next() % 100);
                // Sometimes drop one armed sleep first.
                if next() % 4 == 0 {
                    let mut d = timer.sleep(next() % 100);
                    let _ = Pin::new(&mut d)
                        .poll(&mut Context::from_waker(futures::task::noop_waker_ref()));
                }
                let thread = std::thread::current();
                let w = Waker::from(Arc::new(Unpark(thread)));
                loop {
                    // Each round a fresh waker (a re-poll that replaces it).
                    let w = if next() % 2 == 0 {
                        w.clone()
                    } else {
                        Waker::from(Arc::new(Unpark(std::thread::current())))
                    };
                    if Pin::new(&mut s)
                        .poll(&mut Context::from_waker(&w))
                        .is_ready()
                    {
                        break;
                    }
                    std::thread::park();
                }
                if timer.now() < s.deadline() {
                    early += 1;
                }
            }
            let _ = done_tx.send(early);
        });
    }
    drop(done_tx);
    let mut early = 0;
    for _ in 0..threads {
        early += done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("HANG: a sleeper never woke: the driver was not told of its deadline");
    }
    stop.store(true, Ordering::SeqCst);
    ANNOUNCE.notify_all();
    driver.join().unwrap();
    assert_eq!(early, 0);
    assert_eq!(timer.pending(), 0);
}

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark()
    }
}
