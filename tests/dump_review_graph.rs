//! Review of the dump on wait-for graphs that are not simple chains and rings: a task polling
//! several futures at once with its own waker (a hand-written join), so one task awaits many.
//! Checks that every reported cycle really is one (each member awaits the next, the last
//! awaits the first) when a strongly connected component is not a simple ring (a supervisor
//! awaiting workers that each await the supervisor); that a task polling the same future twice
//! is not listed as awaiting it twice; and that a task awaiting 5,000 tasks at once is dumped
//! in time linear in the graph (not quadratic in one task's out-degree).
#![cfg(not(feature = "loom"))]

use std::future::IntoFuture as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use betterconcurrent::{Dump, Future, ThreadPoolExecutor};

mod common;
use common::dump::{dump_when, suspended, AbortOnDrop};
use common::watchdog::within;

/// Polls every one of its futures with the task's own waker until all are done (a join, as
/// `futures::join_all` of a few does), keeping each wait registered between polls.
struct PollAll(
    Vec<Option<Pin<Box<betterconcurrent::OwnedOutcome<u32>>>>>,
    u32,
);

fn poll_all(futures: Vec<Future<u32>>) -> PollAll {
    PollAll(
        futures
            .into_iter()
            .map(|f| Some(Box::pin(f.into_future())))
            .collect(),
        0,
    )
}

impl std::future::Future for PollAll {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let this = &mut *self;
        let mut pending = false;
        for slot in this.0.iter_mut() {
            if let Some(outcome) = slot {
                match outcome.as_mut().poll(cx) {
                    Poll::Ready(r) => {
                        this.1 += r.unwrap_or(0);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(this.1)
        }
    }
}

fn assert_real_cycles(dump: &Dump) {
    for c in dump.cycles() {
        for i in 0..c.len() {
            let next = c[(i + 1) % c.len()];
            assert!(
                dump.task(c[i]).unwrap().awaits().contains(&next),
                "reported cycle {:x?}: {:#x} does not await {next:#x}\n{dump}",
                c,
                c[i]
            );
        }
    }
}

#[test]
fn a_supervisor_and_its_workers_form_only_real_cycles() {
    within(10, || {
        // Each round: a supervisor awaiting k workers at once, each worker awaiting the
        // supervisor. Only a round where a worker has the smallest id exercises the walk from
        // a worker; retry until one does.
        let mut checked = 0;
        for round in 0..40 {
            let pool = AbortOnDrop(
                ThreadPoolExecutor::builder()
                    .max_workers(2)
                    .build()
                    .unwrap(),
            );
            let k = 4;
            // Every task, supervisor or worker, runs the same body (so their cells are of one
            // size and come from one of the allocator's bins): await the list its slot gets.
            let member = |pool: &ThreadPoolExecutor, slot: Future<Vec<Future<u32>>>| {
                pool.submit_async(async move {
                    let awaited = (&slot).await.unwrap().clone();
                    drop(slot);
                    poll_all(awaited).await
                })
                .unwrap()
            };
            let sup_slot = Future::new();
            let worker_slots: Vec<Future<Vec<Future<u32>>>> =
                (0..k).map(|_| Future::new()).collect();
            // Which is allocated first alternates, so rounds put either first in address order.
            let (sup, workers) = if round % 2 == 0 {
                let sup = member(&pool, sup_slot.clone());
                let workers: Vec<Future<u32>> = worker_slots
                    .iter()
                    .map(|slot| member(&pool, slot.clone()))
                    .collect();
                (sup, workers)
            } else {
                let workers: Vec<Future<u32>> = worker_slots
                    .iter()
                    .map(|slot| member(&pool, slot.clone()))
                    .collect();
                (member(&pool, sup_slot.clone()), workers)
            };
            for slot in &worker_slots {
                slot.set_result(vec![sup.clone()]).unwrap();
            }
            sup_slot.set_result(workers.clone()).unwrap();
            let dump = dump_when(&pool, |d| suspended(d, k + 1) && !d.cycles().is_empty());
            assert_eq!(dump.task(sup.id()).unwrap().awaits().len(), k, "{dump}");
            assert_real_cycles(&dump);
            let min_worker = workers.iter().map(Future::id).min().unwrap();
            if min_worker < sup.id() {
                checked += 1;
                if checked >= 3 {
                    break;
                }
            }
            pool.shutdown(true, true);
        }
        assert!(checked > 0, "no round put a worker first");
    })
}

#[test]
fn polling_one_future_twice_awaits_it_once() {
    within(10, || {
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(2)
                .build()
                .unwrap(),
        );
        let gate = Future::<u32>::new();
        let g = gate.clone();
        let inner = pool
            .submit_async(async move { *(&g).await.unwrap() })
            .unwrap();
        let outer = pool
            .submit_async(poll_all(vec![inner.clone(), inner.clone()]))
            .unwrap();
        let dump = dump_when(&pool, |d| suspended(d, 2));
        assert_eq!(
            dump.task(outer.id()).unwrap().awaits(),
            [inner.id()],
            "{dump}"
        );
        let printed = dump.to_string();
        assert!(!printed.contains("listed above"), "{printed}");
        gate.set_result(2).unwrap();
        assert_eq!(*outer.result().unwrap(), 4);
    })
}

#[test]
fn a_task_awaiting_five_thousand_tasks_dumps_quickly() {
    within(30, || {
        const N: usize = 5_000;
        let pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let gate = Future::<u32>::new();
        let leaves: Vec<Future<u32>> = (0..N)
            .map(|_| {
                let g = gate.clone();
                pool.submit_async(async move { *(&g).await.unwrap() })
                    .unwrap()
            })
            .collect();
        let hub = pool.submit_async(poll_all(leaves.clone())).unwrap();
        // Baseline: the same number of tasks, each awaited by one other (no hub).
        dump_when(&pool, |d| suspended(d, N + 1));
        let start = Instant::now();
        let dump = pool.dump();
        let took = start.elapsed();
        assert_eq!(dump.task(hub.id()).unwrap().awaits().len(), N);
        assert!(dump.cycles().is_empty());
        let chain_pool = AbortOnDrop(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let gate2 = Future::<u32>::new();
        let g = gate2.clone();
        let mut chain = vec![chain_pool
            .submit_async(async move { *(&g).await.unwrap() })
            .unwrap()];
        for _ in 0..N {
            let prev = chain.last().unwrap().clone();
            chain.push(
                chain_pool
                    .submit_async(async move { *(&prev).await.unwrap() })
                    .unwrap(),
            );
        }
        dump_when(&chain_pool, |d| suspended(d, N + 1));
        let start = Instant::now();
        let _ = chain_pool.dump();
        let baseline = start.elapsed();
        assert!(
            took < baseline * 20 + Duration::from_millis(200),
            "one task awaiting {N}: {took:?}; a chain of {N}: {baseline:?}"
        );
        gate.set_result(1).unwrap();
        gate2.set_result(1).unwrap();
        assert_eq!(*hub.result().unwrap(), N as u32);
        chain.last().unwrap().result().unwrap();
    })
}
