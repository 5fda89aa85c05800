//! Both directions against stock Python Celery 5.7, and Rust against Rust: a Rust client and a
//! Python worker, a Python client and a Rust worker, a Rust client and a Rust worker, and a
//! pool task awaiting a remote result on a one-thread pool.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use betterconcurrent::{as_completed, wait, ReturnWhen, TaskGroup, ThreadPoolExecutor};
use betterconcurrent_celery::{CeleryError, Client, RemoteException, Signature, Worker};
use common::{python_client, PythonWorker, Redis};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(30);

/// The Rust worker the tests serve: `rust.add`, `rust.fail`, `rust.panic`, `rust.point`.
fn rust_worker(redis: &Redis, pool: &ThreadPoolExecutor) -> Worker {
    Worker::builder(&redis.url())
        .task("rust.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .task("rust.fail", |(message,): (String,)| {
            Err::<(), _>(RemoteException::new("ValueError", message))
        })
        .task("rust.panic", |(): ()| -> Result<(), RemoteException> {
            panic!("a panicking task")
        })
        .task("rust.point", |(point,): (Point,)| {
            Ok::<_, RemoteException>(Point {
                x: point.y,
                y: point.x,
            })
        })
        .start(pool.executor())
        .expect("the worker connects")
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

fn failure(error: &betterconcurrent::Error) -> &CeleryError {
    CeleryError::of(error).unwrap_or_else(|| panic!("not a CeleryError: {error:?}"))
}

#[test]
fn a_rust_client_gets_a_python_workers_values_and_exceptions() {
    let redis = Redis::start();
    let _worker = PythonWorker::start(&redis);
    let client = Client::connect(&redis.url()).unwrap();

    let sum = client.send_task::<i64>("tasks.add", (2, 3)).unwrap();
    assert_eq!(*sum.result_timeout(WAIT).unwrap(), 5);

    let nested = serde_json::json!({"list": [1, "two", null, 3.5], "nested": {"ok": true}});
    let echoed = client
        .send_task::<serde_json::Value>("tasks.echo", (&nested,))
        .unwrap();
    assert_eq!(*echoed.result_timeout(WAIT).unwrap(), nested);

    let by_keyword = client
        .send::<i64>(
            Signature::new("tasks.add")
                .args((40,))
                .kwargs(serde_json::json!({"y": 2})),
        )
        .unwrap();
    assert_eq!(*by_keyword.result_timeout(WAIT).unwrap(), 42);

    let failed = client
        .send_task::<i64>("tasks.fail", ("bad input",))
        .unwrap();
    let error = failed.result_timeout(WAIT).unwrap_err();
    match failure(&error) {
        CeleryError::TaskFailed { exception, .. } => {
            assert_eq!(exception.exc_type, "ValueError");
            assert_eq!(exception.exc_module.as_deref(), Some("builtins"));
            assert_eq!(exception.message(), "bad input");
            assert!(exception
                .traceback
                .as_deref()
                .is_some_and(|t| t.contains("bad input")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.pending(), 0);
}

#[test]
fn a_python_client_gets_a_rust_workers_values_and_exceptions() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let worker = rust_worker(&redis, &pool);
    let printed = python_client(
        &redis,
        r#"
print(app.send_task("rust.add", args=[2, 3]).get(timeout=30))
print(app.send_task("rust.point", args=[{"x": 1, "y": 2}]).get(timeout=30))
try:
    app.send_task("rust.fail", args=["no good"]).get(timeout=30)
except ValueError as error:
    print("ValueError", error)
try:
    app.send_task("rust.panic").get(timeout=30)
except RuntimeError as error:
    print("RuntimeError", error)
try:
    app.send_task("rust.add", args=["two", 3]).get(timeout=30)
except TypeError as error:
    print("TypeError")
"#,
    );
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [
            "5",
            "{'x': 2, 'y': 1}",
            "ValueError no good",
            "RuntimeError the task panicked: a panicking task",
            "TypeError",
        ]
    );
    let report = worker.shutdown();
    assert_eq!((report.finished, report.requeued), (0, 0));
}

#[test]
fn a_rust_client_and_a_rust_worker_wait_gather_and_join() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let worker = rust_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();

    let point = client
        .send_task::<Point>("rust.point", (Point { x: 1, y: 2 },))
        .unwrap();
    assert_eq!(*point.result_timeout(WAIT).unwrap(), Point { x: 2, y: 1 });

    let sums: Vec<_> = (0..100)
        .map(|i| client.send_task::<i64>("rust.add", (i, 1000)).unwrap())
        .collect();
    let waited = wait(&sums, Some(WAIT), ReturnWhen::AllCompleted);
    assert_eq!(waited.done.len(), 100);
    let mut total = 0;
    for future in as_completed(&sums, Some(WAIT)) {
        total += *future.unwrap().result().unwrap();
    }
    assert_eq!(total, (0..100).sum::<i64>() + 100 * 1000);

    // A group of pool tasks, each awaiting a remote result, joined as local work is.
    let group = TaskGroup::new(&pool.executor());
    let collected = Arc::new(Mutex::new(Vec::new()));
    for i in 0..10 {
        let (client, collected) = (client.clone(), Arc::clone(&collected));
        group
            .submit_async(async move {
                let sum = client.send_task::<i64>("rust.add", (i, i)).unwrap();
                let value = *(&sum).await.unwrap();
                collected.lock().unwrap().push(value);
            })
            .unwrap();
    }
    group.join_timeout(WAIT).unwrap();
    let mut collected = collected.lock().unwrap().clone();
    collected.sort_unstable();
    assert_eq!(collected, (0..10).map(|i| 2 * i).collect::<Vec<i64>>());
    assert_eq!(client.pending(), 0);
    drop(worker);
}

#[test]
fn a_pool_task_awaits_a_remote_result_without_holding_the_pools_one_thread() {
    let redis = Redis::start();
    // One thread for both the awaiting task and the worker's task: a blocking wait would
    // deadlock; a cooperative one lets the thread run the worker's task meanwhile.
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let ran_on = Arc::new(Mutex::new(Vec::new()));
    let worker = Worker::builder(&redis.url())
        .task("rust.whoami", {
            let ran_on = Arc::clone(&ran_on);
            move |(): ()| {
                let name = std::thread::current().name().map(str::to_owned);
                ran_on.lock().unwrap().push(name.clone());
                Ok::<_, RemoteException>(name)
            }
        })
        .prefetch(4)
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let awaiting_thread = pool
        .submit_async({
            let client = client.clone();
            async move {
                let me = std::thread::current().name().map(str::to_owned);
                let remote = client
                    .send_task::<Option<String>>("rust.whoami", ())
                    .unwrap();
                let ran_on = (&remote).await.unwrap().clone();
                (me, ran_on)
            }
        })
        .unwrap();
    let (me, ran_on_thread) = awaiting_thread.result_timeout(WAIT).unwrap().clone();
    assert!(me.is_some());
    assert_eq!(
        me, ran_on_thread,
        "the remote task ran on the pool's one thread"
    );
    assert_eq!(pool.thread_count(), 1);
    drop(worker);
}

#[test]
fn results_come_back_to_the_client_that_sent_them_among_many() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let worker = rust_worker(&redis, &pool);
    let clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(&redis.url()).unwrap())
        .collect();
    let done = Arc::new(AtomicUsize::new(0));
    let (sent, received) = mpsc::channel();
    std::thread::scope(|scope| {
        for (n, client) in clients.iter().enumerate() {
            let (done, sent) = (Arc::clone(&done), sent.clone());
            scope.spawn(move || {
                let futures: Vec<_> = (0..200)
                    .map(|i| client.send_task::<i64>("rust.add", (n as i64, i)).unwrap())
                    .collect();
                for (i, future) in futures.iter().enumerate() {
                    assert_eq!(*future.result_timeout(WAIT).unwrap(), n as i64 + i as i64);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                sent.send(client.pending()).unwrap();
            });
        }
    });
    drop(sent);
    assert!(received.iter().all(|pending| pending == 0));
    assert_eq!(done.load(Ordering::Relaxed), 600);
    drop(worker);
}
