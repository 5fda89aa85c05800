//! Review 17: many threads race the first use of the global pool (through `global_pool()` and
//! each free function at once); exactly one pool is built, every task runs on it, and its
//! threads carry the documented default names. A process of its own: the first use is once.
#![cfg(not(feature = "loom"))]

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use betterconcurrent::{global_pool, BuildError, Executor, ThreadPoolExecutor};

const RACERS: usize = 32;

#[test]
fn racing_first_uses_build_one_pool() {
    let barrier = Arc::new(Barrier::new(RACERS));
    let handles: Vec<_> = (0..RACERS)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                // Each racer reaches the pool by a different door.
                let (pool_addr, executor) = match i % 4 {
                    0 => {
                        let pool = global_pool();
                        (pool as *const ThreadPoolExecutor as usize, pool.executor())
                    }
                    1 => {
                        let f = betterconcurrent::submit(|| Executor::current().unwrap()).unwrap();
                        let e = f.result().unwrap().clone();
                        (global_pool() as *const _ as usize, e)
                    }
                    2 => {
                        let f =
                            betterconcurrent::submit_async(async { Executor::current().unwrap() })
                                .unwrap();
                        let e = f.result().unwrap().clone();
                        (global_pool() as *const _ as usize, e)
                    }
                    _ => {
                        let (tx, rx) = std::sync::mpsc::channel();
                        betterconcurrent::spawn(move |executor| {
                            tx.send(executor.clone()).unwrap();
                        })
                        .unwrap();
                        let e = rx.recv().unwrap();
                        (global_pool() as *const _ as usize, e)
                    }
                };
                (pool_addr, executor)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let addrs: HashSet<usize> = results.iter().map(|(a, _)| *a).collect();
    assert_eq!(addrs.len(), 1, "one global pool");
    for (_, executor) in &results {
        assert_eq!(
            executor,
            &global_pool().executor(),
            "every task ran on the global pool"
        );
    }
    // Threads are named as documented, and no more than max_workers were started.
    let names: Vec<_> = (0..64)
        .map(|_| {
            betterconcurrent::submit(|| std::thread::current().name().map(str::to_owned)).unwrap()
        })
        .collect();
    for name in &names {
        let name = name.result().unwrap().clone().unwrap();
        assert!(name.starts_with("betterconcurrent-global_"), "{name}");
    }
    global_pool().wait_idle().unwrap();
    assert!(global_pool().thread_count() <= global_pool().max_workers());
    assert_eq!(
        ThreadPoolExecutor::builder().build_global().unwrap_err(),
        BuildError::GlobalPoolExists
    );
}
