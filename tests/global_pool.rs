//! Issue 17: the global pool, built on first use with the default options, and the free
//! functions that submit to it. (`Builder::build_global` has its own process:
//! `tests/global_pool_built.rs`.)
#![cfg(not(feature = "loom"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use betterconcurrent::{global_pool, BuildError, Executor, ThreadPoolExecutor};

#[test]
fn the_free_functions_run_on_one_global_pool_of_the_default_size() {
    let first =
        betterconcurrent::submit(|| std::thread::current().name().map(str::to_owned)).unwrap();
    let name = first.result().unwrap().clone().unwrap();
    assert!(name.starts_with("betterconcurrent-global_"), "{name}");
    assert_eq!(Executor::of(&first).unwrap(), global_pool().executor());
    assert!(std::ptr::eq(global_pool(), global_pool()));
    assert_eq!(
        global_pool().max_workers(),
        ThreadPoolExecutor::new().max_workers()
    );
    let async_one = betterconcurrent::submit_async(async { 7 }).unwrap();
    assert_eq!(*async_one.result().unwrap(), 7);
    assert_eq!(Executor::of(&async_one).unwrap(), global_pool().executor());
}

#[test]
fn spawned_work_and_its_subtasks_converge_under_wait_idle_and_the_pool_stays_open() {
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let count = count.clone();
        betterconcurrent::spawn(move |executor| {
            for _ in 0..10 {
                let count = count.clone();
                executor
                    .spawn(move |_| {
                        count.fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap();
            }
        })
        .unwrap();
    }
    global_pool().wait_idle().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 100);
    // Still open for the rest of the process.
    assert_eq!(
        *betterconcurrent::submit(|| 1).unwrap().result().unwrap(),
        1
    );
}

#[test]
fn building_the_global_pool_after_its_first_use_is_a_typed_error() {
    let _ = global_pool();
    let error = ThreadPoolExecutor::builder()
        .max_workers(3)
        .build_global()
        .unwrap_err();
    assert_eq!(error, BuildError::GlobalPoolExists);
    assert!(error.to_string().contains("built already"), "{error}");
    // A bad option is still reported as itself.
    assert_eq!(
        ThreadPoolExecutor::builder()
            .max_workers(0)
            .build_global()
            .unwrap_err(),
        BuildError::ZeroWorkers
    );
}

#[test]
fn a_free_submit_records_its_callers_site() {
    let (release, gate) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    let work = move || {
        started.send(()).unwrap();
        gate.recv().unwrap()
    };
    let (line, future) = (line!(), betterconcurrent::submit(work).unwrap());
    running.recv().unwrap();
    let dump = global_pool().dump();
    let task = dump.task(future.id()).expect("a running task is listed");
    #[cfg(feature = "locations")]
    {
        let location = task.site().location().expect("recorded");
        assert_eq!(
            (location.file(), location.line()),
            (file!(), line),
            "{dump}"
        );
    }
    let _ = (task, line);
    release.send(()).unwrap();
    future.result().unwrap();
}
