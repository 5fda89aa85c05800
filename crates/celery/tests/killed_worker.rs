//! A worker process killed with SIGKILL mid-task does not lose its task: another worker puts it
//! back once the visibility timeout has passed and runs it, across languages (kombu's Redis
//! transport, which both sides implement). Three scenarios: a Rust worker killed and a Python
//! one finishing, a Python worker killed and a Rust one finishing, a Rust worker killed and
//! another Rust one finishing.
//!
//! Its own `main` (no test harness): run with `KILLED_WORKER_URL` set, it is the Rust worker
//! to be killed, which says `started <task id>` on standard output when its task runs and then
//! never finishes it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use betterconcurrent::ThreadPoolExecutor;
use betterconcurrent_celery::{Client, RemoteException, Signature, Worker};
use common::{PythonWorker, Redis};

const WAIT: Duration = Duration::from_secs(60);
const ROLE: &str = "KILLED_WORKER_URL";

fn main() {
    if let Ok(url) = std::env::var(ROLE) {
        serve_until_killed(&url);
        return;
    }
    a_killed_rust_workers_task_is_finished_by_a_python_worker();
    println!("a killed Rust worker's task is finished by a Python worker: ok");
    a_killed_python_workers_task_is_finished_by_a_rust_worker();
    println!("a killed Python worker's task is finished by a Rust worker: ok");
    a_killed_rust_workers_task_is_finished_by_another_rust_worker();
    println!("a killed Rust worker's task is finished by another Rust worker: ok");
}

/// The child: a Rust worker whose `tasks.sleep` never returns.
fn serve_until_killed(url: &str) {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let _worker = Worker::builder(url)
        .task_with_kwargs("tasks.sleep", |_args, _kwargs| {
            println!("started");
            loop {
                std::thread::park(); // until SIGKILL
            }
        })
        .prefetch(1)
        .start(pool.executor())
        .unwrap();
    loop {
        std::thread::park();
    }
}

/// Start the child worker and wait until its task runs.
fn rust_worker_running_its_task(redis: &Redis) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, redis.url())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    match lines.next() {
        Some(Ok(line)) if line == "started" => child,
        other => {
            let _ = child.kill();
            panic!("the child worker did not start its task: {other:?}");
        }
    }
}

fn unacked(redis: &Redis) -> usize {
    redis::cmd("HLEN")
        .arg("unacked")
        .query(&mut redis.connection())
        .unwrap()
}

/// Wait until no message is unacked: a worker stores the result, which the client may see,
/// before it acks the message.
fn all_acked(redis: &Redis) {
    let deadline = Instant::now() + WAIT;
    while unacked(redis) > 0 {
        assert!(Instant::now() < deadline, "a message stayed unacked");
        std::thread::sleep(Duration::from_millis(20)); // watching the broker, not synchronising
    }
}

/// A Rust worker that puts back what has been unacked for 2 s, and runs `tasks.sleep` at once.
fn rust_survivor(redis: &Redis, pool: &ThreadPoolExecutor) -> Worker {
    Worker::builder(&redis.url())
        .task("tasks.sleep", |(seconds,): (f64,)| {
            Ok::<_, RemoteException>(seconds)
        })
        .visibility_timeout(Duration::from_secs(2))
        .restore_interval(Duration::from_millis(200))
        .start(pool.executor())
        .unwrap()
}

fn a_killed_rust_workers_task_is_finished_by_a_python_worker() {
    let redis = Redis::start();
    let client = Client::connect(&redis.url()).unwrap();
    let task = client.send_task::<f64>("tasks.sleep", (0.25,)).unwrap();
    let mut child = rust_worker_running_its_task(&redis);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        unacked(&redis),
        1,
        "the killed worker's message stays unacked"
    );
    let _python = PythonWorker::start_with(&redis, &[("VISIBILITY_TIMEOUT", "2")]);
    assert_eq!(*task.result_timeout(WAIT).unwrap(), 0.25);
    all_acked(&redis);
}

fn a_killed_python_workers_task_is_finished_by_a_rust_worker() {
    let redis = Redis::start();
    let client = Client::connect(&redis.url()).unwrap();
    let mut python = PythonWorker::start(&redis);
    let call = Signature::new("tasks.sleep").args((3600.0,));
    let id = call.id().to_owned();
    let task = client.send::<f64>(call).unwrap();
    let deadline = Instant::now() + WAIT;
    while !python.output.text().contains(&format!("[{id}] received")) {
        assert!(Instant::now() < deadline, "{}", python.output.text());
        std::thread::sleep(Duration::from_millis(20)); // watching a log, not synchronising
    }
    python.kill();
    assert_eq!(unacked(&redis), 1, "acks_late: the message stays unacked");
    let pool = ThreadPoolExecutor::new();
    let worker = rust_survivor(&redis, &pool);
    assert_eq!(*task.result_timeout(WAIT).unwrap(), 3600.0);
    drop(worker);
    all_acked(&redis);
}

fn a_killed_rust_workers_task_is_finished_by_another_rust_worker() {
    let redis = Redis::start();
    let client = Client::connect(&redis.url()).unwrap();
    let task = client.send_task::<f64>("tasks.sleep", (1.5,)).unwrap();
    let mut child = rust_worker_running_its_task(&redis);
    child.kill().unwrap();
    child.wait().unwrap();
    let pool = ThreadPoolExecutor::new();
    let worker = rust_survivor(&redis, &pool);
    assert_eq!(*task.result_timeout(WAIT).unwrap(), 1.5);
    drop(worker);
    all_acked(&redis);
}
