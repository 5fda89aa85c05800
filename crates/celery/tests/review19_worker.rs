//! Review 19: the worker's behaviour, ordinary and adversarial.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use betterconcurrent::ThreadPoolExecutor;
use betterconcurrent_celery::{CeleryError, Client, RemoteException, Signature, Worker};
use common::{python_client, Redis};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn llen(redis: &Redis, key: &str) -> usize {
    redis::cmd("LLEN")
        .arg(key)
        .query(&mut redis.connection())
        .unwrap()
}
fn hlen(redis: &Redis, key: &str) -> usize {
    redis::cmd("HLEN")
        .arg(key)
        .query(&mut redis.connection())
        .unwrap()
}
fn get(redis: &Redis, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut redis.connection())
        .unwrap()
}

fn basic_worker(redis: &Redis, pool: &ThreadPoolExecutor) -> Worker {
    Worker::builder(&redis.url())
        .task("rust.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .task("rust.panic", |(): ()| -> Result<(), RemoteException> {
            panic!("boom {}", 42)
        })
        .task("rust.err", |(m,): (String,)| Err::<(), _>(m))
        .start(pool.executor())
        .unwrap()
}

#[test]
fn panics_errors_and_unknown_names_are_typed_and_the_worker_lives_on() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = basic_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();
    for _ in 0..5 {
        let e = client
            .send_task::<()>("rust.panic", ())
            .unwrap()
            .result_timeout(WAIT)
            .unwrap_err();
        match CeleryError::of(&e) {
            Some(CeleryError::TaskFailed { exception, .. }) => {
                assert_eq!(exception.exc_type, "RuntimeError");
                assert!(exception.message().contains("boom 42"), "{exception}");
            }
            other => panic!("{other:?}"),
        }
        let e = client
            .send_task::<()>("rust.err", ("bad",))
            .unwrap()
            .result_timeout(WAIT)
            .unwrap_err();
        assert!(matches!(
            CeleryError::of(&e),
            Some(CeleryError::TaskFailed { .. })
        ));
        let e = client
            .send_task::<()>("rust.nope", ())
            .unwrap()
            .result_timeout(WAIT)
            .unwrap_err();
        assert!(
            matches!(CeleryError::of(&e), Some(CeleryError::UnknownTask { name, .. }) if name == "rust.nope"),
            "{e:?}"
        );
    }
    assert_eq!(
        *client
            .send_task::<i64>("rust.add", (1, 2))
            .unwrap()
            .result_timeout(WAIT)
            .unwrap(),
        3
    );
    let out = python_client(
        &redis,
        r#"
from celery.exceptions import NotRegistered
for name, args in [('rust.panic', []), ('rust.err', ['x']), ('rust.nope', [])]:
    try:
        app.send_task(name, args=args).get(timeout=30)
    except Exception as e:
        print(type(e).__name__)
"#,
    );
    assert_eq!(out, "RuntimeError\nRuntimeError\nNotRegistered\n");
    // A result is published before its message is acked: the shutdown waits for the acks.
    drop(worker);
    assert_eq!(hlen(&redis, "unacked"), 0);
}

#[test]
fn garbage_on_the_queue_is_dropped_and_the_worker_carries_on() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let worker = basic_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();
    let mut con = redis.connection();
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let garbage = vec![
        "garbage".to_owned(),
        "".to_owned(),
        "{}".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        "\u{0}\u{1}\u{ff}".to_owned(),
        json!({"headers": {"id": "g1", "task": "rust.add"}}).to_string(),
        json!({"headers": {"id": "g2", "task": "rust.add"}, "content-type": "application/json",
               "body": "!!!notbase64", "properties": {"delivery_tag": "t2", "body_encoding": "base64"}}).to_string(),
        json!({"headers": {"id": 5, "task": ["x"]}, "properties": {"delivery_tag": null}}).to_string(),
        json!({"headers": {"id": "g3", "task": "rust.add"}, "content-type": "application/json",
               "body": b64("[[1,2],{}]"), "properties": {"delivery_tag": "t3", "body_encoding": "base64",
               "delivery_info": {"exchange": "", "routing_key": "celery"}}}).to_string(),
        json!({"headers": {"id": "g4", "task": "rust.add"}, "content-type": "application/json",
               "body": b64("[[1,\"x\"],{}]"), "properties": {"delivery_tag": "t4", "body_encoding": "base64"}}).to_string(),
    ];
    for g in &garbage {
        redis::cmd("LPUSH")
            .arg("celery")
            .arg(g)
            .exec(&mut con)
            .unwrap();
    }
    // raw bytes not UTF-8
    redis::cmd("LPUSH")
        .arg("celery")
        .arg(&[0xffu8, 0xfe, 0x00][..])
        .exec(&mut con)
        .unwrap();
    let ok = client.send_task::<i64>("rust.add", (20, 22)).unwrap();
    assert_eq!(*ok.result_timeout(WAIT).unwrap(), 42);
    // The well-formed minimal messages ran and stored results.
    let g3: Result<i64, _> = client.fetch("g3");
    assert_eq!(g3.unwrap(), 3);
    let g4: Result<i64, _> = client.fetch("g4");
    assert!(matches!(g4, Err(CeleryError::TaskFailed { .. })), "{g4:?}");
    assert_eq!(llen(&redis, "celery"), 0);
    let deadline = Instant::now() + WAIT;
    while hlen(&redis, "unacked") != 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(worker);
}

#[test]
fn prefetch_is_never_exceeded() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let worker = Worker::builder(&redis.url())
        .task("rust.gated", move |(v,): (i64,)| {
            released.lock().unwrap().recv().unwrap();
            Ok::<_, RemoteException>(v)
        })
        .prefetch(3)
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let futures: Vec<_> = (0..15)
        .map(|i| client.send_task::<i64>("rust.gated", (i,)).unwrap())
        .collect();
    let mut max_held = 0;
    let mut max_unacked = 0;
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while done < 15 {
        assert!(Instant::now() < deadline);
        // Wait until the worker fills up (or the queue is empty), then observe.
        let target = 3.min(15 - done);
        while worker.held() < target {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
        for _ in 0..20 {
            max_held = max_held.max(worker.held());
            max_unacked = max_unacked.max(hlen(&redis, "unacked"));
        }
        release.send(()).unwrap();
        futures[done].result_timeout(WAIT).unwrap();
        done += 1;
    }
    assert!(max_held <= 3, "held {max_held}");
    assert!(max_unacked <= 3, "unacked {max_unacked}");
    assert_eq!(client.pending(), 0);
    drop(worker);
}

/// Found by the review: the same task id sent twice: the second future never completes (the worker
/// does not overwrite a stored SUCCESS and so publishes nothing; the client never reads the key).
#[test]
fn the_same_task_id_sent_twice_completes_both_futures() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = basic_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();
    let call = Signature::new("rust.add").args((1, 2));
    let first = client.send::<i64>(call.clone()).unwrap();
    assert_eq!(*first.result_timeout(WAIT).unwrap(), 3);
    let second = client.send::<i64>(call).unwrap();
    // The worker ran it (acked: nothing unacked, nothing queued) ...
    let deadline = Instant::now() + WAIT;
    while llen(&redis, "celery") + hlen(&redis, "unacked") > 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    // ... and the result is there to read, but the future does not see it.
    let got = second.result_timeout(Duration::from_secs(10));
    drop(worker);
    assert_eq!(*got.expect("the second send's future never completed"), 3);
}

#[test]
fn a_stored_success_is_not_overwritten_by_a_failure() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = basic_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();
    let id = "fixed-id-1";
    let meta = json!({"status": "SUCCESS", "result": 99, "traceback": null, "children": [], "date_done": "x", "task_id": id});
    redis::cmd("SET")
        .arg(format!("celery-task-meta-{id}"))
        .arg(meta.to_string())
        .exec(&mut redis.connection())
        .unwrap();
    let _f = client
        .send::<()>(Signature::new("rust.err").args(("x",)).with_id(id))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while llen(&redis, "celery") + hlen(&redis, "unacked") > 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(client.fetch::<i64>(id).unwrap(), 99);
    assert!(get(&redis, &format!("celery-task-meta-{id}"))
        .unwrap()
        .contains("SUCCESS"));
    drop(worker);
}

/// Found by the review: one message whose result key holds a non-string value makes the storer fail
/// its whole batch forever: no later result is stored or acked and the worker stops taking work.
#[test]
fn one_unstorable_result_does_not_wedge_the_worker() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = basic_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();
    redis::cmd("RPUSH")
        .arg("celery-task-meta-poison")
        .arg("x")
        .exec(&mut redis.connection())
        .unwrap();
    let _poison = client
        .send::<i64>(Signature::new("rust.add").args((1, 1)).with_id("poison"))
        .unwrap();
    // Later, ordinary tasks, one after the other (the worker's default prefetch is 4).
    for i in 0..10i64 {
        let after = client.send_task::<i64>("rust.add", (i, i)).unwrap();
        let got = after.result_timeout(Duration::from_secs(10));
        let state = (
            worker.held(),
            hlen(&redis, "unacked"),
            llen(&redis, "celery"),
        );
        let value = got.unwrap_or_else(|e| {
            panic!("task {i} after the poison: {e:?} (held, unacked, queued: {state:?})")
        });
        assert_eq!(*value, 2 * i);
    }
    drop(worker);
}

/// Found by the review: a pool shut down under a running worker: each message is refused, put back
/// at the consuming end of the queue, taken again at once: a hot loop of BRPOP/restore.
#[test]
fn a_pool_shut_down_under_the_worker_does_not_spin() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let worker = basic_worker(&redis, &pool);
    let client = Client::connect(&redis.url()).unwrap();
    assert_eq!(
        *client
            .send_task::<i64>("rust.add", (1, 1))
            .unwrap()
            .result_timeout(WAIT)
            .unwrap(),
        2
    );
    pool.shutdown(true, false);
    let _refused = client.send_task::<i64>("rust.add", (2, 2)).unwrap();
    let brpops = || -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut redis.connection())
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_brpop:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    // Wait until the refused message was taken and put back (marked redelivered).
    let deadline = Instant::now() + WAIT;
    let put_back = || {
        redis::cmd("LINDEX")
            .arg("celery")
            .arg(0)
            .query::<Option<String>>(&mut redis.connection())
            .unwrap()
            .is_some_and(|message| message.contains(r#""redelivered":true"#))
    };
    while !put_back() {
        assert!(
            Instant::now() < deadline,
            "the refused message was never put back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = brpops();
    // A measurement over time: an idle consumer BRPOPs about once a second.
    std::thread::sleep(Duration::from_secs(2));
    let during = brpops() - before;
    let report = worker.shutdown();
    assert_eq!(report.finished + report.requeued, 0);
    assert!(during < 20, "{during} BRPOPs in 2 s with a shut-down pool");
    assert_eq!(
        llen(&redis, "celery"),
        1,
        "the refused message is back on its queue"
    );
}

#[test]
fn two_rust_workers_on_one_queue_run_each_task_once() {
    let redis = Redis::start();
    let runs: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let make = |pool: &ThreadPoolExecutor| {
        let runs = Arc::clone(&runs);
        Worker::builder(&redis.url())
            .task("rust.count", move |(i,): (i64,)| {
                *runs.lock().unwrap().entry(i).or_default() += 1;
                Ok::<_, RemoteException>(i)
            })
            .restore_interval(Duration::from_millis(100))
            .start(pool.executor())
            .unwrap()
    };
    let (p1, p2) = (
        ThreadPoolExecutor::builder()
            .max_workers(3)
            .build()
            .unwrap(),
        ThreadPoolExecutor::builder()
            .max_workers(3)
            .build()
            .unwrap(),
    );
    let (w1, w2) = (make(&p1), make(&p2));
    let client = Client::connect(&redis.url()).unwrap();
    let fs: Vec<_> = (0..500)
        .map(|i| client.send_task::<i64>("rust.count", (i,)).unwrap())
        .collect();
    for (i, f) in fs.iter().enumerate() {
        assert_eq!(*f.result_timeout(WAIT).unwrap(), i as i64);
    }
    let (r1, r2) = (w1.shutdown(), w2.shutdown());
    assert_eq!((r1.requeued, r2.requeued), (0, 0));
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 500);
    assert!(runs.values().all(|&n| n == 1));
    assert_eq!(hlen(&redis, "unacked"), 0);
}

#[test]
fn shutdown_with_many_running_and_queued_loses_nothing() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(Mutex::new(released));
    let worker = Worker::builder(&redis.url())
        .task("rust.gated", {
            let started = Arc::clone(&started);
            move |(v,): (i64,)| {
                started.fetch_add(1, Ordering::SeqCst);
                released.lock().unwrap().recv().unwrap();
                Ok::<_, RemoteException>(v)
            }
        })
        .prefetch(6)
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let fs: Vec<_> = (0..20)
        .map(|i| client.send_task::<i64>("rust.gated", (i,)).unwrap())
        .collect();
    let deadline = Instant::now() + WAIT;
    while worker.held() < 6 || started.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    }
    let shutdown = std::thread::spawn(move || worker.shutdown());
    // Let the tasks finish (only the running ones can consume releases).
    let releaser = std::thread::spawn(move || {
        for _ in 0..20 {
            if release.send(()).is_err() {
                break;
            }
        }
    });
    let report = shutdown.join().unwrap();
    releaser.join().unwrap();
    let done = fs
        .iter()
        .filter(|f| f.result_timeout(Duration::from_secs(2)).is_ok())
        .count();
    assert!(report.finished + report.requeued <= 6, "{report:?}");
    assert!(done >= report.finished, "{report:?}");
    assert_eq!(llen(&redis, "celery") + done, 20, "{report:?}");
    assert_eq!(hlen(&redis, "unacked"), 0);
}
