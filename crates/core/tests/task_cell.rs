//! The core's task cell and future, driven by a minimal single-queue executor: every path through
//! the unsafe code (closure claim, async poll with pinning, drop in place, wakes while idle and
//! while running, in-place runs, watches, freeing an unfinished task). Small enough for Miri:
//! `cargo +nightly miri test -p betterconcurrent-core`.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use betterconcurrent_core::executor::{RunOutcome, Schedule, Task};
use betterconcurrent_core::{Error, Future, State};

mod common {
    pub mod counting_waker;
    pub mod drop_count;
    pub mod queue;
}
use common::counting_waker::CountingWaker;
use common::drop_count::DropCount;
use common::queue::Queue;

/// A future that is pending until its flag is set, registering the waker each time.
struct Gate {
    open: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl std::future::Future for Gate {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.open.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.open.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn gate() -> (Gate, Arc<AtomicBool>, Arc<Mutex<Option<Waker>>>) {
    let open = Arc::new(AtomicBool::new(false));
    let waker = Arc::new(Mutex::new(None));
    (
        Gate {
            open: open.clone(),
            waker: waker.clone(),
        },
        open,
        waker,
    )
}

#[test]
fn a_closure_task_runs_once_and_completes_its_future() {
    let queue = Queue::new();
    let (task, future) = Task::from_closure(|| String::from("done"), Some(queue.handle()));
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 1);
    assert_eq!(future.try_result().unwrap().unwrap(), "done");
    assert_eq!(
        future.executor_as(|queue: &Queue| queue as *const Queue),
        Some(Arc::as_ptr(&queue))
    );
}

#[test]
fn a_closure_run_in_place_is_counted_once_and_its_queued_copy_is_a_no_op() {
    let queue = Queue::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let (task, future) = Task::from_closure(
        move || counter.fetch_add(1, Ordering::SeqCst),
        Some(queue.handle()),
    );
    assert!(future.run_here());
    assert!(!future.run_here(), "claimed once");
    assert_eq!(queue.ended_elsewhere(), 1);
    assert_eq!(task.run(|| {}), RunOutcome::RanElsewhere);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[test]
fn a_cancelled_closure_task_never_runs() {
    let (task, future) = Task::from_closure(|| -> u8 { panic!("must not run") }, None);
    assert!(future.cancel());
    assert_eq!(task.run(|| {}), RunOutcome::Completed);
    assert_eq!(future.state(), State::CancelledAndNotified);
}

#[test]
fn a_detached_task_runs_its_closure_once_and_drops_it_once() {
    let (ran, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (counter, guard) = (ran.clone(), DropCount(drops.clone()));
    let task = Task::detached(move || {
        let _guard = guard;
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert!(
        task.watch().is_none(),
        "nothing to watch: it never suspends"
    );
    let mut before_complete = 0;
    assert_eq!(task.run(|| before_complete += 1), RunOutcome::Completed);
    assert_eq!(before_complete, 1);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_cancelled_or_failed_detached_task_drops_its_closure_unrun() {
    for end in [Task::cancel as fn(Task) -> bool, |task| {
        task.fail(Error::Shutdown)
    }] {
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCount(drops.clone());
        let task = Task::detached(move || {
            let _guard = guard;
            panic!("must not run");
        });
        assert!(end(task), "the one handle always ends its task");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

#[cfg(feature = "std")]
#[test]
fn a_panicking_detached_task_reports_panicked() {
    let task = Task::detached(|| panic!("counted by the executor"));
    assert_eq!(task.execute(|| {}), RunOutcome::Panicked);
}

#[test]
fn failing_and_cancelling_queued_tasks_end_their_futures() {
    let queue = Queue::new();
    let (closure, closure_future) = Task::from_closure(|| 1u8, Some(queue.handle()));
    assert!(closure.fail(Error::Shutdown));
    assert!(matches!(
        closure_future.try_result(),
        Some(Err(Error::Shutdown))
    ));
    let (body, body_future) = Task::from_async(async { 2u8 }, queue.handle());
    assert!(body.cancel());
    assert_eq!(body_future.state(), State::CancelledAndNotified);
}

#[test]
fn an_async_task_suspends_and_resumes_when_woken() {
    let queue = Queue::new();
    let (gate, open, waker) = gate();
    let (task, future) = Task::from_async(
        async move {
            gate.await;
            7u32
        },
        queue.handle(),
    );
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 0, "suspended");
    assert_eq!(future.state(), State::Running);
    open.store(true, Ordering::SeqCst);
    waker.lock().unwrap().take().unwrap().wake();
    assert_eq!(queue.run_all(), 1);
    assert_eq!(future.try_result().unwrap().unwrap(), &7);
}

/// Wakes itself during its first poll: the NOTIFIED path re-queues it.
struct WakeSelfOnce(bool);

impl std::future::Future for WakeSelfOnce {
    type Output = u8;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
        if self.0 {
            Poll::Ready(3)
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            cx.waker().wake_by_ref(); // a second wake while running is absorbed
            Poll::Pending
        }
    }
}

#[test]
fn a_wake_while_running_requeues_the_task_once() {
    let queue = Queue::new();
    let (task, future) = Task::from_async(WakeSelfOnce(false), queue.handle());
    queue.clone().schedule(task);
    let first = queue.pop().unwrap();
    assert_eq!(first.run(|| {}), RunOutcome::Suspended);
    assert_eq!(queue.len(), 1, "queued again exactly once");
    assert_eq!(queue.run_all(), 1);
    assert_eq!(future.try_result().unwrap().unwrap(), &3);
}

#[test]
fn an_async_task_cancelled_before_its_first_poll_is_never_polled() {
    let queue = Queue::new();
    let polled = Arc::new(AtomicBool::new(false));
    let flag = polled.clone();
    let (task, future) = Task::from_async(
        async move { flag.store(true, Ordering::SeqCst) },
        queue.handle(),
    );
    assert!(future.cancel());
    assert_eq!(task.run(|| {}), RunOutcome::Completed);
    assert!(!polled.load(Ordering::SeqCst));
    assert_eq!(future.state(), State::CancelledAndNotified);
}

#[test]
fn a_watch_wakes_a_suspended_task() {
    let queue = Queue::new();
    let (gate, _open, registered_waker) = gate();
    let (task, future) = Task::from_async(gate, queue.handle());
    let watch = task.watch().expect("async tasks have a watch");
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 0);
    watch.wake();
    let woken = queue.pop().expect("queued by the watch");
    assert!(woken.cancel());
    assert!(future.cancelled());
    assert!(
        !watch.is_dropped(),
        "the registered waker still holds the task"
    );
    drop(future);
    drop(registered_waker.lock().unwrap().take());
    assert!(watch.is_dropped());
}

#[test]
fn freeing_an_unfinished_async_task_counts_it_finished() {
    let queue = Queue::new();
    let (gate, _open, waker) = gate();
    let (task, future) = Task::from_async(gate, queue.handle());
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 0);
    drop(future);
    drop(waker.lock().unwrap().take()); // the last handle: nothing can wake it now
    assert_eq!(queue.ended_elsewhere(), 1);
}

/// Records where it was polled; its destructor checks it was not moved.
struct Pinned {
    polled_at: usize,
    moved: Arc<AtomicBool>,
    _pinned: PhantomPinned,
}

impl std::future::Future for Pinned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of the pinned value.
        let this = unsafe { self.get_unchecked_mut() };
        this.polled_at = this as *const Pinned as usize;
        Poll::Pending
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.polled_at != 0 && self.polled_at != self as *const Pinned as usize {
            self.moved.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_pinned_body_is_dropped_in_place() {
    let queue = Queue::new();
    let moved = Arc::new(AtomicBool::new(false));
    let body = Pinned {
        polled_at: 0,
        moved: moved.clone(),
        _pinned: PhantomPinned,
    };
    let (task, future) = Task::from_async(body, queue.handle());
    let watch = task.watch().unwrap();
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 0);
    watch.wake();
    let woken = queue.pop().unwrap();
    assert!(woken.cancel());
    assert!(future.cancelled());
    assert!(!moved.load(Ordering::SeqCst));
}

#[test]
fn waits_register_once_and_clean_up() {
    let future = Future::<u8>::new();
    let (counter, waker) = CountingWaker::new();
    let mut wait = future.yield_until_done();
    for _ in 0..3 {
        assert!(Pin::new(&mut wait)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    assert_eq!(future.waiter_count(), 1);
    let mut abandoned = future.yield_until_done();
    assert!(Pin::new(&mut abandoned)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(abandoned);
    assert_eq!(future.waiter_count(), 1);
    future.set_result(5).unwrap();
    assert_eq!(counter.wakes(), 1);
    assert!(Pin::new(&mut wait)
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
}

#[test]
fn completion_on_another_thread_wakes_the_waiter() {
    let future = Future::<u8>::new();
    let (counter, waker) = CountingWaker::new();
    let mut wait = future.yield_until_done();
    let registered = Pin::new(&mut wait)
        .poll(&mut Context::from_waker(&waker))
        .is_pending();
    let setter = future.clone();
    std::thread::spawn(move || setter.set_result(9).unwrap())
        .join()
        .unwrap();
    if registered {
        assert_eq!(counter.wakes(), 1);
    }
    assert_eq!(future.try_result().unwrap().unwrap(), &9);
}

/// An async body that holds a drop counter and awaits a gate.
async fn counted_wait(_held: DropCount, gate: Gate) {
    gate.await;
}

#[test]
fn an_aborted_queued_task_is_ended_unpolled_and_its_body_dropped_once() {
    let queue = Queue::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let (gate, _open, registered_waker) = gate();
    let (task, future) =
        Task::from_async(counted_wait(DropCount(drops.clone()), gate), queue.handle());
    let watch = task.watch().expect("async tasks have a watch");
    queue.clone().schedule(task);
    let taken = queue.pop().expect("queued");
    // Aborted after a worker took it from the queue, before the poll.
    watch.abort();
    assert_eq!(taken.run(|| {}), RunOutcome::Completed);
    assert!(registered_waker.lock().unwrap().is_none(), "never polled");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(future.state(), State::CancelledAndNotified);
    assert_eq!(queue.len(), 0);
}

#[test]
fn an_aborted_suspended_task_is_queued_and_ended_by_its_next_run() {
    let queue = Queue::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let (gate, _open, _registered_waker) = gate();
    let (task, future) =
        Task::from_async(counted_wait(DropCount(drops.clone()), gate), queue.handle());
    let watch = task.watch().expect("async tasks have a watch");
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 0, "suspended on the gate");
    watch.abort();
    assert_eq!(queue.len(), 1, "the abort queued it");
    assert_eq!(queue.run_all(), 1);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(future.cancelled());
    watch.abort(); // aborting a finished task does nothing
    assert_eq!(queue.len(), 0);
}

/// Aborts its own task (through a watch handed in) during its first poll, then suspends.
struct AbortsWhilePolled {
    watch: Arc<Mutex<Option<betterconcurrent_core::executor::TaskWatch>>>,
    _held: DropCount,
}

impl std::future::Future for AbortsWhilePolled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(watch) = self.watch.lock().unwrap().take() {
            watch.abort();
        }
        cx.waker().wake_by_ref(); // a wake during the poll does not resurrect it either
        Poll::Pending
    }
}

#[test]
fn a_task_aborted_while_it_runs_ends_when_the_poll_returns() {
    let queue = Queue::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new(None));
    let (task, future) = Task::from_async(
        AbortsWhilePolled {
            watch: slot.clone(),
            _held: DropCount(drops.clone()),
        },
        queue.handle(),
    );
    *slot.lock().unwrap() = task.watch();
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 1, "ended by the poll that saw the abort");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(future.cancelled());
    assert_eq!(queue.len(), 0, "not queued again");
}

/// Catching a panic needs `std` (without it, a panic in user code aborts, as `no_std` does).
#[cfg(feature = "std")]
#[test]
fn a_body_whose_destructor_panics_ends_the_task_panicked() {
    struct PanicsWhenDropped;
    impl std::future::Future for PanicsWhenDropped {
        type Output = u8;
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u8> {
            Poll::Ready(1)
        }
    }
    impl Drop for PanicsWhenDropped {
        fn drop(&mut self) {
            panic!("destructor");
        }
    }
    let queue = Queue::new();
    let (task, future) = Task::from_async(PanicsWhenDropped, queue.handle());
    assert_eq!(task.execute(|| {}), RunOutcome::Panicked);
    assert!(matches!(future.try_result(), Some(Err(Error::Panicked(_)))));
}

#[test]
fn scoped_tasks_borrow_locals_and_their_futures_and_wakers_outlive_the_borrow() {
    let queue = Queue::new();
    let handle = queue.handle();
    let (gate, open, waker) = gate();
    let mut total = 0u64;
    let (future, async_future, stale_waker) = {
        let words = vec![String::from("borrowed"), String::from("data")];
        let (words, total) = (&words, &mut total);
        // SAFETY: the task runs to its end below, before `words` is dropped.
        let (closure, future) =
            unsafe { Task::from_closure_scoped(move || words[0].len(), Some(queue.handle())) };
        let add = move || *total += words[1].len() as u64;
        // SAFETY: run below, while `total` and `words` are borrowed; `handle` outlives it.
        let detached = unsafe { Task::detached_with(add, &handle) };
        // SAFETY: completes below (the gate opens), before `words` is dropped.
        let (async_task, async_future) = unsafe {
            Task::from_async_scoped(
                async move {
                    gate.await;
                    words.iter().map(String::len).sum::<usize>()
                },
                queue.handle(),
            )
        };
        queue.clone().schedule(closure);
        queue.clone().schedule(async_task);
        assert_eq!(detached.run(|| {}), RunOutcome::Completed);
        assert_eq!(
            queue.run_all(),
            1,
            "the closure ran, the async body suspended"
        );
        open.store(true, Ordering::SeqCst);
        let stale_waker = waker.lock().unwrap().clone().unwrap();
        waker.lock().unwrap().take().unwrap().wake();
        assert_eq!(queue.run_all(), 1, "the async body completed");
        (future, async_future, stale_waker)
    };
    // The borrowed data is gone; what is left touches the cells' states and outcomes only.
    assert_eq!(total, 4);
    assert_eq!(future.try_result().unwrap().unwrap(), &8);
    assert_eq!(async_future.into_outcome().unwrap().unwrap(), 12);
    stale_waker.wake();
    assert_eq!(queue.len(), 0, "a complete task is not queued again");
}

#[test]
fn an_error_is_three_words_so_a_task_cells_outcome_slot_does_not_grow() {
    // A `Panic` (message and payload) is one pointer; W7 counts every byte of the cell.
    assert!(std::mem::size_of::<Error>() <= 3 * std::mem::size_of::<usize>());
}

#[test]
fn future_abort_ends_a_suspended_task_through_its_executor_and_drops_its_body_once() {
    let queue = Queue::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let (gate, _open, _waker) = gate();
    let kept = DropCount(drops.clone());
    let (task, future) = Task::from_async(
        async move {
            let _kept = kept;
            gate.await;
        },
        queue.handle(),
    );
    queue.clone().schedule(task);
    assert_eq!(queue.run_all(), 0, "suspended");
    assert!(future.abort(), "queued again by the abort");
    assert_eq!(queue.run_all(), 1, "ended by its next run");
    assert!(future.cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(!future.abort(), "nothing left to abort");
}
