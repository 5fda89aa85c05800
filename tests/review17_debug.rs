//! Review 17: every public type of the facade implements `Debug`, also when its type parameters
//! do not (a result type without `Debug`, a closure, an `async` block), as a user's
//! `#[derive(Debug)]` struct holding one needs. Probed without failing to compile: a type that
//! lacks it is listed, so one run names every gap.
#![cfg(not(feature = "loom"))]

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::Deref;
use std::time::Duration;

use betterconcurrent::*;

/// No `Debug` on purpose.
#[allow(dead_code)]
struct Opaque(u8);

// Type-level probe: `Probe::<T>::new().debug()` is the inherent method (true) when `T: Debug`,
// else the trait method of what it derefs to (false).
struct Probe<T: ?Sized>(PhantomData<T>);
trait NotDebug {
    fn debug(&self) -> bool {
        false
    }
}
impl<T: ?Sized> NotDebug for PhantomData<T> {}
impl<T: ?Sized + Debug> Probe<T> {
    fn debug(&self) -> bool {
        true
    }
}
impl<T: ?Sized> Deref for Probe<T> {
    type Target = PhantomData<T>;
    fn deref(&self) -> &PhantomData<T> {
        &self.0
    }
}

macro_rules! probe_types {
    ($missing:ident; $($t:ty),* $(,)?) => {
        $(
            if !Probe::<$t>(PhantomData).debug() {
                $missing.push(stringify!($t).to_string());
            }
        )*
    };
}

// Value-level probe, for types that cannot be named (closures, async blocks).
#[allow(dead_code)]
struct Wrap<'a, T>(&'a T);
trait ViaDebug {
    fn debug_value(&self) -> bool {
        true
    }
}
impl<T: Debug> ViaDebug for Wrap<'_, T> {}
trait ViaAny {
    fn debug_value(&self) -> bool {
        false
    }
}
impl<T> ViaAny for &Wrap<'_, T> {}
macro_rules! probe_value {
    ($missing:ident; $name:expr, $e:expr) => {
        if !(&Wrap(&$e)).debug_value() {
            $missing.push($name.to_string());
        }
    };
}

#[test]
// The borrow picks the fallback impl (autoref specialisation): it is the point, not noise.
#[allow(clippy::needless_borrow)]
fn the_probes_work() {
    assert!(Probe::<u8>(PhantomData).debug());
    assert!(!Probe::<Opaque>(PhantomData).debug());
    assert!((&Wrap(&1u8)).debug_value());
    assert!(!(&Wrap(&Opaque(1))).debug_value());
}

#[test]
fn every_public_type_is_debug_whatever_its_parameters() {
    let mut missing: Vec<String> = Vec::new();
    probe_types!(missing;
        AllDone<Opaque>, AsCompleted<Opaque>, AsCompletedStream<Opaque>, BlockedThread, Builder,
        Dump, DumpedTask, Executor, Future<Opaque>, GroupJoin, InvalidStateError,
        LocalExecutor<4>, LocalSpawner, MapOptions, Outcome<'static, Opaque>,
        OwnedOutcome<Opaque>, Panic, Scope<'static, 'static>, Stats, SubmitSite, TaskGroup,
        ThreadPoolExecutor, WaitAsync<Opaque>, WaitDone<Opaque>, Waited<Opaque>, WorkerStats,
        BuildError, Error, ReturnWhen, State, SubmitError,
        time::Elapsed, timer::Elapsed, timer::Sleep<'static>, timer::Timer,
        timer::Timeout<'static, WaitDone<Opaque>>,
        executor::HookInstalled, executor::InstalledBlockingHook, executor::KindAndSite,
        executor::Registration, executor::SchedulerHandle, executor::Suspending<'static>,
        executor::Task, executor::TaskFacts<'static>, executor::TaskSnapshot,
        executor::TaskWatch, executor::RunOutcome, executor::TaskKind, executor::TaskPhase,
    );

    // Values of types a user cannot name.
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let map = pool.map(|n: u32| Opaque(n as u8), 0..3).unwrap();
    probe_value!(missing; "Map<Range, closure, Opaque>", map);
    println!("{map:?}");
    let never = Future::<Opaque>::new();
    let timeout_on_future = time::timeout(Duration::from_millis(1), &never);
    probe_value!(missing; "time::Timeout<&Future<Opaque>>", timeout_on_future);
    let sleep = time::sleep(Duration::from_millis(1));
    probe_value!(missing; "time::Sleep", sleep);
    let futures = vec![never.clone()];
    let all = yield_until_done_timeout(&futures, Some(Duration::from_millis(1)));
    probe_value!(missing; "yield_until_done_timeout's AllDone<Opaque>", all);
    let waited = wait(
        &futures,
        Some(Duration::from_millis(1)),
        ReturnWhen::AllCompleted,
    );
    probe_value!(missing; "wait's Waited<Opaque>", waited);
    drop(map);
    pool.scope(|s| {
        probe_value!(missing; "Scope", *s);
    });

    assert!(missing.is_empty(), "not Debug: {missing:#?}");
}

/// `time::timeout` over an `async` block (its common use): `Timeout<F>` is `Debug` only when
/// `F` is, and no async block is. (tokio's `Timeout<T>` has the same bound; a judgement call.)
#[test]
fn a_timeout_over_an_async_block_is_debug() {
    let mut missing: Vec<String> = Vec::new();
    let timeout = time::timeout(Duration::from_millis(1), async { Opaque(1) });
    probe_value!(missing; "time::Timeout<async block>", timeout);
    assert!(missing.is_empty(), "not Debug: {missing:#?}");
}
