"""The Python side of the interoperability tests: a Celery 5 app on the Redis broker at
REDIS_URL, configured as the Rust worker is (late acks, prefetch 1, a short visibility timeout
so a killed worker's task comes back within seconds)."""

import os
import time

from celery import Celery

URL = os.environ["REDIS_URL"]
app = Celery("tasks", broker=URL, backend=URL)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=int(os.environ.get("PREFETCH_MULTIPLIER", "1")),
    result_expires=int(os.environ.get("RESULT_EXPIRES", "3600")),
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": int(os.environ.get("VISIBILITY_TIMEOUT", "5")),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
    worker_hijack_root_logger=False,
)


@app.task(name="tasks.add")
def add(x, y):
    return x + y


@app.task(name="tasks.fail")
def fail(message):
    raise ValueError(message)


@app.task(name="tasks.echo")
def echo(value):
    return value


@app.task(name="tasks.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="tree.search")
def search(node, depth, base, max_depth, target):
    """The seed's tree search below one node (examples/celery_tree_search.rs has the Rust one):
    node n at depth d < max_depth has the children n * base + i for i in 0..base. Returns the
    number of nodes visited, whether `target` is among them, and "python" (the kind of worker
    that searched it)."""
    visited, found = 0, False
    stack = [(node, depth)]
    while stack:
        node, depth = stack.pop()
        visited += 1
        found = found or node == target
        if depth < max_depth:
            stack.extend((node * base + i, depth + 1) for i in range(base))
    return [visited, found, "python"]
