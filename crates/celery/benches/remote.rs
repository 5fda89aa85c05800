//! Issue 19's benchmark: the round-trip latency of a trivial remote task (`tasks.add`) and the
//! throughput of many sent at once, through this crate's client and one Rust worker, against
//! the same through Python Celery's client and one Python worker, in one run, each on its own
//! `redis-server` on loopback. Both workers acknowledge late and hold four messages per worker
//! thread (Celery's default prefetch multiplier): the Rust worker's pool has two threads, the
//! Python worker is `--pool=solo`, one.
//!
//! ```text
//! cargo bench -p betterconcurrent-celery --bench remote              # 10,000 tasks
//! cargo bench -p betterconcurrent-celery --bench remote -- --test    # 100: does it run?
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use betterconcurrent::{wait, ReturnWhen, ThreadPoolExecutor};
use betterconcurrent_celery::{Client, RemoteException, Worker};
use common::{PythonWorker, Redis};

const WAIT: Duration = Duration::from_secs(600);

/// One side's measurements.
struct Measured {
    /// Median of the sequential round trips.
    latency: Duration,
    /// Tasks a second, sending all of them, then waiting for every result.
    throughput: f64,
}

fn main() {
    let test_mode = std::env::args().any(|arg| arg == "--test");
    let (trips, tasks) = if test_mode {
        (20, 100)
    } else {
        (1_000, 10_000)
    };

    let rust = rust_side(trips, tasks);
    let python = python_side(trips, tasks);
    println!("remote tasks over Redis on loopback: {trips} round trips, {tasks} tasks at once");
    println!("| side | round trip (median) | throughput |");
    println!("| --- | --- | --- |");
    for (name, side) in [
        ("betterconcurrent-celery client + Rust worker", &rust),
        ("Celery 5.7.0 client + Python worker (solo)", &python),
    ] {
        println!(
            "| {name} | {:.0} µs | {:.0} tasks/s |",
            side.latency.as_secs_f64() * 1e6,
            side.throughput
        );
    }
    println!(
        "ours against Python's: round trip {:.2}x, throughput {:.1}x",
        rust.latency.as_secs_f64() / python.latency.as_secs_f64(),
        rust.throughput / python.throughput
    );
}

fn rust_side(trips: usize, tasks: usize) -> Measured {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let worker = Worker::builder(&redis.url())
        .task("tasks.add", |(x, y): (i64, i64)| {
            Ok::<_, RemoteException>(x + y)
        })
        .start(pool.executor())
        .unwrap();
    let client = Client::connect(&redis.url()).unwrap();
    let round_trip = |i: i64| {
        let sum = client.send_task::<i64>("tasks.add", (i, 1)).unwrap();
        assert_eq!(*sum.result_timeout(WAIT).unwrap(), i + 1);
    };
    round_trip(0); // warm-up: connections made, code paged in
    let mut latencies: Vec<Duration> = (0..trips as i64)
        .map(|i| {
            let started = Instant::now();
            round_trip(i);
            started.elapsed()
        })
        .collect();
    latencies.sort_unstable();

    let started = Instant::now();
    let sums: Vec<_> = (0..tasks as i64)
        .map(|i| client.send_task::<i64>("tasks.add", (i, 1)).unwrap())
        .collect();
    let waited = wait(&sums, Some(WAIT), ReturnWhen::AllCompleted);
    let elapsed = started.elapsed();
    assert_eq!(waited.done.len(), tasks);
    for (i, sum) in sums.iter().enumerate() {
        assert_eq!(*sum.result().unwrap(), i as i64 + 1);
    }
    drop(worker);
    Measured {
        latency: latencies[latencies.len() / 2],
        throughput: tasks as f64 / elapsed.as_secs_f64(),
    }
}

fn python_side(trips: usize, tasks: usize) -> Measured {
    let redis = Redis::start();
    let _worker = PythonWorker::start_with(&redis, &[("PREFETCH_MULTIPLIER", "4")]);
    let script = format!(
        r#"
import statistics, time
add = lambda i: app.send_task("tasks.add", args=[i, 1])
assert add(0).get(timeout=600) == 1
latencies = []
for i in range({trips}):
    started = time.perf_counter()
    assert add(i).get(timeout=600) == i + 1
    latencies.append(time.perf_counter() - started)
started = time.perf_counter()
results = [add(i) for i in range({tasks})]
for i, result in enumerate(results):
    assert result.get(timeout=600) == i + 1
print(statistics.median(latencies), time.perf_counter() - started)
"#
    );
    let printed = common::python_client(&redis, &script);
    let mut numbers = printed
        .split_whitespace()
        .map(|number| number.parse::<f64>().expect("two numbers"));
    let (latency, elapsed) = (numbers.next().unwrap(), numbers.next().unwrap());
    Measured {
        latency: Duration::from_secs_f64(latency),
        throughput: tasks as f64 / elapsed,
    }
}
