//! Issue 18 point 3: `examples/du.rs` agrees with a serial walk by `walkdir` counting the same
//! way (files, directories, apparent bytes, links not followed), on a tree this test builds
//! (nested directories, empty ones, a symbolic link to a directory, files of known sizes) and on
//! the package's own `tests/` tree.
#![cfg(not(feature = "loom"))]

#[path = "../examples/du.rs"]
#[allow(dead_code)]
mod du;

use std::path::Path;

use betterconcurrent::ThreadPoolExecutor;
use du::{disk_usage, Usage};

/// The reference: the same counts from one `walkdir` pass.
fn walkdir_usage(root: &Path) -> Usage {
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

/// A fresh directory under the target directory's temp area, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir =
        std::env::temp_dir().join(format!("betterconcurrent-du-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

#[test]
fn the_walk_counts_a_built_tree_exactly_as_walkdir_does() {
    let root = scratch("built");
    let mut bytes = 0;
    let mut files = 0;
    for a in 0..5 {
        for b in 0..4 {
            let dir = root.0.join(format!("a{a}")).join(format!("b{b}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..3 {
                let len = a * 100 + b * 10 + f;
                std::fs::write(dir.join(format!("f{f}")), vec![7u8; len]).unwrap();
                bytes += len as u64;
                files += 1;
            }
        }
    }
    std::fs::create_dir_all(root.0.join("empty/deeper/still")).unwrap();
    #[cfg(unix)]
    {
        // A link to a directory is one file (its own size), not a second walk of the target.
        std::os::unix::fs::symlink(root.0.join("a0"), root.0.join("link")).unwrap();
        files += 1;
        bytes += std::fs::symlink_metadata(root.0.join("link"))
            .unwrap()
            .len();
    }
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let usage = disk_usage(&pool, &root.0);
    // The root, a0..a4, 20 b's, and empty/deeper/still.
    let expected = Usage {
        files,
        dirs: 1 + 5 + 20 + 3,
        bytes,
        errors: 0,
    };
    assert_eq!(usage, expected);
    assert_eq!(walkdir_usage(&root.0), expected);
    // The pool is reusable for a second walk, and the same walk gives the same answer.
    assert_eq!(disk_usage(&pool, &root.0), expected);
}

#[test]
fn the_walk_agrees_with_walkdir_on_the_packages_tests() {
    // In the repository and in the published package alike.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let ours = disk_usage(&pool, &root);
    assert!(ours.files > 10 && ours.dirs > 1, "{ours:?}");
    assert_eq!(ours, walkdir_usage(&root));
}

#[test]
fn a_missing_root_is_one_error_not_a_hang_or_panic() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let usage = disk_usage(&pool, Path::new("/nonexistent/betterconcurrent/du"));
    assert_eq!(
        usage,
        Usage {
            files: 0,
            dirs: 1,
            bytes: 0,
            errors: 1
        }
    );
}
