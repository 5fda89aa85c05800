//! Issue 17: an `Error` printed through its `source()` chain (as anyhow, eyre or a CLI's error
//! reporter print it) shows each message once: a task's failure names the user's error as its
//! source without repeating it in its own message, and the user's own chain follows.
#![cfg(not(feature = "loom"))]

use std::error::Error as StdError;
use std::fmt;

use betterconcurrent::{Error, Future, ThreadPoolExecutor};

/// What an error reporter prints: every message of the chain, outermost first.
fn chain(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut next = error.source();
    while let Some(error) = next {
        messages.push(error.to_string());
        next = error.source();
    }
    messages
}

/// The user's messages must each appear once in the whole report.
fn assert_each_once(messages: &[String], parts: &[&str]) {
    let report = messages.join(": ");
    for part in parts {
        assert_eq!(report.matches(part).count(), 1, "{part:?} in {report:?}");
    }
}

#[derive(Debug)]
struct ConfigMissing {
    cause: std::io::Error,
}

impl fmt::Display for ConfigMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the config file is missing")
    }
}

impl StdError for ConfigMissing {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.cause)
    }
}

#[test]
fn a_task_failure_prints_the_users_chain_once_each() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let future: Future<()> = Future::new();
    let setter = future.clone();
    pool.submit(move || {
        setter
            .set_exception(ConfigMissing {
                cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file: app.toml"),
            })
            .unwrap()
    })
    .unwrap()
    .result()
    .unwrap();
    let error = future.result().unwrap_err();
    let messages = chain(&error);
    assert_eq!(
        messages,
        [
            "the task failed",
            "the config file is missing",
            "no such file: app.toml"
        ]
    );
    assert_each_once(
        &messages,
        &["the config file is missing", "no such file: app.toml"],
    );
}

#[test]
fn every_error_kind_prints_each_message_once_through_its_chain() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let panicked = pool.submit(|| -> u8 { panic!("a bad input") }).unwrap();
    let panicked = panicked.result().unwrap_err();
    assert_each_once(&chain(&panicked), &["a bad input"]);
    let done = Future::<u8>::new();
    done.set_result(1).unwrap();
    let invalid: Error = done.set_result(2).unwrap_err().into();
    let messages = chain(&invalid);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let failed = Future::<u8>::new();
    failed.set_exception("disk full").unwrap();
    let failed = failed.result().unwrap_err();
    assert_eq!(chain(&failed), ["the task failed", "disk full"]);
}
