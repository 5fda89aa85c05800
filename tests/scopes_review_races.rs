//! Review of scopes: endings racing with the scope's own work, repeated. A parent group's
//! cancel, `shutdown(cancel_futures)` and future cancels from other threads land while the
//! scope's body and its tasks keep spawning (closures, async bodies, with and without
//! futures). Each time: every captured value dropped exactly once, none after `scope` returned.
#![cfg(not(feature = "loom"))]

mod common;
use common::ledger::Ledger;
use common::watchdog::within;
use common::{pool, yield_now};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};

use betterconcurrent::{Future, Scope, TaskGroup};

fn check(ledger: &Ledger, round: usize) {
    assert_eq!(
        ledger.dropped_late.load(Ordering::SeqCst),
        0,
        "round {round}: a capture was dropped after the scope returned"
    );
    assert_eq!(
        ledger.dropped.load(Ordering::SeqCst),
        ledger.made.load(Ordering::SeqCst),
        "round {round}: every capture dropped exactly once"
    );
}

/// Spawn a small tree of mixed scoped work, each task capturing a `Tracked` and borrowing
/// `hits`; refused submits are fine (the work is dropped at once).
fn mixed_work<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    ledger: &'env Arc<Ledger>,
    hits: &'env AtomicUsize,
    futures: &'env Mutex<Vec<Future<usize>>>,
    depth: u32,
) {
    for i in 0..4 {
        let kept = ledger.make();
        let _ = scope.spawn(move |scope| {
            let _kept = kept;
            hits.fetch_add(1, Ordering::Relaxed);
            if depth > 0 {
                mixed_work(scope, ledger, hits, futures, depth - 1);
            }
        });
        let kept = ledger.make();
        let _ = scope.spawn_async(async move {
            let _kept = kept;
            yield_now().await;
            hits.fetch_add(1, Ordering::Relaxed);
        });
        let kept = ledger.make();
        if let Ok(future) = scope.submit(move || {
            let _kept = kept;
            hits.fetch_add(1, Ordering::Relaxed)
        }) {
            if i % 2 == 0 {
                future.cancel();
            }
            futures.lock().unwrap().push(future);
        }
        let kept = ledger.make();
        if let Ok(future) = scope.submit_async(async move {
            let _kept = kept;
            yield_now().await;
            yield_now().await;
            hits.fetch_add(1, Ordering::Relaxed)
        }) {
            futures.lock().unwrap().push(future);
        }
    }
}

#[test]
fn a_parent_group_cancelled_from_another_thread_while_the_scope_spawns() {
    within(120, || {
        let pool = pool(2);
        for round in 0..150 {
            let group = TaskGroup::new(&pool);
            let ledger = Ledger::new();
            let hits = AtomicUsize::new(0);
            let futures = Mutex::new(Vec::new());
            let start = Arc::new(Barrier::new(2));
            let canceller = {
                let (group, start, ledger) = (group.clone(), start.clone(), ledger.clone());
                std::thread::spawn(move || {
                    start.wait();
                    // Cancel once the scope made `threshold` of its 336 captures (a state, not
                    // a delay), so the cancel lands at a different point each round.
                    let threshold = (round * 37) % 336;
                    while ledger.made.load(Ordering::SeqCst) < threshold {
                        std::thread::yield_now();
                    }
                    group.cancel();
                })
            };
            group.executor().scope(|scope| {
                start.wait();
                mixed_work(scope, &ledger, &hits, &futures, 2);
            });
            ledger.returned();
            check(&ledger, round);
            if std::env::var_os("SCOPES_REVIEW_VERBOSE").is_some() {
                eprintln!(
                    "round {round}: made {} ran {}",
                    ledger.made.load(Ordering::SeqCst),
                    hits.load(Ordering::SeqCst)
                );
            }
            canceller.join().unwrap();
            for future in futures.into_inner().unwrap() {
                assert!(future.done(), "round {round}: a scoped future left pending");
            }
            group.join().unwrap();
        }
    });
}

#[test]
fn shutdown_cancel_futures_from_another_thread_while_the_scope_spawns() {
    within(120, || {
        for round in 0..60 {
            let pool = pool(1 + round % 2);
            let ledger = Ledger::new();
            let hits = AtomicUsize::new(0);
            let futures = Mutex::new(Vec::new());
            let start = Arc::new(Barrier::new(2));
            let executor = pool.executor();
            let stopper = {
                let (start, executor, ledger) = (start.clone(), executor.clone(), ledger.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let threshold = (round * 53) % 336;
                    while ledger.made.load(Ordering::SeqCst) < threshold {
                        std::thread::yield_now();
                    }
                    executor.shutdown(false, true);
                })
            };
            pool.scope(|scope| {
                start.wait();
                mixed_work(scope, &ledger, &hits, &futures, 2);
            });
            ledger.returned();
            check(&ledger, round);
            if std::env::var_os("SCOPES_REVIEW_VERBOSE").is_some() {
                eprintln!(
                    "round {round}: made {} ran {}",
                    ledger.made.load(Ordering::SeqCst),
                    hits.load(Ordering::SeqCst)
                );
            }
            stopper.join().unwrap();
            for future in futures.into_inner().unwrap() {
                assert!(future.done(), "round {round}: a scoped future left pending");
            }
        }
    });
}

#[test]
fn futures_cancelled_and_dropped_from_another_thread_while_their_tasks_start() {
    within(120, || {
        let pool = pool(2);
        for round in 0..100 {
            let ledger = Ledger::new();
            let ran = AtomicUsize::new(0);
            let (futures_tx, futures_rx) = mpsc::channel::<Future<()>>();
            let canceller = std::thread::spawn(move || {
                let mut cancelled = 0;
                for future in futures_rx {
                    cancelled += usize::from(future.cancel());
                }
                cancelled
            });
            pool.scope(|scope| {
                let ran = &ran;
                for _ in 0..64 {
                    let kept = ledger.make();
                    let future = scope
                        .submit(move || {
                            let _kept = kept;
                            ran.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    futures_tx.send(future).unwrap();
                    let kept = ledger.make();
                    let future = scope
                        .submit_async(async move {
                            let _kept = kept;
                            ran.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    futures_tx.send(future).unwrap();
                }
                drop(futures_tx);
            });
            ledger.returned();
            let cancelled = canceller.join().unwrap();
            check(&ledger, round);
            assert_eq!(ran.into_inner() + cancelled, 128, "round {round}");
        }
    });
}
