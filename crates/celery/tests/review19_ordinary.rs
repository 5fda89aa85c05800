//! Review 19: ordinary programs, both directions, many types, many clients.

mod common;

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use betterconcurrent::{as_completed, wait, Error, ReturnWhen, TaskGroup, ThreadPoolExecutor};
use betterconcurrent_celery::{CeleryError, Client, RemoteException, Signature, Worker};
use common::{python_client, PythonWorker, Redis};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Record {
    name: String,
    tags: Vec<String>,
    score: Option<f64>,
    inner: Option<Box<Record>>,
}

fn record() -> Record {
    Record {
        name: "zoë – 日本語 – 🦀 \u{0} \"quoted\" \\ back".into(),
        tags: vec!["".into(), "a\nb".into()],
        score: Some(-1.5),
        inner: Some(Box::new(Record {
            name: "inner".into(),
            tags: vec![],
            score: None,
            inner: None,
        })),
    }
}

fn echo_worker(redis: &Redis, pool: &ThreadPoolExecutor) -> Worker {
    Worker::builder(&redis.url())
        .task_with_kwargs("rust.echo_all", |args, kwargs| {
            Ok(json!({"args": args, "kwargs": kwargs}))
        })
        .task_with_kwargs("rust.echo", |mut args, _| {
            Ok(args.pop().unwrap_or(Value::Null))
        })
        .task("rust.record", |(r,): (Record,)| Ok::<_, RemoteException>(r))
        .task("rust.none", |(): ()| {
            Ok::<Option<i32>, RemoteException>(None)
        })
        .task("rust.opt", |(x,): (Option<i64>,)| {
            Ok::<_, RemoteException>(x.map(|x| x * 2))
        })
        .task("rust.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .task("rust.u64", |(x,): (u64,)| Ok::<_, RemoteException>(x))
        .start(pool.executor())
        .unwrap()
}

#[test]
fn rust_client_to_python_worker_many_types() {
    let redis = Redis::start();
    let _py = PythonWorker::start(&redis);
    let client = Client::connect(&redis.url()).unwrap();
    let r = client
        .send_task::<Record>("tasks.echo", (record(),))
        .unwrap();
    assert_eq!(*r.result_timeout(WAIT).unwrap(), record());
    let none = client
        .send_task::<Option<i32>>("tasks.echo", (None::<i32>,))
        .unwrap();
    assert_eq!(*none.result_timeout(WAIT).unwrap(), None);
    let big = client.send_task::<u64>("tasks.echo", (u64::MAX,)).unwrap();
    assert_eq!(*big.result_timeout(WAIT).unwrap(), u64::MAX);
    let neg = client.send_task::<i64>("tasks.echo", (i64::MIN,)).unwrap();
    assert_eq!(*neg.result_timeout(WAIT).unwrap(), i64::MIN);
    let f = client.send_task::<f64>("tasks.add", (0.1, 0.2)).unwrap();
    assert_eq!(*f.result_timeout(WAIT).unwrap(), 0.1 + 0.2);
    // kwargs to a Python task
    let kw = client
        .send::<i64>(Signature::new("tasks.add").kwargs(json!({"x": 4, "y": 5})))
        .unwrap();
    assert_eq!(*kw.result_timeout(WAIT).unwrap(), 9);
    let mixed = client
        .send::<i64>(
            Signature::new("tasks.add")
                .args((4,))
                .kwargs(json!({"y": 6})),
        )
        .unwrap();
    assert_eq!(*mixed.result_timeout(WAIT).unwrap(), 10);
    // Python raises TypeError on missing args: a typed TaskFailed.
    let missing = client.send_task::<i64>("tasks.add", ()).unwrap();
    let err = missing.result_timeout(WAIT).unwrap_err();
    match CeleryError::of(&err) {
        Some(CeleryError::TaskFailed { exception, .. }) => {
            assert_eq!(exception.exc_type, "TypeError")
        }
        other => panic!("{other:?}"),
    }
    // Concatenating strings: a result of the wrong type is BadResult.
    let wrong = client.send_task::<i64>("tasks.add", ("a", "b")).unwrap();
    let err = wrong.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(CeleryError::of(&err), Some(CeleryError::BadResult { .. })),
        "{err:?}"
    );
    // Unit-returning task decodes to ()
    let unit = client.send_task::<()>("tasks.echo", (None::<()>,)).unwrap();
    unit.result_timeout(WAIT).unwrap();
    assert_eq!(client.pending(), 0);
}

#[test]
fn python_client_to_rust_worker_many_types() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let worker = echo_worker(&redis, &pool);
    let out = python_client(
        &redis,
        r#"
import json
r = app.send_task('rust.echo_all', args=[1, 'zoë 🦀', None, [1, {'a': [True]}], 2.5], kwargs={'k': 'v', 'n': {'x': None}}).get(timeout=30)
print(json.dumps(r, sort_keys=True))
print(app.send_task('rust.record', args=[{'name': 'n', 'tags': ['t'], 'score': None, 'inner': None}]).get(timeout=30))
print(app.send_task('rust.none').get(timeout=30))
print(app.send_task('rust.opt', args=[None]).get(timeout=30), app.send_task('rust.opt', args=[21]).get(timeout=30))
print(app.send_task('rust.add', args=[2**62, 2**62 - 1]).get(timeout=30))
print(app.send_task('rust.u64', args=[2**64 - 1]).get(timeout=30))
try:
    app.send_task('rust.add', args=['x', 1]).get(timeout=30)
except TypeError as e:
    print('TypeError')
try:
    app.send_task('rust.add', args=[2**63, 1]).get(timeout=30)
except TypeError as e:
    print('TypeError')
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"args": [1, "zo\u00eb \ud83e\udd80", null, [1, {"a": [true]}], 2.5], "kwargs": {"k": "v", "n": {"x": null}}}"#
    );
    assert_eq!(
        lines[1],
        "{'inner': None, 'name': 'n', 'score': None, 'tags': ['t']}"
    );
    assert_eq!(lines[2], "None");
    assert_eq!(lines[3], "None 42");
    assert_eq!(lines[4], i64::MAX.to_string());
    assert_eq!(lines[5], u64::MAX.to_string());
    assert_eq!(lines[6], "TypeError");
    assert_eq!(lines[7], "TypeError");
    drop(worker);
}

/// Found by the review, and documented (the crate's "Values on the wire"): a Python int beyond
/// 64 bits reaches a raw Rust task as an `f64`, and a typed integer task refuses it.
#[test]
fn a_python_int_beyond_64_bits_is_a_float_in_rust_or_a_type_error() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = echo_worker(&redis, &pool);
    let out = python_client(
        &redis,
        r#"
r = app.send_task('rust.echo', args=[2**70]).get(timeout=30)
print(type(r).__name__, r == 2**70)
try:
    app.send_task('rust.u64', args=[2**70]).get(timeout=30)
except TypeError:
    print('TypeError')
"#,
    );
    drop(worker);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["float True", "TypeError"], "Python sent 2**70");
}

/// Found by the review: a Python client sending a float NaN (Python's json writes `NaN`) to a Rust
/// worker never gets an answer: the worker drops the message as "not JSON", stores nothing,
/// although it could read the task id. A Python worker answers it.
#[test]
fn python_nan_argument_to_rust_worker_gets_an_answer() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = echo_worker(&redis, &pool);
    let out = python_client(
        &redis,
        r#"
import celery.exceptions
try:
    r = app.send_task('rust.echo', args=[float('nan')]).get(timeout=10)
    print('answered', r)
except celery.exceptions.TimeoutError:
    print('no answer')
except Exception as e:
    print('answered', type(e).__name__)
"#,
    );
    drop(worker);
    assert!(out.starts_with("answered"), "{out}");
}

#[test]
fn rust_to_rust_many_clients_threads_and_futures() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let worker = echo_worker(&redis, &pool);
    let shared = Client::connect(&redis.url()).unwrap();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = Arc::clone(&barrier);
            let url = redis.url();
            let shared = shared.clone();
            std::thread::spawn(move || {
                let own = Client::connect(&url).unwrap();
                barrier.wait();
                let mut futures = Vec::new();
                for i in 0..100i64 {
                    let c = if i % 2 == 0 { &own } else { &shared };
                    futures.push((i, c.send_task::<i64>("rust.add", (i, t as i64)).unwrap()));
                }
                let fs: Vec<_> = futures.iter().map(|(_, f)| f.clone()).collect();
                let w = wait(&fs, Some(WAIT), ReturnWhen::AllCompleted);
                assert_eq!(w.not_done.len(), 0);
                for (i, f) in &futures {
                    assert_eq!(*f.result().unwrap(), i + t as i64);
                }
                assert_eq!(own.pending(), 0);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(shared.pending(), 0);
    drop(worker);
}

#[test]
fn dropped_futures_and_clones_leave_nothing_pending() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let worker = echo_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();
    for i in 0..200i64 {
        let c = client.clone();
        drop(c.send_task::<i64>("rust.add", (i, i)).unwrap());
    }
    let deadline = Instant::now() + WAIT;
    while client.pending() > 0 {
        assert!(
            Instant::now() < deadline,
            "pending stuck at {}",
            client.pending()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A clone dropped while its futures are pending: the other clone keeps the listener.
    let clone = client.clone();
    let f = clone.send_task::<i64>("rust.add", (1, 1)).unwrap();
    drop(clone);
    assert_eq!(*f.result_timeout(WAIT).unwrap(), 2);
    // as_completed over mixed results
    let fs: Vec<_> = (0..50i64)
        .map(|i| {
            client
                .send_task::<Option<i64>>("rust.opt", (if i % 2 == 0 { Some(i) } else { None },))
                .unwrap()
        })
        .collect();
    let n = as_completed(&fs, Some(WAIT))
        .filter(|f| f.as_ref().unwrap().result().unwrap().is_some())
        .count();
    assert_eq!(n, 25);
    assert_eq!(client.pending(), 0);
    drop(worker);
}

#[test]
fn task_group_of_pool_tasks_awaiting_python_results() {
    let redis = Redis::start();
    let _py = PythonWorker::start(&redis);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let group = TaskGroup::new(&pool.executor());
    let sum = Arc::new(Mutex::new(0i64));
    for i in 0..20i64 {
        let (client, sum) = (client.clone(), Arc::clone(&sum));
        group
            .submit_async(async move {
                let a = client.send_task::<i64>("tasks.add", (i, 1)).unwrap();
                let b = client.send_task::<i64>("tasks.add", (i, 2)).unwrap();
                let v = *(&a).await.unwrap() + *(&b).await.unwrap();
                *sum.lock().unwrap() += v;
            })
            .unwrap();
    }
    group.join_timeout(Duration::from_secs(120)).unwrap();
    assert_eq!(
        *sum.lock().unwrap(),
        (0..20).map(|i| 2 * i + 3).sum::<i64>()
    );
    // The last client dropped while a future is pending: it fails with Closed.
    let never = client
        .send::<i64>(Signature::new("tasks.add").args((1, 2)).queue("nobody"))
        .unwrap();
    drop(client);
    let err = never.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(CeleryError::of(&err), Some(CeleryError::Closed { .. })),
        "{err:?}"
    );
    let _ = Error::Cancelled;
}

/// Found by the review: f64 values do not survive the trip (serde_json without `float_roundtrip`).
#[test]
fn floats_round_trip_exactly_rust_to_rust() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = Worker::builder(&redis.url())
        .task("rust.echo_f64", |(x,): (f64,)| Ok::<_, RemoteException>(x))
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let values: [f64; 7] = [
        -1.5e-300,
        0.1,
        1.0 / 3.0,
        2.2250738585072014e-308,
        5e-324,
        1.7976931348623157e308,
        123456.789e-200,
    ];
    let mut wrong = Vec::new();
    for x in values {
        let got = *client
            .send_task::<f64>("rust.echo_f64", (x,))
            .unwrap()
            .result_timeout(WAIT)
            .unwrap();
        if got.to_bits() != x.to_bits() {
            wrong.push((x, got));
        }
    }
    drop(worker);
    assert!(wrong.is_empty(), "sent -> received: {wrong:?}");
}
