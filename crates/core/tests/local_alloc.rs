//! The `LocalExecutor`'s promise to firmware: once tasks are spawned, running them allocates
//! nothing, however many times they suspend and are woken. A counting global allocator (counting
//! only this test's thread, so the harness's own threads do not disturb it) checks it.
#![cfg(not(feature = "loom"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};

use betterconcurrent_core::local::LocalExecutor;
use betterconcurrent_core::{yield_until_done, Future};

mod common {
    pub mod doorbell;
}
use common::doorbell::Doorbell;

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the thread-locals may already be gone while a thread exits.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; counting touches only const-initialised
// thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made on this thread while `f` runs.
fn allocations_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|counting| counting.set(true));
    let result = f();
    COUNTING.with(|counting| counting.set(false));
    (result, ALLOCATIONS.with(Cell::get))
}

/// Ready on its second poll, having woken itself: one suspend/wake cycle through the path where
/// the wake arrives while the task is being polled.
struct YieldNow(bool);

impl StdFuture for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

const CYCLES: usize = 200;
const WORKERS: u64 = 8;

#[test]
fn running_spawned_tasks_through_many_suspend_wake_cycles_allocates_nothing() {
    let executor = LocalExecutor::<32>::new();
    let doorbell = Doorbell::new();

    // Workers each yield CYCLES times; a relay awaits each worker in turn (one cross-task wake
    // per worker); a listener waits for a doorbell rung by another thread; the root awaits the
    // relay and the listener.
    let workers: Vec<Future<u64>> = (0..WORKERS)
        .map(|i| {
            executor
                .spawn(async move {
                    for _ in 0..CYCLES {
                        YieldNow(false).await;
                    }
                    i
                })
                .unwrap()
        })
        .collect();
    let relay_inputs = workers.clone();
    let relay = executor
        .spawn(async move {
            let mut sum = 0;
            for worker in &relay_inputs {
                sum += *worker.await.unwrap();
            }
            sum
        })
        .unwrap();
    let rung = doorbell.rung();
    let listener = executor
        .spawn(async move {
            rung.await;
            7u64
        })
        .unwrap();
    // Each future has one waiter at a time: the first waiter of a future is stored inline; a
    // second simultaneous one would allocate the future's waiter list once (documented).
    let all = vec![relay.clone(), listener.clone()];
    let root = executor
        .spawn(async move {
            yield_until_done(&all).await;
            all.iter()
                .map(|f| *f.try_result().unwrap().unwrap())
                .sum::<u64>()
        })
        .unwrap();

    // The "interrupt": another thread rings the doorbell once the listener has suspended, and
    // counts its own allocations while it wakes the task.
    let (fire_tx, fire_rx) = mpsc::channel::<()>();
    let ringer = std::thread::spawn(move || {
        fire_rx.recv().unwrap();
        allocations_during(|| doorbell.ring()).1
    });

    // Phase 1: everything runs until only the listener is left, suspended on the doorbell.
    let (polls, allocations_before_ring) = allocations_during(|| executor.run_until_idle());
    assert!(!listener.done() && root.try_result().is_none());
    fire_tx.send(()).unwrap();
    // Phase 2: the ring wakes the listener from the other thread; join runs the rest.
    let ((), allocations_after_ring) = allocations_during(|| executor.join());
    let allocations_by_the_waker = ringer.join().unwrap();

    let expected_sum = (0..WORKERS).sum::<u64>() + 7;
    assert_eq!(*root.try_result().unwrap().unwrap(), expected_sum);
    assert_eq!(executor.outstanding(), 0);
    assert!(
        polls >= WORKERS as usize * CYCLES,
        "the tasks went through at least {} polls before idling: {polls}",
        WORKERS as usize * CYCLES
    );
    assert_eq!(
        (
            allocations_before_ring,
            allocations_after_ring,
            allocations_by_the_waker
        ),
        (0, 0, 0),
        "allocations while running {polls}+ polls, after the ring, and by the ringing thread"
    );
}
