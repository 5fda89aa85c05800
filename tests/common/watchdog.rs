//! A watchdog for tests that could hang on a bug: the body runs on its own thread and the test
//! fails (instead of hanging the run) if it does not finish in time.
#![allow(dead_code)] // each includer uses its own part

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

/// Run `f` on its own thread; fail if it takes longer than `secs` seconds, re-raise its panic.
pub fn within<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("HANG: the test body did not finish within {secs} s"),
    }
}
