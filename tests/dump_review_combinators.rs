//! Review of the dump against waits through combinators: `wait_async`, `as_completed_async`,
//! `time::timeout` and `futures::select` between tasks that await each other. A wait through a
//! combinator's own waker must be reported as awaiting outside, with no invented edge; a cycle
//! that a timer or another branch of a select can still end must never be called
//! `Error::Stuck`; a waiter left behind by a wait that was given up (a timed-out `timeout`)
//! must not make up a cycle. Also tasks in groups and scopes.
#![cfg(not(feature = "loom"))]

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use betterconcurrent::time::{sleep, timeout};
use betterconcurrent::{
    as_completed_async, wait_async, Error, Future, ReturnWhen, TaskGroup, ThreadPoolExecutor,
};
use futures::StreamExt;

mod common;
use common::dump::{dump_when, ids, rotated_to_min, suspended, AbortOnDrop};
use common::watchdog::within;

fn not_stuck(pool: &ThreadPoolExecutor) {
    match pool.join_timeout(Duration::from_millis(30)) {
        Err(Error::Timeout) => {}
        Err(Error::Stuck(d)) => panic!("called stuck, but it can still finish:\n{d}"),
        other => panic!("expected Timeout, got {other:?}"),
    }
}

/// Two tasks, each learning the other's future through a slot, each awaiting it through `wait`.
fn pair<W, Fut>(pool: &ThreadPoolExecutor, wait: W) -> [Future<u32>; 2]
where
    W: Fn(Future<u32>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = u32> + Send + 'static,
{
    let slots = [Future::<Future<u32>>::new(), Future::new()];
    let make = |i: usize| {
        let slot = slots[1 - i].clone();
        let wait = wait.clone();
        pool.submit_async(async move {
            let other = (&slot).await.unwrap().clone();
            drop(slot);
            wait(other).await
        })
        .unwrap()
    };
    let tasks = [make(0), make(1)];
    slots[0].set_result(tasks[0].clone()).unwrap();
    slots[1].set_result(tasks[1].clone()).unwrap();
    tasks
}

#[test]
fn a_cycle_through_wait_async_is_invisible_and_awaits_outside() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let tasks = pair(&pool, |other| async move {
            let waited = wait_async([&other], None, ReturnWhen::AllCompleted).await;
            waited.done.len() as u32
        });
        let dump = dump_when(&pool, |dump| suspended(dump, 2));
        assert!(dump.cycles().is_empty(), "no invented edges: {dump}");
        for t in &tasks {
            let d = dump.task(t.id()).unwrap();
            assert!(d.awaits().is_empty(), "{dump}");
            assert!(d.awaits_outside(), "{dump}");
            assert!(!d.is_asleep());
        }
        not_stuck(&pool);
        pool.shutdown(true, true);
        assert!(tasks.iter().all(Future::cancelled));
    })
}

#[test]
fn a_cycle_through_as_completed_async_is_invisible() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let tasks = pair(&pool, |other| async move {
            let mut n = 0;
            let mut stream = as_completed_async([&other], None);
            while let Some(_f) = stream.next().await {
                n += 1;
            }
            n
        });
        let dump = dump_when(&pool, |dump| suspended(dump, 2));
        assert!(dump.cycles().is_empty(), "{dump}");
        for t in &tasks {
            assert!(dump.task(t.id()).unwrap().awaits_outside(), "{dump}");
        }
        not_stuck(&pool);
        pool.shutdown(true, true);
    })
}

#[test]
fn a_cycle_through_wait_async_with_a_timeout_ends_by_itself() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let tasks = pair(&pool, |other| async move {
            let waited = wait_async(
                [&other],
                Some(Duration::from_millis(800)),
                ReturnWhen::AllCompleted,
            )
            .await;
            waited.done.len() as u32
        });
        dump_when(&pool, |dump| suspended(dump, 2));
        not_stuck(&pool);
        // Both give up after their timeouts and finish.
        assert_eq!(*tasks[0].result().unwrap() + *tasks[1].result().unwrap(), 1);
    })
}

#[test]
fn two_tasks_awaiting_each_other_under_timeout_are_not_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let tasks = pair(&pool, |other| async move {
            match timeout(Duration::from_millis(1500), &other).await {
                Ok(_) => 1,
                Err(_) => 0,
            }
        });
        let dump = dump_when(&pool, |dump| suspended(dump, 2));
        let printed = dump.to_string();
        for t in &tasks {
            let d = dump.task(t.id()).unwrap();
            assert!(d.is_asleep(), "a timeout's sleep is armed: {printed}");
            assert!(!d.awaits_outside(), "{printed}");
        }
        // The contract first: join_timeout must not call it deadlocked.
        not_stuck(&pool);
        assert!(!dump.is_stuck(), "timers will end it: {printed}");
        // The first to time out finishes; the other then sees it done.
        let sum = *tasks[0].result().unwrap() + *tasks[1].result().unwrap();
        assert_eq!(sum, 1);
    })
}

#[test]
fn a_select_with_another_branch_open_is_not_a_deadlock() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        // a: select(b, never); b awaits a. `never` may still be set by this thread.
        let never = Future::<u32>::new();
        let slot = Future::<Future<u32>>::new();
        let (n, s) = (never.clone(), slot.clone());
        let a = pool
            .submit_async(async move {
                let b = (&s).await.unwrap().clone();
                drop(s);
                let left = Box::pin((&b).into_future());
                let right = Box::pin((&n).into_future());
                match futures::future::select(left, right).await {
                    futures::future::Either::Left((v, _)) => *v.unwrap(),
                    futures::future::Either::Right((v, _)) => *v.unwrap() + 100,
                }
            })
            .unwrap();
        let a2 = a.clone();
        let b = pool
            .submit_async(async move { *(&a2).await.unwrap() + 1 })
            .unwrap();
        slot.set_result(b.clone()).unwrap();
        let dump = dump_when(&pool, |dump| suspended(dump, 2));
        let printed = dump.to_string();
        assert_eq!(dump.task(b.id()).unwrap().awaits(), [a.id()], "{printed}");
        // a awaits b *or* `never`: whatever the graph shows, the pool is not deadlocked.
        not_stuck(&pool);
        never.set_result(1).unwrap();
        assert_eq!(*a.result().unwrap(), 101);
        assert_eq!(*b.result().unwrap(), 102);
    })
}

#[test]
fn a_select_with_a_sleep_branch_is_not_a_deadlock() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let slot = Future::<Future<u32>>::new();
        let s = slot.clone();
        let a = pool
            .submit_async(async move {
                let b = (&s).await.unwrap().clone();
                drop(s);
                let left = Box::pin((&b).into_future());
                let right = Box::pin(sleep(Duration::from_millis(700)));
                match futures::future::select(left, right).await {
                    futures::future::Either::Left((v, _)) => *v.unwrap(),
                    futures::future::Either::Right(_) => 100,
                }
            })
            .unwrap();
        let a2 = a.clone();
        let b = pool
            .submit_async(async move { *(&a2).await.unwrap() + 1 })
            .unwrap();
        slot.set_result(b.clone()).unwrap();
        let dump = dump_when(&pool, |dump| suspended(dump, 2));
        assert!(dump.task(a.id()).unwrap().is_asleep(), "{dump}");
        not_stuck(&pool);
        assert_eq!(*b.result().unwrap(), 101);
    })
}

#[test]
fn a_wait_given_up_by_timeout_leaves_no_false_edge() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        // b awaits a. a waits for b under a short timeout (gives up), then awaits `never`.
        let never = Future::<u32>::new();
        let slot = Future::<Future<u32>>::new();
        let timed_out = Future::<()>::new();
        let (n, s, t) = (never.clone(), slot.clone(), timed_out.clone());
        let a = pool
            .submit_async(async move {
                let b = (&s).await.unwrap().clone();
                drop(s);
                assert!(timeout(Duration::from_millis(20), &b).await.is_err());
                t.set_result(()).unwrap();
                *(&n).await.unwrap()
            })
            .unwrap();
        let a2 = a.clone();
        let b = pool
            .submit_async(async move { *(&a2).await.unwrap() + 1 })
            .unwrap();
        slot.set_result(b.clone()).unwrap();
        timed_out.result().unwrap();
        let dump = dump_when(&pool, |dump| {
            suspended(dump, 2) && dump.task(a.id()).is_some_and(|t| !t.is_asleep())
        });
        let printed = dump.to_string();
        assert!(dump.cycles().is_empty(), "a no longer awaits b: {printed}");
        assert!(dump.task(a.id()).unwrap().awaits().is_empty(), "{printed}");
        assert!(dump.task(a.id()).unwrap().awaits_outside(), "{printed}");
        assert_eq!(dump.task(b.id()).unwrap().awaits(), [a.id()], "{printed}");
        not_stuck(&pool);
        never.set_result(5).unwrap();
        assert_eq!(*b.result().unwrap(), 6);
    })
}

#[test]
fn a_select_given_up_leaves_no_false_edge() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        // As above, but `a` gives up on b through a select whose other branch (`first`) wins.
        let first = Future::<u32>::new();
        let never = Future::<u32>::new();
        let slot = Future::<Future<u32>>::new();
        let (f, n, s) = (first.clone(), never.clone(), slot.clone());
        let a = pool
            .submit_async(async move {
                let b = (&s).await.unwrap().clone();
                drop(s);
                {
                    let left = Box::pin((&b).into_future());
                    let right = Box::pin((&f).into_future());
                    let r = futures::future::select(left, right).await;
                    assert!(matches!(r, futures::future::Either::Right(_)));
                }
                *(&n).await.unwrap()
            })
            .unwrap();
        let a2 = a.clone();
        let b = pool
            .submit_async(async move { *(&a2).await.unwrap() + 1 })
            .unwrap();
        slot.set_result(b.clone()).unwrap();
        dump_when(&pool, |dump| suspended(dump, 2));
        first.set_result(0).unwrap();
        // Wait for a to move on to `never`: it no longer appears to await b... or does it?
        let start = Instant::now();
        while first.waiter_count() > 0 || never.waiter_count() == 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            std::thread::yield_now();
        }
        let dump = dump_when(&pool, |dump| suspended(dump, 2));
        let printed = dump.to_string();
        assert!(dump.cycles().is_empty(), "a no longer awaits b: {printed}");
        assert!(dump.task(a.id()).unwrap().awaits_outside(), "{printed}");
        not_stuck(&pool);
        never.set_result(5).unwrap();
        assert_eq!(*b.result().unwrap(), 6);
    })
}

#[test]
fn a_cycle_in_a_group_is_stuck_and_the_group_is_listed() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let group = TaskGroup::new(&pool);
        let slots = [Future::<Future<u32>>::new(), Future::new()];
        let tasks: Vec<Future<u32>> = (0..2)
            .map(|i| {
                let slot = slots[1 - i].clone();
                group
                    .submit_async(async move {
                        let other = (&slot).await.unwrap().clone();
                        drop(slot);
                        *(&other).await.unwrap()
                    })
                    .unwrap()
            })
            .collect();
        slots[0].set_result(tasks[0].clone()).unwrap();
        slots[1].set_result(tasks[1].clone()).unwrap();
        let dump = dump_when(&pool, |dump| suspended(dump, 2) && dump.cycles().len() == 1);
        assert_eq!(dump.cycles()[0], rotated_to_min(ids(&tasks)));
        // The group's own handle sees the whole pool.
        assert_eq!(group.executor().dump().cycles().len(), 1);
        match pool.join_timeout(Duration::from_millis(30)) {
            Err(Error::Stuck(_)) => {}
            other => panic!("expected Stuck, got {other:?}"),
        }
        let group_join = group.join_timeout(Duration::from_millis(30));
        assert!(
            matches!(group_join, Err(Error::Stuck(_)) | Err(Error::Timeout)),
            "{group_join:?}"
        );
        pool.shutdown(true, true);
        assert!(tasks.iter().all(Future::cancelled));
    })
}

#[test]
fn tasks_suspended_in_a_scope_are_listed_while_the_scope_runs() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let gate = Future::<u32>::new();
        let total = pool.scope(|s| {
            let g = &gate;
            let a = s.submit_async(async move { *g.await.unwrap() }).unwrap();
            let a2 = a.clone();
            let b = s
                .submit_async(async move { *(&a2).await.unwrap() + 1 })
                .unwrap();
            let dump = dump_when(&pool, |dump| suspended(dump, 2));
            assert_eq!(dump.task(b.id()).unwrap().awaits(), [a.id()], "{dump}");
            assert!(dump.task(a.id()).unwrap().awaits_outside());
            assert!(dump.cycles().is_empty());
            // From inside the scope, via the scope's executor too.
            assert_eq!(s.executor().dump().tasks().len(), 2);
            gate.set_result(1).unwrap();
            *b.result().unwrap()
        });
        assert_eq!(total, 2);
        assert!(pool.dump().tasks().is_empty());
    })
}
