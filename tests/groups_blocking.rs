//! Adversarial review of task groups: blocking waits inside group closures (run in place,
//! compensation), membership across in-place runs, groups submitting into each other.
#![cfg(not(feature = "loom"))]

mod common;
use common::in_group;
use common::pool;
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{Error, Executor, Future, TaskGroup};

/// A chain of group closures, each submitting the next through the group and blocking on it,
/// on one worker: every link runs in place (or is compensated), and each is in the group.
#[test]
fn a_chain_of_blocking_waits_inside_a_group_on_one_worker() {
    fn link(group: TaskGroup, n: u32) -> (u32, bool) {
        let member = in_group(&group);
        if n == 0 {
            return (0, member);
        }
        let g = group.clone();
        let next = Executor::current()
            .unwrap()
            .submit(move || link(g, n - 1))
            .unwrap();
        let (v, m) = *next.result().unwrap();
        (v + 1, member && m)
    }
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let g = group.clone();
        // 40 > MAX_RUN_HERE_DEPTH: the deeper links are compensated.
        let f = group.submit(move || link(g, 40)).unwrap();
        assert_eq!(*f.result().unwrap(), (40, true));
        group.join().unwrap();
        pool.wait_idle().unwrap();
    });
}

/// `Executor::current()` inside a closure run in place by a blocking wait is that closure's
/// group; after the in-place run the waiting task is back in its own group.
#[test]
fn executor_current_inside_an_in_place_run_is_the_run_closures_group() {
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let (b_fut_tx, b_fut_rx) = mpsc::channel::<Future<(bool, bool, bool)>>();
        let gate = Future::<()>::new();
        let (a2, b2, gate2) = (a.clone(), b.clone(), gate.clone());
        let outer = a
            .submit(move || {
                let f = b_fut_rx.recv().unwrap();
                let inner = *f.result().unwrap(); // run in place
                                                  // Back in A: a subtask through current() lands in A.
                let gate = gate2.clone();
                Executor::current()
                    .unwrap()
                    .submit_async(async move {
                        (&gate).await.unwrap();
                    })
                    .unwrap();
                (inner, in_group(&a2), in_group(&b2))
            })
            .unwrap();
        let (a3, b3, gate3) = (a.clone(), b.clone(), gate.clone());
        let fb = b
            .submit(move || {
                let gate = gate3.clone();
                // A subtask through current() from inside the in-place run: should be B's.
                Executor::current()
                    .unwrap()
                    .submit_async(async move {
                        (&gate).await.unwrap();
                    })
                    .unwrap();
                (in_group(&b3), in_group(&a3), true)
            })
            .unwrap();
        b_fut_tx.send(fb).unwrap();
        let (inner, outer_in_a, outer_in_b) = *outer.result().unwrap();
        assert_eq!(
            inner,
            (true, false, true),
            "inside the in-place run: (in B, in A)"
        );
        assert!(outer_in_a && !outer_in_b);
        // Each group has one gated subtask.
        assert!(matches!(
            a.join_timeout(Duration::from_millis(30)),
            Err(Error::Timeout)
        ));
        assert!(matches!(
            b.join_timeout(Duration::from_millis(30)),
            Err(Error::Timeout)
        ));
        gate.set_result(()).unwrap();
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// Groups A and B on one worker whose tasks wait on each other: a1 (A) waits on b1 (B), which
/// waits on a2 (A), which waits on b2 (B). All run in place, each in its own group.
#[test]
fn two_groups_whose_closures_block_on_each_other_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let (a1, b1) = (a.clone(), b.clone());
        let f = a
            .submit(move || {
                let m_a1 = in_group(&a1) && !in_group(&b1);
                let (a2, b2) = (a1.clone(), b1.clone());
                let fb1 = b1
                    .submit(move || {
                        let m_b1 = in_group(&b2) && !in_group(&a2);
                        let (a3, b3) = (a2.clone(), b2.clone());
                        let fa2 = a2
                            .submit(move || {
                                let m_a2 = in_group(&a3) && !in_group(&b3);
                                let (a4, b4) = (a3.clone(), b3.clone());
                                let fb2 =
                                    b3.submit(move || in_group(&b4) && !in_group(&a4)).unwrap();
                                m_a2 && *fb2.result().unwrap()
                            })
                            .unwrap();
                        m_b1 && *fa2.result().unwrap()
                    })
                    .unwrap();
                m_a1 && *fb1.result().unwrap()
            })
            .unwrap();
        assert!(*f.result().unwrap(), "some level ran in the wrong group");
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// Blocking on a started (async) task of the group from a group closure on one worker: the
/// wait is compensated by a spare thread.
#[test]
fn a_group_closure_blocks_on_a_suspended_async_task_of_its_group_on_one_worker() {
    within(60, || {
        let pool = pool(1);
        let group = TaskGroup::new(&pool);
        let gate = Future::<u32>::new();
        let g2 = gate.clone();
        let waiter = group
            .submit(move || {
                let e = Executor::current().unwrap();
                let g3 = g2.clone();
                let inner = e
                    .submit_async(async move { *(&g3).await.unwrap() + 1 })
                    .unwrap();
                // Complete the gate from a further group subtask, on whatever thread.
                let g4 = g2.clone();
                e.submit(move || g4.set_result(41).unwrap()).unwrap();
                *inner.result().unwrap()
            })
            .unwrap();
        assert_eq!(*waiter.result().unwrap(), 42);
        group.join().unwrap();
    });
}

/// A blocking wait on a queued closure of a cancelled group does not run it in place and
/// does not hang: it ends cancelled.
#[test]
fn a_blocking_wait_on_a_queued_closure_of_a_cancelled_group() {
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let (tx, rx) = mpsc::channel::<Future<u32>>();
        let b2 = b.clone();
        let outer = a
            .submit(move || {
                let f = rx.recv().unwrap();
                b2.cancel();
                matches!(f.result(), Err(Error::Cancelled))
            })
            .unwrap();
        let f = b.submit(|| 1).unwrap();
        tx.send(f.clone()).unwrap();
        assert!(*outer.result().unwrap());
        b.join().unwrap();
        a.join().unwrap();
        assert!(matches!(f.try_result(), Some(Err(Error::Cancelled))));
    });
}

/// Tasks of A keep submitting into B and B's into A, through the other group's handle and
/// then through `Executor::current()`, ping-pong; both joins converge and count every hop.
#[test]
fn groups_submitting_into_each_other() {
    fn hop(
        me: TaskGroup,
        other: TaskGroup,
        left: u32,
        hops: Arc<AtomicUsize>,
        wrong: Arc<AtomicUsize>,
    ) {
        hops.fetch_add(1, Ordering::SeqCst);
        if !in_group(&me) || in_group(&other) {
            wrong.fetch_add(1, Ordering::SeqCst);
        }
        if left == 0 {
            return;
        }
        // Into the other group through its handle...
        let (m, o, h, w) = (me.clone(), other.clone(), hops.clone(), wrong.clone());
        other.spawn(move |_| hop(o, m, left - 1, h, w)).unwrap();
        // ...and a sibling in my group through current().
        if left.is_multiple_of(4) {
            let (m, o, h, w) = (me.clone(), other.clone(), hops.clone(), wrong.clone());
            Executor::current()
                .unwrap()
                .spawn(move |_| hop(m, o, left / 4, h, w))
                .unwrap();
        }
    }
    within(60, || {
        let pool = pool(2);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let hops = Arc::new(AtomicUsize::new(0));
        let wrong = Arc::new(AtomicUsize::new(0));
        for _ in 0..20 {
            let (a2, b2, h, w) = (a.clone(), b.clone(), hops.clone(), wrong.clone());
            a.spawn(move |_| hop(a2, b2, 64, h, w)).unwrap();
        }
        // Either join may return while the other group still has work, but joining both
        // repeatedly until both are idle converges.
        loop {
            a.join().unwrap();
            b.join().unwrap();
            if a.join_timeout(Duration::ZERO).is_ok() && b.join_timeout(Duration::ZERO).is_ok() {
                break;
            }
        }
        pool.wait_idle().unwrap();
        assert_eq!(wrong.load(Ordering::SeqCst), 0);
        let total = hops.load(Ordering::SeqCst);
        assert!(total > 20 * 65, "hops {total}");
    });
}

/// A plain pool closure run in place inside a group task runs in no group.
#[test]
fn a_plain_closure_run_in_place_inside_a_group_task_is_in_no_group() {
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let (tx, rx) = mpsc::channel::<Future<bool>>();
        let outer = {
            let a = a.clone();
            a.clone()
                .submit(move || {
                    let f = rx.recv().unwrap();
                    (*f.result().unwrap(), in_group(&a))
                })
                .unwrap()
        };
        let a2 = a.clone();
        let plain = pool.submit(move || in_group(&a2)).unwrap();
        tx.send(plain).unwrap();
        assert_eq!(*outer.result().unwrap(), (false, true));
        a.join().unwrap();
    });
}
