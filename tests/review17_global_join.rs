//! Review 17: `join` of the global pool (a process of its own): a fire-and-forget tree built
//! with the free functions converges, a join racing a second join from another thread both
//! return, and then every submit fails with `SubmitError::Shutdown`.
#![cfg(not(feature = "loom"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use betterconcurrent::{global_pool, SubmitError};

fn tree(count: Arc<AtomicUsize>, depth: u32) {
    count.fetch_add(1, Ordering::Relaxed);
    if depth > 0 {
        for i in 0..3 {
            let count = count.clone();
            // Mix the three free functions.
            match i {
                0 => betterconcurrent::spawn(move |_| tree(count, depth - 1)).unwrap(),
                1 => drop(betterconcurrent::submit(move || tree(count, depth - 1)).unwrap()),
                _ => drop(
                    betterconcurrent::submit_async(async move { tree(count, depth - 1) }).unwrap(),
                ),
            }
        }
    }
}

#[test]
fn a_join_of_the_global_pool_converges_the_tree_then_closes_it() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    betterconcurrent::spawn(move |_| tree(c, 6)).unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let b = barrier.clone();
    let other = std::thread::spawn(move || {
        b.wait();
        global_pool().join()
    });
    barrier.wait();
    global_pool().join().unwrap();
    other.join().unwrap().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), (3usize.pow(7) - 1) / 2);
    assert!(matches!(
        betterconcurrent::submit(|| ()),
        Err(SubmitError::Shutdown)
    ));
    assert!(matches!(
        betterconcurrent::spawn(|_| ()),
        Err(SubmitError::Shutdown)
    ));
    assert!(matches!(
        betterconcurrent::submit_async(async {}),
        Err(SubmitError::Shutdown)
    ));
}
