//! The workloads of issue 7, each run by every implementation that can run it, in one criterion
//! run: group names `w1_tiny_submits` ... `w6_round_trip`, function names `betterconcurrent`,
//! `rayon`, `tokio`, `futures_threadpool`, `threadpool`, `std_thread` (W6 adds
//! `rayon_spawn_channel`; the group `w2_growth` runs W2's tree at four sizes, ours only). Every implementation gets
//! the same number of worker threads ([`WORKERS`]) and checks its own result: a benchmark that
//! computes the wrong thing panics. Implementations that cannot run a workload (they would
//! deadlock, or need one OS thread per task) say so on standard error instead of running.
//!
//! ```text
//! cargo bench --bench workloads                 # all of it (BENCHMARKS.md says how long)
//! cargo bench --bench workloads -- w3_fib       # one group
//! cargo bench --bench workloads -- --test       # each benchmark once: does it work?
//! ```
#![cfg_attr(feature = "loom", allow(unused))]

use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use futures::executor::ThreadPool as FuturesThreadPool;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::task::SpawnExt;

use betterconcurrent::{as_completed, Executor, Future, Scope, TaskGroup, ThreadPoolExecutor};

/// Worker threads for every implementation: this machine's cores.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// W1: closures submitted from outside the pool.
const TINY_SUBMITS: usize = 100_000;
/// W1's name for this library: built without the `stats` feature (`--no-default-features
/// --features std`) it is measured under its own name, for the cost of the event counters.
const W1_OURS: &str = if cfg!(feature = "stats") {
    "betterconcurrent"
} else {
    "betterconcurrent_no_stats"
};
/// W1's extra function: this library with `submit` (a future per closure) instead of `spawn`.
const SUBMIT_WITH_FUTURE: &str = "betterconcurrent_submit";
/// W2: the seed's tree, BASE = 10 and MAX_DEPTH = 5 (1 + 10 + ... + 10^5 = 111,111 tasks).
const TREE_BASE: u64 = 10;
const TREE_DEPTH: u32 = 5;
const TREE_TASKS: u64 = 111_111;
/// W2's growth: tree depths 4 to 7 (11,111 to 11,111,111 tasks).
const W2_GROWTH_DEPTHS: [u32; 4] = [4, 5, 6, 7];
/// W3: fib(20) as tasks awaiting their subtasks (21,891 tasks).
const FIB_N: u64 = 20;
const FIB_20: u64 = 6_765;
/// W4: a chain of tasks each waiting for the next, on 2 workers.
const CHAIN_DEPTH: u64 = 1_000;
const CHAIN_WORKERS: usize = 2;
/// W5: the two sizes whose per-future cost must be alike (linear growth).
const AS_COMPLETED_SIZES: [usize; 2] = [10_000, 100_000];
/// W6: one trivial task submitted and waited for, this many times in sequence.
const ROUND_TRIPS: usize = 10_000;

fn pool(workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(workers)
        .build()
        .expect("a pool")
}

fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("a tokio runtime")
}

fn rayon_pool(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("a rayon pool")
}

fn futures_pool(workers: usize) -> FuturesThreadPool {
    FuturesThreadPool::builder()
        .pool_size(workers)
        .create()
        .expect("a futures ThreadPool")
}

/// Counts down to zero, then releases whoever waits: for the peers whose fire-and-forget spawns
/// have no "wait until idle" of their own. Counting down is one atomic decrement; only the last
/// one takes the lock, so the latch costs a peer what `join`'s count costs this library.
struct Latch {
    left: AtomicU64,
    done: Mutex<bool>,
    zero: Condvar,
}

impl Latch {
    /// A latch already at zero; `reset` arms it.
    const fn released() -> Self {
        Latch {
            left: AtomicU64::new(0),
            done: Mutex::new(true),
            zero: Condvar::new(),
        }
    }

    fn new(count: u64) -> Arc<Self> {
        let latch = Arc::new(Latch::released());
        latch.reset(count);
        latch
    }

    /// Arm the latch for `count` count-downs; only while nobody counts down or waits.
    fn reset(&self, count: u64) {
        *self.done.lock().unwrap() = false;
        self.left.store(count, Ordering::SeqCst);
    }

    fn count_down(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock().unwrap() = true;
            self.zero.notify_all();
        }
    }

    fn wait(&self) {
        let mut done = self.done.lock().unwrap();
        while !*done {
            done = self.zero.wait(done).unwrap();
        }
    }
}

fn not_run(group: &str, implementation: &str, why: &str) {
    eprintln!("{group}/{implementation}: not run: {why}");
}

// ---------------------------------------------------------------------------------------------
// W1: tiny submits from outside.

fn w1_tiny_submits(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_tiny_submits");
    group.sample_size(20);
    let workers = workers();

    let pool = pool(workers);
    group.bench_function(W1_OURS, |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..TINY_SUBMITS {
                let done = done.clone();
                pool.spawn(move |_| {
                    done.fetch_add(1, Ordering::Relaxed);
                })
                .expect("the pool is open");
            }
            pool.wait_idle().unwrap();
            assert_eq!(done.load(Ordering::Relaxed), TINY_SUBMITS);
        })
    });
    // The same with a future per closure (dropped unread), for what a result handle costs.
    group.bench_function(SUBMIT_WITH_FUTURE, |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..TINY_SUBMITS {
                let done = done.clone();
                drop(pool.submit(move || {
                    done.fetch_add(1, Ordering::Relaxed);
                }));
            }
            pool.wait_idle().unwrap();
            assert_eq!(done.load(Ordering::Relaxed), TINY_SUBMITS);
        })
    });

    let rayon = rayon_pool(workers);
    group.bench_function("rayon", |b| {
        b.iter(|| {
            let latch = Latch::new(TINY_SUBMITS as u64);
            for _ in 0..TINY_SUBMITS {
                let latch = latch.clone();
                rayon.spawn(move || latch.count_down());
            }
            latch.wait();
        })
    });

    let tokio = tokio_runtime(workers);
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..TINY_SUBMITS)
                .map(|_| {
                    let done = done.clone();
                    tokio.spawn(async move {
                        done.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            tokio.block_on(async {
                for handle in handles {
                    handle.await.unwrap();
                }
            });
            assert_eq!(done.load(Ordering::Relaxed), TINY_SUBMITS);
        })
    });

    let futures = futures_pool(workers);
    group.bench_function("futures_threadpool", |b| {
        b.iter(|| {
            let latch = Latch::new(TINY_SUBMITS as u64);
            for _ in 0..TINY_SUBMITS {
                let latch = latch.clone();
                futures.spawn_ok(async move { latch.count_down() });
            }
            latch.wait();
        })
    });

    let threadpool = threadpool::ThreadPool::new(workers);
    group.bench_function("threadpool", |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..TINY_SUBMITS {
                let done = done.clone();
                threadpool.execute(move || {
                    done.fetch_add(1, Ordering::Relaxed);
                });
            }
            threadpool.join();
            assert_eq!(done.load(Ordering::Relaxed), TINY_SUBMITS);
        })
    });
    not_run(
        "w1_tiny_submits",
        "std_thread",
        "one OS thread per closure (100,000 threads)",
    );
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// W2: the fire-and-forget tree, then join.

/// What a tree node does besides spawning: count itself and compare with a target that is not
/// in the tree, so every node runs (the seed's search, minus the early exit).
///
/// One `static` instance ([`TREE`]) serves every implementation, reset per iteration: rayon's
/// scope borrows its state, and with a `static` the others need no reference counting either,
/// so the group compares the executors, not `Arc` clones.
struct TreeVisit {
    visited: AtomicU64,
    found: AtomicBool,
    /// For the peers with no "wait until idle": counted down by every node.
    latch: Latch,
}

static TREE: TreeVisit = TreeVisit {
    visited: AtomicU64::new(0),
    found: AtomicBool::new(false),
    latch: Latch::released(),
};

impl TreeVisit {
    /// Ready `TREE` for one more search; only between iterations.
    fn reset(&'static self) -> &'static Self {
        self.visited.store(0, Ordering::SeqCst);
        self.found.store(false, Ordering::SeqCst);
        self.latch.reset(TREE_TASKS);
        self
    }

    /// Visit `node`; true if it has children.
    fn visit(&self, node: u64, depth: u32) -> bool {
        self.visited.fetch_add(1, Ordering::Relaxed);
        if node == 0 {
            self.found.store(true, Ordering::Relaxed);
        }
        depth < TREE_DEPTH
    }

    fn check(&self) {
        assert_eq!(self.visited.load(Ordering::Relaxed), TREE_TASKS);
        assert!(!self.found.load(Ordering::Relaxed));
    }
}

fn tree_ours(executor: &Executor, tree: &'static TreeVisit, node: u64, depth: u32) {
    if tree.visit(node, depth) {
        for i in 0..TREE_BASE {
            executor
                .spawn(move |executor| tree_ours(executor, tree, node * TREE_BASE + i, depth + 1))
                .expect("the pool is open");
        }
    }
}

fn tree_scoped<'scope>(
    scope: &'scope Scope<'scope, '_>,
    tree: &'scope TreeVisit,
    node: u64,
    depth: u32,
) {
    if tree.visit(node, depth) {
        for i in 0..TREE_BASE {
            scope
                .spawn(move |scope| tree_scoped(scope, tree, node * TREE_BASE + i, depth + 1))
                .expect("the pool is open");
        }
    }
}

fn tree_rayon<'s>(scope: &rayon::Scope<'s>, tree: &'s TreeVisit, node: u64, depth: u32) {
    if tree.visit(node, depth) {
        for i in 0..TREE_BASE {
            scope.spawn(move |scope| tree_rayon(scope, tree, node * TREE_BASE + i, depth + 1));
        }
    }
}

fn tree_tokio(tree: &'static TreeVisit, node: u64, depth: u32) {
    if tree.visit(node, depth) {
        for i in 0..TREE_BASE {
            tokio::spawn(async move { tree_tokio(tree, node * TREE_BASE + i, depth + 1) });
        }
    }
    tree.latch.count_down();
}

fn tree_futures(pool: &FuturesThreadPool, tree: &'static TreeVisit, node: u64, depth: u32) {
    if tree.visit(node, depth) {
        for i in 0..TREE_BASE {
            let child_pool = pool.clone();
            pool.spawn_ok(async move {
                tree_futures(&child_pool, tree, node * TREE_BASE + i, depth + 1)
            });
        }
    }
    tree.latch.count_down();
}

fn tree_threadpool(pool: &threadpool::ThreadPool, tree: &'static TreeVisit, node: u64, depth: u32) {
    if tree.visit(node, depth) {
        for i in 0..TREE_BASE {
            let child_pool = pool.clone();
            pool.execute(move || {
                tree_threadpool(&child_pool, tree, node * TREE_BASE + i, depth + 1)
            });
        }
    }
}

fn w2_tree(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_tree");
    group.sample_size(10);
    let workers = workers();

    let pool = pool(workers);
    group.bench_function("betterconcurrent", |b| {
        b.iter(|| {
            let tree = TREE.reset();
            tree_ours(&pool, tree, 1, 0);
            pool.wait_idle().unwrap();
            tree.check();
        })
    });

    // The same tree as a group of its own on the pool, joined on its own (a new group per
    // search, as a user sharing the pool would make one).
    group.bench_function("betterconcurrent_group", |b| {
        b.iter(|| {
            let tree = TREE.reset();
            let search = TaskGroup::new(&pool);
            tree_ours(&search.executor(), tree, 1, 0);
            search.join().unwrap();
            tree.check();
        })
    });

    // The same tree in a scope, borrowing its state as rayon's scope does.
    group.bench_function("betterconcurrent_scope", |b| {
        b.iter(|| {
            let tree = TREE.reset();
            pool.scope(|scope| tree_scoped(scope, tree, 1, 0));
            tree.check();
        })
    });

    let rayon = rayon_pool(workers);
    group.bench_function("rayon", |b| {
        b.iter(|| {
            let tree = TREE.reset();
            rayon.scope(|scope| tree_rayon(scope, tree, 1, 0));
            tree.check();
        })
    });

    let tokio = tokio_runtime(workers);
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let tree = TREE.reset();
            tokio.spawn(async move { tree_tokio(tree, 1, 0) });
            tree.latch.wait();
            tree.check();
        })
    });

    let futures = futures_pool(workers);
    group.bench_function("futures_threadpool", |b| {
        b.iter(|| {
            let tree = TREE.reset();
            tree_futures(&futures, tree, 1, 0);
            tree.latch.wait();
            tree.check();
        })
    });

    let threadpool = threadpool::ThreadPool::new(workers);
    group.bench_function("threadpool", |b| {
        b.iter(|| {
            let tree = TREE.reset();
            tree_threadpool(&threadpool, tree, 1, 0);
            threadpool.join();
            tree.check();
        })
    });
    not_run(
        "w2_tree",
        "std_thread",
        "one OS thread per node (111,111 threads)",
    );
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// W2 growth (issue 18 point 4): the same fire-and-forget tree at depths 4 to 7, 11,111 to
// 11,111,111 tasks, ours only; the per-task cost at the largest must stay within 1.2x of the
// smallest's.

/// The tasks of a base-10 tree of `depth` levels below its root: 1 + 10 + ... + 10^depth.
fn tree_size(depth: u32) -> u64 {
    (0..=depth).map(|level| TREE_BASE.pow(level)).sum()
}

/// Nodes the growth tree visited (its own counter, so W2's `TREE` is left alone).
static GROWTH_VISITED: AtomicU64 = AtomicU64::new(0);

fn tree_growth(executor: &Executor, depth: u32, max_depth: u32) {
    GROWTH_VISITED.fetch_add(1, Ordering::Relaxed);
    if depth < max_depth {
        for _ in 0..TREE_BASE {
            executor
                .spawn(move |executor| tree_growth(executor, depth + 1, max_depth))
                .expect("the pool is open");
        }
    }
}

fn w2_growth(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_growth");
    group.sample_size(10);
    // One iteration of the largest tree takes most of a second: every sample the same count.
    group.sampling_mode(criterion::SamplingMode::Flat);
    let pool = pool(workers());
    for depth in W2_GROWTH_DEPTHS {
        let tasks = tree_size(depth);
        group.throughput(criterion::Throughput::Elements(tasks));
        group.bench_with_input(
            BenchmarkId::new("betterconcurrent", tasks),
            &depth,
            |b, &depth| {
                b.iter(|| {
                    GROWTH_VISITED.store(0, Ordering::Relaxed);
                    tree_growth(&pool, 0, depth);
                    pool.wait_idle().unwrap();
                    assert_eq!(GROWTH_VISITED.load(Ordering::Relaxed), tasks);
                })
            },
        );
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// W3: fib(20) as tasks awaiting their subtasks.

/// W3's implementation for this library is the fib example's, so the two cannot drift apart.
#[path = "../examples/fib.rs"]
mod fib_example;
use fib_example::fib as fib_ours;

fn fib_tokio(n: u64) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        if n < 2 {
            return n;
        }
        let (a, b) = (fib_tokio(n - 1), fib_tokio(n - 2));
        a.await.unwrap() + b.await.unwrap()
    })
}

fn fib_rayon(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib_rayon(n - 1), || fib_rayon(n - 2));
    a + b
}

type BoxedU64 = Pin<Box<dyn StdFuture<Output = u64> + Send>>;

fn fib_futures(pool: FuturesThreadPool, n: u64) -> BoxedU64 {
    let spawner = pool.clone();
    let handle = spawner
        .spawn_with_handle(async move {
            if n < 2 {
                return n;
            }
            let (a, b) = (fib_futures(pool.clone(), n - 1), fib_futures(pool, n - 2));
            a.await + b.await
        })
        .unwrap();
    Box::pin(handle)
}

fn w3_fib(c: &mut Criterion) {
    let mut group = c.benchmark_group("w3_fib");
    group.sample_size(20);
    let workers = workers();

    let pool = pool(workers);
    group.bench_function("betterconcurrent", |b| {
        b.iter(|| assert_eq!(*fib_ours(pool.executor(), FIB_N).result().unwrap(), FIB_20))
    });

    let tokio = tokio_runtime(workers);
    group.bench_function("tokio", |b| {
        b.iter(|| {
            assert_eq!(
                tokio.block_on(async { fib_tokio(FIB_N).await }).unwrap(),
                FIB_20
            )
        })
    });

    let rayon = rayon_pool(workers);
    group.bench_function("rayon", |b| {
        b.iter(|| assert_eq!(rayon.install(|| fib_rayon(FIB_N)), FIB_20))
    });

    let futures = futures_pool(workers);
    group.bench_function("futures_threadpool", |b| {
        b.iter(|| {
            let value = futures::executor::block_on(fib_futures(futures.clone(), FIB_N));
            assert_eq!(value, FIB_20);
        })
    });
    not_run(
        "w3_fib",
        "threadpool",
        "no way to wait for a subtask but blocking a worker: deadlocks once every worker waits",
    );
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// W4: a chain of 1,000 tasks, each waiting for the next, on 2 workers.

fn chain_ours(executor: Executor, n: u64) -> Future<u64> {
    let spawner = executor.clone();
    spawner
        .submit_async(async move {
            if n == 0 {
                return 0;
            }
            let next = chain_ours(executor, n - 1);
            (&next).await.unwrap() + 1
        })
        .unwrap()
}

fn chain_tokio(n: u64) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        if n == 0 {
            return 0;
        }
        chain_tokio(n - 1).await.unwrap() + 1
    })
}

fn chain_rayon(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    rayon::join(|| chain_rayon(n - 1), || ()).0 + 1
}

fn chain_futures(pool: FuturesThreadPool, n: u64) -> BoxedU64 {
    let spawner = pool.clone();
    let handle = spawner
        .spawn_with_handle(async move {
            if n == 0 {
                return 0;
            }
            chain_futures(pool, n - 1).await + 1
        })
        .unwrap();
    Box::pin(handle)
}

fn chain_threads(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    std::thread::spawn(move || chain_threads(n - 1))
        .join()
        .unwrap()
        + 1
}

fn w4_nested(c: &mut Criterion) {
    let mut group = c.benchmark_group("w4_nested");
    group.sample_size(20);

    let pool = pool(CHAIN_WORKERS);
    group.bench_function("betterconcurrent", |b| {
        b.iter(|| {
            let value = *chain_ours(pool.executor(), CHAIN_DEPTH).result().unwrap();
            assert_eq!(value, CHAIN_DEPTH);
        })
    });

    let tokio = tokio_runtime(CHAIN_WORKERS);
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let value = tokio
                .block_on(async { chain_tokio(CHAIN_DEPTH).await })
                .unwrap();
            assert_eq!(value, CHAIN_DEPTH);
        })
    });

    let rayon = rayon_pool(CHAIN_WORKERS);
    group.bench_function("rayon", |b| {
        b.iter(|| assert_eq!(rayon.install(|| chain_rayon(CHAIN_DEPTH)), CHAIN_DEPTH))
    });

    let futures = futures_pool(CHAIN_WORKERS);
    group.bench_function("futures_threadpool", |b| {
        b.iter(|| {
            let value = futures::executor::block_on(chain_futures(futures.clone(), CHAIN_DEPTH));
            assert_eq!(value, CHAIN_DEPTH);
        })
    });

    group.bench_function("std_thread", |b| {
        b.iter(|| assert_eq!(chain_threads(CHAIN_DEPTH), CHAIN_DEPTH))
    });
    not_run(
        "w4_nested",
        "threadpool",
        "a blocking wait for the next task holds a worker: deadlocks on 2 workers",
    );
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// W5: as_completed over 10,000 and 100,000 futures.

fn w5_as_completed(c: &mut Criterion) {
    let mut group = c.benchmark_group("w5_as_completed");
    group.sample_size(10);
    let workers = workers();

    let pool = pool(workers);
    let tokio = tokio_runtime(workers);
    let futures = futures_pool(workers);
    for size in AS_COMPLETED_SIZES {
        group.bench_with_input(
            BenchmarkId::new("betterconcurrent", size),
            &size,
            |b, &size| {
                b.iter(|| {
                    let fs: Vec<Future<usize>> =
                        (0..size).map(|i| pool.submit(move || i).unwrap()).collect();
                    let mut sum = 0;
                    for done in as_completed(&fs, None) {
                        sum += *done.unwrap().try_result().unwrap().unwrap();
                    }
                    assert_eq!(sum, size * (size - 1) / 2);
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("tokio", size), &size, |b, &size| {
            b.iter(|| {
                let mut pending: FuturesUnordered<_> =
                    (0..size).map(|i| tokio.spawn(async move { i })).collect();
                let sum = tokio.block_on(async {
                    let mut sum = 0;
                    while let Some(done) = pending.next().await {
                        sum += done.unwrap();
                    }
                    sum
                });
                assert_eq!(sum, size * (size - 1) / 2);
            })
        });
        group.bench_with_input(
            BenchmarkId::new("futures_threadpool", size),
            &size,
            |b, &size| {
                b.iter(|| {
                    let mut pending: FuturesUnordered<_> = (0..size)
                        .map(|i| futures.spawn_with_handle(async move { i }).unwrap())
                        .collect();
                    let sum = futures::executor::block_on(async {
                        let mut sum = 0;
                        while let Some(done) = pending.next().await {
                            sum += done;
                        }
                        sum
                    });
                    assert_eq!(sum, size * (size - 1) / 2);
                })
            },
        );
    }
    not_run(
        "w5_as_completed",
        "rayon, threadpool, std_thread",
        "no futures to wait on in completion order",
    );
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// W6: submit one trivial task and wait for it, 10,000 times.

fn w6_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("w6_round_trip");
    group.sample_size(20);
    let workers = workers();

    let pool = pool(workers);
    group.bench_function("betterconcurrent", |b| {
        b.iter(|| {
            let mut sum = 0;
            for i in 0..ROUND_TRIPS {
                sum += *pool.submit(move || i).unwrap().result().unwrap();
            }
            assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS - 1) / 2);
        })
    });

    let tokio = tokio_runtime(workers);
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let mut sum = 0;
            for i in 0..ROUND_TRIPS {
                sum += tokio.block_on(tokio.spawn(async move { i })).unwrap();
            }
            assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS - 1) / 2);
        })
    });

    let rayon = rayon_pool(workers);
    group.bench_function("rayon", |b| {
        b.iter(|| {
            let mut sum = 0;
            for i in 0..ROUND_TRIPS {
                sum += rayon.install(move || i);
            }
            assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS - 1) / 2);
        })
    });

    // rayon's fire-and-forget `spawn` with the result sent back through crossbeam's channel,
    // whose `recv` spins, then yields, before it parks: issue 18's bar for a round trip.
    group.bench_function("rayon_spawn_channel", |b| {
        b.iter(|| {
            let mut sum = 0;
            let (sender, receiver) = crossbeam_channel::bounded(1);
            for i in 0..ROUND_TRIPS {
                let sender = sender.clone();
                rayon.spawn(move || sender.send(i).unwrap());
                sum += receiver.recv().unwrap();
            }
            assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS - 1) / 2);
        })
    });

    let futures = futures_pool(workers);
    group.bench_function("futures_threadpool", |b| {
        b.iter(|| {
            let mut sum = 0;
            for i in 0..ROUND_TRIPS {
                let handle = futures.spawn_with_handle(async move { i }).unwrap();
                sum += futures::executor::block_on(handle);
            }
            assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS - 1) / 2);
        })
    });

    let threadpool = threadpool::ThreadPool::new(workers);
    group.bench_function("threadpool", |b| {
        b.iter(|| {
            let mut sum = 0;
            let (sender, receiver) = mpsc::channel();
            for i in 0..ROUND_TRIPS {
                let sender = sender.clone();
                threadpool.execute(move || sender.send(i).unwrap());
                sum += receiver.recv().unwrap();
            }
            assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS - 1) / 2);
        })
    });

    group.bench_function("std_thread", |b| {
        b.iter(|| {
            let mut sum = 0;
            for i in 0..ROUND_TRIPS {
                sum += std::thread::spawn(move || i).join().unwrap();
            }
            assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS - 1) / 2);
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = workloads;
    config = config();
    targets = w1_tiny_submits, w2_tree, w2_growth, w3_fib, w4_nested, w5_as_completed, w6_round_trip
}
#[cfg(not(feature = "loom"))]
criterion_main!(workloads);

/// Under loom every primitive is loom's, which only works inside a model: nothing to measure.
#[cfg(feature = "loom")]
fn main() {}
