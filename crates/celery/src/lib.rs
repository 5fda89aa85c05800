//! Celery as betterconcurrent's distributed engine: named tasks with JSON arguments cross
//! machines through a Redis broker, in Celery's own message protocol (version 2) and result
//! format, so stock Python Celery 5 workers and clients are on the other side, or this crate's.
//!
//! - [`Client`] sends a task and returns a [`betterconcurrent::Future`] of its result: waits,
//!   `as_completed`, groups and `join` work on it as on a local one, and a pool task awaits it
//!   without holding a thread. One listener thread per client completes every future.
//! - [`Worker`] serves named Rust functions from a Celery queue on a thread pool, with Celery's
//!   late acknowledgement: a worker killed mid-task leaves its message to be run again
//!   elsewhere once the visibility timeout has passed (kombu's Redis transport, which Python
//!   workers share).
//!
//! Closures cannot cross machines: only named tasks with serializable arguments go remote.
//!
//! ```no_run
//! use betterconcurrent::{as_completed, ThreadPoolExecutor};
//! use betterconcurrent_celery::Client;
//!
//! let client = Client::connect("redis://127.0.0.1:6379/0")?;
//! let sums: Vec<_> = (0..10)
//!     .map(|i| client.send_task::<i64>("tasks.add", (i, i)))
//!     .collect::<Result<_, _>>()?;
//! let total: i64 = as_completed(&sums, None).map(|f| *f.unwrap().result().unwrap()).sum();
//!
//! // A pool task awaits a remote result without holding its thread.
//! let pool = ThreadPoolExecutor::builder().max_workers(1).build()?;
//! let doubled = pool.submit_async(async move {
//!     let remote = client.send_task::<i64>("tasks.add", (total, total)).unwrap();
//!     *(&remote).await.unwrap()
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A worker serving a Rust function, and a client calling it:
//!
//! ```no_run
//! use betterconcurrent::ThreadPoolExecutor;
//! use betterconcurrent_celery::{Client, RemoteException, Worker};
//!
//! // A worker, here in the same process: Python clients may call it too.
//! let pool = ThreadPoolExecutor::new();
//! let worker = Worker::builder("redis://127.0.0.1:6379/0")
//!     .task("rust.add", |(x, y): (i64, i64)| Ok::<_, RemoteException>(x + y))
//!     .start(pool.executor())?;
//!
//! let client = Client::connect("redis://127.0.0.1:6379/0")?;
//! let sum = client.send_task::<i64>("rust.add", (2, 3))?;
//! assert_eq!(*sum.result()?, 5);
//! worker.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Values on the wire
//!
//! Arguments and results are JSON (Celery's `json` serializer), read and written with
//! `serde_json`: a Rust struct is a JSON object (a Python `dict`, its keys sorted), a
//! tuple or `Vec` a list, `Option::None` `null`. Numbers are what `serde_json` holds: 64-bit
//! integers and `f64` (written so they read back exactly); a Python `int` beyond 64 bits
//! reaches Rust as an `f64` in a `serde_json::Value` and does not decode into an integer type
//! (a `TypeError` for a task, [`CeleryError::BadResult`] for a result). JSON has no `NaN` or
//! infinities: Rust writes them as `null`; Python writes `NaN`, which a Rust worker cannot
//! read, so such a message fails under its id with kombu's `DecodeError`.
//!
//! # Where the futures complete
//!
//! A client's futures are completed on its listener thread, so their done callbacks run
//! there: keep them short, and never wait in one for another remote result (the listener is
//! what would complete it). Waiting threads and pool tasks that await are woken as usual.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
mod protocol;
mod transport;
mod worker;

pub use client::{Client, ClientBuilder, Signature};
pub use error::{CeleryError, RemoteException};
pub use worker::{ShutdownReport, Worker, WorkerBuilder};

/// The crate's README, whose example compiles as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
