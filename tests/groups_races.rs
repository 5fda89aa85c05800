//! Adversarial review of task groups: races. Many groups joined from many threads; cancel
//! racing submits and joins; a group's last task ending while a new one is submitted.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{pool, DropCount};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, SubmitError, TaskGroup};

fn tree(e: &Executor, depth: u32, nodes: Arc<AtomicUsize>) {
    nodes.fetch_add(1, Ordering::SeqCst);
    if depth > 0 {
        for _ in 0..3 {
            let nodes = nodes.clone();
            e.spawn(move |e| tree(e, depth - 1, nodes)).unwrap();
        }
    }
}

/// 24 groups on one 2-worker pool, each running a tree, each joined from 3 threads at once;
/// every join returns only after its own tree is complete.
#[test]
fn many_groups_joined_concurrently_from_many_threads() {
    within(120, || {
        let pool = pool(2);
        for _round in 0..5 {
            let groups: Vec<(TaskGroup, Arc<AtomicUsize>)> = (0..24)
                .map(|_| (TaskGroup::new(&pool), Arc::new(AtomicUsize::new(0))))
                .collect();
            let start = Arc::new(Barrier::new(24 * 3 + 1));
            let mut joiners = Vec::new();
            for (g, nodes) in &groups {
                for _ in 0..3 {
                    let (g, nodes, start) = (g.clone(), nodes.clone(), start.clone());
                    joiners.push(std::thread::spawn(move || {
                        start.wait();
                        g.join().unwrap();
                        nodes.load(Ordering::SeqCst)
                    }));
                }
            }
            for (g, nodes) in &groups {
                let nodes = nodes.clone();
                g.spawn(move |e| tree(e, 4, nodes)).unwrap();
            }
            start.wait();
            for j in joiners {
                // 1+3+9+27+81 = 121 (a join may run before the submit: then it sees 0..=121,
                // but one that returned after the tree started must see it complete).
                let seen = j.join().unwrap();
                assert!(seen == 0 || seen == 121, "a join returned at {seen} nodes");
            }
            for (g, nodes) in &groups {
                g.join().unwrap();
                assert_eq!(nodes.load(Ordering::SeqCst), 121);
            }
        }
        pool.wait_idle().unwrap();
    });
}

/// A group's last task ending races a new task submitted from outside: each of 3 threads
/// loops submit-then-join on one shared group; each join must return only after the task
/// that thread submitted before it has finished (and must return).
#[test]
fn last_task_ending_races_a_submit_from_outside() {
    within(120, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let group = group.clone();
                std::thread::spawn(move || {
                    for i in 0..3000u32 {
                        let done = Arc::new(AtomicBool::new(false));
                        let d = done.clone();
                        if i % 3 == 0 {
                            group
                                .spawn(move |_| d.store(true, Ordering::SeqCst))
                                .unwrap();
                        } else if i % 3 == 1 {
                            drop(
                                group
                                    .submit(move || d.store(true, Ordering::SeqCst))
                                    .unwrap(),
                            );
                        } else {
                            drop(
                                group
                                    .submit_async(async move { d.store(true, Ordering::SeqCst) })
                                    .unwrap(),
                            );
                        }
                        group.join().unwrap();
                        assert!(
                            done.load(Ordering::SeqCst),
                            "thread {t} iteration {i}: join returned before the task ran"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        pool.wait_idle().unwrap();
    });
}

/// The same from inside pool tasks: a task of another group (or a plain task) submits into
/// the group and awaits `joined()`.
#[test]
fn last_task_ending_races_a_submit_from_a_pool_task_awaiting_joined() {
    within(120, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let futures: Vec<Future<u32>> = (0..8)
            .map(|_| {
                let group = group.clone();
                pool.submit_async(async move {
                    let mut early = 0;
                    for _ in 0..300 {
                        let done = Arc::new(AtomicBool::new(false));
                        let d = done.clone();
                        group
                            .spawn(move |_| d.store(true, Ordering::SeqCst))
                            .unwrap();
                        group.joined().await.unwrap();
                        if !done.load(Ordering::SeqCst) {
                            early += 1;
                        }
                    }
                    early
                })
                .unwrap()
            })
            .collect();
        for f in &futures {
            assert_eq!(
                *f.result().unwrap(),
                0,
                "joined() resolved before the task ran"
            );
        }
        pool.wait_idle().unwrap();
    });
}

/// Tasks of a group keep spawning into it from inside, while outside threads submit into it,
/// and another thread cancels it: every submit either is refused with `Cancelled` (work
/// dropped) or its work runs or is dropped unrun, exactly once; join returns; the pool stays
/// usable.
#[test]
fn cancel_races_submits_from_inside_and_outside() {
    fn churn(
        e: &Executor,
        made: Arc<AtomicUsize>,
        dropped: Arc<AtomicUsize>,
        refused: Arc<AtomicUsize>,
    ) {
        for _ in 0..2 {
            let (m, d, r) = (made.clone(), dropped.clone(), refused.clone());
            made.fetch_add(1, Ordering::SeqCst);
            let held = DropCount(dropped.clone());
            match e.spawn(move |e| {
                let _held = held;
                churn(e, m, d, r)
            }) {
                Ok(()) => {}
                Err(SubmitError::Cancelled) => {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    }
    within(120, || {
        let pool = pool(2);
        for round in 0..20 {
            let group = TaskGroup::new(&pool);
            let made = Arc::new(AtomicUsize::new(0));
            let dropped = Arc::new(AtomicUsize::new(0));
            let refused = Arc::new(AtomicUsize::new(0));
            {
                let (m, d, r) = (made.clone(), dropped.clone(), refused.clone());
                group.spawn(move |e| churn(e, m, d, r)).unwrap();
            }
            let start = Arc::new(Barrier::new(3));
            let outside: Vec<_> = (0..2)
                .map(|_| {
                    let (g, m, d, start) =
                        (group.clone(), made.clone(), dropped.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        let mut futures = Vec::new();
                        loop {
                            m.fetch_add(1, Ordering::SeqCst);
                            let held = DropCount(d.clone());
                            match g.submit_async(async move {
                                let _held = held;
                                betterconcurrent::yield_until_done(
                                    std::iter::empty::<&Future<()>>(),
                                )
                                .await;
                            }) {
                                Ok(f) => futures.push(f),
                                Err(SubmitError::Cancelled) => break,
                                Err(other) => panic!("unexpected {other:?}"),
                            }
                        }
                        futures
                    })
                })
                .collect();
            start.wait();
            if round % 2 == 0 {
                std::thread::yield_now();
            }
            group.cancel();
            group.join().unwrap();
            let mut count_ok = 0;
            for t in outside {
                for f in t.join().unwrap() {
                    match f.result_timeout(Duration::from_secs(20)) {
                        Ok(()) => count_ok += 1,
                        Err(Error::Cancelled) => {}
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
            }
            let _ = count_ok;
            pool.wait_idle().unwrap();
            assert_eq!(
                made.load(Ordering::SeqCst),
                dropped.load(Ordering::SeqCst),
                "round {round}: a captured value was dropped zero or two times"
            );
        }
        assert_eq!(*pool.submit(|| 3).unwrap().result().unwrap(), 3);
    });
}

/// Cancel racing joins: joiners on many threads, a canceller, suspended and queued work;
/// every join returns.
#[test]
fn cancel_races_join() {
    within(120, || {
        let pool = pool(2);
        for _ in 0..50 {
            let group = TaskGroup::new(&pool);
            let never = Future::<()>::new();
            for i in 0..20 {
                let never = never.clone();
                if i % 2 == 0 {
                    group
                        .submit_async(async move {
                            let _ = (&never).await;
                        })
                        .unwrap();
                } else {
                    group
                        .spawn(|e| {
                            let _ = e.spawn(|_| ());
                        })
                        .unwrap();
                }
            }
            let start = Arc::new(Barrier::new(5));
            let joiners: Vec<_> = (0..4)
                .map(|_| {
                    let (g, start) = (group.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        g.join()
                    })
                })
                .collect();
            start.wait();
            group.cancel();
            for j in joiners {
                j.join().unwrap().unwrap();
            }
            assert!(group.is_cancelled());
        }
        pool.wait_idle().unwrap();
    });
}

/// Cancelling from inside the group's own task: running closure finishes, later submits from
/// it fail, queued siblings end cancelled.
#[test]
fn cancel_from_inside_the_groups_own_task() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let g = group.clone();
        let siblings: Arc<std::sync::Mutex<Vec<Future<()>>>> = Default::default();
        let s = siblings.clone();
        let f = group
            .submit(move || {
                let e = Executor::current().unwrap();
                for _ in 0..10 {
                    s.lock().unwrap().push(e.submit(|| ()).unwrap());
                }
                g.cancel();
                let refused = matches!(e.submit(|| ()), Err(SubmitError::Cancelled));
                let refused2 = matches!(g.spawn(|_| ()), Err(SubmitError::Cancelled));
                refused && refused2
            })
            .unwrap();
        assert!(*f.result().unwrap());
        group.join().unwrap();
        for s in siblings.lock().unwrap().iter() {
            assert!(matches!(s.try_result(), Some(Err(Error::Cancelled))));
        }
    });
}
