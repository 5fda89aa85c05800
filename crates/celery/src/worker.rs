//! The worker: serves named Rust functions from a Celery queue on a pool, for Python and Rust
//! clients alike, with Celery's late acknowledgement over kombu's Redis transport.
//!
//! # Threads and the life of a message
//!
//! - The **consumer** takes messages (`BRPOP`) only while fewer than the prefetch limit are
//!   held, marks each unacked (`transport::hold`), and submits its function to the pool. Every
//!   `restore_interval` it also puts back the messages any worker (of either language) left
//!   unacked past the visibility timeout (`transport::restore_visible`).
//! - The task runs on a pool thread. A panic in it is caught by the pool and stored as the
//!   task's failure, like a returned error. A task with an ETA (a client's `countdown` or
//!   `eta`) first sleeps on the pool as an async task, holding no thread and none of the
//!   prefetch slots (Celery raises its prefetch for such tasks too).
//! - Its future's done callback hands the outcome to the **storer**, which writes results
//!   (`SETEX` + `PUBLISH` in one script that, like Celery, never overwrites a stored
//!   `SUCCESS`) and only then acks (`ZREM` + `HDEL`), in one pipeline for all the outcomes that
//!   are ready. A worker that dies before the ack leaves its message unacked: it runs again
//!   elsewhere once the visibility timeout has passed (at least once, as Celery's `acks_late`).
//!
//! # Shutdown
//!
//! [`Worker::shutdown`] (or dropping the worker) stops taking messages, cancels the ones it
//! holds that have not started (or still wait for their ETA) and puts them back at the head of
//! their queue, lets the running
//! ones finish, stores and acks their outcomes, and returns what it did. A task that did not
//! run for another reason (its pool shut down and cancelled it, or broke) is put back the same
//! way, and a worker whose pool refuses a task puts that message back and takes no more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use betterconcurrent::{Error, Executor, Future};
use redis::Connection;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{CeleryError, RemoteException};
use crate::protocol::{self, Incoming};
use crate::transport;

/// A registered task: positional and keyword arguments in, a JSON value or an exception out.
type TaskFn =
    dyn Fn(Vec<Value>, Map<String, Value>) -> Result<Value, RemoteException> + Send + Sync;

/// The default prefetch per pool thread (Celery's `worker_prefetch_multiplier`).
const PREFETCH_MULTIPLIER: usize = 4;

/// How long one `BRPOP` waits before the consumer looks at its stop flag again.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(1);

/// Stores a result unless a `SUCCESS` is stored already (Celery's `_store_result`), and
/// publishes what is stored on the key's channel (the stored `SUCCESS`, if so: a client that
/// sent the same task id again hears it too). KEYS[1] the result key, whatever it holds;
/// ARGV[1] the meta; ARGV[2] the expiry in seconds (0: none).
const STORE_RESULT: &str = r"
local found, old = pcall(redis.call, 'GET', KEYS[1])
if found and old then
  local ok, meta = pcall(cjson.decode, old)
  if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then
    redis.call('PUBLISH', KEYS[1], old)
    return 0
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
";

/// What a [`Worker`] serves and how.
pub struct WorkerBuilder {
    url: String,
    queue: String,
    prefetch: Option<usize>,
    visibility_timeout: Duration,
    restore_interval: Duration,
    result_expires: Option<Duration>,
    connect_timeout: Duration,
    tasks: HashMap<String, Arc<TaskFn>>,
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.tasks.keys().collect();
        names.sort();
        f.debug_struct("WorkerBuilder")
            .field("url", &self.url)
            .field("queue", &self.queue)
            .field("prefetch", &self.prefetch)
            .field("visibility_timeout", &self.visibility_timeout)
            .field("tasks", &names)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    /// Serve the task `name` with `function`, whose argument is read from the message's
    /// positional arguments (a tuple for several: `(i64, i64)` reads `[2, 3]`). Arguments that
    /// do not decode, and any keyword argument, fail the task with Python's `TypeError` (use
    /// [`task_with_kwargs`](Self::task_with_kwargs) for keyword arguments); an `Err` fails it
    /// with the exception it converts to.
    ///
    /// ```
    /// use betterconcurrent_celery::{RemoteException, Worker};
    ///
    /// let worker = Worker::builder("redis://127.0.0.1:6379/0")
    ///     .task("rust.add", |(x, y): (i64, i64)| Ok::<_, RemoteException>(x + y))
    ///     .task("rust.sqrt", |(x,): (f64,)| {
    ///         if x < 0.0 {
    ///             return Err(RemoteException::new("ValueError", "negative"));
    ///         }
    ///         Ok(x.sqrt())
    ///     });
    /// # drop(worker);
    /// ```
    pub fn task<A, R, E, F>(self, name: impl Into<String>, function: F) -> Self
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Into<RemoteException>,
        F: Fn(A) -> Result<R, E> + Send + Sync + 'static,
    {
        self.task_with_kwargs(name, move |args, kwargs| {
            if let Some(keyword) = kwargs.keys().next() {
                // Python would raise too: the function takes no keyword arguments.
                return Err(RemoteException::new(
                    "TypeError",
                    format!("unexpected keyword argument {keyword:?}"),
                ));
            }
            let args = decode_args(args)?;
            let value = function(args).map_err(Into::into)?;
            serde_json::to_value(value)
                .map_err(|error| RemoteException::new("TypeError", error.to_string()))
        })
    }

    /// Serve the task `name` with a function of the raw JSON positional and keyword arguments
    /// (no decoding: a task taking keyword arguments, or a variable number of them).
    pub fn task_with_kwargs<F>(mut self, name: impl Into<String>, function: F) -> Self
    where
        F: Fn(Vec<Value>, Map<String, Value>) -> Result<Value, RemoteException>
            + Send
            + Sync
            + 'static,
    {
        self.tasks.insert(name.into(), Arc::new(function));
        self
    }

    /// The queue to consume (default `celery`).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// How many messages the worker holds at once, running or waiting for a pool thread
    /// (Celery's prefetch count; default four per pool thread, Celery's
    /// `worker_prefetch_multiplier`). At least 1. A held message waits for a pool thread here
    /// instead of on the queue for another worker: use 1 for long tasks.
    pub fn prefetch(mut self, prefetch: usize) -> Self {
        self.prefetch = Some(prefetch.max(1));
        self
    }

    /// How long a message may stay unacked before a worker puts it back on its queue (kombu's
    /// `visibility_timeout`, default one hour). Set it above the longest task: a task running
    /// longer is run again elsewhere while it runs. Every worker on a broker should use the
    /// same value.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// How often the worker looks for messages to put back (default 10 s).
    pub fn restore_interval(mut self, interval: Duration) -> Self {
        self.restore_interval = interval;
        self
    }

    /// How long results are kept (Celery's `result_expires`, default one day); `None` keeps
    /// them until deleted.
    pub fn result_expires(mut self, expires: Option<Duration>) -> Self {
        self.result_expires = expires;
        self
    }

    /// How long a connection attempt or a command may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Start serving on `executor`'s pool: connect (a broker that is down fails here), then
    /// take messages until [`Worker::shutdown`].
    pub fn start(self, executor: Executor) -> Result<Worker, CeleryError> {
        let redis = redis::Client::open(self.url.as_str()).map_err(CeleryError::broker)?;
        let timeout = self.connect_timeout;
        let consumer_connection = connect(&redis, timeout + RECEIVE_TIMEOUT)?;
        let storer_connection = connect(&redis, timeout)?;
        let prefetch = self
            .prefetch
            .unwrap_or_else(|| PREFETCH_MULTIPLIER * executor.max_workers().max(1));
        let (outcomes, received) = mpsc::channel();
        let shared = Arc::new(Shared {
            redis,
            config: self,
            prefetch,
            executor,
            stop: AtomicBool::new(false),
            held: Mutex::new(HashMap::new()),
            waiting_for_eta: AtomicUsize::new(0),
            released: Condvar::new(),
        });
        let consumer = spawn("celery-consumer", {
            let shared = Arc::clone(&shared);
            move || consume(&shared, consumer_connection, &outcomes)
        })?;
        let storer = spawn("celery-storer", {
            let shared = Arc::clone(&shared);
            move || store(&shared, storer_connection, &received)
        })?;
        Ok(Worker {
            shared,
            consumer: Some(consumer),
            storer: Some(storer),
        })
    }
}

/// A task's positional arguments as `A`: a tuple or a sequence reads the JSON array; `()`
/// reads no arguments.
fn decode_args<A: DeserializeOwned>(args: Vec<Value>) -> Result<A, RemoteException> {
    let no_args = args.is_empty();
    serde_json::from_value(Value::Array(args))
        .or_else(|error| match no_args {
            true => serde_json::from_value(Value::Null).map_err(|_| error),
            false => Err(error),
        })
        .map_err(|error| RemoteException::new("TypeError", error.to_string()))
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, CeleryError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .map_err(CeleryError::broker)
}

fn connect(redis: &redis::Client, timeout: Duration) -> Result<Connection, CeleryError> {
    transport::connect(redis, timeout).map_err(CeleryError::broker)
}

/// A Celery worker serving named Rust functions on a pool (see the module docs).
///
/// Dropping it shuts it down as [`shutdown`](Worker::shutdown) does.
#[must_use = "dropping the worker shuts it down at once"]
pub struct Worker {
    shared: Arc<Shared>,
    consumer: Option<JoinHandle<()>>,
    storer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("queue", &self.shared.config.queue)
            .field("prefetch", &self.shared.prefetch)
            .field("held", &self.shared.lock_held().len())
            .finish()
    }
}

/// What a worker's shutdown did with the messages it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Messages whose tasks had started: they ran to the end, and their results were stored
    /// and their messages acked, unless the broker could not be reached (then said on
    /// standard error: the messages come back after the visibility timeout).
    pub finished: usize,
    /// Messages not started: put back at the head of their queue for another worker.
    pub requeued: usize,
}

impl Worker {
    /// Settings for a worker of the broker at `url` (`redis://host:port/db`).
    pub fn builder(url: &str) -> WorkerBuilder {
        WorkerBuilder {
            url: url.to_owned(),
            queue: "celery".to_owned(),
            prefetch: None,
            visibility_timeout: Duration::from_secs(3600),
            restore_interval: Duration::from_secs(10),
            result_expires: Some(Duration::from_secs(86_400)),
            connect_timeout: Duration::from_secs(5),
            tasks: HashMap::new(),
        }
    }

    /// How many messages the worker holds now (running or waiting for a pool thread).
    pub fn held(&self) -> usize {
        self.shared.lock_held().len()
    }

    /// Stop taking messages, put back the ones not started, finish the running ones and store
    /// their results (module docs). Blocks until the running tasks have finished.
    pub fn shutdown(mut self) -> ShutdownReport {
        self.stop()
    }

    fn stop(&mut self) -> ShutdownReport {
        self.shared.stop.store(true, Ordering::Release);
        // Through the lock the consumer checks the flag under, so its wait cannot miss this.
        drop(self.shared.lock_held());
        self.shared.released.notify_all();
        if let Some(consumer) = self.consumer.take() {
            // The consumer runs no user code: a panic there is our bug; go on shutting down.
            let _ = consumer.join();
        }
        // Cancel what has not started: its done callback (run here, so no lock is held while
        // cancelling) hands it to the storer, which puts it back on its queue.
        let futures: Vec<_> = self
            .shared
            .lock_held()
            .values()
            .filter_map(|held| held.future.clone())
            .collect();
        for future in &futures {
            // A closure not started is cancelled; a task waiting for its ETA is aborted (a
            // running closure cannot be, and an ETA task whose function runs keeps its value).
            if !future.cancel() {
                future.abort();
            }
        }
        // Let the running ones finish, whether or not the broker is there to take their results.
        betterconcurrent::block_until_done(&futures, None);
        let requeued = futures.iter().filter(|future| future.cancelled()).count();
        let finished = futures.len() - requeued;
        // The storer ends once every held message is acked (or it gave up on the broker).
        if let Some(storer) = self.storer.take() {
            let _ = storer.join();
        }
        ShutdownReport { finished, requeued }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.consumer.is_some() || self.storer.is_some() {
            self.stop();
        }
    }
}

/// A message the worker holds: its task's future, once submitted.
struct Held {
    future: Option<Future<Result<Value, RemoteException>>>,
}

/// What the storer does with a held message.
struct Outcome {
    tag: String,
    task_id: String,
    action: Action,
}

enum Action {
    /// Store this result meta (`None`: the message asked for none, `ignore_result`), then ack.
    Store(Option<String>),
    /// The task did not run (cancelled by the shutdown, or its pool shut down or broke): put
    /// the message back on its queue for another worker.
    Requeue,
}

struct Shared {
    redis: redis::Client,
    config: WorkerBuilder,
    prefetch: usize,
    executor: Executor,
    stop: AtomicBool,
    /// The messages taken and not yet acked, by delivery tag.
    held: Mutex<HashMap<String, Held>>,
    /// How many of them wait for their ETA (not counted against the prefetch).
    waiting_for_eta: AtomicUsize,
    /// Signalled when a held message is acked (or the worker stops).
    released: Condvar,
}

impl Shared {
    fn lock_held(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        // No user code runs under this lock.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// A problem the worker cannot hand to anyone: a message it cannot read, a broker it lost.
fn report(message: &str) {
    eprintln!("betterconcurrent-celery worker: {message}");
}

/// The consumer's thread (module docs).
fn consume(shared: &Arc<Shared>, connection: Connection, outcomes: &Sender<Outcome>) {
    let mut connection = Some(connection);
    let mut next_restore = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        {
            let mut held = shared.lock_held();
            while held.len()
                - shared
                    .waiting_for_eta
                    .load(Ordering::Acquire)
                    .min(held.len())
                >= shared.prefetch
                && !shared.stopping()
            {
                held = shared
                    .released
                    .wait(held)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        if shared.stopping() {
            return;
        }
        let Some(live) = connection.as_mut() else {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
            connection = connect(
                &shared.redis,
                shared.config.connect_timeout + RECEIVE_TIMEOUT,
            )
            .map_err(|error| report(&format!("reconnecting: {error}")))
            .ok();
            continue;
        };
        pause = Duration::from_millis(50);
        if Instant::now() >= next_restore {
            next_restore = Instant::now() + shared.config.restore_interval;
            if let Err(error) = transport::restore_visible(live, shared.config.visibility_timeout) {
                report(&format!("restoring unacked messages: {error}"));
                connection = None;
                continue;
            }
        }
        match transport::receive(live, &shared.config.queue, RECEIVE_TIMEOUT) {
            Ok(Some(raw)) => match take(shared, live, &raw, outcomes) {
                Ok(Taken::Running) => {}
                Ok(Taken::PoolGone) => return,
                Err(error) => {
                    report(&format!("holding a message: {error}"));
                    connection = None;
                }
            },
            Ok(None) => {}
            Err(error) => {
                report(&format!("receiving: {error}"));
                connection = None;
            }
        }
    }
}

/// A held message whose task waits for its ETA: not counted against the prefetch until it
/// wakes (or ends unrun: the slot goes with the task's body).
struct EtaSlot(Arc<Shared>);

impl EtaSlot {
    fn take(shared: &Arc<Shared>) -> Self {
        shared.waiting_for_eta.fetch_add(1, Ordering::AcqRel);
        EtaSlot(Arc::clone(shared))
    }
}

impl Drop for EtaSlot {
    fn drop(&mut self) {
        self.0.waiting_for_eta.fetch_sub(1, Ordering::AcqRel);
        // Taken under the lock the consumer waits with, so its check cannot miss this.
        drop(self.0.lock_held());
        self.0.released.notify_all();
    }
}

/// What became of a message the consumer took.
enum Taken {
    /// Running, or its outcome is on its way to the storer (or it was dropped unreadable).
    Running,
    /// The pool refused it: the message is back on its queue and the consumer stops.
    PoolGone,
}

/// Hold a received message and start its task (or store why it cannot run).
fn take(
    shared: &Arc<Shared>,
    connection: &mut Connection,
    raw: &[u8],
    outcomes: &Sender<Outcome>,
) -> redis::RedisResult<Taken> {
    let (message, undecodable) = match protocol::decode_task(raw) {
        Ok(message) => (message, None),
        Err(protocol::Undecodable::Envelope(reason)) => {
            // No id to store a failure under: dropped, as kombu drops what it cannot decode.
            report(&format!(
                "dropped a message that is not a Celery task: {reason}"
            ));
            return Ok(Taken::Running);
        }
        // Its id is known: the sender hears why it does not run.
        Err(protocol::Undecodable::Body(message, reason)) => (*message, Some(reason)),
    };
    if let Err(error) = transport::hold(connection, &message) {
        // Taken from the queue but not marked unacked: push it back so it is not lost.
        let _ = redis::cmd("RPUSH")
            .arg(&shared.config.queue)
            .arg(raw)
            .exec(connection);
        return Err(error);
    }
    shared
        .lock_held()
        .insert(message.delivery_tag.clone(), Held { future: None });
    let Incoming {
        task_id,
        name,
        delivery_tag: tag,
        args,
        kwargs,
        ignore_result,
        expires,
        eta,
        ..
    } = message;
    // `None`: the task did not run, and its message goes back on the queue.
    let finish = {
        let outcomes = outcomes.clone();
        let (tag, task_id) = (tag.clone(), task_id.clone());
        move |outcome: Option<Result<Value, RemoteException>>| {
            let action = match outcome {
                Some(outcome) => Action::Store(
                    (!ignore_result).then(|| protocol::encode_meta(&task_id, &outcome)),
                ),
                None => Action::Requeue,
            };
            // The storer outlives every task: it ends only once nothing is held.
            let _ = outcomes.send(Outcome {
                tag,
                task_id,
                action,
            });
        }
    };
    if let Some(reason) = undecodable {
        report(&format!("task {task_id}: {reason}"));
        finish(Some(Err(
            RemoteException::new("DecodeError", reason).with_module("kombu.exceptions")
        )));
        return Ok(Taken::Running);
    }
    let Some(function) = shared.config.tasks.get(&name).cloned() else {
        report(&format!("task {task_id}: no task named {name:?} here"));
        finish(Some(Err(RemoteException::not_registered(&name))));
        return Ok(Taken::Running);
    };
    if expires.is_some_and(|at| protocol::expired(&at, SystemTime::now())) {
        finish(Some(Err(RemoteException::revoked())));
        return Ok(Taken::Running);
    }
    let not_before = eta
        .and_then(|eta| protocol::parse_time(&eta))
        .and_then(|eta| eta.duration_since(SystemTime::now()).ok());
    let submitted = match not_before {
        None => shared.executor.submit(move || function(args, kwargs)),
        // A task with an ETA sleeps on the pool without holding a thread, and without
        // holding one of the prefetch slots meanwhile (Celery raises its prefetch for them).
        Some(delay) => {
            let slot = EtaSlot::take(shared);
            shared.executor.submit_async(async move {
                betterconcurrent::time::sleep(delay).await;
                drop(slot);
                function(args, kwargs)
            })
        }
    };
    match submitted {
        Ok(future) => {
            if let Some(held) = shared.lock_held().get_mut(&tag) {
                held.future = Some(future.clone());
            }
            future.add_done_callback(move |future| {
                finish(match future.try_result() {
                    Some(Ok(outcome)) => Some(outcome.clone()),
                    Some(Err(Error::Panicked(panic))) => Some(Err(RemoteException::new(
                        "RuntimeError",
                        format!("the task panicked: {}", panic.message()),
                    ))),
                    // Not run: cancelled by the worker's shutdown or its pool's, or its pool
                    // broke. Not the task's failure: another worker runs it.
                    _ => None,
                });
            });
            Ok(Taken::Running)
        }
        Err(error) => {
            // The pool is shut down or broken: the message goes back for another worker, and
            // this one takes no more.
            report(&format!(
                "the pool refused task {task_id} ({error}): it is put back, and this worker \
                 takes no more messages"
            ));
            shared.lock_held().remove(&tag);
            shared.released.notify_all();
            transport::restore(connection, &tag)?;
            Ok(Taken::PoolGone)
        }
    }
}

/// The storer's thread: store results and ack, in one pipeline per batch, until the worker is
/// stopping and holds nothing.
fn store(shared: &Shared, connection: Connection, outcomes: &Receiver<Outcome>) {
    let mut connection = Some(connection);
    let expires = shared
        .config
        .result_expires
        .map_or(0, |expires| expires.as_secs().max(1));
    let mut batch: Vec<Outcome> = Vec::new();
    loop {
        if batch.is_empty() {
            if shared.stopping() && shared.lock_held().is_empty() {
                return;
            }
            match outcomes.recv_timeout(Duration::from_millis(100)) {
                Ok(outcome) => batch.push(outcome),
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        batch.extend(outcomes.try_iter());
        let live = match connection.as_mut() {
            Some(live) => live,
            None => match connect(&shared.redis, shared.config.connect_timeout) {
                Ok(fresh) => connection.insert(fresh),
                Err(error) => {
                    if give_up(shared, &batch, &error) {
                        return;
                    }
                    continue;
                }
            },
        };
        let mut pipeline = redis::pipe();
        let mut requeue_failed = None;
        for outcome in &batch {
            if let Action::Requeue = outcome.action {
                // A restore of a message already put back finds nothing and changes nothing,
                // so the batch can be tried again whole.
                if let Err(error) = transport::restore(live, &outcome.tag) {
                    requeue_failed = Some(error);
                    break;
                }
                continue;
            }
            if let Action::Store(Some(meta)) = &outcome.action {
                // EVAL, not EVALSHA: a restarted broker has forgotten every loaded script.
                pipeline
                    .cmd("EVAL")
                    .arg(STORE_RESULT)
                    .arg(1)
                    .arg(protocol::result_key(&outcome.task_id))
                    .arg(meta)
                    .arg(expires);
            }
            transport::ack(&mut pipeline, &outcome.tag);
        }
        // One result per store: a store the broker refuses (say, the key holds a list) is
        // reported and not retried, so one bad key cannot hold up the worker; the batch is
        // retried only when the connection failed.
        let written: redis::RedisResult<Vec<redis::RedisResult<redis::Value>>> =
            match requeue_failed {
                Some(error) => Err(error),
                // Only requeues in the batch: nothing more to send (Redis refuses an empty one).
                None if pipeline.cmd_iter().next().is_none() => Ok(Vec::new()),
                None => pipeline.ignore_errors().query(live),
            };
        if let Ok(results) = &written {
            let stored = batch
                .iter()
                .filter(|outcome| matches!(outcome.action, Action::Store(Some(_))));
            for (outcome, result) in stored.zip(results) {
                if let Err(error) = result {
                    report(&format!(
                        "task {}: its result cannot be stored ({error}); its message is acked",
                        outcome.task_id
                    ));
                }
            }
        }
        if let Err(error) = written {
            connection = None;
            if give_up(shared, &batch, &error) {
                return;
            }
            continue;
        }
        let mut held = shared.lock_held();
        for outcome in batch.drain(..) {
            held.remove(&outcome.tag);
        }
        drop(held);
        shared.released.notify_all();
    }
}

/// Report a failed store; `true` if the worker is stopping, so the storer gives up (the
/// messages stay unacked and come back after the visibility timeout), else pause before the
/// next try.
fn give_up(shared: &Shared, batch: &[Outcome], error: &dyn std::fmt::Display) -> bool {
    if shared.stopping() {
        report(&format!(
            "stopping with {} results unstored ({error}): their messages come back after the \
             visibility timeout",
            batch.len()
        ));
        return true;
    }
    report(&format!("storing {} results: {error}", batch.len()));
    std::thread::sleep(Duration::from_millis(200));
    false
}
