//! Found by an adversarial review (issue 13): a task in the deque of a worker that is blocked
//! waited for as long as any task kept yielding, because a searching worker stole from other
//! workers' deques only once the injector was empty, and a yielding task is always back in the
//! injector. Now every 32nd injector take looks at the other deques first.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{Executor, ThreadPoolExecutor};

/// 2 workers. Worker A: an async task yielding until a subtask sets `stop` (it gives up after
/// `BOUND` yields). Worker B: a closure that submits that subtask (into B's own deque, where
/// other workers may steal it) and waits for it with the library's blocking wait (`result()`).
/// The yielding worker should steal the subtask long before the yielder gives up.
const BOUND: usize = 3_000_000;

fn closure_waits_for_its_subtask_while_another_task_yields(async_subtask: bool) {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let yields = Arc::new(AtomicUsize::new(0));
    let (yielding_tx, yielding_rx) = mpsc::channel::<()>();
    let yielder = {
        let (stop, yields) = (stop.clone(), yields.clone());
        pool.submit_async(async move {
            let _ = yielding_tx.send(());
            while !stop.load(Ordering::SeqCst) {
                if yields.fetch_add(1, Ordering::SeqCst) >= BOUND {
                    return false;
                }
                common::yield_now().await;
            }
            true
        })
        .unwrap()
    };
    yielding_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let s = stop.clone();
    let waiter = pool
        .submit(move || {
            let ex = Executor::current().unwrap();
            let sub = if async_subtask {
                ex.submit_async(async move { s.store(true, Ordering::SeqCst) })
                    .unwrap()
            } else {
                ex.submit(move || s.store(true, Ordering::SeqCst)).unwrap()
            };
            sub.result().is_ok()
        })
        .unwrap();
    assert!(*waiter.result_timeout(Duration::from_secs(30)).unwrap());
    let stopped_by_subtask = *yielder.result_timeout(Duration::from_secs(30)).unwrap();
    assert!(
        stopped_by_subtask,
        "the subtask in the blocked worker's deque ran only after the yielder gave up \
         ({} yields)",
        yields.load(Ordering::SeqCst)
    );
    pool.join().unwrap();
}

#[test]
fn async_subtask_in_a_blocked_workers_deque_is_not_starved_by_a_yielder() {
    within(40, || {
        closure_waits_for_its_subtask_while_another_task_yields(true)
    });
}

/// Control: a closure subtask is run in place by the waiting worker, so this one passes.
#[test]
fn closure_subtask_of_a_blocked_worker_runs_in_place() {
    within(40, || {
        closure_waits_for_its_subtask_while_another_task_yields(false)
    });
}
