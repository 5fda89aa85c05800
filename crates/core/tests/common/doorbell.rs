//! A one-shot signal rung from another context (a thread here, an interrupt handler on firmware):
//! a task awaiting it suspends, and `ring` wakes it. Shared by the `LocalExecutor` tests, its loom
//! models (which include this file from the facade's tests) and the core's allocation test. Its primitives come from the core's `sync` shim, so
//! under loom they are loom's; registering a waker allocates nothing.

use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use betterconcurrent_core::sync::{AtomicBool, Mutex, Ordering};

/// The signal; see the module docs.
pub struct Doorbell {
    rung: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Doorbell {
    pub fn new() -> Arc<Self> {
        Arc::new(Doorbell {
            rung: AtomicBool::new(false),
            waker: Mutex::new(None),
        })
    }

    /// Ring it: wake the task waiting, if any (outside the lock).
    pub fn ring(&self) {
        self.rung.store(true, Ordering::SeqCst);
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A future that is ready once the doorbell has rung.
    pub fn rung(self: &Arc<Self>) -> Rung {
        Rung(self.clone())
    }
}

/// See [`Doorbell::rung`].
pub struct Rung(Arc<Doorbell>);

impl StdFuture for Rung {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut waker = self.0.waker.lock();
        if self.0.rung.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        match &*waker {
            Some(registered) if registered.will_wake(cx.waker()) => {}
            // Cloning a task's waker copies a reference-counted pointer: no allocation.
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}
