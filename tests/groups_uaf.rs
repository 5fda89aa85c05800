//! Adversarial review of task groups: is a group touched after its last reference went away?
//! The allocator of this binary never reuses freed memory and fills it with 0xA5 first, so a
//! read of a freed group sees garbage (a waiter count that is not zero, a lock that looks held)
//! instead of the stale but plausible values the system allocator leaves behind.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{block_workers, pool};

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use betterconcurrent::TaskGroup;

struct Poisoning;

// SAFETY: forwards to `System`; freed blocks are poisoned and kept (never handed out again).
unsafe impl GlobalAlloc for Poisoning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's `layout` contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes from `alloc` (the caller's
        // contract), no longer used by anyone: overwriting it is ours to do.
        unsafe { std::ptr::write_bytes(ptr, 0xA5, layout.size()) };
        // Quarantined forever: never reused, so every later read sees the poison.
    }
}

#[global_allocator]
static ALLOCATOR: Poisoning = Poisoning;

/// Fire-and-forget tasks (no futures, so nothing but the group's own `held` keeps the group's
/// allocation) queued behind a blocked worker; the group is cancelled and its last handle
/// dropped; the worker then ends them unrun (`Pool::discard`), the last one bringing the
/// group's count to 0.
#[test]
fn discarding_the_last_queued_task_of_a_cancelled_dropped_group() {
    within(60, || {
        let pool = pool(1);
        let (release, _blockers) = block_workers(&pool, 1);
        let ran = Arc::new(AtomicUsize::new(0));
        {
            let group = TaskGroup::new(&pool);
            for _ in 0..10 {
                let ran = ran.clone();
                group
                    .spawn(move |_| {
                        ran.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
            }
            group.cancel();
        }
        drop(release);
        let after = pool.submit(|| 7).unwrap();
        assert_eq!(*after.result_timeout(Duration::from_secs(20)).unwrap(), 7);
        pool.wait_idle_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}

/// The same with a child group whose parent's handles are gone too.
#[test]
fn discarding_the_last_queued_task_of_a_cancelled_dropped_child_group() {
    within(60, || {
        let pool = pool(1);
        let (release, _blockers) = block_workers(&pool, 1);
        {
            let parent = TaskGroup::new(&pool);
            let child = TaskGroup::new(&parent.executor());
            for _ in 0..10 {
                child.spawn(|_| ()).unwrap();
            }
            parent.cancel();
        }
        drop(release);
        let after = pool.submit(|| 7).unwrap();
        assert_eq!(*after.result_timeout(Duration::from_secs(20)).unwrap(), 7);
        pool.wait_idle_timeout(Duration::from_secs(20)).unwrap();
    });
}
