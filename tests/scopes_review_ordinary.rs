//! Review of scopes: ordinary programs, as a user would write them. Borrowed Vecs, slices,
//! `&mut` chunks, atomics and a Mutex; nested scopes; scopes inside pool tasks (1 and 2
//! workers), inside async tasks and on a group's handle; futures returned out of a scope; many
//! tasks; `map` inside a scope.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{pool, yield_now};

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use betterconcurrent::{Error, Executor, Future, Scope, TaskGroup};

#[test]
fn mut_chunks_slices_atomics_and_a_mutex_are_borrowed_and_written_by_scoped_tasks() {
    within(60, || {
        let pool = pool(2);
        let input: Vec<u64> = (0..10_000).collect();
        let mut output = vec![0u64; input.len()];
        let total = AtomicU64::new(0);
        let log = Mutex::new(Vec::new());
        let sums: Vec<u64> = pool.scope(|scope| {
            for (index, (out, inp)) in output.chunks_mut(333).zip(input.chunks(333)).enumerate() {
                let (total, log) = (&total, &log);
                scope
                    .spawn(move |_| {
                        for (o, i) in out.iter_mut().zip(inp) {
                            *o = i * 2;
                        }
                        total.fetch_add(inp.iter().sum(), Ordering::Relaxed);
                        log.lock().unwrap().push(index);
                    })
                    .unwrap();
            }
            let halves = input.split_at(input.len() / 2);
            let futures = [halves.0, halves.1]
                .map(|half| scope.submit(move || half.iter().sum::<u64>()).unwrap());
            futures.iter().map(|f| *f.result().unwrap()).collect()
        });
        let expected: u64 = input.iter().sum();
        assert_eq!(sums.iter().sum::<u64>(), expected);
        assert_eq!(total.into_inner(), expected);
        assert!(output.iter().zip(&input).all(|(o, i)| *o == i * 2));
        let mut log = log.into_inner().unwrap();
        log.sort_unstable();
        assert_eq!(log, (0..input.len().div_ceil(333)).collect::<Vec<_>>());
    });
}

#[test]
fn three_levels_of_nested_scopes_borrowing_each_levels_locals() {
    within(60, || {
        let pool = pool(2);
        let leaves = AtomicUsize::new(0);
        let mut per_outer = [0usize; 3];
        pool.scope(|outer| {
            for slot in per_outer.iter_mut() {
                let leaves = &leaves;
                outer
                    .spawn(move |outer| {
                        let mut middle_counts = [0usize; 3];
                        outer.executor().scope(|middle| {
                            for count in middle_counts.iter_mut() {
                                middle
                                    .spawn(move |middle| {
                                        let inner_hits = AtomicUsize::new(0);
                                        middle.executor().scope(|inner| {
                                            for _ in 0..3 {
                                                let inner_hits = &inner_hits;
                                                inner
                                                    .spawn(move |_| {
                                                        inner_hits.fetch_add(1, Ordering::SeqCst);
                                                        leaves.fetch_add(1, Ordering::SeqCst);
                                                    })
                                                    .unwrap();
                                            }
                                        });
                                        *count = inner_hits.into_inner();
                                    })
                                    .unwrap();
                            }
                        });
                        *slot = middle_counts.iter().sum();
                    })
                    .unwrap();
            }
        });
        assert_eq!(per_outer, [9, 9, 9]);
        assert_eq!(leaves.into_inner(), 27);
    });
}

fn scope_in_a_pool_task(workers: usize) {
    let pool = pool(workers);
    let executor = pool.executor();
    let futures: Vec<Future<u64>> = (0..4u64)
        .map(|n| {
            let executor = executor.clone();
            pool.submit(move || {
                let data: Vec<u64> = (0..100).map(|i| i * n).collect();
                let acc = AtomicU64::new(0);
                executor.scope(|scope| {
                    for chunk in data.chunks(7) {
                        let acc = &acc;
                        scope
                            .spawn(move |_| {
                                acc.fetch_add(chunk.iter().sum(), Ordering::SeqCst);
                            })
                            .unwrap();
                    }
                    let first = scope.submit(|| data[0]).unwrap();
                    assert_eq!(*first.result().unwrap(), 0);
                });
                acc.into_inner()
            })
            .unwrap()
        })
        .collect();
    for (n, future) in futures.iter().enumerate() {
        assert_eq!(*future.result().unwrap(), 4950 * n as u64);
    }
}

#[test]
fn scopes_inside_pool_tasks_on_a_one_worker_pool() {
    within(60, || scope_in_a_pool_task(1));
}

#[test]
fn scopes_inside_pool_tasks_on_a_two_worker_pool() {
    within(60, || scope_in_a_pool_task(2));
}

#[test]
fn a_scope_inside_an_async_task_on_a_one_worker_pool() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let future = pool
            .submit_async(async move {
                yield_now().await;
                let words = vec!["a", "bb", "ccc"];
                let letters = AtomicUsize::new(0);
                executor.scope(|scope| {
                    for word in &words {
                        let letters = &letters;
                        scope
                            .spawn_async(async move {
                                yield_now().await;
                                letters.fetch_add(word.len(), Ordering::SeqCst);
                            })
                            .unwrap();
                        scope
                            .spawn(move |_| {
                                letters.fetch_add(word.len(), Ordering::SeqCst);
                            })
                            .unwrap();
                    }
                });
                yield_now().await;
                letters.into_inner()
            })
            .unwrap();
        assert_eq!(*future.result().unwrap(), 12);
    });
}

#[test]
fn a_scope_on_a_task_groups_handle_then_the_group_joins_and_cancels_cleanly() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let mut cells = Vec::from([0u32; 50]);
        group.executor().scope(|scope| {
            for (i, cell) in cells.iter_mut().enumerate() {
                scope.spawn(move |_| *cell = i as u32 + 1).unwrap();
            }
        });
        assert!(cells.iter().enumerate().all(|(i, c)| *c == i as u32 + 1));
        group.join().unwrap();
        group.cancel();
        // A scope on a cancelled group refuses its work and still returns.
        let refused = group
            .executor()
            .scope(|scope| scope.spawn(|_| unreachable!()));
        assert!(refused.is_err());
        // The pool itself is fine.
        assert_eq!(*pool.submit(|| 3).unwrap().result().unwrap(), 3);
    });
}

#[test]
fn futures_returned_out_of_a_scope_are_done_and_keep_their_owned_values() {
    within(60, || {
        let pool = pool(2);
        let names = vec![String::from("x"), String::from("yy")];
        let futures: Vec<Future<String>> = pool.scope(|scope| {
            let mut futures = Vec::new();
            for name in &names {
                futures.push(scope.submit(move || format!("{name}!")).unwrap());
                futures.push(
                    scope
                        .submit_async(async move {
                            yield_now().await;
                            format!("{name}?")
                        })
                        .unwrap(),
                );
            }
            futures
        });
        drop(names);
        for future in &futures {
            assert!(
                future.done(),
                "a scoped future is done when the scope returns"
            );
            assert!(!future.cancel());
            assert!(!future.run_here());
        }
        let called = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = called.clone();
        futures[0].add_done_callback(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(called.load(Ordering::SeqCst), 1);
        let values: Vec<String> = futures
            .into_iter()
            .map(|f| f.into_result().unwrap())
            .collect();
        assert_eq!(values, ["x!", "x?", "yy!", "yy?"]);
    });
}

#[test]
fn many_tasks_and_a_tree_of_them_through_the_scope() {
    within(60, || {
        let pool = pool(2);
        let counter = AtomicUsize::new(0);
        fn tree<'scope, 'env>(s: &'scope Scope<'scope, 'env>, c: &'env AtomicUsize, depth: u32) {
            c.fetch_add(1, Ordering::Relaxed);
            if depth > 0 {
                for _ in 0..4 {
                    s.spawn(move |s| tree(s, c, depth - 1)).unwrap();
                }
            }
        }
        pool.scope(|scope| {
            for _ in 0..20_000 {
                let counter = &counter;
                scope
                    .spawn(move |_| {
                        counter.fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap();
            }
            tree(scope, &counter, 6);
            let futures: Vec<_> = (0..2_000)
                .map(|i| scope.submit(move || i * 2).unwrap())
                .collect();
            let sum: usize = futures.iter().map(|f| *f.result().unwrap()).sum();
            assert_eq!(sum, 2 * (0..2_000).sum::<usize>());
        });
        let nodes: usize = (0..=6).map(|d| 4usize.pow(d)).sum();
        assert_eq!(counter.into_inner(), 20_000 + nodes);
    });
}

#[test]
fn map_inside_a_scope_from_its_body_and_from_a_scoped_task_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let factor = 3u64;
        let from_task = AtomicU64::new(0);
        let from_body: Vec<u64> = pool.scope(|scope| {
            let from_task = &from_task;
            scope
                .spawn(move |_| {
                    let executor = Executor::current().unwrap();
                    let total: u64 = executor
                        .map(move |x: u64| x * factor, 0..50)
                        .unwrap()
                        .map(Result::unwrap)
                        .sum();
                    from_task.store(total, Ordering::SeqCst);
                })
                .unwrap();
            // A map dropped half-way cancels what it has not started.
            let mut partial = scope.executor().map(|x: u64| x + 1, 0..1_000).unwrap();
            assert_eq!(partial.next().map(Result::unwrap), Some(1));
            drop(partial);
            scope
                .executor()
                .map(move |x: u64| x * factor, 0..10)
                .unwrap()
                .map(Result::unwrap)
                .collect()
        });
        assert_eq!(from_body, (0..10).map(|x| x * 3).collect::<Vec<_>>());
        assert_eq!(from_task.into_inner(), 3 * (0..50).sum::<u64>());
    });
}

#[test]
fn a_panicking_submit_keeps_its_panic_in_its_future_while_spawned_panics_propagate() {
    within(60, || {
        let pool = pool(2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.scope(|scope| {
                let f = scope.submit(|| -> u8 { panic!("in submit") }).unwrap();
                assert!(matches!(f.result(), Err(Error::Panicked(_))));
                scope.spawn(|_| std::panic::panic_any(5i64)).unwrap();
                scope.spawn(|_| std::panic::panic_any(6i64)).unwrap();
            })
        }));
        let payload = caught.unwrap_err();
        let value = *payload.downcast_ref::<i64>().unwrap();
        assert!(value == 5 || value == 6, "one of the spawned panics");
    });
}
