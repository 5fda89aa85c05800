//! The smallest executor: one run queue, counting the tasks finished elsewhere (through
//! `Future::run_here`, or freed unfinished). Shared by the core's task-cell tests (small enough
//! for Miri) and the task cell's loom models, which include this file from the facade's tests.
//! Its primitives come from the core's `sync` shim, so under loom the queue is a loom mutex and
//! loom sees every step.
#![allow(dead_code)] // each includer uses its own part

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use betterconcurrent_core::executor::{Schedule, SchedulerHandle, Task};
use betterconcurrent_core::sync::{AtomicUsize, Mutex, Ordering};

/// See the module docs.
pub struct Queue {
    tasks: Mutex<VecDeque<Task>>,
    ended_elsewhere: AtomicUsize,
}

impl Schedule for Queue {
    fn schedule(&self, task: Task) {
        self.tasks.lock().push_back(task);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn ended_elsewhere(&self, _registered: Option<usize>) {
        self.ended_elsewhere.fetch_add(1, Ordering::SeqCst);
    }
}

impl Queue {
    pub fn new() -> Arc<Self> {
        Arc::new(Queue {
            tasks: Mutex::new(VecDeque::new()),
            ended_elsewhere: AtomicUsize::new(0),
        })
    }

    /// The handle a task keeps to this queue.
    pub fn handle(self: &Arc<Self>) -> SchedulerHandle {
        let weak: Weak<Queue> = Arc::downgrade(self);
        SchedulerHandle::new(weak)
    }

    /// Tasks queued now.
    pub fn len(&self) -> usize {
        self.tasks.lock().len()
    }

    pub fn pop(&self) -> Option<Task> {
        self.tasks.lock().pop_front()
    }

    /// Run queued tasks until the queue is empty; returns how many finished.
    pub fn run_all(&self) -> usize {
        let mut finished = 0;
        while let Some(task) = self.pop() {
            if task.run(|| {}).ended() {
                finished += 1;
            }
        }
        finished
    }

    /// Tasks counted finished through `Schedule::ended_elsewhere`.
    pub fn ended_elsewhere(&self) -> usize {
        self.ended_elsewhere.load(Ordering::SeqCst)
    }
}
