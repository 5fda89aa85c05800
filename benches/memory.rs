//! W7 of issue 7: heap bytes per pending task, ours (with a future per task, and with `spawn`
//! and none) against tokio and rayon. Each pool gets one
//! worker, which a first task blocks; then `PENDING` trivial tasks are submitted from outside
//! and stay queued while a counting global allocator measures the live heap they added (task
//! cells, queue growth; handles go into a vector allocated beforehand, so they are not counted).
//! The gate is then opened and every task must run: each implementation checks its own result.
//!
//! ```text
//! cargo bench --bench memory          # prints the table, writes target/w7_memory.json
//! ```
#![cfg_attr(feature = "loom", allow(unused))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

#[path = "../tests/common/counting_allocator.rs"]
mod counting_allocator;
use counting_allocator::{live_bytes, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Tasks kept pending at once.
const PENDING: usize = 10_000;

/// Live heap bytes added while `submit_all` runs, per pending task.
fn bytes_per_task(submit_all: impl FnOnce()) -> f64 {
    let before = live_bytes();
    submit_all();
    let after = live_bytes();
    (after - before) as f64 / PENDING as f64
}

/// A task for the one worker that holds it until the gate opens; returns the gate's key once
/// the worker is inside.
fn gate() -> (
    impl FnOnce() + Send + 'static,
    mpsc::Receiver<()>,
    mpsc::Sender<()>,
) {
    let (inside_tx, inside_rx) = mpsc::channel();
    let (open_tx, open_rx) = mpsc::channel::<()>();
    let hold = move || {
        inside_tx.send(()).unwrap();
        open_rx.recv().unwrap();
    };
    (hold, inside_rx, open_tx)
}

/// Our pool with the one worker every implementation gets here.
fn one_worker_pool() -> betterconcurrent::ThreadPoolExecutor {
    betterconcurrent::ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap()
}

fn ours() -> f64 {
    let pool = one_worker_pool();
    let (hold, inside, open) = gate();
    let blocker = pool.submit(hold).unwrap();
    inside.recv().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut futures = Vec::with_capacity(PENDING);
    let bytes = bytes_per_task(|| {
        for _ in 0..PENDING {
            let ran = ran.clone();
            futures.push(
                pool.submit(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap(),
            );
        }
    });
    open.send(()).unwrap();
    blocker.result().unwrap();
    pool.join().unwrap();
    assert_eq!(ran.load(Ordering::Relaxed), PENDING);
    bytes
}

/// Ours fire-and-forget (`spawn`: no future), the counterpart of rayon's `spawn`.
fn ours_spawn() -> f64 {
    let pool = one_worker_pool();
    let (hold, inside, open) = gate();
    pool.spawn(move |_| hold()).unwrap();
    inside.recv().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let bytes = bytes_per_task(|| {
        for _ in 0..PENDING {
            let ran = ran.clone();
            pool.spawn(move |_| {
                ran.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
    });
    open.send(()).unwrap();
    pool.join().unwrap();
    assert_eq!(ran.load(Ordering::Relaxed), PENDING);
    bytes
}

fn tokio() -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (hold, inside, open) = gate();
    let blocker = runtime.spawn(async move { hold() });
    inside.recv().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(PENDING);
    let bytes = bytes_per_task(|| {
        for _ in 0..PENDING {
            let ran = ran.clone();
            handles.push(runtime.spawn(async move {
                ran.fetch_add(1, Ordering::Relaxed);
            }));
        }
    });
    open.send(()).unwrap();
    runtime.block_on(async {
        blocker.await.unwrap();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    assert_eq!(ran.load(Ordering::Relaxed), PENDING);
    bytes
}

fn rayon() -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (hold, inside, open) = gate();
    pool.spawn(hold);
    inside.recv().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = mpsc::channel();
    let bytes = bytes_per_task(|| {
        for _ in 0..PENDING {
            let (ran, done_tx) = (ran.clone(), done_tx.clone());
            pool.spawn(move || {
                ran.fetch_add(1, Ordering::Relaxed);
                done_tx.send(()).unwrap();
            });
        }
    });
    open.send(()).unwrap();
    for _ in 0..PENDING {
        done_rx.recv().unwrap();
    }
    assert_eq!(ran.load(Ordering::Relaxed), PENDING);
    bytes
}

/// Under loom every primitive is loom's, which only works inside a model: nothing to measure.
#[cfg(feature = "loom")]
fn main() {}

#[cfg(not(feature = "loom"))]
fn main() {
    let results = [
        ("betterconcurrent", ours()),
        ("betterconcurrent_spawn", ours_spawn()),
        ("tokio", tokio()),
        ("rayon", rayon()),
    ];
    println!("w7_memory: live heap bytes per pending task ({PENDING} pending, 1 worker)");
    for (implementation, bytes) in &results {
        println!("  {implementation:<22} {bytes:8.1}");
    }
    let json = results
        .iter()
        .map(|(implementation, bytes)| format!("  \"{implementation}\": {bytes:.1}"))
        .collect::<Vec<_>>()
        .join(",\n");
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&target).join("w7_memory.json");
    std::fs::write(&path, format!("{{\n{json}\n}}\n")).expect("target/ is writable");
    println!("written to {}", path.display());
}
