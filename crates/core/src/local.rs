//! [`LocalExecutor`]: the same futures, cooperative waits and `join` as the thread pool, on one
//! thread (or a firmware main loop) with no operating system, allocating nothing per scheduling
//! step.
//!
//! It owns the run queue of that executor and the protocol by which a wake from another context
//! (an interrupt handler, another thread on a host) reaches it. What a step does with a task (run,
//! re-queue on a wake, count when finished) is the policy every executor shares:
//! [`Task::execute`] and the task cell's state word (`task.rs`).
//!
//! # The queue and the parking bays
//!
//! The run queue is heapless's fixed-capacity lock-free `mpmc::Queue` (Vyukov's bounded queue).
//! Its enqueue can fail even when the queue is not full, while another context that preempted
//! mid-operation holds a bay (heapless issue 583; why heapless 0.9.2 deprecated it). A failed
//! enqueue must not lose the wake, so the task goes to one of `N` *parking bays* instead and the
//! `rescan` flag is raised; the run loop empties the bays (before the queue) whenever the flag
//! is up.
//!
//! Why a bay is always free: a task is in at most one place at a time, because its state word's
//! `SCHEDULED` bit admits exactly one [`Task`] handle (the "queued" bit). At most `N` tasks are
//! unfinished (`spawn` refuses the `N + 1`th), so at most `N` handles exist, and the one being
//! parked is not in a bay. A bay is claimed with a compare-and-swap (`EMPTY` -> `BUSY`, or
//! `FULL` -> `BUSY` to take), so a busy bay always belongs to some handle in flight; the
//! pigeonhole principle leaves one `EMPTY`. On one core an interrupt that preempted everyone else
//! finds it in one pass; on a multi-core host the pass is retried (someone else made progress).
//!
//! | bay state | meaning | who moves it on |
//! | --- | --- | --- |
//! | `EMPTY` | no task | a parker: CAS to `BUSY`, store the task, then `FULL` |
//! | `BUSY` | a parker or the taker owns the cell | its owner: `FULL` (parked) or `EMPTY` (taken) |
//! | `FULL` | holds a task | the run loop: CAS to `BUSY`, take the task, then `EMPTY` |
//!
//! The parker raises `rescan` after publishing `FULL`; the run loop clears it before scanning,
//! so a task parked during a scan is found by the next one. Every write of `rescan` that raises
//! it is a read-modify-write, so the run loop's clearing swap synchronises with every parker
//! before it, not only the last.

use core::any::Any;
use core::fmt;
use core::future::{Future as StdFuture, IntoFuture};
use core::marker::PhantomData;
use core::pin::pin;
use core::task::{Context, Poll};

use crate::error::SubmitError;
use crate::future::Future;
use crate::sync::{
    spin_loop, unsize, waker, Arc, ArcWake, AtomicBool, AtomicU8, AtomicUsize, Ordering,
    UnsafeCell, Weak,
};
use crate::task::{Schedule, SchedulerHandle, Task};

/// A single-threaded executor for `async` tasks with room for `N` unfinished tasks (`N` a power
/// of two, at least 2), for firmware main loops and hosts alike.
///
/// - [`spawn`](LocalExecutor::spawn) returns the same [`Future`] the thread pool returns, or
///   [`SubmitError::Full`] when `N` tasks are unfinished. It allocates the task (one allocation).
/// - [`run_until_idle`](LocalExecutor::run_until_idle) polls tasks until none is ready;
///   [`join`](LocalExecutor::join) runs until every task and every subtask they spawned has
///   finished; [`block_on`](LocalExecutor::block_on) runs tasks until a given future is ready.
///   These allocate nothing: a scheduling step never does (nor does waking a task, or a task
///   awaiting another task's future).
/// - Wakers may fire from any context, including an interrupt handler: a wake flips the task's
///   state word, upgrades the weak handle to the executor and pushes onto the lock-free run
///   queue (see the module docs for how a failed enqueue is never lost); no lock is taken. A
///   wake that drops the task's last handle frees the task there (so the allocator must be
///   interrupt-safe), and one that drops the last handle of an executor already dropped by its
///   owner cancels its queued tasks there.
/// - Tasks spawn subtasks through a [`LocalSpawner`] (`Send`, `Sync`, `Clone`), and wait for
///   them cooperatively: `(&future).await` or [`yield_until_done`](crate::yield_until_done).
///
/// The executor itself is `Send` but not `Sync`: only one context runs it, and a task (which is
/// `Send`) cannot hold a reference to it, so a task can never call `join` or `block_on` on its own
/// executor and wait for itself. Dropping the executor cancels the tasks in its queue; a
/// suspended task is cancelled when it is next woken.
///
/// Panics: with the feature `std`, a panicking task ends its future with
/// [`Error::Panicked`](crate::Error::Panicked), as on the pool. Without `std` there is no
/// unwinding to catch: firmware builds with `panic = "abort"` (or a halting panic handler), so a
/// panic stops the program; no future is left pending that anything could still observe.
///
/// ```
/// use betterconcurrent_core::local::LocalExecutor;
///
/// let executor = LocalExecutor::<16>::new();
/// let spawner = executor.spawner();
/// let sum = executor
///     .spawn(async move {
///         let parts: Vec<_> = (1..=4u64)
///             .map(|i| spawner.spawn(async move { i * i }).expect("room for 4 more"))
///             .collect();
///         let mut sum = 0;
///         for part in &parts {
///             sum += part.await.unwrap(); // cooperative: the task suspends, nothing blocks
///         }
///         sum
///     })
///     .expect("room for one task");
/// executor.join();
/// assert_eq!(*sum.try_result().unwrap().unwrap(), 30);
/// ```
pub struct LocalExecutor<const N: usize> {
    shared: Arc<LocalState<N>>,
    /// `shared`, as its tasks' wakers and spawners reach it.
    handles: Handles,
    /// Raised by the waker of `block_on`'s own future. Not part of `shared`: a waker the user's
    /// future keeps would otherwise keep the executor's queue alive after the executor is gone.
    main_woken: Arc<MainWoken>,
    /// `Send` but not `Sync`: see the type's docs.
    _not_sync: PhantomData<core::cell::Cell<()>>,
}

/// A handle that spawns tasks onto a [`LocalExecutor`] from anywhere: inside its tasks, another
/// thread, an interrupt handler (spawning allocates the task). It does not keep the executor
/// alive; once the executor is dropped, spawning returns [`SubmitError::Shutdown`].
#[derive(Clone)]
pub struct LocalSpawner {
    handles: Handles,
}

/// Weak handles to an executor's shared state, unsized once when it is created.
#[derive(Clone)]
struct Handles {
    spawn: Weak<dyn Spawn>,
    schedule: SchedulerHandle,
}

/// What a [`LocalSpawner`] needs of the executor, without naming its capacity.
trait Spawn: Send + Sync {
    /// Count one more unfinished task, or refuse at capacity.
    fn reserve(&self) -> Result<(), SubmitError>;
    /// Queue a task that `reserve` counted.
    fn enqueue(&self, task: Task);
}

/// Create the task for `body` on `target` (whose tasks' wakers reach it through `scheduler`)
/// and queue it.
fn spawn_on<F>(
    target: &dyn Spawn,
    scheduler: &SchedulerHandle,
    body: F,
) -> Result<Future<F::Output>, SubmitError>
where
    F: StdFuture + Send + 'static,
    F::Output: Send + 'static,
{
    target.reserve()?;
    let (task, future) = Task::from_async(body, scheduler.clone());
    target.enqueue(task);
    Ok(future)
}

impl LocalSpawner {
    /// Spawn `body` as a task of the executor; as [`LocalExecutor::spawn`].
    pub fn spawn<F>(&self, body: F) -> Result<Future<F::Output>, SubmitError>
    where
        F: StdFuture + Send + 'static,
        F::Output: Send + 'static,
    {
        let target = self.handles.spawn.upgrade().ok_or(SubmitError::Shutdown)?;
        spawn_on(&*target, &self.handles.schedule, body)
    }
}

impl fmt::Debug for LocalSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSpawner")
            .field("executor_alive", &(self.handles.spawn.strong_count() > 0))
            .finish()
    }
}

impl<const N: usize> LocalExecutor<N> {
    /// A new executor with room for `N` unfinished tasks. Allocates its queue once, here.
    /// `N` must be a power of two of at least 2 (the heapless queue's requirement, checked at
    /// compile time).
    pub fn new() -> Self {
        let shared = Arc::new(LocalState::new());
        let spawn: Arc<dyn Spawn> = unsize!(shared.clone());
        let schedule: Arc<dyn Schedule> = unsize!(shared.clone());
        Self {
            handles: Handles {
                spawn: Arc::downgrade(&spawn),
                schedule: SchedulerHandle::new(Arc::downgrade(&schedule)),
            },
            shared,
            main_woken: Arc::new(MainWoken(AtomicBool::new(false))),
            _not_sync: PhantomData,
        }
    }

    /// How many unfinished tasks it can hold: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Tasks spawned and not yet finished, suspended ones included (zero once `join` returns).
    pub fn outstanding(&self) -> usize {
        self.shared.outstanding.load(Ordering::Acquire)
    }

    /// A handle for spawning from inside tasks, other threads or interrupt handlers.
    pub fn spawner(&self) -> LocalSpawner {
        LocalSpawner {
            handles: self.handles.clone(),
        }
    }

    /// Spawn `body` as a task; it first runs when the executor is next run. Returns the future
    /// of its output, or [`SubmitError::Full`] if `N` tasks are unfinished (`body` is dropped).
    pub fn spawn<F>(&self, body: F) -> Result<Future<F::Output>, SubmitError>
    where
        F: StdFuture + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&*self.shared, &self.handles.schedule, body)
    }

    /// Poll tasks until none is ready (every task is finished or suspended); returns how many
    /// polls it made. Call it from a main loop; it never waits. A task that always wakes itself
    /// is always ready, so it keeps this running. On a multi-core host, a task being queued by
    /// another thread at that very moment may be left for the next call (`join` and `block_on`
    /// loop until they are done, so they never miss it).
    pub fn run_until_idle(&self) -> usize {
        let mut polls = 0;
        while self.run_one() {
            polls += 1;
        }
        polls
    }

    /// Run tasks until every task and every subtask they spawned has finished (the pool's
    /// `join`). While tasks are suspended on something outside the executor (an interrupt, another
    /// thread), it spins; [`join_with`](LocalExecutor::join_with) lets firmware sleep instead.
    pub fn join(&self) {
        self.join_with(idle_spin)
    }

    /// As [`join`](LocalExecutor::join), calling `idle` whenever no task is ready but some are
    /// unfinished, e.g. `cortex_m::asm::wfi` to sleep until the next interrupt. A wake may land
    /// just before `idle` is called, so `idle` must return on its own eventually (a periodic
    /// interrupt does it for `wfi`).
    pub fn join_with(&self, mut idle: impl FnMut()) {
        loop {
            self.run_until_idle();
            if self.outstanding() == 0 {
                return;
            }
            idle();
        }
    }

    /// Run tasks until `future` is ready, polling it on the calling thread between tasks, and
    /// return its output. `future` may be a task's [`Future`] (`executor.block_on(&f)` gives
    /// `Result<&T, Error>`) or any other future. Spins while nothing is ready;
    /// [`block_on_with`](LocalExecutor::block_on_with) takes an idle hook instead.
    pub fn block_on<F: IntoFuture>(&self, future: F) -> F::Output {
        self.block_on_with(future, idle_spin)
    }

    /// As [`block_on`](LocalExecutor::block_on), calling `idle` whenever neither a task nor
    /// `future` is ready (see [`join_with`](LocalExecutor::join_with)).
    pub fn block_on_with<F: IntoFuture>(&self, future: F, mut idle: impl FnMut()) -> F::Output {
        let mut future = pin!(future.into_future());
        // Made from the flag allocated with the executor: no allocation here.
        let waker = waker(self.main_woken.clone());
        let mut cx = Context::from_waker(&waker);
        let woken = &self.main_woken.0;
        woken.store(true, Ordering::Release);
        loop {
            if woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    // A `block_on` nested in `future` shares the flag: leave it raised, so a
                    // wake this call consumed for an outer `block_on` is not lost (a spurious
                    // poll is harmless).
                    woken.store(true, Ordering::Release);
                    return output;
                }
            }
            // A bounded batch, so tasks that keep waking each other cannot starve `future`.
            let mut polls = 0;
            while polls < N && self.run_one() {
                polls += 1;
            }
            if polls == 0 && !woken.load(Ordering::Acquire) {
                idle();
            }
        }
    }

    /// Run one ready task, if any; true if one ran.
    fn run_one(&self) -> bool {
        match self.shared.next_task() {
            Some(task) => {
                if task.execute(|| {}).ended() {
                    self.shared.end_one();
                }
                true
            }
            None => false,
        }
    }

    /// How many times a failed enqueue parked a task (tests check the path is taken).
    #[cfg(any(test, feature = "loom"))]
    #[doc(hidden)]
    pub fn parked_total(&self) -> usize {
        self.shared.parked_total.load(Ordering::Relaxed)
    }

    /// Make the next `n` enqueues fail, as heapless's can while another context is preempted
    /// mid-operation, so tests and loom models can force the parking path.
    #[cfg(any(test, feature = "loom"))]
    #[doc(hidden)]
    pub fn fail_next_enqueues(&self, n: usize) {
        self.shared.failing_enqueues.store(n, Ordering::Release);
    }
}

impl<const N: usize> Default for LocalExecutor<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for LocalExecutor<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("capacity", &N)
            .field("outstanding", &self.outstanding())
            .finish()
    }
}

/// The default idle hook: nothing to sleep on without an OS, so hint the CPU (or, on a host,
/// let another thread run: the waker may be on it).
fn idle_spin() {
    #[cfg(all(feature = "std", not(feature = "loom")))]
    std::thread::yield_now();
    #[cfg(any(not(feature = "std"), feature = "loom"))]
    spin_loop();
}

/// A parking bay's states; see the module docs' table.
const EMPTY: u8 = 0;
const BUSY: u8 = 1;
const FULL: u8 = 2;

/// Where a task goes when the run queue refused it.
struct ParkingBay {
    state: AtomicU8,
    /// Touched only by whoever moved `state` to `BUSY`.
    task: UnsafeCell<Option<Task>>,
}

/// What the executor's handles, and its tasks' wakers, share.
struct LocalState<const N: usize> {
    queue: RunQueue<N>,
    parked: [ParkingBay; N],
    /// Raised after a task was parked; the run loop scans the bays when it is up.
    rescan: AtomicBool,
    /// Tasks spawned and not finished (join accounting, and the capacity check).
    outstanding: AtomicUsize,
    /// Test hook: make this many enqueues fail, as heapless's can when preempted.
    #[cfg(any(test, feature = "loom"))]
    failing_enqueues: AtomicUsize,
    #[cfg(any(test, feature = "loom"))]
    parked_total: AtomicUsize,
}

// SAFETY: a bay's cell is only touched by the context that moved its state to `BUSY` (a
// compare-and-swap, so one at a time), and `Task` is `Send`.
unsafe impl<const N: usize> Sync for LocalState<N> {}

impl<const N: usize> LocalState<N> {
    fn new() -> Self {
        Self {
            queue: RunQueue::new(),
            parked: core::array::from_fn(|_| ParkingBay {
                state: AtomicU8::new(EMPTY),
                task: UnsafeCell::new(None),
            }),
            rescan: AtomicBool::new(false),
            outstanding: AtomicUsize::new(0),
            #[cfg(any(test, feature = "loom"))]
            failing_enqueues: AtomicUsize::new(0),
            #[cfg(any(test, feature = "loom"))]
            parked_total: AtomicUsize::new(0),
        }
    }

    /// Queue a task; never refuses (the task is counted, and a wake must not be lost).
    fn push(&self, task: Task) {
        #[cfg(any(test, feature = "loom"))]
        let task =
            match self
                .failing_enqueues
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            {
                Ok(_) => return self.park(task),
                Err(_) => task,
            };
        if let Err(task) = self.queue.push(task) {
            self.park(task);
        }
    }

    /// Put a task the queue refused into a free parking bay and raise `rescan`.
    fn park(&self, task: Task) {
        #[cfg(any(test, feature = "loom"))]
        self.parked_total.fetch_add(1, Ordering::Relaxed);
        let mut task = Some(task);
        loop {
            for bay in &self.parked {
                if bay
                    .state
                    .compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    // SAFETY: this context moved the bay to `BUSY`, so it alone touches the cell
                    // until it publishes `FULL` (Release, paired with the taker's Acquire CAS).
                    bay.task.with_mut(|cell| unsafe { *cell = task.take() });
                    bay.state.store(FULL, Ordering::Release);
                    // A read-modify-write, not a store: a store would cut the release sequence
                    // of another parker's raise, and a run loop reading this one could then miss
                    // that parker's `FULL`.
                    self.rescan.fetch_or(true, Ordering::AcqRel);
                    return;
                }
            }
            // Every bay was busy: other contexts are mid-operation on them (module docs); one
            // will free a bay.
            spin_loop();
        }
    }

    /// The next task to run: parked ones first (they were refused once already), then the queue.
    fn next_task(&self) -> Option<Task> {
        if self.rescan.load(Ordering::Acquire) && self.rescan.swap(false, Ordering::AcqRel) {
            if let Some(task) = self.take_parked() {
                // There may be more: look again next time (a read-modify-write, as in `park`).
                self.rescan.fetch_or(true, Ordering::AcqRel);
                return Some(task);
            }
        }
        self.queue.pop()
    }

    /// Take one parked task, if any.
    fn take_parked(&self) -> Option<Task> {
        self.parked.iter().find_map(|bay| {
            bay.state
                .compare_exchange(FULL, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .ok()?;
            // SAFETY: this context moved the bay from `FULL` to `BUSY`, so it alone touches the
            // cell (the parker's writes happened before its Release store of `FULL`).
            let task = bay.task.with_mut(|cell| unsafe { (*cell).take() });
            bay.state.store(EMPTY, Ordering::Release);
            task
        })
    }

    fn end_one(&self) {
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<const N: usize> Spawn for LocalState<N> {
    fn reserve(&self) -> Result<(), SubmitError> {
        self.outstanding
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < N).then_some(n + 1)
            })
            .map(drop)
            .map_err(|_| SubmitError::Full { capacity: N })
    }

    fn enqueue(&self, task: Task) {
        self.push(task);
    }
}

impl<const N: usize> Schedule for LocalState<N> {
    fn schedule(&self, task: Task) {
        self.push(task);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn ended_elsewhere(&self, _registered: Option<usize>) {
        self.end_one();
    }
}

/// The flag the waker of `block_on`'s own future raises.
struct MainWoken(AtomicBool);

impl ArcWake for MainWoken {
    fn wake_by_ref(this: &Arc<Self>) {
        this.0.store(true, Ordering::Release);
    }
}

impl<const N: usize> Drop for LocalState<N> {
    /// The executor is gone: end every queued task cancelled, so no future waits for a run that
    /// will never come. (Suspended tasks are cancelled by their next wake, which finds no
    /// executor.)
    fn drop(&mut self) {
        while let Some(task) = self.take_parked().or_else(|| self.queue.pop()) {
            // Nothing is counted any more.
            let _ = task.cancel();
        }
    }
}

/// The run queue: heapless's lock-free bounded MPMC queue.
#[cfg(not(feature = "loom"))]
struct RunQueue<const N: usize> {
    tasks: heapless::mpmc::Queue<Task, N>,
}

#[cfg(not(feature = "loom"))]
impl<const N: usize> RunQueue<N> {
    fn new() -> Self {
        // Deprecated only because an enqueue can fail spuriously (heapless issue 583); `push`
        // parks the task instead of losing it (module docs).
        #[allow(deprecated)]
        let tasks = heapless::mpmc::Queue::new();
        Self { tasks }
    }

    fn push(&self, task: Task) -> Result<(), Task> {
        self.tasks.enqueue(task)
    }

    fn pop(&self) -> Option<Task> {
        self.tasks.dequeue()
    }
}

/// Under loom, a loom-visible stand-in with heapless's failure mode: an enqueue that lands while
/// another context is mid-operation on the queue fails, so the models explore the parking path.
/// (A lock alone would not do: loom never switches threads while one holds a lock without
/// touching another loom object, so `in_operation` is the window loom can preempt into.)
#[cfg(feature = "loom")]
struct RunQueue<const N: usize> {
    tasks: crate::sync::Mutex<alloc::collections::VecDeque<Task>>,
    in_operation: AtomicUsize,
}

#[cfg(feature = "loom")]
impl<const N: usize> RunQueue<N> {
    fn new() -> Self {
        Self {
            tasks: crate::sync::Mutex::new(alloc::collections::VecDeque::with_capacity(N)),
            in_operation: AtomicUsize::new(0),
        }
    }

    fn push(&self, task: Task) -> Result<(), Task> {
        let result = if self.in_operation.fetch_add(1, Ordering::AcqRel) > 0 {
            Err(task)
        } else {
            let mut tasks = self.tasks.lock();
            if tasks.len() < N {
                tasks.push_back(task);
                Ok(())
            } else {
                Err(task)
            }
        };
        self.in_operation.fetch_sub(1, Ordering::AcqRel);
        result
    }

    fn pop(&self) -> Option<Task> {
        self.in_operation.fetch_add(1, Ordering::AcqRel);
        let task = self.tasks.lock().pop_front();
        self.in_operation.fetch_sub(1, Ordering::AcqRel);
        task
    }
}

#[cfg(all(test, feature = "std", not(feature = "loom")))]
mod tests {
    use super::*;
    use crate::Error;
    use std::vec::Vec;

    /// A future that is ready on its second poll, waking itself in between: one suspend/wake
    /// cycle through the NOTIFIED path.
    struct YieldOnce(bool);

    impl StdFuture for YieldOnce {
        type Output = ();
        fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn failed_enqueues_park_the_task_and_lose_no_wake() {
        let executor = LocalExecutor::<8>::new();
        let spawner = executor.spawner();
        // The first 16 enqueues fail (of the ~21 this tree makes): spawns, self-wakes and
        // cross-task wakes all park.
        executor
            .shared
            .failing_enqueues
            .store(16, Ordering::Release);
        let root = executor
            .spawn(async move {
                let children: Vec<_> = (0..4u32)
                    .map(|i| {
                        spawner
                            .spawn(async move {
                                for _ in 0..3 {
                                    YieldOnce(false).await;
                                }
                                i * 10
                            })
                            .unwrap()
                    })
                    .collect();
                let mut sum = 0;
                for child in &children {
                    sum += child.await.unwrap();
                }
                sum
            })
            .unwrap();
        executor.join();
        assert!(matches!(root.try_result(), Some(Ok(&60))));
        assert_eq!(executor.outstanding(), 0);
        assert_eq!(executor.shared.failing_enqueues.load(Ordering::Acquire), 0);
        assert_eq!(executor.outstanding(), 0);
        assert_eq!(
            executor.parked_total(),
            16,
            "every failed enqueue parked its task"
        );
    }

    #[test]
    fn a_full_executor_refuses_and_accepts_again_after_join() {
        let executor = LocalExecutor::<2>::new();
        let a = executor.spawn(async { 1 }).unwrap();
        let _b = executor.spawn(async { 2 }).unwrap();
        assert_eq!(
            executor.spawn(async { 3 }).unwrap_err(),
            SubmitError::Full { capacity: 2 }
        );
        executor.join();
        assert!(matches!(a.try_result(), Some(Ok(&1))));
        let c = executor.spawn(async { 3 }).unwrap();
        assert!(matches!(executor.block_on(&c), Ok(&3)));
    }

    #[test]
    fn dropping_the_executor_cancels_queued_and_suspended_tasks() {
        let executor = LocalExecutor::<4>::new();
        let never = Future::<u32>::new();
        let waiting_on = never.clone();
        let suspended = executor
            .spawn(async move { *(&waiting_on).await.unwrap() })
            .unwrap();
        executor.run_until_idle();
        let queued = executor.spawn(async { 1 }).unwrap();
        let spawner = executor.spawner();
        drop(executor);
        assert!(matches!(queued.try_result(), Some(Err(Error::Cancelled))));
        assert!(!suspended.done());
        // Its wake finds no executor: it ends cancelled instead of pending forever.
        never.set_result(5).unwrap();
        assert!(matches!(
            suspended.try_result(),
            Some(Err(Error::Cancelled))
        ));
        assert_eq!(spawner.spawn(async {}).unwrap_err(), SubmitError::Shutdown);
    }
}
