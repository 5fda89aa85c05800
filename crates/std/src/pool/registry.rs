//! The registry of a pool's suspended async tasks: how the pool reaches a task that sits in no
//! queue and on no thread (suspended at an `.await`, held only by the wakers of what it awaits),
//! to abort it, and later to list it.
//!
//! # Protocol
//!
//! - **Register at the first suspension.** Until its first poll returns `Pending`, a task is on
//!   its way to a queue, in one, or on the thread polling it, and whoever takes it from a queue
//!   (a LIFO slot included, which the drain cannot reach) checks the lifecycle before polling
//!   it: only a suspended task needs the registry. So the worker whose poll of an
//!   async task first returns `Pending` registers it (a weak [`TaskWatch`] in the shard of that
//!   worker's record, the entry number kept in the task's [`Registration`]) while it still
//!   holds the task's run right (`RunHooks::suspending`), and then loads `cancel_queued`.
//!   `shutdown(cancel_futures = true)` stores `cancel_queued` before it walks the shards, and
//!   each walk takes the shard's lock, so either the walk finds the entry, or it held that
//!   shard's lock first, the registering worker's lock came after, and its load sees
//!   `cancel_queued`: then it aborts the task itself. Every accepted task is reached, and a task
//!   that ends in its first poll (most leaves of a tree of tasks) never touches the registry.
//! - **Forget when it ends**, in O(1): whoever counts a registered task ended forgets its entry
//!   (a worker whose run reports it ended, the drain that ends it unrun, and the cell freed
//!   unfinished, through `Schedule::ended_elsewhere`). A finished task's entry is gone, so the
//!   registry keeps no memory per finished task: the weak handle was the last thing keeping its
//!   cell's allocation, and a shard gives its storage back as it empties (below).
//! - **Walk without running user code under a lock.** A walk clones the weak handles under each
//!   shard's lock and acts on them after releasing it: an abort may queue the task, and a
//!   handle upgraded there may be the last one, whose drop runs the task's destructors.
//!
//! Shards keep concurrent registrations and completions apart: a worker registers in the shard
//! of its own record (`WorkerRecord::registry_shard`), spare threads in shard 0, so a
//! registration takes a lock only its worker and the completions of its tasks contend for,
//! never a pool-wide one. An entry number is the slab key and the shard
//! (`key << shard_bits | shard`), so forgetting it needs no search.
//!
//! # Memory
//!
//! A registered task costs one slab entry (a weak handle, 16 bytes) in its shard. A slab keeps
//! its entries' keys stable, so it cannot compact around a live entry, but it trims the vacant
//! tail and returns the space each time it falls to a quarter of its capacity and its length is
//! a power of two (so trimming costs O(1) amortised per entry), and all of it when it empties
//! (below `TRIM_ABOVE` entries' capacity it keeps its storage, at most 1.5 KiB, so a shard that
//! keeps emptying and refilling does not allocate each time). After a burst, an idle pool keeps
//! only the few shards' small slabs; a task that outlives a burst can keep its shard's entries
//! below its own key.

use betterconcurrent_core::executor::{Suspending, TaskWatch};
use betterconcurrent_core::sync::Mutex;
use crossbeam_utils::CachePadded;
use slab::Slab;

/// The most shards a registry has; beyond, workers share them. (A shard's lock is the core's
/// short-critical-section `Mutex`, a spin lock outside loom: an entry's insert or remove is a
/// few instructions, no user code runs under it, and a walk only clones weak handles.)
const MAX_SHARDS: usize = 64;

/// A slab is not trimmed below this capacity: small ones are cheap, and trimming costs a walk.
const TRIM_ABOVE: usize = 64;

/// The pool's async tasks that have suspended and not ended, in shards (see the module docs).
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Slab<TaskWatch>>>]>,
    /// `log2(shards.len())`: an entry is `key << shard_bits | shard`.
    shard_bits: u32,
}

impl Registry {
    /// A registry for a pool of up to `max_workers` workers: one shard per worker and one for
    /// the other threads, up to [`MAX_SHARDS`] (a power of two).
    pub(crate) fn new(max_workers: usize) -> Self {
        let shards = max_workers
            .saturating_add(1)
            .min(MAX_SHARDS)
            .next_power_of_two();
        Self {
            shards: (0..shards)
                .map(|_| CachePadded::new(Mutex::new(Slab::new())))
                .collect(),
            shard_bits: shards.trailing_zeros(),
        }
    }

    /// The shard of the worker whose thread is the `index`-th started (see `WorkerRecord`); shard
    /// 0 is for spare and outside threads.
    pub(crate) fn shard_of_worker(&self, index: usize) -> usize {
        // `new` makes at least two shards (a pool has at least one worker).
        1 + index % (self.shards.len() - 1)
    }

    /// Register `task`, suspending for the first time, in `shard`; returns its entry (also
    /// recorded in its `Registration`).
    pub(crate) fn register(&self, task: &Suspending<'_>, shard: usize) -> usize {
        let key = self.shards[shard].lock().insert(task.watch());
        let entry = key << self.shard_bits | shard;
        task.registration().set(entry);
        entry
    }

    /// Forget the entry of a task that ended (see the module docs' "Forget when it ends").
    pub(crate) fn forget(&self, entry: usize) {
        let (key, shard) = (entry >> self.shard_bits, entry & (self.shards.len() - 1));
        let forgotten = {
            let mut tasks = self.shards[shard].lock();
            let forgotten = tasks.try_remove(key);
            let capacity = tasks.capacity();
            if tasks.is_empty() {
                // A small slab stays: a shard that keeps emptying and refilling (a worker's
                // tasks suspending one at a time) would otherwise allocate on every refill.
                if capacity > TRIM_ABOVE {
                    *tasks = Slab::new();
                }
            } else if capacity > TRIM_ABOVE
                && tasks.len() <= capacity / 4
                && tasks.len().is_power_of_two()
            {
                tasks.shrink_to_fit();
            }
            forgotten
        };
        debug_assert!(forgotten.is_some(), "a task's entry is forgotten once");
        // Dropping a weak handle runs no user code (the task's value and body are dropped with
        // its last strong handle); it may free the cell's memory, after the lock.
        drop(forgotten);
    }

    /// Weak handles to every registered task, taken shard by shard: each shard's entries as of
    /// the moment its lock was held (a task registered in a shard after its turn is not listed;
    /// see the module docs for why shutdown still reaches it).
    pub(crate) fn unfinished(&self) -> Vec<TaskWatch> {
        let mut unfinished = Vec::new();
        for shard in self.shards.iter() {
            let tasks = shard.lock();
            unfinished.extend(tasks.iter().map(|(_, watch)| watch.clone()));
        }
        unfinished
    }

    /// How many tasks are registered (unfinished), summed shard by shard.
    fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().len()).sum()
    }
}

impl Drop for Registry {
    /// A pool is dropped only after its last task finished (its workers exit only then, and they
    /// hold it), so every entry must have been forgotten: checked in debug builds, which is how
    /// the loom models and tests see a forgotten `forget`.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            debug_assert_eq!(self.len(), 0, "a finished task left its registry entry");
        }
    }
}
