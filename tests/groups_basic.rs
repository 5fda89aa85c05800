//! Adversarial review of task groups: ordinary programs a user would write.
#![cfg(not(feature = "loom"))]

mod common;
use common::in_group;
use common::watchdog::within;
use common::{block_workers, pool};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, SubmitError, TaskGroup};

#[test]
fn map_through_a_groups_executor_runs_in_the_group_and_its_subtasks_too() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let gate = Future::<()>::new();
        let sub_done = Arc::new(AtomicUsize::new(0));
        let probe_group = group.clone();
        let (gate2, sub_done2) = (gate.clone(), sub_done.clone());
        let results: Vec<(u64, bool)> = group
            .executor()
            .map(
                move |n: u64| {
                    let (gate, sub_done) = (gate2.clone(), sub_done2.clone());
                    Executor::current()
                        .unwrap()
                        .submit_async(async move {
                            (&gate).await.unwrap();
                            sub_done.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    (n * 2, in_group(&probe_group))
                },
                0..200u64,
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results.len(), 200);
        for (i, (v, member)) in results.iter().enumerate() {
            assert_eq!(*v, i as u64 * 2);
            assert!(*member, "map's closure #{i} did not run in the group");
        }
        // The subtasks wait on the gate: the group has work.
        assert!(matches!(
            group.join_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
        gate.set_result(()).unwrap();
        group.join().unwrap();
        assert_eq!(sub_done.load(Ordering::SeqCst), 200);
        pool.wait_idle().unwrap();
    });
}

#[test]
fn panicking_group_tasks_do_not_stop_join_and_the_pool_survives() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let before = pool.stats().tasks_panicked;
        let closures: Vec<Future<()>> = (0..30)
            .map(|_| group.submit(|| panic!("boom (expected)")).unwrap())
            .collect();
        let asyncs: Vec<Future<()>> = (0..30)
            .map(|_| {
                group
                    .submit_async(async { panic!("async boom (expected)") })
                    .unwrap()
            })
            .collect();
        for _ in 0..30 {
            group.spawn(|_| panic!("spawn boom (expected)")).unwrap();
        }
        group.join().unwrap();
        for f in closures.iter().chain(&asyncs) {
            assert!(matches!(f.try_result(), Some(Err(Error::Panicked(_)))));
        }
        assert_eq!(pool.stats().tasks_panicked - before, 90);
        // Pool and group still work.
        assert_eq!(*group.submit(|| 5).unwrap().result().unwrap(), 5);
        assert_eq!(*pool.submit(|| 6).unwrap().result().unwrap(), 6);
        group.join().unwrap();
        pool.join().unwrap();
    });
}

#[test]
fn a_groups_join_after_the_pool_was_shut_down_or_dropped_returns_and_submits_fail() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let f = group.submit(|| 1).unwrap();
        pool.shutdown(true, false);
        assert_eq!(*f.result().unwrap(), 1);
        group.join().unwrap();
        assert!(matches!(group.submit(|| 2), Err(SubmitError::Shutdown)));
        assert!(matches!(group.spawn(|_| ()), Err(SubmitError::Shutdown)));
        assert!(matches!(
            group.submit_async(async {}),
            Err(SubmitError::Shutdown)
        ));
        // A refused submit left nothing counted.
        group.join_timeout(Duration::from_secs(10)).unwrap();
        assert!(!group.is_cancelled());

        // Dropped pool, group handle outlives it.
        let pool = common::pool(2);
        let group = TaskGroup::new(&pool);
        let counter = Arc::new(AtomicUsize::new(0));
        for _ in 0..50 {
            let counter = counter.clone();
            group
                .spawn(move |_| {
                    counter.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        drop(pool);
        assert_eq!(counter.load(Ordering::SeqCst), 50);
        group.join_timeout(Duration::from_secs(10)).unwrap();
        assert!(matches!(group.submit(|| 2), Err(SubmitError::Shutdown)));
        group.cancel();
        group.join_timeout(Duration::from_secs(10)).unwrap();
    });
}

#[test]
fn dropping_the_pool_while_groups_have_queued_work_runs_all_of_it() {
    within(60, || {
        let pool = pool(2);
        let (release, _blockers) = block_workers(&pool, 2);
        let counter = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let groups: Vec<TaskGroup> = (0..5).map(|_| TaskGroup::new(&pool)).collect();
        let mut futures = Vec::new();
        for g in &groups {
            for _ in 0..20 {
                let (c, a) = (counter.clone(), accepted.clone());
                futures.push(
                    g.submit(move || {
                        c.fetch_add(1, Ordering::SeqCst);
                        // A subtask through the group-bound handle: refused (Shutdown) once
                        // the pool's drop has begun closing it, as any submit is.
                        let c = c.clone();
                        match Executor::current().unwrap().spawn(move |_| {
                            c.fetch_add(1, Ordering::SeqCst);
                        }) {
                            Ok(()) => {
                                a.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(SubmitError::Shutdown) => {}
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                    })
                    .unwrap(),
                );
            }
        }
        drop(release);
        drop(pool);
        // Every queued group task ran, and every accepted subtask too.
        assert_eq!(
            counter.load(Ordering::SeqCst),
            100 + accepted.load(Ordering::SeqCst)
        );
        for f in &futures {
            assert!(matches!(f.try_result(), Some(Ok(()))));
        }
        for g in &groups {
            g.join_timeout(Duration::from_secs(10)).unwrap();
        }
    });
}

#[test]
fn pool_stats_and_wait_idle_see_group_work() {
    within(60, || {
        let pool = pool(2);
        let before = pool.stats().tasks_completed;
        let group = TaskGroup::new(&pool);
        let gate = Future::<()>::new();
        let (started_tx, started_rx) = mpsc::channel();
        for _ in 0..10 {
            let (gate, started_tx) = (gate.clone(), started_tx.clone());
            group
                .submit_async(async move {
                    started_tx.send(()).unwrap();
                    (&gate).await.unwrap();
                })
                .unwrap();
        }
        for _ in 0..10 {
            started_rx.recv().unwrap();
        }
        let stats = pool.stats();
        assert!(
            stats.tasks_outstanding >= 10,
            "outstanding {}",
            stats.tasks_outstanding
        );
        // A task sent `started` before its first `.await`: it may still be in that poll.
        assert!(
            stats.tasks_suspended + stats.tasks_running >= 10,
            "suspended {} running {}",
            stats.tasks_suspended,
            stats.tasks_running
        );
        assert!(matches!(
            pool.wait_idle_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
        assert!(matches!(
            group.join_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
        gate.set_result(()).unwrap();
        pool.wait_idle().unwrap();
        group.join_timeout(Duration::ZERO).unwrap();
        let stats = pool.stats();
        assert_eq!(stats.tasks_outstanding, 0);
        assert_eq!(stats.tasks_completed - before, 10);
        assert!(format!("{group:?}").contains("outstanding: 0"), "{group:?}");
    });
}

#[test]
fn executor_of_a_group_future_submits_to_the_group() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let f = group.submit(|| 3).unwrap();
        f.result().unwrap();
        let gate = Future::<()>::new();
        let g2 = gate.clone();
        Executor::of(&f)
            .unwrap()
            .submit_async(async move {
                (&g2).await.unwrap();
            })
            .unwrap();
        assert!(matches!(
            group.join_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
        gate.set_result(()).unwrap();
        group.join().unwrap();
    });
}

#[test]
fn a_groups_join_is_awaitable_from_outside_any_pool() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let counter = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let c = counter.clone();
            group
                .spawn(move |e| {
                    let c2 = c.clone();
                    e.spawn(move |_| {
                        c2.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                    c.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        futures::executor::block_on(group.joined()).unwrap();
        assert_eq!(counter.load(Ordering::SeqCst), 200);
        // From a tokio runtime too, and a joined() on an idle group resolves at once.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { group.joined().await }).unwrap();
        // A dropped, never polled join leaves nothing behind: join still works.
        drop(group.joined());
        group.join().unwrap();
    });
}

#[test]
fn a_timed_out_join_then_a_full_join() {
    within(60, || {
        let pool = pool(2);
        let group = TaskGroup::new(&pool);
        let (tx, rx) = mpsc::channel::<()>();
        let f = group.submit(move || rx.recv().unwrap()).unwrap();
        for _ in 0..5 {
            assert!(matches!(
                group.join_timeout(Duration::from_millis(10)),
                Err(Error::Timeout)
            ));
        }
        let joiner = {
            let g = group.clone();
            std::thread::spawn(move || g.join())
        };
        tx.send(()).unwrap();
        joiner.join().unwrap().unwrap();
        assert!(f.done());
    });
}

#[test]
fn groups_made_in_plain_pool_tasks_are_not_children_of_a_stale_group() {
    // A worker that ran group A's task and then runs a plain pool task: a group made there
    // must not be A's child (A's join must not wait for it, cancelling A must not cancel it).
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        a.submit(|| ()).unwrap().result().unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let made = pool
            .submit(move || {
                let g = TaskGroup::new(&Executor::current().unwrap());
                g.spawn(move |_| rx.recv().unwrap()).unwrap();
                g
            })
            .unwrap();
        let g = made.result().unwrap().clone();
        a.join_timeout(Duration::from_secs(5)).unwrap();
        a.cancel();
        assert!(!g.is_cancelled());
        tx.send(()).unwrap();
        g.join().unwrap();
    });
}
