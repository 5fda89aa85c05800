//! The Python original's tree search, fire-and-forget: every node is a task that checks itself
//! against the target and spawns a task for each child, never looking at any result. `join`
//! returns when the whole unfolding tree has been searched (or abandoned after a find).
//!
//! Nodes are numbered as in the original: the root is 1; node `n` at depth `d < depth` has the
//! children `n * base + i` for `i` in `0..base`.
//!
//! With `--groups N`, N independent searches share one pool, each as a [`TaskGroup`] joined on
//! its own, while a never-ending background task keeps the pool busy: each search's `join`
//! returns when its own tree is done, not when the pool is idle (it never is).
//!
//! ```text
//! cargo run --release --example tree_search -- [--base 10] [--depth 3] [--workers 5] [--target 115] [--groups N]
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use betterconcurrent::{Executor, Stats, TaskGroup, ThreadPoolExecutor};

/// What one search found.
#[derive(Debug)]
pub struct Report {
    /// Whether some task saw the target.
    pub found: bool,
    /// How many node tasks ran.
    pub tasks: u64,
    /// Wall time from the first submit to `join` returning.
    pub elapsed: Duration,
    /// The pool's statistics once `join` returned.
    pub stats: Stats,
}

/// The search's shared state, moved into every task.
struct Search {
    base: u64,
    depth: u32,
    target: u64,
    found: AtomicBool,
    tasks: AtomicU64,
}

fn visit(executor: &Executor, search: &Arc<Search>, node: u64, depth: u32) {
    search.tasks.fetch_add(1, Ordering::Relaxed);
    if search.found.load(Ordering::Relaxed) {
        return; // abort: another task already found the target
    }
    if node == search.target {
        search.found.store(true, Ordering::Relaxed);
        return;
    }
    if depth >= search.depth {
        return;
    }
    for i in 0..search.base {
        let search = search.clone();
        let child = node * search.base + i;
        // Fire and forget (Python's `submit` with the future dropped): `spawn` makes no future,
        // and `join` still waits for the task. A refusal only happens after shutdown, which
        // this program never calls before `join`.
        let _ = executor.spawn(move |executor| visit(executor, &search, child, depth + 1));
    }
}

/// Search the tree rooted at 1 on a pool of `workers` threads.
pub fn parallel_search(
    base: u64,
    depth: u32,
    workers: usize,
    target: u64,
) -> Result<Report, Box<dyn std::error::Error>> {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(workers)
        .thread_name_prefix("tree_search")
        .build()?;
    let search = Arc::new(Search {
        base,
        depth,
        target,
        found: AtomicBool::new(false),
        tasks: AtomicU64::new(0),
    });
    let started = Instant::now();
    visit(&pool.executor(), &search, 1, 0);
    pool.join()?;
    Ok(Report {
        found: search.found.load(Ordering::Relaxed),
        tasks: search.tasks.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        stats: pool.stats(),
    })
}

/// What one of [`grouped_searches`]' searches found.
#[derive(Debug)]
pub struct GroupReport {
    /// Whether some task of this search saw the target.
    pub found: bool,
    /// How many node tasks of this search ran.
    pub tasks: u64,
    /// Wall time from the first submit to this search's `join` returning.
    pub elapsed: Duration,
    /// Rounds the background task had run when this search's `join` returned: it was still
    /// going (the pool was never idle).
    pub background_rounds: u64,
}

/// A fire-and-forget task that re-spawns itself until `stop` is set: work that never ends.
fn background(executor: &Executor, stop: Arc<AtomicBool>, rounds: Arc<AtomicU64>) {
    rounds.fetch_add(1, Ordering::Relaxed);
    if !stop.load(Ordering::Relaxed) {
        let _ = executor.spawn(move |executor| background(executor, stop, rounds));
    }
}

/// Run `groups` searches of the tree rooted at 1 on one pool of `workers` threads, each in a
/// task group of its own and joined on its own, beside a background task that never ends.
pub fn grouped_searches(
    base: u64,
    depth: u32,
    workers: usize,
    target: u64,
    groups: usize,
) -> Result<Vec<GroupReport>, Box<dyn std::error::Error>> {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(workers)
        .thread_name_prefix("tree_search")
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let background_group = TaskGroup::new(&pool);
    {
        let (stop, rounds) = (stop.clone(), rounds.clone());
        background_group.spawn(move |executor| background(executor, stop, rounds))?;
    }
    let started = Instant::now();
    let searches: Vec<(TaskGroup, Arc<Search>)> = (0..groups)
        .map(|_| {
            let group = TaskGroup::new(&pool);
            let search = Arc::new(Search {
                base,
                depth,
                target,
                found: AtomicBool::new(false),
                tasks: AtomicU64::new(0),
            });
            visit(&group.executor(), &search, 1, 0);
            (group, search)
        })
        .collect();
    let mut reports = Vec::with_capacity(groups);
    for (group, search) in searches {
        group.join()?;
        reports.push(GroupReport {
            found: search.found.load(Ordering::Relaxed),
            tasks: search.tasks.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
            background_rounds: rounds.load(Ordering::Relaxed),
        });
    }
    stop.store(true, Ordering::Relaxed);
    background_group.join()?;
    pool.join()?;
    Ok(reports)
}

/// `--name value` options, each with a default.
fn option<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|arg| arg == name) {
        None => Ok(default),
        Some(at) => args
            .get(at + 1)
            .ok_or(format!("{name} needs a value"))?
            .parse()
            .map_err(|_| format!("{name} needs a number")),
    }
}

#[allow(dead_code)] // the seed tests include this file for `parallel_search` alone
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let base = option(&args, "--base", 10)?;
    let depth = option(&args, "--depth", 3)?;
    let workers = option(&args, "--workers", 5)?;
    let target = option(&args, "--target", 115)?;
    let groups = option(&args, "--groups", 0)?;
    if groups > 0 {
        for (index, report) in grouped_searches(base, depth, workers, target, groups)?
            .iter()
            .enumerate()
        {
            println!(
                "search {index}: target {target} {}; {} tasks; joined after {:.2?}, while the \
                 background task had run {} rounds and was still running",
                if report.found { "found" } else { "not found" },
                report.tasks,
                report.elapsed,
                report.background_rounds
            );
        }
        return Ok(());
    }
    let report = parallel_search(base, depth, workers, target)?;
    println!(
        "target {target} {}; {} tasks ran on {workers} workers in {:.2?}",
        if report.found { "found" } else { "not found" },
        report.tasks,
        report.elapsed
    );
    let stats = &report.stats;
    println!(
        "pool stats: {} tasks completed ({} panicked), {} steals, {} outstanding, {} queued, \
         {} threads alive, {} compensating",
        stats.tasks_completed,
        stats.tasks_panicked,
        stats.steals,
        stats.tasks_outstanding,
        stats.tasks_queued,
        stats.threads_alive,
        stats.compensating_threads
    );
    for (slot, worker) in stats.per_worker.iter().enumerate() {
        if worker.polls > 0 {
            println!(
                "  worker {slot}: {} tasks, {} steals",
                worker.tasks_completed, worker.steals
            );
        }
    }
    Ok(())
}
