//! ordinary programs a user would write. Every wait is bounded; each test body runs
//! under a watchdog so a hang is reported as a failure.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use betterconcurrent::{
    as_completed, wait, Error, Executor, Future, ReturnWhen, SubmitError, ThreadPoolExecutor,
};

const T: Duration = Duration::from_secs(10);

#[test]
fn submit_map_as_completed_sum() {
    within(20, || {
        let pool = pool(4);
        let fs: Vec<_> = (0..200u64)
            .map(|n| pool.submit(move || n * n).unwrap())
            .collect();
        let mut total = 0;
        for f in as_completed(&fs, Some(T)) {
            total += *f.unwrap().result_timeout(T).unwrap();
        }
        assert_eq!(total, (0..200u64).map(|n| n * n).sum::<u64>());
        let mapped: Vec<u64> = pool
            .map(|n: u64| n + 1, 0..1000)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(mapped, (1..=1000).collect::<Vec<_>>());
        pool.join_timeout(T).unwrap();
    })
}

#[test]
fn async_fan_out_on_one_worker() {
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let parent = pool
            .submit_async(async move {
                let mut total = 0u64;
                for round in 0..50u64 {
                    let kids: Vec<_> = (0..20u64)
                        .map(|i| ex.submit(move || round * i).unwrap())
                        .collect();
                    betterconcurrent::yield_until_done(&kids).await;
                    for k in &kids {
                        total += *k.await.unwrap();
                    }
                }
                total
            })
            .unwrap();
        let expect: u64 = (0..50u64)
            .map(|r| (0..20u64).map(|i| r * i).sum::<u64>())
            .sum();
        assert_eq!(*parent.result_timeout(T).unwrap(), expect);
        assert_eq!(pool.stats().tasks_suspended, 0);
        pool.join_timeout(T).unwrap();
    })
}

/// Nested blocking result() inside closures on a 1-worker pool (run in place / spares).
#[test]
fn nested_blocking_result_on_one_worker() {
    fn chain(ex: Executor, depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        let next = ex.clone();
        let f = ex.submit(move || chain(next, depth - 1)).unwrap();
        *f.result().unwrap() + 1
    }
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let f = pool.submit(move || chain(ex, 100)).unwrap();
        assert_eq!(*f.result_timeout(T).unwrap(), 100);
        pool.join_timeout(T).unwrap();
    })
}

/// Timed blocking waits inside tasks: no in-place run, so compensation must make progress.
#[test]
fn nested_timed_result_on_one_worker() {
    fn chain(ex: Executor, depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        let next = ex.clone();
        let f = ex.submit(move || chain(next, depth - 1)).unwrap();
        *f.result_timeout(Duration::from_secs(15)).unwrap() + 1
    }
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let f = pool.submit(move || chain(ex, 40)).unwrap();
        assert_eq!(*f.result_timeout(T).unwrap(), 40);
        pool.join_timeout(T).unwrap();
        // every spare retired
        assert_eq!(pool.stats().compensating_threads, 0);
    })
}

#[test]
fn wait_all_completed_inside_one_worker_task() {
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let outer = pool
            .submit(move || {
                let fs: Vec<_> = (0..50u32).map(|i| ex.submit(move || i).unwrap()).collect();
                let w = wait(&fs, None, ReturnWhen::AllCompleted);
                assert!(w.not_done.is_empty());
                let fs2: Vec<_> = (0..50u32).map(|i| ex.submit(move || i).unwrap()).collect();
                let w2 = wait(
                    &fs2,
                    Some(Duration::from_secs(15)),
                    ReturnWhen::AllCompleted,
                );
                assert!(w2.not_done.is_empty());
                let fs3: Vec<_> = (0..5u32).map(|i| ex.submit(move || i).unwrap()).collect();
                let w3 = wait(&fs3, None, ReturnWhen::FirstCompleted);
                assert!(!w3.done.is_empty());
                let w4 = wait(&fs3, None, ReturnWhen::FirstException);
                assert!(w4.not_done.is_empty());
                let mut n = 0;
                for f in as_completed(&fs3, None) {
                    f.unwrap();
                    n += 1;
                }
                assert_eq!(n, 5);
                w.done.iter().map(|f| *f.result().unwrap()).sum::<u32>()
                    + w2.done.iter().map(|f| *f.result().unwrap()).sum::<u32>()
            })
            .unwrap();
        assert_eq!(*outer.result_timeout(T).unwrap(), 2 * (0..50).sum::<u32>());
        pool.join_timeout(T).unwrap();
    })
}

#[test]
fn wait_idle_keeps_pool_open_and_join_waits_for_a_tree() {
    fn spread(ex: &Executor, n: Arc<AtomicUsize>, depth: u32) {
        n.fetch_add(1, Ordering::SeqCst);
        if depth > 0 {
            for _ in 0..4 {
                let n = n.clone();
                ex.spawn(move |ex| spread(ex, n, depth - 1)).unwrap();
            }
        }
    }
    within(20, || {
        let pool = pool(2);
        for round in 1..=3 {
            let n = Arc::new(AtomicUsize::new(0));
            let n2 = n.clone();
            pool.spawn(move |ex| spread(ex, n2, 5)).unwrap();
            pool.wait_idle_timeout(T).unwrap();
            assert_eq!(n.load(Ordering::SeqCst), 1365, "round {round}");
            let s = pool.stats();
            assert_eq!(s.tasks_outstanding, 0);
        }
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        pool.spawn(move |ex| spread(ex, n2, 6)).unwrap();
        pool.join_timeout(T).unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 5461);
        assert!(matches!(pool.submit(|| ()), Err(SubmitError::Shutdown)));
    })
}

#[test]
fn panics_are_values_and_the_worker_lives() {
    within(20, || {
        let pool = pool(1);
        let f = pool.submit(|| -> u32 { panic!("boom") }).unwrap();
        assert!(matches!(f.result_timeout(T), Err(Error::Panicked(m)) if &*m == "boom"));
        let g = pool
            .submit_async(async { panic!("async boom") as u32 })
            .unwrap();
        assert!(matches!(g.result_timeout(T), Err(Error::Panicked(_))));
        pool.spawn(|_| panic!("spawned boom")).unwrap();
        pool.wait_idle_timeout(T).unwrap();
        assert_eq!(*pool.submit(|| 7).unwrap().result_timeout(T).unwrap(), 7);
        assert_eq!(pool.stats().tasks_panicked, 3);
        pool.join_timeout(T).unwrap();
    })
}

#[test]
fn a_failing_initializer_breaks_every_kind_of_task() {
    within(20, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .initializer(|| Err::<(), &str>("no db"))
            .build()
            .unwrap();
        let mut closures = Vec::new();
        let mut asyncs = Vec::new();
        let mut refused = 0;
        let spawned_ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            match pool.submit(|| 1u32) {
                Ok(f) => closures.push(f),
                Err(SubmitError::Broken(_)) => refused += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
            match pool.submit_async(async { 2u32 }) {
                Ok(f) => asyncs.push(f),
                Err(SubmitError::Broken(_)) => refused += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
            let r = spawned_ran.clone();
            let _ = pool.spawn(move |_| {
                r.fetch_add(1, Ordering::SeqCst);
            });
        }
        for f in closures.iter().chain(asyncs.iter()) {
            match f.result_timeout(T) {
                Err(Error::BrokenExecutor(_)) => {}
                other => panic!("expected BrokenExecutor, got {other:?}"),
            }
        }
        let _ = refused;
        pool.wait_idle_timeout(T).unwrap();
        assert_eq!(spawned_ran.load(Ordering::SeqCst), 0);
        let m: Result<Vec<u32>, Error> = match pool.map(|x: u32| x, 0..3) {
            Ok(it) => it.collect(),
            Err(_) => Err(Error::BrokenExecutor("refused".into())),
        };
        assert!(matches!(m, Err(Error::BrokenExecutor(_))));
        pool.join_timeout(T).unwrap();
    })
}

#[test]
fn executor_current_in_closures_and_async() {
    within(20, || {
        let pool = pool(2);
        let ex = pool.executor();
        assert!(Executor::current().is_none());
        let a = pool.submit(Executor::current).unwrap();
        assert!(a.result_timeout(T).unwrap().as_ref() == Some(&ex));
        let b = pool.submit_async(async { Executor::current() }).unwrap();
        assert!(b.result_timeout(T).unwrap().as_ref() == Some(&ex));
        assert!(Executor::of(&b).as_ref() == Some(&ex));
        pool.join_timeout(T).unwrap();
    })
}

#[test]
fn async_tasks_await_user_futures_completed_from_outside() {
    within(20, || {
        let pool = pool(2);
        let gates: Vec<Future<u32>> = (0..500).map(|_| Future::new()).collect();
        let fs: Vec<_> = gates
            .iter()
            .map(|g| {
                let g = g.clone();
                pool.submit_async(async move { *(&g).await.unwrap() * 2 })
                    .unwrap()
            })
            .collect();
        let start = Arc::new(Barrier::new(2));
        let s2 = start.clone();
        let gates2 = gates.clone();
        let setter = std::thread::spawn(move || {
            s2.wait();
            for (i, g) in gates2.iter().enumerate() {
                g.set_result(i as u32).unwrap();
            }
        });
        start.wait();
        for (i, f) in fs.iter().enumerate() {
            assert_eq!(*f.result_timeout(T).unwrap(), 2 * i as u32);
        }
        setter.join().unwrap();
        pool.wait_idle_timeout(T).unwrap();
        let s = pool.stats();
        assert_eq!((s.tasks_outstanding, s.tasks_suspended), (0, 0));
        pool.join_timeout(T).unwrap();
    })
}

#[test]
fn join_timeout_leaves_the_pool_open_then_join_converges() {
    within(20, || {
        let pool = pool(2);
        let gate = Future::<()>::new();
        let g = gate.clone();
        let t = pool
            .submit_async(async move { (&g).await.map(|_| 5u32) })
            .unwrap();
        assert!(matches!(
            pool.join_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
        // still open
        assert_eq!(*pool.submit(|| 1).unwrap().result_timeout(T).unwrap(), 1);
        assert_eq!(pool.stats().tasks_suspended, 1);
        gate.set_result(()).unwrap();
        pool.join_timeout(T).unwrap();
        assert_eq!(*t.result_timeout(T).unwrap().as_ref().unwrap(), 5);
    })
}

/// Alternating async and closure levels, each waiting for the next by a different means
/// (await, blocking result(), timed result, wait(), as_completed), on one worker.
#[test]
fn mixed_nesting_of_awaits_and_blocking_waits_on_one_worker() {
    fn level(ex: Executor, depth: u32) -> Future<u32> {
        let next = ex.clone();
        if depth == 0 {
            return ex.submit(|| 0).unwrap();
        }
        match depth % 5 {
            0 => ex
                .submit_async(async move {
                    let f = level(next, depth - 1);
                    *(&f).await.unwrap() + 1
                })
                .unwrap(),
            1 => ex
                .submit(move || *level(next, depth - 1).result().unwrap() + 1)
                .unwrap(),
            2 => ex
                .submit_async(async move {
                    // blocking, timed, inside an async body
                    let f = level(next, depth - 1);
                    *f.result_timeout(Duration::from_secs(15)).unwrap() + 1
                })
                .unwrap(),
            3 => ex
                .submit(move || {
                    let f = level(next, depth - 1);
                    let w = wait(
                        [&f],
                        Some(Duration::from_secs(15)),
                        ReturnWhen::FirstCompleted,
                    );
                    *w.done[0].result().unwrap() + 1
                })
                .unwrap(),
            _ => ex
                .submit_async(async move {
                    let f = level(next, depth - 1);
                    let got = as_completed([&f], Some(Duration::from_secs(15)))
                        .next()
                        .unwrap()
                        .unwrap();
                    *got.result().unwrap() + 1
                })
                .unwrap(),
        }
    }
    within(20, || {
        let pool = pool(1);
        let top = level(pool.executor(), 40);
        assert_eq!(*top.result_timeout(T).unwrap(), 40);
        pool.join_timeout(T).unwrap();
        let s = pool.stats();
        assert_eq!((s.threads_alive, s.compensating_threads), (0, 0));
    })
}

/// An async body blocks (untimed) on the closure it just submitted (in its worker's LIFO slot).
#[test]
fn async_body_blocking_on_its_fresh_subtask_on_one_worker() {
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let f = pool
            .submit_async(async move {
                let mut total = 0;
                for i in 0..100u32 {
                    let a = ex.submit(move || i).unwrap();
                    let b = ex.submit_async(async move { i }).unwrap();
                    total += *a.result().unwrap() + *b.result().unwrap();
                }
                total
            })
            .unwrap();
        assert_eq!(*f.result_timeout(T).unwrap(), 2 * (0..100).sum::<u32>());
        pool.join_timeout(T).unwrap();
    })
}

/// Done callbacks that submit, block and wait on the pool's futures, on one worker.
#[test]
fn done_callbacks_that_submit_and_block_on_one_worker() {
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let results = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut fs = Vec::new();
        for i in 0..50u32 {
            let f = pool.submit(move || i).unwrap();
            let (ex, results) = (ex.clone(), results.clone());
            f.add_done_callback(move |f| {
                let v = *f.result().unwrap();
                let g = ex.submit(move || v * 2).unwrap();
                results.lock().unwrap().push(*g.result().unwrap());
            });
            fs.push(f);
        }
        for f in &fs {
            f.result_timeout(T).unwrap();
        }
        pool.wait_idle_timeout(T).unwrap();
        let mut r = results.lock().unwrap().clone();
        r.sort();
        assert_eq!(r, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        pool.join_timeout(T).unwrap();
    })
}

/// wait(AllCompleted / FirstCompleted, untimed) from inside an async body of a 1-worker pool,
/// on closures and async tasks it just submitted.
#[test]
fn wait_inside_an_async_body_on_one_worker() {
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let f = pool
            .submit_async(async move {
                let cs: Vec<_> = (0..20u32).map(|i| ex.submit(move || i).unwrap()).collect();
                let w = wait(&cs, None, ReturnWhen::AllCompleted);
                assert!(w.not_done.is_empty());
                let asyncs: Vec<_> = (0..20u32)
                    .map(|i| ex.submit_async(async move { i }).unwrap())
                    .collect();
                let w = wait(&asyncs, None, ReturnWhen::AllCompleted);
                assert!(w.not_done.is_empty());
                let more: Vec<_> = (0..5u32).map(|i| ex.submit(move || i).unwrap()).collect();
                let w = wait(&more, None, ReturnWhen::FirstCompleted);
                assert!(!w.done.is_empty());
                cs.iter()
                    .chain(&asyncs)
                    .map(|f| *f.try_result().unwrap().unwrap())
                    .sum::<u32>()
            })
            .unwrap();
        assert_eq!(*f.result_timeout(T).unwrap(), 2 * (0..20).sum::<u32>());
        pool.join_timeout(T).unwrap();
    })
}
