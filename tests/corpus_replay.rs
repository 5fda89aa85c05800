//! Replays every committed fuzz corpus file through the same harness its fuzz target runs, so CI
//! exercises the corpora on stable without cargo-fuzz.
#![cfg(not(feature = "loom"))]

use std::fs;
use std::path::Path;

fn replay(target: &str, harness: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("the corpus {} is missing: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    for file in files {
        let data = fs::read(&file).unwrap();
        let replayed = std::panic::catch_unwind(|| harness(&data));
        assert!(replayed.is_ok(), "corpus file {} failed", file.display());
    }
}

#[test]
fn future_ops_corpus() {
    replay("future_ops", betterconcurrent_testkit::future_ops);
}

#[test]
fn task_graph_corpus() {
    replay("task_graph", betterconcurrent_testkit::task_graph);
}

#[test]
fn waits_corpus() {
    replay("waits", betterconcurrent_testkit::waits);
}
