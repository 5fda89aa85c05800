//! A worker thread's loop, and the thread-local record of which pool (if any) the current thread
//! works for, so tasks submitted from inside a task go to the worker's own deque.
//!
//! Search order: the worker's own deque (LIFO: the newest subtask, still hot in cache), then a
//! batch from the shared injector, then stealing from the other workers' deques. With nothing
//! found the worker sleeps (see `sleep`).

use std::cell::RefCell;

use betterconcurrent_core::sync::Arc;
use betterconcurrent_core::task::Task;
use crossbeam_deque::{Steal, Worker};

use crate::pool::Shared;

/// What the current thread is, if it is a pool worker.
struct WorkerContext {
    shared: Arc<Shared>,
    deque: Worker<Task>,
}

std::thread_local! {
    static CURRENT: RefCell<Option<WorkerContext>> = const { RefCell::new(None) };
}

/// Push `task` onto the current thread's deque if this thread is a worker of `shared`'s pool;
/// otherwise hand the task back.
pub(crate) fn push_local(shared: &Shared, task: Task) -> Result<(), Task> {
    CURRENT.with(|current| match &*current.borrow() {
        Some(context) if std::ptr::eq(&*context.shared, shared) => {
            context.deque.push(task);
            Ok(())
        }
        _ => Err(task),
    })
}

/// The pool the current thread works for, if it is a worker.
pub(crate) fn current_pool() -> Option<Arc<Shared>> {
    CURRENT.with(|current| Some(current.borrow().as_ref()?.shared.clone()))
}

/// Whether the current thread is one of `shared`'s workers.
pub(crate) fn is_worker_of(shared: &Shared) -> bool {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .is_some_and(|context| std::ptr::eq(&*context.shared, shared))
    })
}

/// The body of a worker thread.
pub(crate) fn run(shared: Arc<Shared>, deque: Worker<Task>) {
    // Registered before the initializer, so that code it runs (or drops) knows this thread is a
    // worker and never joins it.
    CURRENT.with(|current| {
        *current.borrow_mut() = Some(WorkerContext {
            shared: shared.clone(),
            deque,
        })
    });
    // A failed initializer breaks the pool (queued tasks fail); this thread still helps drain and
    // exits with the others once nothing is outstanding.
    shared.initialize_thread();
    loop {
        match find_task(&shared) {
            Some(task) => shared.execute(task),
            None => {
                if !shared.sleep.sleep_until(|| shared.recheck()) {
                    break;
                }
            }
        }
    }
    CURRENT.with(|current| current.borrow_mut().take());
    shared.thread_exited();
}

/// The next task for this worker: own deque, then the injector, then the other workers.
fn find_task(shared: &Shared) -> Option<Task> {
    CURRENT.with(|current| {
        let current = current.borrow();
        let deque = &current.as_ref()?.deque;
        if let Some(task) = deque.pop() {
            return Some(task);
        }
        loop {
            let mut retry = false;
            match shared.injector.steal_batch_and_pop(deque) {
                Steal::Success(task) => {
                    // The rest of the batch now sits in our deque, where a worker that re-checked
                    // the injector a moment ago did not see it: wake one to steal it.
                    if !deque.is_empty() {
                        shared.sleep.notify_one();
                    }
                    return Some(task);
                }
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            for stealer in shared.stealers.iter() {
                match stealer.steal() {
                    Steal::Success(task) => return Some(task),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    })
}
