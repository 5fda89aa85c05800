//! Review of dumping under concurrency: several threads dumping without pause while tasks
//! suspend, complete and are aborted (no panic, no deadlock, no task run twice or lost, each
//! dump self-consistent, memory back to its baseline afterwards); dumping from inside a pool
//! closure and an async task; and a suspended task freed while a dump holds it, whose
//! destructor (run on the dumping thread) itself dumps the pool and blocks for a while, without
//! stopping other threads' dumps.
#![cfg(not(feature = "loom"))]

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use betterconcurrent::executor::TaskPhase;
use betterconcurrent::{Dump, Executor, Future, ThreadPoolExecutor};

mod common;
use common::counting_allocator::{live_bytes, CountingAllocator};
use common::dump::{dump_when, suspended, AbortOnDrop};
use common::watchdog::within;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn check_consistent(dump: &Dump) {
    let ids: HashSet<usize> = dump.tasks().iter().map(|t| t.id()).collect();
    assert_eq!(ids.len(), dump.tasks().len(), "a task listed twice");
    for t in dump.tasks() {
        assert!(t.awaits().iter().all(|id| ids.contains(id)));
        assert_ne!(t.phase(), TaskPhase::Complete, "a finished task listed");
    }
    for c in dump.cycles() {
        assert!(c.iter().all(|id| ids.contains(id)));
    }
    let _ = dump.to_string();
}

/// One round: `n` async tasks that suspend on gates set by a setter thread, some aborted by an
/// aborter thread, with `dumpers` threads dumping all along. Returns the body-run counters.
fn round(n: usize, dumpers: usize) {
    let pool = AbortOnDrop(
        ThreadPoolExecutor::builder()
            .max_workers(3)
            .build()
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let dumps = Arc::new(AtomicUsize::new(0));
    let dumper_threads: Vec<_> = (0..dumpers)
        .map(|_| {
            let ex = pool.executor();
            let stop = stop.clone();
            let dumps = dumps.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    check_consistent(&ex.dump());
                    dumps.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let gates: Vec<Future<u32>> = (0..n).map(|_| Future::new()).collect();
    let tasks: Vec<Future<u32>> = (0..n)
        .map(|i| {
            let gate = gates[i].clone();
            let prev = (i > 0).then(|| gates[i - 1].clone());
            let runs = runs.clone();
            pool.submit_async(async move {
                runs[i].fetch_add(1, Ordering::SeqCst);
                let v = *(&gate).await.unwrap();
                if let Some(prev) = prev {
                    let _ = (&prev).await;
                }
                common::yield_now().await;
                v + 1
            })
            .unwrap()
        })
        .collect();
    let aborted: Vec<bool> = std::thread::scope(|s| {
        let aborter = s.spawn(|| {
            (0..n)
                .map(|i| i % 7 == 3 && tasks[i].abort())
                .collect::<Vec<_>>()
        });
        for (i, g) in gates.iter().enumerate().rev() {
            g.set_result(i as u32).unwrap();
        }
        aborter.join().unwrap()
    });
    for (i, t) in tasks.iter().enumerate() {
        match t.result() {
            Ok(v) => assert_eq!(*v, i as u32 + 1),
            Err(e) => assert!(aborted[i] && t.cancelled(), "task {i}: {e:?}"),
        }
    }
    pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
    stop.store(true, Ordering::Relaxed);
    for d in dumper_threads {
        d.join().expect("a dumper panicked");
    }
    assert!(dumps.load(Ordering::Relaxed) > 0);
    for (i, r) in runs.iter().enumerate() {
        let r = r.load(Ordering::SeqCst);
        assert!(r <= 1, "task {i} body started {r} times");
        assert!(
            r == 1 || aborted[i],
            "task {i} never ran and was not aborted"
        );
    }
    let last = pool.dump();
    assert!(last.tasks().is_empty(), "{last}");
    assert_eq!(last.outstanding(), 0);
}

#[test]
fn dumping_from_many_threads_while_tasks_churn() {
    within(30, || {
        round(200, 2); // warm up: thread locals, the timer, lazily built statics
        let before = live_bytes();
        for _ in 0..3 {
            round(1500, 4);
        }
        let after = live_bytes();
        assert!(
            after - before < 256 * 1024,
            "live heap grew by {} bytes over three rounds",
            after - before
        );
    })
}

#[test]
fn dumping_from_inside_pool_tasks() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let gate = Future::<()>::new();
        let g = gate.clone();
        let waiting = pool
            .submit_async(async move {
                (&g).await.unwrap();
            })
            .unwrap();
        dump_when(&pool, |d| suspended(d, 1));
        let id = waiting.id();
        let from_closure = pool
            .submit(move || {
                let d = Executor::current().unwrap().dump();
                (
                    d.task(id).map(|t| t.phase()),
                    d.outstanding(),
                    d.to_string(),
                )
            })
            .unwrap();
        let (phase, outstanding, _) = from_closure.result().unwrap().clone();
        assert_eq!(phase, Some(TaskPhase::Suspended));
        assert_eq!(outstanding, 2, "the waiting task and the dumping closure");
        let self_slot = Future::<usize>::new();
        let s = self_slot.clone();
        let from_async = pool
            .submit_async(async move {
                let me = *(&s).await.unwrap();
                let d = Executor::current().unwrap().dump();
                d.task(me).map(|t| t.phase())
            })
            .unwrap();
        let me = from_async.id();
        dump_when(&pool, |d| {
            d.task(me)
                .is_some_and(|t| t.phase() == TaskPhase::Suspended)
        });
        self_slot.set_result(me).unwrap();
        // It suspended once, so it is listed, as running, in its own dump.
        assert_eq!(*from_async.result().unwrap(), Some(TaskPhase::Running));
        gate.set_result(()).unwrap();
        waiting.result().unwrap();
    })
}

/// A future that parks its waker in a shared slot and never completes by itself.
struct Parked(Arc<Mutex<Option<Waker>>>);

impl std::future::Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Dropped with the task's body: dumps the pool, then blocks until told to go on.
struct DumpsOnDrop {
    executor: Executor,
    dropped: mpsc::Sender<(std::thread::ThreadId, usize)>,
    go_on: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl Drop for DumpsOnDrop {
    fn drop(&mut self) {
        let d = self.executor.dump();
        check_consistent(&d);
        let _ = self
            .dropped
            .send((std::thread::current().id(), d.tasks().len()));
        let _ = self
            .go_on
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_millis(200));
    }
}

#[test]
fn a_task_freed_under_a_dump_runs_its_destructor_safely() {
    within(30, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let (dropped_tx, dropped_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Arc::new(Mutex::new(go_rx));
        let stop = Arc::new(AtomicBool::new(false));
        let dumper = {
            let ex = pool.executor();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    check_consistent(&ex.dump());
                    n += 1;
                }
                (std::thread::current().id(), n)
            })
        };
        let mut freed_on_dumper = 0;
        let deadline = Instant::now() + Duration::from_secs(8);
        let mut rounds = 0;
        while Instant::now() < deadline && (freed_on_dumper == 0 || rounds < 200) {
            rounds += 1;
            let slot = Arc::new(Mutex::new(None));
            let guard = DumpsOnDrop {
                executor: pool.executor(),
                dropped: dropped_tx.clone(),
                go_on: go_rx.clone(),
            };
            let parked = Parked(slot.clone());
            let task = pool
                .submit_async(async move {
                    let _guard = guard;
                    parked.await;
                })
                .unwrap();
            let start = Instant::now();
            let id = task.id();
            while slot.lock().unwrap().is_none()
                || !pool
                    .dump()
                    .task(id)
                    .is_some_and(|t| t.phase() == TaskPhase::Suspended)
            {
                assert!(start.elapsed() < Duration::from_secs(5));
                std::thread::yield_now();
            }
            // The waker is now the last strong handle but for the registry's weak one and any
            // dump's.
            drop(task);
            drop(slot.lock().unwrap().take());
            drop(slot);
            let (thread, _) = dropped_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the freed task's destructor never ran (or hung in a dump)");
            let _ = go_tx.send(());
            if thread != std::thread::current().id() {
                freed_on_dumper += 1;
            }
            // While it was blocked, the pool went on: a closure still runs.
            assert_eq!(*pool.submit(|| 3).unwrap().result().unwrap(), 3);
            let start = Instant::now();
            while pool.dump().task(id).is_some() {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "a freed task still listed"
                );
                std::thread::yield_now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        let (_, n) = dumper.join().expect("the dumping thread panicked");
        assert!(n > 0);
        pool.wait_idle_timeout(Duration::from_secs(5)).unwrap();
        eprintln!("{rounds} rounds, {freed_on_dumper} freed on the dumping thread");
    })
}

#[test]
fn destructors_of_a_cycle_aborted_by_shutdown_may_dump_the_pool() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let (dropped_tx, dropped_rx) = mpsc::channel();
        let (_go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Arc::new(Mutex::new(go_rx));
        let n = 3;
        let slots: Vec<Future<Future<u32>>> = (0..n).map(|_| Future::new()).collect();
        let tasks: Vec<Future<u32>> = (0..n)
            .map(|i| {
                let slot = slots[(i + 1) % n].clone();
                let guard = DumpsOnDrop {
                    executor: pool.executor(),
                    dropped: dropped_tx.clone(),
                    go_on: go_rx.clone(),
                };
                pool.submit_async(async move {
                    let _guard = guard;
                    let next = (&slot).await.unwrap().clone();
                    drop(slot);
                    *(&next).await.unwrap()
                })
                .unwrap()
            })
            .collect();
        for (slot, task) in slots.iter().zip(&tasks) {
            slot.set_result(task.clone()).unwrap();
        }
        dump_when(&pool, |d| suspended(d, n) && d.cycles().len() == 1);
        pool.shutdown(true, true);
        assert!(tasks.iter().all(Future::cancelled));
        for _ in 0..n {
            dropped_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("a destructor never ran");
        }
        let d = pool.dump();
        assert!(d.tasks().is_empty() && d.cycles().is_empty(), "{d}");
    })
}
