//! Adversarial review of task groups: an ordinary program. A task of group A blocks on a
//! closure of group B (which runs in place); B is joined and its handle dropped (a scoped
//! helper group), while the queued copy of B's closure is still in the worker's deque.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::mpsc;
use std::time::Duration;

use betterconcurrent::TaskGroup;

#[test]
fn a_scoped_group_dropped_after_its_closure_ran_in_place_in_another_groups_task() {
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let (b_tx, b_rx) = mpsc::channel::<TaskGroup>();
        let (ran_tx, ran_rx) = mpsc::channel::<u32>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let outer = a
            .submit(move || {
                let b: TaskGroup = b_rx.recv().unwrap();
                let f = b.submit(|| 5u32).unwrap(); // into the worker's deque
                let v = *f.result().unwrap(); // runs in place
                drop((f, b));
                ran_tx.send(v).unwrap();
                go_rx.recv().unwrap();
                v
            })
            .unwrap();
        {
            let b = TaskGroup::new(&pool);
            b_tx.send(b.clone()).unwrap();
            assert_eq!(ran_rx.recv().unwrap(), 5);
            b.join().unwrap();
        } // B's last handle dropped here
        go_tx.send(()).unwrap();
        assert_eq!(*outer.result().unwrap(), 5);
        a.join_timeout(Duration::from_secs(20)).unwrap();
        let after = pool.submit(|| 7).unwrap();
        assert_eq!(*after.result_timeout(Duration::from_secs(20)).unwrap(), 7);
        let after = a.submit(|| 8).unwrap();
        assert_eq!(*after.result_timeout(Duration::from_secs(20)).unwrap(), 8);
        pool.join().unwrap();
    });
}
