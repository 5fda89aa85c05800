//! Review 17: shutting the global pool down (a process of its own): queued work still runs with
//! `wait = true`, suspended tasks end cancelled with `cancel_futures = true`, and afterwards every
//! free function, the `Spawn` trait and `map` refuse with typed errors, never a panic; the pool
//! stays the same `&'static` and `build_global` still says it exists.
#![cfg(not(feature = "loom"))]

use std::sync::mpsc;

use betterconcurrent::{global_pool, BuildError, Error, Future, SubmitError, ThreadPoolExecutor};

#[test]
fn shutdown_of_the_global_pool_then_every_door_refuses() {
    let before = global_pool() as *const ThreadPoolExecutor;
    let (release, gate) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    let blocked = betterconcurrent::submit(move || {
        started.send(()).unwrap();
        gate.recv().unwrap();
        1
    })
    .unwrap();
    running.recv().unwrap();
    let never = Future::<u32>::new();
    let awaited = never.clone();
    let suspended =
        betterconcurrent::submit_async(async move { *(&awaited).await.unwrap() }).unwrap();
    // Shut down from another thread while the blocked task holds a worker.
    let shutter = std::thread::spawn(|| global_pool().shutdown(true, true));
    release.send(()).unwrap();
    shutter.join().unwrap();
    assert_eq!(*blocked.result().unwrap(), 1);
    assert!(
        matches!(suspended.result(), Err(Error::Cancelled)),
        "{:?}",
        suspended.result()
    );

    assert!(matches!(
        betterconcurrent::submit(|| 1),
        Err(SubmitError::Shutdown)
    ));
    assert!(matches!(
        betterconcurrent::submit_async(async { 1 }),
        Err(SubmitError::Shutdown)
    ));
    assert!(matches!(
        betterconcurrent::spawn(|_| ()),
        Err(SubmitError::Shutdown)
    ));
    assert!(matches!(
        global_pool().map(|x: u32| x, 0..3),
        Err(SubmitError::Shutdown)
    ));
    #[cfg(feature = "futures")]
    {
        use futures::task::{Spawn, SpawnExt};
        let executor = global_pool().executor();
        assert!(executor.status().unwrap_err().is_shutdown());
        assert!(SpawnExt::spawn(&executor, async {})
            .unwrap_err()
            .is_shutdown());
        assert!(executor.spawn_with_handle(async { 1 }).is_err());
    }
    // Idempotent, and the waits return.
    global_pool().shutdown(true, false);
    global_pool().join().unwrap();
    global_pool().wait_idle().unwrap();
    assert!(std::ptr::eq(before, global_pool()));
    assert_eq!(
        ThreadPoolExecutor::builder().build_global().unwrap_err(),
        BuildError::GlobalPoolExists
    );
    // An Error converted from the refusal reads as shutdown.
    let error: Error = betterconcurrent::submit(|| ()).unwrap_err().into();
    assert!(matches!(error, Error::Shutdown));
}
