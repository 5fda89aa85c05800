//! [`Stats`]: a snapshot of a pool's threads and tasks, in the spirit of tokio's runtime
//! metrics, and the per-worker event counters behind it.
//!
//! Event counters (tasks completed, panicked, steal operations, polls) are kept per worker, each on its own
//! cache line and written only by its worker, so counting adds no contended atomic to the
//! submit/poll/complete path; `stats()` sums them. Spare (compensating) threads share one extra
//! record, written with read-modify-writes. The gauges (queued, running, idle, ...) are read from
//! the pool's own state when the snapshot is taken; they are a moment's picture of a moving
//! pool, not a consistent cut.
//!
//! Without the `stats` feature (on by default) the event counters are compiled out: they read
//! zero, and so does `tasks_running`, which they derive (running tasks then count as
//! suspended).

use betterconcurrent_core::sync::{AtomicUsize, Ordering};

/// A snapshot of a pool, from [`Executor::stats`](crate::Executor::stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Pool threads alive: workers plus compensating spares.
    pub threads_alive: usize,
    /// Threads asleep waiting for work.
    pub threads_idle: usize,
    /// Threads awake and looking for work.
    pub threads_searching: usize,
    /// Spare threads started because every thread was blocked in a wait, alive now.
    pub compensating_threads: usize,
    /// Spare threads started since the pool was built (retired ones included).
    pub compensating_threads_started: usize,
    /// Tasks in the run queues. (A task in a worker's LIFO slot, which only that worker runs
    /// and which no other thread can see, is not among them: it shows as suspended until it
    /// runs. Only what an async body submits, or wakes, while it is polled goes there.)
    pub tasks_queued: usize,
    /// Tasks being run (polled) right now.
    pub tasks_running: usize,
    /// Async tasks suspended on something they await (outstanding, neither queued nor running).
    /// Without the `stats` feature, `tasks_running` reads zero and running tasks count here.
    pub tasks_suspended: usize,
    /// Tasks submitted and not finished, suspended ones included (what `join` waits for).
    /// Exact when the pool is at rest; while workers are busy it may count a few tasks high (a
    /// worker moving its prepaid share of the join count while the snapshot is taken), and it
    /// is never below `tasks_queued + tasks_running`.
    pub tasks_outstanding: usize,
    /// Tasks finished by the pool's threads since it started, panicked ones included.
    pub tasks_completed: u64,
    /// Of those, tasks whose code panicked.
    pub tasks_panicked: u64,
    /// Times a thread took work (one task, or a batch into its own queue) from the shared
    /// queue or another worker's queue.
    pub steals: u64,
    /// Per worker record (one per worker thread started, in start order; the last entry is the
    /// record spare threads and outside threads share), the same event counters.
    pub per_worker: Vec<WorkerStats>,
}

/// One worker's event counters, in [`Stats::per_worker`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Tasks this worker finished, panicked ones included.
    pub tasks_completed: u64,
    /// Of those, tasks whose code panicked.
    pub tasks_panicked: u64,
    /// Times it took work from the shared queue or another worker's queue.
    pub steals: u64,
    /// Times it ran a task (a closure once; an async task once per poll).
    pub polls: u64,
}

/// One worker record's counters (the record keeps them on their own cache line).
#[derive(Debug)]
pub(crate) struct WorkerCounters {
    /// False for the spare threads' shared record: then increments are read-modify-writes.
    exclusive: bool,
    polls_started: AtomicUsize,
    polls_ended: AtomicUsize,
    completed: AtomicUsize,
    panicked: AtomicUsize,
    steals: AtomicUsize,
}

/// Which counter to bump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    PollStarted,
    PollEnded,
    Completed,
    Panicked,
    Steal,
}

impl WorkerCounters {
    pub(crate) fn new(exclusive: bool) -> Self {
        Self {
            exclusive,
            polls_started: AtomicUsize::new(0),
            polls_ended: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            panicked: AtomicUsize::new(0),
            steals: AtomicUsize::new(0),
        }
    }

    /// Count one `event`. Only the record's own worker calls this on an exclusive record, so a plain
    /// load and store suffice there (readers only need each value to be one that was written).
    pub(crate) fn count(&self, event: Event) {
        if !cfg!(feature = "stats") {
            return;
        }
        let counter = match event {
            Event::PollStarted => &self.polls_started,
            Event::PollEnded => &self.polls_ended,
            Event::Completed => &self.completed,
            Event::Panicked => &self.panicked,
            Event::Steal => &self.steals,
        };
        if self.exclusive {
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        } else {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Polls in progress on this record.
    pub(crate) fn running(&self) -> usize {
        // Ended is read first: a poll that ends between the two loads is then counted as not
        // running, never as a negative.
        let ended = self.polls_ended.load(Ordering::Relaxed);
        self.polls_started
            .load(Ordering::Relaxed)
            .saturating_sub(ended)
    }

    pub(crate) fn snapshot(&self) -> WorkerStats {
        WorkerStats {
            tasks_completed: self.completed.load(Ordering::Relaxed) as u64,
            tasks_panicked: self.panicked.load(Ordering::Relaxed) as u64,
            steals: self.steals.load(Ordering::Relaxed) as u64,
            polls: self.polls_ended.load(Ordering::Relaxed) as u64,
        }
    }
}
