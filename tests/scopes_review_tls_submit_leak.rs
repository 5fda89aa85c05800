//! Review of scopes: a scope run from a thread-local's destructor after the pool's per-thread
//! worker slot was destroyed. `Scope::spawn` counts the task in the scope's group, then the
//! pool's submit reads that slot and panics: the task is dropped unrun (unwinding) but its
//! count in the group is never undone, so the scope's wait never ends (the spawn's panic is in
//! the body, which the scope re-raises only after the wait).
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};

use betterconcurrent::{TaskGroup, ThreadPoolExecutor};

struct RunsAScopeOnDrop {
    pool: Option<Arc<ThreadPoolExecutor>>,
    report: Option<mpsc::Sender<bool>>,
}

impl Drop for RunsAScopeOnDrop {
    fn drop(&mut self) {
        let (Some(pool), Some(report)) = (self.pool.take(), self.report.take()) else {
            return;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                let _ = scope.spawn(|_| {});
            })
        }));
        let _ = report.send(outcome.is_err());
    }
}

thread_local! {
    static GUARD: RefCell<RunsAScopeOnDrop> = const {
        RefCell::new(RunsAScopeOnDrop { pool: None, report: None })
    };
}

#[test]
fn a_scope_whose_spawn_panics_in_the_pools_submit_still_returns() {
    within(20, || {
        let pool = Arc::new(
            ThreadPoolExecutor::builder()
                .max_workers(1)
                .build()
                .unwrap(),
        );
        let (report_tx, report_rx) = mpsc::channel();
        let for_thread = pool.clone();
        let thread = std::thread::spawn(move || {
            // First use order (destruction runs in reverse): the group slot, the guard, then
            // (in the scope below) the worker slot a submit reads and the wait's thread-locals.
            drop(TaskGroup::new(&for_thread));
            GUARD.with(|guard| {
                let mut guard = guard.borrow_mut();
                guard.pool = Some(for_thread.clone());
                guard.report = Some(report_tx);
            });
            for_thread.scope(|scope| {
                scope.spawn(|_| {}).unwrap();
            });
        });
        let _ = thread.join();
        let unwound = report_rx.recv().unwrap();
        assert!(unwound, "the spawn's panic is re-raised");
    });
}
