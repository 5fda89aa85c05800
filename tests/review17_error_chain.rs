//! Review 17: every `Error` variant a user can produce (and `SubmitError`, `BuildError`,
//! `InvalidStateError`, `time::Elapsed`), printed through its `source()` chain as anyhow or
//! eyre print it: each message appears once in the whole report, no level repeats another,
//! and the user's own chain follows a task failure.
#![cfg(not(feature = "loom"))]

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use betterconcurrent::{
    time, Error, Executor, Future, LocalExecutor, SubmitError, TaskGroup, ThreadPoolExecutor,
};

fn chain(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut next = error.source();
    while let Some(error) = next {
        messages.push(error.to_string());
        next = error.source();
        assert!(messages.len() < 32, "an endless chain");
    }
    messages
}

/// No level's message contains another level's: an anyhow report shows each text once.
fn assert_no_repeats(what: &str, messages: &[String]) {
    assert!(
        messages.iter().all(|m| !m.is_empty()),
        "{what}: empty message in {messages:?}"
    );
    for (i, a) in messages.iter().enumerate() {
        for (j, b) in messages.iter().enumerate() {
            if i != j {
                assert!(
                    !a.contains(b.as_str()),
                    "{what}: level {i} repeats level {j}: {messages:?}"
                );
            }
        }
    }
}

fn check(what: &str, error: &(dyn StdError + 'static)) -> Vec<String> {
    let messages = chain(error);
    assert_no_repeats(what, &messages);
    messages
}

#[derive(Debug)]
struct Outer(std::io::Error);
impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load the model")
    }
}
impl StdError for Outer {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}
fn outer() -> Outer {
    Outer(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "weights.bin not found",
    ))
}

#[test]
fn cancelled_timeout_shutdown_panicked_would_deadlock() {
    let f = Future::<u8>::new();
    assert!(f.cancel());
    let e = f.result().unwrap_err();
    assert!(matches!(e, Error::Cancelled));
    assert_eq!(check("cancelled", &e).len(), 1);

    let pending = Future::<u8>::new();
    let e = pending
        .result_timeout(Duration::from_millis(1))
        .unwrap_err();
    assert!(matches!(e, Error::Timeout));
    assert_eq!(check("timeout", &e).len(), 1);

    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let p = pool
        .submit(|| -> u8 { panic!("index out of range") })
        .unwrap();
    let e = p.result().unwrap_err();
    assert!(matches!(e, Error::Panicked(_)));
    let m = check("panicked", &e);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].matches("index out of range").count(), 1);

    let w = pool
        .submit(|| Executor::current().unwrap().join().unwrap_err())
        .unwrap();
    let e = w.result().unwrap().clone();
    assert!(matches!(e, Error::WouldDeadlock), "{e:?}");
    check("would deadlock", &e);

    pool.shutdown(true, false);
    let submit = pool.submit(|| ()).unwrap_err();
    assert_eq!(submit, SubmitError::Shutdown);
    check("submit shutdown", &submit);
    let e = Error::from(submit);
    assert!(matches!(e, Error::Shutdown));
    check("shutdown", &e);
}

#[test]
fn invalid_state_both_as_itself_and_inside_error() {
    let f = Future::<u8>::new();
    f.set_result(1).unwrap();
    let invalid = f.set_result(2).unwrap_err();
    let m = check("InvalidStateError", &invalid);
    assert!(m[0].contains("set_result"), "{m:?}");
    let e = Error::from(invalid);
    let m2 = check("InvalidState", &e);
    assert_eq!(m2.len(), 1, "transparent: {m2:?}");
    let invalid = f.set_exception(outer()).unwrap_err();
    check("set_exception refused", &invalid);
}

#[test]
fn exception_with_a_user_chain_prints_each_once() {
    let f = Future::<u8>::new();
    f.set_exception(outer()).unwrap();
    let e = f.result().unwrap_err();
    let m = check("exception", &e);
    assert_eq!(
        m,
        [
            "the task failed",
            "could not load the model",
            "weights.bin not found"
        ]
    );
}

/// A task's failure propagated as another future's exception (an error from one future handed on
/// through `set_exception`): the user's messages read once each. (Each future says "the task
/// failed" once: two futures did fail, so the generic line appears twice, by decision.)
#[test]
fn an_exception_whose_source_is_another_tasks_failure() {
    let inner = Future::<u8>::new();
    inner.set_exception(outer()).unwrap();
    let outer_future = Future::<u8>::new();
    outer_future
        .set_exception(inner.result().unwrap_err())
        .unwrap();
    let e = outer_future.result().unwrap_err();
    let m = chain(&e);
    // Informative: the two "the task failed" levels.
    let report = m.join(": ");
    assert_eq!(
        report.matches("weights.bin not found").count(),
        1,
        "{report}"
    );
    assert_eq!(
        report.matches("could not load the model").count(),
        1,
        "{report}"
    );
    assert_eq!(
        m,
        [
            "the task failed",
            "the task failed",
            "could not load the model",
            "weights.bin not found"
        ]
    );
}

#[test]
fn broken_executor_and_its_submit_error() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| Err::<(), _>("the license server is unreachable"))
        .build()
        .unwrap();
    let first = pool.submit(|| 1).unwrap();
    let e = first.result().unwrap_err();
    assert!(matches!(e, Error::BrokenExecutor(_)), "{e:?}");
    let m = check("broken", &e);
    assert_eq!(
        m.join(": ")
            .matches("the license server is unreachable")
            .count(),
        1,
        "{m:?}"
    );
    // Later submits fail with the reason.
    let submit = loop {
        match pool.submit(|| 1) {
            Err(error) => break error,
            Ok(f) => assert!(f.result().is_err()),
        }
    };
    assert!(matches!(submit, SubmitError::Broken(_)), "{submit:?}");
    let m = check("submit broken", &submit);
    assert_eq!(
        m.join(": ")
            .matches("the license server is unreachable")
            .count(),
        1
    );
    let e = Error::from(submit);
    let m = check("broken from submit", &e);
    assert_eq!(
        m.join(": ")
            .matches("the license server is unreachable")
            .count(),
        1
    );
}

/// An initializer's error with a cause of its own: the cause should be in the report once (as
/// a source, or in the text), not lost.
#[test]
fn a_broken_executor_keeps_the_initializers_cause() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| Err::<(), _>(outer()))
        .build()
        .unwrap();
    let e = pool.submit(|| 1).unwrap().result().unwrap_err();
    let m = check("broken with cause", &e);
    let report = m.join(": ");
    assert_eq!(
        report.matches("could not load the model").count(),
        1,
        "{report}"
    );
    assert_eq!(
        report.matches("weights.bin not found").count(),
        1,
        "{report}"
    );
}

#[test]
fn a_group_cancelled_submit_error() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let group = TaskGroup::new(&pool);
    group.cancel();
    let e = group.submit(|| 1).unwrap_err();
    assert_eq!(e, SubmitError::Cancelled);
    check("group cancelled", &e);
    let e = Error::from(e);
    assert!(matches!(e, Error::Cancelled));
    check("group cancelled as error", &e);
}

#[test]
fn full_from_a_local_executor() {
    let local = LocalExecutor::<2>::new();
    let _a = local.spawn(async {}).unwrap();
    let _b = local.spawn(async {}).unwrap();
    let e = local.spawn(async {}).unwrap_err();
    assert!(matches!(e, SubmitError::Full { capacity: 2 }), "{e:?}");
    check("full submit", &e);
    let e = Error::from(e);
    assert!(matches!(e, Error::Full { capacity: 2 }));
    check("full", &e);
}

#[test]
fn stuck_from_a_cycle() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .on_stuck(|_| {})
        .build()
        .unwrap();
    let slot = Future::<Future<u32>>::new();
    let awaited = slot.clone();
    let task = pool
        .submit_async(async move {
            let me = (&awaited).await.unwrap().clone();
            *(&me).await.unwrap()
        })
        .unwrap();
    slot.set_result(task.clone()).unwrap();
    let e = loop {
        match pool.join_timeout(Duration::from_millis(200)) {
            Err(e @ Error::Stuck(_)) => break e,
            Err(Error::Timeout) => continue,
            other => panic!("{other:?}"),
        }
    };
    let m = check("stuck", &e);
    assert_eq!(m.len(), 1);
    pool.shutdown(true, true);
}

#[test]
fn elapsed_and_build_errors() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let never = Future::<u8>::new();
    let awaited = never.clone();
    let t = pool
        .submit_async(async move {
            time::timeout(Duration::from_millis(5), &awaited)
                .await
                .is_err()
        })
        .unwrap();
    assert!(*t.result().unwrap());
    let f = pool
        .submit_async(async move {
            let never = Future::<u8>::new();
            let elapsed = time::timeout(Duration::from_millis(1), &never)
                .await
                .unwrap_err();
            let as_error = Error::from(elapsed);
            (format!("{elapsed}"), elapsed.source().is_none(), as_error)
        })
        .unwrap();
    let (text, no_source, as_error) = f.result().unwrap().clone();
    assert!(!text.is_empty());
    assert!(no_source);
    assert!(matches!(as_error, Error::Timeout));
    check("elapsed as error", &as_error);
    for e in [
        ThreadPoolExecutor::builder()
            .max_workers(0)
            .build()
            .unwrap_err(),
        ThreadPoolExecutor::builder()
            .thread_name_prefix("a\0b")
            .build()
            .unwrap_err(),
        ThreadPoolExecutor::builder()
            .max_workers(usize::MAX)
            .build()
            .unwrap_err(),
    ] {
        check("build", &e);
    }
}
