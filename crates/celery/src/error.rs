//! The crate's errors: [`CeleryError`], what a send, a remote future or a worker can fail with,
//! and [`RemoteException`], an exception as Celery's result backend carries it (a Python
//! exception raised by a task, or the one a Rust task returns for a Python client to raise).

use std::fmt;

use serde_json::{json, Value};

/// Why a remote task or its result failed. A remote future fails with
/// [`Error::Exception`](betterconcurrent::Error::Exception) holding one of these; read it back
/// with [`CeleryError::of`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CeleryError {
    /// The broker (or result backend) could not be reached or refused a command. At submit, the
    /// message was not sent (an `LPUSH` is all or nothing).
    Broker(String),
    /// The task raised: the remote exception's type, module, arguments and traceback.
    TaskFailed {
        /// The task's id.
        task_id: String,
        /// What it raised.
        exception: RemoteException,
    },
    /// No worker of the queue knows the task's name (Celery's `NotRegistered`): the worker
    /// dropped the message and stored this failure.
    UnknownTask {
        /// The task's id.
        task_id: String,
        /// The name that was sent.
        name: String,
    },
    /// The task was revoked, or arrived at a worker after its expiry time.
    Revoked {
        /// The task's id.
        task_id: String,
    },
    /// The stored result could not be read: its meta is not JSON, or its value does not decode
    /// as the type the future was asked for.
    BadResult {
        /// The task's id.
        task_id: String,
        /// What was wrong.
        reason: String,
    },
    /// The backend holds no result for the task: it never ran, or its result expired
    /// (Celery's `result_expires`, one day by default).
    NoResult {
        /// The task's id.
        task_id: String,
    },
    /// The client lost the broker for longer than its
    /// [`reconnect_timeout`](crate::ClientBuilder::reconnect_timeout): its pending futures fail
    /// with this rather than wait for a broker that may not come back.
    Disconnected {
        /// The task's id.
        task_id: String,
    },
    /// The broker restarted while the task was pending and no result came within the client's
    /// [`lost_after_restart`](crate::ClientBuilder::lost_after_restart): a broker that keeps no
    /// data on disk loses the queued messages with its restart.
    Lost {
        /// The task's id.
        task_id: String,
    },
    /// The client was dropped (or closed) while the task was pending.
    Closed {
        /// The task's id.
        task_id: String,
    },
    /// Arguments or a return value that do not serialize to JSON (or not to a JSON array of
    /// positional arguments).
    Encode(String),
}

impl CeleryError {
    /// The `CeleryError` a remote future failed with, if it failed with one.
    ///
    /// ```
    /// use betterconcurrent::{Error, Future};
    /// use betterconcurrent_celery::CeleryError;
    ///
    /// let future = Future::<u32>::new();
    /// future.set_exception(CeleryError::Revoked { task_id: "t".into() }).unwrap();
    /// let error = future.try_result().unwrap().unwrap_err();
    /// assert!(matches!(CeleryError::of(&error), Some(CeleryError::Revoked { .. })));
    /// ```
    pub fn of(error: &betterconcurrent::Error) -> Option<&CeleryError> {
        error.exception()?.downcast_ref()
    }

    pub(crate) fn broker(error: impl fmt::Display) -> Self {
        CeleryError::Broker(error.to_string())
    }
}

impl fmt::Display for CeleryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CeleryError::Broker(reason) => write!(f, "the broker failed: {reason}"),
            CeleryError::TaskFailed { task_id, exception } => {
                write!(f, "task {task_id} raised {exception}")
            }
            CeleryError::UnknownTask { task_id, name } => {
                write!(f, "task {task_id}: no worker knows a task named {name:?}")
            }
            CeleryError::Revoked { task_id } => write!(f, "task {task_id} was revoked"),
            CeleryError::BadResult { task_id, reason } => {
                write!(f, "task {task_id}'s result cannot be read: {reason}")
            }
            CeleryError::NoResult { task_id } => write!(
                f,
                "the backend has no result for task {task_id}: it never ran, or its result expired"
            ),
            CeleryError::Disconnected { task_id } => write!(
                f,
                "task {task_id}'s result is out of reach: the client lost the broker"
            ),
            CeleryError::Lost { task_id } => write!(
                f,
                "task {task_id} was lost: the broker restarted and no result came"
            ),
            CeleryError::Closed { task_id } => {
                write!(
                    f,
                    "task {task_id}'s client was closed before its result came"
                )
            }
            CeleryError::Encode(reason) => write!(f, "cannot encode as JSON: {reason}"),
        }
    }
}

impl std::error::Error for CeleryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CeleryError::TaskFailed { exception, .. } => Some(exception),
            _ => None,
        }
    }
}

/// An exception as Celery's result backend stores it: `{"exc_type", "exc_message",
/// "exc_module"}` beside a traceback.
///
/// A Rust task returns one to fail; a Python client then raises it. Python rebuilds the class
/// from `exc_module` and `exc_type` if that module is already loaded in the client
/// (`builtins` always is: [`RemoteException::new`] uses it), and otherwise makes an
/// `Exception` subclass of that name, so `ValueError`, `KeyError`, `RuntimeError` and the like
/// are caught as themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteException {
    /// The exception's class name (its `__qualname__`), e.g. `ValueError`.
    pub exc_type: String,
    /// The module that defines it, e.g. `builtins`.
    pub exc_module: Option<String>,
    /// The exception's arguments (Python's `exc.args`).
    pub exc_message: Vec<Value>,
    /// The remote traceback, if the worker sent one.
    pub traceback: Option<String>,
}

impl RemoteException {
    /// A builtin Python exception (`exc_module = "builtins"`) with one message argument.
    ///
    /// ```
    /// use betterconcurrent_celery::RemoteException;
    ///
    /// let error = RemoteException::new("ValueError", "x must be positive");
    /// assert_eq!(error.to_string(), "ValueError: x must be positive");
    /// ```
    pub fn new(exc_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            exc_type: exc_type.into(),
            exc_module: Some("builtins".to_owned()),
            exc_message: vec![Value::String(message.into())],
            traceback: None,
        }
    }

    /// The same exception, from another module (a Python client that has not imported it gets
    /// a new `Exception` subclass of this name).
    pub fn with_module(mut self, module: impl Into<String>) -> Self {
        self.exc_module = Some(module.into());
        self
    }

    /// The arguments joined as Python prints a multi-argument exception, without the brackets.
    pub fn message(&self) -> String {
        self.exc_message
            .iter()
            .map(|part| match part {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Celery's revocation (what a worker stores for a revoked or expired task).
    pub(crate) fn revoked() -> Self {
        Self::new("TaskRevokedError", "revoked").with_module("celery.exceptions")
    }

    pub(crate) fn is_revoked(&self) -> bool {
        self.exc_type == "TaskRevokedError"
    }

    /// The failure a worker stores for a task name it does not know (Celery's).
    pub(crate) fn not_registered(name: &str) -> Self {
        Self::new("NotRegistered", format!("{name:?}")).with_module("celery.exceptions")
    }

    /// Read the `result` field of a `FAILURE` meta (Celery's `exception_to_python` input).
    pub(crate) fn from_result(result: &Value, traceback: Option<String>) -> Self {
        let text = |key: &str| result.get(key).and_then(Value::as_str).map(str::to_owned);
        let exc_message = match result.get("exc_message") {
            Some(Value::Array(parts)) => parts.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        Self {
            exc_type: text("exc_type").unwrap_or_else(|| "Exception".to_owned()),
            exc_module: text("exc_module"),
            exc_message,
            traceback,
        }
    }

    /// The `result` field of the `FAILURE` meta for this exception.
    pub(crate) fn to_result(&self) -> Value {
        json!({
            "exc_type": self.exc_type,
            "exc_message": self.exc_message,
            "exc_module": self.exc_module,
        })
    }
}

impl fmt::Display for RemoteException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exc_type, self.message())
    }
}

impl std::error::Error for RemoteException {}

/// A task's own error message, sent as Python's `RuntimeError`.
impl From<String> for RemoteException {
    fn from(message: String) -> Self {
        Self::new("RuntimeError", message)
    }
}

/// A task's own error message, sent as Python's `RuntimeError`.
impl From<&str> for RemoteException {
    fn from(message: &str) -> Self {
        Self::new("RuntimeError", message)
    }
}
