//! Review of work-first: a randomized stress of mixed shapes on four workers. Async nodes
//! submit closures and async children, await them in random orders (newest first, oldest
//! first, via `yield_until_done`, owned), share some children with a sibling that awaits them
//! too, and sometimes cancel or abort a child before awaiting it. Every task must run at most
//! once, every non-cancelled one exactly once, and the pool must settle.
//!
//! A node awaits a shared child only if that child was made after the node itself: every wait
//! then points from an older task to a newer one, so the shapes have no wait-for cycle. (Before
//! this rule a node could pop its own future from the shared list and await itself, a
//! deadlock of the test's making that hung it about once in 200 runs; the pool's stuck
//! report named the one-task cycle.)
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use betterconcurrent::{yield_until_done, Error, Executor, Future, TaskGroup};
use common::pool;
use common::watchdog::within;

struct Ctx {
    runs: Vec<AtomicUsize>,
    next_id: AtomicUsize,
    cancelled: Mutex<Vec<usize>>,
    /// Children shared between nodes: (the id of the task it completes, its future).
    shared: Mutex<Vec<(usize, Future<u64>)>>,
}

/// A small xorshift for reproducible shapes.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// An async node: its id (ids grow in the order tasks are made) and its future.
fn node(executor: Executor, ctx: Arc<Ctx>, depth: u32, mut seed: u64) -> (usize, Future<u64>) {
    let id = ctx.next_id.fetch_add(1, Ordering::SeqCst);
    let spawner = executor.clone();
    let future = spawner
        .submit_async(async move {
            ctx.runs[id].fetch_add(1, Ordering::SeqCst);
            if depth == 0 {
                if rng(&mut seed).is_multiple_of(4) {
                    common::yield_now().await;
                }
                return 1;
            }
            let fan = 2 + rng(&mut seed) % 3;
            let mut children: Vec<(usize, Future<u64>)> = Vec::new();
            for _ in 0..fan {
                if rng(&mut seed).is_multiple_of(2) {
                    let cid = ctx.next_id.fetch_add(1, Ordering::SeqCst);
                    let c = ctx.clone();
                    children.push((
                        cid,
                        executor
                            .submit(move || {
                                c.runs[cid].fetch_add(1, Ordering::SeqCst);
                                1u64
                            })
                            .unwrap(),
                    ));
                } else {
                    let child_seed = rng(&mut seed);
                    let (nid, f) = node(executor.clone(), ctx.clone(), depth - 1, child_seed);
                    children.push((nid, f));
                }
            }
            // Sometimes cancel or abort the newest child before awaiting it.
            match rng(&mut seed) % 8 {
                0 => {
                    let (cid, f) = children.last().unwrap();
                    // Cancelled before it started (a closure or a node): it never runs.
                    if f.cancel() {
                        ctx.cancelled.lock().unwrap().push(*cid);
                    }
                }
                1 => {
                    let _ = children.last().unwrap().1.abort();
                }
                _ => {}
            }
            // Share one child with the pool-wide list: later nodes await it too.
            if rng(&mut seed).is_multiple_of(4) {
                let (cid, f) = &children[0];
                ctx.shared.lock().unwrap().push((*cid, f.clone()));
            }
            let other = {
                let mut shared = ctx.shared.lock().unwrap();
                match shared.last() {
                    Some((cid, _)) if *cid > id => shared.pop().map(|(_, f)| f),
                    _ => None,
                }
            };
            let mut sum = 0;
            match rng(&mut seed) % 4 {
                0 => {
                    for (_, f) in children.iter().rev() {
                        sum += f.await.copied().unwrap_or(0);
                    }
                }
                1 => {
                    for (_, f) in children.iter() {
                        sum += f.await.copied().unwrap_or(0);
                    }
                }
                2 => {
                    let fs: Vec<_> = children.iter().map(|(_, f)| f.clone()).collect();
                    yield_until_done(&fs).await;
                    for f in &fs {
                        sum += f.try_result().unwrap().copied().unwrap_or(0);
                    }
                }
                _ => {
                    for (_, f) in children {
                        sum += f.await.unwrap_or(0);
                    }
                }
            }
            if let Some(other) = other {
                match (&other).await {
                    Ok(_) | Err(Error::Cancelled) => {}
                    Err(e) => panic!("a shared child ended with {e:?}"),
                }
            }
            sum + 1
        })
        .unwrap();
    (id, future)
}

#[test]
fn randomized_mixed_shapes_run_each_task_at_most_once_and_settle() {
    within(120, || {
        let pool = pool(4);
        for round in 0..300u64 {
            let ctx = Arc::new(Ctx {
                runs: (0..200_000).map(|_| AtomicUsize::new(0)).collect(),
                next_id: AtomicUsize::new(0),
                cancelled: Mutex::new(Vec::new()),
                shared: Mutex::new(Vec::new()),
            });
            let group = TaskGroup::new(&pool);
            let roots: Vec<_> = (0..8)
                .map(|i| {
                    node(
                        group.executor(),
                        ctx.clone(),
                        7,
                        (round * 8 + i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    )
                    .1
                })
                .collect();
            for root in &roots {
                assert!(root.result().is_ok());
            }
            group.join().unwrap();
            pool.wait_idle().unwrap();
            let made = ctx.next_id.load(Ordering::SeqCst);
            assert!(made < 200_000);
            assert!(made > 20, "a degenerate shape: {made} tasks");
            if round < 3 {
                eprintln!("round {round} made {made} tasks");
            }
            let cancelled = ctx.cancelled.lock().unwrap().clone();
            for (i, runs) in ctx.runs[..made].iter().enumerate() {
                let n = runs.load(Ordering::SeqCst);
                assert!(n <= 1, "task {i} ran {n} times (round {round})");
                if cancelled.contains(&i) {
                    assert_eq!(n, 0, "cancelled closure {i} ran");
                }
            }
            ctx.shared.lock().unwrap().clear();
        }
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0);
        assert_eq!(stats.tasks_suspended, 0);
        assert_eq!(stats.tasks_panicked, 0);
        pool.join().unwrap();
    });
}

#[test]
fn a_closure_child_never_cancelled_always_runs_exactly_once() {
    within(60, || {
        let pool = pool(4);
        let total = Arc::new(AtomicU64::new(0));
        let mut roots = Vec::new();
        for i in 0..2000u64 {
            let executor = pool.executor();
            let total = total.clone();
            roots.push(
                pool.submit_async(async move {
                    let a = {
                        let t = total.clone();
                        executor
                            .submit(move || t.fetch_add(i, Ordering::SeqCst))
                            .unwrap()
                    };
                    let b = {
                        let t = total.clone();
                        executor
                            .submit_async(async move { t.fetch_add(1, Ordering::SeqCst) })
                            .unwrap()
                    };
                    if i % 2 == 0 {
                        (&a).await.unwrap();
                        (&b).await.unwrap();
                    } else {
                        (&b).await.unwrap();
                        (&a).await.unwrap();
                    }
                })
                .unwrap(),
            );
        }
        for r in &roots {
            r.result().unwrap();
        }
        pool.join().unwrap();
        assert_eq!(
            total.load(Ordering::SeqCst),
            (0..2000u64).sum::<u64>() + 2000
        );
    });
}
