//! A worker thread's loop, and the thread-local record of which pool (if any) the current thread
//! works for, so tasks submitted from inside a task go to the worker's own queue, and a worker
//! counts them against its prepaid share.
//!
//! A worker's own submit goes to its LIFO slot (the slot's previous task to its deque) only
//! while the worker polls an async body, which returns to the worker at its next `.await`; while
//! it runs a closure, which may block on anything (a channel, a barrier, a spin loop, a foreign
//! `block_on`), its submits go to its deque, where idle workers are woken to steal them. The
//! same holds for a closure run in place and for done callbacks (the blocking hook marks them);
//! entering such code, or parking in a blocking wait through the pool, first empties the slot
//! into the deque, since what is there may be what the code waits for.
//!
//! Search order: the worker's LIFO slot (the newest subtask, still hot in cache), its own deque
//! (LIFO), then a batch from the pool injector, then stealing from the other workers' deques;
//! after 32 tasks in a row from the injector, the other deques go first once (a task that
//! keeps yielding lands in the injector each time, and would otherwise hide a task in a blocked
//! worker's deque for as long as it yields).
//! With nothing found the worker gives its prepaid share back and sleeps (see `sleep`).
//!
//! Spare threads (started while every thread is blocked in a wait, see `blocking`) run the same
//! loop without a deque of their own, and retire once no thread is blocked.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::queue::{Steal, Worker};
use betterconcurrent_core::executor::install_blocking_hook;
use betterconcurrent_core::executor::{Registration, Task};
use betterconcurrent_core::sync::blocking::thread_local;
use betterconcurrent_core::sync::Arc;
use crossbeam_utils::Backoff;

use crate::blocking::PoolThreadHook;
use crate::dump::{Running, RunningSlot};
use crate::executor::Executor;
use crate::pool::{Group, Pool, PrepaidShare, WorkerRecord};
use crate::sleep::Recheck;

/// What the current thread is, if it is a pool thread.
struct WorkerContext {
    /// The pool, as the handle a detached task is given (`Executor::spawn`).
    executor: Executor,
    /// `None` for a spare thread: its submits go to the injector.
    deque: Option<Worker<Task>>,
    /// The task this worker submitted last, run next by this worker and invisible to thieves
    /// (tokio's LIFO slot): a parent that awaits the child it just submitted, or a chain of
    /// such, stays on one core instead of bouncing between workers. The previous occupant moves
    /// to the deque, where others can steal it. Emptied into the deque before the thread blocks.
    lifo: Cell<Option<Task>>,
    /// Tasks run in a row from the LIFO slot; at `MAX_LIFO_RUNS` the deque goes first once, so a
    /// task that keeps submitting one child cannot starve the deque.
    lifo_runs: Cell<u32>,
    /// Tasks taken from the injector in a row; at `MAX_INJECTOR_RUNS` the other workers' deques
    /// go first once, so a task that keeps yielding (and so keeps landing in the injector) cannot
    /// keep a task in a blocked worker's deque from being stolen.
    injector_runs: Cell<u32>,
    /// The code running on this thread may block outside the pool's view (a closure, or a
    /// closure run in place by a blocking wait): submits skip the hidden LIFO slot (module docs).
    may_block: Cell<bool>,
    /// Where this thread's stack was when its loop started, and how much of it in-place runs
    /// (of an awaited task, [`run_awaited_here`], or of a scope's tasks while it waits,
    /// [`run_scope_tasks_here`]) may fill: half of it, the rest left to the deepest level.
    stack_start: usize,
    in_place_stack_budget: usize,
    /// This thread's record in the pool (its counters, prepaid share and registry shard; the
    /// shared record for a spare), held so that the per-task paths need no lookup.
    record: Arc<WorkerRecord>,
    /// What this thread runs, for the dump.
    running: Arc<RunningSlot>,
}

/// A pool thread's place in the group of the task it runs (`IN_GROUP`): the handle bound to
/// the group, which `Executor::current()` returns there, and the thread's prepaid share of
/// the group's count (see `pool::group`), given back when this is dropped or the thread goes
/// idle. Kept after the task, so a run of one group's tasks makes it once (`set_group`).
pub(crate) struct InGroup {
    executor: Executor,
    share: PrepaidShare,
}

impl InGroup {
    /// A place in `group`, with a prepaid share if `with_share` (a worker's; a spare thread and
    /// a task run in place count directly).
    pub(crate) fn new(group: &Group, with_share: bool) -> Rc<InGroup> {
        Rc::new(InGroup {
            executor: Executor {
                pool: group.pool.clone(),
                group: group.upgrade(),
            },
            share: PrepaidShare::new(with_share),
        })
    }

    fn group(&self) -> &Group {
        self.executor
            .group
            .as_deref()
            .expect("an in-group handle is bound to its group")
    }
}

impl Drop for InGroup {
    fn drop(&mut self) {
        self.group().return_share(&self.share);
    }
}

/// See `WorkerContext::injector_runs`.
const MAX_INJECTOR_RUNS: u32 = 32;

/// See `WorkerContext::lifo_runs`.
const MAX_LIFO_RUNS: u32 = 16;

/// An address in the caller's stack frame, to measure how deep the stack is.
#[inline(always)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(std::ptr::addr_of!(marker)) as usize
}

thread_local! {
    // Not a `const` initializer: loom's `thread_local!` does not take one.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: RefCell<Option<WorkerContext>> = RefCell::new(None);
}

/// Put `task` in the current thread's LIFO slot if this thread is a worker of `pool`'s pool
/// (the slot's previous task goes to the deque: then `Ok(true)`, other workers may steal it);
/// otherwise hand the task back.
pub(crate) fn push_local(pool: &Pool, task: Task) -> Result<bool, Task> {
    let mut task = Some(task);
    // `try_with`: a submit from a thread-local's destructor, after `CURRENT` was destroyed, is
    // an outside thread's; it must not unwind between counting the task and queueing it.
    let pushed = CURRENT.try_with(|current| match &*current.borrow() {
        Some(WorkerContext {
            executor: own,
            deque: Some(deque),
            lifo,
            may_block,
            ..
        }) if std::ptr::eq(&*own.pool, pool) => {
            let task = task.take()?;
            if may_block.get() {
                deque.push(task);
                return Some(true);
            }
            match lifo.replace(Some(task)) {
                Some(previous) => {
                    deque.push(previous);
                    Some(true)
                }
                None => Some(false),
            }
        }
        _ => None,
    });
    match (pushed, task) {
        (Ok(Some(pushed_to_deque)), _) => Ok(pushed_to_deque),
        (_, Some(task)) => Err(task),
        (_, None) => unreachable!("a task taken out is pushed"),
    }
}

/// Mark the code this worker runs from now on as one that may block outside the pool's view
/// (`true`) or not; returns the previous mark. For the blocking hook (in-place runs, done
/// callbacks). Entering such code also empties the LIFO slot into the deque and wakes a sleeper
/// for it: the code may wait, by means the pool cannot see, for the very task an async body
/// left there.
pub(crate) fn set_may_block(pool: &Pool, may_block: bool) -> bool {
    let (previous, flushed) = CURRENT.with(|current| match &*current.borrow() {
        Some(context) => (
            context.may_block.replace(may_block),
            may_block && flush_lifo_of(context),
        ),
        None => (false, false),
    });
    if flushed {
        pool.sleep.notify_one();
    }
    previous
}

/// Move the current worker's LIFO task to its deque, where other threads can take it, and wake
/// a sleeper for it: called before the thread blocks.
pub(crate) fn flush_lifo(pool: &Pool) {
    let flushed = CURRENT.with(|current| current.borrow().as_ref().is_some_and(flush_lifo_of));
    if flushed {
        pool.sleep.notify_one();
    }
}

/// Move `context`'s LIFO task to its deque; true if one moved (the caller wakes a sleeper).
fn flush_lifo_of(context: &WorkerContext) -> bool {
    // A spare has no deque, and nothing ever lands in its LIFO slot.
    let Some(deque) = &context.deque else {
        return false;
    };
    match context.lifo.take() {
        Some(task) => {
            deque.push(task);
            true
        }
        None => false,
    }
}

/// Call `work` with the current thread's record if it is one of `pool`'s threads.
/// (`None` also on a thread whose thread-locals were destroyed: a destructor's submit is an
/// outside thread's, and must not unwind once the task is counted, see `push_local`.)
pub(crate) fn with_own_record<R>(pool: &Pool, work: impl FnOnce(&WorkerRecord) -> R) -> Option<R> {
    CURRENT
        .try_with(|current| {
            let current = current.borrow();
            let context = current.as_ref()?;
            std::ptr::eq(&*context.executor.pool, pool).then(|| work(&context.record))
        })
        .ok()
        .flatten()
}

// The current group's place lives in its own thread-local, apart from `CURRENT`: the per-task
// paths of a group's tasks look at it three times, and a `const` thread-local costs a load.
#[cfg(not(feature = "loom"))]
thread_local! {
    static IN_GROUP: RefCell<Option<Rc<InGroup>>> = const { RefCell::new(None) };
}
#[cfg(feature = "loom")]
thread_local! {
    static IN_GROUP: RefCell<Option<Rc<InGroup>>> = RefCell::new(None);
}

/// The handle of the pool the current thread works for, bound to the group of the task it
/// runs (if any), if it is a pool thread.
pub(crate) fn current_executor() -> Option<Executor> {
    let in_group = IN_GROUP.with(|in_group| {
        let in_group = in_group.borrow();
        Some(in_group.as_ref()?.executor.clone())
    });
    in_group.or_else(|| CURRENT.with(|current| Some(current.borrow().as_ref()?.executor.clone())))
}

/// The group of the task running on this thread, if it is a pool thread running one.
pub(crate) fn current_group() -> Option<Arc<Group>> {
    IN_GROUP.with(|in_group| in_group.borrow().as_ref()?.executor.group.clone())
}

/// The task this pool thread is about to run belongs to `group` (or to none): make that the
/// thread's current group. The group's handle and share (`with_share`: the thread is a worker,
/// with a share of its own) are made only when the group changes (the previous group's share
/// is given back then).
#[inline]
pub(crate) fn set_group(group: Option<&Group>, with_share: bool) {
    let replaced = IN_GROUP.with(|in_group| {
        let mut in_group = in_group.borrow_mut();
        let unchanged = match (in_group.as_ref(), group) {
            (None, None) => true,
            (Some(in_group), Some(group)) => std::ptr::eq(in_group.group(), group),
            _ => false,
        };
        if unchanged {
            return None;
        }
        let entered = group.map(|group| InGroup::new(group, with_share));
        Some(std::mem::replace(&mut *in_group, entered))
    });
    // Gives the previous group's share back, and its handle may be the group's last: dropped
    // outside the thread-local borrow.
    drop(replaced);
}

/// Replace the current thread's place in a group (for a task run in place, which restores the
/// previous one after it); returns the previous one.
pub(crate) fn swap_group(group: Option<Rc<InGroup>>) -> Option<Rc<InGroup>> {
    IN_GROUP.with(|in_group| std::mem::replace(&mut *in_group.borrow_mut(), group))
}

/// Count a task submitted to `group`: from this thread's share if it runs `group`'s tasks.
#[inline]
pub(crate) fn count_in_group(group: &Group) {
    // `try_with`, as in `with_own_record`.
    let counted = IN_GROUP
        .try_with(|in_group| {
            let in_group = in_group.borrow();
            let in_group = in_group.as_ref()?;
            std::ptr::eq(in_group.group(), group).then(|| group.count_from(&in_group.share))
        })
        .ok()
        .flatten();
    if counted.is_none() {
        group.count();
    }
}

/// A task of `group` this thread ran has ended: counted on this thread's share if it runs
/// `group`'s tasks.
#[inline]
pub(crate) fn end_in_group(group: &Group) {
    let ended = IN_GROUP.with(|in_group| {
        let in_group = in_group.borrow();
        let in_group = in_group.as_ref()?;
        std::ptr::eq(in_group.group(), group).then(|| group.end_from(&in_group.share))
    });
    if ended.is_none() {
        group.end();
    }
}

/// Give back this thread's share of its current group: it is about to look for work in vain,
/// park, or exit (as the pool's share, see `accounting`).
pub(crate) fn return_group_share() {
    IN_GROUP.with(|in_group| {
        if let Some(in_group) = in_group.borrow().as_ref() {
            in_group.group().return_share(&in_group.share);
        }
    });
}

/// Call `work` with the handle of the pool the current thread works for, without cloning it
/// (a reference-count increment every worker would contend on).
///
/// # Panics
/// If this is not a pool thread: only a pool's own threads run its queued tasks.
pub(crate) fn with_current_executor<R>(work: impl FnOnce(&Executor) -> R) -> R {
    CURRENT.with(|current| {
        let current = current.borrow();
        let context = current
            .as_ref()
            .expect("a pool's queued tasks run on that pool's threads");
        // The group's handle is cloned out (a count that is not atomic), so `work` may change
        // the thread's group (a task run in place) while it holds this one.
        let in_group = IN_GROUP.with(|in_group| in_group.borrow().clone());
        work(
            in_group
                .as_ref()
                .map_or(&context.executor, |in_group| &in_group.executor),
        )
    })
}

/// Take the newest task of this worker's own queues if `wanted` says it is one to run in place:
/// the LIFO slot's, else the one at the owner end of the deque. Popping it is the claim: a
/// thief's steal and the owner's pop never both get a task, and nobody else sees the LIFO slot.
/// A task not wanted goes back where it was (the owner end is where `pop` took it), so the
/// queues' order is unchanged. None on a spare (no queues of its own), or once in-place runs
/// have filled the stack budget (`WorkerContext::in_place_stack_budget`).
fn take_newest_if(context: &WorkerContext, wanted: impl Fn(&Task) -> bool) -> Option<Task> {
    let deque = context.deque.as_ref()?;
    if stack_address().abs_diff(context.stack_start) > context.in_place_stack_budget {
        return None;
    }
    if let Some(task) = context.lifo.take() {
        if wanted(&task) {
            return Some(task);
        }
        context.lifo.set(Some(task));
    }
    let task = deque.pop()?;
    if wanted(&task) {
        return Some(task);
    }
    deque.push(task);
    None
}

/// Work-first (the blocking hook's `run_awaited`): an async task polled on this worker awaits
/// the future `awaited`, whose task is unstarted. If that task is an async one and the newest
/// in this worker's own queues (it usually is: a parent awaits the child it just submitted),
/// claim it and poll it right here, inside the parent's poll, as the loop would; true if it
/// ran. The parent then continues without suspending if the child finished; a child that
/// suspends is an ordinary suspended task, and the parent waits for it.
///
/// Only from an async body's poll (never while code that may block runs, blocking waits
/// included), only the awaited task itself (never a stranger, see `blocking`), only an async
/// child (a poll returns at the child's next `.await`; a closure may block on anything, and
/// run inside a parent's `select` or timeout it would hide the other branch until it returned),
/// and only within the stack budget, past which the parent suspends as before, so any depth of
/// awaiting completes on a bounded stack. The parent's LIFO task is made stealable first, so
/// its siblings run in parallel with the child. The ordering consequence: the child's first
/// poll comes before older queued work. The thread's group is put back afterwards.
pub(crate) fn run_awaited_here(pool: &Pool, awaited: usize) -> bool {
    let claimed = claim_awaited(pool, awaited);
    let Some((task, entry, record, flushed)) = claimed else {
        return false;
    };
    if flushed {
        pool.sleep.notify_one();
    }
    // The child may run in another group (or none): the parent's place is put back after it.
    // Cloned, not taken, so a child of the parent's own group runs on the parent's share.
    let outer_group = IN_GROUP.with(|in_group| in_group.borrow().clone());
    pool.execute_in_place(task, entry, &record);
    // Dropped outside the thread-local borrow: the child's place may be its group's last handle.
    drop(swap_group(outer_group));
    true
}

/// `run_awaited_here`'s claim: the awaited async task, its registry entry, this thread's record,
/// and whether the LIFO slot was made stealable (a sleeper is to be woken for it). Not inlined, so
/// its frame is not on the stack while the task runs (in-place runs stop at a stack budget).
#[inline(never)]
fn claim_awaited(
    pool: &Pool,
    awaited: usize,
) -> Option<(Task, Option<usize>, Arc<WorkerRecord>, bool)> {
    CURRENT.with(|current| {
        let current = current.borrow();
        let context = current.as_ref()?;
        if context.may_block.get() || !std::ptr::eq(&*context.executor.pool, pool) {
            return None;
        }
        // Only an async task (the one kind with a `Registration`): see `run_awaited_here`.
        let task = take_newest_if(context, |task| {
            task.id() == awaited && task.registration().is_some()
        })?;
        // The parent's other new work (its LIFO task) must not wait, invisible to the other
        // workers, for the child's run: make it stealable.
        let flushed = flush_lifo_of(context);
        let entry = task.registration().and_then(Registration::get);
        Some((task, entry, context.record.clone(), flushed))
    })
}

/// While a scope (whose tasks are those of `group` and of the groups within it) waits on one of
/// its pool's workers, run the scope's tasks from this worker's own end of its queues, newest
/// first, as rayon's scope does: a scope inside a scope's task then costs no thread per level.
/// Stops when the newest task is of other work (left where it was: only the scope's own tasks
/// run here, never a stranger's, see `blocking`), at an empty deque, or at the stack budget (a
/// recursion through scopes runs its levels on one stack, as in rayon, and a level's locals are
/// the user's); the wait then blocks, compensated, as every wait does. The thread's group and
/// may-block mark are those of the task run, and are put back afterwards.
pub(crate) fn run_scope_tasks_here(group: &Group) {
    let pool = &*group.pool;
    let mut outer_group = None;
    loop {
        let next = CURRENT.with(|current| {
            let current = current.borrow();
            let context = current.as_ref()?;
            if !std::ptr::eq(&*context.executor.pool, pool) {
                return None;
            }
            let task = take_newest_if(context, |task| {
                task.scheduler()
                    .and_then(Group::of_handle)
                    .is_some_and(|of| of.is_within(group))
            })?;
            let registration = task.registration();
            let may_block = context.may_block.replace(registration.is_none());
            let entry = registration.and_then(Registration::get);
            let outer_running = context.running.read();
            context
                .running
                .set(Some(Running::from_facts(task.id(), &task.facts())));
            Some((
                task,
                entry,
                context.record.clone(),
                (may_block, outer_running),
            ))
        });
        let Some((task, entry, record, (may_block, outer_running))) = next else {
            break;
        };
        if outer_group.is_none() {
            outer_group = Some(swap_group(None));
        }
        pool.execute_in_place(task, entry, &record);
        CURRENT.with(|current| {
            if let Some(context) = current.borrow().as_ref() {
                context.may_block.set(may_block);
                context.running.set(outer_running);
            }
        });
    }
    if let Some(outer_group) = outer_group {
        // Gives the share of the scope's group back before the wait; dropped outside the
        // thread-local borrow (it may be the group's last handle).
        drop(swap_group(outer_group));
    }
}

/// Whether the current thread runs code of `pool`'s tasks: it is one of the pool's threads,
/// or it is ending queued tasks of the pool unrun (their destructors run here, see
/// [`EndingTasks`]). Such a thread must not wait for the pool's work or threads: it would wait
/// for itself.
pub(crate) fn runs_tasks_of(pool: &Pool) -> bool {
    with_own_record(pool, |_| ()).is_some()
        || ENDING_TASKS_OF.with(|ending| std::ptr::eq(ending.get(), pool))
}

thread_local! {
    /// The pool whose tasks this thread is ending unrun, or null. (Only compared, never
    /// dereferenced.)
    #[allow(clippy::missing_const_for_thread_local)]
    static ENDING_TASKS_OF: Cell<*const Pool> = Cell::new(std::ptr::null());
}

/// Marks the current thread as ending a pool's tasks unrun (see [`runs_tasks_of`]) until
/// dropped.
pub(crate) struct EndingTasks {
    previous: *const Pool,
}

impl EndingTasks {
    pub(crate) fn of(pool: &Pool) -> Self {
        let previous = ENDING_TASKS_OF.with(|ending| ending.replace(pool));
        Self { previous }
    }
}

impl Drop for EndingTasks {
    fn drop(&mut self) {
        ENDING_TASKS_OF.with(|ending| ending.set(self.previous));
    }
}

/// The body of a pool thread: a worker with its deque and its own record, or a spare without a
/// deque, on the shared record.
pub(crate) fn run(pool: Arc<Pool>, deque: Option<Worker<Task>>, record: Arc<WorkerRecord>) {
    let spare = deque.is_none();
    let listed = pool.running.enter();
    let running = listed.slot.clone();
    // Registered before the initializer, so that code it runs (or drops) knows this thread is a
    // worker and never joins it.
    CURRENT.with(|current| {
        *current.borrow_mut() = Some(WorkerContext {
            executor: Executor {
                pool: pool.clone(),
                group: None,
            },
            deque,
            lifo: Cell::new(None),
            lifo_runs: Cell::new(0),
            injector_runs: Cell::new(0),
            may_block: Cell::new(false),
            stack_start: stack_address(),
            in_place_stack_budget: pool.stack_size() / 2,
            record: record.clone(),
            running: running.clone(),
        })
    });
    // A failed initializer breaks the pool (queued tasks fail); this thread still helps drain and
    // exits with the others once nothing is outstanding. The blocking hook is installed after
    // it: an initializer that blocks must not start spare threads (which would run it too).
    pool.initialize_thread();
    let hook = install_blocking_hook(Rc::new(PoolThreadHook::new(pool.clone(), running.clone())))
        .expect("a new pool thread has no blocking hook yet");
    // Set when a spare retires: the retirement already took it off the counts.
    let retired = Cell::new(false);
    // Counted in the sleep module's `searching` (see `sleep`).
    let mut searching = false;
    'work: loop {
        if let Some((task, entry)) = find_task(&pool, &record) {
            if searching {
                searching = false;
                stop_searching(&pool);
            }
            execute(&pool, &running, task, entry, &record);
            continue;
        }
        if !searching {
            // Nothing to run: give back this worker's prepaid share, so that `join` sees the
            // count fall to zero if this was the last work.
            // The group's share first: once the pool's count falls to zero, every group's
            // has too (a pool is idle only when its groups are).
            return_group_share();
            pool.return_share(&record);
            // A count that reached zero just now may have woken an async task awaiting it into
            // this worker's LIFO slot, which no sleeping worker's recheck looks at: make it
            // stealable (this worker's own recheck then finds it too).
            flush_lifo(&pool);
            searching = true;
            pool.sleep.start_searching();
        }
        // Up to two searchers at a time spin a little before sleeping: a submitter that sees a
        // searcher wakes no one, so a burst of submits costs no wake-up per task. Two, because a
        // submit that lands while the worker that will take it is still finishing its last
        // task sees no searcher and wakes a sleeper: with one spinner, the finisher then found
        // the woken one spinning and slept, to be woken by the next submit (a wake-up per two
        // round trips: W6 took 10 µs a trip, 1 µs with two). Not more, and only briefly: on a
        // machine with few cores, spinning threads delay the ones with work.
        if !cfg!(feature = "loom") && pool.sleep.searching() <= MAX_SPINNING_SEARCHERS {
            // Spin with growing pauses, then yield rather than spin: on a machine with few
            // cores the thread that will submit the next task may be waiting for this core.
            let backoff = Backoff::new();
            for _ in 0..SPIN_ROUNDS {
                backoff.snooze();
                if let Some((task, entry)) = find_task(&pool, &record) {
                    searching = false;
                    stop_searching(&pool);
                    execute(&pool, &running, task, entry, &record);
                    continue 'work;
                }
            }
        }
        let recheck = || match pool.recheck(spare) {
            Recheck::Retire => {
                retired.set(true);
                Recheck::Exit
            }
            other => other,
        };
        if !pool.sleep.sleep_until(recheck) {
            break;
        }
    }
    drop(hook);
    // Its drop gives the group share back, before the pool's (as above).
    drop(swap_group(None));
    pool.return_share(&record);
    CURRENT.with(|current| current.borrow_mut().take());
    drop(listed);
    if !retired.get() {
        pool.thread_exited(spare);
    }
}

/// Run a task this thread's loop took (`find_task` listed it as running, for the dump), and
/// clear its listing once it ran.
#[inline(always)]
fn execute(
    pool: &Pool,
    running: &RunningSlot,
    task: Task,
    entry: Option<usize>,
    record: &WorkerRecord,
) {
    pool.execute(task, entry, record);
    #[cfg(feature = "locations")]
    running.set(None);
    #[cfg(not(feature = "locations"))]
    let _ = running;
}

/// Searching workers that spin before sleeping (see `run`); the others sleep at once.
const MAX_SPINNING_SEARCHERS: usize = 2;

/// Rounds of looking for work before a searching worker sleeps, each after a `Backoff::snooze`
/// (the first seven spin with growing pauses, the rest yield the core). Skipped under loom, where spinning only multiplies the
/// interleavings without adding behaviour.
const SPIN_ROUNDS: u32 = 32;

/// A searching worker found a task: if it was the last searcher and more tasks are queued, wake
/// another worker for them (they were queued while a searcher made the submitters wake no one).
fn stop_searching(pool: &Pool) {
    if pool.sleep.stop_searching() && pool.has_queued() {
        pool.sleep.notify_one();
    }
}

/// The next task for this thread (see `search`) and its registry entry, with the thread marked
/// for what it will run: a closure may block outside the pool's view (module docs), and the
/// dump lists the task as running on it. (One look at the task tells all three: only an async
/// task has a `Registration`.)
fn find_task(pool: &Pool, record: &WorkerRecord) -> Option<(Task, Option<usize>)> {
    CURRENT.with(|current| {
        let current = current.borrow();
        let context = current.as_ref()?;
        let task = search(pool, record, context)?;
        let facts = task.facts();
        context.may_block.set(facts.registration.is_none());
        // Listed as running until `execute` clears it.
        #[cfg(feature = "locations")]
        context
            .running
            .set(Some(Running::from_facts(task.id(), &facts)));
        let entry = facts.registration.and_then(Registration::get);
        Some((task, entry))
    })
}

/// The next task for this thread: its LIFO slot, its own deque, then the injector, then the
/// other workers (every `MAX_INJECTOR_RUNS`-th time, the other workers before the injector). A
/// task from elsewhere than its own deque counts as a steal in `record`.
fn search(pool: &Pool, record: &WorkerRecord, context: &WorkerContext) -> Option<Task> {
    let deque = context.deque.as_ref();
    if let Some(task) = context.lifo.take() {
        if context.lifo_runs.get() < MAX_LIFO_RUNS {
            context.lifo_runs.set(context.lifo_runs.get() + 1);
            return Some(task);
        }
        // Give the deque a turn: the LIFO task goes behind what is there.
        context.lifo_runs.set(0);
        if let Some(deque) = deque {
            deque.push(task);
        }
    }
    context.lifo_runs.set(0);
    if let Some(task) = deque.and_then(Worker::pop) {
        return Some(task);
    }
    loop {
        let mut retry = false;
        let others_first = context.injector_runs.get() >= MAX_INJECTOR_RUNS;
        if others_first {
            context.injector_runs.set(0);
            if let Some(task) = steal_from_others(pool, record, &mut retry) {
                return Some(task);
            }
        }
        let from_injector = match deque {
            Some(deque) => pool.injector.steal_batch_and_pop(deque),
            None => pool.injector.steal(),
        };
        match from_injector {
            Steal::Success(task) => {
                // The rest of a batch now sits in our deque, where a worker that re-checked
                // the injector a moment ago did not see it: wake one to steal it.
                if deque.is_some_and(|deque| !deque.is_empty()) {
                    pool.sleep.notify_one();
                }
                context.injector_runs.set(context.injector_runs.get() + 1);
                pool.count_steal(record);
                return Some(task);
            }
            Steal::Retry => retry = true,
            Steal::Empty => {}
        }
        if !others_first {
            if let Some(task) = steal_from_others(pool, record, &mut retry) {
                return Some(task);
            }
        }
        if !retry {
            return None;
        }
    }
}

/// One pass over the other workers' deques; `retry` is set if one was busy.
fn steal_from_others(pool: &Pool, record: &WorkerRecord, retry: &mut bool) -> Option<Task> {
    for stealer in pool.stealers() {
        match stealer.steal() {
            Steal::Success(task) => {
                pool.count_steal(record);
                return Some(task);
            }
            Steal::Retry => *retry = true,
            Steal::Empty => {}
        }
    }
    None
}
