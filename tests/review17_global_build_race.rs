//! Review 17: `Builder::build_global` racing the first use of the global pool (and other
//! `build_global` calls) from many threads: at most one `build_global` succeeds, every other
//! fails with `BuildError::GlobalPoolExists`, and the pool everyone sees has the options of the
//! winner (or the defaults, if a first use won). A process of its own.
#![cfg(not(feature = "loom"))]

use std::sync::{Arc, Barrier};

use betterconcurrent::{global_pool, BuildError, ThreadPoolExecutor};

const BUILDERS: usize = 16;
const USERS: usize = 16;

#[test]
fn build_global_racing_first_use_is_consistent() {
    let barrier = Arc::new(Barrier::new(BUILDERS + USERS));
    let mut handles = Vec::new();
    for i in 0..BUILDERS {
        let barrier = barrier.clone();
        handles.push(std::thread::spawn(move || {
            let builder = ThreadPoolExecutor::builder()
                .max_workers(i + 1)
                .thread_name_prefix(format!("built{i}"));
            barrier.wait();
            match builder.build_global() {
                Ok(pool) => Some((i, pool as *const ThreadPoolExecutor as usize)),
                Err(BuildError::GlobalPoolExists) => None,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }));
    }
    let mut users = Vec::new();
    for _ in 0..USERS {
        let barrier = barrier.clone();
        users.push(std::thread::spawn(move || {
            barrier.wait();
            let f = betterconcurrent::submit(|| std::thread::current().name().map(str::to_owned))
                .unwrap();
            (
                global_pool() as *const ThreadPoolExecutor as usize,
                f.result().unwrap().clone().unwrap(),
            )
        }));
    }
    let winners: Vec<_> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap())
        .collect();
    let seen: Vec<_> = users.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(winners.len() <= 1, "{winners:?}");
    let global = global_pool() as *const ThreadPoolExecutor as usize;
    for (addr, _) in &seen {
        assert_eq!(*addr, global);
    }
    match winners.first() {
        Some(&(i, addr)) => {
            assert_eq!(addr, global);
            assert_eq!(global_pool().max_workers(), i + 1);
            for (_, name) in &seen {
                assert!(name.starts_with(&format!("built{i}_")), "{name}");
            }
        }
        None => {
            assert_eq!(
                global_pool().max_workers(),
                ThreadPoolExecutor::new().max_workers()
            );
            for (_, name) in &seen {
                assert!(name.starts_with("betterconcurrent-global_"), "{name}");
            }
        }
    }
    global_pool().wait_idle().unwrap();
}
