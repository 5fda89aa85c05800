//! Review of work-first: the in-place stack budget is half of `RUST_MIN_STACK` as read *when a
//! pool thread starts* (`worker::thread_stack_size`), while `std` reads `RUST_MIN_STACK` once,
//! at the process's first thread spawn, and caches it. A program that sets the variable after
//! a thread was spawned (here: the test harness's threads, then this test's own) gets pool
//! threads with the cached default (2 MiB) and a budget computed from the new value: in-place
//! runs then nest past the real end of the stack. Kept in a file of its own: an overflow aborts
//! the test binary, and the variable is process-wide.
#![cfg(not(feature = "loom"))]

mod common;

use common::watchdog::within;
use common::{await_chain, pool};

#[test]
fn a_rust_min_stack_set_after_the_first_thread_spawn_does_not_overflow_a_deep_chain() {
    // Make sure std's cached minimum stack is read before the variable changes.
    std::thread::spawn(|| {}).join().unwrap();
    std::env::set_var("RUST_MIN_STACK", (512usize << 20).to_string());
    within(120, || {
        let pool = pool(1);
        // The pool's thread really has std's cached default (2 MiB): measure nothing, just run
        // a chain deep enough to need far more than 2 MiB if it all ran in place.
        let depth = 100_000;
        assert_eq!(
            *await_chain(pool.executor(), depth).result().unwrap(),
            depth
        );
        pool.join().unwrap();
    });
}
