//! Review of `Error::Stuck` from `join_timeout`/`wait_idle_timeout`: no false positives on a
//! pool that makes progress, runs closures, sleeps, or waits on futures fed from a channel by
//! another thread; and no false negatives on real cycles: awaited through an owned `.await` or
//! `yield_until_done`, next to a task sleeping elsewhere, next to a task awaiting an outside
//! future, with a pool thread blocked in `result()` on a member of the cycle (it can never
//! wake, so the pool can never finish), and while other threads dump the same pool.
#![cfg(not(feature = "loom"))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use betterconcurrent::time::sleep;
use betterconcurrent::{Error, Executor, Future, ThreadPoolExecutor};

mod common;
use common::dump::{cycle, dump_when, ids, suspended, AbortOnDrop};
use common::watchdog::within;

fn expect_timeout(pool: &ThreadPoolExecutor) {
    for r in [
        pool.join_timeout(Duration::from_millis(30)),
        pool.wait_idle_timeout(Duration::from_millis(30)),
    ] {
        match r {
            Err(Error::Timeout) => {}
            Err(Error::Stuck(d)) => panic!("called stuck, but it is not:\n{d}"),
            other => panic!("expected Timeout, got {other:?}"),
        }
    }
}

fn expect_stuck(pool: &ThreadPoolExecutor, cycle: &[usize]) {
    match pool.join_timeout(Duration::from_millis(30)) {
        Err(Error::Stuck(d)) => {
            let line = d.lines().find(|l| l.starts_with("wait-for cycle")).unwrap();
            for id in cycle {
                assert!(line.contains(&format!("{id:#x}")), "{d}");
            }
        }
        other => panic!("a real cycle, but {other:?}:\n{}", pool.dump()),
    }
}

#[test]
fn a_pool_making_progress_is_not_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let spins = Arc::new(AtomicUsize::new(0));
        let workers: Vec<Future<()>> = (0..3)
            .map(|_| {
                let (stop, spins) = (stop.clone(), spins.clone());
                pool.submit_async(async move {
                    while !stop.load(Ordering::Relaxed) {
                        spins.fetch_add(1, Ordering::Relaxed);
                        common::yield_now().await;
                    }
                })
                .unwrap()
            })
            .collect();
        // Plus a ping-pong pair handing a token back and forth through fresh futures.
        let ex = pool.executor();
        let s = stop.clone();
        let pinger = pool
            .submit_async(async move {
                let mut n = 0u64;
                while !s.load(Ordering::Relaxed) {
                    let f = ex.submit_async(async move { n + 1 }).unwrap();
                    n = *(&f).await.unwrap();
                }
                n
            })
            .unwrap();
        for _ in 0..5 {
            expect_timeout(&pool);
        }
        stop.store(true, Ordering::Relaxed);
        for w in &workers {
            w.result().unwrap();
        }
        assert!(*pinger.result().unwrap() > 0);
        assert!(spins.load(Ordering::Relaxed) > 0);
    })
}

#[test]
fn running_closures_sleepers_and_channel_fed_futures_are_not_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        // A closure blocked on a channel.
        let (release, released) = mpsc::channel::<()>();
        let closure = pool.submit(move || released.recv().is_ok()).unwrap();
        expect_timeout(&pool);
        release.send(()).unwrap();
        assert!(*closure.result().unwrap());
        // Sleepers, and tasks awaiting them.
        let sleeper = pool
            .submit_async(async {
                sleep(Duration::from_millis(600)).await;
                1u32
            })
            .unwrap();
        let s = sleeper.clone();
        let after = pool
            .submit_async(async move { *(&s).await.unwrap() + 1 })
            .unwrap();
        dump_when(&pool, |d| suspended(d, 2));
        expect_timeout(&pool);
        assert_eq!(*after.result().unwrap(), 2);
        // Futures fed from a channel by another thread, slowly.
        let (tx, rx) = mpsc::channel::<Future<u32>>();
        let feeder = std::thread::spawn(move || {
            let mut n = 0;
            while let Ok(f) = rx.recv() {
                std::thread::sleep(Duration::from_millis(5)); // the feeder's own pace
                f.set_result(n).unwrap();
                n += 1;
            }
        });
        let tasks: Vec<Future<u32>> = (0..20)
            .map(|_| {
                let f = Future::<u32>::new();
                tx.send(f.clone()).unwrap();
                pool.submit_async(async move { *(&f).await.unwrap() })
                    .unwrap()
            })
            .collect();
        drop(tx);
        expect_timeout(&pool);
        let mut got: Vec<u32> = tasks.iter().map(|t| *t.result().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        feeder.join().unwrap();
    })
}

/// `n` tasks in a ring, each awaiting the next through `wait`.
fn ring_with<W, Fut>(pool: &ThreadPoolExecutor, n: usize, wait: W) -> Vec<Future<u32>>
where
    W: Fn(Future<u32>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = u32> + Send + 'static,
{
    let slots: Vec<Future<Future<u32>>> = (0..n).map(|_| Future::new()).collect();
    let tasks: Vec<Future<u32>> = (0..n)
        .map(|i| {
            let slot = slots[(i + 1) % n].clone();
            let wait = wait.clone();
            pool.submit_async(async move {
                let next = (&slot).await.unwrap().clone();
                drop(slot);
                wait(next).await
            })
            .unwrap()
        })
        .collect();
    for (slot, task) in slots.iter().zip(&tasks) {
        slot.set_result(task.clone()).unwrap();
    }
    tasks
}

#[test]
fn a_cycle_through_owned_await_is_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = ring_with(&pool, 3, |next| async move { next.await.unwrap_or(0) });
        dump_when(&pool, |d| suspended(d, 3));
        expect_stuck(&pool, &ids(&ring));
        pool.shutdown(true, true);
    })
}

#[test]
fn a_cycle_through_yield_until_done_is_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = ring_with(&pool, 2, |next| async move {
            next.yield_until_done().await;
            1
        });
        dump_when(&pool, |d| suspended(d, 2));
        expect_stuck(&pool, &ids(&ring));
        pool.shutdown(true, true);
    })
}

#[test]
fn a_cycle_next_to_a_sleeper_and_an_orphan_is_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 2);
        let sleeper = pool
            .submit_async(async { sleep(Duration::from_secs(3600)).await })
            .unwrap();
        let never = Future::<u32>::new();
        let n = never.clone();
        let orphan = pool
            .submit_async(async move { *(&n).await.unwrap() })
            .unwrap();
        let dump = dump_when(&pool, |d| suspended(d, 4));
        assert!(dump.task(sleeper.id()).unwrap().is_asleep());
        assert!(dump.task(orphan.id()).unwrap().awaits_outside());
        // The ring never finishes, whatever the sleeper and the orphan do: join never can.
        expect_stuck(&pool, &ids(&ring));
        pool.shutdown(true, true);
    })
}

#[test]
fn a_cycle_with_a_pool_thread_blocked_on_it_is_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 2);
        dump_when(&pool, |d| suspended(d, 2) && d.cycles().len() == 1);
        let member = ring[0].clone();
        let blocked = pool.submit(move || member.result().is_err()).unwrap();
        // Blocked and seen among the member's waiters (a dump can fall between the two).
        let dump = dump_when(&pool, |d| {
            d.blocked().len() == 1 && !d.blocked()[0].awaits().is_empty()
        });
        assert_eq!(dump.blocked()[0].awaits(), [ring[0].id()], "{dump}");
        // The thread waits for a task of a cycle: it can never wake, nor the pool finish.
        expect_stuck(&pool, &ids(&ring));
        pool.shutdown(true, true);
        assert!(*blocked.result().unwrap());
    })
}

#[test]
fn a_task_awaiting_its_groups_join_is_not_claimed_stuck() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let group = betterconcurrent::TaskGroup::new(&pool);
        let gate = Future::<()>::new();
        let g = gate.clone();
        group
            .submit_async(async move {
                (&g).await.unwrap();
            })
            .unwrap();
        let joined = group.joined();
        let waiter = pool
            .submit_async(async move { joined.await.is_ok() })
            .unwrap();
        let dump = dump_when(&pool, |d| suspended(d, 2));
        assert!(dump.cycles().is_empty(), "{dump}");
        assert!(dump.task(waiter.id()).unwrap().awaits_outside(), "{dump}");
        expect_timeout(&pool);
        gate.set_result(()).unwrap();
        assert!(*waiter.result().unwrap());
        let _ = Executor::current(); // none here: this thread is not the pool's
    })
}

#[test]
fn a_cycle_stays_stuck_while_other_threads_dump_the_pool() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 2);
        dump_when(&pool, |d| suspended(d, 2) && d.has_closed_cycle());
        // A monitoring thread dumping the pool (or other threads' join_timeouts) must not
        // change the verdict: the cycle is as closed as before.
        let stop = Arc::new(AtomicBool::new(false));
        let dumpers: Vec<_> = (0..3)
            .map(|_| {
                let ex = pool.executor();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = ex.dump();
                    }
                })
            })
            .collect();
        let mut verdicts = (0, 0);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            match pool.join_timeout(Duration::from_micros(100)) {
                Err(Error::Stuck(_)) => verdicts.0 += 1,
                Err(Error::Timeout) => verdicts.1 += 1,
                other => panic!("{other:?}"),
            }
            if !pool.dump().has_closed_cycle() {
                verdicts.1 += 1000;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for d in dumpers {
            d.join().unwrap();
        }
        pool.shutdown(true, true);
        assert_eq!(
            verdicts.1, 0,
            "{} Stuck, then Timeout or an open cycle {} times (x1000 = the dump's own verdict)",
            verdicts.0, verdicts.1
        );
        drop(ring);
    })
}
