//! Third dump review, verdicts: which waits say `Error::Stuck` and which say `Error::Timeout`
//! in a pool that mixes a closed cycle, a tail awaiting it, a closure blocked on a cycle
//! member, a task awaiting an orphaned future, a closure running outside the pool's view, and
//! a pending timer; and that a merely slow pool (a spawned closure still running, a timer
//! pending, an orphan awaited under a timeout) is never called stuck nor reported.
#![cfg(not(feature = "loom"))]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use betterconcurrent::executor::TaskPhase;
use betterconcurrent::time::{sleep, timeout};
use betterconcurrent::{Dump, Error, Future, ThreadPoolExecutor};
use common::dump::{cycle, dump_when, ids, rotated_to_min, AbortOnDrop};
use common::watchdog::within;

const SHORT: Duration = Duration::from_millis(150);
const QUIET: Duration = Duration::from_millis(1500);

fn reporting_pool(workers: usize) -> (AbortOnDrop, mpsc::Receiver<Dump>) {
    common::dump::reporting_pool(workers, Dump::clone)
}

fn is_stuck<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Stuck(_)))
}

fn is_timeout<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Timeout))
}

#[test]
fn each_timed_wait_in_a_mixed_pool_gets_the_right_verdict() {
    within(60, || {
        let (pool, reported) = reporting_pool(4);
        let ring = cycle(&pool, 2);
        // A tail: awaits a member of the ring.
        let member = ring[0].clone();
        let tail = pool
            .submit_async(async move { *(&member).await.unwrap() + 100 })
            .unwrap();
        // A task awaiting an orphaned future.
        let orphan = Future::<u32>::new();
        let awaited = orphan.clone();
        let orphan_waiter = pool
            .submit_async(async move { *(&awaited).await.unwrap() })
            .unwrap();
        // A closure running outside the pool's view (a channel), with a task awaiting it.
        let (release, released) = mpsc::channel::<u32>();
        let running = pool.submit(move || released.recv().unwrap()).unwrap();
        let awaited = running.clone();
        let on_running = pool
            .submit_async(async move { *(&awaited).await.unwrap() })
            .unwrap();
        // A task on a pending timer.
        let sleeper = pool
            .submit_async(async {
                sleep(Duration::from_secs(2)).await;
                7u32
            })
            .unwrap();
        let dump = dump_when(&pool, |dump| {
            [&tail, &orphan_waiter, &on_running, &sleeper]
                .iter()
                .all(|t| {
                    dump.task(t.id())
                        .is_some_and(|t| t.phase() == TaskPhase::Suspended)
                })
                && !dump.cycles().is_empty()
        });
        assert_eq!(dump.cycles(), [rotated_to_min(ids(&ring))], "{dump}");
        assert!(dump.has_closed_cycle(), "{dump}");
        assert!(dump.waits_on_closed_cycle(tail.id()), "{dump}");
        assert!(!dump.waits_on_closed_cycle(orphan_waiter.id()), "{dump}");
        assert!(!dump.waits_on_closed_cycle(on_running.id()), "{dump}");
        assert!(!dump.waits_on_closed_cycle(sleeper.id()), "{dump}");
        assert!(
            !dump.is_stuck(),
            "a closure still runs, so the pool is not stuck:\n{dump}"
        );

        let mut wrong = Vec::new();
        let mut check = |what: &str, ok: bool, got: String| {
            if !ok {
                wrong.push(format!("{what}: {got}"));
            }
        };
        for task in &ring {
            let r = task.result_timeout(SHORT).copied();
            check(
                "a ring member's result_timeout is Stuck",
                is_stuck(r.clone()),
                format!("{r:?}"),
            );
        }
        let r = tail.result_timeout(SHORT).copied();
        check(
            "the tail's result_timeout is Stuck",
            is_stuck(r.clone()),
            format!("{r:?}"),
        );
        let r = orphan_waiter.result_timeout(SHORT).copied();
        check(
            "the orphan waiter's is Timeout",
            is_timeout(r.clone()),
            format!("{r:?}"),
        );
        let r = orphan.result_timeout(SHORT).copied();
        check(
            "the orphan's own is Timeout",
            is_timeout(r.clone()),
            format!("{r:?}"),
        );
        let r = running.result_timeout(SHORT).copied();
        check(
            "the running closure's is Timeout",
            is_timeout(r.clone()),
            format!("{r:?}"),
        );
        let r = on_running.result_timeout(SHORT).copied();
        check(
            "the task awaiting it is Timeout",
            is_timeout(r.clone()),
            format!("{r:?}"),
        );
        let r = sleeper.result_timeout(SHORT).copied();
        check(
            "the sleeper's is Timeout",
            is_timeout(r.clone()),
            format!("{r:?}"),
        );
        let r = pool.wait_idle_timeout(SHORT);
        check(
            "the pool's wait_idle_timeout is Stuck",
            is_stuck(r.clone()),
            format!("{r:?}"),
        );
        let r = pool.join_timeout(SHORT);
        check(
            "the pool's join_timeout is Stuck",
            is_stuck(r.clone()),
            format!("{r:?}"),
        );
        // While the closure runs, the watcher never looks: no report.
        assert!(
            reported.try_recv().is_err(),
            "reported while a closure still ran"
        );
        assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));

        // Release everything but the ring: now the pool is stuck, and reported.
        release.send(5).unwrap();
        orphan.set_result(6).unwrap();
        assert_eq!(*on_running.result().unwrap(), 5);
        assert_eq!(*orphan_waiter.result().unwrap(), 6);
        assert_eq!(*sleeper.result().unwrap(), 7);
        let report = reported
            .recv_timeout(Duration::from_secs(10))
            .expect("reported once only the ring and its tail are left");
        assert_eq!(report.cycles(), [rotated_to_min(ids(&ring))], "{report}");
        assert!(report.task(tail.id()).is_some(), "{report}");
        assert!(ring[0].abort());
        assert!(tail.result().is_err());
    });
}

/// A closure blocked in a blocking wait (`result_timeout`) on a ring member: its wait is on
/// the cycle, so it says `Stuck`; a timed wait on the closure's own future waits on the cycle
/// too (through the blocked thread) and says so.
#[test]
fn a_closure_blocked_on_a_cycle_member_gets_stuck_and_so_does_its_waiter() {
    within(60, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(3)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 2);
        let member = ring[1].clone();
        let (started_tx, started) = mpsc::channel::<()>();
        let blocked = pool
            .submit(move || {
                started_tx.send(()).unwrap();
                // Long: the test's own wait on this closure times out first.
                match member.result_timeout(Duration::from_secs(3)) {
                    Err(Error::Stuck(_)) => "stuck",
                    Err(Error::Timeout) => "timeout",
                    Err(_) => "other error",
                    Ok(_) => "finished",
                }
            })
            .unwrap();
        started.recv().unwrap();
        // Blocked and seen among the member's waiters: a dump between the thread's listing as
        // blocked and its waker's registration is not yet the picture this test checks.
        let dump = dump_when(&pool, |dump| {
            dump.task(blocked.id())
                .is_some_and(|t| t.is_blocked() && !t.awaits().is_empty())
                && !dump.cycles().is_empty()
        });
        assert_eq!(
            dump.task(blocked.id()).unwrap().awaits(),
            [ring[1].id()],
            "{dump}"
        );
        assert!(dump.waits_on_closed_cycle(blocked.id()), "{dump}");
        let outer = blocked.result_timeout(SHORT).copied();
        assert!(
            is_stuck(outer.clone()),
            "a timed wait on a closure blocked on a deadlocked task: {outer:?}\n{dump}"
        );
        assert_eq!(*blocked.result().unwrap(), "stuck");
        assert!(ring[0].abort());
    });
}

/// Slow, not stuck: a `spawn`ed closure still running (blocked on a channel, outside the pool's
/// view) that will set the future a suspended task awaits; a chain of tasks onto a pending
/// sleep; a task awaiting an orphan under a `timeout`. No dump calls it stuck, the timed waits
/// say `Timeout`, no report comes, and everything finishes.
#[test]
fn a_slow_pool_is_never_stuck_nor_reported() {
    within(60, || {
        let (pool, reported) = reporting_pool(2);
        let (release, released) = mpsc::channel::<()>();
        let handoff = Future::<u32>::new();
        let setter = handoff.clone();
        pool.spawn(move |_| {
            released.recv().unwrap();
            setter.set_result(9).unwrap();
        })
        .unwrap();
        let awaited = handoff.clone();
        let consumer = pool
            .submit_async(async move { *(&awaited).await.unwrap() })
            .unwrap();
        let leaf = pool
            .submit_async(async {
                sleep(Duration::from_millis(1200)).await;
                1u32
            })
            .unwrap();
        let mut chain = vec![leaf.clone()];
        for _ in 0..20 {
            let prev = chain.last().unwrap().clone();
            chain.push(
                pool.submit_async(async move { *(&prev).await.unwrap() + 1 })
                    .unwrap(),
            );
        }
        let never = Future::<u32>::new();
        let awaited = never.clone();
        let patient = pool
            .submit_async(async move {
                timeout(Duration::from_millis(1200), &awaited)
                    .await
                    .is_err()
            })
            .unwrap();
        let dump = dump_when(&pool, |dump| {
            dump.task(consumer.id())
                .is_some_and(|t| t.phase() == TaskPhase::Suspended)
                && chain.iter().all(|t| {
                    dump.task(t.id())
                        .is_some_and(|t| t.phase() == TaskPhase::Suspended)
                })
                && dump
                    .task(patient.id())
                    .is_some_and(|t| t.phase() == TaskPhase::Suspended)
        });
        assert!(!dump.is_stuck(), "{dump}");
        assert!(!dump.has_closed_cycle(), "{dump}");
        assert!(dump.task(patient.id()).unwrap().is_asleep(), "{dump}");
        assert!(is_timeout(pool.join_timeout(SHORT)));
        assert!(is_timeout(pool.wait_idle_timeout(SHORT)));
        assert!(is_timeout(
            chain.last().unwrap().result_timeout(SHORT).copied()
        ));
        assert!(is_timeout(consumer.result_timeout(SHORT).copied()));
        assert!(is_timeout(patient.result_timeout(SHORT).copied()));
        assert!(reported.try_recv().is_err(), "a slow pool was reported");
        // The timers fire: the chain and the patient task end; the spawned closure still runs.
        assert_eq!(*chain.last().unwrap().result().unwrap(), 21);
        assert!(*patient.result().unwrap());
        assert!(
            reported.recv_timeout(QUIET).is_err(),
            "a pool with a closure still running was reported"
        );
        release.send(()).unwrap();
        assert_eq!(*consumer.result().unwrap(), 9);
        pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
        assert!(reported.try_recv().is_err());
    });
}

/// A pool thread blocked in a wait on an orphaned `Future::new` next to a ring: listed as
/// blocked, outside the pool's view, and the printed dump says so and names the ring.
#[test]
fn a_thread_blocked_outside_the_pools_view_is_printed_next_to_the_cycle() {
    within(60, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(3)
                .thread_name_prefix("r3blk")
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 2);
        let orphan = Future::<u32>::new();
        let awaited = orphan.clone();
        let blocked = pool.submit(move || *awaited.result().unwrap()).unwrap();
        let dump = dump_when(&pool, |dump| {
            dump.task(blocked.id()).is_some_and(|t| t.is_blocked()) && !dump.cycles().is_empty()
        });
        let task = dump.task(blocked.id()).unwrap();
        assert!(task.awaits().is_empty(), "{dump}");
        assert!(task.awaits_outside(), "{dump}");
        assert!(task.thread().unwrap().starts_with("r3blk_"), "{dump}");
        assert_eq!(dump.blocked().len(), 1, "{dump}");
        assert_eq!(dump.blocked()[0].task(), Some(blocked.id()), "{dump}");
        assert!(dump.is_stuck(), "{dump}");
        let text = dump.to_string();
        assert!(text.contains(&format!("{:#x}", blocked.id())), "{text}");
        assert!(text.contains("blocked for"), "{text}");
        assert!(text.contains("wait-for cycle"), "{text}");
        #[cfg(feature = "locations")]
        assert!(text.contains("tests/dump_review3_verdicts.rs:"), "{text}");
        assert!(is_stuck(pool.join_timeout(SHORT)));
        assert!(is_timeout(blocked.result_timeout(SHORT).copied()));
        orphan.set_result(3).unwrap();
        assert_eq!(*blocked.result().unwrap(), 3);
        assert!(ring[0].abort());
    });
}

/// The printed tree of a mixed stuck pool: a ring of four with a tail on two of its members, a
/// closure blocked on a third, a task awaiting an orphan, a sleeper. Every listed task has
/// exactly one line of its own (others say "listed above"), the cycle line names the four
/// members in order, and each line names where its task was submitted.
#[test]
fn the_printed_tree_of_a_mixed_pool_lists_every_task_once() {
    within(60, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(3)
                .build()
                .unwrap(),
        );
        let ring = cycle(&pool, 4);
        let tails: Vec<Future<u32>> = [0usize, 2]
            .iter()
            .map(|&i| {
                let member = ring[i].clone();
                pool.submit_async(async move { *(&member).await.unwrap() })
                    .unwrap()
            })
            .collect();
        let member = ring[3].clone();
        let blocked = pool.submit(move || member.result().is_err()).unwrap();
        let orphan = Future::<u32>::new();
        let awaited = orphan.clone();
        let orphan_waiter = pool
            .submit_async(async move { *(&awaited).await.unwrap() })
            .unwrap();
        let sleeper = pool
            .submit_async(async {
                sleep(Duration::from_secs(3)).await;
                0u32
            })
            .unwrap();
        let all: Vec<usize> = ring
            .iter()
            .chain(&tails)
            .chain([&orphan_waiter, &sleeper])
            .map(Future::id)
            .chain([blocked.id()])
            .collect();
        let dump = dump_when(&pool, |dump| {
            all.iter().all(|id| dump.task(*id).is_some())
                && dump
                    .task(blocked.id())
                    .is_some_and(|t| t.is_blocked() && !t.awaits().is_empty())
                && dump.has_closed_cycle()
        });
        assert!(dump.is_stuck(), "{dump}");
        let text = dump.to_string();
        for id in &all {
            let name = format!("task {id:#x} (");
            let own = text
                .lines()
                .filter(|l| l.trim_start().starts_with(&name) && !l.ends_with(", listed above"))
                .count();
            assert_eq!(own, 1, "{name} has {own} lines of its own:\n{text}");
        }
        let ring_ids = rotated_to_min(ids(&ring));
        let cycle_line = format!(
            "wait-for cycle: {} -> {:#x}",
            ring_ids
                .iter()
                .map(|id| format!("{id:#x}"))
                .collect::<Vec<_>>()
                .join(" -> "),
            ring_ids[0]
        );
        assert!(text.contains(&cycle_line), "{cycle_line}\n{text}");
        #[cfg(feature = "locations")]
        for line in text.lines().filter(|l| l.trim_start().starts_with("task ")) {
            assert!(line.contains("submitted at "), "{line}\n{text}");
        }
        assert!(text.contains("is asleep on the timer"), "{text}");
        assert!(text.contains("outside the pool's view"), "{text}");
        assert!(
            text.contains(&format!(
                "is blocked in a wait for task {:#x}",
                ring[3].id()
            )),
            "{text}"
        );
        orphan.set_result(1).unwrap();
        assert!(ring[1].abort());
        assert!(*blocked.result().unwrap());
        for tail in &tails {
            assert!(tail.result().is_err());
        }
        assert_eq!(*sleeper.result().unwrap(), 0);
    });
}
