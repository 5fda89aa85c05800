//! Tasks with an ETA (Celery's `countdown` and `eta`): a Rust worker runs them no sooner, from
//! a Python client or a Rust one, without letting them take its prefetch slots while they
//! wait, and its shutdown puts a waiting one back on the queue with its ETA.

mod common;

use std::time::{Duration, Instant, SystemTime};

use betterconcurrent::ThreadPoolExecutor;
use betterconcurrent_celery::{Client, RemoteException, Signature, Worker};
use common::{python_client, Redis};

const WAIT: Duration = Duration::from_secs(30);

/// A worker whose `rust.when` returns the time it ran (seconds since the epoch).
fn clock_worker(redis: &Redis, pool: &ThreadPoolExecutor, prefetch: usize) -> Worker {
    Worker::builder(&redis.url())
        .task("rust.when", |(): ()| {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap();
            Ok::<_, RemoteException>(now.as_secs_f64())
        })
        .prefetch(prefetch)
        .start(pool.executor())
        .unwrap()
}

fn seconds_since_epoch(time: SystemTime) -> f64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_python_countdown_runs_no_sooner_on_a_rust_worker() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = clock_worker(&redis, &pool, 1);
    let printed = python_client(
        &redis,
        r#"
import time
sent = time.time()
ran = app.send_task("rust.when", countdown=1.5).get(timeout=30)
print(ran - sent)
"#,
    );
    let waited: f64 = printed.trim().parse().unwrap();
    // A test about time: the bound is the countdown itself (less the clock's rounding).
    assert!(waited >= 1.4, "ran {waited} s after the send, asked 1.5 s");
    drop(worker);
}

#[test]
fn a_waiting_eta_task_does_not_take_the_prefetch_slot_of_the_work_behind_it() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = clock_worker(&redis, &pool, 1);
    let client = Client::connect(&redis.url()).unwrap();
    let asked = SystemTime::now() + Duration::from_secs(2);
    let later = client
        .send::<f64>(Signature::new("rust.when").eta(asked))
        .unwrap();
    let now = client.send_task::<f64>("rust.when", ()).unwrap();
    let ran_now = *now.result_timeout(WAIT).unwrap();
    assert!(!later.done(), "the ETA task ran before its time");
    let ran_later = *later.result_timeout(WAIT).unwrap();
    assert!(ran_now < ran_later);
    assert!(ran_later >= seconds_since_epoch(asked) - 0.01);
    drop(worker);
}

#[test]
fn a_shutdown_puts_a_waiting_eta_task_back_and_another_worker_runs_it_in_time() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = clock_worker(&redis, &pool, 1);
    let client = Client::connect(&redis.url()).unwrap();
    let asked = SystemTime::now() + Duration::from_secs(2);
    let later = client
        .send::<f64>(Signature::new("rust.when").eta(asked))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while worker.held() < 1 {
        assert!(
            Instant::now() < deadline,
            "the worker never took the ETA task"
        );
        std::thread::yield_now();
    }
    let report = worker.shutdown();
    assert_eq!((report.finished, report.requeued), (0, 1));
    assert!(!later.done());
    // Another worker takes it and honours the ETA the message still carries.
    let other = clock_worker(&redis, &pool, 1);
    let ran = *later.result_timeout(WAIT).unwrap();
    assert!(
        ran >= seconds_since_epoch(asked) - 0.01,
        "ran before its ETA"
    );
    drop(other);
}
