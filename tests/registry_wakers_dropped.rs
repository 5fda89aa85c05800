//! Adversarial: registered (suspended) async tasks whose wakers are all dropped, alone and
//! racing shutdown(cancel_futures = true).
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::DropCount;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use betterconcurrent::{block_until_done, Error, Executor, Future, ThreadPoolExecutor};

const T: Duration = Duration::from_secs(15);

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(n)
        .build()
        .unwrap()
}

/// Sends its waker out on the first poll, then stays pending forever.
struct SendWaker(Option<mpsc::Sender<Waker>>);
impl std::future::Future for SendWaker {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Tasks suspend, hand their only waker to the test; the user's futures are dropped; dropping the
/// wakers frees the tasks (end_freed, which forgets the registry entry): join converges, each
/// body is dropped once, nothing is outstanding.
#[test]
fn freed_suspended_tasks_let_join_converge() {
    within(30, || {
        for workers in [1, 2, 4] {
            let pool = pool(workers);
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel();
            const N: usize = 500;
            for _ in 0..N {
                let (tx, d) = (tx.clone(), DropCount(drops.clone()));
                drop(
                    pool.submit_async(async move {
                        let _d = d;
                        SendWaker(Some(tx)).await;
                    })
                    .unwrap(),
                );
            }
            drop(tx);
            let wakers: Vec<Waker> = (0..N).map(|_| rx.recv_timeout(T).unwrap()).collect();
            assert_eq!(drops.load(Ordering::SeqCst), 0);
            drop(wakers);
            pool.wait_idle_timeout(T).unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), N);
            assert_eq!(pool.stats().tasks_outstanding, 0);
            pool.join().unwrap();
        }
    });
}

/// As above, but another thread drops the wakers one by one while shutdown(true, true) walks
/// the registry: each task is ended exactly once (freed or aborted), shutdown returns.
#[test]
fn dropping_wakers_races_shutdown_cancel() {
    within(60, || {
        for round in 0..100 {
            let pool = pool(1 + round % 3);
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel();
            let n = 20 + round % 30;
            let mut kept = Vec::new();
            for i in 0..n {
                let (tx, d) = (tx.clone(), DropCount(drops.clone()));
                let f = pool
                    .submit_async(async move {
                        let _d = d;
                        SendWaker(Some(tx)).await;
                    })
                    .unwrap();
                // Keep a third of the futures: those tasks are not freed by the waker drop and
                // must be cancelled by the walk.
                if i % 3 == 0 {
                    kept.push(f);
                }
            }
            drop(tx);
            let wakers: Vec<Waker> = (0..n).map(|_| rx.recv_timeout(T).unwrap()).collect();
            let go = Arc::new(Barrier::new(2));
            let g = go.clone();
            let dropper = std::thread::spawn(move || {
                g.wait();
                for w in wakers {
                    drop(w);
                }
            });
            go.wait();
            pool.shutdown(true, true);
            dropper.join().unwrap();
            assert!(block_until_done(&kept, Some(T)));
            for f in &kept {
                assert!(
                    matches!(f.try_result(), Some(Err(Error::Cancelled))),
                    "round {round}"
                );
            }
            assert_eq!(drops.load(Ordering::SeqCst), n, "round {round}");
            assert_eq!(pool.stats().tasks_outstanding, 0);
        }
    });
}

/// Wakers dropped *before* shutdown, the user's futures kept: the tasks stay (the futures hold
/// them) and shutdown(true, true) must reach them through the registry and cancel them.
#[test]
fn waker_less_tasks_held_by_their_futures_are_cancelled_by_shutdown() {
    within(30, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let fs: Vec<_> = (0..200)
            .map(|_| {
                let (tx, d) = (tx.clone(), DropCount(drops.clone()));
                pool.submit_async(async move {
                    let _d = d;
                    SendWaker(Some(tx)).await;
                })
                .unwrap()
            })
            .collect();
        drop(tx);
        for _ in 0..200 {
            drop(rx.recv_timeout(T).unwrap());
        }
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        pool.shutdown(true, true);
        assert!(fs
            .iter()
            .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
        assert_eq!(drops.load(Ordering::SeqCst), 200);
    });
}

/// Tasks that drop their own waker during their first poll (std::future::pending), futures
/// dropped at once, racing shutdown(true, true) immediately: freed in the worker's run after
/// the hook registered them, or aborted by the hook. Each body dropped once; no hang.
#[test]
fn tasks_freed_in_their_first_poll_race_shutdown_cancel() {
    within(60, || {
        for round in 0..300 {
            let pool = pool(1 + round % 2);
            let drops = Arc::new(AtomicUsize::new(0));
            let n = 1 + round % 13;
            for _ in 0..n {
                let d = DropCount(drops.clone());
                drop(
                    pool.submit_async(async move {
                        let _d = d;
                        std::future::pending::<()>().await;
                    })
                    .unwrap(),
                );
            }
            pool.shutdown(true, true);
            assert_eq!(drops.load(Ordering::SeqCst), n, "round {round}");
        }
    });
}

/// A body that owns the only handle of the future it awaits (a cycle: body -> future -> waker
/// -> body), its task future dropped: only shutdown(true, true) can end it, and must.
#[test]
fn self_referencing_suspended_tasks_are_ended_by_shutdown_cancel() {
    within(30, || {
        let pool = pool(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel::<()>();
        for _ in 0..100 {
            let (d, tx) = (DropCount(drops.clone()), tx.clone());
            drop(
                pool.submit_async(async move {
                    let _d = d;
                    let mine = Future::<()>::new();
                    tx.send(()).unwrap();
                    let _ = (&mine).await;
                })
                .unwrap(),
            );
        }
        for _ in 0..100 {
            rx.recv_timeout(T).unwrap();
        }
        assert!(pool.wait_idle_timeout(Duration::from_millis(50)).is_err());
        pool.shutdown(true, true);
        assert_eq!(drops.load(Ordering::SeqCst), 100);
        assert_eq!(pool.stats().tasks_outstanding, 0);
    });
}

/// A freed task's destructor (run by end_freed on a worker, because another task of the pool
/// drops the waker) calls shutdown(true, true) on its own pool, and join (which must refuse,
/// not deadlock); the other suspended tasks are cancelled; an outside join then returns.
#[test]
fn a_freed_tasks_destructor_shuts_its_pool_down_with_cancel() {
    struct OnDrop(Executor, Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.shutdown(true, true);
            assert!(matches!(self.0.join(), Err(Error::WouldDeadlock)));
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    within(30, || {
        for _ in 0..50 {
            let pool = pool(2);
            let drops = Arc::new(AtomicUsize::new(0));
            let never = Future::<()>::new();
            let others: Vec<_> = (0..20)
                .map(|_| {
                    let (n, d) = (never.clone(), DropCount(drops.clone()));
                    pool.submit_async(async move {
                        let _d = d;
                        (&n).await.unwrap();
                    })
                    .unwrap()
                })
                .collect();
            let (tx, rx) = mpsc::channel();
            let guard = OnDrop(pool.executor(), drops.clone());
            drop(
                pool.submit_async(async move {
                    let _g = guard;
                    SendWaker(Some(tx)).await;
                })
                .unwrap(),
            );
            let waker = rx.recv_timeout(T).unwrap();
            // Drop the waker on a worker.
            pool.submit(move || drop(waker)).unwrap();
            assert!(block_until_done(&others, Some(T)));
            assert!(others
                .iter()
                .all(|f| matches!(f.try_result(), Some(Err(Error::Cancelled)))));
            pool.join().unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), 21);
        }
    });
}
