//! Issue 19's failure cases, each with a real broker: a broker unreachable at submit, a broker
//! restarted or gone while futures are pending, an unknown task name, a result that is not the
//! JSON asked for, a result that expired, and a worker's graceful shutdown with work held.

mod common;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use betterconcurrent::{Error, ThreadPoolExecutor};
use betterconcurrent_celery::{CeleryError, Client, RemoteException, Signature, Worker};
use common::{PythonWorker, Redis};

const WAIT: Duration = Duration::from_secs(30);

fn failure(error: &Error) -> &CeleryError {
    CeleryError::of(error).unwrap_or_else(|| panic!("not a CeleryError: {error:?}"))
}

fn queue_length(redis: &Redis, queue: &str) -> usize {
    redis::cmd("LLEN")
        .arg(queue)
        .query(&mut redis.connection())
        .unwrap()
}

/// A worker on a one-thread pool whose `rust.gated` task sends its argument on `started` when
/// it runs, then waits for one `release`; holding at most `prefetch` messages.
struct Gated {
    worker: Worker,
    started: mpsc::Receiver<i64>,
    release: mpsc::Sender<()>,
    pool: ThreadPoolExecutor,
}

fn gated_worker(redis: &Redis, prefetch: usize) -> Gated {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let (started, on_start) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let worker = Worker::builder(&redis.url())
        .task("rust.gated", move |(value,): (i64,)| {
            started.send(value).unwrap();
            released.lock().unwrap().recv().unwrap();
            Ok::<_, RemoteException>(value)
        })
        .prefetch(prefetch)
        .start(pool.executor())
        .unwrap();
    Gated {
        worker,
        started: on_start,
        release,
        pool,
    }
}

#[test]
fn a_broker_that_is_down_fails_connect_and_send_with_a_typed_error_and_sends_nothing() {
    let mut redis = Redis::start();
    let nobody = format!("redis://127.0.0.1:{}/0", {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    });
    assert!(matches!(
        Client::connect(&nobody),
        Err(CeleryError::Broker(_))
    ));
    assert!(matches!(
        Worker::builder(&nobody).start(ThreadPoolExecutor::new().executor()),
        Err(CeleryError::Broker(_))
    ));

    let client = Client::connect(&redis.url()).unwrap();
    // Arguments that are not a JSON array: refused before anything is sent.
    let refused = client.send_task::<i64>("tasks.add", 5);
    assert!(matches!(refused, Err(CeleryError::Encode(_))));
    assert_eq!(queue_length(&redis, "celery"), 0);

    redis.stop();
    let refused = client.send_task::<i64>("tasks.add", (1, 2));
    assert!(
        matches!(refused, Err(CeleryError::Broker(_))),
        "{refused:?}"
    );
    assert_eq!(
        client.pending(),
        0,
        "a refused send leaves no pending future"
    );

    // The client comes back with the broker: the next send reconnects.
    redis.restart();
    let sent = client.send_task::<i64>("tasks.add", (1, 2)).unwrap();
    assert_eq!(queue_length(&redis, "celery"), 1);
    assert!(!sent.done());
}

#[test]
fn a_broker_gone_for_longer_than_the_reconnect_timeout_fails_pending_futures() {
    let mut redis = Redis::start();
    let client = Client::builder(&redis.url())
        .reconnect_timeout(Duration::from_millis(500))
        .connect()
        .unwrap();
    let pending = client.send_task::<i64>("tasks.add", (1, 2)).unwrap();
    redis.stop();
    let error = pending.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(failure(&error), CeleryError::Disconnected { .. }),
        "{error:?}"
    );
    assert_eq!(client.pending(), 0);
}

#[test]
fn after_a_broker_restart_a_running_task_still_completes_and_a_lost_one_fails() {
    let mut redis = Redis::start();
    let Gated {
        worker,
        started: on_start,
        release,
        pool: _pool,
    } = gated_worker(&redis, 1);
    let client = Client::builder(&redis.url())
        .lost_after_restart(Duration::from_secs(2))
        .connect()
        .unwrap();
    let running = client.send_task::<i64>("rust.gated", (7,)).unwrap();
    on_start.recv_timeout(WAIT).unwrap();
    // Queued behind it on a queue nobody serves: the restart takes it (no persistence).
    let queued = client
        .send::<i64>(Signature::new("rust.gated").args((8,)).queue("nobody"))
        .unwrap();
    redis.restart();
    // The worker finishes after the restart and stores the result on the new server.
    release.send(()).unwrap();
    assert_eq!(*running.result_timeout(WAIT).unwrap(), 7);
    let error = queued.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(failure(&error), CeleryError::Lost { .. }),
        "{error:?}"
    );
    assert_eq!(client.pending(), 0);
    drop(worker);
}

#[test]
fn an_unknown_task_name_fails_as_unknown_on_either_worker() {
    let redis = Redis::start();
    let client = Client::connect(&redis.url()).unwrap();

    let python = PythonWorker::start(&redis);
    let unknown = client.send_task::<i64>("tasks.nothing", (1,)).unwrap();
    let error = unknown.result_timeout(WAIT).unwrap_err();
    match failure(&error) {
        CeleryError::UnknownTask { name, .. } => assert_eq!(name, "tasks.nothing"),
        other => panic!("{other:?}"),
    }
    drop(python);

    let pool = ThreadPoolExecutor::new();
    let worker = Worker::builder(&redis.url())
        .start(pool.executor())
        .unwrap();
    let unknown = client.send_task::<i64>("rust.nothing", (1,)).unwrap();
    let error = unknown.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(failure(&error), CeleryError::UnknownTask { .. }),
        "{error:?}"
    );
    let report = worker.shutdown();
    assert_eq!((report.finished, report.requeued), (0, 0));
    assert_eq!(
        redis::cmd("HLEN")
            .arg("unacked")
            .query::<usize>(&mut redis.connection())
            .unwrap(),
        0,
        "the unknown task's message was acked, not left to come back"
    );
}

#[test]
fn a_result_that_is_not_the_json_asked_for_is_a_typed_error() {
    let redis = Redis::start();
    let _python = PythonWorker::start(&redis);
    let client = Client::connect(&redis.url()).unwrap();

    // A value of another type than the future's.
    let text = client.send_task::<i64>("tasks.echo", ("five",)).unwrap();
    let error = text.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(failure(&error), CeleryError::BadResult { .. }),
        "{error:?}"
    );

    // A meta that is not JSON at all, stored and published as a backend would.
    let nowhere = client
        .send::<i64>(Signature::new("tasks.add").args((1, 2)).queue("nobody"))
        .unwrap();
    let key = format!("celery-task-meta-{}", nowhere_id(&redis));
    let mut connection = redis.connection();
    redis::pipe()
        .cmd("SET")
        .arg(&key)
        .arg("{not json")
        .cmd("PUBLISH")
        .arg(&key)
        .arg("{not json")
        .exec(&mut connection)
        .unwrap();
    let error = nowhere.result_timeout(WAIT).unwrap_err();
    assert!(
        matches!(failure(&error), CeleryError::BadResult { .. }),
        "{error:?}"
    );
    assert_eq!(client.pending(), 0);
}

/// The id of the one message on the queue `nobody`.
fn nowhere_id(redis: &Redis) -> String {
    let raw: String = redis::cmd("LINDEX")
        .arg("nobody")
        .arg(0)
        .query(&mut redis.connection())
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_str(&raw).unwrap();
    envelope["headers"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_result_that_expired_from_the_backend_is_a_typed_error() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::new();
    let worker = Worker::builder(&redis.url())
        .task("rust.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .result_expires(Some(Duration::from_secs(1)))
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let call = Signature::new("rust.add").args((20, 22));
    let id = call.id().to_owned();
    let sum = client.send::<i64>(call).unwrap();
    assert_eq!(*sum.result_timeout(WAIT).unwrap(), 42);
    assert_eq!(client.fetch::<i64>(&id).unwrap(), 42);

    // A test about time: wait for the backend's expiry (1 s), bounded generously.
    let key = format!("celery-task-meta-{id}");
    let deadline = Instant::now() + WAIT;
    while redis::cmd("EXISTS")
        .arg(&key)
        .query::<bool>(&mut redis.connection())
        .unwrap()
    {
        assert!(Instant::now() < deadline, "the result never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(matches!(
        client.fetch::<i64>(&id),
        Err(CeleryError::NoResult { .. })
    ));
    // The future of a result by id cannot tell "expired" from "not yet": it waits.
    let later = client.result::<i64>(&id);
    assert!(matches!(
        later.result_timeout(Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
    drop(worker);
}

#[test]
fn a_graceful_shutdown_finishes_what_runs_and_puts_back_what_waits() {
    let redis = Redis::start();
    let Gated {
        worker,
        started: on_start,
        release,
        pool: _pool,
    } = gated_worker(&redis, 2);
    let client = Client::connect(&redis.url()).unwrap();
    let first = client.send_task::<i64>("rust.gated", (1,)).unwrap();
    assert_eq!(on_start.recv_timeout(WAIT).unwrap(), 1);
    let second = client.send_task::<i64>("rust.gated", (2,)).unwrap();
    // Wait until the worker holds the second one too (prefetch 2, the pool's one thread busy).
    let deadline = Instant::now() + WAIT;
    while worker.held() < 2 {
        assert!(
            Instant::now() < deadline,
            "the worker never took the second message"
        );
        std::thread::yield_now();
    }
    let shutdown = std::thread::spawn(move || worker.shutdown());
    // The shutdown puts the second back before the first may finish (else the pool's thread
    // would start the second, and there would be nothing to put back).
    let deadline = Instant::now() + WAIT;
    while queue_length(&redis, "celery") == 0 {
        assert!(
            Instant::now() < deadline,
            "the shutdown never put the second back"
        );
        std::thread::yield_now();
    }
    release.send(()).unwrap();
    let report = shutdown.join().unwrap();
    assert_eq!((report.finished, report.requeued), (1, 1));
    assert_eq!(*first.result_timeout(WAIT).unwrap(), 1);
    assert!(!second.done());
    assert_eq!(queue_length(&redis, "celery"), 1, "put back on its queue");

    // Another worker runs it.
    let pool = ThreadPoolExecutor::new();
    let other = Worker::builder(&redis.url())
        .task("rust.gated", |(value,): (i64,)| {
            Ok::<_, RemoteException>(value * 10)
        })
        .start(pool.executor())
        .unwrap();
    assert_eq!(*second.result_timeout(WAIT).unwrap(), 20);
    drop(other);
}

#[test]
fn a_worker_holds_no_more_messages_than_its_prefetch() {
    let redis = Redis::start();
    let Gated {
        worker,
        started: on_start,
        release,
        pool: _pool,
    } = gated_worker(&redis, 3);
    let client = Client::connect(&redis.url()).unwrap();
    let futures: Vec<_> = (0..10)
        .map(|i| client.send_task::<i64>("rust.gated", (i,)).unwrap())
        .collect();
    assert_eq!(on_start.recv_timeout(WAIT).unwrap(), 0);
    let deadline = Instant::now() + WAIT;
    while worker.held() < 3 {
        assert!(
            Instant::now() < deadline,
            "the worker never filled its prefetch"
        );
        std::thread::yield_now();
    }
    // Full: the consumer waits for an ack before it takes another.
    assert_eq!(worker.held(), 3);
    assert_eq!(queue_length(&redis, "celery"), 7);
    let unacked: usize = redis::cmd("HLEN")
        .arg("unacked")
        .query(&mut redis.connection())
        .unwrap();
    assert_eq!(unacked, 3);
    let mut ran = vec![0];
    release.send(()).unwrap();
    for _ in 1..10 {
        ran.push(on_start.recv_timeout(WAIT).unwrap());
        release.send(()).unwrap();
    }
    ran.sort_unstable();
    assert_eq!(ran, (0..10).collect::<Vec<_>>(), "each ran once");
    for (i, future) in futures.iter().enumerate() {
        assert_eq!(*future.result_timeout(WAIT).unwrap(), i as i64);
    }
    drop(worker);
}

#[test]
fn a_pool_shut_down_under_its_worker_loses_no_message() {
    let redis = Redis::start();
    let Gated {
        worker,
        started: on_start,
        release,
        pool,
    } = gated_worker(&redis, 3);
    let client = Client::connect(&redis.url()).unwrap();
    let futures: Vec<_> = (0..5)
        .map(|i| client.send_task::<i64>("rust.gated", (i,)).unwrap())
        .collect();
    let first = on_start.recv_timeout(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    while worker.held() < 3 {
        assert!(
            Instant::now() < deadline,
            "the worker never filled its prefetch"
        );
        std::thread::yield_now();
    }
    // The two queued on the pool are cancelled by its shutdown: their messages go back.
    pool.shutdown(false, true);
    release.send(()).unwrap();
    assert_eq!(
        *futures[first as usize].result_timeout(WAIT).unwrap(),
        first
    );
    // The worker puts back what the closed pool refuses and takes no more.
    while worker.held() > 0 || queue_length(&redis, "celery") < 4 {
        assert!(Instant::now() < deadline, "held {}", worker.held());
        std::thread::yield_now();
    }
    let report = worker.shutdown();
    assert_eq!((report.finished, report.requeued), (0, 0));
    assert_eq!(queue_length(&redis, "celery"), 4);

    let pool = ThreadPoolExecutor::new();
    let other = Worker::builder(&redis.url())
        .task("rust.gated", |(value,): (i64,)| {
            Ok::<_, RemoteException>(value)
        })
        .start(pool.executor())
        .unwrap();
    for (i, future) in futures.iter().enumerate() {
        assert_eq!(*future.result_timeout(WAIT).unwrap(), i as i64);
    }
    drop(other);
}
