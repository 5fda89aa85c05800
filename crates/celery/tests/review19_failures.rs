//! Review 19: failure behaviour: a frozen broker, failed sends, clients dropped in callbacks,
//! wrong URLs, unknown ids, broker restarts under a worker.

mod common;

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use betterconcurrent::{Error, ThreadPoolExecutor};
use betterconcurrent_celery::{CeleryError, Client, RemoteException, Signature, Worker};
use common::{PythonWorker, Redis};

const WAIT: Duration = Duration::from_secs(30);

fn redis_pid(redis: &Redis) -> i32 {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut redis.connection())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn signal(pid: i32, sig: &str) {
    assert!(std::process::Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success());
}

/// Found by the review: a broker that stops answering without closing the connection (a frozen
/// process, a network partition) is never noticed by the listener: pending futures never fail
/// with `Disconnected`, however small `reconnect_timeout` is, and `connected()` stays true.
#[test]
fn a_frozen_broker_fails_pending_futures_after_the_reconnect_timeout() {
    let redis = Redis::start();
    let client = Client::builder(&redis.url())
        .connect_timeout(Duration::from_millis(500))
        .reconnect_timeout(Duration::from_secs(1))
        .connect()
        .unwrap();
    let pending = client.send_task::<i64>("tasks.add", (1, 2)).unwrap();
    let deadline = Instant::now() + WAIT;
    while !client.connected() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = redis_pid(&redis);
    signal(pid, "-STOP");
    // Sends notice the frozen broker (their command times out) ...
    let send = client.send_task::<i64>("tasks.add", (1, 2));
    let outcome = pending.result_timeout(Duration::from_secs(20));
    let connected = client.connected();
    signal(pid, "-CONT");
    assert!(matches!(send, Err(CeleryError::Broker(_))), "{send:?}");
    // ... but the pending future is never failed.
    let error = outcome
        .expect_err("the pending future outlived a frozen broker by 20 s (reconnect_timeout 1 s)");
    assert!(
        matches!(
            CeleryError::of(&error),
            Some(CeleryError::Disconnected { .. })
        ),
        "{error:?}"
    );
    assert!(!connected);
}

/// Found by the review: a send that fails removes *every* pending future of its id from the client,
/// including a `Client::result` future for that id, which then never completes, not even with
/// `Closed` when the client is dropped.
#[test]
fn a_failed_send_does_not_orphan_another_future_of_the_same_id() {
    let mut redis = Redis::start();
    let client = Client::builder(&redis.url())
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .unwrap();
    let call = Signature::new("tasks.add").args((1, 2));
    let watched = client.result::<i64>(call.id());
    assert_eq!(client.pending(), 1);
    redis.stop();
    assert!(matches!(
        client.send::<i64>(call),
        Err(CeleryError::Broker(_))
    ));
    drop(client);
    let outcome = watched.result_timeout(Duration::from_secs(10));
    let error = outcome.expect_err("the result() future is orphaned: never completed");
    assert!(
        matches!(CeleryError::of(&error), Some(CeleryError::Closed { .. })),
        "{error:?}"
    );
}

/// Found by the review: the last `Client` dropped in a done callback (run on the listener thread)
/// makes the listener join itself: the other pending futures never fail with `Closed`.
#[test]
fn the_last_client_dropped_in_a_done_callback_still_closes_pending_futures() {
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
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let first = client.send_task::<i64>("rust.gated", (1,)).unwrap();
    let never = client
        .send::<i64>(Signature::new("rust.gated").args((2,)).queue("nobody"))
        .unwrap();
    let (dropped, on_dropped) = mpsc::channel();
    let holder = Arc::new(Mutex::new(Some(client)));
    first.add_done_callback({
        let holder = Arc::clone(&holder);
        move |_| {
            // e.g. a callback that would send a follow-up task, and the last handle with it
            let client = holder.lock().unwrap().take();
            drop(client);
            let _ = dropped.send(std::thread::current().name().map(str::to_owned));
        }
    });
    drop(holder);
    release.send(()).unwrap();
    assert_eq!(*first.result_timeout(WAIT).unwrap(), 1);
    let thread = on_dropped.recv_timeout(WAIT).unwrap();
    assert_eq!(thread.as_deref(), Some("celery-result-listener"));
    let outcome = never.result_timeout(Duration::from_secs(10));
    drop(worker);
    let error = outcome.expect_err("a pending future of a dropped client never completed");
    assert!(
        matches!(CeleryError::of(&error), Some(CeleryError::Closed { .. })),
        "{error:?}"
    );
}

#[test]
fn wrong_urls_fail_promptly_with_broker_errors() {
    for url in [
        "not a url",
        "http://127.0.0.1:6379/0",
        "redis://127.0.0.1:1/0",
        "redis://[::1]:1/0",
        "redis://127.0.0.1:6379/notadb",
        "",
    ] {
        let started = Instant::now();
        let client = Client::builder(url)
            .connect_timeout(Duration::from_secs(1))
            .connect();
        assert!(
            matches!(client, Err(CeleryError::Broker(_))),
            "{url}: {client:?}"
        );
        let worker = Worker::builder(url)
            .connect_timeout(Duration::from_secs(1))
            .start(ThreadPoolExecutor::new().executor());
        assert!(matches!(worker, Err(CeleryError::Broker(_))), "{url}");
        assert!(started.elapsed() < Duration::from_secs(10), "{url}");
    }
    // A blackholed address: bounded by connect_timeout.
    let started = Instant::now();
    let client = Client::builder("redis://10.255.255.1:6379/0")
        .connect_timeout(Duration::from_secs(1))
        .connect();
    assert!(matches!(client, Err(CeleryError::Broker(_))));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn unknown_ids_and_a_dropped_client() {
    let redis = Redis::start();
    let client = Client::connect(&redis.url()).unwrap();
    assert!(matches!(
        client.fetch::<i64>("no-such-id"),
        Err(CeleryError::NoResult { .. })
    ));
    assert!(matches!(
        client.fetch::<i64>(""),
        Err(CeleryError::NoResult { .. })
    ));
    let waiting = client.result::<i64>("no-such-id");
    assert!(matches!(
        waiting.result_timeout(Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
    assert_eq!(client.pending(), 1);
    // A garbage meta stored under an id: BadResult, both ways.
    redis::cmd("SET")
        .arg("celery-task-meta-junk")
        .arg("{not json")
        .exec(&mut redis.connection())
        .unwrap();
    assert!(matches!(
        client.fetch::<i64>("junk"),
        Err(CeleryError::BadResult { .. })
    ));
    let junk = client.result::<i64>("junk");
    let e = junk.result_timeout(WAIT).unwrap_err();
    assert!(matches!(
        CeleryError::of(&e),
        Some(CeleryError::BadResult { .. })
    ));
    drop(client);
    let e = waiting.result_timeout(WAIT).unwrap_err();
    assert!(matches!(
        CeleryError::of(&e),
        Some(CeleryError::Closed { .. })
    ));
}

#[test]
fn a_worker_and_a_client_survive_a_broker_restart() {
    let mut redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let worker = Worker::builder(&redis.url())
        .task("rust.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .task("tasks.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    assert_eq!(
        *client
            .send_task::<i64>("rust.add", (1, 1))
            .unwrap()
            .result_timeout(WAIT)
            .unwrap(),
        2
    );
    for round in 0..3 {
        redis.restart();
        // Sends reconnect; the worker and the listener reconnect on their own.
        let deadline = Instant::now() + WAIT;
        let f = loop {
            match client.send_task::<i64>("rust.add", (round, 10)) {
                Ok(f) => break f,
                Err(_) => {
                    assert!(Instant::now() < deadline);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        assert_eq!(
            *f.result_timeout(WAIT).unwrap(),
            round + 10,
            "round {round}"
        );
    }
    // And the Python side too, on the restarted broker.
    let _py = PythonWorker::start(&redis);
    let fs: Vec<_> = (0..20)
        .map(|i| client.send_task::<i64>("tasks.add", (i, 1)).unwrap())
        .collect();
    for (i, f) in fs.iter().enumerate() {
        assert_eq!(*f.result_timeout(WAIT).unwrap(), i as i64 + 1);
    }
    assert_eq!(client.pending(), 0);
    let report = worker.shutdown();
    assert_eq!(report.requeued, 0);
}

#[test]
fn a_broker_killed_for_good_under_a_worker_does_not_hang_its_shutdown() {
    let mut redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let (started, on_start) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let worker = Worker::builder(&redis.url())
        .task("rust.gated", move |(v,): (i64,)| {
            started.send(()).unwrap();
            released.lock().unwrap().recv().unwrap();
            Ok::<_, RemoteException>(v)
        })
        .prefetch(2)
        .connect_timeout(Duration::from_millis(500))
        .start(pool.executor())
        .unwrap();
    let client = Client::builder(&redis.url())
        .reconnect_timeout(Duration::from_secs(1))
        .connect()
        .unwrap();
    let a = client.send_task::<i64>("rust.gated", (1,)).unwrap();
    let b = client.send_task::<i64>("rust.gated", (2,)).unwrap();
    on_start.recv_timeout(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    while worker.held() < 2 {
        assert!(
            Instant::now() < deadline,
            "the worker never took the second"
        );
        std::thread::yield_now();
    }
    redis.stop();
    let e = a.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(CeleryError::of(&e), Some(CeleryError::Disconnected { .. })),
        "{e:?}"
    );
    assert!(b.result_timeout(WAIT).is_err());
    release.send(()).unwrap();
    release.send(()).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(worker.shutdown()).unwrap());
    let report = rx
        .recv_timeout(WAIT)
        .expect("shutdown hung with the broker gone");
    // Each ran, or waited for the pool's one thread when the shutdown came (then its message
    // comes back after the visibility timeout: the broker is gone).
    assert_eq!(report.finished + report.requeued, 2);
}
