//! Review of work-first: what running an awaited child inside the parent's poll does to
//! concurrency a program had before. (1) The parent's poll cannot return while the child runs,
//! so a parent that races its child against another event (a `select`, a timeout) no longer
//! sees that event until the child is done. (2) While an *async* child runs in place, the
//! parent's LIFO slot is not flushed (only a closure child's is), so a sibling the parent
//! submitted after the awaited child stays invisible to idle workers for the whole run: two
//! async children awaited in submission order no longer run in parallel.
//! Each test spins or waits with a 2 s cap as a hang detector, never as synchronisation.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use betterconcurrent::Future;
use common::pool;
use common::watchdog::within;

/// Spin until `flag` is set or 2 s pass; true if it was set.
fn spin_until(flag: &AtomicBool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !flag.load(Ordering::SeqCst) {
        if Instant::now() > deadline {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

#[test]
fn two_async_children_awaited_in_submission_order_run_in_parallel_on_two_workers() {
    let both = within(60, || {
        let pool = pool(2);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let a_started = Arc::new(AtomicBool::new(false));
                let b_started = Arc::new(AtomicBool::new(false));
                let (a1, b1) = (a_started.clone(), b_started.clone());
                let (a2, b2) = (a_started, b_started);
                // Each child needs the other to run at the same time (a CPU-bound pair, say,
                // meeting at a rendezvous): only two workers can do it.
                let a = executor
                    .submit_async(async move {
                        a1.store(true, Ordering::SeqCst);
                        spin_until(&b1)
                    })
                    .unwrap();
                let b = executor
                    .submit_async(async move {
                        b2.store(true, Ordering::SeqCst);
                        spin_until(&a2)
                    })
                    .unwrap();
                let a = *(&a).await.unwrap();
                let b = *(&b).await.unwrap();
                (a, b)
            })
            .unwrap();
        let both = *parent.result().unwrap();
        pool.join().unwrap();
        both
    });
    assert_eq!(
        both,
        (true, true),
        "the second child stayed hidden in the LIFO slot while the first ran in place"
    );
}

#[test]
fn two_closure_children_awaited_in_submission_order_run_in_parallel_on_two_workers() {
    // The control: a closure child flushes the LIFO slot before it runs in place.
    let both = within(60, || {
        let pool = pool(2);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let a_started = Arc::new(AtomicBool::new(false));
                let b_started = Arc::new(AtomicBool::new(false));
                let (a1, b1) = (a_started.clone(), b_started.clone());
                let (a2, b2) = (a_started, b_started);
                let a = executor
                    .submit(move || {
                        a1.store(true, Ordering::SeqCst);
                        spin_until(&b1)
                    })
                    .unwrap();
                let b = executor
                    .submit(move || {
                        b2.store(true, Ordering::SeqCst);
                        spin_until(&a2)
                    })
                    .unwrap();
                let a = *(&a).await.unwrap();
                let b = *(&b).await.unwrap();
                (a, b)
            })
            .unwrap();
        let both = *parent.result().unwrap();
        pool.join().unwrap();
        both
    });
    assert_eq!(both, (true, true));
}

#[test]
fn a_parent_racing_its_child_against_a_signal_sees_the_signal_while_the_child_runs() {
    let outcome = within(60, || {
        let pool = pool(2);
        let executor = pool.executor();
        let signal = Future::<()>::new();
        let s = signal.clone();
        let (child_started_tx, child_started_rx) = mpsc::channel::<()>();
        let (parent_done_tx, parent_done_rx) = mpsc::channel::<()>();
        let parent = pool
            .submit_async(async move {
                let child = executor
                    .submit(move || {
                        child_started_tx.send(()).unwrap();
                        // A long job; finishes early once the parent has given up on it
                        // (2 s cap as a hang detector).
                        parent_done_rx.recv_timeout(Duration::from_secs(2)).is_ok()
                    })
                    .unwrap();
                let first = {
                    let c = std::pin::pin!(child.yield_until_done());
                    let sig = std::pin::pin!(s.yield_until_done());
                    match futures::future::select(c, sig).await {
                        futures::future::Either::Left(_) => "child",
                        futures::future::Either::Right(_) => "signal",
                    }
                };
                let _ = parent_done_tx.send(());
                first
            })
            .unwrap();
        child_started_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap();
        signal.set_result(()).unwrap();
        let first = *parent.result().unwrap();
        pool.join().unwrap();
        first
    });
    assert_eq!(
        outcome, "signal",
        "the parent's poll was stuck inside its child's in-place run"
    );
}
