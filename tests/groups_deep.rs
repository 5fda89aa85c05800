//! Adversarial review of task groups: recursive fork-join with a child group per level
//! (made inside the level's task, awaited with `joined()`), nested 2000 deep; cancelling the
//! top of a deep chain; dropping the last handle of the deepest group last.
#![cfg(not(feature = "loom"))]

mod common;
use common::pool;
use common::watchdog::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use betterconcurrent::{Executor, Future, TaskGroup};

static DEPTH_CELL: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
#[allow(non_snake_case)]
fn DEPTH() -> usize {
    *DEPTH_CELL.get_or_init(|| {
        std::env::var("GROUPS_DEPTH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000)
    })
}

// Written out (not `async fn`): the recursion through `submit_async` needs the `Send` bound
// stated on the opaque type.
#[allow(clippy::manual_async_fn)]
fn level(
    k: usize,
    done: Arc<AtomicUsize>,
    deepest: mpsc::Sender<TaskGroup>,
    gate: Future<()>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    async move {
        if k == DEPTH() {
            (&gate).await.unwrap();
            done.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let child = TaskGroup::new(&Executor::current().unwrap());
        if k + 1 == DEPTH() {
            deepest.send(child.clone()).unwrap();
        }
        let (d, s, g) = (done.clone(), deepest.clone(), gate.clone());
        drop(child.submit_async(level(k + 1, d, s, g)).unwrap());
        child.joined().await.unwrap();
        done.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_2000_deep_recursive_fork_join_of_child_groups() {
    within(120, || {
        let pool = pool(2);
        let top = TaskGroup::new(&pool);
        let done = Arc::new(AtomicUsize::new(0));
        let gate = Future::<()>::new();
        let (tx, rx) = mpsc::channel();
        drop(
            top.submit_async(level(0, done.clone(), tx, gate.clone()))
                .unwrap(),
        );
        let deepest = rx.recv().unwrap();
        assert!(!deepest.is_cancelled());
        gate.set_result(()).unwrap();
        top.join().unwrap();
        assert_eq!(done.load(Ordering::SeqCst), DEPTH() + 1);
        // The deepest group's handle, held last, keeps the whole chain of parents: dropped
        // here, on a thread with the default (2 MiB) stack.
        let dropper = std::thread::spawn(move || drop(deepest));
        dropper
            .join()
            .expect("dropping a deep chain of groups overflowed the stack");
        pool.wait_idle().unwrap();
    });
}

#[test]
fn cancelling_the_top_of_a_2000_deep_chain() {
    within(120, || {
        let pool = pool(2);
        let top = TaskGroup::new(&pool);
        let done = Arc::new(AtomicUsize::new(0));
        let gate = Future::<()>::new();
        let (tx, rx) = mpsc::channel();
        drop(
            top.submit_async(level(0, done.clone(), tx, gate.clone()))
                .unwrap(),
        );
        let deepest = rx.recv().unwrap();
        top.cancel();
        assert!(deepest.is_cancelled());
        top.join_timeout(Duration::from_secs(60)).unwrap();
        assert!(done.load(Ordering::SeqCst) < DEPTH() + 1);
        drop(deepest);
        pool.wait_idle().unwrap();
    });
}
