//! The one place that names atomics, locks, `Arc` and `UnsafeCell`.
//!
//! Every protocol in this workspace imports its synchronisation primitives from here, never from
//! `core::sync` or `std::sync` directly, so that the feature `loom` can swap them all for loom's
//! model-checked versions at once (the approach of tokio's `loom` module and maitake's `loom.rs`),
//! and the feature `portable-atomic-critical-section` for `portable-atomic`'s on targets without
//! compare-and-swap.
//!
//! `Arc` and `Weak` stay `alloc`'s even under loom: loom's `Arc` cannot be unsized into the
//! `Arc<dyn ...>` handles the executors need, and reference counting is not one of our
//! protocols. Everything whose interleavings matter (states, waiter lists, queues, parking) goes
//! through the types below.
//!
//! On targets without compare-and-swap (thumbv6m) `alloc` has no `Arc` at all, so it comes from
//! `portable-atomic-util`. That `Arc` cannot be a method receiver of a trait object or unsize
//! implicitly on stable Rust, so the code never relies on either: trait objects take `&self`,
//! unsizing goes through `unsize!`, and wakers are built by `waker` (not `alloc`'s `Wake`).

#[cfg(target_has_atomic = "ptr")]
pub use alloc::sync::{Arc, Weak};
#[cfg(all(
    not(target_has_atomic = "ptr"),
    feature = "portable-atomic-critical-section"
))]
pub use portable_atomic_util::{Arc, Weak};
#[cfg(all(
    not(target_has_atomic = "ptr"),
    not(feature = "portable-atomic-critical-section")
))]
compile_error!(
    "this target has no compare-and-swap: enable betterconcurrent-core's feature \
     `portable-atomic-critical-section` (and provide a `critical-section` implementation)"
);

#[cfg(all(
    not(feature = "loom"),
    not(feature = "portable-atomic-critical-section")
))]
pub use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
#[cfg(feature = "loom")]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
#[cfg(all(not(feature = "loom"), feature = "portable-atomic-critical-section"))]
pub use portable_atomic::{fence, AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};

/// Unsize an `Arc<T>` into the `Arc<dyn Trait>` the context expects. `alloc`'s `Arc` coerces by
/// itself; `portable-atomic-util`'s cannot on stable Rust, so there the pointer makes a round trip
/// through `into_raw`/`from_raw`, which its documentation names as the way to do it.
#[cfg(target_has_atomic = "ptr")]
macro_rules! unsize {
    ($arc:expr) => {
        $arc
    };
}
/// Unsize an `Arc<T>` into the `Arc<dyn Trait>` the context expects. `alloc`'s `Arc` coerces by
/// itself; `portable-atomic-util`'s cannot on stable Rust, so there the pointer makes a round trip
/// through `into_raw`/`from_raw`, which its documentation names as the way to do it.
#[cfg(not(target_has_atomic = "ptr"))]
macro_rules! unsize {
    ($arc:expr) => {{
        let raw = $crate::sync::Arc::into_raw($arc);
        // SAFETY: the pointer came from `into_raw` of the same allocation; only its type gains
        // the trait object's metadata (an unsizing coercion of the raw pointer).
        unsafe { $crate::sync::Arc::from_raw(raw) }
    }};
}
pub(crate) use unsize;

/// What a [`waker`] does when woken: `alloc::task::Wake` for either `Arc` type.
pub(crate) trait ArcWake: Send + Sync {
    /// Wake without consuming the handle.
    fn wake_by_ref(this: &Arc<Self>);

    /// Wake, consuming the handle.
    fn wake(this: Arc<Self>) {
        Self::wake_by_ref(&this);
    }
}

/// A waker whose data pointer is an `Arc<W>`: waking calls `W`'s [`ArcWake`] methods, cloning
/// and dropping the waker count references. Building it allocates nothing. `W` need not be
/// `'static`: the cell of a scoped task (see `task`'s "Scoped work") may be woken after its
/// scope, when waking finds it complete and touches only its state.
pub(crate) fn waker<W: ArcWake>(arc: Arc<W>) -> core::task::Waker {
    let raw = core::task::RawWaker::new(Arc::into_raw(arc).cast(), &WakerVTable::<W>::VTABLE);
    // SAFETY: the vtable's functions treat the data pointer as what it is (a pointer from
    // `Arc::<W>::into_raw` owning one strong reference), which is the `RawWaker` contract.
    unsafe { core::task::Waker::from_raw(raw) }
}

/// The `RawWakerVTable` of [`waker`] for each `W`.
struct WakerVTable<W>(core::marker::PhantomData<W>);

impl<W: ArcWake> WakerVTable<W> {
    const VTABLE: core::task::RawWakerVTable =
        core::task::RawWakerVTable::new(Self::clone, Self::wake, Self::wake_by_ref, Self::drop);

    unsafe fn clone(data: *const ()) -> core::task::RawWaker {
        // SAFETY: `data` owns a strong reference of an `Arc<W>` (see `waker`), so the count is
        // at least one and incrementing it is sound; the new `RawWaker` owns the new reference.
        unsafe { Arc::increment_strong_count(data.cast::<W>()) };
        core::task::RawWaker::new(data, &Self::VTABLE)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: waking by value consumes the waker's strong reference, which this takes over.
        W::wake(unsafe { Arc::from_raw(data.cast::<W>()) });
    }

    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: the waker keeps its reference; `ManuallyDrop` borrows it without releasing it.
        let arc = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(data.cast::<W>()) });
        W::wake_by_ref(&arc);
    }

    unsafe fn drop(data: *const ()) {
        // SAFETY: dropping the waker releases the strong reference it owns.
        drop(unsafe { Arc::from_raw(data.cast::<W>()) });
    }
}

/// A short-critical-section lock: `spin`'s, or `std`'s (which parks) with the feature
/// `parking-lock`, and loom's under loom.
///
/// Only ever held for a handful of instructions (push a waker, flip a state); user code never runs
/// under it. Which of the two suits `std`, where many pool threads can share a few cores, is
/// measured by `benches/locks.rs` (ARCHITECTURE.md, "Design decisions").
#[derive(Debug, Default)]
pub struct Mutex<T> {
    #[cfg(not(any(feature = "parking-lock", feature = "loom")))]
    inner: spin::Mutex<T>,
    #[cfg(all(feature = "parking-lock", not(feature = "loom")))]
    inner: std::sync::Mutex<T>,
    #[cfg(feature = "loom")]
    inner: loom::sync::Mutex<T>,
}

/// The guard of [`Mutex`].
#[cfg(not(any(feature = "parking-lock", feature = "loom")))]
pub type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;
/// The guard of [`Mutex`].
#[cfg(all(feature = "parking-lock", not(feature = "loom")))]
pub type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;
/// The guard of [`Mutex`].
#[cfg(feature = "loom")]
pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub fn new(value: T) -> Self {
        Self {
            #[cfg(not(any(feature = "parking-lock", feature = "loom")))]
            inner: spin::Mutex::new(value),
            #[cfg(all(feature = "parking-lock", not(feature = "loom")))]
            inner: std::sync::Mutex::new(value),
            #[cfg(feature = "loom")]
            inner: loom::sync::Mutex::new(value),
        }
    }

    /// Lock it. No user code runs under this lock, so a poisoned one is taken as it is.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(any(feature = "parking-lock", feature = "loom")))]
        return self.inner.lock();
        #[cfg(any(feature = "parking-lock", feature = "loom"))]
        return self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }

    /// Lock it if it is free; never waits (safe from an interrupt handler that may have
    /// preempted the holder).
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(not(any(feature = "parking-lock", feature = "loom")))]
        return self.inner.try_lock();
        #[cfg(any(feature = "parking-lock", feature = "loom"))]
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

    /// Lock `mutex`, ignoring poisoning: the executors' locks never run user code while held,
    /// so a panic cannot leave what they guard half-changed. (One helper for every such lock.)
    pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wait on `condvar`, ignoring poisoning as [`lock`] does.
    pub fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        condvar
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

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
