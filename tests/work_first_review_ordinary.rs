//! Review of work-first (an async task that awaits an unstarted child of its own pool, newest
//! in its worker's own queue, runs it in place): ordinary programs a user would write.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{yield_until_done, Error, Executor, Future, TaskGroup, ThreadPoolExecutor};
use common::watchdog::within;
use common::{in_group, pool};

fn polls(pool: &ThreadPoolExecutor) -> u64 {
    pool.stats().per_worker.iter().map(|w| w.polls).sum()
}

/// fib with async tasks: each level submits two async children and awaits both.
fn fib(executor: Executor, n: u64, count: Arc<AtomicUsize>) -> Future<u64> {
    count.fetch_add(1, Ordering::Relaxed);
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if n < 2 {
                return n;
            }
            let a = fib(executor.clone(), n - 1, count.clone());
            let b = fib(executor, n - 2, count);
            // Await the newest first (the LIFO slot), then the older one (the deque's owner end).
            let b = *(&b).await.unwrap();
            let a = *(&a).await.unwrap();
            a + b
        })
        .unwrap()
}

fn fib_plain(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_plain(n - 1) + fib_plain(n - 2)
    }
}

#[test]
fn async_fib_on_one_and_four_workers_is_exact_and_counts_every_task_once() {
    within(60, || {
        for workers in [1, 4] {
            let pool = pool(workers);
            let count = Arc::new(AtomicUsize::new(0));
            let result = fib(pool.executor(), 18, count.clone());
            assert_eq!(*result.result().unwrap(), fib_plain(18));
            pool.wait_idle().unwrap();
            let stats = pool.stats();
            assert_eq!(stats.tasks_completed as usize, count.load(Ordering::SeqCst));
            assert_eq!(stats.tasks_outstanding, 0);
            assert_eq!(stats.tasks_suspended, 0);
            pool.join().unwrap();
        }
    });
}

#[test]
fn async_fib_on_one_worker_awaiting_the_older_child_first_still_runs_in_place() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        fn fib_old_first(executor: Executor, n: u64) -> Future<u64> {
            let spawner = executor.clone();
            spawner
                .submit_async(async move {
                    if n < 2 {
                        return n;
                    }
                    let a = fib_old_first(executor.clone(), n - 1);
                    let b = fib_old_first(executor, n - 2);
                    // `a` is in the deque, `b` in the LIFO slot: `a` is not the newest.
                    let a = *(&a).await.unwrap();
                    let b = *(&b).await.unwrap();
                    a + b
                })
                .unwrap()
        }
        let result = fib_old_first(executor, 15);
        assert_eq!(*result.result().unwrap(), fib_plain(15));
        pool.join().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// A tree mixing async inner nodes and closure leaves, summing leaf values.
fn tree(executor: Executor, depth: u32, leaves: Arc<AtomicUsize>) -> Future<u64> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if depth == 0 {
                return 0;
            }
            let mut children = Vec::new();
            for i in 0..3u64 {
                let leaves = leaves.clone();
                children.push(
                    executor
                        .submit(move || {
                            leaves.fetch_add(1, Ordering::Relaxed);
                            i
                        })
                        .unwrap(),
                );
            }
            let sub = tree(executor.clone(), depth - 1, leaves.clone());
            let sub = *(&sub).await.unwrap();
            let mut sum = sub;
            for child in children.iter().rev() {
                sum += *child.await.unwrap();
            }
            sum
        })
        .unwrap()
}

#[test]
fn a_tree_of_async_nodes_with_closure_leaves_sums_right_on_several_pool_sizes() {
    within(60, || {
        for workers in [1, 2, 8] {
            let pool = pool(workers);
            let leaves = Arc::new(AtomicUsize::new(0));
            let depth = 200;
            let sum = tree(pool.executor(), depth, leaves.clone());
            assert_eq!(*sum.result().unwrap(), 3 * depth as u64);
            pool.join().unwrap();
            assert_eq!(leaves.load(Ordering::SeqCst), 3 * depth as usize);
            assert_eq!(pool.stats().tasks_completed, 4 * depth as u64 + 1);
        }
    });
}

#[test]
fn yield_until_done_over_many_children_sees_every_result() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let children: Vec<_> = (0..100u64)
                    .map(|i| executor.submit(move || i * i).unwrap())
                    .collect();
                yield_until_done(&children).await;
                children.iter().map(|f| *f.result().unwrap()).sum::<u64>()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), (0..100u64).map(|i| i * i).sum());
        pool.join().unwrap();
    });
}

#[test]
fn a_group_tree_of_awaits_is_joined_exactly_once_everything_ran() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let ran = Arc::new(AtomicUsize::new(0));
        fn node(executor: Executor, depth: u32, ran: Arc<AtomicUsize>) -> Future<()> {
            let spawner = executor.clone();
            spawner
                .submit_async(async move {
                    ran.fetch_add(1, Ordering::SeqCst);
                    if depth == 0 {
                        return;
                    }
                    // Children through the current handle: they join the group.
                    let current = Executor::current().unwrap();
                    let a = node(current.clone(), depth - 1, ran.clone());
                    let b = node(current.clone(), depth - 1, ran.clone());
                    // A fire-and-forget sibling the parent never awaits.
                    let ran2 = ran.clone();
                    current
                        .spawn(move |_| {
                            ran2.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    (&b).await.unwrap();
                    (&a).await.unwrap();
                })
                .unwrap()
        }
        let root = node(group.executor(), 10, ran.clone());
        group.join().unwrap();
        // Every node (2^11 - 1) and every spawned sibling (2^10 - 1) ran before join returned.
        assert_eq!(ran.load(Ordering::SeqCst), (1 << 11) - 1 + (1 << 10) - 1);
        assert!(root.done());
        pool.join().unwrap();
    });
}

#[test]
fn an_in_place_child_sees_executor_current_of_its_own_group_and_its_submits_count_there() {
    within(60, || {
        let pool = pool(1);
        let g = TaskGroup::new(&pool);
        let probe = g.clone();
        let gex = g.executor();
        let grandchildren = Arc::new(AtomicUsize::new(0));
        let gc = grandchildren.clone();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Arc::new(Mutex::new(go_rx));
        // The parent is outside any group; its child is in `g`.
        let parent = pool
            .submit_async(async move {
                let child = gex
                    .submit_async(async move {
                        assert!(in_group(&probe));
                        let current = Executor::current().unwrap();
                        // A grandchild that stays queued until the test lets it go: the group's
                        // join must wait for it.
                        let go_rx = go_rx.clone();
                        current
                            .spawn(move |_| {
                                go_rx
                                    .lock()
                                    .unwrap()
                                    .recv_timeout(Duration::from_secs(30))
                                    .unwrap();
                                gc.fetch_add(1, Ordering::SeqCst);
                            })
                            .unwrap();
                        7u32
                    })
                    .unwrap();
                let v = *(&child).await.unwrap();
                // Back outside the group.
                (v, Executor::current().unwrap().submit(|| 1).is_ok())
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), (7, true));
        assert!(matches!(
            g.join_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
        go_tx.send(()).unwrap();
        g.join().unwrap();
        assert_eq!(grandchildren.load(Ordering::SeqCst), 1);
        pool.join().unwrap();
    });
}

#[test]
fn done_callbacks_of_an_in_place_child_run_once_and_may_submit() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let calls = Arc::new(AtomicUsize::new(0));
        let from_callback = Arc::new(AtomicUsize::new(0));
        let (c, f) = (calls.clone(), from_callback.clone());
        let parent = pool
            .submit_async(async move {
                let child = executor.submit(|| 5u32).unwrap();
                let ex2 = executor.clone();
                child.add_done_callback(move |fut| {
                    c.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(*fut.try_result().unwrap().unwrap(), 5);
                    let f = f.clone();
                    ex2.spawn(move |_| {
                        f.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                });
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 5);
        pool.join().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(from_callback.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_blocking_result_inside_an_in_place_async_child_completes_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let ex = executor.clone();
                let child = executor
                    .submit_async(async move {
                        // A blocking wait inside an async body run in place.
                        let grandchild = ex.submit(|| 40u32).unwrap();
                        let inner = ex.submit_async(async { 2u32 }).unwrap();
                        let g = *grandchild.result().unwrap();
                        let i = *inner.result().unwrap();
                        g + i
                    })
                    .unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 42);
        pool.join().unwrap();
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

#[test]
fn a_closure_child_that_blocks_on_its_own_async_grandchild_completes() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let ex = executor.clone();
                let child = executor
                    .submit(move || {
                        let g = ex.submit_async(async { 9u8 }).unwrap();
                        *g.result().unwrap()
                    })
                    .unwrap();
                *(&child).await.unwrap()
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 9);
        pool.join().unwrap();
    });
}

#[test]
fn panics_in_children_and_in_their_destructors_stay_contained() {
    within(60, || {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                if !std::thread::panicking() {
                    panic!("destructor panics");
                }
            }
        }
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                // A closure child that panics.
                let a = executor
                    .submit(|| -> u32 { panic!("closure child") })
                    .unwrap();
                let a_seen = matches!((&a).await, Err(Error::Panicked(_)));
                // A closure child whose capture panics on drop (after its body returned).
                let guard = PanicsOnDrop;
                let b = executor
                    .submit(move || {
                        let _g = &guard;
                        3u32
                    })
                    .unwrap();
                let b_seen = (&b).await.copied();
                // An async child whose body holds a value that panics when dropped.
                let c = executor
                    .submit_async(async move {
                        let _g = PanicsOnDrop;
                        4u32
                    })
                    .unwrap();
                let c_seen = (&c).await.copied();
                // A value that panics on drop, returned by an in-place child: the parent reads
                // it and hands the future back (dropping the last handle is user code).
                let d = executor.submit(|| PanicsOnDrop).unwrap();
                let d_ok = (&d).await.is_ok();
                std::mem::forget(d);
                (a_seen, format!("{b_seen:?}"), format!("{c_seen:?}"), d_ok)
            })
            .unwrap();
        let (a, b, c, d) = parent.result().unwrap().clone();
        assert!(a, "closure child's panic reaches its future");
        // The destructor panics are reported; the values themselves are either delivered or
        // reported as a panic, but the parent goes on.
        assert!(b == "Ok(3)" || b.contains("Panicked"), "{b}");
        assert!(c == "Ok(4)" || c.contains("Panicked"), "{c}");
        assert!(d);
        eprintln!("b = {b}, c = {c}");
        pool.wait_idle().unwrap();
        assert_eq!(*pool.submit(|| 1).unwrap().result().unwrap(), 1);
        pool.join().unwrap();
    });
}

#[test]
fn a_child_cancelled_or_aborted_before_the_await_reads_cancelled_and_never_runs() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (r, d) = (ran.clone(), dropped.clone());
        let parent = pool
            .submit_async(async move {
                let r1 = r.clone();
                let guard = common::DropCount(d.clone());
                let closure = executor
                    .submit(move || {
                        let _g = guard;
                        r1.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                assert!(closure.cancel());
                let a = matches!((&closure).await, Err(Error::Cancelled));
                let r2 = r.clone();
                let guard = common::DropCount(d.clone());
                let body = executor
                    .submit_async(async move {
                        let _g = guard;
                        r2.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                assert!(body.abort());
                let b = matches!((&body).await, Err(Error::Cancelled));
                (a, b)
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), (true, true));
        pool.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

#[test]
fn wait_idle_after_many_chains_from_outside_and_polls_show_in_place_runs() {
    within(60, || {
        let pool = pool(4);
        let roots: Vec<_> = (0..200)
            .map(|_| common::await_chain(pool.executor(), 50))
            .collect();
        pool.wait_idle().unwrap();
        for root in &roots {
            assert_eq!(*root.try_result().unwrap().unwrap(), 50);
        }
        let stats = pool.stats();
        assert_eq!(stats.tasks_completed, 200 * 51);
        // Each task polled once if everything ran in place; thefts can add suspensions, but not
        // more than one per task.
        let p = polls(&pool);
        assert!((200 * 51..2 * 200 * 51).contains(&p), "polls {p}");
        pool.join().unwrap();
    });
}

#[test]
fn scope_children_awaiting_scoped_subtasks_borrow_and_finish() {
    within(60, || {
        let pool = pool(2);
        let data: Vec<u64> = (1..=1000).collect();
        let total = AtomicUsize::new(0);
        pool.scope(|scope| {
            for chunk in data.chunks(100) {
                let total = &total;
                scope
                    .submit_async(async move {
                        let halves = chunk.split_at(chunk.len() / 2);
                        let a = scope.submit(move || halves.0.iter().sum::<u64>()).unwrap();
                        let b = scope
                            .submit_async(async move { halves.1.iter().sum::<u64>() })
                            .unwrap();
                        let s = *(&b).await.unwrap() + *(&a).await.unwrap();
                        total.fetch_add(s as usize, Ordering::SeqCst);
                    })
                    .unwrap();
            }
        });
        assert_eq!(total.load(Ordering::SeqCst), 500_500);
        pool.join().unwrap();
    });
}

#[test]
fn owned_await_of_a_child_future_gives_the_value() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let parent = pool
            .submit_async(async move {
                let child = executor
                    .submit_async(async { String::from("owned") })
                    .unwrap();
                child.await.unwrap()
            })
            .unwrap();
        assert_eq!(parent.result().unwrap(), "owned");
        pool.join().unwrap();
        assert_eq!(polls(&pool), 2);
    });
}

#[test]
fn shutdown_without_cancel_while_a_chain_runs_lets_it_finish() {
    within(60, || {
        let pool = pool(2);
        let (reached_tx, reached_rx) = mpsc::channel::<()>();
        /// Ok(depth) or Err(the depth at which a submit was refused).
        fn chain(
            executor: Executor,
            n: u64,
            reached: mpsc::Sender<()>,
        ) -> Option<Future<Result<u64, u64>>> {
            let spawner = executor.clone();
            spawner
                .submit_async(async move {
                    if n == 0 {
                        return Ok(0);
                    }
                    if n == 15_000 {
                        let _ = reached.send(());
                    }
                    match chain(executor, n - 1, reached) {
                        Some(next) => match (&next).await {
                            Ok(Ok(v)) => Ok(v + 1),
                            Ok(Err(at)) => Err(*at),
                            Err(e) => panic!("a chain task ended with {e:?}"),
                        },
                        None => Err(n),
                    }
                })
                .ok()
        }
        let root = chain(pool.executor(), 20_000, reached_tx).unwrap();
        reached_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        pool.shutdown(true, false);
        // The chain either completed or stopped where a submit was refused; the root has an
        // outcome, nothing panicked, nothing is outstanding.
        let outcome = root.try_result().expect("root done after shutdown(wait)");
        match outcome {
            Ok(Ok(v)) => assert_eq!(*v, 20_000),
            // The task at 15,000 signals before it submits its child, so the shutdown may
            // refuse that very submit.
            Ok(Err(at)) => assert!(*at <= 15_000, "refused at {at}"),
            Err(e) => panic!("root ended with {e:?}"),
        }
        assert_eq!(pool.stats().tasks_outstanding, 0);
        assert_eq!(pool.stats().tasks_panicked, 0);
    });
}
