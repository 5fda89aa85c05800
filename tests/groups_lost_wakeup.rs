//! Adversarial review of task groups: an async task awaiting a group's `joined()` must be
//! resumed when the group empties, however the group reaches zero. Here the zero is reached
//! when an idle worker gives back its prepaid share of the group (`worker::run`), right after
//! an async task of the group ended on it.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::mpsc;
use std::time::Duration;

use betterconcurrent::{Future, TaskGroup};

#[test]
fn an_awaited_join_is_resumed_when_idle_workers_give_back_the_groups_shares() {
    within(240, || {
        let pool = pool(2);
        for round in 0..3000 {
            let group = TaskGroup::new(&pool);
            let gate = Future::<()>::new();
            // Two async tasks of the group, suspended on one gate: opened, both workers run
            // one each and go idle at about the same time.
            for _ in 0..2 {
                let gate = gate.clone();
                drop(
                    group
                        .submit_async(async move {
                            (&gate).await.unwrap();
                        })
                        .unwrap(),
                );
            }
            let (polled_tx, polled_rx) = mpsc::channel();
            let g = group.clone();
            let waiter = pool
                .submit_async(async move {
                    polled_tx.send(()).unwrap();
                    g.joined().await.unwrap();
                })
                .unwrap();
            polled_rx.recv().unwrap();
            gate.set_result(()).unwrap();
            group.join().unwrap();
            match waiter.result_timeout(Duration::from_secs(10)) {
                Ok(()) => {}
                Err(e) => panic!(
                    "round {round}: the task awaiting joined() was never resumed ({e:?}); \
                     the group is idle: {:?}; pool: {:?}",
                    group.join_timeout(Duration::ZERO),
                    pool.stats()
                ),
            }
        }
        pool.wait_idle().unwrap();
    });
}

/// The same with the group's tasks as closures (the worker marks closure code may-block, so a
/// wake from there goes to its stealable deque, not its hidden LIFO slot): the differential.
#[test]
fn the_same_with_closure_tasks() {
    within(240, || {
        let pool = pool(2);
        for round in 0..3000 {
            let group = TaskGroup::new(&pool);
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let go_rx = std::sync::Arc::new(std::sync::Mutex::new(go_rx));
            for _ in 0..2 {
                let go_rx = go_rx.clone();
                group
                    .spawn(move |_| {
                        let _ = go_rx.lock().unwrap().recv();
                    })
                    .unwrap();
            }
            let (polled_tx, polled_rx) = mpsc::channel();
            let g = group.clone();
            let waiter = pool
                .submit_async(async move {
                    polled_tx.send(()).unwrap();
                    g.joined().await.unwrap();
                })
                .unwrap();
            go_tx.send(()).unwrap();
            go_tx.send(()).unwrap();
            polled_rx.recv().unwrap();
            group.join().unwrap();
            match waiter.result_timeout(Duration::from_secs(10)) {
                Ok(()) => {}
                Err(e) => panic!(
                    "round {round}: the task awaiting joined() was never resumed ({e:?}); pool: {:?}",
                    pool.stats()
                ),
            }
        }
        pool.wait_idle().unwrap();
    });
}
