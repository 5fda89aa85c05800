//! Foreign wakers are user code, and the waits must not run that code while holding their
//! ready list's lock (the wait's own comment says a foreign waker's clone is user code and
//! clones it outside the lock). Here a waker's clone, or the drop of its last reference,
//! completes another future the same wait watches — as a task whose teardown cancels a
//! oneshot-like `Future` would, when an executor frees a task on its waker's last drop: the
//! completion wakes the wait's per-future waker, which takes the ready list's lock. If the
//! wait cloned or dropped the foreign waker under that lock, the thread deadlocks on itself.
//! Each scenario runs under a watchdog.
#![cfg(not(feature = "loom"))]

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use betterconcurrent::{as_completed_async, wait_async, Future, ReturnWhen};
use futures::Stream;

mod common;
use common::watchdog::within;

/// What the waker does: on clone (when `on_clone`) or on the drop of its last reference (when
/// `on_last_drop`), once armed, complete the next future of `to_complete`.
struct Inner {
    armed: AtomicBool,
    on_clone: bool,
    on_last_drop: bool,
    to_complete: Mutex<Vec<Future<u32>>>,
    wakes: AtomicUsize,
}

impl Inner {
    fn act(&self) {
        if self.armed.load(Ordering::SeqCst) {
            let next = self.to_complete.lock().unwrap().pop();
            if let Some(f) = next {
                let _ = f.set_result(9);
            }
        }
    }
}

/// A waker over `Arc<Inner>` (a raw vtable, so clone and drop are ours to define).
fn waker(inner: &Arc<Inner>) -> Waker {
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` came from `Arc::into_raw` of an `Arc<Inner>` still counted.
        let inner = unsafe { &*(data as *const Inner) };
        // SAFETY: as above: the count is at least one, and the new `RawWaker` owns the new one.
        unsafe { Arc::increment_strong_count(data as *const Inner) };
        if inner.on_clone {
            inner.act();
        }
        RawWaker::new(data, &VTABLE)
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: `data` is a live waker's (the caller's contract); waking by value then gives
        // its count up, which `drop_waker` does.
        unsafe { wake_by_ref(data) };
        // SAFETY: as above; `data` is not used after this.
        unsafe { drop_waker(data) };
    }
    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: as in `clone`.
        let inner = unsafe { &*(data as *const Inner) };
        inner.wakes.fetch_add(1, Ordering::SeqCst);
    }
    unsafe fn drop_waker(data: *const ()) {
        // SAFETY: as in `clone`; this gives up one count.
        let arc = unsafe { Arc::from_raw(data as *const Inner) };
        // Two counts left: this one and the test's own `Arc<Inner>`: the last waker.
        if arc.on_last_drop && Arc::strong_count(&arc) == 2 {
            arc.act();
        }
        drop(arc);
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);
    let data = Arc::into_raw(inner.clone()) as *const ();
    // SAFETY: the vtable's functions uphold the RawWaker contract for an `Arc<Inner>`.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

fn inner(on_clone: bool, on_last_drop: bool, to_complete: Vec<Future<u32>>) -> Arc<Inner> {
    Arc::new(Inner {
        armed: AtomicBool::new(false),
        on_clone,
        on_last_drop,
        to_complete: Mutex::new(to_complete),
        wakes: AtomicUsize::new(0),
    })
}

/// Run `f` on its own thread with a 5 s watchdog (a thread deadlocked on its own lock stays
/// blocked; the test fails instead of hanging).
fn guarded(what: &'static str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("DEADLOCK: {what}"),
    }
}

#[test]
fn a_waker_whose_clone_completes_a_watched_future() {
    within(30, || {
        guarded(
            "wait_async: the foreign waker was cloned under the ready list's lock",
            || {
                let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
                let inner = inner(true, false, vec![fs[2].clone(), fs[1].clone()]);
                let w = waker(&inner);
                let mut wait = Box::pin(wait_async(&fs, None, ReturnWhen::AllCompleted));
                assert!(wait
                    .as_mut()
                    .poll(&mut Context::from_waker(&w))
                    .is_pending());
                inner.armed.store(true, Ordering::SeqCst);
                // The completion's wake clones our waker, whose clone completes fs[1] (and so on).
                fs[0].set_result(0).unwrap();
                let Poll::Ready(r) = wait.as_mut().poll(&mut Context::from_waker(&w)) else {
                    panic!("all done, still pending")
                };
                assert_eq!(r.done.len(), 3);
            },
        );
        guarded(
            "as_completed_async: the foreign waker was cloned under the ready list's lock",
            || {
                let fs: Vec<Future<u32>> = (0..2).map(|_| Future::new()).collect();
                let inner = inner(true, false, vec![fs[1].clone()]);
                let w = waker(&inner);
                let mut s = as_completed_async(&fs, None);
                assert!(Pin::new(&mut s)
                    .poll_next(&mut Context::from_waker(&w))
                    .is_pending());
                inner.armed.store(true, Ordering::SeqCst);
                fs[0].set_result(0).unwrap();
                // No deadlock, and the completion is reported (the wake takes the waiter out
                // instead of cloning it, so whether the clone's side effect ran is not asserted).
                match Pin::new(&mut s).poll_next(&mut Context::from_waker(&w)) {
                    Poll::Ready(Some(Ok(first))) => assert!(first == fs[0]),
                    other => panic!(
                        "expected fs[0], got {:?}",
                        other.map(|o| o.map(|r| r.is_ok()))
                    ),
                }
            },
        );
    });
}

#[test]
fn a_waker_whose_last_drop_completes_a_watched_future() {
    within(30, || {
        guarded(
            "wait_async: the old foreign waker was dropped under the ready list's lock",
            || {
                let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
                let first = inner(false, true, vec![fs[1].clone()]);
                let mut wait = Box::pin(wait_async(&fs, None, ReturnWhen::AllCompleted));
                {
                    let w1 = waker(&first);
                    assert!(wait
                        .as_mut()
                        .poll(&mut Context::from_waker(&w1))
                        .is_pending());
                }
                // Only the wait holds `first`'s waker now; its drop will complete fs[1].
                first.armed.store(true, Ordering::SeqCst);
                let second = inner(false, false, Vec::new());
                let w2 = waker(&second);
                // Re-polled by another task: the wait replaces (drops) the first waker.
                assert!(wait
                    .as_mut()
                    .poll(&mut Context::from_waker(&w2))
                    .is_pending());
                assert!(fs[1].done(), "the first waker's drop ran");
                fs[0].set_result(0).unwrap();
                fs[2].set_result(2).unwrap();
                assert!(second.wakes.load(Ordering::SeqCst) >= 1);
                let Poll::Ready(r) = wait.as_mut().poll(&mut Context::from_waker(&w2)) else {
                    panic!("all done, still pending")
                };
                assert_eq!(r.done.len(), 3);
            },
        );
    });
}
