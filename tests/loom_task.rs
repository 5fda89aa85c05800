//! loom models of the task cell's protocols (crates/core/src/task.rs), run by
//! `cargo test --features loom`: the async state word under concurrent wakes, the closure claim
//! that lets a task run either from its queue or in place, and panics on the completion path.
//! The executor here is a one-queue stand-in whose queue is a loom mutex, so loom sees every
//! step; the task cell and the future are the real ones.
#![cfg(feature = "loom")]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use betterconcurrent::executor::{RunOutcome, Task};
use betterconcurrent::{Error, Future};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Mutex;
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[path = "shared_with_core/counting_waker.rs"]
mod counting_waker;
#[path = "shared_with_core/queue.rs"]
mod queue;
use counting_waker::CountingWaker;
use queue::Queue;

/// A body that is ready once `flag` is set; it registers its waker, then re-checks the flag
/// (the check-then-register pattern every waker-based future uses), and asserts it is never
/// polled by two threads at once.
struct Flagged {
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    in_poll: Arc<AtomicBool>,
}

impl std::future::Future for Flagged {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        assert!(
            !self.in_poll.swap(true, Ordering::SeqCst),
            "polled by two threads at once"
        );
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        let ready = self.flag.load(Ordering::SeqCst);
        self.in_poll.store(false, Ordering::SeqCst);
        if ready {
            Poll::Ready(1)
        } else {
            Poll::Pending
        }
    }
}

/// An async task around a [`Flagged`] body, with the body's flag and waker slot.
fn flagged_task(queue: &Arc<Queue>) -> (Task, Future<u32>, Arc<AtomicBool>, WakerSlot) {
    let flag = Arc::new(AtomicBool::new(false));
    let slot: WakerSlot = Arc::new(Mutex::new(None));
    let body = Flagged {
        flag: flag.clone(),
        slot: slot.clone(),
        in_poll: Arc::new(AtomicBool::new(false)),
    };
    let (task, future) = Task::from_async(body, queue.handle());
    (task, future, flag, slot)
}

type WakerSlot = Arc<Mutex<Option<Waker>>>;

/// A wake arriving while the task is being polled (or before, or after): the task is polled
/// again, never twice at once, and completes: the wake is never lost.
#[test]
fn a_wake_racing_the_poll_is_never_lost() {
    model(|| {
        let queue = Queue::new();
        let (task, future, flag, slot) = flagged_task(&queue);
        let waker_thread = thread::spawn(move || {
            flag.store(true, Ordering::SeqCst);
            let waker = slot.lock().unwrap().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        let mut completed = task.run(|| {}) == RunOutcome::Completed;
        waker_thread.join().unwrap();
        while let Some(task) = queue.pop() {
            completed |= task.run(|| {}) == RunOutcome::Completed;
        }
        assert!(completed, "the task completed: no wake was lost");
        assert_eq!(future.try_result().unwrap().unwrap(), &1);
    });
}

/// Two wakes racing each other and the poll: the task is queued at most once at a time.
#[test]
fn concurrent_wakes_queue_the_task_at_most_once() {
    model(|| {
        let queue = Queue::new();
        let (task, future, flag, slot) = flagged_task(&queue);
        assert_eq!(task.run(|| {}), RunOutcome::Suspended);
        let waker = slot.lock().unwrap().take().unwrap();
        let second = waker.clone();
        let other = thread::spawn(move || second.wake());
        flag.store(true, Ordering::SeqCst);
        waker.wake();
        other.join().unwrap();
        let queued = queue.len();
        assert_eq!(queued, 1, "woken twice while idle, queued once");
        assert_eq!(queue.pop().unwrap().run(|| {}), RunOutcome::Completed);
        assert_eq!(future.try_result().unwrap().unwrap(), &1);
    });
}

/// A closure's queued copy racing an in-place run through its future: exactly one runs it, and
/// it is counted finished exactly once.
#[test]
fn a_queued_run_racing_an_in_place_run_runs_the_closure_once() {
    model(|| {
        let queue = Queue::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let (task, future) = Task::from_closure(
            move || counter.fetch_add(1, Ordering::SeqCst),
            Some(queue.handle()),
        );
        let helper = {
            let future = future.clone();
            thread::spawn(move || future.run_here())
        };
        let from_queue = task.run(|| {});
        let in_place = helper.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the closure ran once");
        let counted_by_queue = from_queue == RunOutcome::Completed;
        assert_ne!(counted_by_queue, in_place, "exactly one side ran it");
        assert_eq!(
            queue.ended_elsewhere(),
            usize::from(in_place),
            "counted once"
        );
        assert!(future.done());
    });
}

/// A task that panics, with a panicking done callback, completing while another thread
/// registers a waiter: the future holds the panic, the other callback runs, and a registered
/// waiter is woken. (DESIGN.md section 6, cases 3 and 4.)
#[test]
fn a_panicking_task_and_callback_still_wake_waiters() {
    model(|| {
        let queue = Queue::new();
        let (task, future) =
            Task::from_closure(|| -> u32 { panic!("task failure") }, Some(queue.handle()));
        let ran = Arc::new(AtomicBool::new(false));
        future.add_done_callback(|_| panic!("callback failure"));
        let flag = ran.clone();
        future.add_done_callback(move |_| flag.store(true, Ordering::SeqCst));
        let waiter = {
            let future = future.clone();
            thread::spawn(move || {
                let (counter, waker) = CountingWaker::new();
                let mut wait = future.yield_until_done();
                let registered = Pin::new(&mut wait)
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending();
                (registered, counter, wait)
            })
        };
        assert_eq!(task.run(|| {}), RunOutcome::Panicked);
        let (registered, counter, _wait) = waiter.join().unwrap();
        if registered {
            assert_eq!(counter.wakes(), 1, "the waiter was woken");
        }
        assert!(matches!(future.try_result(), Some(Err(Error::Panicked(_)))));
        assert!(ran.load(Ordering::SeqCst), "the other callback ran");
    });
}

/// Cancelling a queued async task (as shutdown(cancel_futures) does) racing its waker: the
/// future ends cancelled and the task is never polled afterwards.
#[test]
fn cancel_racing_a_wake_ends_the_task_once() {
    model(|| {
        let queue = Queue::new();
        let (task, future, _flag, slot) = flagged_task(&queue);
        let watch = task.watch().unwrap();
        assert_eq!(task.run(|| {}), RunOutcome::Suspended);
        let waker = slot.lock().unwrap().take().unwrap();
        let waker_thread = thread::spawn(move || waker.wake());
        watch.wake();
        waker_thread.join().unwrap();
        // Exactly one wake queued it; ending that one copy cancels it.
        let queued = queue.pop().expect("queued by a wake");
        assert!(queue.pop().is_none(), "queued once");
        assert!(queued.cancel());
        assert!(future.cancelled());
    });
}

/// `Future::abort` of a suspended task racing its waker: it is queued exactly once, and the run
/// of that copy ends it cancelled without polling it (the abort wins over the wake).
#[test]
fn abort_racing_a_wake_queues_the_task_once_and_ends_it_unpolled() {
    model(|| {
        let queue = Queue::new();
        let (task, future, flag, slot) = flagged_task(&queue);
        assert_eq!(task.run(|| {}), RunOutcome::Suspended);
        let waker = slot.lock().unwrap().take().unwrap();
        flag.store(true, Ordering::SeqCst);
        let waker_thread = thread::spawn(move || waker.wake());
        assert!(future.abort());
        waker_thread.join().unwrap();
        let queued = queue.pop().expect("queued by the abort or the wake");
        assert!(queue.pop().is_none(), "queued once");
        assert_eq!(queued.run(|| {}), RunOutcome::Completed);
        assert!(
            future.cancelled(),
            "ended by the abort, not polled to its value"
        );
        assert!(queue.pop().is_none());
    });
}

/// `Future::abort` racing the poll that completes the task: exactly one outcome, the value or
/// the cancellation, and the task is never queued again once complete.
#[test]
fn abort_racing_completion_has_exactly_one_outcome() {
    model(|| {
        let queue = Queue::new();
        let (task, future, flag, _slot) = flagged_task(&queue);
        flag.store(true, Ordering::SeqCst);
        let aborter = {
            let future = future.clone();
            thread::spawn(move || future.abort())
        };
        let outcome = task.run(|| {});
        let aborted = aborter.join().unwrap();
        assert_eq!(outcome, RunOutcome::Completed);
        match future.try_result() {
            Some(Ok(value)) => assert_eq!(*value, 1),
            Some(Err(Error::Cancelled)) => assert!(aborted),
            other => panic!("exactly one outcome, got {other:?}"),
        }
        assert!(queue.pop().is_none(), "a finished task is not queued again");
    });
}
