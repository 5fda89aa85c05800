//! Review 17: the free functions used from inside tasks, of another pool and of the global pool
//! itself. Nested blocking waits (`result()` on a global task from a global task, chains deeper
//! than `max_workers`, waits crossing between a one-worker pool and the global pool) must not
//! deadlock; a join of the global pool from its own task is refused; a panicking global task
//! leaves the pool working.
#![cfg(not(feature = "loom"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{global_pool, yield_until_done, Error, Executor, ThreadPoolExecutor};

const LONG: Duration = Duration::from_secs(20);

fn chain_blocking(depth: u32) -> u32 {
    if depth == 0 {
        return 0;
    }
    let child = betterconcurrent::submit(move || chain_blocking(depth - 1)).unwrap();
    *child.result_timeout(LONG).unwrap() + 1
}

#[test]
fn a_blocking_chain_on_the_global_pool_deeper_than_its_workers_completes() {
    let depth = (global_pool().max_workers() * 4) as u32;
    let top = betterconcurrent::submit(move || chain_blocking(depth)).unwrap();
    assert_eq!(*top.result_timeout(LONG).unwrap(), depth);
}

#[test]
fn many_parallel_blocking_fan_outs_on_the_global_pool_complete() {
    // Every worker blocks on children that themselves block on grandchildren.
    let n = global_pool().max_workers() * 2;
    let tops: Vec<_> = (0..n)
        .map(|_| {
            betterconcurrent::submit(|| {
                let kids: Vec<_> = (0..4)
                    .map(|_| {
                        betterconcurrent::submit(|| {
                            let g = betterconcurrent::submit(|| 1u32).unwrap();
                            *g.result_timeout(LONG).unwrap()
                        })
                        .unwrap()
                    })
                    .collect();
                kids.iter()
                    .map(|k| *k.result_timeout(LONG).unwrap())
                    .sum::<u32>()
            })
            .unwrap()
        })
        .collect();
    for top in &tops {
        assert_eq!(*top.result_timeout(LONG).unwrap(), 4);
    }
}

#[test]
fn free_functions_from_a_one_worker_pool_and_back() {
    // pool task -> blocks on a global task -> which blocks on a task of the one-worker pool,
    // whose only worker is the one blocked at the top.
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let executor = pool.executor();
    let top = pool
        .submit(move || {
            let across = betterconcurrent::submit(move || {
                let back = executor.submit(|| 40u32).unwrap();
                *back.result_timeout(LONG).unwrap() + 1
            })
            .unwrap();
            *across.result_timeout(LONG).unwrap() + 1
        })
        .unwrap();
    assert_eq!(*top.result_timeout(LONG).unwrap(), 42);
    pool.join().unwrap();
}

#[test]
fn free_functions_from_an_async_task_of_another_pool_are_awaited() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let top = pool
        .submit_async(async {
            let kids: Vec<_> = (0..8u32)
                .map(|i| betterconcurrent::submit_async(async move { i * 2 }).unwrap())
                .collect();
            yield_until_done(&kids).await;
            let mut sum = 0;
            for kid in &kids {
                sum += *kid.await.unwrap();
            }
            // An executor from inside is the calling pool's, not the global one.
            let here = Executor::current().unwrap();
            (sum, here != global_pool().executor())
        })
        .unwrap();
    assert_eq!(*top.result_timeout(LONG).unwrap(), (56, true));
}

#[test]
fn spawn_from_inside_global_tasks_converges_under_wait_idle_from_outside() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    betterconcurrent::spawn(move |_| {
        for _ in 0..50 {
            let c = c.clone();
            // The free function, not the handed executor.
            betterconcurrent::spawn(move |_| {
                c.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
    })
    .unwrap();
    // Other tests run meanwhile, but wait_idle converges everything submitted so far.
    global_pool().wait_idle_timeout(LONG).unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 50);
}

#[test]
fn joining_or_waiting_idle_on_the_global_pool_from_its_own_task_is_refused() {
    let f = betterconcurrent::submit(|| {
        (
            global_pool()
                .wait_idle()
                .map_err(|e| matches!(e, Error::WouldDeadlock)),
            global_pool()
                .join()
                .map_err(|e| matches!(e, Error::WouldDeadlock)),
        )
    })
    .unwrap();
    let (idle, join) = *f.result_timeout(LONG).unwrap();
    assert_eq!(idle, Err(true), "wait_idle from its own task");
    assert_eq!(join, Err(true), "join from its own task");
    // And the refused join did not close the pool.
    assert_eq!(
        *betterconcurrent::submit(|| 3).unwrap().result().unwrap(),
        3
    );
}

#[test]
fn a_panicking_global_task_is_a_value_and_the_pool_lives_on() {
    let n = global_pool().max_workers() * 2;
    let panics: Vec<_> = (0..n)
        .map(|i| {
            betterconcurrent::submit(move || -> u32 { panic!("global task {i} broke") }).unwrap()
        })
        .collect();
    for (i, p) in panics.iter().enumerate() {
        match p.result_timeout(LONG) {
            Err(Error::Panicked(m)) => assert_eq!(&*m, format!("global task {i} broke")),
            other => panic!("{other:?}"),
        }
    }
    let async_panic =
        betterconcurrent::submit_async(async { panic!("async global broke") }).unwrap();
    let r: Result<&(), Error> = async_panic.result_timeout(LONG);
    assert!(matches!(r, Err(Error::Panicked(_))));
    let (tx, rx) = mpsc::channel();
    betterconcurrent::spawn(|_| panic!("spawned global broke")).unwrap();
    betterconcurrent::spawn(move |_| tx.send(7).unwrap()).unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), 7);
    // Still all alive.
    assert!(
        global_pool().thread_count()
            <= global_pool().max_workers() + betterconcurrent::MAX_SPARE_THREADS
    );
    assert_eq!(
        *betterconcurrent::submit(|| 9).unwrap().result().unwrap(),
        9
    );
}

#[test]
fn global_task_blocks_on_an_async_global_task_that_awaits_a_global_closure() {
    let f = betterconcurrent::submit(|| {
        let inner = betterconcurrent::submit_async(async {
            let leaf = betterconcurrent::submit(|| 5u32).unwrap();
            *(&leaf).await.unwrap() * 2
        })
        .unwrap();
        *inner.result_timeout(LONG).unwrap() + 1
    })
    .unwrap();
    assert_eq!(*f.result_timeout(LONG).unwrap(), 11);
}

#[test]
fn another_pools_wait_idle_inside_a_global_task() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let executor = pool.executor();
    let f = betterconcurrent::submit(move || {
        let (tx, rx) = mpsc::channel();
        executor
            .spawn(move |_| {
                // The one worker of `pool` waits on a global task.
                let g = betterconcurrent::submit(|| 1).unwrap();
                tx.send(*g.result_timeout(LONG).unwrap()).unwrap();
            })
            .unwrap();
        executor.wait_idle_timeout(LONG).unwrap();
        rx.recv().unwrap()
    })
    .unwrap();
    assert_eq!(*f.result_timeout(LONG).unwrap(), 1);
}
