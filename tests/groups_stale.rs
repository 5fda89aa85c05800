//! Found by an adversarial review of task groups: the worker kept its current group (and its
//! share of that group's count) while it discarded a cancelled group's task, so the destructor
//! of the discarded work ran as if inside the previous task's group. It now runs in its own
//! (cancelled) group.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{Error, Executor, TaskGroup};

/// Records, when dropped, whether the code there counts as inside group A (A's join refused
/// as a self-wait) and whether a group made there is A's child (cancelled with A).
struct Probe {
    a: TaskGroup,
    seen: mpsc::Sender<(bool, TaskGroup)>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let in_a = matches!(
            self.a.join_timeout(Duration::ZERO),
            Err(Error::WouldDeadlock)
        );
        let made_here = TaskGroup::new(&Executor::current().expect("on the worker"));
        let _ = self.seen.send((in_a, made_here));
    }
}

#[test]
fn the_destructor_of_a_discarded_task_does_not_run_in_the_previous_tasks_group() {
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        // A's task holds the one worker; B's task queues behind it.
        let a_task = a.submit(move || release_rx.recv().unwrap()).unwrap();
        let (seen_tx, seen_rx) = mpsc::channel();
        let probe = Probe {
            a: a.clone(),
            seen: seen_tx,
        };
        let b_task = b.submit(move || drop(probe)).unwrap();
        b.cancel();
        release_tx.send(()).unwrap();
        a_task.result().unwrap();
        let (in_a, made_here) = seen_rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(matches!(b_task.result(), Err(Error::Cancelled)));
        a.join().unwrap();
        // Made in B's (cancelled) task: B's child, cancelled with it, while A is not.
        let child_of_b = made_here.is_cancelled();
        assert!(
            !in_a && child_of_b,
            "the destructor of B's discarded work ran as if inside A's task \
             (A's join refused: {in_a}; a group made there is B's child: {child_of_b})"
        );
        b.join().unwrap();
    });
}

/// A subtask submitted through `Executor::current()` from that destructor goes to B, whose
/// cancel refuses it; it used to land in A, whose join then waited for it.
#[test]
fn a_submit_from_a_discarded_tasks_destructor_goes_to_the_previous_tasks_group() {
    struct SubmitOnDrop(mpsc::Receiver<()>, Arc<Mutex<Option<bool>>>);
    impl Drop for SubmitOnDrop {
        fn drop(&mut self) {
            let rx = std::mem::replace(&mut self.0, mpsc::channel().1);
            let refused = self.1.clone();
            if let Some(e) = Executor::current() {
                let spawned = e.spawn(move |_| {
                    let _ = rx.recv();
                });
                *refused.lock().unwrap() = Some(matches!(
                    spawned,
                    Err(betterconcurrent::SubmitError::Cancelled)
                ));
            }
        }
    }
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let a_task = a.submit(move || release_rx.recv().unwrap()).unwrap();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let flag = Arc::new(Mutex::new(None));
        let guard = SubmitOnDrop(gate_rx, flag.clone());
        let b_task = b.submit(move || drop(guard)).unwrap();
        b.cancel();
        release_tx.send(()).unwrap();
        a_task.result().unwrap();
        assert!(matches!(b_task.result(), Err(Error::Cancelled)));
        // A's only task has finished. A must be idle.
        let a_idle = a.join_timeout(Duration::from_millis(200));
        // The subtask went to B, cancelled: refused (and its closure, with the receiver,
        // dropped), instead of landing in A.
        let _ = gate_tx.send(());
        pool.wait_idle().unwrap();
        assert_eq!(
            *flag.lock().unwrap(),
            Some(true),
            "the destructor's submit was not refused"
        );
        assert!(
            a_idle.is_ok(),
            "A's join waited for a task submitted by B's discarded work's destructor: {a_idle:?}"
        );
    });
}

/// A guard that joins its own group when dropped (an RAII join), captured by a task of that
/// group: run normally, the join is refused (`WouldDeadlock`, inside the group's task). Discarded
/// after cancel, the worker drops it while the task still counts in the group: the join must
/// not wait for itself. (Bounded with a timeout: an untimed join would hang the worker.)
#[test]
fn a_join_on_drop_guard_of_a_discarded_task_does_not_wait_for_itself() {
    struct JoinOnDrop(TaskGroup, mpsc::Sender<Result<(), Error>>);
    impl Drop for JoinOnDrop {
        fn drop(&mut self) {
            let _ = self.1.send(self.0.join_timeout(Duration::from_secs(3)));
        }
    }
    within(60, || {
        let pool = pool(1);
        let b = TaskGroup::new(&pool);
        let (tx, rx) = mpsc::channel();
        // Run normally first: inside the task, refused.
        let guard = JoinOnDrop(b.clone(), tx.clone());
        b.submit(move || drop(guard)).unwrap().result().unwrap();
        assert!(matches!(rx.recv().unwrap(), Err(Error::WouldDeadlock)));
        // Discarded after cancel.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let blocker = pool.submit(move || release_rx.recv().unwrap()).unwrap();
        let guard = JoinOnDrop(b.clone(), tx);
        let f = b.submit(move || drop(guard)).unwrap();
        b.cancel();
        release_tx.send(()).unwrap();
        blocker.result().unwrap();
        let in_discard = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(matches!(f.result(), Err(Error::Cancelled)));
        assert!(
            matches!(in_discard, Err(Error::WouldDeadlock)),
            "the guard's join from the discarded task waited for itself: {in_discard:?}"
        );
        b.join().unwrap();
    });
}

/// The worker also keeps its prepaid share of A's count while it ends B's cancelled work:
/// while that work's destructor runs (here: waits for a message), A's join cannot return
/// although every task of A has finished.
#[test]
fn a_groups_join_does_not_wait_for_another_groups_discarded_work() {
    struct BlockOnDrop(mpsc::Sender<()>, mpsc::Receiver<()>);
    impl Drop for BlockOnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(());
            let _ = self.1.recv_timeout(Duration::from_secs(20));
        }
    }
    within(60, || {
        let pool = pool(1);
        let a = TaskGroup::new(&pool);
        let b = TaskGroup::new(&pool);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let a_task = a
            .submit(move || {
                // Subtasks from the worker: counted from its prepaid share of A.
                let e = Executor::current().unwrap();
                for _ in 0..3 {
                    e.spawn(|_| ()).unwrap();
                }
                release_rx.recv().unwrap();
            })
            .unwrap();
        let (dropping_tx, dropping_rx) = mpsc::channel();
        let (unblock_tx, unblock_rx) = mpsc::channel();
        let guard = BlockOnDrop(dropping_tx, unblock_rx);
        let b_task = b.submit(move || drop(guard)).unwrap();
        b.cancel();
        release_tx.send(()).unwrap();
        a_task.result().unwrap();
        dropping_rx.recv_timeout(Duration::from_secs(20)).unwrap();
        // Every task of A has finished; the worker is in B's work's destructor.
        let a_joined = a.join_timeout(Duration::from_secs(2));
        let a_state = format!("{a:?}");
        unblock_tx.send(()).unwrap();
        assert!(matches!(b_task.result(), Err(Error::Cancelled)));
        assert!(
            a_joined.is_ok(),
            "A's join waited for B's discarded work (A's prepaid share held): {a_joined:?}, {a_state}"
        );
        a.join().unwrap();
        b.join().unwrap();
    });
}
