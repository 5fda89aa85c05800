//! Issue 17: `Builder::build_global` sets the global pool's options before its first use (a
//! process of its own, as the global pool is one per process).
#![cfg(not(feature = "loom"))]

use betterconcurrent::{global_pool, BuildError, Executor, ThreadPoolExecutor};

#[test]
fn build_global_sets_the_options_of_the_pool_the_free_functions_use() {
    let built = ThreadPoolExecutor::builder()
        .max_workers(2)
        .thread_name_prefix("chosen")
        .build_global()
        .unwrap();
    assert!(std::ptr::eq(built, global_pool()));
    assert_eq!(global_pool().max_workers(), 2);
    let future =
        betterconcurrent::submit(|| std::thread::current().name().map(str::to_owned)).unwrap();
    assert_eq!(future.result().unwrap().as_deref(), Some("chosen_0"));
    assert_eq!(Executor::of(&future).unwrap(), built.executor());
    assert_eq!(
        ThreadPoolExecutor::builder().build_global().unwrap_err(),
        BuildError::GlobalPoolExists
    );
    // A `join` converges the global pool and closes it for the whole process.
    built.join().unwrap();
    assert!(betterconcurrent::submit(|| ()).is_err());
}
