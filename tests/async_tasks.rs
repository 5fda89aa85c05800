//! Async tasks and blocking waits on pool threads at their edges: cancellation before the first
//! poll, pinning, tasks nothing can wake, timeouts, values whose destructors panic, spare threads
//! retiring while others block. (Several of these reproduce bugs an independent review found.)
#![cfg(not(feature = "loom"))]

mod common;

use std::marker::PhantomPinned;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{block_workers, pool};

use betterconcurrent::{Error, Future, State, ThreadPoolExecutor};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn an_async_task_cancelled_while_queued_never_runs() {
    let pool = pool(1);
    let (release, holders) = block_workers(&pool, 1);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let victim = pool
        .submit_async(async move { flag.store(true, Ordering::SeqCst) })
        .unwrap();
    assert!(victim.cancel());
    release.send(()).unwrap();
    holders[0].result().unwrap();
    pool.wait_idle().unwrap();
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(victim.state(), State::CancelledAndNotified);
}

/// A body that records where it was polled and checks, when dropped, that it did not move.
struct PinnedBody {
    polled_at: usize,
    polls: u32,
    moved: Arc<AtomicBool>,
    _pinned: PhantomPinned,
}

impl std::future::Future for PinnedBody {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out; the fields are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        this.polled_at = this as *const PinnedBody as usize;
        this.polls += 1;
        if this.polls == 1 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl Drop for PinnedBody {
    fn drop(&mut self) {
        if self.polled_at != 0 && self.polled_at != self as *const PinnedBody as usize {
            self.moved.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_pinned_body_is_dropped_where_it_was_polled() {
    let pool = pool(1);
    let moved = Arc::new(AtomicBool::new(false));
    let body = PinnedBody {
        polled_at: 0,
        polls: 0,
        moved: moved.clone(),
        _pinned: PhantomPinned,
    };
    pool.submit_async(body).unwrap().result().unwrap();
    pool.join().unwrap();
    assert!(
        !moved.load(Ordering::SeqCst),
        "the pinned body moved before its drop"
    );
}

/// Sends on drop: tells the test the task's body (and so the task) was freed.
struct SignalOnDrop(mpsc::Sender<()>);

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

// A task suspended on something that can never wake it, with its future dropped: when the task
// is freed it counts as finished, so join does not wait for it forever.
#[test]
fn a_task_nothing_can_wake_does_not_hang_join() {
    let pool = pool(1);
    let (freed_tx, freed_rx) = mpsc::channel();
    let future = pool
        .submit_async(async move {
            let _signal = SignalOnDrop(freed_tx);
            std::future::pending::<()>().await
        })
        .unwrap();
    drop(future);
    freed_rx.recv().unwrap();
    pool.wait_idle_timeout(LONG).unwrap();
    pool.join().unwrap();
}

// A timed wait on a pool thread does not run the awaited work in place (it could outlast the
// timeout): the timeout is honoured.
#[test]
fn a_timed_wait_on_a_pool_thread_honours_its_timeout() {
    let pool = pool(2);
    let executor = pool.executor();
    let outer = pool
        .submit(move || {
            let stop = Arc::new(AtomicBool::new(false));
            let stop_flag = stop.clone();
            let child = executor
                .submit(move || {
                    while !stop_flag.load(Ordering::SeqCst) {
                        std::hint::spin_loop();
                    }
                    "stopped"
                })
                .unwrap();
            let timed = child.result_timeout(Duration::from_millis(10)).copied();
            stop.store(true, Ordering::SeqCst);
            (timed, child.result().copied())
        })
        .unwrap();
    let (timed, finally) = outer.result().unwrap().clone();
    assert!(matches!(timed, Err(Error::Timeout)), "{timed:?}");
    assert_eq!(finally.unwrap(), "stopped");
}

struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("destructor failure");
        }
    }
}

// A closure run in place, whose value's destructor panics when its queued copy (the last owner)
// is dropped: counted once, so the pool still converges.
#[test]
fn a_task_run_in_place_is_counted_once_even_if_its_value_panics_on_drop() {
    let pool = pool(1);
    let executor = pool.executor();
    pool.submit(move || {
        let child = executor.submit(|| PanicsOnDrop).unwrap();
        let _ = child.result(); // runs the child in place
        drop(child); // the queued copy is now the last owner
    })
    .unwrap()
    .result()
    .unwrap();
    pool.submit(|| ()).unwrap().result().unwrap();
    pool.wait_idle_timeout(LONG).unwrap();
    assert_eq!(pool.submit(|| 3).unwrap().result().unwrap(), &3);
}

// The same, reached by shutdown(cancel_futures): the panic does not escape to the caller.
#[test]
fn shutdown_cancelling_a_copy_whose_value_panics_on_drop_does_not_panic() {
    let pool = pool(1);
    let executor = pool.executor();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = pool
        .submit(move || {
            let child = executor.submit(|| PanicsOnDrop).unwrap();
            let _ = child.result();
            drop(child);
            ready_tx.send(()).unwrap();
            release_rx.recv().unwrap(); // keeps the child's queued copy queued
        })
        .unwrap();
    ready_rx.recv().unwrap();
    pool.shutdown(false, true);
    release_tx.send(()).unwrap();
    holder.result().unwrap();
    pool.join().unwrap();
}

// A blocked worker whose spare retires just as the worker blocks again: a new spare starts, so
// the work that unblocks it always runs.
#[test]
fn a_spare_retiring_as_a_worker_blocks_again_never_strands_work() {
    let pool = pool(1);
    let executor = pool.executor();
    let (gates_tx, gates_rx) = mpsc::channel::<Future<()>>();
    let opener = std::thread::spawn(move || {
        for gate in gates_rx {
            let _ = executor.submit(move || gate.set_result(()).unwrap());
        }
    });
    let rounds = pool
        .submit(move || {
            for _ in 0..3_000 {
                let gate = Future::<()>::new();
                gates_tx.send(gate.clone()).unwrap();
                gate.result().unwrap();
            }
            3_000
        })
        .unwrap();
    assert_eq!(*rounds.result_timeout(LONG).unwrap(), 3_000);
    pool.join().unwrap();
    opener.join().unwrap();
}

// An initializer that blocks waiting does not make the pool start spare threads (which would run
// the initializer again, and block, and start another).
#[test]
fn a_blocking_initializer_does_not_start_spares() {
    let gate = Future::<()>::new();
    let opened = gate.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(move || -> Result<(), std::io::Error> {
            counter.fetch_add(1, Ordering::SeqCst);
            opened.result().unwrap();
            Ok(())
        })
        .build()
        .unwrap();
    let future = pool.submit(|| 1).unwrap();
    while runs.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    gate.set_result(()).unwrap();
    assert_eq!(future.result().unwrap(), &1);
    pool.join().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
