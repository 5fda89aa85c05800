//! Memory of the timer's map, by a counting global allocator (one test, so nothing else in this
//! binary allocates meanwhile): 100,000 armed sleeps cost a bounded number of bytes each, and
//! once they are dropped, or fired, or re-polled with other wakers and then dropped, the heap
//! returns to where it was (the map keeps nothing after a burst), on the process's timer and
//! on a core `Timer`.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::time;
use betterconcurrent::timer::Timer;

mod common;
use common::counting_allocator::{live_bytes, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const N: usize = 100_000;
/// Slack for the allocator's and the test harness's own noise.
const SLACK: isize = 64 * 1024;

struct CountDown {
    left: AtomicUsize,
    done: Mutex<Option<mpsc::Sender<()>>>,
}
impl Wake for CountDown {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.left.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Some(tx) = self.done.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    }
}

fn poll_once(s: &mut time::Sleep, w: &Waker) -> bool {
    Pin::new(s).poll(&mut Context::from_waker(w)).is_pending()
}

#[test]
fn a_burst_of_sleeps_leaves_nothing_behind() {
    // Warm up: the timer, its thread, and the first allocations of the map.
    futures::executor::block_on(time::sleep(Duration::from_millis(1)));
    let base_pending = time::pending_sleeps();
    let mut sleeps: Vec<time::Sleep> = Vec::with_capacity(N);
    let before = live_bytes();

    // Armed, then dropped.
    for i in 0..N {
        let mut s = time::sleep(Duration::from_secs(3600 + i as u64));
        assert!(poll_once(&mut s, futures::task::noop_waker_ref()));
        sleeps.push(s);
    }
    let armed = live_bytes() - before;
    assert_eq!(time::pending_sleeps(), base_pending + N);
    assert!(
        armed < (N as isize) * 256,
        "{} bytes per armed sleep",
        armed / N as isize
    );
    sleeps.clear();
    assert_eq!(time::pending_sleeps(), base_pending);
    let after_drop = live_bytes() - before;
    assert!(
        after_drop < SLACK,
        "{after_drop} bytes left after dropping {N} armed sleeps"
    );

    // Armed with counting wakers, then re-polled with other wakers, then fired.
    let (tx, rx) = mpsc::channel();
    let count = Arc::new(CountDown {
        left: AtomicUsize::new(N),
        done: Mutex::new(Some(tx)),
    });
    let start = Instant::now();
    let other = Waker::from(Arc::new(CountDown {
        left: AtomicUsize::new(usize::MAX),
        done: Mutex::new(None),
    }));
    let w = Waker::from(count.clone());
    for i in 0..N {
        let mut s = time::sleep_until(
            start + Duration::from_millis(1_500) + Duration::from_micros(i as u64 % 1000),
        );
        assert!(poll_once(&mut s, &other), "the test was too slow arming");
        sleeps.push(s);
    }
    for s in &mut sleeps {
        assert!(poll_once(s, &w) || Instant::now() >= start + Duration::from_millis(1_500));
    }
    drop(w);
    drop(other);
    rx.recv_timeout(Duration::from_secs(20))
        .expect("not every sleep fired");
    assert_eq!(time::pending_sleeps(), base_pending);
    sleeps.clear();
    drop(count);
    let after_fire = live_bytes() - before;
    assert!(
        after_fire < SLACK,
        "{after_fire} bytes left after {N} sleeps fired"
    );

    // The same on a core Timer.
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| CLOCK.load(Ordering::SeqCst), |_| {});
    let core_before = live_bytes();
    {
        let mut core_sleeps: Vec<_> = (0..N as u64).map(|i| timer.sleep(1 + i % 977)).collect();
        for s in &mut core_sleeps {
            assert!(Pin::new(s)
                .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
                .is_pending());
        }
        // Half fired, half dropped.
        CLOCK.store(488, Ordering::SeqCst);
        let _ = timer.fire_due();
        assert!(timer.pending() < N);
    }
    assert_eq!(timer.pending(), 0);
    let core_after = live_bytes() - core_before;
    assert!(
        core_after < SLACK,
        "{core_after} bytes left on a core Timer"
    );
}
