"""The loopml side of the benchmarks; runs in ``.venv``. Prints one JSON line.

Usage: ``python bench/worker_loopml.py metrics|runs STORE_URL``
"""

from __future__ import annotations

import platform
import sqlite3
import sys
import time
from typing import Any

import sqlalchemy

import _workload as w
import loopml
from loopml.store import MetricPoint, RunStatus, open_store


def versions() -> dict[str, str]:
    return {
        "loopml": loopml.__version__,
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def bench_metrics(url: str) -> dict[str, Any]:
    batches = w.metric_batches()
    started = time.perf_counter()
    store = open_store(url, create=True)
    opened = time.perf_counter() - started
    try:
        run = store.create_run(kind="train", name="bench-metrics", params={"epochs": 1})
        started = time.perf_counter()
        for batch in batches:
            store.log_metrics(run.id, [MetricPoint(key, value, step) for key, value, step in batch])
        written = time.perf_counter() - started
        store.finish_run(run.id, RunStatus.SUCCEEDED)
        stored = len(store.metrics(run.id))
    finally:
        store.close()
    if stored != w.N_POINTS:
        raise SystemExit(f"loopml stored {stored} metric points, expected {w.N_POINTS}")
    return {
        "open_s": opened,
        "write_s": written,
        "points": w.N_POINTS,
        "batch_size": w.BATCH_SIZE,
        "stored": stored,
    }


def bench_runs(url: str) -> dict[str, Any]:
    store = open_store(url, create=True)
    times: list[float] = []
    try:
        for number in range(w.WARMUP_RUNS + w.N_RUNS):
            started = time.perf_counter()
            run = store.create_run(kind="train", name=f"run-{number}", params=w.run_params(number))
            store.log_metrics(run.id, [MetricPoint("accuracy", w.run_accuracy(number), 0)])
            store.finish_run(run.id, RunStatus.SUCCEEDED)
            times.append(time.perf_counter() - started)
        stored = len(store.find_runs(kind="train", status=RunStatus.SUCCEEDED))
    finally:
        store.close()
    if stored != w.WARMUP_RUNS + w.N_RUNS:
        raise SystemExit(f"loopml stored {stored} runs, expected {w.WARMUP_RUNS + w.N_RUNS}")
    return {
        "runs": w.N_RUNS,
        "warmup_runs": w.WARMUP_RUNS,
        **w.summarize_ms(times[w.WARMUP_RUNS :]),
    }


def tracking_workspace(url: str) -> loopml.Workspace:
    """A fresh workspace in the current folder on the store at ``url``."""
    return loopml.init(".", store_url=url)


def bench_tracking_calls(url: str) -> dict[str, Any]:
    with tracking_workspace(url) as ws:
        with loopml.start_run("warm-up", workspace=ws):
            loopml.log_metric("loss", 1.0)
        started = time.perf_counter()
        with loopml.start_run("bench-calls", workspace=ws) as run:
            for step in range(w.N_CALLS):
                loopml.log_metric("loss", 1.0 / (step + 1), step=step)
            looped = time.perf_counter() - started
        total = time.perf_counter() - started  # the run's end writes what is left
        stored = len(ws.store.metrics(run.id))
    if stored != w.N_CALLS:
        raise SystemExit(f"loopml stored {stored} metric points, expected {w.N_CALLS}")
    return {"total_s": total, "loop_s": looped, "calls": w.N_CALLS, "stored": stored}


def bench_tracking_runs(url: str) -> dict[str, Any]:
    """Runs through the tracking API two ways: the workspace given (``workspace=ws``),
    and found from the current folder (no ``workspace=``, as the docs show it), in
    alternating rounds in one process, so that both meet the same machine."""
    given: list[float] = []
    found: list[float] = []
    with tracking_workspace(url) as ws:
        numbers = iter(range(10**9))

        def timed(workspace: loopml.Workspace | None) -> float:
            number = next(numbers)
            started = time.perf_counter()
            with loopml.start_run(
                f"run-{number}", workspace=workspace, params=w.run_params(number)
            ):
                loopml.log_metric("accuracy", w.run_accuracy(number), step=0)
            return time.perf_counter() - started

        for _ in range(w.WARMUP_RUNS):
            timed(ws)
            timed(None)
        per_round = w.TRACKED_RUNS // w.TRACKED_ROUNDS
        for _ in range(w.TRACKED_ROUNDS):
            given.extend(timed(ws) for _ in range(per_round))
            found.extend(timed(None) for _ in range(per_round))
        expected = 2 * (w.WARMUP_RUNS + per_round * w.TRACKED_ROUNDS)
        stored = len(ws.store.find_runs(kind="training", status=RunStatus.SUCCEEDED))
        metrics = ws.store.latest_metrics([r.id for r in ws.store.find_runs(kind="training")])
    if stored != expected or len(metrics) != stored:
        raise SystemExit(f"loopml stored {stored} runs, expected {expected}")
    return {
        "runs": len(given),
        "warmup_runs": w.WARMUP_RUNS,
        **w.summarize_ms(given),
        "found_workspace": {"runs": len(found), **w.summarize_ms(found)},
    }


TASKS = {
    "metrics": bench_metrics,
    "runs": bench_runs,
    "tracking-calls": bench_tracking_calls,
    "tracking-runs": bench_tracking_runs,
}


def main(argv: list[str]) -> None:
    task, url = argv
    w.emit({**TASKS[task](url), "versions": versions()})


if __name__ == "__main__":
    main(sys.argv[1:])
