//! Review of `Future::abort`: an aborted task's destructors run while its worker already counts
//! as idle (`RunHooks::before_complete` is called before the body is dropped on both abort
//! paths), so a submit made meanwhile claims that "idle" worker instead of starting one of the
//! pool's unstarted workers, and waits behind the destructor. A destructor that waits for such a
//! task then deadlocks a pool that has room for another thread. The controls (the same wait in
//! a poll, or in the destructor of a task that completes) run.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::{mpsc, Arc, Mutex};

use betterconcurrent::{Error, Future};

/// Sends "entered" and then waits on `release` (a plain channel: no pool wait, no
/// compensation), as a destructor that hands over to another piece of work could.
struct WaitsInDrop {
    entered: mpsc::Sender<()>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl Drop for WaitsInDrop {
    fn drop(&mut self) {
        self.entered.send(()).unwrap();
        self.release.lock().unwrap().recv().unwrap();
    }
}

fn waits_in_drop() -> (WaitsInDrop, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    (
        WaitsInDrop {
            entered: entered_tx,
            release: Arc::new(Mutex::new(release_rx)),
        },
        entered_rx,
        release_tx,
    )
}

/// A suspended task (the pool's only started worker ran it) is aborted; while its destructor
/// waits, a closure is submitted to release it. The pool may start a second worker for it.
#[test]
fn a_destructor_of_an_aborted_suspended_task_can_wait_for_new_work() {
    within(20, || {
        let pool = pool(2);
        let never = Future::<()>::new();
        let (guard, entered, release) = waits_in_drop();
        let (suspended_tx, suspended_rx) = mpsc::channel();
        let n = never.clone();
        let task = pool
            .submit_async(async move {
                let _guard = guard;
                suspended_tx.send(()).unwrap();
                let _ = (&n).await;
            })
            .unwrap();
        suspended_rx.recv().unwrap();
        assert_eq!(pool.thread_count(), 1, "one worker started so far");
        assert!(task.abort());
        entered.recv().unwrap();
        // The worker is inside the task's destructor: this closure needs the second worker.
        pool.submit(move || release.send(()).unwrap()).unwrap();
        assert!(matches!(task.result(), Err(Error::Cancelled)));
        pool.wait_idle().unwrap();
    });
}

/// As above for a task aborted before or in its first poll (queued: ended by the worker that
/// pops it; running: ended when that poll returns `Pending`).
#[test]
fn a_destructor_of_a_task_aborted_in_its_first_run_can_wait_for_new_work() {
    within(20, || {
        let pool = pool(2);
        // Start the first worker and let it go idle.
        pool.submit(|| ()).unwrap().result().unwrap();
        pool.wait_idle().unwrap();
        assert_eq!(pool.thread_count(), 1);
        let (guard, entered, release) = waits_in_drop();
        let gate = Future::<()>::new();
        let g = gate.clone();
        // A task that is still queued or running when aborted ends at its first await.
        let task = pool
            .submit_async(async move {
                let _guard = guard;
                let _ = (&g).await;
            })
            .unwrap();
        assert!(task.abort());
        entered.recv().unwrap();
        pool.submit(move || release.send(()).unwrap()).unwrap();
        assert!(matches!(task.result(), Err(Error::Cancelled)));
        pool.wait_idle().unwrap();
    });
}

/// Control: the same wait in a destructor of a task that completes normally (woken, then
/// `Ready`): the pool starts its second worker for the closure.
#[test]
fn control_a_destructor_of_a_completing_task_can_wait_for_new_work() {
    within(20, || {
        let pool = pool(2);
        let gate = Future::<()>::new();
        let (guard, entered, release) = waits_in_drop();
        let (suspended_tx, suspended_rx) = mpsc::channel();
        let g = gate.clone();
        let task = pool
            .submit_async(async move {
                let _guard = guard;
                suspended_tx.send(()).unwrap();
                let _ = (&g).await;
            })
            .unwrap();
        suspended_rx.recv().unwrap();
        assert_eq!(pool.thread_count(), 1);
        gate.set_result(()).unwrap();
        entered.recv().unwrap();
        pool.submit(move || release.send(()).unwrap()).unwrap();
        task.result().unwrap();
        pool.wait_idle().unwrap();
    });
}
