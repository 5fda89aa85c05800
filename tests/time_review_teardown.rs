//! Executors torn down under sleeping tasks: a `LocalExecutor` dropped while its tasks are
//! suspended in sleeps (each is cancelled when its sleep wakes it, on the timer thread, and
//! its body, holding other armed sleeps, is dropped there: no deadlock, no entry left), a tokio
//! runtime shut down under tasks in our sleeps, and aborts racing the timer's fire of the very
//! sleep a task is suspended in.
#![cfg(not(feature = "loom"))]

use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use betterconcurrent::{time, Error, LocalExecutor, ThreadPoolExecutor};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

struct SignalOnDrop(Option<mpsc::Sender<()>>);
impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[test]
fn a_local_executor_dropped_under_sleeping_tasks_leaves_no_entry() {
    let _g = serial();
    let base = time::pending_sleeps();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let n = 8;
    {
        let executor = LocalExecutor::<16>::new();
        for i in 0..n {
            let (dropped_tx, started_tx) = (dropped_tx.clone(), started_tx.clone());
            executor
                .spawn(async move {
                    let _signal = SignalOnDrop(Some(dropped_tx));
                    let _ = started_tx.send(());
                    // An hour-long timeout around a short sleep: two armed entries.
                    let _ = time::timeout(Duration::from_secs(3600), async {
                        time::sleep(Duration::from_millis(20 + i)).await;
                        // Never reached: the executor is gone when the sleep fires.
                        time::sleep(Duration::from_secs(3600)).await;
                    })
                    .await;
                })
                .unwrap();
        }
        executor.run_until_idle();
        for _ in 0..n {
            started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(time::pending_sleeps(), base + 2 * n as usize);
    }
    for _ in 0..n {
        dropped_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a task of the dropped executor was never cancelled");
    }
    assert_eq!(
        time::pending_sleeps(),
        base,
        "the hour-long timeouts were left armed"
    );
    // The timer thread, which dropped those bodies, still works.
    let start = Instant::now();
    futures::executor::block_on(time::sleep(Duration::from_millis(10)));
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn a_tokio_runtime_shut_down_under_sleeping_tasks_leaves_no_entry() {
    let _g = serial();
    let base = time::pending_sleeps();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    for _ in 0..50 {
        let started_tx = started_tx.clone();
        rt.spawn(async move {
            let _ = started_tx.send(());
            time::sleep(Duration::from_secs(3600)).await;
        });
    }
    for _ in 0..50 {
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    rt.shutdown_timeout(Duration::from_secs(5));
    assert_eq!(time::pending_sleeps(), base);
}

#[test]
fn aborts_racing_the_fire_of_the_sleep_a_task_waits_in() {
    let _g = serial();
    let base = time::pending_sleeps();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    for round in 0..20u64 {
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                pool.submit_async(async move {
                    time::sleep(Duration::from_micros((i * 37 + round * 11) % 2_000)).await;
                    let _ =
                        time::timeout(Duration::from_micros(i % 500), std::future::pending::<()>())
                            .await;
                    i
                })
                .unwrap()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_micros(1_000);
        for (i, t) in tasks.iter().enumerate() {
            if i % 2 == 0 {
                t.abort();
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        for (i, t) in tasks.iter().enumerate() {
            match t.result_timeout(Duration::from_secs(10)) {
                Ok(&v) => assert_eq!(v, i as u64),
                Err(Error::Cancelled) => {}
                Err(e) => panic!("task {i}: {e:?}"),
            }
        }
    }
    assert_eq!(time::pending_sleeps(), base);
}
