"""The MLflow side of the benchmarks; runs in ``.venv-bench-mlflow``. Prints one JSON line.

Usage: ``python bench/worker_mlflow.py metrics|runs TRACKING_URI``

Only MLflow's public client API is used: ``MlflowClient(tracking_uri=...)`` talking to
its SQLAlchemy store directly (no tracking server), synchronous ``log_batch``.
"""

from __future__ import annotations

import platform
import sqlite3
import sys
import time
from typing import Any

import mlflow
import sqlalchemy
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus
from mlflow.utils.validation import MAX_METRICS_PER_BATCH

import _workload as w

EXPERIMENT_ID = "0"  # the Default experiment every fresh MLflow store has


def versions() -> dict[str, str]:
    return {
        "mlflow": mlflow.__version__,
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def open_client(url: str) -> tuple[MlflowClient, float]:
    started = time.perf_counter()
    client = MlflowClient(tracking_uri=url)
    client.get_experiment(EXPERIMENT_ID)  # makes the store: creates and migrates the schema
    return client, time.perf_counter() - started


def bench_metrics(url: str) -> dict[str, Any]:
    if w.BATCH_SIZE > MAX_METRICS_PER_BATCH:
        raise SystemExit(f"MLflow takes at most {MAX_METRICS_PER_BATCH} metrics per log_batch")
    batches = w.metric_batches()
    client, opened = open_client(url)
    run_id = client.create_run(EXPERIMENT_ID, run_name="bench-metrics").info.run_id
    client.log_batch(run_id, params=[Param("epochs", "1")])
    started = time.perf_counter()
    for batch in batches:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id, metrics=[Metric(key, value, now, step) for key, value, step in batch]
        )
    written = time.perf_counter() - started
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    stored = sum(len(client.get_metric_history(run_id, key)) for key in w.KEYS)
    if stored != w.N_POINTS:
        raise SystemExit(f"MLflow stored {stored} metric points, expected {w.N_POINTS}")
    return {
        "open_s": opened,
        "write_s": written,
        "points": w.N_POINTS,
        "batch_size": w.BATCH_SIZE,
        "max_metrics_per_batch": MAX_METRICS_PER_BATCH,
        "stored": stored,
    }


def bench_runs(url: str) -> dict[str, Any]:
    client, _ = open_client(url)
    times: list[float] = []
    for number in range(w.WARMUP_RUNS + w.N_RUNS):
        started = time.perf_counter()
        run_id = client.create_run(EXPERIMENT_ID, run_name=f"run-{number}").info.run_id
        params = [Param(key, str(value)) for key, value in w.run_params(number).items()]
        client.log_batch(run_id, params=params)
        client.log_metric(run_id, "accuracy", w.run_accuracy(number), step=0)
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
        times.append(time.perf_counter() - started)
    stored = len(client.search_runs([EXPERIMENT_ID], max_results=1_000))
    if stored != w.WARMUP_RUNS + w.N_RUNS:
        raise SystemExit(f"MLflow stored {stored} runs, expected {w.WARMUP_RUNS + w.N_RUNS}")
    return {
        "runs": w.N_RUNS,
        "warmup_runs": w.WARMUP_RUNS,
        **w.summarize_ms(times[w.WARMUP_RUNS :]),
    }


def bench_tracking_calls(url: str, *, synchronous: bool = True) -> dict[str, Any]:
    """The fluent API, as a training script calls it: one ``mlflow.log_metric`` per point."""
    mlflow.set_tracking_uri(url)
    with mlflow.start_run(run_name="warm-up"):
        mlflow.log_metric("loss", 1.0, synchronous=synchronous)
    started = time.perf_counter()
    with mlflow.start_run(run_name="bench-calls") as run:
        for step in range(w.N_CALLS):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=synchronous)
        looped = time.perf_counter() - started
    total = time.perf_counter() - started  # an async run's end waits for its queue
    stored = len(MlflowClient(tracking_uri=url).get_metric_history(run.info.run_id, "loss"))
    if stored != w.N_CALLS:
        raise SystemExit(f"MLflow stored {stored} metric points, expected {w.N_CALLS}")
    return {"total_s": total, "loop_s": looped, "calls": w.N_CALLS, "stored": stored}


def bench_tracking_runs(url: str) -> dict[str, Any]:
    mlflow.set_tracking_uri(url)
    times: list[float] = []
    for number in range(w.WARMUP_RUNS + w.TRACKED_RUNS):
        started = time.perf_counter()
        with mlflow.start_run(run_name=f"run-{number}"):
            mlflow.log_params(w.run_params(number))
            mlflow.log_metric("accuracy", w.run_accuracy(number), step=0)
        times.append(time.perf_counter() - started)
    stored = len(MlflowClient(tracking_uri=url).search_runs([EXPERIMENT_ID], max_results=1_000))
    if stored != w.WARMUP_RUNS + w.TRACKED_RUNS:
        raise SystemExit(f"MLflow stored {stored} runs, expected {w.WARMUP_RUNS + w.TRACKED_RUNS}")
    return {
        "runs": w.TRACKED_RUNS,
        "warmup_runs": w.WARMUP_RUNS,
        **w.summarize_ms(times[w.WARMUP_RUNS :]),
    }


TASKS = {
    "metrics": bench_metrics,
    "runs": bench_runs,
    "tracking-calls": bench_tracking_calls,
    "tracking-calls-async": lambda url: bench_tracking_calls(url, synchronous=False),
    "tracking-runs": bench_tracking_runs,
}


def main(argv: list[str]) -> None:
    task, url = argv
    w.emit({**TASKS[task](url), "versions": versions()})


if __name__ == "__main__":
    main(sys.argv[1:])
