//! join / wait_idle racing spawns, shutdowns and each other. Every wait is bounded;
//! bodies run under a watchdog.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{pool, DropCount};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, SubmitError};

const T: Duration = Duration::from_secs(15);

fn chain(ex: &Executor, n: Arc<AtomicUsize>, left: u32) {
    n.fetch_add(1, Ordering::SeqCst);
    if left > 0 {
        ex.spawn(move |ex| chain(ex, n, left - 1)).unwrap();
    }
}

fn tree(ex: &Executor, n: Arc<AtomicUsize>, depth: u32) {
    n.fetch_add(1, Ordering::SeqCst);
    if depth > 0 {
        for _ in 0..3 {
            let n = n.clone();
            ex.spawn(move |ex| tree(ex, n, depth - 1)).unwrap();
        }
    }
}

/// join must not return while a chain of subtasks (each spawned by the previous, while join
/// waits) is still growing; nothing may be counted after join returned.
#[test]
fn join_waits_for_chains_and_trees_spawned_while_it_waits() {
    within(25, || {
        for round in 0..200 {
            let workers = 1 + round % 3;
            let pool = pool(workers);
            let n = Arc::new(AtomicUsize::new(0));
            let (a, b) = (n.clone(), n.clone());
            pool.spawn(move |ex| chain(ex, a, 300)).unwrap();
            pool.spawn(move |ex| tree(ex, b, 4)).unwrap();
            pool.join_timeout(T).unwrap();
            assert_eq!(n.load(Ordering::SeqCst), 301 + 121, "round {round}");
            assert_eq!(pool.stats().threads_alive, 0);
        }
    })
}

/// Async parents that await children which spawn grandchildren, joined concurrently from
/// three threads, with a fourth calling wait_idle.
#[test]
fn concurrent_joins_and_wait_idle_on_a_mixed_tree() {
    within(25, || {
        for round in 0..50 {
            let pool = pool(2);
            let ex = pool.executor();
            let n = Arc::new(AtomicUsize::new(0));
            let mut parents = Vec::new();
            for _ in 0..20 {
                let (ex, n) = (ex.clone(), n.clone());
                parents.push(
                    pool.submit_async(async move {
                        let kids: Vec<_> = (0..5)
                            .map(|_| {
                                let n = n.clone();
                                ex.submit(move || {
                                    let ex = Executor::current().unwrap();
                                    let n2 = n.clone();
                                    ex.spawn(move |ex| tree(ex, n2, 2)).unwrap();
                                    n.fetch_add(1, Ordering::SeqCst);
                                })
                                .unwrap()
                            })
                            .collect();
                        betterconcurrent::yield_until_done(&kids).await;
                        n.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap(),
                );
            }
            let go = Arc::new(Barrier::new(4));
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    let (ex, go) = (ex.clone(), go.clone());
                    std::thread::spawn(move || {
                        go.wait();
                        if i == 3 {
                            match ex.wait_idle_timeout(T) {
                                Ok(()) => {}
                                Err(e) => panic!("wait_idle: {e:?}"),
                            }
                        } else {
                            ex.join_timeout(T).unwrap();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            // 20 parents, 100 kids, 100 trees of 13
            assert_eq!(n.load(Ordering::SeqCst), 20 + 100 + 1300, "round {round}");
            assert!(parents
                .iter()
                .all(|p| p.try_result().is_some_and(|r| r.is_ok())));
            assert_eq!(ex.stats().threads_alive, 0);
        }
    })
}

/// An outside thread keeps spawning while another joins. Every accepted spawn runs exactly
/// once; refused ones are dropped exactly once, unrun; join returns.
#[test]
fn join_racing_outside_spawns() {
    within(25, || {
        for round in 0..100 {
            let pool = pool(2);
            let ex = pool.executor();
            let ran = Arc::new(AtomicUsize::new(0));
            let dropped = Arc::new(AtomicUsize::new(0));
            let accepted = Arc::new(AtomicUsize::new(0));
            let go = Arc::new(Barrier::new(2));
            let spawner = {
                let (ex, ran, dropped, accepted, go) = (
                    ex.clone(),
                    ran.clone(),
                    dropped.clone(),
                    accepted.clone(),
                    go.clone(),
                );
                std::thread::spawn(move || {
                    let mut refused = 0;
                    for i in 0..2_000 {
                        if i == 200 {
                            go.wait();
                        }
                        let ran = ran.clone();
                        let d = DropCount(dropped.clone());
                        let r = if i % 2 == 0 {
                            ex.spawn(move |_| {
                                let _d = d;
                                ran.fetch_add(1, Ordering::SeqCst);
                            })
                        } else {
                            ex.submit_async(async move {
                                let _d = d;
                                ran.fetch_add(1, Ordering::SeqCst);
                            })
                            .map(drop)
                        };
                        match r {
                            Ok(()) => {
                                accepted.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(SubmitError::Shutdown) => refused += 1,
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    refused
                })
            };
            go.wait();
            ex.join_timeout(T).unwrap();
            let refused = spawner.join().unwrap();
            let (r, a, d) = (
                ran.load(Ordering::SeqCst),
                accepted.load(Ordering::SeqCst),
                dropped.load(Ordering::SeqCst),
            );
            assert_eq!(r, a, "round {round}: accepted {a} but ran {r}");
            assert_eq!(a + refused, 2_000);
            assert_eq!(d, 2_000, "round {round}: every body dropped once");
        }
    })
}

/// join (waiting for suspended tasks) racing a cancelling shutdown from another thread.
#[test]
fn join_racing_shutdown_cancel_with_suspended_tasks() {
    within(25, || {
        for _ in 0..100 {
            let pool = pool(2);
            let ex = pool.executor();
            let never = Future::<()>::new();
            let fs: Vec<_> = (0..50)
                .map(|_| {
                    let n = never.clone();
                    ex.submit_async(async move {
                        let _ = (&n).await;
                    })
                    .unwrap()
                })
                .collect();
            let go = Arc::new(Barrier::new(2));
            let joiner = {
                let (ex, go) = (ex.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    ex.join_timeout(T)
                })
            };
            go.wait();
            ex.shutdown(true, true);
            let joined = joiner.join().unwrap();
            assert!(matches!(joined, Ok(())), "{joined:?}");
            assert!(fs
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
        }
    })
}

/// wait_idle returning must mean idle: a task that was counted when wait_idle looked must have
/// finished (its side effect visible) when it returns.
#[test]
fn wait_idle_sees_every_side_effect_and_keeps_the_pool_open() {
    within(25, || {
        let pool = pool(2);
        for round in 0..500 {
            let flag = Arc::new(AtomicBool::new(false));
            let f2 = flag.clone();
            pool.spawn(move |ex| {
                let f3 = f2.clone();
                ex.spawn(move |ex| {
                    let _ = ex.submit_async(async move {
                        f3.store(true, Ordering::SeqCst);
                    });
                })
                .unwrap();
            })
            .unwrap();
            pool.wait_idle_timeout(T).unwrap();
            assert!(
                flag.load(Ordering::SeqCst),
                "round {round}: wait_idle returned early"
            );
        }
        pool.join_timeout(T).unwrap();
    })
}

/// Outside threads submit (closures and async tasks that suspend once) while the owner drops the
/// pool: every accepted task runs to completion, refused ones are dropped unrun, drop returns.
#[test]
fn dropping_the_pool_while_outside_threads_submit() {
    within(25, || {
        for round in 0..100 {
            let pool = pool(2);
            let ex = pool.executor();
            let go = Arc::new(Barrier::new(3));
            let ran = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..2)
                .map(|t| {
                    let (ex, go, ran) = (ex.clone(), go.clone(), ran.clone());
                    std::thread::spawn(move || {
                        let mut accepted = Vec::new();
                        for i in 0..500 {
                            if i == 50 {
                                go.wait();
                            }
                            let ran = ran.clone();
                            let r = if (i + t) % 2 == 0 {
                                ex.submit(move || {
                                    ran.fetch_add(1, Ordering::SeqCst);
                                })
                            } else {
                                ex.submit_async(async move {
                                    common::yield_now().await;
                                    ran.fetch_add(1, Ordering::SeqCst);
                                })
                            };
                            if let Ok(f) = r {
                                accepted.push(f);
                            }
                        }
                        accepted
                    })
                })
                .collect();
            go.wait();
            drop(pool);
            let accepted: Vec<_> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
            assert!(
                accepted
                    .iter()
                    .all(|f| f.try_result().is_some_and(|r| r.is_ok())),
                "round {round}: an accepted task did not finish before drop returned"
            );
            assert_eq!(ran.load(Ordering::SeqCst), accepted.len(), "round {round}");
        }
    })
}
