//! A group of a pool's tasks ([`Group`], behind the public `TaskGroup`): its own count of
//! unfinished work, so it can be joined apart from the rest of the pool, and its own cancel.
//!
//! # Protocol
//!
//! - **How a task finds its group.** A task with a future keeps one handle back to its
//!   executor (the core's `SchedulerHandle`); a group's tasks keep the group's handle instead of
//!   the pool's, so membership costs no memory per task. A worker compares a task's handle with
//!   the pool's (only once the pool has made a group, `Pool::has_groups`) and, for a group task,
//!   sets the thread's current group while it runs the task, so what the task submits through
//!   `Executor::current()` (or the handle `spawn` hands over) goes to the group too. A group's
//!   detached task keeps the handle as well (`Task::detached_with`; a plain detached task keeps
//!   none). The worker reaches the group through the handle without a reference count: the
//!   task is counted in its group until it ends there, and a busy group holds itself (below).
//! - **Counting.** A task of the group is counted in the group's `Accounting` and in the pool's
//!   (each with the protocol of `accounting`), counted before the cancel check, and ended in
//!   the group right before it is ended in the pool, after its future completed. A pool thread
//!   keeps a prepaid share of the group whose tasks it runs (its current group, `worker`), so
//!   a tree of a group's tasks does not write the group's counter per task; the share goes
//!   back when the thread turns to another group's task or to none, goes idle, parks or
//!   exits. `outstanding == 0` means
//!   every task of the group has ended. A child group (made while one of this group's tasks
//!   runs, or from a handle bound to this group) counts as one unit in its parent while it has
//!   work, so a parent converges only after its children.
//! - **Held while busy.** Tasks hold their group only weakly (through the handle), so while a
//!   group has work it holds itself (and its unit in the parent) in `held`. Whoever moves
//!   `outstanding` from 0 or to 0 then reconciles `held` with the count as it is now, under the
//!   `held` lock: the last reconcile sees the last count, so `held` ends up set exactly while
//!   there is work, whatever the order of racing transitions. Every submitter holds the group
//!   (a handle, or a task of the group, which keeps `outstanding` above zero), so the group is
//!   alive whenever it is counted.
//! - **Cancel.** `cancel` stores `cancelled` and then aborts every registered (suspended) task
//!   of the group or of its descendants. A queued task of the group is ended unrun by the
//!   worker that takes it (it checks `is_cancelled` before running it, as it checks the pool's
//!   lifecycle); one that suspends after the walk sees `cancelled` after registering (the
//!   registry's protocol, as for shutdown); running closures finish. Submits after `cancelled`
//!   is stored are refused.

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use betterconcurrent_core::executor::{block_on_until, Schedule, SchedulerHandle, Task};
use betterconcurrent_core::sync::blocking::{lock, Mutex};
use betterconcurrent_core::sync::{Arc, AtomicBool, Ordering, Weak};
use betterconcurrent_core::{Error, SubmitError};

use super::accounting::{Accounting, PrepaidShare};
use super::lifecycle::{Waiter, Waiters};
use super::Pool;
use crate::worker;

/// The state a group's handles and tasks share (see the module docs).
pub(crate) struct Group {
    this: Weak<Group>,
    pub(crate) pool: Arc<Pool>,
    parent: Option<Arc<Group>>,
    /// What each task of the group keeps to find it (made once, cloned per task).
    scheduler: SchedulerHandle,
    accounting: Accounting,
    cancelled: AtomicBool,
    waiters: Waiters,
    /// This group, held while it has work (see the module docs' "Held while busy").
    held: Mutex<Option<Arc<Group>>>,
}

impl Group {
    /// A new group of `pool`'s tasks, a child of `parent` if given.
    pub(crate) fn new(pool: Arc<Pool>, parent: Option<Arc<Group>>) -> Arc<Group> {
        pool.made_a_group();
        Arc::new_cyclic(|this: &Weak<Group>| Group {
            this: this.clone(),
            pool,
            parent,
            scheduler: SchedulerHandle::new(this.clone()),
            accounting: Accounting::default(),
            cancelled: AtomicBool::new(false),
            waiters: Waiters::default(),
            held: Mutex::new(None),
        })
    }

    /// An owned handle to this group, if it is still alive.
    pub(crate) fn upgrade(&self) -> Option<Arc<Group>> {
        self.this.upgrade()
    }

    /// The handle the group's tasks keep.
    pub(crate) fn scheduler(&self) -> SchedulerHandle {
        self.scheduler.clone()
    }

    /// The handle itself, for a detached task that points at it.
    pub(crate) fn handle(&self) -> &SchedulerHandle {
        &self.scheduler
    }

    /// The group a task belongs to, from its handle: `None` if the handle is not a group's.
    pub(crate) fn of_handle(handle: &SchedulerHandle) -> Option<Arc<Group>> {
        let scheduler = handle.upgrade()?;
        let group = scheduler.as_any().downcast_ref::<Group>()?;
        group.this.upgrade()
    }

    /// Whether this group or one of its ancestors was cancelled.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
            || self
                .parent
                .as_ref()
                .is_some_and(|parent| parent.is_cancelled())
    }

    /// Whether `self` is `other` or one of its descendants.
    pub(crate) fn is_within(&self, other: &Group) -> bool {
        std::ptr::eq(self, other)
            || self
                .parent
                .as_ref()
                .is_some_and(|parent| parent.is_within(other))
    }

    /// Count a new unit of work (a task, or a child group that became busy), before the cancel
    /// check (module docs).
    pub(crate) fn count(&self) {
        if self.accounting.count_first() {
            // Busy now: `reconcile` takes the hold; nothing is released.
            drop(self.reconcile());
        }
    }

    /// Count a task submitted from a pool thread that runs this group's tasks, from `share`,
    /// that thread's prepaid share of this group (see `accounting`), if it has one.
    pub(crate) fn count_from(&self, share: &PrepaidShare) {
        match self.accounting.count_from_share(share) {
            Some(true) => drop(self.reconcile()),
            Some(false) => {}
            None => self.count(),
        }
    }

    /// A unit of work ended.
    pub(crate) fn end(&self) {
        if self.accounting.end(1) {
            self.reached_zero();
        }
    }

    /// A task the pool thread owning `share` (its share of this group) ran has ended.
    pub(crate) fn end_from(&self, share: &PrepaidShare) {
        if self.accounting.end_on_share(share) {
            self.reached_zero();
        }
    }

    /// Give back the whole of `share`: its thread leaves this group's tasks (it runs another
    /// group's, goes idle, parks or exits).
    pub(crate) fn return_share(&self, share: &PrepaidShare) {
        if self.accounting.return_share(share) {
            self.reached_zero();
        }
    }

    /// Nothing is outstanding: release what the group held and wake its joins. The caller must
    /// not touch the group after this: the hold released here may have been its last handle.
    fn reached_zero(&self) {
        let released = self.reconcile();
        if self.accounting.has_waiters() {
            self.waiters.wake_all();
        }
        // Last, after every use of `self`: it may free the group.
        drop(released);
    }

    /// Set `held` exactly while there is work (module docs' "Held while busy"); returns the
    /// hold it released, for the caller to drop once it is done with the group.
    #[must_use = "the released hold may be the group's last handle: drop it after the last use"]
    fn reconcile(&self) -> Option<Arc<Group>> {
        let mut held = lock(&self.held);
        let busy = !self.accounting.is_zero();
        match (busy, held.is_some()) {
            (true, false) => {
                *held = self.this.upgrade();
                if let Some(parent) = &self.parent {
                    parent.count();
                }
                None
            }
            (false, true) => {
                if let Some(parent) = &self.parent {
                    parent.end();
                }
                held.take()
            }
            _ => None,
        }
    }

    /// Submit `task` (made with this group's handle) to the group's pool: counted in the
    /// group, refused if the group was cancelled.
    pub(crate) fn submit(&self, task: Task) -> Result<(), SubmitError> {
        worker::count_in_group(self);
        if self.is_cancelled() {
            // Never accepted: undo the count before the work is dropped (the pool's order).
            self.end();
            let _uncounted = task.cancel();
            return Err(SubmitError::Cancelled);
        }
        self.pool.submit(task).inspect_err(|_| self.end())
    }

    /// End the group's queued and suspended tasks (module docs' "Cancel").
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.pool.abort_suspended(|handle| {
            Group::of_handle(handle).is_some_and(|group| group.is_within(self))
        });
    }

    /// Block until the group has no work, or `deadline` passes (`Err(Timeout)`). Refused from
    /// inside the group's own tasks (it would wait for itself).
    pub(crate) fn join_until(&self, deadline: Option<Instant>) -> Result<(), Error> {
        if worker::current_group().is_some_and(|current| current.is_within(self)) {
            return Err(Error::WouldDeadlock);
        }
        if self.wait_until(deadline) {
            return Ok(());
        }
        // As the pool's own timed waits: a deadlock that some task of this group (or of a
        // group within it) waits on is named.
        let diagnosis = self.pool.deadlock_diagnosis_of(|handle| {
            Group::of_handle(handle).is_some_and(|group| group.is_within(self))
        });
        Err(diagnosis.map_or(Error::Timeout, Error::Stuck))
    }

    /// Block until the group has no work, or `deadline` passes (false then), without the
    /// self-wait check of [`join_until`](Group::join_until): for a caller that knows it runs
    /// none of the group's tasks (a scope's own wait).
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> bool {
        self.accounting.begin_wait();
        // `Joined` ends the wait when dropped, also if the blocking hook unwinds.
        let joined = Joined {
            group: self,
            waiter: Waiter::default(),
        };
        block_on_until(joined, deadline).is_some()
    }

    /// Wait for the group to have no work by polling its count, through nothing that can fail
    /// (no blocking hook, no thread-local, no waker): a scope's wait when its ordinary wait
    /// unwound (a user's blocking hook that panicked, or thread-locals already destroyed),
    /// since the scope must not end while its tasks borrow.
    pub(crate) fn poll_until_empty(&self) {
        let mut pause = Duration::from_micros(1);
        while !self.accounting.is_zero() {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    }

    /// Poll for the group to have no work (for the async join).
    pub(crate) fn poll_joined(&self, waiter: &mut Waiter, cx: &Context<'_>) -> Poll<()> {
        waiter.poll(&self.waiters, cx, || self.accounting.is_zero())
    }

    /// Start an async join: counted as a waiter until [`Group::end_async_join`].
    pub(crate) fn begin_async_join(&self) {
        self.accounting.begin_wait();
    }

    /// An async join ended (`waiter` is the one it polled with).
    pub(crate) fn end_async_join(&self, waiter: &mut Waiter) {
        waiter.leave(&self.waiters);
        self.accounting.end_wait();
    }

    /// Units of work not yet ended (tasks, and busy child groups).
    pub(crate) fn outstanding(&self) -> usize {
        self.accounting.tasks(|| 0)
    }
}

impl Drop for Group {
    /// A chain of parents is dropped one by one, not recursively: a deep nest of groups must not
    /// overflow the stack of the thread that drops its last handle.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(group) = parent {
            parent = Arc::into_inner(group).and_then(|mut group| group.parent.take());
        }
    }
}

/// A blocking wait for the group (see [`Group::wait_until`]), counted among its waiters from
/// `begin_wait` until it is dropped.
struct Joined<'a> {
    group: &'a Group,
    waiter: Waiter,
}

impl std::future::Future for Joined<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let group = self.group;
        group.poll_joined(&mut self.waiter, cx)
    }
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        self.waiter.leave(&self.group.waiters);
        self.group.accounting.end_wait();
    }
}

impl Schedule for Group {
    fn schedule(&self, task: Task) {
        self.pool.schedule(task);
    }

    fn schedule_yielded(&self, task: Task) {
        self.pool.schedule_yielded(task);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn ended_elsewhere(&self, registered: Option<usize>) {
        self.end();
        self.pool.ended_elsewhere(registered);
    }

    fn end_freed(&self, drop_body: &mut dyn FnMut(), registered: Option<usize>) {
        self.pool.drop_freed_body(drop_body);
        self.ended_elsewhere(registered);
    }

    fn deadlock_diagnosis(&self, awaited: usize) -> Option<Arc<str>> {
        self.pool.deadlock_diagnosis(awaited)
    }
}
