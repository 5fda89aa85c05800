//! Kombu's Redis transport, the part of it Celery's workers and clients rely on, so that a Rust
//! worker and Python workers share one queue and each can put back what the other dropped.
//!
//! # The protocol (kombu 5.7 `kombu/transport/redis.py`, "ack emulation")
//!
//! - **Send**: `LPUSH <queue> <envelope>`; a consumer `BRPOP`s the other end, so a queue is
//!   first-in first-out. (Priorities 3 and up go to `<queue>\x06\x16<step>` lists; we send
//!   priority 0 only and read the bare queue.)
//! - **Receive**: after the `BRPOP`, one `MULTI`: `ZADD unacked_index <now> <tag>` and
//!   `HSET unacked <tag> [envelope, exchange, routing_key]`. The message is now *unacked*: no
//!   other consumer sees it. (The `BRPOP` and the `MULTI` are two steps, in kombu too: a
//!   consumer that dies between them loses that one message.)
//! - **Ack**: `ZREM unacked_index <tag>` and `HDEL unacked <tag>`, after the result is stored
//!   (Celery's `acks_late`): a worker killed mid-task leaves its message unacked.
//! - **Restore** (`restore_visible`): any consumer, holding the lock `unacked_mutex` (a
//!   `SET NX PX` token, released by a compare-and-delete script), takes every tag of
//!   `unacked_index` older than the visibility timeout and, in a `WATCH`ed transaction per tag,
//!   removes it from both indices and `RPUSH`es its envelope, marked `redelivered`, back onto
//!   the consuming end of its queue: it is the next message taken. So a message a dead worker
//!   held runs again on another worker once the visibility timeout has passed, whichever
//!   language either worker is written in.
//! - **Requeue** (a graceful shutdown's messages not started): the same transaction, at once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{Connection, RedisResult};
use serde_json::{json, Value};

use crate::protocol::Incoming;

/// The hash of unacked envelopes, by delivery tag.
const UNACKED: &str = "unacked";
/// The sorted set of unacked delivery tags, scored by the time they were received.
const UNACKED_INDEX: &str = "unacked_index";
/// The lock one restorer at a time holds.
const UNACKED_MUTEX: &str = "unacked_mutex";
/// How long a restorer's lock lasts if it dies holding it (kombu's `unacked_mutex_expire`).
const UNACKED_MUTEX_EXPIRE: Duration = Duration::from_secs(300);

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// A connection to the broker whose connect, reads and writes each give up after `timeout`
/// (a broker that stops answering is noticed instead of waited on forever).
pub(crate) fn connect(redis: &redis::Client, timeout: Duration) -> RedisResult<Connection> {
    let connection = redis.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))?;
    Ok(connection)
}

/// Send a task message (`LPUSH`: all or nothing).
pub(crate) fn send(connection: &mut Connection, queue: &str, envelope: &str) -> RedisResult<()> {
    redis::cmd("LPUSH")
        .arg(queue)
        .arg(envelope)
        .exec(connection)
}

/// Take the oldest message of `queue`, waiting at most `timeout` (whole seconds or more is what
/// Redis before 6 accepted; fractions work since 6.0).
pub(crate) fn receive(
    connection: &mut Connection,
    queue: &str,
    timeout: Duration,
) -> RedisResult<Option<Vec<u8>>> {
    let popped: Option<(Vec<u8>, Vec<u8>)> = redis::cmd("BRPOP")
        .arg(queue)
        .arg(timeout.as_secs_f64())
        .query(connection)?;
    Ok(popped.map(|(_, message)| message))
}

/// Mark a received message unacked, as kombu's `QoS.append` does.
pub(crate) fn hold(connection: &mut Connection, message: &Incoming) -> RedisResult<()> {
    let saved = json!([message.envelope, message.exchange, message.routing_key]).to_string();
    redis::pipe()
        .atomic()
        .cmd("ZADD")
        .arg(UNACKED_INDEX)
        .arg(now_seconds())
        .arg(&message.delivery_tag)
        .ignore()
        .cmd("HSET")
        .arg(UNACKED)
        .arg(&message.delivery_tag)
        .arg(saved)
        .ignore()
        .exec(connection)
}

/// Add the ack of `tag` to a pipeline.
pub(crate) fn ack(pipeline: &mut redis::Pipeline, tag: &str) {
    pipeline
        .cmd("ZREM")
        .arg(UNACKED_INDEX)
        .arg(tag)
        .ignore()
        .cmd("HDEL")
        .arg(UNACKED)
        .arg(tag)
        .ignore();
}

/// Put an unacked message back on the consuming end of its queue, marked redelivered (kombu's
/// `restore_by_tag`). `false` if it was no longer unacked (acked, or restored by another).
pub(crate) fn restore(connection: &mut Connection, tag: &str) -> RedisResult<bool> {
    redis::transaction(connection, &[UNACKED], |connection, pipeline| {
        let saved: Option<Vec<u8>> = redis::cmd("HGET").arg(UNACKED).arg(tag).query(connection)?;
        ack(pipeline, tag);
        let restored = match saved.as_deref().map(serde_json::from_slice::<Value>) {
            Some(Ok(Value::Array(mut parts))) if parts.len() == 3 => {
                let routing_key = parts.pop().and_then(|key| key.as_str().map(str::to_owned));
                let mut envelope = parts.swap_remove(0);
                if let Some(headers) = envelope.get_mut("headers").and_then(Value::as_object_mut) {
                    headers.insert("redelivered".to_owned(), Value::Bool(true));
                }
                if let Some(info) = envelope
                    .pointer_mut("/properties/delivery_info")
                    .and_then(Value::as_object_mut)
                {
                    info.insert("redelivered".to_owned(), Value::Bool(true));
                }
                // Exchange "" routes to the queue named by the routing key (Celery's default
                // routing); so does the default direct exchange `celery`.
                let queue = routing_key.unwrap_or_else(|| "celery".to_owned());
                pipeline
                    .cmd("RPUSH")
                    .arg(queue)
                    .arg(envelope.to_string())
                    .ignore();
                true
            }
            // Gone, or not kombu's format: dropped from the indices, as kombu does.
            _ => false,
        };
        let done: Option<()> = pipeline.query(connection)?;
        Ok(done.map(|()| restored))
    })
}

/// Restore every message unacked for longer than `visibility_timeout` (kombu's
/// `restore_visible`), unless another consumer holds the restorer's lock. Returns how many
/// were put back.
pub(crate) fn restore_visible(
    connection: &mut Connection,
    visibility_timeout: Duration,
) -> RedisResult<usize> {
    let token = uuid::Uuid::new_v4().to_string();
    let locked: Option<String> = redis::cmd("SET")
        .arg(UNACKED_MUTEX)
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(UNACKED_MUTEX_EXPIRE.as_millis() as u64)
        .query(connection)?;
    if locked.is_none() {
        return Ok(0);
    }
    let restored = (|| -> RedisResult<usize> {
        let ceiling = now_seconds() - visibility_timeout.as_secs_f64();
        let tags: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(UNACKED_INDEX)
            .arg("-inf")
            .arg(ceiling)
            .query(connection)?;
        let mut restored = 0;
        for tag in tags {
            restored += usize::from(restore(connection, &tag)?);
        }
        Ok(restored)
    })();
    let release = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end \
         return 0",
    );
    let released: RedisResult<i64> = release.key(UNACKED_MUTEX).arg(&token).invoke(connection);
    let restored = restored?;
    released?;
    Ok(restored)
}
