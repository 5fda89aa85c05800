//! The seed's tree search, split across machines. The client searches the tree down to depth
//! `--split` itself and sends each subtree below it to Celery as a remote task
//! `tree.search(node, depth, base, max_depth, target)`; each worker process searches its
//! subtrees on its own pool (a Rust worker: a fire-and-forget task per node in a
//! [`TaskGroup`], joined; a Python worker: `tests/python/tasks.py`); the client gathers the
//! answers with `as_completed` and checks that every node was visited once.
//!
//! Nodes are numbered as in the seed: the root is 1, node `n` at depth `d < max_depth` has the
//! children `n * base + i` for `i` in `0..base`.
//!
//! ```text
//! redis-server --port 6379 --bind 127.0.0.1 --save '' &
//! cargo run --release -p betterconcurrent-celery --example tree_search -- worker &
//! (cd crates/celery/tests/python && REDIS_URL=redis://127.0.0.1:6379/0 \
//!     celery -A tasks worker --pool=solo -Q celery &)           # a Python worker beside it
//! cargo run --release -p betterconcurrent-celery --example tree_search -- client \
//!     [--base 6] [--depth 8] [--split 2] [--target 12345] [--broker redis://127.0.0.1:6379/0]
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use betterconcurrent::{as_completed, Executor, TaskGroup, ThreadPoolExecutor};
use betterconcurrent_celery::{Client, RemoteException, Signature, Worker};

/// What a subtree search returns: nodes visited, whether the target was among them, and which
/// kind of worker searched it (the Python task returns the same three).
type Answer = (u64, bool, String);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str, default: &str| -> String {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1))
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let broker = option("--broker", "redis://127.0.0.1:6379/0");
    match args.first().map(String::as_str) {
        Some("worker") => serve(&broker, option("--workers", "2").parse()?),
        Some("client") => search(
            &broker,
            option("--base", "6").parse()?,
            option("--depth", "8").parse()?,
            option("--split", "2").parse()?,
            option("--target", "12345").parse()?,
        ),
        _ => Err("usage: tree_search (worker | client) [options]: see the file's docs".into()),
    }
}

/// A Rust worker serving `tree.search` until killed.
fn serve(broker: &str, workers: usize) -> Result<(), Box<dyn std::error::Error>> {
    let pool = ThreadPoolExecutor::builder().max_workers(workers).build()?;
    let executor = pool.executor();
    let _worker = Worker::builder(broker)
        .task(
            "tree.search",
            move |(node, depth, base, max_depth, target): (u64, u32, u64, u32, u64)| {
                search_subtree(&executor, node, depth, base, max_depth, target)
                    .map_err(|error| RemoteException::new("RuntimeError", error.to_string()))
            },
        )
        .start(pool.executor())?;
    println!("worker: serving tree.search on {broker} with {workers} threads");
    loop {
        std::thread::park();
    }
}

/// One subtree, as the seed searches its tree: a fire-and-forget task per node, in a group of
/// its own on the shared pool, joined.
fn search_subtree(
    executor: &Executor,
    node: u64,
    depth: u32,
    base: u64,
    max_depth: u32,
    target: u64,
) -> Result<Answer, betterconcurrent::Error> {
    struct Search {
        base: u64,
        max_depth: u32,
        target: u64,
        visited: AtomicU64,
        found: AtomicBool,
    }
    fn visit(executor: &Executor, search: &Arc<Search>, node: u64, depth: u32) {
        search.visited.fetch_add(1, Ordering::Relaxed);
        if node == search.target {
            search.found.store(true, Ordering::Relaxed);
        }
        if depth < search.max_depth {
            for i in 0..search.base {
                let search = Arc::clone(search);
                // Refused only once the pool shuts down, which the worker does not do first.
                let _ = executor.spawn(move |executor| {
                    visit(executor, &search, node * search.base + i, depth + 1)
                });
            }
        }
    }
    let search = Arc::new(Search {
        base,
        max_depth,
        target,
        visited: AtomicU64::new(0),
        found: AtomicBool::new(false),
    });
    let group = TaskGroup::new(executor);
    group
        .spawn({
            let search = Arc::clone(&search);
            move |executor| visit(executor, &search, node, depth)
        })
        .map_err(|_| betterconcurrent::Error::Shutdown)?;
    group.join()?;
    Ok((
        search.visited.load(Ordering::Relaxed),
        search.found.load(Ordering::Relaxed),
        "rust".to_owned(),
    ))
}

/// The client: the top of the tree here, every subtree below `split` remote.
fn search(
    broker: &str,
    base: u64,
    max_depth: u32,
    split: u32,
    target: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    if split > max_depth {
        return Err("--split must not be deeper than --depth".into());
    }
    let client = Client::connect(broker)?;
    let started = Instant::now();
    // The nodes above the split, visited here; the split's nodes, sent.
    let (mut visited, mut found) = (0u64, false);
    let mut level = vec![1u64];
    for _ in 0..split {
        visited += level.len() as u64;
        found |= level.contains(&target);
        level = level
            .iter()
            .flat_map(|node| (0..base).map(move |i| node * base + i))
            .collect();
    }
    let futures = level
        .iter()
        .map(|&node| {
            client.send::<Answer>(
                Signature::new("tree.search").args((node, split, base, max_depth, target)),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for future in as_completed(&futures, Some(Duration::from_secs(300))) {
        let future = future?;
        let (subtree_visited, subtree_found, worker) = future.result()?;
        visited += subtree_visited;
        found |= subtree_found;
        *by_worker.entry(worker.clone()).or_default() += 1;
    }
    let elapsed = started.elapsed();
    let nodes: u64 = (0..=max_depth).map(|d| base.pow(d)).sum();
    let workers: Vec<String> = by_worker
        .iter()
        .map(|(worker, count)| format!("{count} by {worker}"))
        .collect();
    println!(
        "tree search (base {base}, depth {max_depth}): {visited} nodes visited of {nodes}, \
         target {target} {}, {} subtrees below depth {split} searched remotely ({}) in {elapsed:.1?}",
        if found { "found" } else { "not found" },
        futures.len(),
        workers.join(", "),
    );
    if visited != nodes {
        return Err(format!("visited {visited} nodes, the tree has {nodes}").into());
    }
    Ok(())
}
