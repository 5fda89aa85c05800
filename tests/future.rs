//! The future's state machine, callbacks and waits, mirroring CPython's
//! `Lib/test/test_concurrent_futures/test_future.py` (`FutureTests`). Each test names the Python
//! test it mirrors.
#![cfg(not(feature = "loom"))]

use std::future::{Future as _, IntoFuture};
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use betterconcurrent::{Error, Future, InvalidStateError, State};

#[path = "shared_with_core/counting_waker.rs"]
mod counting_waker;
use counting_waker::CountingWaker;

const SHORT: Duration = Duration::from_millis(20);

/// A future in `state`, as Python's `create_future(state, exception, result)`.
fn future_in(state: State) -> Future<i32> {
    let future = Future::new();
    match state {
        State::Pending => {}
        State::Running => assert!(future.set_running_or_notify_cancel().unwrap()),
        State::Cancelled => assert!(future.cancel()),
        State::CancelledAndNotified => {
            assert!(future.cancel());
            assert!(!future.set_running_or_notify_cancel().unwrap());
        }
        State::Finished => future.set_result(42).unwrap(),
    }
    assert_eq!(future.state(), state);
    future
}

fn exception_future() -> Future<i32> {
    let future = Future::new();
    future.set_exception("boom").unwrap();
    future
}

const ALL_STATES: [State; 5] = [
    State::Pending,
    State::Running,
    State::Cancelled,
    State::CancelledAndNotified,
    State::Finished,
];

// test_cancel
#[test]
fn cancel_succeeds_only_before_running() {
    for (state, expected, after) in [
        (State::Pending, true, State::Cancelled),
        (State::Running, false, State::Running),
        (State::Cancelled, true, State::Cancelled),
        (
            State::CancelledAndNotified,
            true,
            State::CancelledAndNotified,
        ),
        (State::Finished, false, State::Finished),
    ] {
        let future = future_in(state);
        assert_eq!(future.cancel(), expected, "cancel in {state:?}");
        assert_eq!(future.state(), after, "state after cancel in {state:?}");
    }
    assert!(!exception_future().cancel());
}

// test_cancelled
#[test]
fn cancelled_is_true_only_for_cancelled_states() {
    for state in ALL_STATES {
        let expected = matches!(state, State::Cancelled | State::CancelledAndNotified);
        assert_eq!(future_in(state).cancelled(), expected, "{state:?}");
    }
    assert!(!exception_future().cancelled());
}

// test_done
#[test]
fn done_is_true_once_cancelled_or_finished() {
    for state in ALL_STATES {
        let expected = !matches!(state, State::Pending | State::Running);
        assert_eq!(future_in(state).done(), expected, "{state:?}");
    }
    assert!(exception_future().done());
}

// test_running
#[test]
fn running_is_true_only_while_running() {
    for state in ALL_STATES {
        assert_eq!(future_in(state).running(), state == State::Running);
    }
    assert!(!exception_future().running());
}

// set_running_or_notify_cancel: PENDING -> RUNNING, CANCELLED -> CANCELLED_AND_NOTIFIED, else error
#[test]
fn set_running_or_notify_cancel_transitions_and_refusals() {
    assert_eq!(
        future_in(State::Pending).set_running_or_notify_cancel(),
        Ok(true)
    );
    let cancelled = future_in(State::Cancelled);
    assert_eq!(cancelled.set_running_or_notify_cancel(), Ok(false));
    assert_eq!(cancelled.state(), State::CancelledAndNotified);
    for state in [State::Running, State::CancelledAndNotified, State::Finished] {
        let future = future_in(state);
        assert_eq!(
            future.set_running_or_notify_cancel(),
            Err(InvalidStateError {
                operation: "set_running_or_notify_cancel",
                state
            })
        );
        assert_eq!(future.state(), state, "a refused call changes nothing");
    }
}

// test_multiple_set_result
#[test]
fn set_result_twice_is_invalid_state_and_keeps_the_first() {
    let future = Future::new();
    future.set_result(1).unwrap();
    let error = future.set_result(2).unwrap_err();
    assert_eq!(error.state, State::Finished);
    assert_eq!(error.operation, "set_result");
    assert_eq!(future.try_result().unwrap().unwrap(), &1);
}

// test_multiple_set_exception
#[test]
fn set_exception_after_finish_is_invalid_state_and_keeps_the_first() {
    let future = exception_future();
    assert_eq!(
        future.set_exception("second").unwrap_err().state,
        State::Finished
    );
    assert!(future.set_result(5).is_err());
    let error = future.exception().unwrap().unwrap();
    assert_eq!(error.exception().unwrap().to_string(), "boom");
}

// InvalidStateError on set_result / set_exception of a cancelled future
#[test]
fn completing_a_cancelled_future_is_invalid_state() {
    for state in [State::Cancelled, State::CancelledAndNotified] {
        let future = future_in(state);
        assert_eq!(future.set_result(1).unwrap_err().state, state);
        assert_eq!(future.set_exception("x").unwrap_err().state, state);
        assert_eq!(future.state(), state);
    }
}

// set_result from PENDING is allowed (Python does not require RUNNING first)
#[test]
fn set_result_from_pending_finishes() {
    let future = Future::new();
    future.set_result(7).unwrap();
    assert_eq!(future.state(), State::Finished);
    assert_eq!(future.result().unwrap(), &7);
}

// test_result_with_timeout
#[test]
fn result_with_timeout_per_state() {
    assert!(matches!(
        future_in(State::Pending).result_timeout(Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        future_in(State::Running).result_timeout(Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        future_in(State::Cancelled).result_timeout(Duration::ZERO),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        future_in(State::CancelledAndNotified).result_timeout(Duration::ZERO),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        exception_future().result_timeout(Duration::ZERO),
        Err(Error::Exception(_))
    ));
    assert_eq!(
        future_in(State::Finished)
            .result_timeout(Duration::ZERO)
            .unwrap(),
        &42
    );
}

// test_result_with_success
#[test]
fn result_blocks_until_another_thread_sets_it() {
    let future = Future::new();
    let setter = future.clone();
    let (registered_tx, registered_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        registered_rx.recv().unwrap();
        setter.set_result(42).unwrap();
    });
    registered_tx.send(()).unwrap();
    assert_eq!(future.result().unwrap(), &42);
    handle.join().unwrap();
}

// test_result_with_cancel
#[test]
fn result_wakes_with_cancelled_when_another_thread_cancels() {
    let future = Future::<i32>::new();
    let canceller = future.clone();
    let handle = thread::spawn(move || assert!(canceller.cancel()));
    assert!(matches!(future.result(), Err(Error::Cancelled)));
    handle.join().unwrap();
}

// test_exception_with_timeout
#[test]
fn exception_with_timeout_per_state() {
    assert!(matches!(
        future_in(State::Pending).exception_timeout(Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        future_in(State::Running).exception_timeout(Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        future_in(State::Cancelled).exception_timeout(Duration::ZERO),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        exception_future().exception_timeout(Duration::ZERO),
        Ok(Some(Error::Exception(_)))
    ));
    assert!(matches!(
        future_in(State::Finished).exception_timeout(Duration::ZERO),
        Ok(None)
    ));
}

// test_exception_with_success
#[test]
fn exception_blocks_until_another_thread_sets_an_error() {
    let future = Future::<i32>::new();
    let setter = future.clone();
    let handle = thread::spawn(move || setter.set_exception("late failure").unwrap());
    let error = future.exception().unwrap().unwrap();
    assert_eq!(error.to_string(), "the task failed");
    let source = std::error::Error::source(&error).expect("the user's error");
    assert_eq!(source.to_string(), "late failure");
    handle.join().unwrap();
}

fn recording_callback(log: &Arc<Mutex<Vec<String>>>, name: &str) -> impl FnOnce(&Future<i32>) {
    let log = log.clone();
    let name = name.to_owned();
    move |future: &Future<i32>| {
        let seen = match future.try_result() {
            Some(Ok(value)) => format!("{name}:{value}"),
            Some(Err(error)) => format!("{name}:{error:?}"),
            None => format!("{name}:pending"),
        };
        log.lock().unwrap().push(seen);
    }
}

// test_done_callback_with_result
#[test]
fn done_callback_sees_the_result() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let future = Future::new();
    future.add_done_callback(recording_callback(&log, "a"));
    assert!(log.lock().unwrap().is_empty(), "not run before completion");
    future.set_result(5).unwrap();
    assert_eq!(*log.lock().unwrap(), ["a:5"]);
}

// test_done_callback_with_exception
#[test]
fn done_callback_sees_the_exception() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let future = Future::new();
    future.add_done_callback(recording_callback(&log, "a"));
    future.set_exception("oops").unwrap();
    let entry = log.lock().unwrap()[0].clone();
    assert!(entry.starts_with("a:Exception"), "{entry}");
}

// test_done_callback_with_cancel
#[test]
fn done_callback_runs_on_cancel() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let future = Future::new();
    future.add_done_callback(recording_callback(&log, "a"));
    assert!(future.cancel());
    assert_eq!(*log.lock().unwrap(), ["a:Cancelled"]);
}

// callbacks run exactly once, in registration order
#[test]
fn done_callbacks_run_once_in_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let future = Future::new();
    for name in ["first", "second", "third"] {
        future.add_done_callback(recording_callback(&log, name));
    }
    future.set_result(1).unwrap();
    assert!(future.set_result(2).is_err());
    assert!(!future.cancel());
    assert_eq!(*log.lock().unwrap(), ["first:1", "second:1", "third:1"]);
}

// test_done_callback_raises
#[test]
fn panicking_done_callback_does_not_stop_the_others() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let future = Future::new();
    future.add_done_callback(recording_callback(&log, "before"));
    future.add_done_callback(|_: &Future<i32>| panic!("callback failure"));
    future.add_done_callback(recording_callback(&log, "after"));
    future.set_result(3).unwrap();
    assert_eq!(*log.lock().unwrap(), ["before:3", "after:3"]);
    assert_eq!(future.state(), State::Finished);
    assert_eq!(future.result().unwrap(), &3);
}

// test_done_callback_already_successful
#[test]
fn late_done_callback_runs_at_once_with_result() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let future = future_in(State::Finished);
    future.add_done_callback(recording_callback(&log, "late"));
    assert_eq!(*log.lock().unwrap(), ["late:42"]);
}

// test_done_callback_already_failed
#[test]
fn late_done_callback_runs_at_once_with_exception() {
    let log = Arc::new(Mutex::new(Vec::new()));
    exception_future().add_done_callback(recording_callback(&log, "late"));
    assert!(log.lock().unwrap()[0].starts_with("late:Exception"));
}

// test_done_callback_already_cancelled
#[test]
fn late_done_callback_runs_at_once_when_cancelled() {
    let log = Arc::new(Mutex::new(Vec::new()));
    future_in(State::Cancelled).add_done_callback(recording_callback(&log, "late"));
    assert_eq!(*log.lock().unwrap(), ["late:Cancelled"]);
}

// test_done_callback_raises_already_succeeded
#[test]
fn late_panicking_callback_is_caught() {
    let future = future_in(State::Finished);
    future.add_done_callback(|_: &Future<i32>| panic!("late callback failure"));
    assert_eq!(future.result().unwrap(), &42);
}

// test_repr
#[test]
fn debug_shows_the_state() {
    assert!(format!("{:?}", future_in(State::Pending)).contains("Pending"));
    assert!(format!("{:?}", future_in(State::Running)).contains("Running"));
    assert!(format!("{:?}", future_in(State::Cancelled)).contains("Cancelled"));
    assert!(format!("{:?}", future_in(State::Finished)).contains("Finished"));
}

#[test]
fn clones_share_state_and_compare_equal() {
    let future = Future::new();
    let clone = future.clone();
    assert_eq!(future, clone);
    assert_ne!(future, Future::new());
    clone.set_result(9).unwrap();
    assert_eq!(future.result().unwrap(), &9);
}

#[test]
fn error_messages_say_what_happened() {
    let shown = |error: Error| error.to_string();
    assert!(shown(Error::Cancelled).contains("cancelled"));
    assert!(shown(Error::Timeout).contains("timed out"));
    assert!(shown(Error::Panicked("bad".into())).contains("panicked: bad"));
    assert!(shown(Error::BrokenExecutor("init failed".into())).contains("init failed"));
    assert!(shown(Error::Shutdown).contains("shut down"));
    let invalid = future_in(State::Finished).set_result(1).unwrap_err();
    assert!(shown(invalid.into()).contains("set_result"));
}

// Two waiters on one future: both are woken by one completion.
#[test]
fn every_registered_waiter_is_woken_once() {
    let future = Future::<i32>::new();
    let (first, first_waker) = CountingWaker::new();
    let (second, second_waker) = CountingWaker::new();
    let mut wait_a = future.yield_until_done();
    let mut wait_b = future.yield_until_done();
    assert!(Pin::new(&mut wait_a)
        .poll(&mut Context::from_waker(&first_waker))
        .is_pending());
    assert!(Pin::new(&mut wait_b)
        .poll(&mut Context::from_waker(&second_waker))
        .is_pending());
    assert_eq!(future.waiter_count(), 2);
    future.set_result(1).unwrap();
    assert_eq!(first.wakes(), 1);
    assert_eq!(second.wakes(), 1);
    assert!(Pin::new(&mut wait_a)
        .poll(&mut Context::from_waker(&first_waker))
        .is_ready());
}

// A waiter that gives up removes itself; re-polling with the same waker does not add entries.
#[test]
fn abandoned_waits_leave_no_waker_behind() {
    let future = Future::<i32>::new();
    let (_, waker) = CountingWaker::new();
    let mut wait = future.yield_until_done();
    for _ in 0..3 {
        assert!(Pin::new(&mut wait)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    assert_eq!(future.waiter_count(), 1);
    drop(wait);
    assert_eq!(future.waiter_count(), 0);
    for _ in 0..100 {
        assert!(matches!(
            future.result_timeout(Duration::ZERO),
            Err(Error::Timeout)
        ));
    }
    assert_eq!(
        future.waiter_count(),
        0,
        "timed-out blocking waits clean up"
    );
}

// A waiter re-polled with a different waker: only the newest is woken.
#[test]
fn repolling_with_a_new_waker_replaces_the_old_one() {
    let future = Future::<i32>::new();
    let (old, old_waker) = CountingWaker::new();
    let (new, new_waker) = CountingWaker::new();
    let mut wait = future.yield_until_done();
    assert!(Pin::new(&mut wait)
        .poll(&mut Context::from_waker(&old_waker))
        .is_pending());
    assert!(Pin::new(&mut wait)
        .poll(&mut Context::from_waker(&new_waker))
        .is_pending());
    future.cancel();
    assert_eq!(old.wakes(), 0);
    assert_eq!(new.wakes(), 1);
}

// Awaiting `&Future<T>` from inside a tokio runtime gives the outcome by reference.
#[test]
fn awaiting_a_future_inside_tokio() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let future = Future::<String>::new();
    let setter = future.clone();
    let failing = Future::<u8>::new();
    let failer = failing.clone();
    let (value, error) = runtime.block_on(async move {
        let completer = tokio::spawn(async move {
            setter.set_result("from tokio".to_owned()).unwrap();
            failer.set_exception("tokio failure").unwrap();
        });
        let value = (&future).await.unwrap().clone();
        let error = (&failing).await.unwrap_err();
        future.yield_until_done().await;
        completer.await.unwrap();
        (value, error)
    });
    assert_eq!(value, "from tokio");
    assert!(matches!(error, Error::Exception(_)));
}

// The `IntoFuture` form can be stored and polled like any future.
#[test]
fn into_future_resolves_to_a_reference_to_the_value() {
    let future = Future::new();
    let (_, waker) = CountingWaker::new();
    let mut outcome = (&future).into_future();
    assert!(Pin::new(&mut outcome)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    future.set_result(vec![1, 2, 3]).unwrap();
    match Pin::new(&mut outcome).poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(Ok(value)) => assert_eq!(value, &[1, 2, 3]),
        other => panic!("expected the value, got {other:?}"),
    }
}

// Many threads blocked on one future all wake.
#[test]
fn many_blocked_threads_all_wake() {
    let future = Future::<usize>::new();
    let barrier = Arc::new(std::sync::Barrier::new(9));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let future = future.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                *future.result().unwrap()
            })
        })
        .collect();
    barrier.wait();
    future.set_result(11).unwrap();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 11);
    }
}

// A short timed wait that is then satisfied by a later result: the timeout does not poison.
#[test]
fn a_timed_out_wait_does_not_affect_the_future() {
    let future = Future::new();
    assert!(matches!(future.result_timeout(SHORT), Err(Error::Timeout)));
    future.set_result(1).unwrap();
    assert_eq!(future.result_timeout(SHORT).unwrap(), &1);
}
