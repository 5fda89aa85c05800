"""W2 for the Python original, for the per-task comparison in BENCHMARKS.md.

Downloads the original (betterconcurrent 0.0.1.post1, the sdist from PyPI) into
target/python-original, runs the seed's tree search scaled to W2 (BASE = 10, MAX_DEPTH = 5:
111,111 tasks, a target that is not in the tree so every node runs) on 2 workers, checks that
every node ran, and writes the median of 3 runs to target/python_w2.json, which
`cargo run -p betterconcurrent-benchreport` reads.

    python3 benches/python_original.py
"""

import itertools
import json
import pathlib
import statistics
import subprocess
import sys
import tarfile
import threading
import time

VERSION = "0.0.1.post1"
BASE = 10
MAX_DEPTH = 5
TASKS = 111_111
WORKERS = 2
RUNS = 3

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
ORIGINAL = TARGET / "python-original"


def fetch_original() -> pathlib.Path:
    source = ORIGINAL / f"betterconcurrent-{VERSION}"
    if not source.exists():
        ORIGINAL.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"betterconcurrent=={VERSION}",
             "--no-deps", "--no-binary", ":all:", "-d", str(ORIGINAL)],
            check=True,
        )
        with tarfile.open(ORIGINAL / f"betterconcurrent-{VERSION}.tar.gz") as archive:
            archive.extractall(ORIGINAL, filter="data")
    return source


def run_once(thread_pool_executor) -> float:
    """The seed's tests/test_tree_search.py search, scaled up; returns seconds."""
    visited = itertools.count()  # next() is atomic under the GIL
    found = threading.Event()

    def search(executor, n, depth, target):
        next(visited)
        if found.is_set():
            return
        if n == target:
            found.set()
            return
        if depth >= MAX_DEPTH:
            return
        for i in range(BASE):
            executor.submit(search, executor, n * BASE + i, depth + 1, target)

    started = time.perf_counter()
    with thread_pool_executor(max_workers=WORKERS) as executor:
        search(executor, 1, 0, 0)
        executor.join()
    elapsed = time.perf_counter() - started
    count = next(visited)
    if count != TASKS or found.is_set():
        raise SystemExit(f"expected {TASKS} nodes and no target, got {count}")
    return elapsed


def main() -> None:
    sys.path.insert(0, str(fetch_original()))
    from betterconcurrent import ThreadPoolExecutor

    times = [run_once(ThreadPoolExecutor) for _ in range(RUNS)]
    median = statistics.median(times)
    result = {
        "tasks": TASKS,
        "workers": WORKERS,
        "runs_seconds": times,
        "median_seconds": median,
        "ns_per_task": median / TASKS * 1e9,
        "python": sys.version.split()[0],
    }
    (TARGET / "python_w2.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"Python original, W2 on {WORKERS} workers: {median:.2f} s "
          f"({result['ns_per_task'] / 1000:.1f} us per task; median of {RUNS})")


if __name__ == "__main__":
    main()
