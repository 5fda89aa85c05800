//! The run queues: crossbeam-deque's `Injector`, `Worker` and `Stealer`, or, under loom, small
//! lock-based stand-ins with the same interface. loom cannot see inside crossbeam-deque (it uses
//! `std` atomics), so a model of the pool would treat every queue operation as invisible to the
//! memory model and report races and lost wake-ups that cannot happen; with these stand-ins, every
//! step of the sleep/notify protocol is visible to it.

#[cfg(not(feature = "loom"))]
pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};

#[cfg(feature = "loom")]
pub(crate) use self::model::{Injector, Stealer, Worker};
#[cfg(feature = "loom")]
pub(crate) use crossbeam_deque::Steal;

#[cfg(feature = "loom")]
mod model {
    use std::collections::VecDeque;

    use betterconcurrent_core::sync::blocking::{lock, Mutex};
    use betterconcurrent_core::sync::Arc;
    use crossbeam_deque::Steal;

    type SharedQueue<T> = Arc<Mutex<VecDeque<T>>>;

    /// The shared FIFO queue.
    pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Self(Mutex::new(VecDeque::new()))
        }

        pub(crate) fn push(&self, task: T) {
            lock(&self.0).push_back(task);
        }

        pub(crate) fn steal(&self) -> Steal<T> {
            lock(&self.0)
                .pop_front()
                .map_or(Steal::Empty, Steal::Success)
        }

        pub(crate) fn steal_batch_and_pop(&self, _into: &Worker<T>) -> Steal<T> {
            self.steal()
        }

        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }

        pub(crate) fn len(&self) -> usize {
            lock(&self.0).len()
        }
    }

    /// A worker's own LIFO deque.
    pub(crate) struct Worker<T>(SharedQueue<T>);

    impl<T> Worker<T> {
        pub(crate) fn new_lifo() -> Self {
            Self(Arc::new(Mutex::new(VecDeque::new())))
        }

        pub(crate) fn push(&self, task: T) {
            lock(&self.0).push_back(task);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            lock(&self.0).pop_back()
        }

        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }
    }

    /// Another thread's handle on a worker's deque.
    pub(crate) struct Stealer<T>(SharedQueue<T>);

    impl<T> Stealer<T> {
        pub(crate) fn steal(&self) -> Steal<T> {
            lock(&self.0)
                .pop_front()
                .map_or(Steal::Empty, Steal::Success)
        }

        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }

        pub(crate) fn len(&self) -> usize {
            lock(&self.0).len()
        }
    }
}
