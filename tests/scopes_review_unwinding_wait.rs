//! Review of scopes: can `Executor::scope` return (or unwind) before its borrowing tasks ended?
//! The wait goes through the thread's blocking hook, which is public API
//! (`betterconcurrent::executor::install_blocking_hook`): a hook whose `park` panics, or reports
//! a timeout for an untimed wait, must not let `scope` leave while tasks still borrow.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the task waits for a release that a correct scope never sends (see below).
const GIVE_UP: Duration = Duration::from_secs(2);

use betterconcurrent::executor::{install_blocking_hook, park_plain, BlockingHook};

/// A user's blocking hook whose `park` panics on its first call (then behaves).
struct PanicOnFirstPark(std::cell::Cell<bool>);

impl BlockingHook for PanicOnFirstPark {
    fn begin_run_here(&self, _scheduler: &dyn Any) -> bool {
        false
    }
    fn end_run_here(&self) {}
    fn park(&self, deadline: Option<Instant>) -> bool {
        if !self.0.replace(true) {
            panic!("a user's hook panicked in park");
        }
        park_plain(deadline)
    }
}

/// A user's blocking hook whose `park` says "deadline passed" once, even for an untimed wait.
struct FalseOnFirstPark(std::cell::Cell<bool>);

impl BlockingHook for FalseOnFirstPark {
    fn begin_run_here(&self, _scheduler: &dyn Any) -> bool {
        false
    }
    fn end_run_here(&self) {}
    fn park(&self, deadline: Option<Instant>) -> bool {
        if !self.0.replace(true) {
            return false;
        }
        park_plain(deadline)
    }
}

/// Run a scope whose one task blocks until released, with `hook` installed on this thread;
/// release the task only after `scope` has returned or unwound, and report whether the task
/// saw `scope` already gone (it must not: it borrows for the scope). A correct scope waits for
/// the task, so nobody releases it: it then stops waiting after a bound (`GIVE_UP`), which
/// only ends the correct case; the early return is seen deterministically.
fn task_outlived_its_scope(hook: Rc<dyn BlockingHook>) -> bool {
    let pool = pool(1);
    let scope_left = AtomicBool::new(false);
    let task_saw_scope_left = AtomicBool::new(false);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let installed = install_blocking_hook(hook).unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|scope| {
            let (scope_left, seen) = (&scope_left, &task_saw_scope_left);
            scope
                .spawn(move |_| {
                    let _ = release_rx.recv_timeout(GIVE_UP);
                    seen.store(scope_left.load(Ordering::SeqCst), Ordering::SeqCst);
                    done_tx.send(()).unwrap();
                })
                .unwrap();
        })
    }));
    drop(installed);
    // `scope` is over (returned or unwound): the task should have finished by now. If it has
    // not, it still borrows `scope_left` and `task_saw_scope_left`, which this frame keeps
    // alive (so the demonstration itself stays sound) until the task reports.
    scope_left.store(true, Ordering::SeqCst);
    let _ = release_tx.send(());
    done_rx.recv().unwrap();
    let _ = outcome;
    task_saw_scope_left.load(Ordering::SeqCst)
}

#[test]
fn a_panicking_blocking_hook_does_not_let_a_scope_unwind_before_its_tasks_end() {
    within(60, || {
        let outlived = task_outlived_its_scope(Rc::new(PanicOnFirstPark(Default::default())));
        assert!(
            !outlived,
            "scope unwound (the hook's panic) while a borrowing task still ran"
        );
    });
}

#[test]
fn a_hook_that_reports_a_spurious_timeout_does_not_let_a_scope_leave_before_its_tasks_end() {
    within(60, || {
        let outlived = task_outlived_its_scope(Rc::new(FalseOnFirstPark(Default::default())));
        assert!(
            !outlived,
            "scope left (the hook's spurious `false` ended its wait) while a borrowing task still ran"
        );
    });
}
