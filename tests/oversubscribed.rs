//! heavy oversubscription of futures' (std) locks: 64+ threads on 2 cores completing and
//! waiting on shared futures. Every wait is bounded; bodies run under a watchdog.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use betterconcurrent::{as_completed, wait, Error, Future, ReturnWhen, State, ThreadPoolExecutor};

const T: Duration = Duration::from_secs(15);

#[test]
fn sixty_four_threads_complete_and_wait_on_each_others_futures() {
    within(25, || {
        const N: usize = 64;
        for round in 0..30 {
            let fs: Arc<Vec<Future<usize>>> = Arc::new((0..N).map(|_| Future::new()).collect());
            let callbacks = Arc::new(AtomicUsize::new(0));
            for f in fs.iter() {
                let c = callbacks.clone();
                f.add_done_callback(move |_| {
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }
            let start = Arc::new(Barrier::new(N));
            let hs: Vec<_> = (0..N)
                .map(|i| {
                    let (fs, start, c) = (fs.clone(), start.clone(), callbacks.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        // a late callback on a future someone else completes
                        let c2 = c.clone();
                        fs[(i + 1) % N].add_done_callback(move |_| {
                            c2.fetch_add(1, Ordering::SeqCst);
                        });
                        fs[i].set_result(i).unwrap();
                        let mut sum = 0;
                        for (j, f) in fs.iter().enumerate() {
                            if j % 3 == i % 3 {
                                sum += *f.result_timeout(T).unwrap();
                            }
                        }
                        let w = wait(fs.iter(), Some(T), ReturnWhen::AllCompleted);
                        assert!(w.not_done.is_empty());
                        let k = as_completed(fs.iter(), Some(T))
                            .filter(|r| r.is_ok())
                            .count();
                        assert_eq!(k, N);
                        sum
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(callbacks.load(Ordering::SeqCst), 2 * N, "round {round}");
        }
    })
}

#[test]
fn cancel_races_set_result_from_many_threads() {
    within(25, || {
        for _ in 0..200 {
            let f = Future::<u32>::new();
            let callbacks = Arc::new(AtomicUsize::new(0));
            let c = callbacks.clone();
            f.add_done_callback(move |_| {
                c.fetch_add(1, Ordering::SeqCst);
            });
            let start = Arc::new(Barrier::new(16));
            let wins = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..16)
                .map(|i| {
                    let (f, start, wins) = (f.clone(), start.clone(), wins.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        if i % 2 == 0 {
                            if f.set_result(i).is_ok() {
                                wins.fetch_add(1, Ordering::SeqCst);
                            }
                        } else {
                            let was = f.state();
                            if f.cancel() && was == State::Pending {
                                // may or may not be the winner; checked below
                            }
                        }
                        let _ = f.result_timeout(T);
                        assert!(f.done());
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(callbacks.load(Ordering::SeqCst), 1);
            match f.try_result() {
                Some(Ok(_)) => assert_eq!(wins.load(Ordering::SeqCst), 1),
                Some(Err(Error::Cancelled)) => assert_eq!(wins.load(Ordering::SeqCst), 0),
                other => panic!("{other:?}"),
            }
        }
    })
}

/// A 64-worker pool on 2 cores: 64 closures each complete their own future and block on all
/// the others (a barrier made of futures): every thread must start and none may be lost.
#[test]
fn sixty_four_workers_meeting_at_a_barrier_of_futures() {
    within(25, || {
        const N: usize = 64;
        let pool = ThreadPoolExecutor::builder()
            .max_workers(N)
            .build()
            .unwrap();
        for _ in 0..10 {
            let fs: Arc<Vec<Future<usize>>> = Arc::new((0..N).map(|_| Future::new()).collect());
            let tasks: Vec<_> = (0..N)
                .map(|i| {
                    let fs = fs.clone();
                    pool.submit(move || {
                        fs[i].set_result(i).unwrap();
                        fs.iter()
                            .map(|f| *f.result_timeout(T).unwrap())
                            .sum::<usize>()
                    })
                    .unwrap()
                })
                .collect();
            for t in &tasks {
                assert_eq!(*t.result_timeout(T).unwrap(), N * (N - 1) / 2);
            }
        }
        pool.join_timeout(T).unwrap();
    })
}

/// Many async tasks awaiting a few shared futures completed by 64 outside threads, with the
/// pool's own workers oversubscribed too.
#[test]
fn ten_thousand_async_tasks_on_futures_completed_by_64_threads() {
    within(25, || {
        const N: usize = 64;
        let pool = ThreadPoolExecutor::builder()
            .max_workers(16)
            .build()
            .unwrap();
        let gates: Arc<Vec<Future<usize>>> = Arc::new((0..N).map(|_| Future::new()).collect());
        let tasks: Vec<_> = (0..10_000)
            .map(|i| {
                let gates = gates.clone();
                pool.submit_async(async move {
                    let a = *(&gates[i % N]).await.unwrap();
                    let b = *(&gates[(i * 7 + 3) % N]).await.unwrap();
                    a + b
                })
                .unwrap()
            })
            .collect();
        let start = Arc::new(Barrier::new(N));
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let (g, s) = (gates.clone(), start.clone());
                std::thread::spawn(move || {
                    s.wait();
                    g[i].set_result(i).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        for (i, t) in tasks.iter().enumerate() {
            assert_eq!(*t.result_timeout(T).unwrap(), i % N + (i * 7 + 3) % N);
        }
        pool.wait_idle_timeout(T).unwrap();
        assert_eq!(pool.stats().tasks_suspended, 0);
        pool.join_timeout(T).unwrap();
    })
}

/// Blocking result() on the pool's own futures from inside tasks, many levels wide, on one
/// worker: spares and in-place runs must carry it.
#[test]
fn one_worker_fan_of_blocking_waits_on_own_futures() {
    within(25, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(1)
            .build()
            .unwrap();
        let ex = pool.executor();
        let outer: Vec<_> = (0..64)
            .map(|i| {
                let ex = ex.clone();
                pool.submit(move || {
                    let kids: Vec<_> = (0..8).map(|k| ex.submit(move || i * k).unwrap()).collect();
                    // a timed wait: no in-place run, parks (compensated)
                    let a: usize = kids[..4]
                        .iter()
                        .map(|f| *f.result_timeout(T).unwrap())
                        .sum();
                    let b: usize = kids[4..].iter().map(|f| *f.result().unwrap()).sum();
                    a + b
                })
                .unwrap()
            })
            .collect();
        for (i, f) in outer.iter().enumerate() {
            assert_eq!(*f.result_timeout(T).unwrap(), i * 28);
        }
        pool.join_timeout(T).unwrap();
    })
}
