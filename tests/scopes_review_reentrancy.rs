//! Review of scopes: re-entrancy. Scopes nested 20 deep inside scoped tasks on a 1-worker pool
//! (each level borrowing the level above), self-joins from inside scoped tasks (refused, not
//! deadlocked, and the pool not shut down by them), and a scoped task waiting for futures of
//! its own scope on one worker.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{pool, yield_now};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use betterconcurrent::{Error, Executor, TaskGroup};

/// Recurse `depth` levels: each level opens a scope from inside a task of the level above and
/// lends its own local to the next.
fn nest(executor: &Executor, depth: usize, parent: &AtomicUsize, visits: &AtomicUsize) {
    visits.fetch_add(1, Ordering::SeqCst);
    parent.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        return;
    }
    let mine = AtomicUsize::new(0);
    executor.scope(|scope| {
        let mine = &mine;
        scope
            .spawn(move |_| {
                let current = Executor::current().expect("a pool thread");
                nest(&current, depth - 1, mine, visits);
            })
            .unwrap();
        scope
            .submit(move || mine.fetch_add(1, Ordering::SeqCst))
            .unwrap();
    });
    assert_eq!(mine.into_inner(), 2, "both tasks of this level ended first");
}

#[test]
fn scopes_nested_twenty_deep_inside_scoped_tasks_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let root = AtomicUsize::new(0);
        let visits = AtomicUsize::new(0);
        nest(&pool.executor(), 20, &root, &visits);
        assert_eq!(visits.into_inner(), 21);
        assert_eq!(root.into_inner(), 1);
        // The spare threads retire and the pool still works.
        assert_eq!(*pool.submit(|| 9).unwrap().result().unwrap(), 9);
    });
}

#[test]
fn scopes_nested_twenty_deep_through_the_scopes_own_handle_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let visits = AtomicUsize::new(0);
        fn level<'scope, 'env>(
            scope: &'scope betterconcurrent::Scope<'scope, 'env>,
            depth: usize,
            visits: &'env AtomicUsize,
        ) {
            visits.fetch_add(1, Ordering::SeqCst);
            if depth > 0 {
                let local = vec![depth; 3];
                scope.executor().scope(|inner| {
                    let local = &local;
                    inner
                        .spawn(move |inner| {
                            assert_eq!(local.len(), 3);
                            level(inner, depth - 1, visits);
                        })
                        .unwrap();
                });
            }
        }
        pool.scope(|scope| {
            let visits = &visits;
            scope.spawn(move |scope| level(scope, 20, visits)).unwrap();
        });
        assert_eq!(visits.into_inner(), 21);
    });
}

#[test]
fn self_joins_from_inside_scoped_tasks_are_refused_and_do_not_shut_the_pool_down() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let results = Mutex::new(Vec::new());
        group.executor().scope(|scope| {
            let (results, group) = (&results, &group);
            scope
                .spawn(move |scope| {
                    let current = Executor::current().unwrap();
                    let mut results = results.lock().unwrap();
                    results.push(("current.join", current.join()));
                    results.push(("current.wait_idle", current.wait_idle()));
                    results.push(("scope.executor.join", scope.executor().join()));
                    results.push(("parent group.join", group.join()));
                })
                .unwrap();
            scope
                .submit_async(async move {
                    let joined = group.joined().await;
                    results
                        .lock()
                        .unwrap()
                        .push(("parent group.joined", joined));
                })
                .unwrap();
        });
        for (what, result) in results.into_inner().unwrap() {
            assert!(
                matches!(result, Err(Error::WouldDeadlock)),
                "{what}: {result:?}"
            );
        }
        group.join().unwrap();
        assert_eq!(*pool.submit(|| 4).unwrap().result().unwrap(), 4);
    });
}

#[test]
fn a_scoped_task_waits_for_futures_of_its_own_scope_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let data = vec![1u64, 2, 3, 4];
        let total = pool.scope(|scope| {
            let data = &data;
            let outer = scope
                .submit(move || {
                    // Blocking on siblings from a scoped task: run in place or compensated.
                    let parts: Vec<_> = data
                        .iter()
                        .map(|x| scope.submit(move || x * 10).unwrap())
                        .collect();
                    let asyncs: Vec<_> = data
                        .iter()
                        .map(|x| {
                            scope
                                .submit_async(async move {
                                    yield_now().await;
                                    x * 100
                                })
                                .unwrap()
                        })
                        .collect();
                    parts
                        .iter()
                        .chain(&asyncs)
                        .map(|f| *f.result().unwrap())
                        .sum::<u64>()
                })
                .unwrap();
            *outer.result().unwrap()
        });
        assert_eq!(total, 1100);
    });
}

#[test]
fn a_scope_inside_a_scoped_async_task_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let hits = AtomicUsize::new(0);
        pool.scope(|scope| {
            let hits = &hits;
            scope
                .spawn_async(async move {
                    yield_now().await;
                    let executor = Executor::current().unwrap();
                    let inner_local = [1usize, 2, 3];
                    // Blocking inside an async body: what it spawns sits in the worker's
                    // LIFO slot until the join parks.
                    executor.scope(|inner| {
                        for value in &inner_local {
                            inner
                                .spawn(move |_| {
                                    hits.fetch_add(*value, Ordering::SeqCst);
                                })
                                .unwrap();
                        }
                    });
                    yield_now().await;
                })
                .unwrap();
        });
        assert_eq!(hits.into_inner(), 6);
    });
}
