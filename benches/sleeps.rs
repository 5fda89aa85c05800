//! W8 of issue 15: 100,000 concurrent sleeps, ours (`time::sleep` in pool tasks) against tokio's
//! `time::sleep` on its multi-thread runtime, both with two workers. Three measures, one run:
//! - **memory per pending sleep**: the live heap added while 100,000 tasks each sleep, counted
//!   once every sleep is armed (task cells, timer entries, queues; the handles' vector is
//!   allocated beforehand);
//! - **arm and fire** (criterion): from the first spawn to the last task done, less the sleep's
//!   own `SLEEP`, so what is measured is the cost of arming 100,000 sleeps and firing them, not
//!   the waiting;
//! - **lateness**: how long after its deadline each task ran again (median and p99).
//!
//! ```text
//! cargo bench --bench sleeps      # prints the report, writes target/w8_sleeps.json
//! ```
#![cfg_attr(feature = "loom", allow(unused))]

use std::future::Future as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;

#[path = "../tests/common/counting_allocator.rs"]
mod counting_allocator;
use counting_allocator::{live_bytes, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Sleeps pending at once.
const SLEEPS: usize = 100_000;
/// How long each sleeps: longer than arming them all takes, so all are pending together.
const SLEEP: Duration = Duration::from_millis(300);
/// Workers of each runtime.
const WORKERS: usize = 2;

/// Nanoseconds each task ran after its deadline, and how many have run.
struct Lateness {
    nanos: Vec<AtomicU64>,
    done: AtomicUsize,
}

impl Lateness {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            nanos: (0..SLEEPS).map(|_| AtomicU64::new(0)).collect(),
            done: AtomicUsize::new(0),
        })
    }

    fn record(&self, task: usize, deadline: Instant) {
        let late = Instant::now().saturating_duration_since(deadline);
        self.nanos[task].store(late.as_nanos() as u64, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Release);
    }

    /// Median and 99th percentile, in microseconds.
    fn percentiles(&self) -> (f64, f64) {
        let mut nanos: Vec<u64> = self
            .nanos
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect();
        nanos.sort_unstable();
        let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
        (at(0.5), at(0.99))
    }
}

fn pool() -> betterconcurrent::ThreadPoolExecutor {
    betterconcurrent::ThreadPoolExecutor::builder()
        .max_workers(WORKERS)
        .build()
        .unwrap()
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_time()
        .build()
        .unwrap()
}

/// Spawn the sleeps on our pool; returns when all are done.
fn run_ours(
    pool: &betterconcurrent::ThreadPoolExecutor,
    lateness: &Arc<Lateness>,
    mut when_armed: impl FnMut(),
) {
    let mut futures = Vec::with_capacity(SLEEPS);
    for task in 0..SLEEPS {
        let lateness = lateness.clone();
        futures.push(
            pool.submit_async(async move {
                let deadline = Instant::now() + SLEEP;
                betterconcurrent::time::sleep_until(deadline).await;
                lateness.record(task, deadline);
            })
            .unwrap(),
        );
    }
    while betterconcurrent::time::pending_sleeps() + lateness.done.load(Ordering::Acquire) < SLEEPS
    {
        std::hint::spin_loop();
    }
    when_armed();
    pool.wait_idle().unwrap();
    assert_eq!(lateness.done.load(Ordering::Acquire), SLEEPS);
    drop(futures);
}

/// Spawn the sleeps on tokio; returns when all are done.
fn run_tokio(
    runtime: &tokio::runtime::Runtime,
    lateness: &Arc<Lateness>,
    mut when_armed: impl FnMut(),
) {
    let armed = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(SLEEPS);
    for task in 0..SLEEPS {
        let lateness = lateness.clone();
        let armed = armed.clone();
        handles.push(runtime.spawn(async move {
            let deadline = Instant::now() + SLEEP;
            let sleep = tokio::time::sleep_until(deadline.into());
            tokio::pin!(sleep);
            // Polled once here, which registers it in tokio's wheel, then counted.
            std::future::poll_fn(|cx| {
                let _ = sleep.as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            armed.fetch_add(1, Ordering::Release);
            sleep.await;
            lateness.record(task, deadline);
        }));
    }
    while armed.load(Ordering::Acquire) < SLEEPS {
        std::hint::spin_loop();
    }
    when_armed();
    runtime.block_on(async {
        for handle in handles {
            handle.await.unwrap();
        }
    });
    assert_eq!(lateness.done.load(Ordering::Acquire), SLEEPS);
}

/// Memory per pending sleep and the lateness of one run.
fn memory_and_lateness(run: impl FnOnce(&Arc<Lateness>, &mut dyn FnMut())) -> (f64, f64, f64) {
    let lateness = Lateness::new();
    let before = live_bytes();
    let mut bytes = 0.0;
    run(&lateness, &mut || {
        bytes = (live_bytes() - before) as f64 / SLEEPS as f64;
    });
    let (median, p99) = lateness.percentiles();
    (bytes, median, p99)
}

fn arm_and_fire(c: &mut Criterion) {
    let mut group = c.benchmark_group("w8_sleeps");
    group.sample_size(10);
    let pool = pool();
    group.bench_function("betterconcurrent", |b| {
        b.iter_custom(|iterations| {
            let mut beyond = Duration::ZERO;
            for _ in 0..iterations {
                let lateness = Lateness::new();
                let start = Instant::now();
                run_ours(&pool, &lateness, || {});
                beyond += start.elapsed().saturating_sub(SLEEP);
            }
            beyond
        })
    });
    let runtime = tokio_runtime();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iterations| {
            let mut beyond = Duration::ZERO;
            for _ in 0..iterations {
                let lateness = Lateness::new();
                let start = Instant::now();
                run_tokio(&runtime, &lateness, || {});
                beyond += start.elapsed().saturating_sub(SLEEP);
            }
            beyond
        })
    });
    group.finish();
}

#[cfg(feature = "loom")]
fn main() {}

#[cfg(not(feature = "loom"))]
fn main() {
    let pool = pool();
    let ours = memory_and_lateness(|lateness, when_armed| run_ours(&pool, lateness, when_armed));
    drop(pool);
    let runtime = tokio_runtime();
    let tokio =
        memory_and_lateness(|lateness, when_armed| run_tokio(&runtime, lateness, when_armed));
    drop(runtime);
    println!(
        "w8_sleeps: {SLEEPS} concurrent sleeps of {} ms, {WORKERS} workers",
        SLEEP.as_millis()
    );
    println!(
        "  {:<18} {:>14} {:>16} {:>14}",
        "", "bytes/sleep", "late median us", "late p99 us"
    );
    let results = [("betterconcurrent", ours), ("tokio", tokio)];
    for (implementation, (bytes, median, p99)) in &results {
        println!("  {implementation:<18} {bytes:>14.1} {median:>16.0} {p99:>14.0}");
    }
    let json = results
        .iter()
        .map(|(implementation, (bytes, median, p99))| {
            format!(
                "  \"{implementation}\": {{ \"bytes_per_sleep\": {bytes:.1}, \
                 \"late_median_us\": {median:.0}, \"late_p99_us\": {p99:.0} }}"
            )
        })
        .collect::<Vec<_>>()
        .join(",\n");
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&target).join("w8_sleeps.json");
    std::fs::write(&path, format!("{{\n{json}\n}}\n")).expect("target/ is writable");
    println!("written to {}", path.display());

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    arm_and_fire(&mut criterion);
    criterion.final_summary();
}
