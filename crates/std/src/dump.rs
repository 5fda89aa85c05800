//! A snapshot of a pool's unfinished tasks and who waits on whom ([`Dump`], from
//! [`Executor::dump`](crate::Executor::dump)): the first part of issue 16's "a stuck pool says
//! why".
//!
//! # How the wait-for graph is read
//!
//! Nothing is recorded on the hot paths. Every wait goes through one mechanism: the waiter's
//! waker sits in the awaited future's waiter list, and an async task's waker points at the
//! task's cell, whose address is also its future's id. So a dump walks the pool's registry
//! (every async task that has suspended and not ended), takes each task's snapshot (its phase
//! and the data pointers of the wakers on its future: `TaskWatch::snapshot`, under that future's
//! lock, no user code), and joins the two: task `s` awaits task `t` if `s`'s id is among `t`'s
//! waiters. A task whose waker is on the process's timer is asleep. A suspended task that
//! awaits no listed task and is not asleep awaits something outside the pool's view: a
//! `Future::new` nobody completes, another pool's task, a foreign future, or a combinator with
//! its own wakers (a `wait_async`, a `select`).
//!
//! A pool is stuck when every unfinished task is listed, suspended and not merely waiting for
//! time (`Dump::is_stuck`: so no thread runs one). It is deadlocked when some tasks are in a
//! closed wait-for cycle: suspended, each waiting for nothing but the next, as far as the dump
//! can count (every one of a member's wakers, its cell's references less its future's handles,
//! was found registered on a listed task's future, none on the timer; one dump at a time per
//! pool, so no other dump's handle is counted). Such a pool can never go idle, so its timed
//! waits fail with `Error::Stuck`, whose text is the dump, and so does a future's
//! `result_timeout` when its task is in or waits on such a cycle (checked only when such a wait
//! has timed out). A pool stuck only on futures outside its view still times out with
//! `Error::Timeout`: a future another thread will set later looks the same as one nothing will
//! ever set, and callers that poll a pool with timeouts must not see a different error for it.
//! Cycles come from the strongly connected components (Tarjan's algorithm, iterative, over an
//! adjacency list; then a simple cycle through each component), so the whole dump is linear in
//! the number of tasks and waiters.
//!
//! The pool's threads blocked in a blocking wait are listed too (`BlockedThread`): each
//! registers one waker for all its waits (`executor::thread_waker_id`), so the same join names
//! the listed tasks a thread waits for; the blocking hook enters a thread in the list around its
//! park, a cold path.
//!
//! The tasks the pool's threads run are listed too, from each thread's [`RunningSlot`]: the
//! thread's loop notes the task it takes (its id, kind and [`SubmitSite`]) before running it
//! and clears the note after; a blocked thread's entry carries the task its slot named when it
//! parked, so that task is listed as blocked, awaiting what the thread's wait awaits. Every
//! listed task says where it was submitted. (Both with the default `locations` feature:
//! without it, the hot paths note nothing, and running tasks are only counted.) Queued tasks are counted
//! ([`Dump::outstanding`] less the listed) but not named: crossbeam's deques cannot be walked,
//! and a registration at submit would cost every task (ARCHITECTURE.md, design decisions). A
//! closure run in place by a blocking wait, or an async task run in place by an awaiting poll,
//! shows as the task that runs it; a cycle through a blocked closure is not found (its future
//! has no snapshot), and a cycle through a blocked task is never called closed.

use std::collections::HashMap;
use std::fmt;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use betterconcurrent_core::executor::{
    KindAndSite, TaskFacts, TaskKind, TaskPhase, TaskSnapshot, TaskWatch,
};
use betterconcurrent_core::sync::Arc;
use betterconcurrent_core::SubmitSite;

/// Every unfinished task a pool can name, and who waits on whom (see the module docs). Taking it
/// does not stop the pool; each task is read at a slightly different moment. `Display` prints it
/// as an indented wait-for tree.
///
/// ```
/// use betterconcurrent_std::{Executor, ThreadPoolExecutor};
/// use betterconcurrent_core::Future;
///
/// let pool = ThreadPoolExecutor::new();
/// let never = Future::<u32>::new(); // nothing completes it
/// let awaited = never.clone();
/// let stuck = pool.submit_async(async move { *(&awaited).await.unwrap() }).unwrap();
/// let dump = loop {
///     let dump = pool.dump();
///     // Listed while it runs, then suspended, awaiting a future no task of the pool completes.
///     if dump.task(stuck.id()).is_some_and(|task| task.awaits_outside()) {
///         break dump;
///     }
///     std::thread::yield_now();
/// };
/// assert_eq!(dump.tasks().len(), 1);
/// println!("{dump}");
/// never.set_result(1).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Dump {
    tasks: Vec<DumpedTask>,
    /// Where each listed task's id is in `tasks`.
    index: HashMap<usize, usize>,
    cycles: Vec<Vec<usize>>,
    blocked: Vec<BlockedThread>,
    outstanding: usize,
    /// A pool thread was running a task the snapshot saw suspended or queued (see `Dump::new`).
    runs_unsettled: bool,
}

/// A pool thread blocked in a blocking wait (`result()`, `wait`, ...), in a [`Dump`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedThread {
    name: Arc<str>,
    awaits: Vec<usize>,
    task: Option<usize>,
    blocked_for: Duration,
}

impl BlockedThread {
    /// The thread's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id of the task the thread runs, listed among the dump's tasks as blocked (the
    /// outermost task its loop took: a task run in place by a wait shows as the one whose wait
    /// ran it). `None` if it was not known.
    pub fn task(&self) -> Option<usize> {
        self.task
    }

    /// How long it had been blocked when the dump was taken.
    pub fn blocked_for(&self) -> Duration {
        self.blocked_for
    }

    /// The ids of the listed tasks its wait is registered on (empty if it waits for something
    /// else: a closure's future, another pool's task, a free future).
    pub fn awaits(&self) -> &[usize] {
        &self.awaits
    }
}

/// The pool's threads blocked in a blocking wait, by the id of their waits' waker
/// (`executor::thread_waker_id`), with their names, since when, and the task each runs: entered
/// and left around the blocking hook's park, a cold path (a thread about to sleep in the
/// kernel). `std`'s lock, not the shim's: this is a diagnostic list, not a protocol, and loom
/// need not explore it (no loom operation runs while it is held, so loom never switches threads
/// inside it).
#[derive(Default)]
pub(crate) struct BlockedThreads(std::sync::Mutex<HashMap<usize, BlockedEntry>>);

#[derive(Clone)]
struct BlockedEntry {
    name: Arc<str>,
    since: Instant,
    task: Option<Running>,
}

impl BlockedThreads {
    /// The thread whose waits' waker is `waker`, running `task`, is blocked until the guard
    /// drops.
    pub(crate) fn enter(
        &self,
        waker: usize,
        name: Arc<str>,
        task: Option<Running>,
    ) -> BlockedGuard<'_> {
        let entry = BlockedEntry {
            name,
            since: Instant::now(),
            task,
        };
        self.entries().insert(waker, entry);
        BlockedGuard {
            threads: self,
            waker,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<usize, BlockedEntry>> {
        // No user code runs under it, so a poisoned lock is taken as it is.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The ids of the tasks the blocked threads run.
    pub(crate) fn task_ids(&self) -> Vec<usize> {
        self.entries()
            .values()
            .filter_map(|entry| Some(entry.task?.id))
            .collect()
    }

    fn list(&self) -> Vec<(usize, BlockedEntry)> {
        self.entries()
            .iter()
            .map(|(&waker, entry)| (waker, entry.clone()))
            .collect()
    }
}

/// A thread's entry in [`BlockedThreads`] while it is blocked.
pub(crate) struct BlockedGuard<'a> {
    threads: &'a BlockedThreads,
    waker: usize,
}

impl Drop for BlockedGuard<'_> {
    fn drop(&mut self) {
        let entry = self.threads.entries().remove(&self.waker);
        drop(entry);
    }
}

/// What one pool thread runs, for the dump: the outermost task its loop took (a task run in
/// place inside another's poll shows as the one that runs it). Written only by its thread,
/// around each task: one store of one word before and one after (what listing a running task
/// costs), read by a dump with one load. The word packs the task's id (a cell's address: 8-byte
/// aligned, and below 2^49 on the usual 64-bit targets) with its kind and submit site (the
/// [`KindAndSite`] the worker loop's one dynamic call, `Task::facts`, returns); a task
/// whose address does not fit (another target, tagged pointers) is written to `wide` under a
/// lock instead, the word only saying so. `std`'s atomics, not the shim's: diagnostic state,
/// which loom need not explore.
pub(crate) struct RunningSlot {
    /// 0 when the thread runs no task; else `pack`'s word, or [`WIDE`].
    word: AtomicU64,
    /// The task, when its id does not fit the word.
    wide: std::sync::Mutex<Option<Running>>,
    name: Arc<str>,
}

/// The word's value when the task is in `RunningSlot::wide`.
const WIDE: u64 = 1 << 63;

/// A task a pool thread was running when the dump read its [`RunningSlot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Running {
    pub(crate) id: usize,
    pub(crate) kind_and_site: KindAndSite,
}

impl Running {
    /// The running task `id`, as its [`TaskFacts`] describe it.
    #[inline(always)]
    pub(crate) fn from_facts(id: usize, facts: &TaskFacts<'_>) -> Self {
        Self {
            id,
            kind_and_site: facts.kind_and_site,
        }
    }

    /// The task in one word: `id / 8` above [`KindAndSite::BITS`], the kind and site below
    /// (never 0, so a packed word is never 0); `None` if the id does not fit.
    #[inline(always)]
    fn pack(self) -> Option<u64> {
        const SHIFT: u32 = KindAndSite::BITS - 3;
        let id = self.id as u64;
        // A cell's address is 8-byte aligned (its `Arc` counts are words).
        (id & 0b111 == 0 && id >> (64 - SHIFT) == 0)
            .then(|| id << SHIFT | u64::from(self.kind_and_site.to_bits()))
    }

    fn unpack(word: u64) -> Option<Self> {
        let low = (word & ((1 << KindAndSite::BITS) - 1)) as u32;
        Some(Self {
            id: usize::try_from((word >> KindAndSite::BITS) * 8).ok()?,
            kind_and_site: KindAndSite::from_bits(low)?,
        })
    }
}

impl RunningSlot {
    pub(crate) fn new(name: Arc<str>) -> Self {
        Self {
            word: AtomicU64::new(0),
            wide: std::sync::Mutex::new(None),
            name,
        }
    }

    /// The thread now runs `task` (`None`: nothing).
    #[inline(always)]
    pub(crate) fn set(&self, task: Option<Running>) {
        let word = match task {
            None => 0,
            Some(task) => task.pack().unwrap_or_else(|| self.set_wide(task)),
        };
        // Release: a dump that loads `WIDE` sees the entry written before it.
        self.word.store(word, Ordering::Release);
    }

    #[cold]
    fn set_wide(&self, task: Running) -> u64 {
        *self.wide() = Some(task);
        WIDE
    }

    /// What the thread runs (`None` if nothing). One snapshot of the word: the task it names
    /// may end the moment after, as any dump's reading may be stale.
    pub(crate) fn read(&self) -> Option<Running> {
        match self.word.load(Ordering::Acquire) {
            0 => None,
            // The entry may be a later one of this thread's: still a task it ran just now.
            WIDE => *self.wide(),
            word => Running::unpack(word),
        }
    }

    fn wide(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        // No user code runs under it, so a poisoned lock is taken as it is.
        self.wide
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every live pool thread's [`RunningSlot`]: a thread enters its slot when it starts and
/// leaves when its loop ends (a cold path each).
#[derive(Default)]
pub(crate) struct ThreadSlots(std::sync::Mutex<Vec<Arc<RunningSlot>>>);

impl ThreadSlots {
    /// A slot for the current thread, listed until the guard drops.
    pub(crate) fn enter(&self) -> SlotGuard<'_> {
        let name: Arc<str> = std::thread::current().name().unwrap_or("unnamed").into();
        let slot = Arc::new(RunningSlot::new(name));
        self.slots().push(slot.clone());
        SlotGuard { slots: self, slot }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Arc<RunningSlot>>> {
        // No user code runs under it, so a poisoned lock is taken as it is.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What each thread runs now, with its name.
    pub(crate) fn running(&self) -> Vec<(Arc<str>, Running)> {
        self.slots()
            .iter()
            .filter_map(|slot| Some((slot.name.clone(), slot.read()?)))
            .collect()
    }
}

/// A thread's entry in [`ThreadSlots`].
pub(crate) struct SlotGuard<'a> {
    slots: &'a ThreadSlots,
    pub(crate) slot: Arc<RunningSlot>,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.slots
            .slots()
            .retain(|slot| !Arc::ptr_eq(slot, &self.slot));
    }
}

/// One task in a [`Dump`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpedTask {
    id: usize,
    kind: TaskKind,
    phase: TaskPhase,
    awaits: Vec<usize>,
    asleep: bool,
    /// More of its wakers exist than the dump found registered (see `TaskSnapshot::wakers`).
    awaits_unseen: bool,
    site: SubmitSite,
    /// The pool thread running it, if it runs.
    thread: Option<Arc<str>>,
    /// How long it had been blocked in a blocking wait, if it is.
    blocked_for: Option<Duration>,
}

impl DumpedTask {
    /// The task's id: its future's [`Future::id`](crate::Future::id).
    pub fn id(&self) -> usize {
        self.id
    }

    /// What kind of task it is.
    pub fn kind(&self) -> TaskKind {
        self.kind
    }

    /// Where it was when it was read.
    pub fn phase(&self) -> TaskPhase {
        self.phase
    }

    /// The ids of the listed tasks it awaits.
    pub fn awaits(&self) -> &[usize] {
        &self.awaits
    }

    /// True if it is suspended on a sleep of the process's timer (`time::sleep`, a
    /// `timeout`): it will run again when the sleep fires.
    pub fn is_asleep(&self) -> bool {
        self.asleep
    }

    /// True if it is suspended, awaits no listed task and is not asleep: what it waits for is
    /// outside the pool's view (see the module docs).
    pub fn awaits_outside(&self) -> bool {
        let waits = (self.phase == TaskPhase::Suspended && !self.asleep) || self.is_blocked();
        waits && self.awaits.is_empty()
    }

    /// Where it was submitted (`SubmitSite::location` is `None` without the `locations`
    /// feature).
    pub fn site(&self) -> SubmitSite {
        self.site
    }

    /// The name of the pool thread running it, if it is running (then its phase is
    /// [`TaskPhase::Running`]).
    pub fn thread(&self) -> Option<&str> {
        self.thread.as_deref()
    }

    /// True if it runs and its thread is blocked in a blocking wait (`result()`, `wait`, ...)
    /// for the tasks in [`awaits`](DumpedTask::awaits), or for something outside the pool's
    /// view if that is empty.
    pub fn is_blocked(&self) -> bool {
        self.blocked_for.is_some()
    }

    /// How long its thread had been blocked when the dump was taken, if it is blocked.
    pub fn blocked_for(&self) -> Option<Duration> {
        self.blocked_for
    }

    /// True if it may also await something the dump cannot see: more of its wakers exist than
    /// the dump found registered on listed tasks and sleeps (another branch of a `select`, a
    /// foreign future, a `Future::new`).
    pub fn awaits_unseen(&self) -> bool {
        self.awaits_unseen
    }
}

impl Dump {
    /// A dump of the tasks behind `watches` and of those `threads` run, with `outstanding` the
    /// pool's count of unfinished tasks (listed or not), `asleep` the ids of the tasks asleep on
    /// the timer, with their armed sleeps, and `blocked` the pool's threads blocked in a wait.
    pub(crate) fn new(
        watches: &[TaskWatch],
        outstanding: usize,
        asleep: &HashMap<usize, usize>,
        threads: &ThreadSlots,
        blocked: &BlockedThreads,
    ) -> Self {
        let now = Instant::now();
        let snapshots: Vec<TaskSnapshot> = watches
            .iter()
            .filter_map(TaskWatch::snapshot)
            .filter(|snapshot| snapshot.phase != TaskPhase::Complete)
            .collect();
        let mut index: HashMap<usize, usize> = snapshots
            .iter()
            .enumerate()
            .map(|(i, snapshot)| (snapshot.id, i))
            .collect();
        let mut tasks: Vec<DumpedTask> = snapshots
            .iter()
            .map(|snapshot| DumpedTask {
                id: snapshot.id,
                kind: snapshot.kind,
                phase: snapshot.phase,
                awaits: Vec::new(),
                asleep: snapshot.phase == TaskPhase::Suspended && asleep.contains_key(&snapshot.id),
                awaits_unseen: false,
                site: snapshot.site,
                thread: None,
                blocked_for: None,
            })
            .collect();
        // Each task's registrations the dump sees: on listed tasks' futures, and on the timer.
        let mut seen: Vec<usize> = snapshots
            .iter()
            .map(|snapshot| asleep.get(&snapshot.id).copied().unwrap_or(0))
            .collect();
        // The tasks the threads run (closures and tasks not yet suspended are listed here
        // only), then the blocked threads' (read when they blocked).
        let mut list_running = |tasks: &mut Vec<DumpedTask>, name: &Arc<str>, task: Running| {
            let at = *index.entry(task.id).or_insert_with(|| {
                tasks.push(DumpedTask {
                    id: task.id,
                    kind: task.kind_and_site.kind(),
                    phase: TaskPhase::Running,
                    awaits: Vec::new(),
                    asleep: false,
                    awaits_unseen: false,
                    site: task.kind_and_site.site(),
                    thread: None,
                    blocked_for: None,
                });
                tasks.len() - 1
            });
            // A thread's note is stored before a run and cleared after it, so it outlives the
            // poll by a moment (the task has suspended or been queued again since, as its
            // snapshot says) or runs ahead of an older snapshot: the thread is named only where
            // the two agree that the task runs (the promise of `thread`).
            if tasks[at].phase == TaskPhase::Running {
                tasks[at].thread = Some(name.clone());
            }
            at
        };
        let blocked_task_ids = blocked.task_ids();
        let mut runs_unsettled = false;
        for (name, task) in threads.running() {
            let at = list_running(&mut tasks, &name, task);
            // A thread mid-run, not blocked, on a task its snapshot saw otherwise: the pool is
            // moving (`is_stuck` says no; the next look sees where it settled).
            runs_unsettled |=
                tasks[at].phase != TaskPhase::Running && !blocked_task_ids.contains(&task.id);
        }
        let mut blocked_tasks = Vec::new();
        let (blocked_ids, mut blocked): (Vec<usize>, Vec<BlockedThread>) = blocked
            .list()
            .into_iter()
            .map(|(waker, entry)| {
                let blocked_for = now.saturating_duration_since(entry.since);
                let at = entry
                    .task
                    .map(|task| list_running(&mut tasks, &entry.name, task));
                if let Some(at) = at {
                    tasks[at].blocked_for = Some(blocked_for);
                }
                blocked_tasks.push(at);
                let thread = BlockedThread {
                    name: entry.name,
                    awaits: Vec::new(),
                    task: entry.task.map(|task| task.id),
                    blocked_for,
                };
                (waker, thread)
            })
            .unzip();
        let blocked_index: HashMap<usize, usize> = blocked_ids
            .iter()
            .enumerate()
            .map(|(i, &waker)| (waker, i))
            .collect();
        for awaited in &snapshots {
            for waiter in &awaited.waiters {
                if let Some(&waiting) = index.get(waiter) {
                    tasks[waiting].awaits.push(awaited.id);
                    if let Some(seen) = seen.get_mut(waiting) {
                        *seen += 1;
                    }
                } else if let Some(&thread) = blocked_index.get(waiter) {
                    blocked[thread].awaits.push(awaited.id);
                    if let Some(at) = blocked_tasks[thread] {
                        tasks[at].awaits.push(awaited.id);
                    }
                }
            }
        }
        for (task, (snapshot, seen)) in tasks.iter_mut().zip(snapshots.iter().zip(&seen)) {
            task.awaits_unseen = snapshot.wakers > *seen;
        }
        for task in &mut tasks {
            // Registered twice on one future (polled twice): it awaits it once. The pushes
            // for one awaited future are consecutive.
            task.awaits.dedup();
        }
        blocked.sort_by(|a, b| a.name.cmp(&b.name));
        let cycles = cycles(&tasks, &index);
        Self {
            tasks,
            index,
            cycles,
            blocked,
            outstanding,
            runs_unsettled,
        }
    }

    /// The tasks listed: those that have suspended (in the registry's order), then those the
    /// pool's threads run.
    pub fn tasks(&self) -> &[DumpedTask] {
        &self.tasks
    }

    /// The listed task with this id.
    pub fn task(&self, id: usize) -> Option<&DumpedTask> {
        self.index.get(&id).map(|&i| &self.tasks[i])
    }

    /// Every wait-for cycle among the listed tasks, each as the ids in waiting order from the
    /// smallest (each awaits the next; the last awaits the first). Tasks in a cycle never
    /// finish by themselves.
    pub fn cycles(&self) -> &[Vec<usize>] {
        &self.cycles
    }

    /// The pool's threads blocked in a blocking wait, by name, with the listed tasks each
    /// waits for.
    pub fn blocked(&self) -> &[BlockedThread] {
        &self.blocked
    }

    /// The pool's unfinished tasks when the dump was taken, listed or not.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// True if this dump shows a pool that cannot make progress by itself: work outstanding, no
    /// thread in the middle of a run, every unfinished task listed and suspended or blocked in
    /// a wait, and some of them in a wait-for cycle or
    /// awaiting something outside the pool's view (not just asleep on the timer, or waiting
    /// for tasks that are). The pool's timed waits fail with `Error::Stuck` when this holds, no
    /// task is queued, and there is a cycle.
    pub fn is_stuck(&self) -> bool {
        self.outstanding > 0
            && !self.runs_unsettled
            && self.tasks.len() >= self.outstanding
            && self
                .tasks
                .iter()
                .all(|task| task.phase == TaskPhase::Suspended || task.is_blocked())
            && (self.has_closed_cycle() || self.tasks.iter().any(DumpedTask::awaits_outside))
    }

    /// Whether some cycle is closed: every member waits only on the next (the dump saw every
    /// registration of its wakers), so none can ever go on. A member also asleep on the timer
    /// (a `timeout`, a `select` over a sleep) or with wakers the dump did not find registered
    /// (another branch of a `select`, a foreign future) may still go on: its cycle is open.
    pub fn has_closed_cycle(&self) -> bool {
        self.cycles.iter().any(|cycle| self.is_closed(cycle))
    }

    /// Whether this one of its [`cycles`](Dump::cycles) is closed (see `has_closed_cycle`).
    pub(crate) fn is_closed(&self, cycle: &[usize]) -> bool {
        cycle.iter().all(|id| {
            self.task(*id).is_some_and(|task| {
                task.phase == TaskPhase::Suspended && !task.asleep && !task.awaits_unseen
            })
        })
    }

    /// Whether the task `id` is in a closed cycle or waits (through the tasks it awaits) on a
    /// member of one: then its future can never complete.
    pub fn waits_on_closed_cycle(&self, id: usize) -> bool {
        self.any_waits_on_closed_cycle(&[id])
    }

    /// Whether any of the tasks `ids` waits on a closed cycle (see `waits_on_closed_cycle`):
    /// one walk for all of them.
    pub(crate) fn any_waits_on_closed_cycle(&self, ids: &[usize]) -> bool {
        let in_closed: std::collections::HashSet<usize> = self
            .cycles
            .iter()
            .filter(|cycle| self.is_closed(cycle))
            .flatten()
            .copied()
            .collect();
        if in_closed.is_empty() {
            return false;
        }
        let index = &self.index;
        let mut seen = std::collections::HashSet::new();
        let mut pending = ids.to_vec();
        while let Some(id) = pending.pop() {
            if in_closed.contains(&id) {
                return true;
            }
            if seen.insert(id) {
                if let Some(&task) = index.get(&id) {
                    pending.extend(&self.tasks[task].awaits);
                }
            }
        }
        false
    }
}

/// The wait-for cycles of `tasks`: one per strongly connected component with more than one
/// task, or of one task that awaits itself, in waiting order from its smallest id (a simple
/// cycle through the component: the whole of it when it is a ring, the usual case). Tarjan's
/// algorithm with an explicit stack over an index-based adjacency list: linear in tasks and
/// waits, and no recursion however long a chain is.
fn cycles(tasks: &[DumpedTask], index: &HashMap<usize, usize>) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let successors: Vec<Vec<usize>> = tasks
        .iter()
        .map(|task| task.awaits.iter().map(|id| index[id]).collect())
        .collect();
    let mut order = vec![UNSEEN; tasks.len()];
    let mut low = vec![0; tasks.len()];
    let mut on_stack = vec![false; tasks.len()];
    let mut component_of = vec![UNSEEN; tasks.len()];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;
    for root in 0..tasks.len() {
        if order[root] != UNSEEN {
            continue;
        }
        // (task, how many of its successors were looked at)
        let mut path = vec![(root, 0)];
        order[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (task, ref mut looked)) = path.last_mut() {
            if let Some(&successor) = successors[task].get(*looked) {
                *looked += 1;
                if order[successor] == UNSEEN {
                    order[successor] = next;
                    low[successor] = next;
                    next += 1;
                    stack.push(successor);
                    on_stack[successor] = true;
                    path.push((successor, 0));
                } else if on_stack[successor] {
                    low[task] = low[task].min(order[successor]);
                }
                continue;
            }
            path.pop();
            if let Some(&(parent, _)) = path.last() {
                low[parent] = low[parent].min(low[task]);
            }
            if low[task] == order[task] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component_of[member] = components.len();
                    component.push(member);
                    if member == task {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
        .iter()
        .enumerate()
        .filter(|(_, component)| {
            component.len() > 1 || successors[component[0]].contains(&component[0])
        })
        .map(|(c, component)| simple_cycle(tasks, &successors, &component_of, c, component))
        .collect()
}

/// A simple cycle through component `c` (every member has a successor inside it): walk from
/// its smallest id along successors inside the component until a task repeats, keep the loop,
/// and rotate it to start at its smallest id. Linear in the component's size.
fn simple_cycle(
    tasks: &[DumpedTask],
    successors: &[Vec<usize>],
    component_of: &[usize],
    c: usize,
    component: &[usize],
) -> Vec<usize> {
    let start = *component
        .iter()
        .min_by_key(|&&member| tasks[member].id)
        .expect("a component has a member");
    let mut position: HashMap<usize, usize> = HashMap::new();
    let mut walk = Vec::new();
    let mut current = start;
    while let std::collections::hash_map::Entry::Vacant(vacant) = position.entry(current) {
        vacant.insert(walk.len());
        walk.push(current);
        current = *successors[current]
            .iter()
            .find(|&&next| component_of[next] == c)
            .expect("a member of a strongly connected component has a successor in it");
    }
    let mut cycle: Vec<usize> = walk[position[&current]..]
        .iter()
        .map(|&task| tasks[task].id)
        .collect();
    let smallest = (0..cycle.len())
        .min_by_key(|&i| cycle[i])
        .expect("a cycle has a member");
    cycle.rotate_left(smallest);
    cycle
}

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.kind {
            TaskKind::Async => "async",
            TaskKind::Closure => "closure",
            TaskKind::Detached => "fire-and-forget",
            _ => "task",
        };
        let phase = match self.0.phase {
            TaskPhase::Queued => "queued",
            TaskPhase::Running => "running",
            TaskPhase::Suspended => "suspended",
            TaskPhase::Complete => "complete",
            _ => "unknown",
        };
        let task = self.0;
        write!(f, "task {:#x} ({kind}, ", task.id)?;
        match (&task.thread, task.blocked_for) {
            (Some(thread), Some(blocked_for)) => write!(
                f,
                "blocked for {:.1} s in a wait on thread {thread}",
                blocked_for.as_secs_f64()
            )?,
            (Some(thread), None) => write!(f, "{phase} on thread {thread}")?,
            (None, _) => f.write_str(phase)?,
        }
        if task.site.location().is_some() {
            write!(f, ", submitted at {}", task.site)?;
        }
        f.write_str(")")
    }
}

/// How a task is named in a printed dump.
struct Named<'a>(&'a DumpedTask);

/// Indentation stops growing here, so a long chain stays readable.
const MAX_INDENT: usize = 16;

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suspended = self
            .tasks
            .iter()
            .filter(|task| task.phase == TaskPhase::Suspended)
            .count();
        writeln!(
            f,
            "{} unfinished tasks; {} listed ({suspended} suspended, the rest running); queued \
             tasks are not listed; {} pool threads blocked in a wait",
            self.outstanding,
            self.tasks.len(),
            self.blocked.len()
        )?;
        let index = &self.index;
        let mut awaited = vec![false; self.tasks.len()];
        for task in &self.tasks {
            for id in &task.awaits {
                awaited[index[id]] = true;
            }
        }
        let in_cycle: Vec<usize> = self.cycles.iter().map(|cycle| index[&cycle[0]]).collect();
        let roots = (0..self.tasks.len())
            .filter(|&task| !awaited[task])
            .chain(in_cycle);
        let mut printed = vec![false; self.tasks.len()];
        for root in roots {
            if printed[root] {
                continue;
            }
            // (task, depth)
            let mut pending = vec![(root, 0)];
            while let Some((task, depth)) = pending.pop() {
                let indent = "  ".repeat(depth.min(MAX_INDENT));
                let named = Named(&self.tasks[task]);
                if printed[task] {
                    writeln!(f, "{indent}{named}, listed above")?;
                    continue;
                }
                printed[task] = true;
                let this = &self.tasks[task];
                let asleep = if this.asleep {
                    " is asleep on the timer"
                } else {
                    ""
                };
                let awaits = match (this.awaits.is_empty(), this.asleep) {
                    (true, _) if this.awaits_outside() => {
                        " awaits something outside the pool's view (a Future::new nobody \
                         completes, another pool's task, a foreign future or a combinator's \
                         own waker)"
                    }
                    (true, _) => "",
                    (false, true) => ", and awaits",
                    (false, false) => " awaits",
                };
                writeln!(f, "{indent}{named}{asleep}{awaits}")?;
                pending.extend(this.awaits.iter().rev().map(|id| (index[id], depth + 1)));
            }
        }
        for cycle in &self.cycles {
            let names: Vec<String> = cycle.iter().map(|id| format!("{id:#x}")).collect();
            let why = if self.is_closed(cycle) {
                "these tasks never finish by themselves"
            } else {
                "a member also waits for a sleep or for something outside the pool's view, so \
                 it may still go on"
            };
            writeln!(
                f,
                "wait-for cycle: {} -> {:#x} ({why})",
                names.join(" -> "),
                cycle[0]
            )?;
        }
        for thread in &self.blocked {
            let name = match thread.task {
                Some(task) => format!("{} (running task {task:#x})", thread.name),
                None => thread.name.to_string(),
            };
            if thread.awaits.is_empty() {
                writeln!(
                    f,
                    "thread {name} is blocked in a wait for something outside the listed tasks \
                     (a closure's future, another pool's task, a free future)"
                )?;
            }
            for id in &thread.awaits {
                writeln!(f, "thread {name} is blocked in a wait for task {id:#x}")?;
            }
        }
        Ok(())
    }
}
