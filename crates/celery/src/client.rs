//! The client: [`Client::send`] pushes a task message onto a Celery queue and returns a
//! [`Future`] that one listener thread per client completes from the result backend.
//!
//! # How a result reaches its future
//!
//! A worker stores a result with `SETEX celery-task-meta-<id>` and `PUBLISH`es the same meta on
//! the channel of that name, both in one `MULTI`. The listener holds one pub/sub connection
//! subscribed to the pattern `celery-task-meta-*` (one subscription for every task, instead of
//! Celery's one per task), and on every (re)connect, once subscribed, reads the keys of all
//! pending tasks with `MGET`. A send registers its future before its `LPUSH`, so each result is
//! either published after the subscription took effect (the listener hears it) or stored before
//! the `MGET` (the listener reads it): none is missed. A send under an id given by the caller
//! ([`Signature::with_id`]) reads the key once after its push too: a result stored under that id
//! before is its result (a worker does not store over a `SUCCESS`; ours publishes the stored
//! one again, Python's does not). Every client on a broker hears every result published on
//! it; results of tasks it did not send are dropped unread past the id.
//!
//! # When the broker goes away
//!
//! A connection that closes is noticed at once; one that goes silent (a broker that froze, a
//! network that dropped it) is asked with a `PING` after a second without a message, which
//! must answer within the connect timeout. The listener reconnects with a growing pause. Past
//! [`ClientBuilder::reconnect_timeout`] without a broker, every pending future fails with
//! [`CeleryError::Disconnected`]. A reconnect to a server whose `run_id` changed (the broker
//! restarted) gives every pending future [`ClientBuilder::lost_after_restart`] to get its
//! result, then fails it with [`CeleryError::Lost`]: a broker that keeps nothing on disk lost
//! the queued messages, and a worker may still store the result of a task it was running.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use betterconcurrent::Future;
use redis::Connection;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::CeleryError;
use crate::protocol::{self, Outgoing, Status, RESULT_KEY_PREFIX};
use crate::transport::{self, connect};

/// The pause between the listener's checks of its stop flag and deadlines.
const LISTEN_TICK: Duration = Duration::from_millis(200);
/// How long the listener hears nothing before it asks the broker whether it is there.
const HEALTH_CHECK: Duration = Duration::from_secs(1);
/// How many pending results one `MGET` of a catch-up reads.
const CATCH_UP_BATCH: usize = 1_000;

/// A named task call: its id, name, arguments and queue (Celery's signature).
///
/// ```
/// use betterconcurrent_celery::Signature;
///
/// let call = Signature::new("tasks.add").args((2, 3)).queue("math");
/// assert_eq!(call.name(), "tasks.add");
/// assert_eq!(call.id().len(), 36); // a UUID4, as Celery's
/// ```
#[derive(Debug, Clone)]
pub struct Signature {
    id: String,
    /// The id was given ([`Signature::with_id`]): a result may be stored under it already.
    id_given: bool,
    name: String,
    args: Result<Value, CeleryError>,
    kwargs: Result<Value, CeleryError>,
    queue: Option<String>,
    eta: Option<SystemTime>,
}

impl Signature {
    /// A call of the task `name` with no arguments, a new id, to the client's default queue.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            id_given: false,
            name: name.into(),
            args: Ok(Value::Array(Vec::new())),
            kwargs: Ok(Value::Object(Default::default())),
            queue: None,
            eta: None,
        }
    }

    /// The positional arguments: anything that serializes to a JSON array (a tuple, a `Vec`,
    /// an array; `()` for none). Anything else makes [`Client::send`] fail with
    /// [`CeleryError::Encode`].
    pub fn args(mut self, args: impl Serialize) -> Self {
        self.args = match serde_json::to_value(args) {
            Ok(Value::Array(args)) => Ok(Value::Array(args)),
            Ok(Value::Null) => Ok(Value::Array(Vec::new())),
            Ok(other) => Err(CeleryError::Encode(format!(
                "positional arguments must serialize to a JSON array, not {other}"
            ))),
            Err(error) => Err(CeleryError::Encode(error.to_string())),
        };
        self
    }

    /// The keyword arguments: anything that serializes to a JSON object (a struct, a map).
    pub fn kwargs(mut self, kwargs: impl Serialize) -> Self {
        self.kwargs = match serde_json::to_value(kwargs) {
            Ok(Value::Object(kwargs)) => Ok(Value::Object(kwargs)),
            Ok(Value::Null) => Ok(Value::Object(Default::default())),
            Ok(other) => Err(CeleryError::Encode(format!(
                "keyword arguments must serialize to a JSON object, not {other}"
            ))),
            Err(error) => Err(CeleryError::Encode(error.to_string())),
        };
        self
    }

    /// The queue to send to, instead of the client's default.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Run it no sooner than `delay` from now (Celery's `countdown`: the message carries the
    /// time, and a worker takes it at once and runs it then, Rust or Python).
    pub fn countdown(mut self, delay: Duration) -> Self {
        self.eta = Some(SystemTime::now() + delay);
        self
    }

    /// Run it no sooner than `time` (Celery's `eta`).
    pub fn eta(mut self, time: SystemTime) -> Self {
        self.eta = Some(time);
        self
    }

    /// The task id (a UUID4 unless set with [`with_id`](Self::with_id)).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The same call under a given id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self.id_given = true;
        self
    }

    /// The task name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// How a [`Client`] connects and how long it waits for a broker that went away.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    queue: String,
    connect_timeout: Duration,
    reconnect_timeout: Duration,
    lost_after_restart: Duration,
}

impl ClientBuilder {
    /// The queue tasks go to unless their [`Signature::queue`] says otherwise (default
    /// `celery`, Celery's).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// How long one connection attempt (and one command) may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the listener tries to reconnect before failing the pending futures with
    /// [`CeleryError::Disconnected`] (default 60 s). It keeps trying after that, for the
    /// futures of later sends.
    pub fn reconnect_timeout(mut self, timeout: Duration) -> Self {
        self.reconnect_timeout = timeout;
        self
    }

    /// After a reconnect to a restarted broker, how long a pending future may still wait for
    /// its result before it fails with [`CeleryError::Lost`] (default 60 s).
    pub fn lost_after_restart(mut self, timeout: Duration) -> Self {
        self.lost_after_restart = timeout;
        self
    }

    /// Connect: the publishing connection now (so a wrong URL or a broker that is down fails
    /// here), and the listener's thread.
    pub fn connect(self) -> Result<Client, CeleryError> {
        let redis = redis::Client::open(self.url.as_str()).map_err(CeleryError::broker)?;
        let mut publisher = connect(&redis, self.connect_timeout).map_err(CeleryError::broker)?;
        // The server sends go to from now on: a restart before the listener's first session
        // is a restart too.
        let first_run_id = run_id(&mut publisher).map_err(CeleryError::broker)?;
        let origin = format!("gen{}@{}", std::process::id(), hostname());
        let shared = Arc::new(Shared {
            redis,
            config: self,
            origin,
            publisher: Mutex::new(Some(publisher)),
            pending: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            connected: AtomicBool::new(false),
        });
        let listener = std::thread::Builder::new()
            .name("celery-result-listener".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || listen(&shared, first_run_id)
            })
            .map_err(CeleryError::broker)?;
        Ok(Client {
            shared: Arc::clone(&shared),
            _listener: Arc::new(Listener {
                shared,
                thread: Mutex::new(Some(listener)),
            }),
        })
    }
}

/// A Celery client over a Redis broker and result backend: sends named tasks, returns futures.
///
/// Cloning is cheap and shares the connection and the listener; the listener stops when the
/// last clone is dropped, and the futures still pending then fail with
/// [`CeleryError::Closed`].
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    /// Held for its `Drop`: the last clone stops the listener.
    _listener: Arc<Listener>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.shared.config.url)
            .field("queue", &self.shared.config.queue)
            .field("pending", &self.pending())
            .finish()
    }
}

impl Client {
    /// A client of the broker at `url` (`redis://host:port/db`) with the default settings.
    pub fn connect(url: &str) -> Result<Client, CeleryError> {
        Self::builder(url).connect()
    }

    /// Settings for a client of the broker at `url`.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_owned(),
            queue: "celery".to_owned(),
            connect_timeout: Duration::from_secs(5),
            reconnect_timeout: Duration::from_secs(60),
            lost_after_restart: Duration::from_secs(60),
        }
    }

    /// Send `name(*args)` to the default queue: [`send`](Self::send) of a [`Signature`].
    pub fn send_task<T>(&self, name: &str, args: impl Serialize) -> Result<Future<T>, CeleryError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.send(Signature::new(name).args(args))
    }

    /// Send a task and return the future of its result, decoded from JSON as `T`.
    ///
    /// The future completes with the task's value, or fails with
    /// [`Error::Exception`](betterconcurrent::Error::Exception) holding a [`CeleryError`]
    /// (the remote exception, an unknown task name, a revocation, a result that does not
    /// decode as `T`, a lost broker). An `Err` means the message was not sent, except that a
    /// broker which accepted the connection and then did not answer within the connect timeout
    /// may still execute the push it was sent.
    ///
    /// A pool task that awaits the future suspends without holding its thread. The pool's
    /// stuck watcher cannot see the broker behind the future, so a pool whose only work is
    /// such waits for more than ten seconds is reported as awaiting something outside its view
    /// (on standard error unless the pool's builder has an `on_stuck` hook of its own).
    pub fn send<T>(&self, call: Signature) -> Result<Future<T>, CeleryError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let args = call.args?;
        let kwargs = call.kwargs?;
        let queue = call.queue.as_deref().unwrap_or(&self.shared.config.queue);
        let envelope = Outgoing {
            task_id: &call.id,
            name: &call.name,
            args: &args,
            kwargs: &kwargs,
            queue,
            origin: &self.shared.origin,
            eta: call.eta,
        }
        .encode();
        let future = Future::new();
        // Registered before the push, so the listener cannot miss the result (module docs).
        let token = self
            .shared
            .register(call.id.clone(), Pending::new(&future, &call.id, &call.name));
        if let Err(error) = self.shared.publish(queue, &envelope) {
            self.shared.unregister(&call.id, token);
            return Err(error);
        }
        if call.id_given {
            // A result stored under this id before (an earlier send of it) is its result, as
            // Celery's client reads it: a worker does not store over a `SUCCESS`.
            self.read_stored(&call.id);
        }
        Ok(future)
    }

    /// The future of a task sent earlier (by this client or another, in any language), from
    /// its id: Celery's `AsyncResult(id)`. It completes when the result is stored; it waits as
    /// long as no result is, since a missing result looks the same as one not stored yet.
    pub fn result<T>(&self, task_id: &str) -> Future<T>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let future = Future::new();
        self.shared
            .register(task_id.to_owned(), Pending::new(&future, task_id, ""));
        // The listener reads a stored result only on (re)connect; read it now.
        self.read_stored(task_id);
        future
    }

    /// The stored result of a task now, without waiting: [`CeleryError::NoResult`] if the
    /// backend has none (the task has not finished, or its result expired).
    pub fn fetch<T: DeserializeOwned>(&self, task_id: &str) -> Result<T, CeleryError> {
        let raw = self
            .fetch_meta(task_id)?
            .ok_or_else(|| CeleryError::NoResult {
                task_id: task_id.to_owned(),
            })?;
        let meta = protocol::decode_meta(task_id, &raw)?;
        meta.outcome(task_id, "").unwrap_or_else(|| {
            Err(CeleryError::NoResult {
                task_id: task_id.to_owned(),
            })
        })
    }

    /// How many sent tasks wait for their results.
    pub fn pending(&self) -> usize {
        self.shared.lock_pending().len()
    }

    /// Whether the listener is connected to the broker now.
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// Complete the futures of `task_id` from its stored result, if it has one.
    fn read_stored(&self, task_id: &str) {
        match self.fetch_meta(task_id) {
            Ok(Some(raw)) => self.shared.deliver(task_id, &raw),
            Ok(None) => {}
            Err(error) => self.shared.complete(task_id, &Completion::Failed(error)),
        }
    }

    fn fetch_meta(&self, task_id: &str) -> Result<Option<Vec<u8>>, CeleryError> {
        self.shared.with_publisher(|connection| {
            redis::cmd("GET")
                .arg(protocol::result_key(task_id))
                .query(connection)
        })
    }
}

/// The listener's thread, stopped and joined when the last client handle goes.
struct Listener {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match thread {
            // The last handle dropped by a done callback, which runs on the listener itself:
            // it stops after the callback returns.
            Some(thread) if thread.thread().id() == std::thread::current().id() => {}
            // User code on the listener (done callbacks) has its panics caught where it runs;
            // a panic here would be our bug, and the pending futures are failed below anyway.
            Some(thread) => {
                let _ = thread.join();
            }
            None => {}
        }
        self.shared
            .fail_all(|task_id| CeleryError::Closed { task_id });
    }
}

struct Shared {
    redis: redis::Client,
    config: ClientBuilder,
    origin: String,
    /// The connection sends and fetches use; `None` after it failed, until the next send.
    publisher: Mutex<Option<Connection>>,
    /// The futures waiting for each task's result (usually one; more after [`Client::result`]).
    pending: Mutex<HashMap<String, Vec<Pending>>>,
    stop: AtomicBool,
    connected: AtomicBool,
}

/// What the listener does with a task's result: complete the future it was sent for.
struct Pending {
    /// Told apart from other futures of the same id (a failed send removes its own only).
    token: u64,
    complete: Box<dyn FnOnce(&Completion) + Send>,
    /// When it was registered (just before its send).
    sent: Instant,
    /// Set when the broker restarted after the send: fail with `Lost` past this.
    lost_at: Option<Instant>,
}

enum Completion {
    Meta(protocol::Meta),
    Failed(CeleryError),
}

impl Pending {
    fn new<T>(future: &Future<T>, task_id: &str, name: &str) -> Self
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let future = future.clone();
        let (task_id, name) = (task_id.to_owned(), name.to_owned());
        static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);
        Pending {
            token: NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
            complete: Box::new(move |completion| {
                let outcome = match completion {
                    Completion::Meta(meta) => match meta.clone().outcome::<T>(&task_id, &name) {
                        Some(outcome) => outcome,
                        None => return, // not called for a meta that is not ready
                    },
                    Completion::Failed(error) => Err(error.clone()),
                };
                // Only the listener or a failed send completes it, once: the entry is removed
                // from the pending map first. A user's `set_result` on it would make this fail,
                // which changes nothing.
                let _ = match outcome {
                    Ok(value) => future.set_result(value),
                    Err(error) => future.set_exception(error),
                };
            }),
            sent: Instant::now(),
            lost_at: None,
        }
    }
}

impl Shared {
    fn lock_pending(&self) -> MutexGuard<'_, HashMap<String, Vec<Pending>>> {
        // A panic cannot happen while the lock is held (no user code runs under it).
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Add a future waiting for `task_id`; returns its token, for [`unregister`](Self::unregister).
    fn register(&self, task_id: String, pending: Pending) -> u64 {
        let token = pending.token;
        self.lock_pending()
            .entry(task_id)
            .or_default()
            .push(pending);
        token
    }

    /// Remove one future waiting for `task_id` (its send failed), leaving the others.
    fn unregister(&self, task_id: &str, token: u64) {
        let mut pending = self.lock_pending();
        if let Some(waiting) = pending.get_mut(task_id) {
            waiting.retain(|pending| pending.token != token);
            if waiting.is_empty() {
                pending.remove(task_id);
            }
        }
    }

    /// Complete every future waiting for `task_id` (none if it was not pending).
    fn complete(&self, task_id: &str, completion: &Completion) {
        let waiting = self.lock_pending().remove(task_id);
        for pending in waiting.into_iter().flatten() {
            (pending.complete)(completion);
        }
    }

    fn with_publisher<R>(
        &self,
        command: impl FnOnce(&mut Connection) -> redis::RedisResult<R>,
    ) -> Result<R, CeleryError> {
        let mut publisher = self
            .publisher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if publisher.is_none() {
            *publisher = Some(
                connect(&self.redis, self.config.connect_timeout).map_err(CeleryError::broker)?,
            );
        }
        let connection = publisher.as_mut().expect("connected above");
        command(connection).map_err(|error| {
            // The next command reconnects: after an I/O error the stream's state is unknown.
            *publisher = None;
            CeleryError::broker(error)
        })
    }

    fn publish(&self, queue: &str, envelope: &str) -> Result<(), CeleryError> {
        self.with_publisher(|connection| transport::send(connection, queue, envelope))
    }

    /// Complete the pending future of `task_id` if `raw` is a ready result (or unreadable).
    fn deliver(&self, task_id: &str, raw: &[u8]) {
        // Every client hears every result on the broker: read only its own.
        if !self.lock_pending().contains_key(task_id) {
            return;
        }
        let completion = match protocol::decode_meta(task_id, raw) {
            Ok(meta) if meta.status == Status::NotReady => return,
            Ok(meta) => Completion::Meta(meta),
            Err(error) => Completion::Failed(error),
        };
        self.complete(task_id, &completion);
    }

    fn fail_all(&self, error: impl Fn(String) -> CeleryError) {
        let pending: Vec<_> = self.lock_pending().drain().collect();
        for (task_id, waiting) in pending {
            let failure = Completion::Failed(error(task_id));
            for pending in waiting {
                (pending.complete)(&failure);
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// The server's `run_id`: a new one after every restart.
fn run_id(connection: &mut Connection) -> redis::RedisResult<String> {
    let info: String = redis::cmd("INFO").arg("server").query(connection)?;
    Ok(info
        .lines()
        .find_map(|line| line.strip_prefix("run_id:"))
        .unwrap_or_default()
        .trim()
        .to_owned())
}

/// The listener's thread: sessions until stopped, reconnecting between them (module docs).
fn listen(shared: &Shared, first_run_id: String) {
    let mut last_run_id = Some(first_run_id);
    let mut down_since: Option<Instant> = None;
    let mut pause = Duration::from_millis(50);
    while !shared.stop.load(Ordering::Acquire) {
        let result = session(shared, &mut last_run_id, &mut down_since);
        if shared.connected.swap(false, Ordering::AcqRel) {
            pause = Duration::from_millis(50); // it was connected: reconnect soon
        }
        if result.is_ok() {
            break;
        }
        let since = *down_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= shared.config.reconnect_timeout {
            shared.fail_all(|task_id| CeleryError::Disconnected { task_id });
        }
        let resume = Instant::now() + pause;
        while Instant::now() < resume && !shared.stop.load(Ordering::Acquire) {
            std::thread::sleep(LISTEN_TICK.min(pause));
        }
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// One connection's life: subscribe, catch up, then complete futures as results are published.
/// `Ok` when asked to stop; `Err` when the connection is lost.
fn session(
    shared: &Shared,
    last_run_id: &mut Option<String>,
    down_since: &mut Option<Instant>,
) -> redis::RedisResult<()> {
    let timeout = shared.config.connect_timeout;
    let mut subscriber = connect(&shared.redis, timeout)?;
    let mut reader = connect(&shared.redis, timeout)?;
    let run_id = run_id(&mut reader)?;
    if last_run_id.as_ref().is_some_and(|last| *last != run_id) {
        // Sent before the listener lost the old server: the message may have gone with it.
        // (Sent after: it reached the new server, or the send failed.)
        let lost_since = down_since.unwrap_or_else(Instant::now);
        let lost_at = Instant::now() + shared.config.lost_after_restart;
        for pending in shared.lock_pending().values_mut().flatten() {
            if pending.sent <= lost_since {
                pending.lost_at.get_or_insert(lost_at);
            }
        }
    }
    *last_run_id = Some(run_id);
    let mut pubsub = subscriber.as_pubsub();
    pubsub.psubscribe(format!("{RESULT_KEY_PREFIX}*"))?;
    pubsub.set_read_timeout(Some(LISTEN_TICK))?;
    // Subscribed: anything published from now on is heard; read what was stored before.
    let ids: Vec<String> = shared.lock_pending().keys().cloned().collect();
    for batch in ids.chunks(CATCH_UP_BATCH) {
        let keys: Vec<String> = batch.iter().map(|id| protocol::result_key(id)).collect();
        let stored: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&keys).query(&mut reader)?;
        for (task_id, raw) in batch.iter().zip(stored) {
            if let Some(raw) = raw {
                shared.deliver(task_id, &raw);
            }
        }
    }
    *down_since = None;
    shared.connected.store(true, Ordering::Release);
    let mut watch_lost = shared
        .lock_pending()
        .values()
        .flatten()
        .any(|pending| pending.lost_at.is_some());
    let mut next_lost_check = Instant::now();
    let mut last_heard = Instant::now();
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        // Checked between messages too: a broker busy with other results never goes quiet.
        if watch_lost && Instant::now() >= next_lost_check {
            watch_lost = fail_lost(shared);
            next_lost_check = Instant::now() + LISTEN_TICK;
        }
        match pubsub.get_message() {
            Ok(message) => {
                last_heard = Instant::now();
                if let Some(task_id) = message.get_channel_name().strip_prefix(RESULT_KEY_PREFIX) {
                    shared.deliver(task_id, message.get_payload_bytes());
                }
            }
            Err(error) if error.is_timeout() => {
                if last_heard.elapsed() >= HEALTH_CHECK {
                    // A broker that froze, or a network that dropped it, closes nothing and
                    // sends nothing: ask it, giving it as long as a command may take.
                    pubsub.set_read_timeout(Some(timeout))?;
                    if let Err(error) = pubsub.ping::<redis::Value>() {
                        *down_since = Some(last_heard);
                        return Err(error);
                    }
                    pubsub.set_read_timeout(Some(LISTEN_TICK))?;
                    last_heard = Instant::now();
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// Fail the futures whose time after a broker restart ran out; `true` while some still have
/// such a deadline.
fn fail_lost(shared: &Shared) -> bool {
    let now = Instant::now();
    let (lost, more) = {
        let mut pending = shared.lock_pending();
        let mut lost = Vec::new();
        for (task_id, waiting) in pending.iter_mut() {
            let (expired, kept) = std::mem::take(waiting)
                .into_iter()
                .partition(|pending| pending.lost_at.is_some_and(|at| at <= now));
            *waiting = kept;
            lost.extend(
                expired
                    .into_iter()
                    .map(|pending: Pending| (task_id.clone(), pending)),
            );
        }
        pending.retain(|_, waiting| !waiting.is_empty());
        let more = pending.values().flatten().any(|p| p.lost_at.is_some());
        (lost, more)
    };
    for (task_id, pending) in lost {
        (pending.complete)(&Completion::Failed(CeleryError::Lost { task_id }));
    }
    more
}
