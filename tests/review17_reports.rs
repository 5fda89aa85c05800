//! Review 17: what the library says on standard error, read from a child process (this test
//! binary re-run with `--exact <scenario> --nocapture` and an env var naming the scenario; the
//! scenario tests do nothing in the parent run). A failing initializer is reported once, naming
//! the pool and the error, however many threads fail and however the work arrives; a panicking
//! done callback's report names the future's id as `{:#x}`, on every path a callback runs.
#![cfg(not(feature = "loom"))]

use std::process::Command;
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex};
use std::time::Duration;

use betterconcurrent::{Future, ThreadPoolExecutor};

const SCENARIO: &str = "REVIEW17_REPORT_SCENARIO";

/// Whether this process is the child running `name`. The child silences the default panic
/// hook: its messages (with backtraces) from other threads would interleave with the lines read.
fn in_child(name: &str) -> bool {
    let child = std::env::var(SCENARIO).as_deref() == Ok(name);
    if child {
        std::panic::set_hook(Box::new(|_| {}));
    }
    child
}

/// Run the test `test` in a child with the scenario set; its stdout and stderr.
fn run_child(test: &str) -> (String, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(SCENARIO, test)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "child {test} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "child {test} did not run:\n{stdout}"
    );
    (stdout, stderr)
}

fn lines_containing<'a>(text: &'a str, part: &str) -> Vec<&'a str> {
    text.lines().filter(|line| line.contains(part)).collect()
}

fn ids_in(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.split("REVIEW17-ID ").nth(1))
        .map(str::to_owned)
        .collect()
}

// ---- initializers ----

#[test]
fn scenario_init_fails_everywhere() {
    if !in_child("scenario_init_fails_everywhere") {
        return;
    }
    let pool = ThreadPoolExecutor::builder()
        .max_workers(16)
        .thread_name_prefix("manyfail")
        .initializer(|| Err::<(), _>("the cache dir is read-only"))
        .build()
        .unwrap();
    // Submits from many threads at once, so many workers start and fail together.
    let barrier = Arc::new(Barrier::new(8));
    let executor = pool.executor();
    let submitters: Vec<_> = (0..8)
        .map(|_| {
            let (barrier, executor) = (barrier.clone(), executor.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..50 {
                    match executor.submit(|| 1) {
                        Ok(f) => assert!(f.result().is_err()),
                        Err(e) => assert!(e.to_string().contains("read-only"), "{e}"),
                    }
                    let _ = executor.spawn(|_| ());
                    let _ = executor.submit_async(async {});
                }
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    drop(pool);
}

#[test]
fn an_initializer_failing_on_every_thread_is_reported_once() {
    if std::env::var(SCENARIO).is_ok() {
        return;
    }
    let (_, stderr) = run_child("scenario_init_fails_everywhere");
    let reports = lines_containing(&stderr, "is broken");
    assert_eq!(reports.len(), 1, "reported once: {stderr}");
    assert_eq!(
        reports[0],
        "betterconcurrent: the pool \"manyfail\" is broken: an initializer failed: the cache dir is read-only"
    );
    assert_eq!(lines_containing(&stderr, "read-only").len(), 1, "{stderr}");
}

#[test]
fn scenario_init_fails_on_a_later_thread_only() {
    if !in_child("scenario_init_fails_on_a_later_thread_only") {
        return;
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .thread_name_prefix("laterfail")
        .initializer(move || {
            if counter.fetch_add(1, Ordering::SeqCst) >= 2 {
                Err("thread three could not connect")
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap();
    // Hold two workers so a third starts, one at a time: a held task is submitted only once
    // the one before it runs, so each submit finds every started thread busy and starts the
    // next one. (Submitting them all at once let the third thread break the pool while a held
    // task was still queued: the break fails it unrun, and a barrier waiting for it hung.)
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let (running_tx, running) = mpsc::channel();
    let mut held = Vec::new();
    for _ in 0..2 {
        let (gate, running_tx) = (gate.clone(), running_tx.clone());
        let future = pool
            .submit(move || {
                running_tx.send(()).unwrap();
                let (open, opened) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = opened.wait(open).unwrap();
                }
            })
            .unwrap();
        // Its thread's initializer succeeded (the first two do), so the task runs.
        loop {
            match running.recv_timeout(Duration::from_millis(10)) {
                Ok(()) => break,
                Err(_) => assert!(
                    !future.done(),
                    "a held task ended unrun: {:?}",
                    future.result()
                ),
            }
        }
        held.push(future);
    }
    let mut more = Vec::new();
    for _ in 0..8 {
        if let Ok(f) = pool.submit(|| 2) {
            more.push(f);
        }
    }
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    for f in held {
        f.result().unwrap();
    }
    for f in more {
        let _ = f.result();
    }
    drop(pool);
}

#[test]
fn an_initializer_failing_on_a_later_thread_is_reported_once() {
    if std::env::var(SCENARIO).is_ok() {
        return;
    }
    let (_, stderr) = run_child("scenario_init_fails_on_a_later_thread_only");
    let reports = lines_containing(&stderr, "is broken");
    assert_eq!(reports.len(), 1, "reported once: {stderr}");
    assert_eq!(
        reports[0],
        "betterconcurrent: the pool \"laterfail\" is broken: an initializer failed: thread three could not connect"
    );
}

#[test]
fn scenario_init_fails_unnamed_fire_and_forget() {
    if !in_child("scenario_init_fails_unnamed_fire_and_forget") {
        return;
    }
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .initializer(|| Err::<(), _>(std::io::Error::other("no GPU found")))
        .build()
        .unwrap();
    // Only fire-and-forget work: nobody would see the error but for the report.
    for _ in 0..10 {
        let _ = pool.spawn(|_| ());
    }
    let _ = pool.join();
}

#[test]
fn an_unnamed_pool_broken_by_fire_and_forget_work_is_reported_once() {
    if std::env::var(SCENARIO).is_ok() {
        return;
    }
    let (_, stderr) = run_child("scenario_init_fails_unnamed_fire_and_forget");
    let reports = lines_containing(&stderr, "is broken");
    assert_eq!(reports.len(), 1, "reported once: {stderr}");
    // The default name is "ThreadPoolExecutor-{n}".
    assert!(
        reports[0].starts_with("betterconcurrent: the pool \"ThreadPoolExecutor-"),
        "{stderr}"
    );
    assert!(
        reports[0].ends_with("is broken: an initializer failed: no GPU found"),
        "{stderr}"
    );
}

#[test]
fn scenario_init_panics_with_odd_payloads() {
    if !in_child("scenario_init_panics_with_odd_payloads") {
        return;
    }
    let pool = ThreadPoolExecutor::builder()
        .max_workers(8)
        .thread_name_prefix("oddpanic")
        .initializer(|| -> Result<(), std::io::Error> { std::panic::panic_any(42u32) })
        .build()
        .unwrap();
    let futures: Vec<_> = (0..32).filter_map(|_| pool.submit(|| 1).ok()).collect();
    for f in futures {
        assert!(f.result().is_err());
    }
    let formatted = ThreadPoolExecutor::builder()
        .max_workers(4)
        .thread_name_prefix("fmtpanic")
        .initializer(|| -> Result<(), std::io::Error> { panic!("port {} taken", 8080) })
        .build()
        .unwrap();
    let futures: Vec<_> = (0..16)
        .filter_map(|_| formatted.submit(|| 1).ok())
        .collect();
    for f in futures {
        assert!(f.result().is_err());
    }
}

#[test]
fn panicking_initializers_are_reported_once_per_pool() {
    if std::env::var(SCENARIO).is_ok() {
        return;
    }
    let (_, stderr) = run_child("scenario_init_panics_with_odd_payloads");
    let odd = lines_containing(&stderr, "\"oddpanic\" is broken");
    assert_eq!(odd.len(), 1, "{stderr}");
    assert!(odd[0].contains("an initializer panicked"), "{stderr}");
    let formatted = lines_containing(&stderr, "\"fmtpanic\" is broken");
    assert_eq!(formatted.len(), 1, "{stderr}");
    assert!(
        formatted[0].ends_with("an initializer panicked: port 8080 taken"),
        "{stderr}"
    );
}

// ---- done callbacks ----

#[test]
fn scenario_callbacks_on_every_path() {
    if !in_child("scenario_callbacks_on_every_path") {
        return;
    }
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    // 1. A pool task's future, the callback run by the worker that completes it.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gated = pool.submit(move || gate.recv().unwrap()).unwrap();
    gated.add_done_callback(|_| panic!("callback on a pool task"));
    println!("REVIEW17-ID {:#x}", gated.id());
    release.send(()).unwrap();
    gated.result().unwrap();
    // 2. Added after completion: runs on the caller.
    let done = pool.submit(|| 1).unwrap();
    done.result().unwrap();
    done.add_done_callback(|_| panic!("callback added late"));
    println!("REVIEW17-ID {:#x}", done.id());
    // 3. A cancelled future: cancel() runs it.
    let never = Future::<u8>::new();
    never.add_done_callback(|_| panic!("callback on a cancel"));
    println!("REVIEW17-ID {:#x}", never.id());
    assert!(never.cancel());
    // 4. An async task's future, and a clone registering it (same id).
    let a = pool.submit_async(async { 2 }).unwrap();
    let clone = a.clone();
    clone.add_done_callback(|_| std::panic::panic_any(5u8));
    println!("REVIEW17-ID {:#x}", a.id());
    a.result().unwrap();
    // 5. A global-pool future.
    let g = betterconcurrent::submit(|| 3).unwrap();
    g.add_done_callback(|_| panic!("callback on a global future"));
    println!("REVIEW17-ID {:#x}", g.id());
    g.result().unwrap();
    pool.join().unwrap();
    betterconcurrent::global_pool().wait_idle().unwrap();
    // `join` and `wait_idle` return once the tasks, their callbacks included, have finished.
}

#[test]
fn each_callback_panic_report_names_its_future_id() {
    if std::env::var(SCENARIO).is_ok() {
        return;
    }
    let (stdout, stderr) = run_child("scenario_callbacks_on_every_path");
    let ids = ids_in(&stdout);
    assert_eq!(ids.len(), 5, "{stdout}");
    let expected = [
        "callback on a pool task",
        "callback added late",
        "callback on a cancel",
        "a panic with a non-string payload",
        "callback on a global future",
    ];
    for (id, message) in ids.iter().zip(expected) {
        let line = format!("betterconcurrent: a done callback of future {id} panicked: {message}");
        assert_eq!(
            lines_containing(&stderr, &line).len(),
            1,
            "{line:?} in:\n{stderr}"
        );
    }
}
