//! The core's timer on clocks advanced by hand: deadline order, ties in arming order, arming
//! tells the driver only about a new earliest deadline, dropped and re-polled sleeps, firing in
//! batches, a panicking waker, and `Timeout`. Small enough for Miri.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use betterconcurrent_core::timer::{Elapsed, Sleep, Timer, FIRE_BATCH};
use betterconcurrent_core::Error;

mod common {
    pub mod counting_waker;
}
use common::counting_waker::CountingWaker;

/// A waker that appends its id to a shared log when woken.
struct Recorder {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

fn recorder(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> Waker {
    Waker::from(Arc::new(Recorder {
        id,
        log: log.clone(),
    }))
}

fn poll_with(sleep: &mut Sleep<'_>, waker: &Waker) -> Poll<()> {
    Pin::new(sleep).poll(&mut Context::from_waker(waker))
}

#[test]
fn sleeps_fire_in_deadline_order_and_ties_in_arming_order() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    // Deadlines 1..=50 in a scrambled order, and a tie: ids 100 and 101 both at 25.
    let mut deadlines: Vec<(usize, u64)> = (1..=50u64)
        .map(|d| (d as usize, (d * 37) % 50 + 1))
        .collect();
    deadlines.push((100, 25));
    deadlines.push((101, 25));
    let mut sleeps: Vec<Sleep<'_>> = Vec::new();
    for &(id, deadline) in &deadlines {
        let mut sleep = timer.sleep_until(deadline);
        assert!(poll_with(&mut sleep, &recorder(id, &log)).is_pending());
        sleeps.push(sleep);
    }
    assert_eq!(timer.pending(), deadlines.len());
    for now in 1..=50 {
        TICKS.store(now, Ordering::SeqCst);
        let next = timer.fire_due();
        assert_eq!(next, (now < 50).then_some(now + 1));
    }
    let mut expected = deadlines.clone();
    expected.sort_by_key(|&(id, deadline)| (deadline, id));
    let expected: Vec<usize> = expected.into_iter().map(|(id, _)| id).collect();
    assert_eq!(*log.lock().unwrap(), expected);
    assert_eq!(timer.pending(), 0);
    let waker = &CountingWaker::new().1;
    for sleep in &mut sleeps {
        assert!(poll_with(sleep, waker).is_ready());
    }
}

#[test]
fn arming_tells_the_driver_only_about_a_new_earliest_deadline() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    static ARMED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let timer = Timer::new(
        || TICKS.load(Ordering::SeqCst),
        |at| ARMED.lock().unwrap().push(at),
    );
    let waker = &CountingWaker::new().1;
    let mut sleeps: Vec<_> = [10, 20, 5, 7, 3].map(|d| timer.sleep_until(d)).into();
    for sleep in &mut sleeps {
        assert!(poll_with(sleep, waker).is_pending());
    }
    assert_eq!(*ARMED.lock().unwrap(), [10, 5, 3]);
    TICKS.store(3, Ordering::SeqCst);
    // The driver now wakes for 5: a sleep at 6 needs no call, one at 4 does.
    assert_eq!(timer.fire_due(), Some(5));
    let mut later = timer.sleep_until(6);
    let mut earlier = timer.sleep_until(4);
    assert!(poll_with(&mut later, waker).is_pending());
    assert!(poll_with(&mut earlier, waker).is_pending());
    assert_eq!(*ARMED.lock().unwrap(), [10, 5, 3, 4]);
    // With nothing left the driver sleeps until armed: the next arming calls again.
    drop((sleeps, later, earlier));
    TICKS.store(100, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None);
    let mut again = timer.sleep(1);
    assert!(poll_with(&mut again, waker).is_pending());
    assert_eq!(*ARMED.lock().unwrap(), [10, 5, 3, 4, 101]);
}

#[test]
fn a_dropped_sleep_leaves_no_entry_and_is_never_woken() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {});
    let (counter, waker) = CountingWaker::new();
    let mut kept = timer.sleep(5);
    assert!(poll_with(&mut kept, &waker).is_pending());
    for ticks in 1..=1000 {
        let mut sleep = timer.sleep(ticks);
        assert!(poll_with(&mut sleep, &waker).is_pending());
    }
    // Each was dropped at the end of its iteration; an unpolled sleep is never armed.
    let unpolled = timer.sleep(3);
    assert_eq!(timer.pending(), 1);
    drop(unpolled);
    TICKS.store(10_000, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None);
    assert_eq!(counter.wakes(), 1, "only the kept sleep was woken");
    assert!(poll_with(&mut kept, &waker).is_ready());
}

#[test]
fn a_repoll_with_another_waker_moves_the_wake_to_it() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {});
    let (first, first_waker) = CountingWaker::new();
    let (second, second_waker) = CountingWaker::new();
    let mut sleep = timer.sleep(2);
    assert!(poll_with(&mut sleep, &first_waker).is_pending());
    assert!(poll_with(&mut sleep, &second_waker).is_pending());
    assert!(poll_with(&mut sleep, &second_waker).is_pending());
    assert_eq!(timer.pending(), 1);
    TICKS.store(2, Ordering::SeqCst);
    timer.fire_due();
    assert_eq!((first.wakes(), second.wakes()), (0, 1));
    assert!(poll_with(&mut sleep, &second_waker).is_ready());
    assert!(
        poll_with(&mut sleep, &second_waker).is_ready(),
        "ready again"
    );
}

#[test]
fn a_sleep_polled_past_its_deadline_is_ready_without_the_driver_and_removes_its_entry() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {});
    let (counter, waker) = CountingWaker::new();
    let mut sleep = timer.sleep(4);
    assert!(!sleep.is_elapsed());
    assert!(poll_with(&mut sleep, &waker).is_pending());
    TICKS.store(4, Ordering::SeqCst);
    assert!(sleep.is_elapsed());
    assert!(poll_with(&mut sleep, &waker).is_ready());
    assert_eq!(timer.pending(), 0);
    assert_eq!(timer.fire_due(), None);
    assert_eq!(counter.wakes(), 0);
    // Already due when first polled: never armed.
    let mut due = timer.sleep_until(1);
    assert!(poll_with(&mut due, &waker).is_ready());
    assert_eq!(timer.pending(), 0);
}

#[test]
fn one_firing_wakes_more_than_a_batch() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {});
    let (counter, waker) = CountingWaker::new();
    let count = FIRE_BATCH * 3 + 5;
    let mut sleeps: Vec<_> = (0..count).map(|_| timer.sleep(1)).collect();
    let mut later = timer.sleep(9);
    for sleep in sleeps.iter_mut().chain([&mut later]) {
        assert!(poll_with(sleep, &waker).is_pending());
    }
    TICKS.store(1, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), Some(9));
    assert_eq!(counter.wakes(), count);
    assert_eq!(timer.pending(), 1);
}

#[test]
fn a_panicking_waker_is_reported_and_the_others_are_still_woken() {
    struct Panics;
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics");
        }
    }
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {});
    let (counter, waker) = CountingWaker::new();
    let mut before = timer.sleep(1);
    let mut panicking = timer.sleep(1);
    let mut after = timer.sleep(1);
    assert!(poll_with(&mut before, &waker).is_pending());
    assert!(poll_with(&mut panicking, &Waker::from(Arc::new(Panics))).is_pending());
    assert!(poll_with(&mut after, &waker).is_pending());
    TICKS.store(1, Ordering::SeqCst);
    assert_eq!(timer.fire_due(), None);
    assert_eq!(counter.wakes(), 2);
}

/// A future that is ready after it has been polled `polls` times, waking itself each time.
struct ReadyAfter(usize);

impl std::future::Future for ReadyAfter {
    type Output = &'static str;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        if self.0 == 0 {
            return Poll::Ready("done");
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_timeout_gives_the_output_or_elapsed_and_the_future_wins_a_tie() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let timer = Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {});
    let waker = &CountingWaker::new().1;
    let mut cx = Context::from_waker(waker);

    let mut in_time = pin!(timer.timeout(5, ReadyAfter(2)));
    assert!(in_time.as_mut().poll(&mut cx).is_pending());
    assert!(in_time.as_mut().poll(&mut cx).is_pending());
    assert_eq!(in_time.as_mut().poll(&mut cx), Poll::Ready(Ok("done")));

    let mut late = pin!(timer.timeout(5, ReadyAfter(usize::MAX)));
    assert!(late.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        timer.pending(),
        2,
        "the first timeout's sleep is still armed until dropped"
    );
    TICKS.store(5, Ordering::SeqCst);
    assert_eq!(late.as_mut().poll(&mut cx), Poll::Ready(Err(Elapsed)));

    // At the deadline, a future that is ready wins.
    let mut tie = pin!(timer.timeout_at(5, ReadyAfter(0)));
    assert_eq!(tie.as_mut().poll(&mut cx), Poll::Ready(Ok("done")));

    assert!(matches!(Error::from(Elapsed), Error::Timeout));
    assert_eq!(Elapsed.to_string(), "deadline has elapsed");
}

#[test]
fn sleeps_are_woken_across_threads_by_a_driver_thread() {
    static TICKS: AtomicU64 = AtomicU64::new(0);
    static WOKEN: AtomicUsize = AtomicUsize::new(0);
    let timer = Arc::new(Timer::new(|| TICKS.load(Ordering::SeqCst), |_| {}));
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            let timer = timer.clone();
            std::thread::spawn(move || {
                let (counter, waker) = CountingWaker::new();
                let mut sleep = timer.sleep_until(i + 1);
                if poll_with(&mut sleep, &waker).is_pending() {
                    while counter.wakes() == 0 {
                        std::thread::yield_now();
                    }
                }
                assert!(poll_with(&mut sleep, &waker).is_ready());
                WOKEN.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    while WOKEN.load(Ordering::SeqCst) < 4 {
        TICKS.fetch_add(1, Ordering::SeqCst);
        timer.fire_due();
        std::thread::yield_now();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(timer.pending(), 0);
}
