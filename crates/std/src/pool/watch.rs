//! The unasked report of a stuck pool ([`Builder::on_stuck`](crate::Builder::on_stuck)): when
//! should the pool read its own wait-for graph, and how often does it say so.
//!
//! Nothing is done on the hot paths. A worker about to sleep in the kernel (`Pool::recheck`),
//! and a pool thread about to park in a blocking wait, with work outstanding, start the pool's
//! watcher if it is not running: one atomic swap on those cold paths. The watcher is a thread
//! that wakes every [`FIRST_LOOK`] and looks at the pool: if a task is queued, or a thread runs
//! one outside a blocking wait, the pool is busy and that is all (no dump). Otherwise it takes
//! a dump (linear in the listed tasks) and pauses [`DUMP_SHARE`] times as long as the dump
//! took, between [`FIRST_LOOK`] and [`LONGEST_PAUSE`]: a pool quiet on its timers or on slow
//! outside events costs its watcher a twentieth of a thread at most, however many tasks it
//! holds, while a pool of a few thousand tasks that deadlocks after any amount of work or
//! sleep is seen within [`FIRST_LOOK`] of going quiet. It ends when it finds nothing
//! outstanding or the pool gone, so an idle pool pays nothing, and a pool that keeps going
//! idle with work outstanding starts at most one thread per [`FIRST_LOOK`]. Its pause is a
//! wait on a condition variable, not a sleep: `shutdown(wait = true)`, once the pool's threads
//! have stopped, stops the watcher and joins it, so a pool shut down holds no thread and no
//! dump (a watcher mid-look at shutdown would otherwise keep its dump, linear in the tasks,
//! until its pause ended).
//!
//! A dump that shows the pool stuck (`Dump::is_stuck`) is reported through the hook if it is a
//! new episode. An episode is its cause ([`cause`]): the closed wait-for cycles, the tasks
//! awaiting something outside the pool's view and what each awaits, and the blocked threads;
//! not the bystanders (tasks asleep on the timer, or awaiting other tasks), so a deadlock next
//! to short-lived work is reported once, not at every quiet moment. Task ids are cell
//! addresses, which the allocator hands out again, so the same code deadlocking again would
//! look like the episode already reported: the pool forgets it whenever its work reaches zero
//! (`StuckWatch::went_idle`, which also ends a long pause of the watcher: two loads there while
//! nothing was reported and the watcher looks at the first pace). A closed cycle is
//! certain and reported at the first look; a pool stuck only on futures outside its view
//! (which another thread may still complete) is reported only once it has looked stuck for
//! [`OUTSIDE_GRACE`], so a pool whose tasks wait for a slow outside event is not reported at
//! every quiet moment.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use betterconcurrent_core::sync::{Arc, Weak};

use super::Pool;
use crate::dump::Dump;

/// The first pause before the watcher looks.
pub const FIRST_LOOK: Duration = Duration::from_millis(100);

/// After a dump, the watcher pauses this many times as long as the dump took (at least
/// [`FIRST_LOOK`]): a twentieth of a thread at most, for a pool that stays quiet.
const DUMP_SHARE: u32 = 20;

/// The longest pause between two looks.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// How long a pool stuck only on futures outside its view must stay so before it is reported.
pub const OUTSIDE_GRACE: Duration = Duration::from_secs(10);

/// What a pool calls with the dump of a stuck episode.
pub(crate) type StuckHook = Arc<dyn Fn(&Dump) + Send + Sync>;

/// The pool's watcher state and its report hook.
pub(crate) struct StuckWatch {
    hook: Option<StuckHook>,
    /// A watcher thread runs (or is starting).
    watching: AtomicBool,
    /// The episode last reported, by its signature ([`cause`]).
    reported: Mutex<Option<u64>>,
    /// `reported` holds an episode: read where the pool's work reaches zero.
    any_reported: AtomicBool,
    /// Shared with the watcher, which pauses on it without holding the pool.
    stop: std::sync::Arc<StopSignal>,
    /// The last watcher started. Locked while one starts, so `stop` cannot miss it.
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Shared by the pool and its watcher, which pauses on it without holding the pool: stops it
/// for good (`StuckWatch::stop`: the pool has shut down), or ends a long pause early because
/// the pool's work reached zero (the next stuck state is a new one, to be seen soon).
#[derive(Default)]
struct StopSignal {
    state: Mutex<Signal>,
    /// Ends the watcher's pause early when `state` changes.
    wake: Condvar,
    /// The watcher pauses longer than [`FIRST_LOOK`]: only then does work reaching zero wake it.
    backed_off: AtomicBool,
}

#[derive(Default)]
struct Signal {
    stopped: bool,
    went_idle: bool,
}

/// How a pause ended.
#[derive(PartialEq)]
enum Paused {
    Stopped,
    /// The pool's work reached zero meanwhile.
    WentIdle,
    Elapsed,
}

impl StopSignal {
    /// Wait `pause`, or less if the watch is stopped or the pool went idle.
    fn pause(&self, pause: Duration) -> Paused {
        self.backed_off.store(pause > FIRST_LOOK, Ordering::Relaxed);
        let state = locked(&self.state);
        let (mut state, _) = self
            .wake
            .wait_timeout_while(state, pause, |state| !state.stopped && !state.went_idle)
            .unwrap_or_else(PoisonError::into_inner);
        if state.stopped {
            Paused::Stopped
        } else if std::mem::take(&mut state.went_idle) {
            Paused::WentIdle
        } else {
            Paused::Elapsed
        }
    }

    /// The pool's work reached zero: end a long pause (one atomic load when there is none).
    #[inline]
    fn went_idle(&self) {
        // A load first: the swap's write would contend on every idle moment of a busy pool.
        if self.backed_off.load(Ordering::Relaxed) && self.backed_off.swap(false, Ordering::Relaxed)
        {
            locked(&self.state).went_idle = true;
            self.wake.notify_all();
        }
    }

    fn is_stopped(&self) -> bool {
        locked(&self.state).stopped
    }
}

/// None of these locks runs user code, so a poisoned one holds nothing broken.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StuckWatch {
    /// `hook`: `None` for the default report on standard error.
    pub(crate) fn new(hook: Option<StuckHook>) -> Self {
        Self {
            hook,
            watching: AtomicBool::new(false),
            reported: Mutex::new(None),
            any_reported: AtomicBool::new(false),
            stop: Default::default(),
            thread: Mutex::new(None),
        }
    }

    /// The pool's work reached zero: whatever was stuck has ended, so the next stuck episode is
    /// new even if it reuses the ids (cell addresses) of the last one, and is looked for at the
    /// first pace. Two atomic loads while nothing was reported and the watcher is not backed off.
    #[inline]
    pub(crate) fn went_idle(&self) {
        self.stop.went_idle();
        if self.any_reported.load(Ordering::Relaxed) {
            let mut reported = locked(&self.reported);
            *reported = None;
            self.any_reported.store(false, Ordering::Relaxed);
        }
    }

    /// End the watcher for good and join it (the pool has shut down and its threads have
    /// stopped). Not joined if called on the watcher itself (from the hook).
    pub(crate) fn stop(&self) {
        locked(&self.stop.state).stopped = true;
        self.stop.wake.notify_all();
        let watcher = locked(&self.thread).take();
        if let Some(watcher) = watcher {
            if watcher.thread().id() != std::thread::current().id() {
                // The watcher catches the hook's panics: an Err carries nothing to report.
                let _ = watcher.join();
            }
        }
    }
}

impl Pool {
    /// A pool thread is about to sleep or park with work outstanding: make sure the watcher
    /// runs. A cold path (see the module docs); never under loom, whose models have no watcher.
    pub(crate) fn watch_for_stuck(&self) {
        if cfg!(feature = "loom") || self.stuck.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut thread = locked(&self.stuck.thread);
        if self.stuck.stop.is_stopped() {
            return;
        }
        let (pool, stop) = (self.this.clone(), self.stuck.stop.clone());
        match std::thread::Builder::new()
            .name(self.threads.watcher_name())
            .spawn(move || watch(pool, &stop))
        {
            // A previous watcher's handle is of a thread that has ended (or is ending, having
            // cleared `watching`): dropping it detaches nothing that matters.
            Ok(started) => *thread = Some(started),
            // No thread now: the next idle moment tries again.
            Err(_) => self.stuck.watching.store(false, Ordering::Release),
        }
    }
}

/// The watcher's loop (see the module docs).
fn watch(pool: Weak<Pool>, stop: &StopSignal) {
    let mut pause = FIRST_LOOK;
    // When the current stuck look began (outside-only stuck pools wait `OUTSIDE_GRACE`).
    let mut stuck_since: Option<(u64, Instant)> = None;
    loop {
        match stop.pause(pause) {
            Paused::Stopped => return,
            // Look now: the pool may have ended its work, or deadlocked anew.
            Paused::WentIdle | Paused::Elapsed => {}
        }
        let Some(pool) = pool.upgrade() else {
            return;
        };
        if pool.accounting.is_zero() {
            pool.stuck.watching.store(false, Ordering::Release);
            // Work submitted since the load above may have missed the flag: look again.
            if pool.accounting.is_zero() || pool.stuck.watching.swap(true, Ordering::AcqRel) {
                return;
            }
        }
        if pool.has_queued() || pool.runs_unblocked_task() {
            stuck_since = None;
            pause = FIRST_LOOK;
            continue;
        }
        let looked = Instant::now();
        let dump = pool.dump();
        // The watcher spends at most a `DUMP_SHARE`th of a thread on dumps.
        pause = (looked.elapsed() * DUMP_SHARE).clamp(FIRST_LOOK, LONGEST_PAUSE);
        if !dump.is_stuck() {
            stuck_since = None;
            continue;
        }
        let episode = cause(&dump);
        let since = match stuck_since {
            Some((seen, since)) if seen == episode => since,
            _ => {
                stuck_since = Some((episode, Instant::now()));
                Instant::now()
            }
        };
        if !dump.has_closed_cycle() && since.elapsed() < OUTSIDE_GRACE {
            // Look again soon enough to report it when the grace ends.
            pause = pause.min(
                OUTSIDE_GRACE
                    .saturating_sub(since.elapsed())
                    .max(FIRST_LOOK),
            );
            continue;
        }
        pool.report_stuck(episode, &dump);
    }
}

impl Pool {
    /// True if some pool thread runs a task and is not blocked in a wait: the pool is busy.
    fn runs_unblocked_task(&self) -> bool {
        let blocked = self.blocked.task_ids();
        self.running
            .running()
            .iter()
            .any(|(_, task)| !blocked.contains(&task.id))
    }
}

/// An episode's identity: what keeps the pool stuck, in an order that does not depend on the
/// dump's. The closed cycles (each sorted); the tasks awaiting something outside the pool's
/// view, with what they await; the blocked threads, with the tasks they wait for.
fn cause(dump: &Dump) -> u64 {
    let mut cycles: Vec<Vec<usize>> = dump
        .cycles()
        .iter()
        .filter(|cycle| dump.is_closed(cycle))
        .map(|cycle| {
            let mut members = cycle.clone();
            members.sort_unstable();
            members
        })
        .collect();
    cycles.sort_unstable();
    let mut outside: Vec<(usize, &[usize])> = dump
        .tasks()
        .iter()
        .filter(|task| task.awaits_outside())
        .map(|task| (task.id(), task.awaits()))
        .collect();
    outside.sort_unstable();
    let blocked: Vec<(&str, &[usize])> = dump
        .blocked()
        .iter()
        .map(|thread| (thread.name(), thread.awaits()))
        .collect();
    let mut hasher = DefaultHasher::new();
    (cycles, outside, blocked).hash(&mut hasher);
    hasher.finish()
}

impl Pool {
    /// Report `dump`, of the stuck episode `episode`, unless it was reported already. The hook
    /// is user code: a panic in it is caught and reported as a callback's.
    fn report_stuck(&self, episode: u64, dump: &Dump) {
        {
            let mut reported = self
                .stuck
                .reported
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if *reported == Some(episode) {
                return;
            }
            *reported = Some(episode);
            self.stuck.any_reported.store(true, Ordering::Relaxed);
        }
        let report = || match &self.stuck.hook {
            Some(hook) => hook(dump),
            None => eprintln!("betterconcurrent: a thread pool is stuck:\n{dump}"),
        };
        if let Err(panic) = betterconcurrent_core::executor::catch_panic(report) {
            betterconcurrent_core::executor::report_panic("the pool's on_stuck hook", &panic);
        }
    }
}
