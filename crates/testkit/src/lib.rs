//! Scenario harnesses shared by the cargo-fuzz targets (`fuzz/`) and the corpus replay test
//! (`tests/corpus_replay.rs`): each takes raw bytes, decodes a scenario with `arbitrary`, runs it
//! against the real library, and panics if the library disagrees with what the scenario implies.
//! One place for the logic, so a corpus file means the same thing to the fuzzer and to `cargo
//! test` on stable.

use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Waker};
use std::thread;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use betterconcurrent::{
    as_completed, wait, Error, Executor, Future, MapOptions, ReturnWhen, State, ThreadPoolExecutor,
    WaitDone,
};

#[path = "../../core/tests/common/counting_waker.rs"]
mod counting_waker;
use counting_waker::CountingWaker;

/// How long a harness waits for anything before it calls the run a hang.
const HANG: Duration = Duration::from_secs(60);

/// The thread name prefix of every pool a harness builds (see [`expect_task_panics`]).
const POOL_PREFIX: &str = "fuzzpool";

fn pool(workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(workers)
        .thread_name_prefix(POOL_PREFIX)
        .build()
        .expect("valid options")
}

/// Scenarios make tasks panic on purpose, and the pool catches those panics. The fuzzer's panic
/// hook aborts on any panic, caught or not; this hook lets panics on the harness pools' threads
/// pass silently and hands every other panic (a failed check) to the previous hook.
pub fn expect_task_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let on_pool_thread = thread::current()
            .name()
            .is_some_and(|name| name.starts_with(POOL_PREFIX));
        if !on_pool_thread {
            previous(info);
        }
    }));
}

// ---------------------------------------------------------------------------------------------
// (a) Future operations against a reference state machine.

/// One operation on a future, as executor-facing and user-facing code would call it.
#[derive(Arbitrary, Debug)]
enum FutureOp {
    Cancel,
    SetRunning,
    SetResult(u8),
    SetException,
    AddCallback,
    /// Poll waiter slot `n % WAITER_SLOTS` (registering it if the future is not done).
    Poll(u8),
    /// Drop waiter slot `n % WAITER_SLOTS`.
    DropWaiter(u8),
    TryResult,
}

const WAITER_SLOTS: usize = 4;

/// Python's `Future` states, as the reference.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Model {
    Pending,
    Running,
    Cancelled,
    CancelledAndNotified,
    FinishedValue(u8),
    FinishedException,
}

impl Model {
    fn done(self) -> bool {
        !matches!(self, Model::Pending | Model::Running)
    }

    fn state(self) -> State {
        match self {
            Model::Pending => State::Pending,
            Model::Running => State::Running,
            Model::Cancelled => State::Cancelled,
            Model::CancelledAndNotified => State::CancelledAndNotified,
            Model::FinishedValue(_) | Model::FinishedException => State::Finished,
        }
    }
}

/// A waiter slot: its pending wait, whether that wait registered, and its wake count.
struct Waiter {
    wait: WaitDone<u8>,
    registered: bool,
    wakes: Arc<CountingWaker>,
}

/// Run a sequence of operations on one future and check every answer, the state, the outcome,
/// callback order, and that each registered waiter is woken exactly once, against a reference state machine (`Model`).
pub fn future_ops(data: &[u8]) {
    let Ok(ops) = Vec::<FutureOp>::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let future = Future::<u8>::new();
    let mut model = Model::Pending;
    let log: Arc<Mutex<Vec<usize>>> = Arc::default();
    let mut callbacks_added = 0;
    let mut callbacks_before_done = 0;
    let mut waiters: Vec<Option<Waiter>> = (0..WAITER_SLOTS).map(|_| None).collect();
    let mut completed_with_registered: Vec<Arc<CountingWaker>> = Vec::new();

    for op in ops {
        let was_done = model.done();
        match op {
            FutureOp::Cancel => {
                let expected = match model {
                    Model::Running | Model::FinishedValue(_) | Model::FinishedException => false,
                    Model::Cancelled | Model::CancelledAndNotified => true,
                    Model::Pending => {
                        model = Model::Cancelled;
                        true
                    }
                };
                assert_eq!(future.cancel(), expected, "cancel in {model:?}");
            }
            FutureOp::SetRunning => {
                let answer = future.set_running_or_notify_cancel();
                match model {
                    Model::Pending => {
                        assert_eq!(answer, Ok(true));
                        model = Model::Running;
                    }
                    Model::Cancelled => {
                        assert_eq!(answer, Ok(false));
                        model = Model::CancelledAndNotified;
                    }
                    _ => assert_eq!(answer.unwrap_err().state, model.state()),
                }
            }
            FutureOp::SetResult(value) => {
                let answer = future.set_result(value);
                if model.done() {
                    assert_eq!(answer.unwrap_err().state, model.state());
                } else {
                    answer.unwrap();
                    model = Model::FinishedValue(value);
                }
            }
            FutureOp::SetException => {
                let answer = future.set_exception("fuzzed failure");
                if model.done() {
                    assert_eq!(answer.unwrap_err().state, model.state());
                } else {
                    answer.unwrap();
                    model = Model::FinishedException;
                }
            }
            FutureOp::AddCallback => {
                let index = callbacks_added;
                callbacks_added += 1;
                if !model.done() {
                    callbacks_before_done += 1;
                }
                let callback_log = log.clone();
                future.add_done_callback(move |_| callback_log.lock().unwrap().push(index));
                if model.done() {
                    assert_eq!(
                        log.lock().unwrap().last(),
                        Some(&index),
                        "late callback at once"
                    );
                }
            }
            FutureOp::Poll(slot) => {
                let slot = &mut waiters[usize::from(slot) % WAITER_SLOTS];
                let waiter = slot.get_or_insert_with(|| Waiter {
                    wait: future.yield_until_done(),
                    registered: false,
                    wakes: CountingWaker::new().0,
                });
                let waker = Waker::from(waiter.wakes.clone());
                let ready = std::pin::Pin::new(&mut waiter.wait)
                    .poll_unpin_with(&mut Context::from_waker(&waker));
                assert_eq!(ready, model.done(), "a wait is ready exactly when done");
                waiter.registered |= !ready;
            }
            FutureOp::DropWaiter(slot) => {
                waiters[usize::from(slot) % WAITER_SLOTS] = None;
            }
            FutureOp::TryResult => match (future.try_result(), model) {
                (None, Model::Pending | Model::Running) => {}
                (Some(Ok(value)), Model::FinishedValue(expected)) => assert_eq!(*value, expected),
                (Some(Err(Error::Exception(_))), Model::FinishedException) => {}
                (Some(Err(Error::Cancelled)), Model::Cancelled | Model::CancelledAndNotified) => {}
                (outcome, model) => panic!("try_result {outcome:?} in {model:?}"),
            },
        }
        if !was_done && model.done() {
            // Completion: every registered, live waiter was woken once; callbacks ran in order.
            for waiter in waiters.iter().flatten().filter(|w| w.registered) {
                assert_eq!(waiter.wakes.wakes(), 1, "woken once");
                completed_with_registered.push(waiter.wakes.clone());
            }
            let expected: Vec<usize> = (0..callbacks_before_done).collect();
            assert_eq!(*log.lock().unwrap(), expected, "callbacks once, in order");
        }
        assert_eq!(future.state(), model.state());
        assert_eq!(future.done(), model.done());
        let live_registered = waiters
            .iter()
            .flatten()
            .filter(|w| w.registered && !model.done())
            .count();
        assert_eq!(future.waiter_count(), live_registered, "no stale wakers");
    }
    for wakes in completed_with_registered {
        assert_eq!(wakes.wakes(), 1, "never woken twice");
    }
    let ran = log.lock().unwrap().len();
    assert_eq!(
        ran,
        if model.done() { callbacks_added } else { 0 },
        "every callback ran once"
    );
}

/// `Pin<&mut WaitDone>` polling, as a bool.
trait PollUnpin {
    fn poll_unpin_with(self, cx: &mut Context<'_>) -> bool;
}

impl PollUnpin for std::pin::Pin<&mut WaitDone<u8>> {
    fn poll_unpin_with(self, cx: &mut Context<'_>) -> bool {
        std::future::Future::poll(self, cx).is_ready()
    }
}

// ---------------------------------------------------------------------------------------------
// (b) Random task graphs on a 1- to 3-worker pool.

/// One task of a graph. Node 0 is the root; node `i > 0` is submitted by node `parent % i`.
#[derive(Arbitrary, Debug, Clone)]
struct NodeSpec {
    parent: u8,
    /// An async task (waits cooperatively) or a closure (waits by blocking).
    is_async: bool,
    /// Its parent waits for it (otherwise fire-and-forget).
    awaited: bool,
    /// Its parent tries to cancel it right after submitting it.
    cancel: bool,
    /// It panics after submitting and waiting for its children.
    panics: bool,
    /// Unless awaited: started with `spawn` (no future, so never cancelled) instead of `submit`.
    spawned: bool,
    value: u8,
}

#[derive(Arbitrary, Debug)]
struct Graph {
    workers: u8,
    nodes: Vec<NodeSpec>,
}

const MAX_NODES: usize = 12;

/// What the graph ran: each node's future and whether its parent's cancel succeeded; for a
/// spawned node (no future), that it was spawned and the value it finished with.
struct Ran {
    futures: Vec<Option<Future<u64>>>,
    cancelled: Vec<bool>,
    spawned: Vec<bool>,
    spawned_values: Vec<Option<u64>>,
}

struct GraphRun {
    nodes: Vec<NodeSpec>,
    children: Vec<Vec<usize>>,
    ran: Mutex<Ran>,
}

impl GraphRun {
    /// Submit node `index`'s children, cancel and wait for those flagged, then finish.
    fn body(self: &Arc<Self>, executor: &Executor, index: usize) -> Vec<(bool, Future<u64>)> {
        let mut awaited = Vec::new();
        for &child in &self.children[index] {
            if self.nodes[child].spawned && !self.nodes[child].awaited {
                self.ran.lock().unwrap().spawned[child] = true;
                let run = self.clone();
                executor
                    .spawn(move |executor| {
                        let sum = run
                            .body(executor, child)
                            .iter()
                            .map(|(_, grandchild)| grandchild.result().map_or(0, |value| *value))
                            .sum();
                        let value = run.finish(child, sum);
                        run.ran.lock().unwrap().spawned_values[child] = Some(value);
                    })
                    .expect("the pool is open until join");
                continue;
            }
            let future = self.submit(executor, child);
            let cancelled = self.nodes[child].cancel && future.cancel();
            {
                let mut ran = self.ran.lock().unwrap();
                ran.futures[child] = Some(future.clone());
                ran.cancelled[child] = cancelled;
            }
            if self.nodes[child].awaited {
                awaited.push((self.nodes[child].is_async, future));
            }
        }
        awaited
    }

    fn finish(&self, index: usize, awaited_values: u64) -> u64 {
        if self.nodes[index].panics {
            panic!("node {index} panics as the graph says");
        }
        u64::from(self.nodes[index].value) + awaited_values
    }

    fn submit(self: &Arc<Self>, executor: &Executor, index: usize) -> Future<u64> {
        let run = self.clone();
        let inner = executor.clone();
        if self.nodes[index].is_async {
            executor
                .submit_async(async move {
                    let mut sum = 0;
                    for (_, child) in run.body(&inner, index) {
                        sum += (&child).await.map_or(0, |value| *value);
                    }
                    run.finish(index, sum)
                })
                .expect("the pool is open until join")
        } else {
            executor
                .submit(move || {
                    let sum = run
                        .body(&inner, index)
                        .iter()
                        .map(|(_, child)| child.result().map_or(0, |value| *value))
                        .sum();
                    run.finish(index, sum)
                })
                .expect("the pool is open until join")
        }
    }

    /// The outcome node `index` must have, from the specs and the cancels that succeeded.
    fn expected(&self, index: usize, ran: &Ran) -> Option<u64> {
        if ran.cancelled[index] || self.nodes[index].panics {
            return None;
        }
        let awaited: u64 = self.children[index]
            .iter()
            .filter(|&&child| self.nodes[child].awaited)
            .map(|&child| self.expected(child, ran).unwrap_or(0))
            .sum();
        Some(u64::from(self.nodes[index].value) + awaited)
    }
}

/// Run a random task graph and check that `join` returns, every submitted future is done, and
/// each outcome is what the graph implies (a value, a caught panic, or a cancellation).
pub fn task_graph(data: &[u8]) {
    let Ok(graph) = Graph::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let mut nodes = graph.nodes;
    nodes.truncate(MAX_NODES);
    if nodes.is_empty() {
        return;
    }
    // The root is submitted by the harness itself: never cancelled.
    nodes[0].cancel = false;
    let mut children = vec![Vec::new(); nodes.len()];
    for (index, node) in nodes.iter().enumerate().skip(1) {
        children[usize::from(node.parent) % index].push(index);
    }
    let count = nodes.len();
    let run = Arc::new(GraphRun {
        nodes,
        children,
        ran: Mutex::new(Ran {
            futures: vec![None; count],
            cancelled: vec![false; count],
            spawned: vec![false; count],
            spawned_values: vec![None; count],
        }),
    });
    let pool = pool(1 + usize::from(graph.workers % 3));
    let root = run.submit(&pool.executor(), 0);
    run.ran.lock().unwrap().futures[0] = Some(root);
    pool.join_timeout(HANG).expect("join returns");
    let ran = run.ran.lock().unwrap();
    for index in (0..count).filter(|&index| ran.spawned[index]) {
        // Ran once to its end (a value) or panicked (none): join waited for it.
        assert_eq!(
            ran.spawned_values[index],
            run.expected(index, &ran),
            "node {index}"
        );
    }
    for (index, future) in ran.futures.iter().enumerate() {
        let Some(future) = future else {
            continue; // spawned, or its parent was cancelled before it ran (never submitted)
        };
        assert!(future.done(), "node {index} done after join");
        match (
            run.expected(index, &ran),
            future.try_result().expect("done"),
        ) {
            (Some(expected), Ok(value)) => assert_eq!(*value, expected, "node {index}"),
            (None, Err(Error::Cancelled)) => assert!(ran.cancelled[index], "node {index}"),
            (None, Err(Error::Panicked(_))) => assert!(run.nodes[index].panics),
            (expected, outcome) => panic!("node {index}: expected {expected:?}, got {outcome:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) map, wait and as_completed over random completion orders.

/// How a future of a wait scenario ends.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ending {
    Value(u8),
    Exception,
    Cancel,
}

#[derive(Arbitrary, Debug)]
struct WaitScenario {
    /// The futures, completed by another thread in the order given by `order`.
    endings: Vec<Ending>,
    order: Vec<u8>,
    /// map: items (a `None` item panics) and its look-ahead.
    items: Vec<Option<u8>>,
    buffersize: u8,
}

const MAX_FUTURES: usize = 24;

/// Complete futures from another thread in a random order and check that `as_completed` yields
/// them in exactly that order, that `wait` partitions them right, and that `map` gives results
/// in input order with the first panic at its position.
pub fn waits(data: &[u8]) {
    let Ok(mut scenario) = WaitScenario::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    scenario.endings.truncate(MAX_FUTURES);
    scenario.items.truncate(MAX_FUTURES);
    let count = scenario.endings.len();
    // A permutation of 0..count drawn from `order`.
    let mut remaining: Vec<usize> = (0..count).collect();
    let mut order = Vec::with_capacity(count);
    for (step, pick) in scenario
        .order
        .iter()
        .chain(std::iter::repeat(&0))
        .enumerate()
    {
        if step >= count {
            break;
        }
        order.push(remaining.remove(usize::from(*pick) % remaining.len()));
    }
    let futures: Vec<Future<u8>> = (0..count).map(|_| Future::new()).collect();
    let nothing_yet = wait(&futures, Some(Duration::ZERO), ReturnWhen::FirstCompleted);
    assert!(nothing_yet.done.is_empty() && nothing_yet.not_done.len() == count);

    let iterator = as_completed(&futures, Some(HANG));
    let start = Arc::new(Barrier::new(2));
    let completer = {
        let (futures, endings, order, start) = (
            futures.clone(),
            scenario.endings.clone(),
            order.clone(),
            start.clone(),
        );
        thread::spawn(move || {
            start.wait();
            for &index in &order {
                match endings[index] {
                    Ending::Value(value) => futures[index].set_result(value).unwrap(),
                    Ending::Exception => futures[index].set_exception("fuzzed").unwrap(),
                    Ending::Cancel => assert!(futures[index].cancel()),
                }
            }
        })
    };
    start.wait();
    let yielded: Vec<usize> = iterator
        .map(|future| {
            let future = future.expect("no timeout");
            futures
                .iter()
                .position(|f| *f == future)
                .expect("one of ours")
        })
        .collect();
    completer.join().unwrap();
    assert_eq!(yielded, order, "as_completed yields in completion order");

    let all = wait(&futures, None, ReturnWhen::AllCompleted);
    assert_eq!(all.done.len(), count);
    let first_exception = wait(&futures, None, ReturnWhen::FirstException);
    assert_eq!(first_exception.done.len(), count, "all done already");

    // map: results in input order; the first panic ends the iterator at its position.
    let pool = pool(2);
    let options = MapOptions {
        timeout: Some(HANG),
        buffersize: std::num::NonZeroUsize::new(usize::from(scenario.buffersize % 5)),
    };
    let results: Vec<Result<u8, Error>> = pool
        .map_with(
            |item: Option<u8>| item.expect("a None item panics"),
            scenario.items.clone(),
            options,
        )
        .expect("pool open")
        .collect();
    let first_panic = scenario.items.iter().position(Option::is_none);
    let expected_len = first_panic.map_or(scenario.items.len(), |at| at + 1);
    assert_eq!(results.len(), expected_len);
    for (result, item) in results.iter().zip(&scenario.items) {
        match (result, item) {
            (Ok(value), Some(expected)) => assert_eq!(value, expected),
            (Err(Error::Panicked(_)), None) => {}
            (result, item) => panic!("map gave {result:?} for {item:?}"),
        }
    }
    pool.join_timeout(HANG).expect("join returns");
}
