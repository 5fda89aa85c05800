//! A global allocator that counts live heap bytes (allocated minus freed, across all threads),
//! for the tests and benchmarks that measure memory. The includer registers it:
//! `#[global_allocator] static ALLOCATOR: CountingAllocator = CountingAllocator;`.
#![allow(dead_code)] // each includer uses its own part

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts into `live_bytes`; forwards everything to `System`.
pub struct CountingAllocator;

/// Live heap bytes now.
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Live heap bytes (allocated minus freed), across all threads.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counter is a plain atomic.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live heap bytes above `before` once they fall below `limit`, or after 10 s: a pool's stuck
/// watcher may be in the middle of a look (a dump holds a weak handle to every task it lists,
/// hence their cells, until it ends), which is memory held for a moment, not kept.
pub fn settled_above(before: isize, limit: isize) -> isize {
    let start = std::time::Instant::now();
    loop {
        let held = live_bytes() - before;
        if held < limit || start.elapsed() > std::time::Duration::from_secs(10) {
            return held;
        }
        // crossbeam-epoch (under the deques) frees what it deferred (old deque buffers, exited
        // threads' records) only as pins advance its epoch: pin, as any later work would.
        crossbeam_epoch::pin().flush();
        std::thread::yield_now();
    }
}
