//! Whether a timed async wait runs an awaited child in place (work-first) inside the waiting
//! task's poll. `wait_async` and the stream watch their futures as a blocking wait would
//! (no in-place run: "a timed wait must not, and FIRST_COMPLETED must not wait for one task's
//! run before seeing another's end"); `yield_until_done_timeout` with a timeout is the same kind
//! of timed wait and should behave alike: an async child whose first poll is long (it computes
//! before its first `.await`) run inside the waiter's poll would hold the waiter past its
//! timeout. Checked deterministically: the child sees a flag the waiter sets around its poll.
#![cfg(not(feature = "loom"))]

use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use betterconcurrent::{
    as_completed_async, wait_async, yield_until_done_timeout, Executor, Future, ReturnWhen,
};
use futures::StreamExt as _;

mod common;
use common::watchdog::within;

/// Polls `inner` with `flag` set for the duration of the poll.
struct Flagged<F> {
    flag: Arc<AtomicBool>,
    inner: Pin<Box<F>>,
}

impl<F: StdFuture> StdFuture for Flagged<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.flag.store(true, Ordering::SeqCst);
        let r = self.inner.as_mut().poll(cx);
        self.flag.store(false, Ordering::SeqCst);
        r
    }
}

/// In a task on a 1-worker pool: submit an async child that records whether the waiter's poll
/// was running when it first ran, then wait for it with the wait picked by `kind`.
fn child_ran_inside_the_timed_wait(kind: u32) -> bool {
    let pool = common::pool(1);
    let parent = pool
        .submit_async(async move {
            let executor = Executor::current().unwrap();
            let flag = Arc::new(AtomicBool::new(false));
            let seen = Arc::new(AtomicBool::new(false));
            let (f2, s2) = (flag.clone(), seen.clone());
            let child: Future<u32> = executor
                .submit_async(async move {
                    s2.store(f2.load(Ordering::SeqCst), Ordering::SeqCst);
                    1
                })
                .unwrap();
            let timeout = Some(Duration::from_secs(20));
            match kind {
                0 => {
                    let inner = Box::pin(async move {
                        wait_async([&child], timeout, ReturnWhen::AllCompleted).await;
                    });
                    Flagged {
                        flag: flag.clone(),
                        inner,
                    }
                    .await
                }
                1 => {
                    let inner = Box::pin(async move {
                        let _ = as_completed_async([&child], timeout).next().await;
                    });
                    Flagged {
                        flag: flag.clone(),
                        inner,
                    }
                    .await
                }
                _ => {
                    let inner = Box::pin(async move {
                        assert!(yield_until_done_timeout([&child], timeout).await);
                    });
                    Flagged {
                        flag: flag.clone(),
                        inner,
                    }
                    .await
                }
            }
            seen.load(Ordering::SeqCst)
        })
        .unwrap();
    let ran_inside = *parent.result().unwrap();
    pool.join().unwrap();
    ran_inside
}

#[test]
fn timed_wait_async_and_stream_do_not_run_the_child_in_place() {
    within(30, || {
        assert!(
            !child_ran_inside_the_timed_wait(0),
            "wait_async ran the child in place"
        );
        assert!(
            !child_ran_inside_the_timed_wait(1),
            "as_completed_async ran the child in place"
        );
    });
}

#[test]
fn timed_yield_until_done_timeout_does_not_run_the_child_in_place() {
    within(30, || {
        assert!(
            !child_ran_inside_the_timed_wait(2),
            "yield_until_done_timeout with a timeout ran the awaited child inside its poll"
        );
    });
}
