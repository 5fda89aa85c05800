//! The one place that names atomics, locks and `UnsafeCell`.
//!
//! Every protocol in this workspace imports its synchronisation primitives from here, never from
//! `core::sync` or `std::sync` directly, so that the feature `loom` can swap them all for loom's
//! model-checked versions at once (the approach of tokio's `loom` module and maitake's `loom.rs`).
//!
//! `Arc` and `Weak` stay `alloc`'s even under loom: loom's `Arc` cannot be unsized into the
//! `Arc<dyn ...>` task handles the executor needs, and reference counting is not one of our
//! protocols. Everything whose interleavings matter (states, waiter lists, queues, parking) goes
//! through the types below.

pub use alloc::sync::{Arc, Weak};

#[cfg(not(feature = "loom"))]
pub use core::sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering};
#[cfg(feature = "loom")]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// A short-critical-section lock: `spin` in `no_std`, loom's mutex under loom.
///
/// Only ever held for a handful of instructions (push a waker, flip a state); user code never runs
/// under it.
#[derive(Debug, Default)]
pub struct Mutex<T> {
    #[cfg(not(feature = "loom"))]
    inner: spin::Mutex<T>,
    #[cfg(feature = "loom")]
    inner: loom::sync::Mutex<T>,
}

/// The guard of [`Mutex`].
#[cfg(not(feature = "loom"))]
pub type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;
/// The guard of [`Mutex`].
#[cfg(feature = "loom")]
pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub fn new(value: T) -> Self {
        Self {
            #[cfg(not(feature = "loom"))]
            inner: spin::Mutex::new(value),
            #[cfg(feature = "loom")]
            inner: loom::sync::Mutex::new(value),
        }
    }

    /// Lock it. No user code runs under this lock, so it cannot be poisoned.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(feature = "loom"))]
        return self.inner.lock();
        #[cfg(feature = "loom")]
        return self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

impl<T> Mutex<T> {
    /// Lock it if it is free; never waits (safe from an interrupt handler that may have
    /// preempted the holder).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(not(feature = "loom"))]
        return self.inner.try_lock();
        #[cfg(feature = "loom")]
        return match self.inner.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
    }
}

/// Back off in a retry loop; under loom, let another thread run (loom requires it of spin loops).
#[inline]
pub fn spin_loop() {
    #[cfg(not(feature = "loom"))]
    core::hint::spin_loop();
    #[cfg(feature = "loom")]
    loom::thread::yield_now();
}

/// An `UnsafeCell` with loom's closure-based API, so loom can check every access.
#[cfg(feature = "loom")]
pub use loom::cell::UnsafeCell;

/// An `UnsafeCell` with loom's closure-based API, so loom can check every access.
#[cfg(not(feature = "loom"))]
#[derive(Debug, Default)]
pub struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

#[cfg(not(feature = "loom"))]
impl<T> UnsafeCell<T> {
    /// A new cell.
    pub const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }
}

#[cfg(not(feature = "loom"))]
impl<T: ?Sized> UnsafeCell<T> {
    /// Shared access through a raw pointer; the caller upholds the aliasing rules.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Exclusive access through a raw pointer; the caller upholds the aliasing rules.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Blocking primitives for the OS-thread side: a condvar-capable mutex, the condvar, threads.
#[cfg(feature = "std")]
pub mod blocking {
    #[cfg(not(feature = "loom"))]
    pub use std::sync::{Condvar, Mutex, MutexGuard};
    #[cfg(not(feature = "loom"))]
    pub use std::thread;

    #[cfg(feature = "loom")]
    pub use loom::sync::{Condvar, Mutex, MutexGuard};
    #[cfg(feature = "loom")]
    pub use loom::thread;

    /// Thread-locals: loom runs its threads in one OS thread, so it needs its own.
    #[cfg(feature = "loom")]
    pub use loom::thread_local;
    /// Thread-locals: loom runs its threads in one OS thread, so it needs its own.
    #[cfg(not(feature = "loom"))]
    pub use std::thread_local;

    /// Park the current thread for at most `timeout` (it may return early, spuriously). loom has
    /// no timed park: there it yields, which is a legal spurious return.
    pub fn park_timeout(timeout: core::time::Duration) {
        #[cfg(not(feature = "loom"))]
        std::thread::park_timeout(timeout);
        #[cfg(feature = "loom")]
        {
            let _ = timeout;
            loom::thread::yield_now();
        }
    }
}
