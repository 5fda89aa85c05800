//! Celery's wire formats, as a Python Celery 5 worker and client read and write them: the task
//! message of protocol version 2 with the JSON serializer (what kombu pushes onto a Redis list),
//! and the result meta the Redis result backend stores under `celery-task-meta-<id>`.
//!
//! The task message is a JSON envelope whose `body` is the base64 of the JSON
//! `[args, kwargs, embed]`; a Python worker needs `headers.id`, `headers.task`,
//! `properties.delivery_tag`, `properties.body_encoding = "base64"` and
//! `properties.delivery_info.{exchange, routing_key}` (kombu's Redis transport indexes the last
//! two), and we write the full header set Celery's own client writes, for monitoring tools.
//! Celery's `docs/internals/protocol.rst` gives `timelimit` as `(soft, hard)`; its code reads
//! `[hard, soft]`, and so do we (we send `[null, null]`).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::error::{CeleryError, RemoteException};

/// The prefix of a task's result key (and of the pub/sub channel its result is published on).
pub(crate) const RESULT_KEY_PREFIX: &str = "celery-task-meta-";

/// The key (and channel) of task `task_id`'s result.
pub(crate) fn result_key(task_id: &str) -> String {
    format!("{RESULT_KEY_PREFIX}{task_id}")
}

/// A task message about to be sent.
pub(crate) struct Outgoing<'a> {
    pub(crate) task_id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) args: &'a Value,
    pub(crate) kwargs: &'a Value,
    pub(crate) queue: &'a str,
    pub(crate) origin: &'a str,
    /// Not to run before (`headers.eta`).
    pub(crate) eta: Option<std::time::SystemTime>,
}

impl Outgoing<'_> {
    /// The envelope kombu would LPUSH for this message (protocol 2, JSON, base64 body).
    pub(crate) fn encode(&self) -> String {
        let body = json!([self.args, self.kwargs, {
            "callbacks": null, "errbacks": null, "chain": null, "chord": null
        }]);
        let body = base64::engine::general_purpose::STANDARD.encode(body.to_string());
        json!({
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py",
                "task": self.name,
                "id": self.task_id,
                "shadow": null,
                "eta": self.eta.map(format_time),
                "expires": null,
                "group": null,
                "group_index": null,
                "retries": 0,
                "timelimit": [null, null],
                "root_id": self.task_id,
                "parent_id": null,
                "argsrepr": self.args.to_string(),
                "kwargsrepr": self.kwargs.to_string(),
                "origin": self.origin,
                "ignore_result": false,
                "replaced_task_nesting": 0,
                "stamped_headers": null,
                "stamps": {},
            },
            "properties": {
                "correlation_id": self.task_id,
                "reply_to": "",
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": self.queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": uuid::Uuid::new_v4().to_string(),
            },
        })
        .to_string()
    }
}

/// A task message received from a queue: what a worker needs of it, and the envelope as it came
/// (kombu keeps that in the `unacked` hash, to put it back if the worker dies).
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) envelope: Value,
    pub(crate) task_id: String,
    pub(crate) name: String,
    pub(crate) delivery_tag: String,
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
    pub(crate) args: Vec<Value>,
    pub(crate) kwargs: Map<String, Value>,
    /// `headers.ignore_result`: store no result.
    pub(crate) ignore_result: bool,
    /// `headers.expires`, as Celery writes it (ISO 8601 with an offset).
    pub(crate) expires: Option<String>,
    /// `headers.eta`: not to run before (a Python client's `countdown` or `eta`).
    pub(crate) eta: Option<String>,
}

/// Why a received message cannot be run.
#[derive(Debug)]
pub(crate) enum Undecodable {
    /// Not a Celery task message at all, or without an id, a name or a delivery tag: dropped,
    /// as kombu drops what it cannot decode.
    Envelope(String),
    /// Its envelope reads (the message, with no arguments), its body does not (not JSON:
    /// Python's `json` writes `NaN` and `Infinity`, which JSON does not have): it fails under
    /// its id.
    Body(Box<Incoming>, String),
}

/// Read a task message.
pub(crate) fn decode_task(raw: &[u8]) -> Result<Incoming, Undecodable> {
    let envelope: Value =
        serde_json::from_slice(raw).map_err(|e| Undecodable::Envelope(format!("not JSON: {e}")))?;
    let mut incoming = read_envelope(envelope).map_err(Undecodable::Envelope)?;
    match read_body(&incoming.envelope) {
        Ok((args, kwargs)) => {
            incoming.args = args;
            incoming.kwargs = kwargs;
            Ok(incoming)
        }
        Err(reason) => Err(Undecodable::Body(Box::new(incoming), reason)),
    }
}

/// The string at `path` in a message.
fn text_at(value: &Value, path: &str) -> Result<String, String> {
    value
        .pointer(path)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no string at {path}"))
}

/// The headers and properties of a message (its arguments left empty).
fn read_envelope(envelope: Value) -> Result<Incoming, String> {
    let task_id = text_at(&envelope, "/headers/id")?;
    let name = text_at(&envelope, "/headers/task")?;
    let delivery_tag = text_at(&envelope, "/properties/delivery_tag")?;
    let exchange = text_at(&envelope, "/properties/delivery_info/exchange").unwrap_or_default();
    let routing_key =
        text_at(&envelope, "/properties/delivery_info/routing_key").unwrap_or_default();
    let headers = envelope.get("headers");
    let ignore_result = headers
        .and_then(|h| h.get("ignore_result"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let time = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (expires, eta) = (time("expires"), time("eta"));
    Ok(Incoming {
        envelope,
        task_id,
        name,
        delivery_tag,
        exchange,
        routing_key,
        args: Vec::new(),
        kwargs: Map::new(),
        ignore_result,
        expires,
        eta,
    })
}

/// The positional and keyword arguments of a message's body.
fn read_body(envelope: &Value) -> Result<(Vec<Value>, Map<String, Value>), String> {
    match envelope.get("content-type").and_then(Value::as_str) {
        Some("application/json") => {}
        other => {
            return Err(format!(
                "content type {other:?}: only application/json is read"
            ))
        }
    }
    let body = text_at(envelope, "/body")?;
    let body = match envelope
        .pointer("/properties/body_encoding")
        .and_then(Value::as_str)
    {
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("body is not base64: {e}"))?,
        _ => body.into_bytes(),
    };
    let body: Value = serde_json::from_slice(&body).map_err(|e| format!("body not JSON: {e}"))?;
    let (args, kwargs) = match body {
        Value::Array(mut parts) if (2..=3).contains(&parts.len()) => {
            parts.truncate(2);
            let kwargs = parts.pop();
            let args = parts.pop();
            match (args, kwargs) {
                (Some(Value::Array(args)), Some(Value::Object(kwargs))) => (args, kwargs),
                _ => return Err("body is not [args, kwargs, embed]".to_owned()),
            }
        }
        _ => return Err("body is not [args, kwargs, embed] (protocol 1 is not read)".to_owned()),
    };
    Ok((args, kwargs))
}

/// A time as Celery writes it: ISO 8601 in UTC with microseconds and `+00:00`.
pub(crate) fn format_time(time: std::time::SystemTime) -> String {
    let text = humantime::format_rfc3339_micros(time).to_string();
    match text.strip_suffix('Z') {
        Some(utc) => format!("{utc}+00:00"),
        None => text,
    }
}

/// A time header (`eta`, `expires`: ISO 8601, always with the UTC offset in protocol 2);
/// `None` if unreadable.
pub(crate) fn parse_time(text: &str) -> Option<std::time::SystemTime> {
    let normalized = match text.strip_suffix("+00:00") {
        Some(utc) => format!("{utc}Z"),
        None => text.to_owned(),
    };
    humantime::parse_rfc3339_weak(normalized.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(&normalized))
        .ok()
}

/// Whether an `expires` header is in the past. An unreadable one is taken as not expired:
/// running a task late is better than dropping it.
pub(crate) fn expired(expires: &str, now: std::time::SystemTime) -> bool {
    parse_time(expires).is_some_and(|at| at < now)
}

/// A task's state in the result backend (Celery's `celery.states`). `PENDING` is never stored:
/// a missing key reads as pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Success,
    Failure,
    Revoked,
    /// `STARTED`, `RETRY`, `RECEIVED`, a custom state: not an outcome yet.
    NotReady,
}

/// What a result meta says, read for one task.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) status: Status,
    pub(crate) result: Value,
    pub(crate) traceback: Option<String>,
}

/// Read a stored or published result meta. A meta that is not JSON, or has no `status`, is
/// [`CeleryError::BadResult`].
pub(crate) fn decode_meta(task_id: &str, raw: &[u8]) -> Result<Meta, CeleryError> {
    let bad = |reason: String| CeleryError::BadResult {
        task_id: task_id.to_owned(),
        reason,
    };
    let meta: Value = serde_json::from_slice(raw)
        .map_err(|e| bad(format!("the result meta is not JSON: {e}")))?;
    let status = match meta.get("status").and_then(Value::as_str) {
        Some("SUCCESS") => Status::Success,
        Some("FAILURE") => Status::Failure,
        Some("REVOKED") => Status::Revoked,
        Some(_) => Status::NotReady,
        None => return Err(bad("the result meta has no status".to_owned())),
    };
    let traceback = meta
        .get("traceback")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let result = match meta {
        Value::Object(mut fields) => fields.remove("result").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Ok(Meta {
        status,
        result,
        traceback,
    })
}

impl Meta {
    /// The outcome a ready meta gives a future of `T` (`None` while not ready).
    pub(crate) fn outcome<T: serde::de::DeserializeOwned>(
        self,
        task_id: &str,
        name: &str,
    ) -> Option<Result<T, CeleryError>> {
        Some(match self.status {
            Status::NotReady => return None,
            Status::Success => {
                serde_json::from_value(self.result).map_err(|e| CeleryError::BadResult {
                    task_id: task_id.to_owned(),
                    reason: format!("the result does not decode as the type asked for: {e}"),
                })
            }
            Status::Failure => {
                let exception = RemoteException::from_result(&self.result, self.traceback);
                if exception.exc_type == "NotRegistered" {
                    Err(CeleryError::UnknownTask {
                        task_id: task_id.to_owned(),
                        name: name.to_owned(),
                    })
                } else {
                    Err(CeleryError::TaskFailed {
                        task_id: task_id.to_owned(),
                        exception,
                    })
                }
            }
            Status::Revoked => Err(CeleryError::Revoked {
                task_id: task_id.to_owned(),
            }),
        })
    }
}

/// The meta a worker stores for a finished task, in Celery's key order.
pub(crate) fn encode_meta(task_id: &str, outcome: &Result<Value, RemoteException>) -> String {
    let date_done = format_time(std::time::SystemTime::now());
    let (status, result, traceback) = match outcome {
        Ok(value) => ("SUCCESS", value.clone(), Value::Null),
        Err(exception) => (
            if exception.is_revoked() {
                "REVOKED"
            } else {
                "FAILURE"
            },
            exception.to_result(),
            exception
                .traceback
                .clone()
                .map_or(Value::Null, Value::String),
        ),
    };
    json!({
        "status": status,
        "result": result,
        "traceback": traceback,
        "children": [],
        "date_done": date_done,
        "task_id": task_id,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_message_decodes_as_a_worker_reads_it() {
        let args = json!([2, 3]);
        let kwargs = json!({"z": 1});
        let raw = Outgoing {
            task_id: "id-1",
            name: "tasks.add",
            args: &args,
            kwargs: &kwargs,
            queue: "celery",
            origin: "gen1@host",
            eta: None,
        }
        .encode();
        let incoming = decode_task(raw.as_bytes()).unwrap();
        assert_eq!(incoming.task_id, "id-1");
        assert_eq!(incoming.name, "tasks.add");
        assert_eq!(incoming.args, vec![json!(2), json!(3)]);
        assert_eq!(incoming.kwargs.get("z"), Some(&json!(1)));
        assert_eq!(incoming.exchange, "");
        assert_eq!(incoming.routing_key, "celery");
        assert_eq!(incoming.delivery_tag.len(), 36);
        assert!(!incoming.ignore_result);
    }

    #[test]
    fn celerys_own_message_decodes() {
        // Captured from `app.send_task('tasks.add', args=[2, 3], kwargs={'z': 1})`, Celery 5.7.0.
        let raw = r#"{"body": "W1syLCAzXSwgeyJ6IjogMX0sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "tasks.add", "id": "1b3f9e2a-5c1d-4e8f-9a7b-0c2d4e6f8a10", "shadow": null, "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": "1b3f9e2a-5c1d-4e8f-9a7b-0c2d4e6f8a10", "parent_id": null, "argsrepr": "[2, 3]", "kwargsrepr": "{'z': 1}", "origin": "gen30996@vm", "ignore_result": null, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, "properties": {"correlation_id": "1b3f9e2a-5c1d-4e8f-9a7b-0c2d4e6f8a10", "reply_to": "fa08ff51-f32a-3dfc-a47e-311698af03f4", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "0caa78d3-fb9f-454a-8d11-2e83a117b15e"}}"#;
        let incoming = decode_task(raw.as_bytes()).unwrap();
        assert_eq!(incoming.name, "tasks.add");
        assert_eq!(incoming.args, vec![json!(2), json!(3)]);
        assert_eq!(
            incoming.delivery_tag,
            "0caa78d3-fb9f-454a-8d11-2e83a117b15e"
        );
    }

    #[test]
    fn a_message_without_an_id_or_a_json_body_is_refused() {
        assert!(decode_task(b"not json").is_err());
        assert!(decode_task(br#"{"headers": {"task": "t"}}"#).is_err());
        let no_body_list = json!({
            "body": base64::engine::general_purpose::STANDARD.encode("{}"),
            "content-type": "application/json",
            "headers": {"id": "i", "task": "t"},
            "properties": {"delivery_tag": "d", "body_encoding": "base64"},
        });
        assert!(decode_task(no_body_list.to_string().as_bytes()).is_err());
    }

    #[test]
    fn celerys_result_metas_decode_to_typed_outcomes() {
        let success = br#"{"status": "SUCCESS", "result": 5, "traceback": null, "children": null, "date_done": "2026-12-07T19:03:10.098632+00:00", "task_id": "abc"}"#;
        let value: Result<i64, _> = decode_meta("abc", success)
            .unwrap()
            .outcome("abc", "t")
            .unwrap();
        assert_eq!(value.unwrap(), 5);

        let failure = br#"{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["bad", 3], "exc_module": "builtins"}, "traceback": "Traceback ...", "children": null, "date_done": "x", "task_id": "abc"}"#;
        let error = decode_meta("abc", failure)
            .unwrap()
            .outcome::<i64>("abc", "t")
            .unwrap()
            .unwrap_err();
        match error {
            CeleryError::TaskFailed { exception, .. } => {
                assert_eq!(exception.exc_type, "ValueError");
                assert_eq!(exception.exc_module.as_deref(), Some("builtins"));
                assert_eq!(exception.message(), "bad, 3");
                assert_eq!(exception.traceback.as_deref(), Some("Traceback ..."));
            }
            other => panic!("{other:?}"),
        }

        let revoked = br#"{"status": "REVOKED", "result": {"exc_type": "TaskRevokedError", "exc_message": ["revoked"], "exc_module": "celery.exceptions"}, "traceback": null, "children": null, "date_done": "x", "task_id": "abc"}"#;
        assert!(matches!(
            decode_meta("abc", revoked)
                .unwrap()
                .outcome::<i64>("abc", "t"),
            Some(Err(CeleryError::Revoked { .. }))
        ));

        let started = br#"{"status": "STARTED", "result": {"pid": 1}, "traceback": null, "children": null, "date_done": null, "task_id": "abc"}"#;
        assert!(decode_meta("abc", started)
            .unwrap()
            .outcome::<i64>("abc", "t")
            .is_none());
    }

    #[test]
    fn a_result_of_the_wrong_shape_or_not_json_is_a_typed_error() {
        assert!(matches!(
            decode_meta("abc", b"{oops"),
            Err(CeleryError::BadResult { .. })
        ));
        let text = br#"{"status": "SUCCESS", "result": "five", "task_id": "abc"}"#;
        assert!(matches!(
            decode_meta("abc", text).unwrap().outcome::<i64>("abc", "t"),
            Some(Err(CeleryError::BadResult { .. }))
        ));
    }

    #[test]
    fn a_stored_meta_reads_back() {
        let meta = encode_meta("abc", &Ok(json!([1, 2])));
        let value: Vec<i32> = decode_meta("abc", meta.as_bytes())
            .unwrap()
            .outcome("abc", "t")
            .unwrap()
            .unwrap();
        assert_eq!(value, [1, 2]);
        let stored: Value = serde_json::from_str(&meta).unwrap();
        assert_eq!(stored["task_id"], "abc");
        assert!(stored["date_done"].as_str().unwrap().ends_with("+00:00"));

        let failed = encode_meta("abc", &Err(RemoteException::new("KeyError", "no such key")));
        let stored: Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(stored["status"], "FAILURE");
        assert_eq!(stored["result"]["exc_type"], "KeyError");
        assert_eq!(stored["result"]["exc_message"], json!(["no such key"]));
    }

    #[test]
    fn expiry_is_read_from_celerys_format() {
        let now = humantime::parse_rfc3339("2026-12-07T12:00:00Z").unwrap();
        assert!(expired("2026-12-07T11:59:59.5+00:00", now));
        assert!(!expired("2026-12-07T12:00:01.000000+00:00", now));
        assert!(!expired("not a date", now));
    }
}
