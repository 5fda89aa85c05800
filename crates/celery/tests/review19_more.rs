//! Review 19: a busy broker after a restart, expiry from Python, kwargs to a typed Rust task.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use betterconcurrent::ThreadPoolExecutor;
use betterconcurrent_celery::{CeleryError, Client, RemoteException, Signature, Worker};
use common::{python_client, Redis};

/// Found by the review: after a broker restart, `Lost` is checked only when the pub/sub read times
/// out (200 ms without any message). On a broker where other clients' results are published
/// more often than that, a lost future waits forever instead of `lost_after_restart`.
#[test]
fn a_lost_future_fails_after_a_restart_even_on_a_busy_broker() {
    let mut redis = Redis::start();
    let client = Client::builder(&redis.url())
        .lost_after_restart(Duration::from_secs(1))
        .connect()
        .unwrap();
    let lost = client
        .send::<i64>(Signature::new("tasks.add").args((1, 2)).queue("nobody"))
        .unwrap();
    // The listener has seen the first server (else a restart is not noticed: see below).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !client.connected() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    redis.restart();
    // Another application's results, published every 50 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = std::thread::spawn({
        let (stop, url) = (Arc::clone(&stop), redis.url());
        move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            while !stop.load(Ordering::Relaxed) && std::env::var("NOPUB").is_err() {
                let _: () = redis::cmd("PUBLISH")
                    .arg("celery-task-meta-someone-else")
                    .arg(r#"{"status": "SUCCESS", "result": 1}"#)
                    .query(&mut con)
                    .unwrap();
                std::thread::sleep(Duration::from_millis(50)); // the other app's pace
            }
        }
    });
    let outcome = lost.result_timeout(Duration::from_secs(15));
    stop.store(true, Ordering::Relaxed);
    publisher.join().unwrap();
    let error = outcome
        .expect_err("never failed with Lost (lost_after_restart = 1 s) while the broker was busy");
    assert!(
        matches!(CeleryError::of(&error), Some(CeleryError::Lost { .. })),
        "{error:?}"
    );
}

#[test]
fn python_expires_and_kwargs_against_a_rust_worker() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = Worker::builder(&redis.url())
        .task("rust.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .start(pool.executor())
        .unwrap();
    let out = python_client(
        &redis,
        r#"
from datetime import datetime, timedelta, timezone
try:
    app.send_task('rust.add', args=[1, 2], expires=datetime.now(timezone.utc) - timedelta(seconds=5)).get(timeout=30)
    print('ran')
except Exception as e:
    print(type(e).__name__)
print(app.send_task('rust.add', args=[1, 2], expires=60).get(timeout=30))
try:
    print(app.send_task('rust.add', args=[1, 2], kwargs={'z': 5}).get(timeout=30))
except Exception as e:
    print(type(e).__name__)
"#,
    );
    drop(worker);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines[0], "TaskRevokedError");
    assert_eq!(lines[1], "3");
    // A typed task takes no keyword arguments: an unexpected `z` is Python's TypeError, as a
    // Python task would raise.
    assert_eq!(lines[2], "TypeError");
}

/// Found by the review (a race, so best effort): a broker restarted before the listener's first
/// session (right after `connect`, or while the listener could not reach it yet) is not seen
/// as a restart: the lost message's future never fails with `Lost`.
#[test]
fn a_restart_right_after_connect_is_still_a_restart() {
    let mut redis = Redis::start();
    let client = Client::builder(&redis.url())
        .lost_after_restart(Duration::from_secs(1))
        .connect()
        .unwrap();
    let lost = client
        .send::<i64>(Signature::new("tasks.add").args((1, 2)).queue("nobody"))
        .unwrap();
    redis.restart();
    let outcome = lost.result_timeout(Duration::from_secs(15));
    let error = outcome.expect_err("never failed with Lost (lost_after_restart = 1 s)");
    assert!(
        matches!(CeleryError::of(&error), Some(CeleryError::Lost { .. })),
        "{error:?}"
    );
}
