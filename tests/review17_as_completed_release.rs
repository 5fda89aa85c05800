//! Review 17: `as_completed` and `as_completed_async` release each future as they yield it: a
//! result type that counts its drops shows the value freed, once the caller drops the yielded
//! handle, before the iterator (or stream) ends. Also duplicates in the input, an early break,
//! a timeout, hand-completed futures, the stream driven by another executor, and `#[must_use]`
//! on `Map` and `AsCompleted` (checked by compiling a snippet against this build).
#![cfg(not(feature = "loom"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use betterconcurrent::{as_completed, as_completed_async, Future, ThreadPoolExecutor};
use futures::StreamExt;

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn pending(n: usize) -> Vec<Future<Counted>> {
    (0..n).map(|_| Future::new()).collect()
}

/// A pool's worker may drop its own handle a moment after the caller's: poll, no sleep.
fn drops_reach(drops: &AtomicUsize, expected: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while drops.load(Ordering::SeqCst) < expected {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {expected} freed",
            drops.load(Ordering::SeqCst)
        );
        std::thread::yield_now();
    }
}

#[test]
fn hand_completed_futures_are_freed_as_yielded() {
    let drops = Arc::new(AtomicUsize::new(0));
    let futures = pending(6);
    let setters = futures.clone();
    let mut completions = as_completed(&futures, None);
    drop(futures);
    // Complete one at a time from another thread, each after the previous was yielded.
    let (next, go) = mpsc::channel::<()>();
    let d = drops.clone();
    let completer = std::thread::spawn(move || {
        for f in setters {
            go.recv().unwrap();
            f.set_result(Counted(d.clone())).unwrap();
            // `f`, the last outside handle, is dropped here.
        }
    });
    for i in 0..6 {
        next.send(()).unwrap();
        let f = completions.next().unwrap().unwrap();
        drop(f);
        // Hand-made futures: no worker holds them, so the count is exact once the completer
        // dropped its handle (it does so before its next recv).
        drops_reach(&drops, i + 1, "hand-completed");
    }
    assert!(completions.next().is_none());
    drop(next);
    completer.join().unwrap();
}

#[test]
fn duplicates_are_yielded_once_and_freed() {
    let drops = Arc::new(AtomicUsize::new(0));
    let a = Future::new();
    let b = Future::new();
    a.set_result(Counted(drops.clone())).unwrap();
    let input = vec![a.clone(), b.clone(), a.clone(), b.clone(), a.clone()];
    let mut completions = as_completed(&input, None);
    drop(input);
    drop(a);
    let first = completions.next().unwrap().unwrap();
    drop(first);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "a freed once yielded, b still pending"
    );
    b.set_result(Counted(drops.clone())).unwrap();
    drop(b);
    let second = completions.next().unwrap().unwrap();
    drop(second);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert!(completions.next().is_none());
}

#[test]
fn breaking_early_frees_everything_once_completed() {
    let drops = Arc::new(AtomicUsize::new(0));
    let futures = pending(5);
    futures[0].set_result(Counted(drops.clone())).unwrap();
    let mut completions = as_completed(&futures, None);
    let first = completions.next().unwrap().unwrap();
    drop(completions);
    drop(first);
    for f in &futures[1..] {
        f.set_result(Counted(drops.clone())).unwrap();
    }
    drop(futures);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        5,
        "nothing left behind by a dropped iterator"
    );
}

#[test]
fn after_a_timeout_the_ended_iterator_holds_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let futures = pending(3);
    futures[0].set_result(Counted(drops.clone())).unwrap();
    let mut completions = as_completed(&futures, Some(Duration::from_millis(5)));
    drop(completions.next().unwrap().unwrap());
    assert!(matches!(
        completions.next(),
        Some(Err(betterconcurrent::Error::Timeout))
    ));
    assert!(completions.next().is_none());
    // The iterator has ended but is still alive: the unyielded futures complete and the caller
    // drops them.
    for f in &futures[1..] {
        f.set_result(Counted(drops.clone())).unwrap();
    }
    drop(futures);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "an ended iterator keeps no future alive"
    );
    drop(completions);
}

#[test]
fn after_a_timeout_the_ended_stream_holds_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let futures = pending(3);
    futures[0].set_result(Counted(drops.clone())).unwrap();
    let mut stream = as_completed_async(&futures, Some(Duration::from_millis(5)));
    futures::executor::block_on(async {
        drop(stream.next().await.unwrap().unwrap());
        assert!(matches!(
            stream.next().await,
            Some(Err(betterconcurrent::Error::Timeout))
        ));
        assert!(stream.next().await.is_none());
    });
    for f in &futures[1..] {
        f.set_result(Counted(drops.clone())).unwrap();
    }
    drop(futures);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "an ended stream keeps no future alive"
    );
    drop(stream);
}

#[test]
fn pool_futures_freed_as_yielded_with_completions_racing_the_iteration() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..64)
        .map(|_| {
            let d = drops.clone();
            pool.submit(move || Counted(d)).unwrap()
        })
        .collect();
    let completions = as_completed(&futures, None);
    drop(futures);
    for (i, f) in completions.enumerate() {
        drop(f.unwrap());
        drops_reach(&drops, i + 1, "pool as_completed");
    }
}

#[test]
fn the_stream_frees_as_it_yields_inside_a_pool_task() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let futures = pending(4);
    let setters = futures.clone();
    let d = drops.clone();
    let observed = pool
        .submit_async(async move {
            let mut stream = as_completed_async(&futures, None);
            drop(futures);
            let mut seen = Vec::new();
            while let Some(f) = stream.next().await {
                drop(f.unwrap());
                seen.push(d.load(Ordering::SeqCst));
            }
            seen
        })
        .unwrap();
    for f in setters {
        f.set_result(Counted(drops.clone())).unwrap();
    }
    // Each setter handle was dropped as the loop moved on, so by the time the task yields the
    // i-th future, the caller's handle to it is gone; the stream's must be too.
    let seen = observed.result().unwrap().clone();
    assert_eq!(seen.len(), 4);
    for (i, count) in seen.iter().enumerate() {
        assert!(
            *count > i,
            "the {i}th yielded result was not freed: {seen:?}"
        );
    }
}

#[test]
fn the_stream_frees_as_it_yields_under_another_executor() {
    let drops = Arc::new(AtomicUsize::new(0));
    let futures = pending(3);
    for f in &futures {
        f.set_result(Counted(drops.clone())).unwrap();
    }
    let mut stream = as_completed_async(&futures, None);
    drop(futures);
    futures::executor::block_on(async {
        for i in 0..3 {
            drop(stream.next().await.unwrap().unwrap());
            assert_eq!(drops.load(Ordering::SeqCst), i + 1);
        }
        assert!(stream.next().await.is_none());
    });
}

#[test]
fn a_stream_dropped_midway_leaves_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let futures = pending(3);
    futures[0].set_result(Counted(drops.clone())).unwrap();
    let mut stream = as_completed_async(&futures, Some(Duration::from_secs(30)));
    futures::executor::block_on(async {
        drop(stream.next().await.unwrap().unwrap());
    });
    // Poll once more so the stream registers on the pending ones, then drop it.
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(stream.poll_next_unpin(&mut cx).is_pending());
    drop(stream);
    for f in &futures[1..] {
        f.set_result(Counted(drops.clone())).unwrap();
    }
    drop(futures);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

// ---- #[must_use] ----

/// Compile `body` against this build of the crate with `unused_must_use` denied; the compiler's
/// stderr if it failed, None if it compiled. Tries each built rlib of the crate (another feature
/// set may be in the directory too) and uses the first that compiles the control.
fn compile(body: &str, control: &str) -> Option<String> {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let mut rlibs: Vec<_> = std::fs::read_dir(&deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("libbetterconcurrent-") && n.ends_with(".rlib")
        })
        .collect();
    rlibs.sort_by_key(|p| std::cmp::Reverse(p.metadata().and_then(|m| m.modified()).ok()));
    // One directory per call: the tests run in parallel threads of one process.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "review17-must-use-{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |rlib: &std::path::Path, code: &str, name: &str| {
        let src = dir.join(format!("{name}.rs"));
        std::fs::write(
            &src,
            format!(
                "#![deny(unused_must_use)]\nuse betterconcurrent::*;\npub fn f() {{\n{code}\n}}\n"
            ),
        )
        .unwrap();
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .args([
                "--edition=2021",
                "--crate-type=lib",
                "--emit=metadata",
                "-o",
            ])
            .arg(dir.join(format!("{name}.rmeta")))
            .arg("--extern")
            .arg(format!("betterconcurrent={}", rlib.display()))
            .arg("-L")
            .arg(format!("dependency={}", deps.display()))
            .arg(&src)
            .output()
            .unwrap()
    };
    for rlib in &rlibs {
        if !run(rlib, control, "control").status.success() {
            continue;
        }
        let out = run(rlib, body, "body");
        let _ = std::fs::remove_dir_all(&dir);
        return if out.status.success() {
            None
        } else {
            Some(String::from_utf8_lossy(&out.stderr).into_owned())
        };
    }
    panic!(
        "no rlib of the crate compiled the control in {}",
        deps.display()
    );
}

#[test]
fn map_is_must_use() {
    let control =
        "let pool = ThreadPoolExecutor::new(); let _m = pool.map(|x: u32| x, 0..3).unwrap();";
    let body = "let pool = ThreadPoolExecutor::new(); pool.map(|x: u32| x, 0..3).unwrap();";
    let err =
        compile(body, control).expect("an unused Map must be an error under deny(unused_must_use)");
    assert!(err.contains("unused") && err.contains("Map"), "{err}");
}

#[test]
fn as_completed_is_must_use() {
    let control = "let fs: Vec<Future<u8>> = Vec::new(); let _a = as_completed(&fs, None);";
    let body = "let fs: Vec<Future<u8>> = Vec::new(); as_completed(&fs, None);";
    let err = compile(body, control).expect("an unused AsCompleted must be an error");
    assert!(
        err.contains("unused") && err.contains("AsCompleted"),
        "{err}"
    );
    let body = "let fs: Vec<Future<u8>> = Vec::new(); as_completed_async(&fs, None);";
    let err = compile(body, control).expect("an unused AsCompletedStream must be an error");
    assert!(err.contains("AsCompletedStream"), "{err}");
}
