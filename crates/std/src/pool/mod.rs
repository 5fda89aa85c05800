//! The OS-thread pool behind [`ThreadPoolExecutor`]: [`Pool`], the state its handles and its
//! threads share, made of one part per protocol, each in its own module with its protocol
//! argued there:
//!
//! | part | module | protocol |
//! | --- | --- | --- |
//! | work accounting: `outstanding`, prepaid shares, waiting for zero | `accounting` | counted before the closing check, ended after completion |
//! | threads: lazy start, idle reuse, spares and their cap, exit | `threads` | idle tokens, `alive`, compensation |
//! | registry of suspended async tasks | `registry` | registered at the first suspension, then the cancel check; forgotten when ended |
//! | lifecycle: closing, cancelling, broken; waiters for convergence | `lifecycle` | `closing` vs the exit check; check-and-register under the waiters' lock |
//! | idle workers sleeping and waking | `crate::sleep` | the searching count and wake-up tokens |
//!
//! This module composes them: submit (count, check closing, queue, claim or start a thread,
//! wake a sleeper), running a queued task (register it if it suspends; count its end, forget
//! it), ending queued work
//! unrun, shutdown, and the pool's view of a blocked thread. The worker loop (`crate::worker`)
//! calls these, never the parts' fields.
//!
//! # Worker records
//!
//! A worker's deque stealer, its event counters, its prepaid share and its registry shard are
//! made when its thread starts and appended to `workers` (an append-only concurrent vector), so a
//! pool costs memory and search time for the threads it has, not for `max_workers`. A record is
//! pushed when its thread starts, never derived from a count, so no two live workers share one
//! even after a failed start, which matters because a record holds state only its worker may
//! write. Spare and outside threads share one more record (`shared_record`), which has no deque
//! and no share. A thread holds its own record (its worker context keeps a handle), so the
//! per-task paths never look one up.
//!
//! # Ending work the pool refuses or drops
//!
//! A task refused by a closing pool was never accepted: its count is undone *before* its work is
//! dropped, so a destructor that drops the pool (whose drop waits for the count) does not wait
//! for itself. Work ended unrun by the pool itself (drained by `shutdown(cancel_futures)` or a
//! break) is counted ended after its drop, as every task is; while the pool drops it, the thread
//! counts as running this pool's tasks (`worker::EndingTasks`), so waits on the pool from that
//! destructor behave as they do on a worker (no self-wait).

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use betterconcurrent_core::executor::{block_on_until, report_line};
use betterconcurrent_core::executor::{
    Registration, RunHooks, RunOutcome, Schedule, SchedulerHandle, Suspending, Task, TaskKind,
    TaskWatch,
};
use betterconcurrent_core::sync::{Arc, AtomicBool, Ordering, Weak};
use betterconcurrent_core::{Error, SubmitError};
use crossbeam_utils::CachePadded;

use crate::queue::{Injector, Stealer, Worker};
use crate::sleep::{Recheck, Sleep};
use crate::stats::{Event, Stats, WorkerCounters};
use crate::worker;

mod accounting;
mod builder;
mod group;
mod lifecycle;
mod registry;
mod threads;
mod watch;

use accounting::Accounting;
pub(crate) use accounting::PrepaidShare;
pub use builder::{BuildError, Builder, MAX_WORKERS};
pub(crate) use group::Group;
pub(crate) use lifecycle::Waiter;
use lifecycle::{Lifecycle, Waiters};
use registry::Registry;

use crate::dump::{BlockedThreads, Dump, ThreadSlots};
pub use threads::MAX_SPARE_THREADS;
use threads::{Compensation, Threads};
use watch::{StuckHook, StuckWatch};

/// What a started worker thread owns in the pool (see the module docs' "Worker records"), or,
/// without a deque, what spare and outside threads share.
///
/// What its worker writes on every task (counters, share) is on cache lines of its own, apart
/// from what thieves read (the stealer).
pub(crate) struct WorkerRecord {
    /// The stealing side of the worker's deque (`None` for the shared record).
    stealer: Option<Stealer<Task>>,
    /// The registry shard its thread registers async tasks in.
    registry_shard: usize,
    /// Its event counters, written only by that worker (the shared record's with
    /// read-modify-writes).
    counters: CachePadded<WorkerCounters>,
    /// Its prepaid share of the accounting (none in the shared record).
    share: CachePadded<PrepaidShare>,
}

impl WorkerRecord {
    fn new(stealer: Option<Stealer<Task>>, registry_shard: usize) -> Self {
        let exclusive = stealer.is_some();
        Self {
            stealer,
            registry_shard,
            counters: CachePadded::new(WorkerCounters::new(exclusive)),
            share: CachePadded::new(PrepaidShare::new(exclusive)),
        }
    }
}

/// What a wait for the pool waits for.
#[derive(Clone, Copy)]
enum Until {
    /// No task outstanding (`wait_idle`, `join`).
    Idle,
    /// No task outstanding and every thread exited (`shutdown(wait = true)`).
    Stopped,
}

/// A wait for the pool to reach a state (see `lifecycle`'s "Waiting"). Dropped unfinished (a
/// timed-out wait), it removes its waker from the pool's waiters.
struct Quiescence<'a> {
    pool: &'a Pool,
    until: Until,
    waiter: Waiter,
}

impl std::future::Future for Quiescence<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (pool, until) = (self.pool, self.until);
        self.waiter.poll(&pool.waiters, cx, || {
            let idle = pool.accounting.is_zero();
            match until {
                Until::Idle => idle,
                Until::Stopped => idle && pool.threads.alive() == 0,
            }
        })
    }
}

impl Drop for Quiescence<'_> {
    fn drop(&mut self) {
        self.waiter.leave(&self.pool.waiters);
    }
}

std::thread_local! {
    /// Set while this thread takes a dump (see `Pool::dump`).
    static DUMPING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears `DUMPING` when the dump that set it ends.
struct ResetDumping;

impl Drop for ResetDumping {
    fn drop(&mut self) {
        DUMPING.set(false);
    }
}

/// The state shared by a pool's handles and its threads: the parts of the module docs' table.
pub(crate) struct Pool {
    /// This pool, for the paths that reach it by reference and must hand a thread its own
    /// handle (`Schedule` takes `&self`).
    this: Weak<Pool>,
    /// What each task keeps to find this pool again (made once, cloned per task).
    scheduler: SchedulerHandle,
    accounting: Accounting,
    threads: Threads,
    registry: Registry,
    lifecycle: Lifecycle,
    waiters: Waiters,
    pub(crate) sleep: Sleep,
    pub(crate) injector: Injector<Task>,
    /// One per started worker thread, in start order (see the module docs' "Worker records").
    workers: boxcar::Vec<Arc<WorkerRecord>>,
    /// The record of spare and outside threads.
    shared_record: Arc<WorkerRecord>,
    /// Set once a group of this pool's tasks was made: until then no task can belong to one,
    /// and the per-task paths skip looking (see `group`).
    has_groups: AtomicBool,
    /// The pool threads blocked in a blocking wait, for the dump.
    pub(crate) blocked: BlockedThreads,
    /// What each of its threads runs, for the dump.
    pub(crate) running: ThreadSlots,
    /// Held while a dump takes its snapshots (see `dump`).
    dumping: std::sync::Mutex<()>,
    /// The unasked report of a stuck pool (see `watch`).
    stuck: StuckWatch,
}

impl Pool {
    fn new(threads: Threads, on_stuck: Option<StuckHook>) -> Arc<Pool> {
        let registry = Registry::new(threads.max_workers());
        Arc::new_cyclic(|this| Pool {
            this: this.clone(),
            scheduler: SchedulerHandle::new(this.clone()),
            accounting: Accounting::default(),
            threads,
            registry,
            lifecycle: Lifecycle::default(),
            waiters: Waiters::default(),
            sleep: Sleep::new(),
            injector: Injector::new(),
            workers: boxcar::Vec::new(),
            shared_record: Arc::new(WorkerRecord::new(None, 0)),
            has_groups: AtomicBool::new(false),
            blocked: BlockedThreads::default(),
            running: ThreadSlots::default(),
            dumping: std::sync::Mutex::new(()),
            stuck: StuckWatch::new(on_stuck),
        })
    }

    /// The stealing sides of every started worker's deque.
    pub(crate) fn stealers(&self) -> impl Iterator<Item = &Stealer<Task>> {
        self.workers
            .iter()
            .filter_map(|(_, record)| record.stealer.as_ref())
    }

    /// Every record: the workers' in start order, then the shared one.
    fn all_records(&self) -> impl Iterator<Item = &WorkerRecord> {
        self.workers
            .iter()
            .map(|(_, record)| &**record)
            .chain(std::iter::once(&*self.shared_record))
    }

    /// Wait until the pool reached `until` or `deadline` passed (false then), through the
    /// current thread's blocking hook (see `lifecycle`'s "Waiting").
    fn wait_for(&self, until: Until, deadline: Option<Instant>) -> bool {
        let wait = Quiescence {
            pool: self,
            until,
            waiter: Waiter::default(),
        };
        block_on_until(wait, deadline).is_some()
    }

    /// Accept a new task: count it, refuse it if the pool is closing, then queue it.
    /// Whether a submit would be accepted now: the error it would get once the pool closes.
    #[cfg(feature = "futures")]
    pub(crate) fn accepts_work(&self) -> Result<(), SubmitError> {
        if self.lifecycle.is_closing() {
            return Err(self.lifecycle.submit_error());
        }
        Ok(())
    }

    pub(crate) fn submit(self: &Arc<Self>, task: Task) -> Result<(), SubmitError> {
        // Counted before the closing check (see `accounting`): a worker counts from its prepaid
        // share (its task lands in its own queue), any other thread directly, with the fence
        // that pairs with `closing`'s.
        let from_share = worker::with_own_record(self, |record| {
            self.accounting.count_from_share(&record.share).is_some()
        })
        .unwrap_or(false);
        if !from_share {
            self.accounting.count_one();
        }
        if self.lifecycle.is_closing() {
            let error = self.lifecycle.submit_error();
            // Never accepted: undo its count before its work is dropped (module docs).
            if from_share {
                worker::with_own_record(self, |record| self.task_ended(record));
            } else {
                self.units_ended(1);
            }
            // Ended (not merely dropped), so the cell does not count itself unfinished later;
            // nothing is left to count (and it never ran, so it was never registered).
            let _uncounted = task.cancel();
            return Err(error);
        }
        self.enqueue(task);
        Ok(())
    }

    /// Queue a counted task where the current thread finds it fastest, then claim an idle worker
    /// for it or start one (Python's `_adjust_thread_count`), and wake a sleeper.
    fn enqueue(&self, task: Task) {
        let stealable = match worker::push_local(self, task) {
            Ok(pushed_to_deque) => pushed_to_deque,
            Err(task) => {
                self.injector.push(task);
                true
            }
        };
        // Once every worker has started there is no thread to start and no token to claim
        // (Python's `_adjust_thread_count` stops there too): skip the shared counter.
        if !self.threads.all_started() && !self.threads.claim_idle() {
            self.start_worker();
        }
        // A task in the submitting worker's LIFO slot is that worker's to run: waking another
        // for it would only find nothing to steal.
        if stealable {
            self.sleep.notify_one();
        }
    }

    /// The handle a task keeps to this pool (for re-queueing and `Executor::of`).
    pub(crate) fn scheduler(&self) -> SchedulerHandle {
        self.scheduler.clone()
    }

    /// An owned handle to this pool, if it is still alive.
    pub(crate) fn upgrade(&self) -> Option<Arc<Pool>> {
        self.this.upgrade()
    }

    pub(crate) fn max_workers(&self) -> usize {
        self.threads.max_workers()
    }

    /// Every pool thread's stack, in bytes (`Builder::stack_size`).
    pub(crate) fn stack_size(&self) -> usize {
        self.threads.stack_size()
    }

    pub(crate) fn thread_count(&self) -> usize {
        self.threads.started()
    }

    /// Start one more worker thread if fewer than `max_workers` run.
    fn start_worker(&self) {
        // Reached from `submit` or `schedule`, whose callers hold the pool alive.
        let Some(pool) = self.upgrade() else {
            debug_assert!(false, "a pool reached by reference is alive");
            return;
        };
        let Some(index) = self.threads.claim_worker() else {
            return;
        };
        let deque = Worker::new_lifo();
        let record = Arc::new(WorkerRecord::new(
            Some(deque.stealer()),
            self.registry.shard_of_worker(index),
        ));
        self.workers.push(record.clone());
        let body = move || worker::run(pool, Some(deque), record);
        if let Err(error) = self.threads.spawn(self.threads.worker_name(index), body) {
            // The deque went with the closure: this record stays empty, and no one owns it.
            self.waiters.wake_all();
            if self.threads.worker_not_started() {
                // With no thread at all, nothing would ever run the queue (our caller's task
                // included, pushed before it got here): break the pool, which drains the
                // queues, so no future waits forever.
                self.mark_broken(format!("could not start a worker thread: {error}"));
            }
        }
    }

    /// Run the user's initializer on a new worker thread; false (and the pool broken) if it
    /// failed or panicked.
    pub(crate) fn initialize_thread(&self) -> bool {
        if !self.threads.has_initializer() {
            return true;
        }
        if self.lifecycle.broken_reason().is_some() {
            return false;
        }
        match self.threads.initialize() {
            Ok(()) => true,
            Err(reason) => {
                self.mark_broken(reason);
                false
            }
        }
    }

    /// Break the pool: refuse new work, fail every queued task, let the threads exit.
    fn mark_broken(&self, reason: String) {
        // Reported once, on the first break: every later submit's error carries the reason,
        // but a pool whose work is all fire-and-forget would otherwise say nothing.
        let report = format!(
            "the pool {:?} is broken: {reason}",
            self.threads.name_prefix()
        );
        if self.lifecycle.break_for(reason) {
            report_line(format_args!("{report}"));
        }
        self.drain_queues();
        self.sleep.notify_all();
    }

    /// Take every queued task out and end it without running it: cancelled after
    /// `shutdown(cancel_futures = true)`, failed if the pool is broken.
    fn drain_queues(&self) {
        // Dropping the work is user code, which may drop (or wait for) this very pool.
        let _ending = worker::EndingTasks::of(self);
        loop {
            let mut took_any = false;
            while let Some(task) = self.injector.steal().success() {
                took_any = true;
                self.discard_queued(task);
            }
            for stealer in self.stealers() {
                while let Some(task) = stealer.steal().success() {
                    took_any = true;
                    self.discard_queued(task);
                }
            }
            if !took_any {
                break;
            }
        }
    }

    /// End a task unrun, as the pool's state (or its group's) requires, and count it ended.
    fn discard(&self, task: Task, group: Option<&Group>) {
        let entry = registry_entry(&task);
        let ended_here = match self.lifecycle.broken_reason() {
            Some(reason) => task.fail(Error::BrokenExecutor(reason)),
            None => task.cancel(),
        };
        if ended_here {
            self.forget(entry);
            if let Some(group) = group {
                group.end();
            }
            self.units_ended(1);
        }
    }

    /// End a task taken from a queue unrun (see `discard`).
    fn discard_queued(&self, task: Task) {
        let group = if self.has_groups.load(Ordering::Relaxed) {
            // SAFETY: the group is used only by `discard`, up to its count of the task's end.
            unsafe { self.group_of(&task) }
        } else {
            None
        };
        self.discard(task, group.as_ref().map(GroupOf::get));
    }

    /// A group of this pool's tasks is being made (see `group`).
    fn made_a_group(&self) {
        self.has_groups.store(true, Ordering::Relaxed);
    }

    /// The group `task` belongs to (callers ask only once the pool made a group, `has_groups`).
    /// A detached or async task is counted in its group until it ends there, so its group is
    /// reached without a reference count (two on every task of a group, on a line every
    /// worker writes, cost more than the task). A closure with a future may have run in place already (`Future::run_here`, which
    /// counted it ended, so its group may be gone while its queued copy waits): its group is
    /// held for the call.
    ///
    /// # Safety
    /// The group is valid until `task` is counted ended in it (`Group::end`), and must not be
    /// used after: a group holds itself only while it has work (see `group`).
    #[inline]
    unsafe fn group_of<'g>(&self, task: &Task) -> Option<GroupOf<'g>> {
        let handle = task.scheduler()?;
        if handle.is(&self.scheduler) {
            return None;
        }
        if task.kind() == TaskKind::Closure {
            return Group::of_handle(handle).map(GroupOf::Held);
        }
        // A detached or async task is counted in its group until it ends there
        // (`Group::submit` counted it first; neither kind runs anywhere but from its queue),
        // and a group with work holds itself (`group`'s "Held while busy").
        // SAFETY: so the group is alive for as long as the caller may use the reference.
        let scheduler = unsafe { &*(handle.executor_unchecked() as *const dyn Schedule) };
        scheduler
            .as_any()
            .downcast_ref::<Group>()
            .map(GroupOf::Borrowed)
    }

    /// Abort every registered (suspended) task whose handle `abort_it` picks: its body is
    /// dropped and its future ends cancelled by whoever holds it next (see `registry`).
    fn abort_suspended(&self, abort_it: impl Fn(&SchedulerHandle) -> bool) {
        // An abort may drop a task's last handle here, running its destructors, which may drop
        // or wait for this very pool.
        let _ending = worker::EndingTasks::of(self);
        for task in self.registry.unfinished() {
            if task.scheduler().is_some_and(|handle| abort_it(&handle)) {
                task.abort();
            }
        }
    }

    /// Every unfinished task the registry reaches, and who waits on whom (see `crate::dump`).
    pub(crate) fn dump(&self) -> Dump {
        let outstanding = self.stats().tasks_outstanding;
        // A snapshot may drop a task's last handle, running its destructors, as an abort may.
        let _ending = worker::EndingTasks::of(self);
        // One dump at a time: a snapshot counts a task's wakers from its cell's references, and
        // another dump's handle to the same task would look like one more waker. A dump from a
        // destructor that a dump's dropped handle ran (the task's last) is nested on this
        // thread: it goes ahead (the outer dump holds no other handle then).
        let _one_at_a_time = (!DUMPING.get()).then(|| {
            DUMPING.set(true);
            let guard = self
                .dumping
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (guard, ResetDumping)
        });
        Dump::new(
            &self.registry.unfinished(),
            outstanding,
            &crate::time::sleeping_ids(),
            &self.running,
            &self.blocked,
        )
    }

    /// The pool's dump if it is deadlocked: some tasks are in a closed wait-for cycle
    /// (`Dump::has_closed_cycle`: suspended, each waiting only on the next), so the pool can
    /// never become idle, whatever its other tasks do. With `awaited`, only if that future's
    /// task is in such a cycle or waits on one. Read only by a timed wait that gave up: never on
    /// a task's path. A pool whose tasks only wait on futures outside its view is not called
    /// deadlocked: another thread may still complete them.
    fn deadlocked(&self, awaited: Option<usize>) -> Option<Dump> {
        let dump = self.dump();
        let deadlocked = match awaited {
            None => dump.has_closed_cycle(),
            Some(id) => dump.waits_on_closed_cycle(id),
        };
        deadlocked.then_some(dump)
    }

    /// The dump's text if a suspended task that `picked` chooses by its handle (a group's)
    /// waits on a deadlock: why a group's timed join gave up (see `deadlocked`). Reaches no
    /// task before its own dump (a reference held during a dump would count as a waker there;
    /// another thread's concurrent dump may still see one and call a cycle open: never closed
    /// falsely).
    pub(crate) fn deadlock_diagnosis_of(
        &self,
        picked: impl Fn(&SchedulerHandle) -> bool,
    ) -> Option<Arc<str>> {
        let dump = self.dump();
        if !dump.has_closed_cycle() {
            return None;
        }
        let _ending = worker::EndingTasks::of(self);
        let members: Vec<usize> = self
            .registry
            .unfinished()
            .iter()
            .filter(|task| task.scheduler().is_some_and(|handle| picked(&handle)))
            .filter_map(TaskWatch::id)
            .collect();
        dump.any_waits_on_closed_cycle(&members)
            .then(|| dump.to_string().into())
    }

    /// Forget the registry entry of a task that ended (see `registry`).
    fn forget(&self, entry: Option<usize>) {
        if let Some(entry) = entry {
            self.registry.forget(entry);
        }
    }

    /// False once queued work must be ended unrun (see `lifecycle`). Checked before running a
    /// queued task, and before running one in place.
    #[inline]
    pub(crate) fn may_run_work(&self) -> bool {
        self.lifecycle.may_run_work()
    }

    /// Run a task taken from a queue (or end it unrun if the pool broke or cancelled its queue),
    /// counting it in `record`, the running thread's; `entry` is its registry entry (read by
    /// the caller, which looked at the task already). Always inlined: it is the worker loop's
    /// per-task path (a call frame here cost 2% of a tree of tiny tasks in instructions).
    #[inline(always)]
    pub(crate) fn execute(&self, task: Task, entry: Option<usize>, record: &WorkerRecord) {
        self.run_task(task, entry, record, true);
    }

    /// As [`execute`](Pool::execute), for a task the thread runs in place, inside other code
    /// it returns to (an awaiting poll, a scope's wait; see `worker::run_awaited_here`): the
    /// thread does not count itself idle as the task completes, since it is not about to look
    /// for work.
    pub(crate) fn execute_in_place(&self, task: Task, entry: Option<usize>, record: &WorkerRecord) {
        self.run_task(task, entry, record, false);
    }

    /// [`execute`](Pool::execute)'s body; `goes_idle`: the thread looks for work once the task
    /// returns (`RunOnWorker::goes_idle`).
    #[inline(always)]
    fn run_task(&self, task: Task, entry: Option<usize>, record: &WorkerRecord, goes_idle: bool) {
        // Until the pool made a group, no task belongs to one: one load, and nothing else.
        let held = if self.has_groups.load(Ordering::Relaxed) {
            // SAFETY: `group` is last used by its count of the task's end, below.
            let held = unsafe { self.group_of(&task) };
            // Before a discard too: a discarded task's destructors run in its group (and the
            // previous group's share goes back now, not after them).
            worker::set_group(held.as_ref().map(GroupOf::get), record.share.is_exclusive());
            held
        } else {
            None
        };
        let group = held.as_ref().map(GroupOf::get);
        if !self.may_run_work() || group.is_some_and(Group::is_cancelled) {
            self.discard(task, group);
            return;
        }
        let counters = &record.counters;
        counters.count(Event::PollStarted);
        let mut registered = None;
        let outcome = task.execute(RunOnWorker {
            pool: self,
            group,
            shard: record.registry_shard,
            registered: &mut registered,
            goes_idle,
        });
        counters.count(Event::PollEnded);
        match outcome {
            RunOutcome::Completed => counters.count(Event::Completed),
            RunOutcome::Panicked => {
                counters.count(Event::Completed);
                counters.count(Event::Panicked);
            }
            _ => {}
        }
        if outcome.ended() {
            // Registered before this run, or in it (then aborted as it suspended).
            self.forget(entry.or(registered));
            if let Some(group) = group {
                worker::end_in_group(group);
            }
            self.task_ended(record);
        }
    }

    /// A task the thread of `record` ran has ended: counted on its prepaid share.
    fn task_ended(&self, record: &WorkerRecord) {
        if self.accounting.end_on_share(&record.share) {
            self.reached_zero();
        }
    }

    /// Give back the whole prepaid share of the worker of `record`: it is about to look for
    /// work in vain, park, or exit (see `accounting`).
    pub(crate) fn return_share(&self, record: &WorkerRecord) {
        if self.accounting.return_share(&record.share) {
            self.reached_zero();
        }
    }

    /// `ended` units of the accounting are done.
    fn units_ended(&self, ended: usize) {
        if self.accounting.end(ended) {
            self.reached_zero();
        }
    }

    /// The accounting reached zero: if the pool is closing, wake the workers so they exit, and
    /// wake whoever waits for the pool (see `accounting`'s "Waiting for zero").
    fn reached_zero(&self) {
        self.stuck.went_idle();
        let closing = self.lifecycle.is_closing();
        if closing {
            self.sleep.notify_all();
        }
        if closing || self.accounting.has_waiters() {
            self.waiters.wake_all();
        }
    }

    /// Count a steal by the thread of `record`.
    /// A task of this pool whose panic was caught before the pool saw it (a scope's task
    /// without a future: its scope re-raises the panic) panicked: counted on the running
    /// thread's record, as the pool counts the panics it catches itself.
    pub(crate) fn count_caught_panic(&self) {
        worker::with_own_record(self, |record| record.counters.count(Event::Panicked));
    }

    pub(crate) fn count_steal(&self, record: &WorkerRecord) {
        record.counters.count(Event::Steal);
    }

    /// A snapshot of the pool; see [`Stats`].
    pub(crate) fn stats(&self) -> Stats {
        let per_worker: Vec<_> = self
            .all_records()
            .map(|record| record.counters.snapshot())
            .collect();
        let tasks_queued =
            self.injector.len() + self.stealers().map(|stealer| stealer.len()).sum::<usize>();
        let tasks_running = self
            .all_records()
            .map(|record| record.counters.running())
            .sum();
        let shares = || self.all_records().map(|record| record.share.units()).sum();
        let tasks_outstanding = self
            .accounting
            .tasks(shares)
            .max(tasks_queued + tasks_running);
        Stats {
            threads_alive: self.threads.alive(),
            threads_idle: self.sleep.sleeping(),
            threads_searching: self.sleep.searching(),
            compensating_threads: self.threads.spares(),
            compensating_threads_started: self.threads.spares_started(),
            tasks_queued,
            tasks_running,
            tasks_suspended: tasks_outstanding.saturating_sub(tasks_queued + tasks_running),
            tasks_outstanding,
            tasks_completed: per_worker.iter().map(|w| w.tasks_completed).sum(),
            tasks_panicked: per_worker.iter().map(|w| w.tasks_panicked).sum(),
            steals: per_worker.iter().map(|w| w.steals).sum(),
            per_worker,
        }
    }

    /// Block until no task is outstanding (the whole tree of tasks converged) or `deadline`
    /// (see `accounting`'s "Waiting for zero").
    pub(crate) fn wait_idle_until(&self, deadline: Option<Instant>) -> Result<(), Error> {
        if worker::runs_tasks_of(self) {
            return Err(Error::WouldDeadlock);
        }
        self.accounting.begin_wait();
        let converged = self.wait_for(Until::Idle, deadline);
        self.accounting.end_wait();
        if converged {
            Ok(())
        } else {
            Err(self
                .deadlocked(None)
                .map_or(Error::Timeout, |dump| Error::Stuck(dump.to_string().into())))
        }
    }

    /// A worker or spare thread is exiting.
    pub(crate) fn thread_exited(&self, spare: bool) {
        if spare {
            self.threads.spare_exited();
        }
        self.threads.exited();
        self.waiters.wake_all();
    }

    /// Whether any queue holds a task.
    pub(crate) fn has_queued(&self) -> bool {
        !self.injector.is_empty() || self.stealers().any(|stealer| !stealer.is_empty())
    }

    /// The decision a worker re-checks under the sleep lock (see `sleep`).
    /// A spare (compensating) thread also retires once no thread is blocked any more.
    pub(crate) fn recheck(&self, spare: bool) -> Recheck {
        if self.has_queued() {
            Recheck::Work
        } else if self.lifecycle.is_closing() && self.accounting.is_zero() {
            Recheck::Exit
        } else if spare && self.threads.try_retire_spare() {
            self.waiters.wake_all();
            Recheck::Retire
        } else {
            if !self.accounting.is_zero() {
                self.watch_for_stuck();
            }
            Recheck::Sleep
        }
    }

    /// A pool thread is about to park in a blocking wait: compensate if every thread is now
    /// blocked (see `threads`).
    pub(crate) fn thread_blocked(self: &Arc<Self>) {
        self.watch_for_stuck();
        match self.threads.blocking() {
            Compensation::None => {}
            Compensation::StartSpare => self.start_spare(),
            Compensation::AtCap => self.threads.report_cap_once(),
        }
    }

    /// The blocked thread resumed. When the last one does, idle spares are woken to retire.
    pub(crate) fn thread_unblocked(&self) {
        if self.threads.unblocked() {
            self.sleep.notify_all();
        }
    }

    fn start_spare(self: &Arc<Self>) {
        let pool = self.clone();
        let record = self.shared_record.clone();
        let body = move || worker::run(pool, None, record);
        if self
            .threads
            .spawn(self.threads.next_spare_name(), body)
            .is_err()
        {
            // The blocked thread stays blocked: the documented wait at the cap.
            self.threads.spare_exited();
            self.waiters.wake_all();
        }
    }

    pub(crate) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.lifecycle.close(cancel_futures);
        if cancel_futures {
            // The drain and the aborts may drop tasks' last handles here, running their
            // destructors, which may drop or wait for this very pool.
            let _ending = worker::EndingTasks::of(self);
            self.drain_queues();
            // Suspended tasks sit in no queue: abort each registered one, so whoever holds it
            // next ends it (a suspended one is queued for that), even if what it awaits never
            // completes. One a worker is polling for the first time aborts itself if it
            // suspends (see `registry`).
            for task in self.registry.unfinished() {
                task.abort();
            }
        }
        self.sleep.notify_all();
        if wait && !worker::runs_tasks_of(self) {
            // Waiting on the counts rather than on the join handles covers a submit that was
            // accepted just before `closing` was set and is still starting its thread, and a
            // second concurrent `shutdown(wait = true)` that finds the handles already taken.
            self.wait_for(Until::Stopped, None);
            self.threads.join_all();
            // After the threads: a watcher may still report a task stuck in their wait.
            self.stuck.stop();
        }
    }
}

/// A task's group as `Pool::group_of` reaches it: borrowed (valid until the task ends in it),
/// or held for a task that may have ended elsewhere.
enum GroupOf<'g> {
    Borrowed(&'g Group),
    Held(Arc<Group>),
}

impl GroupOf<'_> {
    fn get(&self) -> &Group {
        match self {
            GroupOf::Borrowed(group) => group,
            GroupOf::Held(group) => group,
        }
    }
}

/// The pool's side of one run of a task on a pool thread (see [`RunHooks`]): the thread goes
/// idle when the user's code returns, and an async task is registered when it first suspends
/// (see `registry`).
struct RunOnWorker<'a> {
    pool: &'a Pool,
    /// The group of the task, if it belongs to one.
    group: Option<&'a Group>,
    /// The registry shard of the running thread's record.
    shard: usize,
    /// The entry of the task if this run registered it.
    registered: &'a mut Option<usize>,
    /// The thread looks for work once this task returns (not for one run in place): then it
    /// counts itself idle as the task completes (see `threads`).
    goes_idle: bool,
}

impl RunHooks for RunOnWorker<'_> {
    #[inline]
    fn before_complete(&mut self) {
        if self.goes_idle {
            self.pool.threads.release_idle();
        }
    }

    #[inline]
    fn suspending(&mut self, task: Suspending<'_>) {
        if task.registration().get().is_some() {
            return;
        }
        *self.registered = Some(self.pool.registry.register(&task, self.shard));
        // After registering (see `registry`): a shutdown whose walk missed the entry is seen.
        if self.pool.lifecycle.is_cancelling() || self.group.is_some_and(Group::is_cancelled) {
            task.abort();
        }
    }
}

/// The registry entry of an async task, read before the task is consumed.
fn registry_entry(task: &Task) -> Option<usize> {
    task.registration().and_then(Registration::get)
}

impl Schedule for Pool {
    /// A woken async task goes back to the queue like a new one, but it is already counted, and
    /// it is accepted even after shutdown: a worker ends it (cancels it after
    /// `shutdown(cancel_futures = true)`).
    fn schedule(&self, task: Task) {
        self.enqueue(task);
    }

    /// A task woken during its own poll goes to the back of the shared queue, not to this
    /// worker's LIFO slot or deque (whose owner end is last-in first-out): there it would be
    /// the next task this worker runs, again and again, while older work waits forever.
    fn schedule_yielded(&self, task: Task) {
        self.injector.push(task);
        self.sleep.notify_one();
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn ended_elsewhere(&self, registered: Option<usize>) {
        self.forget(registered);
        self.units_ended(1);
    }

    /// The freed task's destructors run while this thread counts as ending the pool's tasks
    /// (`worker::EndingTasks`, as for drained work), so a destructor that drops the pool's last
    /// handle or waits for the pool does not wait for the very task being freed.
    fn end_freed(&self, drop_body: &mut dyn FnMut(), registered: Option<usize>) {
        self.drop_freed_body(drop_body);
        self.ended_elsewhere(registered);
    }

    /// The dump's text if `awaited` waits on a deadlock (see `deadlocked`).
    fn deadlock_diagnosis(&self, awaited: usize) -> Option<Arc<str>> {
        self.deadlocked(Some(awaited))
            .map(|dump| dump.to_string().into())
    }
}

impl Pool {
    /// Drop the body of a task freed unfinished while this thread counts as ending the pool's
    /// tasks (see `Schedule::end_freed` above; a group's tasks go through here too).
    fn drop_freed_body(&self, drop_body: &mut dyn FnMut()) {
        let _ending = worker::EndingTasks::of(self);
        drop_body();
    }
}
