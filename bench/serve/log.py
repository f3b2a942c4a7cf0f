"""What the prediction log costs: an append on the request path (and with several
threads appending at once), and how many records a second a flush writes. Run with
``python bench/serve/log.py [--records N]``; prints the numbers.

Records like a server's: one row of 30 columns in, one prediction and its class
probabilities out. Flushes write to a fresh SQLite workspace in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time

import loopml
from loopml._time import now_us
from loopml.serve import PredictionLog, PredictionRecord

INPUTS = {f"feature_{n}": [0.1 * n] for n in range(30)}
OUTPUTS = {"predictions": [1], "probabilities": [[0.2, 0.8]]}


def make(n: int) -> PredictionRecord:
    return PredictionRecord(
        f"{n:032x}", None, now_us(), "churn", "churn@v3", 0, 0.9, INPUTS, OUTPUTS, 300, None
    )


def append_ns(log: PredictionLog, records: list[PredictionRecord]) -> float:
    """Median nanoseconds of one append, timed in runs of 100 (a clock read costs more
    than an append)."""
    times = []
    for start in range(0, len(records), 100):
        chunk = records[start : start + 100]
        began = time.perf_counter_ns()
        for record in chunk:
            log.append(record)
        times.append((time.perf_counter_ns() - began) / len(chunk))
    return statistics.median(times)


def threaded_ns(log: PredictionLog, records: list[PredictionRecord], threads: int) -> float:
    """Wall nanoseconds per append with ``threads`` threads appending their share."""
    share = len(records) // threads
    parts = [records[t * share : (t + 1) * share] for t in range(threads)]
    workers = [threading.Thread(target=lambda p=p: [log.append(r) for r in p]) for p in parts]
    began = time.perf_counter_ns()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter_ns() - began) / (share * threads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    count = parser.parse_args().records
    records = [make(n) for n in range(count)]
    with tempfile.TemporaryDirectory() as folder, loopml.init(folder) as ws:
        log = PredictionLog(ws, max_buffered=count)
        log.append(make(-1))
        log.flush()  # warmed up: the first flush loads PyArrow's Parquet writer
        print(f"append, one thread: {append_ns(log, records):8.0f} ns median")
        began = time.perf_counter()
        log.flush()
        seconds = time.perf_counter() - began
        print(f"flush of {count:,} records: {seconds:8.3f} s = {count / seconds:,.0f} records/s")
        for size in (1_000, 10_000):
            for ahead in (False, True):
                log.flush()
                for record in records[:size]:
                    log.append(record)
                if ahead:  # as the running flusher does between writes, a few at a time
                    log._encode()
                began = time.perf_counter()
                log.flush()
                seconds = time.perf_counter() - began
                how = "tables made ahead" if ahead else "tables made at the write"
                print(f"flush of {size:,} records, {how}: {seconds * 1e3:8.1f} ms")
        log.flush()
        print(f"append, 4 threads:  {threaded_ns(log, records, 4):8.0f} ns a record (wall)")
        log.flush()
        # With the flusher running: what the request path pays while segments are written.
        log = PredictionLog(ws, flush_seconds=0.05, max_buffered=count)
        log.start()
        print(f"append, flushing:   {append_ns(log, records):8.0f} ns median")
        log.close()
        print(f"segments written: {len(ws.store.find_artifacts(kind='predictions'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
