//! Issue 18 point 3: a real tree walk. `examples/du.rs` (one fire-and-forget task per
//! directory, `wait_idle` at the end) against jwalk 0.8 (rayon's pool; the per-file `stat`s in
//! its parallel `process_read_dir` callback) and walkdir (serial), on the Rust toolchain's own
//! directory (`rustc --print sysroot`), which every machine that builds this has. A walkdir
//! pass first warms the page cache and checks that all three count the same totals.
#![cfg_attr(feature = "loom", allow(unused))]

#[cfg(not(feature = "loom"))]
#[path = "../examples/du.rs"]
#[allow(dead_code)]
mod du;

#[cfg(not(feature = "loom"))]
mod walks {
    use std::path::{Path, PathBuf};

    use super::du::Usage;

    /// The toolchain's directory: the tree every run walks.
    pub fn sysroot() -> PathBuf {
        let output = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
            .args(["--print", "sysroot"])
            .output()
            .expect("rustc runs");
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    }

    /// walkdir, serial: the reference count.
    pub fn walkdir_usage(root: &Path) -> Usage {
        let mut usage = Usage::default();
        for entry in walkdir::WalkDir::new(root) {
            let Ok(entry) = entry else {
                usage.errors += 1;
                continue;
            };
            if entry.file_type().is_dir() {
                usage.dirs += 1;
            } else {
                match entry.metadata() {
                    Ok(metadata) => {
                        usage.files += 1;
                        usage.bytes += metadata.len();
                    }
                    Err(_) => usage.errors += 1,
                }
            }
        }
        usage
    }

    /// jwalk on rayon's pool: each directory's children are `stat`ed in the parallel callback,
    /// so the iterator that gathers the totals does no system call.
    pub fn jwalk_usage(root: &Path) -> Usage {
        const UNREADABLE: u64 = u64::MAX;
        let walk = jwalk::WalkDirGeneric::<((), u64)>::new(root)
            .skip_hidden(false)
            .follow_links(false)
            .process_read_dir(|_, _, _, children| {
                for child in children.iter_mut().flatten() {
                    if !child.file_type().is_dir() {
                        child.client_state = child.metadata().map_or(UNREADABLE, |m| m.len());
                    }
                }
            });
        let mut usage = Usage::default();
        for entry in walk {
            match entry {
                Ok(entry) if entry.file_type().is_dir() => usage.dirs += 1,
                Ok(entry) if entry.client_state == UNREADABLE => usage.errors += 1,
                Ok(entry) => {
                    usage.files += 1;
                    usage.bytes += entry.client_state;
                }
                Err(_) => usage.errors += 1,
            }
        }
        usage
    }
}

#[cfg(not(feature = "loom"))]
fn du_walks(c: &mut criterion::Criterion) {
    use betterconcurrent::ThreadPoolExecutor;

    let root = walks::sysroot();
    // The warm-up read, and the check that all three count the same.
    let reference = walks::walkdir_usage(&root);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // As many threads as rayon's pool has, so the comparison is of the walks, not the sizes.
    let pool = ThreadPoolExecutor::builder()
        .max_workers(threads)
        .build()
        .unwrap();
    assert_eq!(du::disk_usage(&pool, &root), reference);
    assert_eq!(walks::jwalk_usage(&root), reference);
    eprintln!(
        "du over {}: {} files, {} directories, {} bytes, {threads} threads",
        root.display(),
        reference.files,
        reference.dirs,
        reference.bytes
    );
    let mut group = c.benchmark_group("du_sysroot");
    group.sample_size(10);
    group.bench_function("betterconcurrent", |b| {
        b.iter(|| du::disk_usage(&pool, &root))
    });
    group.bench_function("jwalk", |b| b.iter(|| walks::jwalk_usage(&root)));
    group.bench_function("walkdir", |b| b.iter(|| walks::walkdir_usage(&root)));
    group.finish();
}

#[cfg(not(feature = "loom"))]
criterion::criterion_group!(benches, du_walks);
#[cfg(not(feature = "loom"))]
criterion::criterion_main!(benches);

#[cfg(feature = "loom")]
fn main() {}
