//! Review of scopes: a scope run from a thread-local's destructor, after the thread-locals the
//! blocking wait uses were destroyed. Its join must not unwind past borrowing tasks that still
//! run (`std::thread::scope` would abort rather than return early).
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use betterconcurrent::{TaskGroup, ThreadPoolExecutor};

/// What the destructor found: whether `scope` left early (by unwinding) and whether the task
/// saw that.
#[derive(Debug, Default, Clone, Copy)]
struct Findings {
    scope_unwound: bool,
    task_saw_scope_left: bool,
}

struct RunsAScopeOnDrop {
    pool: Option<Arc<ThreadPoolExecutor>>,
    report: Option<mpsc::Sender<Findings>>,
}

impl Drop for RunsAScopeOnDrop {
    fn drop(&mut self) {
        let (Some(pool), Some(report)) = (self.pool.take(), self.report.take()) else {
            return;
        };
        let scope_left = AtomicBool::new(false);
        let seen = AtomicBool::new(false);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|scope| {
                let (scope_left, seen) = (&scope_left, &seen);
                scope
                    .spawn(move |_| {
                        // Released after `scope` is over; a correct scope waits for this task,
                        // so the wait for a release is bounded (it only ends that case).
                        let _ = release_rx.recv_timeout(std::time::Duration::from_secs(2));
                        seen.store(scope_left.load(Ordering::SeqCst), Ordering::SeqCst);
                        done_tx.send(()).unwrap();
                    })
                    .unwrap();
            })
        }));
        // Kept alive until the task is done, so this demonstration stays sound.
        scope_left.store(true, Ordering::SeqCst);
        let _ = release_tx.send(());
        let _ = done_rx.recv();
        let _ = report.send(Findings {
            scope_unwound: outcome.is_err(),
            task_saw_scope_left: seen.load(Ordering::SeqCst),
        });
    }
}

thread_local! {
    static GUARD: RefCell<RunsAScopeOnDrop> = const {
        RefCell::new(RunsAScopeOnDrop { pool: None, report: None })
    };
}

#[test]
fn a_scope_in_a_thread_local_destructor_does_not_unwind_past_its_running_tasks() {
    let findings = within(60, || {
        let pool = Arc::new(
            ThreadPoolExecutor::builder()
                .max_workers(1)
                .build()
                .unwrap(),
        );
        let (report_tx, report_rx) = mpsc::channel();
        let for_thread = pool.clone();
        let thread = std::thread::spawn(move || {
            // Destructors of thread-locals run in reverse order of first use: first the pool's
            // per-thread slots that a submit reads (so they outlive the guard), then the guard,
            // then the blocking wait's thread-locals (destroyed before the guard's destructor
            // runs).
            drop(TaskGroup::new(&for_thread));
            drop(for_thread.submit(|| ()));
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
        let findings = report_rx.recv().unwrap();
        drop(pool);
        findings
    });
    assert!(
        findings.scope_unwound,
        "the wait itself panicked ({findings:?})"
    );
    assert!(
        !findings.task_saw_scope_left,
        "scope unwound ({findings:?}) while its borrowing task still ran"
    );
}
