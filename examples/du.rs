//! Disk usage of a directory tree: one fire-and-forget task per directory, `join` at the end,
//! and the totals printed. The walk is the seed's tree search made real: each directory's task
//! reads its entries, counts the files and their bytes, and spawns a task for each
//! subdirectory, so the pool runs the whole tree to convergence without anyone waiting on a
//! future.
//!
//! Counted as `du -sb --apparent-size` counts content, without following symbolic links: every
//! directory (the root included) is one directory; every other entry (a file, a symbolic link
//! as itself) is one file, and its bytes are its apparent size (`symlink_metadata().len()`); a
//! file reached through two hard links counts twice; directories add no bytes. Entries that
//! cannot be read are counted as errors and skipped.
//!
//! ```text
//! cargo run --release --example du -- "$(rustc --print sysroot)"
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use betterconcurrent::{Executor, ThreadPoolExecutor};

/// What a walk found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Entries that are not directories (symbolic links as themselves).
    pub files: u64,
    /// Directories, the root included.
    pub dirs: u64,
    /// The apparent size of the files.
    pub bytes: u64,
    /// Directories or entries that could not be read.
    pub errors: u64,
}

/// The counters the directory tasks add to.
#[derive(Default)]
struct Totals {
    files: AtomicU64,
    dirs: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
}

impl Totals {
    fn usage(&self) -> Usage {
        Usage {
            files: self.files.load(Ordering::Relaxed),
            dirs: self.dirs.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// The disk usage of the tree at `root`, walked on `pool`; returns once every directory's task
/// has finished (the pool stays open, so a benchmark walks again on the same threads).
pub fn disk_usage(pool: &Executor, root: &Path) -> Usage {
    let totals = Arc::new(Totals::default());
    let (root, counting) = (root.to_path_buf(), totals.clone());
    if pool
        .spawn(move |executor| visit(executor, root, counting))
        .is_err()
    {
        totals.errors.fetch_add(1, Ordering::Relaxed);
    }
    // Every directory's task and every task it spawned: the whole tree.
    if pool.wait_idle().is_err() {
        totals.errors.fetch_add(1, Ordering::Relaxed);
    }
    totals.usage()
}

/// One directory: count it and its files, and spawn a task per subdirectory.
fn visit(executor: &Executor, dir: PathBuf, totals: Arc<Totals>) {
    totals.dirs.fetch_add(1, Ordering::Relaxed);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        totals.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let (mut files, mut bytes) = (0, 0);
    for entry in entries {
        let Ok(entry) = entry else {
            totals.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        // Not followed: a link to a directory is a file here, as for `du`.
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => {
                let (path, counting) = (entry.path(), totals.clone());
                // Refused only if the pool was shut down meanwhile: that subtree is unread.
                if executor
                    .spawn(move |executor| visit(executor, path, counting))
                    .is_err()
                {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(_) => match entry.metadata() {
                Ok(metadata) => {
                    files += 1;
                    bytes += metadata.len();
                }
                Err(_) => {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                }
            },
            Err(_) => {
                totals.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    // One add per directory, not per file: the counters are shared by every worker.
    totals.files.fetch_add(files, Ordering::Relaxed);
    totals.bytes.fetch_add(bytes, Ordering::Relaxed);
}

#[allow(dead_code)] // the benchmark and the test include this file for `disk_usage`
fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1) else {
        eprintln!("usage: du <directory>");
        return ExitCode::FAILURE;
    };
    let pool = ThreadPoolExecutor::new();
    let start = std::time::Instant::now();
    let usage = disk_usage(&pool, Path::new(&root));
    // The walk has converged; `join` shuts the pool down with nothing left to run.
    pool.join().expect("nothing is left to wait for");
    println!(
        "{} files, {} directories, {} bytes ({} unreadable) in {:.1?}",
        usage.files,
        usage.dirs,
        usage.bytes,
        usage.errors,
        start.elapsed()
    );
    if usage.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
