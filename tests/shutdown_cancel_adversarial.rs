//! adversarial programs around `shutdown(_, cancel_futures = true)`, the registry of
//! unfinished async tasks, destructors and the pool's own drop. Every wait is bounded; each test
//! body runs under a watchdog so a hang is a failure, not a stuck test run.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{pool, DropCount};

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use betterconcurrent::{block_until_done, Error, Future, SubmitError};

const T: Duration = Duration::from_secs(10);

struct PanicOnDrop(Arc<AtomicUsize>);
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        if !std::thread::panicking() {
            panic!("destructor of a body panics");
        }
    }
}

/// Make sure the (only) worker of a 1-worker pool finished whatever it was polling.
fn flush_one_worker(ex: &betterconcurrent::Executor) {
    ex.submit(|| ()).unwrap().result_timeout(T).unwrap();
}

fn all_done_or_cancelled<T: std::fmt::Debug>(fs: &[Future<T>]) {
    assert!(block_until_done(fs, Some(T)), "some future never ended");
    for f in fs {
        match f.try_result() {
            Some(Ok(_)) | Some(Err(Error::Cancelled)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pool dropped by the destructor of an async body that is freed because nothing can wake
// it any more, with the last handle dropped on a thread outside the pool.
// ---------------------------------------------------------------------------------------------

#[test]
fn dropping_the_last_future_of_an_unwakeable_task_that_owns_the_pool_does_not_hang() {
    within(15, || {
        let pool = pool(1);
        let ex = pool.executor();
        let (polled_tx, polled_rx) = mpsc::channel();
        let fut = ex
            .submit_async(async move {
                let _owner = pool; // dropped with the body
                polled_tx.send(()).unwrap();
                std::future::pending::<()>().await
            })
            .unwrap();
        polled_rx.recv_timeout(T).unwrap();
        flush_one_worker(&ex);
        // The task is suspended on something that dropped its waker: our handle is the last.
        drop(fut);
        ex.join_timeout(T).unwrap();
    })
}

/// Same, but the body's destructor only waits for the pool to be idle, with a timeout: the
/// task it belongs to is still counted while its own destructor runs.
#[test]
fn a_freed_task_whose_destructor_waits_idle_sees_the_pool_converge() {
    within(15, || {
        let pool = pool(1);
        let ex = pool.executor();
        struct WaitIdleOnDrop(betterconcurrent::Executor, mpsc::Sender<Result<(), Error>>);
        impl Drop for WaitIdleOnDrop {
            fn drop(&mut self) {
                let r = self.0.wait_idle_timeout(Duration::from_secs(2));
                let _ = self.1.send(r);
            }
        }
        let (res_tx, res_rx) = mpsc::channel();
        let (polled_tx, polled_rx) = mpsc::channel();
        let ex2 = ex.clone();
        let fut = ex
            .submit_async(async move {
                let _w = WaitIdleOnDrop(ex2, res_tx);
                polled_tx.send(()).unwrap();
                std::future::pending::<()>().await
            })
            .unwrap();
        polled_rx.recv_timeout(T).unwrap();
        flush_one_worker(&ex);
        drop(fut);
        let r = res_rx.recv_timeout(T).unwrap();
        // A thread cannot wait for itself: Ok (converged) or WouldDeadlock are honest answers;
        // a Timeout means it waited for the very task being freed.
        assert!(
            !matches!(r, Err(Error::Timeout)),
            "wait_idle in the destructor of a freed task waited for itself: {r:?}"
        );
        drop(pool);
    })
}

// ---------------------------------------------------------------------------------------------
// Races between shutdown(cancel) and tasks completing / being woken.
// ---------------------------------------------------------------------------------------------

#[test]
fn shutdown_cancel_races_gates_being_completed() {
    within(25, || {
        for round in 0..40 {
            let pool = pool(2);
            let drops = Arc::new(AtomicUsize::new(0));
            let gates: Vec<Future<u32>> = (0..200).map(|_| Future::new()).collect();
            let fs: Vec<Future<u32>> = gates
                .iter()
                .map(|g| {
                    let g = g.clone();
                    let d = DropCount(drops.clone());
                    pool.submit_async(async move {
                        let _d = d;
                        let v = *(&g).await.unwrap();
                        common::yield_now().await;
                        v + 1
                    })
                    .unwrap()
                })
                .collect();
            let barrier = Arc::new(Barrier::new(2));
            let b2 = barrier.clone();
            let g2 = gates.clone();
            let setter = std::thread::spawn(move || {
                b2.wait();
                for (i, g) in g2.iter().enumerate() {
                    let _ = g.set_result(i as u32);
                }
            });
            barrier.wait();
            if round % 2 == 0 {
                pool.shutdown(true, true);
            } else {
                pool.shutdown(false, true);
            }
            setter.join().unwrap();
            all_done_or_cancelled(&fs);
            for (i, f) in fs.iter().enumerate() {
                if let Some(Ok(v)) = f.try_result() {
                    assert_eq!(*v, i as u32 + 1);
                }
            }
            drop(pool);
            drop(fs);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                200,
                "round {round}: bodies dropped"
            );
        }
    })
}

/// Tasks that yield forever (always woken) are ended by shutdown(true, true) at their next await.
#[test]
fn shutdown_cancel_ends_tasks_that_yield_forever() {
    within(20, || {
        for _ in 0..20 {
            let pool = pool(2);
            let drops = Arc::new(AtomicUsize::new(0));
            let polls = Arc::new(AtomicUsize::new(0));
            let warmed = Future::<()>::new();
            let fs: Vec<Future<()>> = (0..50)
                .map(|_| {
                    let d = DropCount(drops.clone());
                    let polls = polls.clone();
                    let warmed = warmed.clone();
                    pool.submit_async(async move {
                        let _d = d;
                        loop {
                            if polls.fetch_add(1, Ordering::Relaxed) == 1000 {
                                let _ = warmed.set_result(());
                            }
                            common::yield_now().await;
                        }
                    })
                    .unwrap()
                })
                .collect();
            // Let them spin a little (bounded by the library's own wait).
            warmed.result_timeout(T).unwrap();
            pool.shutdown(true, true);
            assert!(
                fs.iter().all(|f| f.done()),
                "shutdown(true, true) returned early"
            );
            assert!(fs
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
            assert_eq!(drops.load(Ordering::SeqCst), 50);
            let s = pool.stats();
            assert_eq!((s.tasks_outstanding, s.threads_alive), (0, 0));
        }
    })
}

/// Tasks woken from an outside thread (wakers kept outside, woken repeatedly) while the pool
/// shuts down cancelling.
#[test]
fn shutdown_cancel_races_outside_wakes() {
    struct Parked {
        slot: Arc<Mutex<Vec<std::task::Waker>>>,
    }
    impl std::future::Future for Parked {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.slot.lock().unwrap().push(cx.waker().clone());
            Poll::Pending
        }
    }
    within(25, || {
        for round in 0..30 {
            let pool = pool(2);
            let slot = Arc::new(Mutex::new(Vec::new()));
            let drops = Arc::new(AtomicUsize::new(0));
            let fs: Vec<Future<()>> = (0..100)
                .map(|_| {
                    let slot = slot.clone();
                    let d = DropCount(drops.clone());
                    pool.submit_async(async move {
                        let _d = d;
                        loop {
                            Parked { slot: slot.clone() }.await;
                        }
                    })
                    .unwrap()
                })
                .collect();
            let stop = Arc::new(AtomicBool::new(false));
            let (s2, slot2) = (stop.clone(), slot.clone());
            let waker_thread = std::thread::spawn(move || {
                while !s2.load(Ordering::SeqCst) {
                    let wakers: Vec<_> = std::mem::take(&mut *slot2.lock().unwrap());
                    for w in wakers {
                        w.wake();
                    }
                    std::thread::yield_now();
                }
            });
            pool.shutdown(true, true);
            stop.store(true, Ordering::SeqCst);
            waker_thread.join().unwrap();
            assert!(
                fs.iter()
                    .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))),
                "round {round}"
            );
            slot.lock().unwrap().clear();
            assert_eq!(drops.load(Ordering::SeqCst), 100, "round {round}");
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Tasks awaiting each other; tasks holding / dropping their own future.
// ---------------------------------------------------------------------------------------------

#[test]
fn two_tasks_awaiting_each_other_are_ended_by_shutdown_cancel() {
    within(15, || {
        let pool = pool(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let slot_a = Future::<Future<u32>>::new();
        let slot_b = Future::<Future<u32>>::new();
        let (sa, sb) = (slot_a.clone(), slot_b.clone());
        let (da, db) = (DropCount(drops.clone()), DropCount(drops.clone()));
        let a = pool
            .submit_async(async move {
                let _d = da;
                let b = (&sb).await.unwrap().clone();
                *(&b).await.unwrap() + 1
            })
            .unwrap();
        let b = pool
            .submit_async(async move {
                let _d = db;
                let a = (&sa).await.unwrap().clone();
                *(&a).await.unwrap() + 1
            })
            .unwrap();
        slot_a.set_result(a.clone()).unwrap();
        slot_b.set_result(b.clone()).unwrap();
        drop((slot_a, slot_b));
        // Two tasks awaiting each other are a closed wait-for cycle: the timed wait says so
        // (issue 16), naming the other task.
        match a.result_timeout(Duration::from_millis(100)) {
            Err(Error::Stuck(diagnosis)) => {
                assert!(diagnosis.contains(&format!("{:#x}", b.id())), "{diagnosis}")
            }
            other => panic!("expected Error::Stuck, got {other:?}"),
        }
        assert_eq!(pool.stats().tasks_suspended, 2);
        pool.shutdown(true, true);
        assert!(matches!(a.try_result(), Some(Err(Error::Cancelled))));
        assert!(matches!(b.try_result(), Some(Err(Error::Cancelled))));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    })
}

/// A task that owns a handle to its own future (a cycle), with the user's handle dropped.
#[test]
fn a_task_owning_its_own_future_is_ended_by_shutdown_cancel() {
    within(15, || {
        let pool = pool(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let slot = Future::<Future<()>>::new();
        let s = slot.clone();
        let d = DropCount(drops.clone());
        let me = pool
            .submit_async(async move {
                let _d = d;
                let _me = (&s).await.unwrap().clone();
                std::future::pending::<()>().await
            })
            .unwrap();
        slot.set_result(me.clone()).unwrap();
        let watch = me.clone();
        drop(me);
        drop(slot);
        flush_one_worker(&pool.executor());
        assert_eq!(pool.stats().tasks_suspended, 1);
        pool.shutdown(true, true);
        assert!(matches!(watch.try_result(), Some(Err(Error::Cancelled))));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    })
}

/// A task drops its own last future handle during its poll, then suspends on nothing: it is
/// freed on the worker and join converges.
#[test]
fn a_task_dropping_its_own_last_handle_mid_poll_lets_join_converge() {
    within(15, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let mut slots = Vec::new();
        for _ in 0..200 {
            let slot = Future::<Future<()>>::new();
            let s = slot.clone();
            let d = DropCount(drops.clone());
            let me = pool
                .submit_async(async move {
                    let _d = d;
                    let me = (&s).await.unwrap().clone();
                    drop(s);
                    drop(me);
                    std::future::pending::<()>().await
                })
                .unwrap();
            slot.set_result(me).unwrap(); // the slot now holds the only user handle
            slots.push(slot);
        }
        drop(slots);
        pool.join_timeout(T).unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 200);
    })
}

// ---------------------------------------------------------------------------------------------
// Panics in bodies and in destructors of bodies during shutdown.
// ---------------------------------------------------------------------------------------------

#[test]
fn panicking_destructors_of_suspended_queued_and_running_bodies_during_shutdown_cancel() {
    within(20, || {
        let pool = pool(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let mut fs = Vec::new();
        // suspended
        for _ in 0..10 {
            let p = PanicOnDrop(drops.clone());
            fs.push(
                pool.submit_async(async move {
                    let _p = p;
                    std::future::pending::<u32>().await
                })
                .unwrap(),
            );
        }
        flush_one_worker(&pool.executor());
        // running: inside its poll until released
        let in_poll = Arc::new(Barrier::new(2));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        {
            let p = PanicOnDrop(drops.clone());
            let in_poll = in_poll.clone();
            let release_rx = Mutex::new(release_rx);
            fs.push(
                pool.submit_async(async move {
                    let _p = p;
                    in_poll.wait();
                    let _ = release_rx.lock().unwrap().recv_timeout(T);
                    common::yield_now().await;
                    7
                })
                .unwrap(),
            );
        }
        in_poll.wait();
        // queued behind it
        for _ in 0..10 {
            let p = PanicOnDrop(drops.clone());
            fs.push(
                pool.submit_async(async move {
                    let _p = p;
                    1
                })
                .unwrap(),
            );
        }
        // and a body that panics when polled after the abort point (never polled: cancelled)
        fs.push(pool.submit_async(async { panic!("never polled") }).unwrap());
        pool.shutdown(false, true);
        release_tx.send(()).unwrap();
        assert!(block_until_done(&fs, Some(T)));
        for f in &fs {
            assert!(
                matches!(f.try_result(), Some(Err(Error::Cancelled))),
                "{:?}",
                f.try_result()
            );
        }
        within(10, move || drop(pool));
        assert_eq!(drops.load(Ordering::SeqCst), 21);
    })
}

// ---------------------------------------------------------------------------------------------
// Destructors that submit to the pool or drop it.
// ---------------------------------------------------------------------------------------------

struct SubmitOnDrop(
    betterconcurrent::Executor,
    Arc<Mutex<Vec<Result<(), SubmitError>>>>,
);
impl Drop for SubmitOnDrop {
    fn drop(&mut self) {
        let r = self.0.submit(|| ()).map(|_| ());
        let s = self.0.spawn(|_| ());
        let a = self.0.submit_async(async {}).map(|_| ());
        let mut out = self.1.lock().unwrap();
        out.push(r);
        out.push(s);
        out.push(a);
    }
}

#[test]
fn destructors_submitting_during_shutdown_cancel_are_refused() {
    within(15, || {
        let pool = pool(2);
        let results = Arc::new(Mutex::new(Vec::new()));
        let mut fs = Vec::new();
        for i in 0..40 {
            let s = SubmitOnDrop(pool.executor(), results.clone());
            if i % 2 == 0 {
                fs.push(
                    pool.submit_async(async move {
                        let _s = s;
                        std::future::pending::<()>().await
                    })
                    .unwrap(),
                );
            } else {
                fs.push(
                    pool.submit_async(async move {
                        let _s = s;
                        common::yield_now().await;
                    })
                    .unwrap(),
                );
            }
        }
        pool.shutdown(true, true);
        assert!(fs.iter().all(|f| f.done()));
        let results = results.lock().unwrap();
        assert_eq!(results.len(), 120);
        for r in results.iter() {
            // Those that completed normally ran their destructor while the pool was open.
            assert!(matches!(r, Ok(()) | Err(SubmitError::Shutdown)), "{r:?}");
        }
        let s = pool.stats();
        assert_eq!((s.tasks_outstanding, s.threads_alive), (0, 0));
    })
}

/// The owning handle lives inside a suspended async body; shutdown(true, true) is called through
/// a plain `Executor`. The abort drops the body, and with it the pool, on a worker.
#[test]
fn shutdown_cancel_ending_a_suspended_body_that_owns_the_pool() {
    within(15, || {
        for _ in 0..50 {
            let pool = pool(2);
            let ex = pool.executor();
            let never = Future::<()>::new();
            let n = never.clone();
            let owner = ex
                .submit_async(async move {
                    let _pool = pool;
                    let _ = (&n).await;
                })
                .unwrap();
            let others: Vec<_> = (0..20)
                .map(|_| {
                    let n = never.clone();
                    ex.submit_async(async move {
                        let _ = (&n).await;
                    })
                    .unwrap()
                })
                .collect();
            ex.shutdown(true, true);
            assert!(matches!(owner.try_result(), Some(Err(Error::Cancelled))));
            assert!(others.iter().all(|f| f.done()));
        }
    })
}

/// The owning handle inside a queued closure (not started): the drain drops it on the
/// shutting-down thread.
#[test]
fn shutdown_cancel_dropping_a_queued_async_body_that_owns_the_pool() {
    within(15, || {
        let pool = pool(1);
        let ex = pool.executor();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let started = Arc::new(Barrier::new(2));
        let st = started.clone();
        let blocker = ex
            .submit(move || {
                st.wait();
                let _ = release_rx.recv_timeout(T);
            })
            .unwrap();
        started.wait();
        let owner = ex
            .submit_async(async move {
                let _pool = pool;
            })
            .unwrap();
        ex.shutdown(false, true);
        assert!(matches!(owner.try_result(), Some(Err(Error::Cancelled))));
        release_tx.send(()).unwrap();
        blocker.result_timeout(T).unwrap();
        ex.shutdown(true, true);
        assert_eq!(ex.stats().threads_alive, 0);
    })
}

// ---------------------------------------------------------------------------------------------
// The pool dropped or shut down from inside its own tasks.
// ---------------------------------------------------------------------------------------------

#[test]
fn dropping_the_pool_inside_a_closure_lets_queued_work_finish() {
    within(15, || {
        let pool = pool(2);
        let ex = pool.executor();
        let ran = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let dropper = ex
            .submit(move || {
                let _ = release_rx.recv_timeout(T);
                drop(pool);
                "dropped"
            })
            .unwrap();
        let fs: Vec<_> = (0..100)
            .map(|_| {
                let ran = ran.clone();
                ex.submit(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap()
            })
            .collect();
        release_tx.send(()).unwrap();
        assert_eq!(*dropper.result_timeout(T).unwrap(), "dropped");
        ex.join_timeout(T).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 100);
        assert!(fs.iter().all(|f| f.try_result().is_some_and(|r| r.is_ok())));
        assert_eq!(ex.stats().threads_alive, 0);
    })
}

#[test]
fn dropping_the_pool_inside_an_async_task_then_awaiting() {
    within(15, || {
        let pool = pool(1);
        let ex = pool.executor();
        let ex2 = ex.clone();
        let f = ex
            .submit_async(async move {
                let early = ex2.submit(|| 40u32).unwrap();
                drop(pool);
                let late = ex2.submit(|| 1u32);
                let v = *(&early).await.unwrap();
                (v, late.is_err())
            })
            .unwrap();
        assert_eq!(*f.result_timeout(T).unwrap(), (40, true));
        ex.join_timeout(T).unwrap();
        assert_eq!(ex.stats().threads_alive, 0);
    })
}

#[test]
fn shutdown_cancel_from_inside_an_async_task() {
    within(15, || {
        let pool = pool(1);
        let ex = pool.executor();
        let never = Future::<()>::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let mut fs: Vec<Future<()>> = (0..20)
            .map(|_| {
                let n = never.clone();
                let d = DropCount(drops.clone());
                pool.submit_async(async move {
                    let _d = d;
                    let _ = (&n).await;
                })
                .unwrap()
            })
            .collect();
        let (ex2, n2, d2) = (ex.clone(), never.clone(), DropCount(drops.clone()));
        fs.push(
            pool.submit_async(async move {
                let _d = d2;
                ex2.shutdown(true, true); // must not wait for itself
                let _ = (&n2).await; // ended here
                unreachable!("an aborted task resumed");
            })
            .unwrap(),
        );
        assert!(block_until_done(&fs, Some(T)));
        assert!(fs
            .iter()
            .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
        within(10, move || drop(pool));
        assert_eq!(drops.load(Ordering::SeqCst), 21);
    })
}

#[test]
fn shutdown_cancel_from_inside_a_closure() {
    within(15, || {
        let pool = pool(1);
        let ex = pool.executor();
        let never = Future::<()>::new();
        let fs: Vec<Future<()>> = (0..20)
            .map(|_| {
                let n = never.clone();
                pool.submit_async(async move {
                    let _ = (&n).await;
                })
                .unwrap()
            })
            .collect();
        flush_one_worker(&ex);
        let ex2 = ex.clone();
        let closer = pool
            .submit(move || {
                ex2.shutdown(true, true);
                "closed"
            })
            .unwrap();
        assert_eq!(*closer.result_timeout(T).unwrap(), "closed");
        assert!(block_until_done(&fs, Some(T)));
        assert!(fs
            .iter()
            .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
        within(10, move || drop(pool));
    })
}

/// shutdown(true, true) from two threads at once while tasks suspend and complete.
#[test]
fn concurrent_cancelling_shutdowns_both_return() {
    within(25, || {
        for _ in 0..30 {
            let pool = pool(2);
            let ex = pool.executor();
            let gate = Future::<()>::new();
            let fs: Vec<_> = (0..100)
                .map(|i| {
                    let g = gate.clone();
                    ex.submit_async(async move {
                        if i % 3 == 0 {
                            let _ = (&g).await;
                        }
                        common::yield_now().await;
                        i
                    })
                    .unwrap()
                })
                .collect();
            let b = Arc::new(Barrier::new(3));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (ex, b) = (ex.clone(), b.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        ex.shutdown(true, true);
                    })
                })
                .collect();
            b.wait();
            let _ = gate.set_result(());
            for h in hs {
                h.join().unwrap();
            }
            all_done_or_cancelled(&fs);
            drop(pool);
        }
    })
}

/// Fairness: async tasks that keep yielding (re-queued through their waker) must not starve a
/// closure submitted from outside the pool, with more yielding tasks than workers or as many.
/// (A task woken during its own poll once went back to its worker's LIFO slot or deque, whose
/// owner end is last-in first-out, so the worker never reached older work.)
#[test]
fn yielding_async_tasks_do_not_starve_an_outside_submit() {
    for yielding in [8, 2] {
        within(20, move || {
            let pool = pool(2);
            let stop = Arc::new(AtomicBool::new(false));
            let warmed = Future::<()>::new();
            let polls = Arc::new(AtomicUsize::new(0));
            let fs: Vec<Future<()>> = (0..yielding)
                .map(|_| {
                    let (stop, warmed, polls) = (stop.clone(), warmed.clone(), polls.clone());
                    pool.submit_async(async move {
                        while !stop.load(Ordering::Relaxed) {
                            if polls.fetch_add(1, Ordering::Relaxed) == 1000 {
                                let _ = warmed.set_result(());
                            }
                            common::yield_now().await;
                        }
                    })
                    .unwrap()
                })
                .collect();
            warmed.result_timeout(T).unwrap();
            let probe = pool.submit(|| "ran").unwrap();
            let outcome = probe.result_timeout(Duration::from_secs(5)).copied();
            stop.store(true, Ordering::Relaxed);
            assert!(block_until_done(&fs, Some(T)));
            assert!(
                matches!(outcome, Ok("ran")),
                "{yielding} yielding tasks: an outside submit starved: {outcome:?}"
            );
            pool.join_timeout(T).unwrap();
        })
    }
}

/// A cooperative spin: one task yields until another task sets a flag. On one worker the other
/// task must get a turn (it was submitted by the yielding task itself).
#[test]
fn a_task_yielding_until_its_own_subtask_runs_does_not_livelock() {
    within(20, || {
        let pool = pool(1);
        let ex = pool.executor();
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let spins = Arc::new(AtomicUsize::new(0));
        let s2 = spins.clone();
        let parent = pool
            .submit_async(async move {
                let f3 = f2.clone();
                let _child = ex
                    .submit_async(async move { f3.store(true, Ordering::SeqCst) })
                    .unwrap();
                while !f2.load(Ordering::SeqCst) {
                    if s2.fetch_add(1, Ordering::Relaxed) > 2_000_000 {
                        return Err("the subtask never ran while its parent yielded");
                    }
                    common::yield_now().await;
                }
                Ok(())
            })
            .unwrap();
        let r = parent.result_timeout(T).copied();
        assert!(
            matches!(r, Ok(Ok(()))),
            "{r:?} after {} yields",
            spins.load(Ordering::Relaxed)
        );
        pool.join_timeout(T).unwrap();
    })
}

/// Same, with the flag-setting task submitted from outside.
#[test]
fn a_task_yielding_until_an_outside_submitted_task_runs_does_not_livelock() {
    within(20, || {
        let pool = pool(1);
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let started = Future::<()>::new();
        let st = started.clone();
        let parent = pool
            .submit_async(async move {
                let _ = st.set_result(());
                let mut spins = 0u64;
                while !f2.load(Ordering::SeqCst) {
                    spins += 1;
                    if spins > 2_000_000 {
                        return Err("the outside task never ran while this one yielded");
                    }
                    common::yield_now().await;
                }
                Ok(spins)
            })
            .unwrap();
        started.result_timeout(T).unwrap();
        let setter = pool
            .submit(move || flag.store(true, Ordering::SeqCst))
            .unwrap();
        let r = parent.result_timeout(T).copied();
        assert!(matches!(r, Ok(Ok(_))), "{r:?}");
        setter.result_timeout(T).unwrap();
        pool.join_timeout(T).unwrap();
    })
}

/// Refused submits whose work panics when dropped: the submit reports the refusal, no panic
/// escapes, and each body is dropped exactly once.
#[test]
fn refused_work_with_panicking_destructors() {
    within(15, || {
        let pool = pool(1);
        pool.shutdown(true, false);
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let p = PanicOnDrop(drops.clone());
            assert!(matches!(
                pool.submit(move || drop(p)),
                Err(SubmitError::Shutdown)
            ));
            let p = PanicOnDrop(drops.clone());
            assert!(matches!(
                pool.submit_async(async move { drop(p) }),
                Err(SubmitError::Shutdown)
            ));
            let p = PanicOnDrop(drops.clone());
            assert!(matches!(
                pool.spawn(move |_| drop(p)),
                Err(SubmitError::Shutdown)
            ));
        }
        assert_eq!(drops.load(Ordering::SeqCst), 30);
    })
}

/// An endless tree of async tasks (each submits two async children and awaits them) cut by
/// shutdown(true, true): every accepted task's future ends done, every body (accepted or
/// refused) is dropped exactly once, shutdown returns, nothing is left outstanding.
#[test]
fn shutdown_cancel_cuts_an_endless_async_tree() {
    type Registry = Arc<Mutex<Vec<Future<u64>>>>;
    fn node(
        ex: betterconcurrent::Executor,
        all: Registry,
        made: Arc<AtomicUsize>,
        drops: Arc<AtomicUsize>,
    ) -> Result<Future<u64>, SubmitError> {
        made.fetch_add(1, Ordering::SeqCst);
        let d = DropCount(drops.clone());
        let (ex2, all2) = (ex.clone(), all.clone());
        let f = ex.submit_async(async move {
            let _d = d;
            let mut kids = Vec::new();
            for _ in 0..2 {
                if let Ok(k) = node(ex2.clone(), all2.clone(), made.clone(), drops.clone()) {
                    kids.push(k);
                }
            }
            let mut sum = 1;
            for k in &kids {
                if let Ok(v) = k.await {
                    sum += v;
                }
            }
            sum
        })?;
        all.lock().unwrap().push(f.clone());
        Ok(f)
    }
    within(25, || {
        for _ in 0..20 {
            let pool = pool(2);
            let all: Registry = Arc::new(Mutex::new(Vec::new()));
            let made = Arc::new(AtomicUsize::new(0));
            let drops = Arc::new(AtomicUsize::new(0));
            let root = node(pool.executor(), all.clone(), made.clone(), drops.clone()).unwrap();
            // let the tree grow (bounded wait on the library's own future)
            let grown = Future::<()>::new();
            let g = grown.clone();
            let m2 = made.clone();
            let watcher = std::thread::spawn(move || {
                while m2.load(Ordering::SeqCst) < 5_000 {
                    std::thread::yield_now();
                }
                let _ = g.set_result(());
            });
            grown.result_timeout(T).unwrap();
            watcher.join().unwrap();
            pool.shutdown(true, true);
            assert!(root.done());
            let all = std::mem::take(&mut *all.lock().unwrap());
            assert!(
                all.iter().all(|f| f.done()),
                "an accepted task's future is not done"
            );
            drop(all);
            drop(root);
            let s = pool.stats();
            assert_eq!((s.tasks_outstanding, s.threads_alive), (0, 0), "{s:?}");
            drop(pool);
            assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
        }
    })
}
