//! Issue 16's dump, first part: a pool's suspended tasks with their phases and the tasks each
//! awaits, wait-for cycles of two and three tasks named exactly, a task awaiting a future that
//! nothing completes reported as awaiting something outside the pool's view, a chain that is
//! not a cycle, and the printed tree.
#![cfg(not(feature = "loom"))]

use std::sync::mpsc;
use std::time::Duration;

use betterconcurrent::executor::TaskPhase;
use betterconcurrent::Future;

mod common;
use common::dump::{cycle, dump_when, suspended, AbortOnDrop};

#[test]
fn a_two_cycle_and_a_three_cycle_are_named_exactly() {
    let pool = AbortOnDrop(common::pool(2));
    let two = cycle(&pool, 2);
    let three = cycle(&pool, 3);
    let dump = dump_when(&pool, |dump| dump.cycles().len() == 2 && suspended(dump, 5));
    let mut cycles: Vec<Vec<usize>> = dump.cycles().to_vec();
    cycles.sort_by_key(Vec::len);
    let ids = |tasks: &[Future<u32>]| tasks.iter().map(Future::id).collect::<Vec<_>>();
    let rotated_to_min = |mut ids: Vec<usize>| {
        let min = (0..ids.len()).min_by_key(|&i| ids[i]).unwrap();
        ids.rotate_left(min);
        ids
    };
    assert_eq!(cycles[0], rotated_to_min(ids(&two)), "{dump}");
    assert_eq!(cycles[1], rotated_to_min(ids(&three)), "{dump}");
    for (i, task) in three.iter().enumerate() {
        let dumped = dump.task(task.id()).unwrap();
        assert_eq!(dumped.awaits(), [three[(i + 1) % 3].id()]);
        assert!(!dumped.awaits_outside());
    }
    let printed = dump.to_string();
    assert_eq!(printed.matches("wait-for cycle").count(), 2, "{printed}");
    for task in two.iter().chain(&three) {
        assert!(printed.contains(&format!("{:#x}", task.id())), "{printed}");
    }
    // Nothing else ends them: shutdown with cancel_futures aborts them.
    pool.shutdown(true, true);
    assert!(two.iter().chain(&three).all(|task| task.cancelled()));
}

#[test]
fn a_task_awaiting_a_future_nothing_completes_awaits_outside_the_pool() {
    let pool = AbortOnDrop(common::pool(2));
    let never = Future::<u32>::new();
    let awaited = never.clone();
    let orphaned = pool
        .submit_async(async move { *(&awaited).await.unwrap() })
        .unwrap();
    // And a chain onto it: a task awaiting the orphaned one.
    let inner = orphaned.clone();
    let outer = pool
        .submit_async(async move { *(&inner).await.unwrap() + 1 })
        .unwrap();
    let dump = dump_when(&pool, |dump| suspended(dump, 2));
    let orphaned_task = dump.task(orphaned.id()).unwrap();
    assert!(orphaned_task.awaits_outside(), "{dump}");
    assert!(orphaned_task.awaits().is_empty());
    let outer_task = dump.task(outer.id()).unwrap();
    assert_eq!(outer_task.awaits(), [orphaned.id()]);
    assert!(!outer_task.awaits_outside());
    assert!(dump.cycles().is_empty(), "a chain is not a cycle");
    assert_eq!(dump.outstanding(), 2);
    let printed = dump.to_string();
    let outer_line = printed
        .lines()
        .position(|line| line.contains(&format!("{:#x}", outer.id())))
        .unwrap();
    let orphan_line = printed.lines().nth(outer_line + 1).unwrap();
    assert!(
        orphan_line.starts_with("  task") && orphan_line.contains("outside the pool's view"),
        "the orphaned task is printed under the task awaiting it:\n{printed}"
    );
    never.set_result(41).unwrap();
    assert_eq!(*outer.result().unwrap(), 42);
    pool.wait_idle().unwrap();
    assert!(
        pool.dump().tasks().is_empty(),
        "finished tasks are not listed"
    );
}

#[test]
fn the_dump_reads_queued_and_running_phases_of_tasks_that_suspended_once() {
    let pool = AbortOnDrop(common::pool(1));
    let gate = Future::<()>::new();
    let (entered, inside) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    // Suspends once on the gate, then blocks its thread (an async task that blocks: running).
    let awaited = gate.clone();
    let runner = pool
        .submit_async(async move {
            (&awaited).await.unwrap();
            entered.send(()).unwrap();
            released.recv().unwrap();
        })
        .unwrap();
    // Suspends on the same gate; woken with the runner, it stays queued behind it.
    let awaited = gate.clone();
    let queued = pool
        .submit_async(async move {
            (&awaited).await.unwrap();
        })
        .unwrap();
    dump_when(&pool, |dump| suspended(dump, 2));
    gate.set_result(()).unwrap();
    inside.recv().unwrap();
    let dump = dump_when(&pool, |dump| {
        dump.task(queued.id())
            .is_some_and(|task| task.phase() == TaskPhase::Queued)
    });
    assert_eq!(
        dump.task(runner.id()).unwrap().phase(),
        TaskPhase::Running,
        "{dump}"
    );
    release.send(()).unwrap();
    runner.result().unwrap();
    queued.result().unwrap();
}

#[test]
fn join_timeout_on_a_stuck_pool_names_the_cycle_and_the_orphan() {
    let pool = AbortOnDrop(common::pool(2));
    let two = cycle(&pool, 2);
    let never = Future::<u32>::new();
    let awaited = never.clone();
    let orphaned = pool
        .submit_async(async move { *(&awaited).await.unwrap() })
        .unwrap();
    dump_when(&pool, |dump| suspended(dump, 3));
    let error = pool.join_timeout(Duration::from_millis(50)).unwrap_err();
    let betterconcurrent::Error::Stuck(diagnosis) = &error else {
        panic!("expected Error::Stuck, got {error:?}");
    };
    let cycle_line = diagnosis
        .lines()
        .find(|line| line.starts_with("wait-for cycle"))
        .unwrap_or_else(|| panic!("no cycle named in:\n{diagnosis}"));
    for task in &two {
        assert!(
            cycle_line.contains(&format!("{:#x}", task.id())),
            "{diagnosis}"
        );
    }
    assert!(
        diagnosis
            .lines()
            .any(|line| line.contains(&format!("{:#x}", orphaned.id()))
                && line.contains("outside the pool's view")),
        "{diagnosis}"
    );
    assert!(error.to_string().contains("deadlocked pool"));
}

#[test]
fn a_pool_stuck_only_on_an_outside_future_times_out_as_timeout() {
    let pool = AbortOnDrop(common::pool(2));
    let never = Future::<u32>::new();
    let awaited = never.clone();
    let waiting = pool
        .submit_async(async move { *(&awaited).await.unwrap() })
        .unwrap();
    let dump = dump_when(&pool, |dump| suspended(dump, 1));
    assert!(dump.is_stuck(), "the dump calls it stuck:\n{dump}");
    // But another thread may still set the future: the wait is an ordinary timeout.
    assert!(matches!(
        pool.join_timeout(Duration::from_millis(20)),
        Err(betterconcurrent::Error::Timeout)
    ));
    never.set_result(1).unwrap();
    assert_eq!(*waiting.result().unwrap(), 1);
}

#[test]
fn a_slow_pool_and_a_sleeping_pool_time_out_without_being_called_stuck() {
    let pool = AbortOnDrop(common::pool(1));
    let (entered, inside) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let slow = pool
        .submit(move || {
            entered.send(()).unwrap();
            released.recv().unwrap();
        })
        .unwrap();
    inside.recv().unwrap();
    assert!(matches!(
        pool.wait_idle_timeout(Duration::from_millis(20)),
        Err(betterconcurrent::Error::Timeout)
    ));
    release.send(()).unwrap();
    slow.result().unwrap();

    // Suspended on a sleep, and a task awaiting that one: waiting for time, not stuck.
    let sleeper = pool
        .submit_async(async {
            betterconcurrent::time::sleep(Duration::from_secs(3600)).await;
        })
        .unwrap();
    let inner = sleeper.clone();
    let waiting = pool
        .submit_async(async move {
            (&inner).await.ok();
        })
        .unwrap();
    let dump = dump_when(&pool, |dump| suspended(dump, 2));
    assert!(dump.task(sleeper.id()).unwrap().is_asleep(), "{dump}");
    assert_eq!(dump.task(waiting.id()).unwrap().awaits(), [sleeper.id()]);
    assert!(!dump.is_stuck(), "{dump}");
    assert!(matches!(
        pool.wait_idle_timeout(Duration::from_millis(20)),
        Err(betterconcurrent::Error::Timeout)
    ));
    assert!(sleeper.abort());
    waiting.result().unwrap();
}

#[test]
fn a_pool_thread_blocked_in_a_wait_is_listed_with_the_task_it_waits_for() {
    let pool = AbortOnDrop(common::pool(2));
    let gate = Future::<u32>::new();
    let awaited = gate.clone();
    let suspended_task = pool
        .submit_async(async move { *(&awaited).await.unwrap() })
        .unwrap();
    dump_when(&pool, |dump| suspended(dump, 1));
    // A closure that blocks its thread on the suspended task (a started task: nothing to run
    // in place, so the thread parks in the pool's blocking hook).
    let target = suspended_task.clone();
    let blocker_line = line!() + 1;
    let blocker = pool.submit(move || *target.result().unwrap() + 1).unwrap();
    let dump = dump_when(&pool, |dump| {
        dump.blocked()
            .iter()
            .any(|thread| !thread.awaits().is_empty())
    });
    assert_eq!(dump.blocked().len(), 1, "{dump}");
    assert_eq!(dump.blocked()[0].awaits(), [suspended_task.id()]);
    assert!(!dump.blocked()[0].name().is_empty());
    // Listed as a blocked task: the closure, where it was submitted, what it waits for.
    let listed = dump
        .task(blocker.id())
        .expect("the blocked closure is listed");
    assert!(listed.is_blocked(), "{dump}");
    assert_eq!(listed.kind(), betterconcurrent::executor::TaskKind::Closure);
    assert_eq!(listed.awaits(), [suspended_task.id()]);
    assert_eq!(dump.blocked()[0].task(), Some(blocker.id()));
    #[cfg(feature = "locations")]
    assert_eq!(listed.site().location().unwrap().line(), blocker_line);
    let _ = blocker_line;
    // Every unfinished task is suspended or blocked, and the chain ends at a future nobody
    // in the pool completes: it looks stuck (the test's thread completes it below).
    assert!(dump.is_stuck(), "{dump}");
    let printed = dump.to_string();
    assert!(
        printed.contains(&format!(
            "is blocked in a wait for task {:#x}",
            suspended_task.id()
        )),
        "{printed}"
    );
    gate.set_result(1).unwrap();
    assert_eq!(*blocker.result().unwrap(), 2);
    pool.wait_idle().unwrap();
    assert!(
        pool.dump().blocked().is_empty(),
        "it left the list when it woke"
    );
}

#[test]
fn result_timeout_on_a_task_of_a_deadlocked_pool_names_the_cycle() {
    let pool = AbortOnDrop(common::pool(2));
    let two = cycle(&pool, 2);
    dump_when(&pool, |dump| dump.cycles().len() == 1 && suspended(dump, 2));
    let error = two[0]
        .result_timeout(Duration::from_millis(20))
        .unwrap_err();
    let betterconcurrent::Error::Stuck(diagnosis) = &error else {
        panic!("expected Error::Stuck, got {error:?}");
    };
    assert!(
        diagnosis.contains(&format!("{:#x}", two[1].id())),
        "{diagnosis}"
    );
    // exception_timeout gives the wait's error, not a task failure.
    assert!(matches!(
        two[1].exception_timeout(Duration::from_millis(20)),
        Err(betterconcurrent::Error::Stuck(_))
    ));
    // A free future has no executor to ask: an ordinary timeout.
    let free = Future::<u32>::new();
    assert!(matches!(
        free.result_timeout(Duration::from_millis(1)),
        Err(betterconcurrent::Error::Timeout)
    ));
}
