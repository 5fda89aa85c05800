//! The unasked report of a stuck pool ([`Builder::on_stuck`](crate::Builder::on_stuck)): when
//! should the pool read its own wait-for graph, and how often does it say so.
//!
//! Nothing is done on the hot paths. A worker about to sleep in the kernel (`Pool::recheck`),
//! and a pool thread about to park in a blocking wait, with work outstanding, start the pool's
//! watcher if it is not running: one atomic swap on those cold paths. The watcher is a thread
//! that sleeps with a growing pause ([`FIRST_LOOK`] doubling up to [`LONGEST_PAUSE`]) and, at
//! each wake, looks at the pool only if no task is queued and no thread runs one outside a
//! blocking wait; only then does it take a dump (linear in the listed tasks). It ends when it
//! finds nothing outstanding or the pool gone, so an idle or busy pool pays nothing, and a
//! pool that keeps going idle with work outstanding starts at most one thread per
//! [`FIRST_LOOK`]. Its pause is a wait on a condition variable, not a sleep: `shutdown(wait =
//! true)`, once the pool's threads have stopped, stops the watcher and joins it, so a pool shut
//! down holds no thread and no dump (a watcher mid-look at shutdown would otherwise keep its
//! dump, linear in the tasks, until its pause ended).
//!
//! A dump that shows the pool stuck (`Dump::is_stuck`) is reported through the hook if it is a
//! new episode: the set of listed tasks and their phases differs from the last report's (a pool
//! that went on, even to be stuck again elsewhere, is a new episode; one that stays stuck is
//! reported once). A closed wait-for cycle is certain and reported at the first look; a pool
//! stuck only on futures outside its view (which another thread may still complete) is
//! reported only once it has looked stuck for [`OUTSIDE_GRACE`], so a pool whose tasks wait
//! for a slow outside event is not reported at every quiet moment.

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
    /// The episode last reported, by its signature (`signature`).
    reported: Mutex<Option<u64>>,
    /// Shared with the watcher, which pauses on it without holding the pool.
    stop: std::sync::Arc<StopSignal>,
    /// The last watcher started. Locked while one starts, so `stop` cannot miss it.
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Set by `StuckWatch::stop` (the pool has shut down): the watcher ends and none starts again.
#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    /// Ends the watcher's pause early when `stopped` is set.
    wake: Condvar,
}

impl StopSignal {
    /// Wait `pause`, or less if the watch is stopped; true if it is.
    fn pause(&self, pause: Duration) -> bool {
        let stopped = locked(&self.stopped);
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, pause, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *stopped
    }

    fn is_stopped(&self) -> bool {
        *locked(&self.stopped)
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
            stop: Default::default(),
            thread: Mutex::new(None),
        }
    }

    /// End the watcher for good and join it (the pool has shut down and its threads have
    /// stopped). Not joined if called on the watcher itself (from the hook).
    pub(crate) fn stop(&self) {
        *locked(&self.stop.stopped) = true;
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
        if stop.pause(pause) {
            return;
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
        pause = (pause * 2).min(LONGEST_PAUSE);
        if pool.has_queued() || pool.runs_unblocked_task() {
            stuck_since = None;
            continue;
        }
        let dump = pool.dump();
        if !dump.is_stuck() {
            stuck_since = None;
            continue;
        }
        let episode = signature(&dump);
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

/// An episode's identity: its listed tasks, their phases and what they await.
fn signature(dump: &Dump) -> u64 {
    let mut hasher = DefaultHasher::new();
    dump.outstanding().hash(&mut hasher);
    for task in dump.tasks() {
        task.id().hash(&mut hasher);
        task.is_blocked().hash(&mut hasher);
        task.phase().hash(&mut hasher);
        task.awaits().hash(&mut hasher);
    }
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
