"""The workloads both tools run, so loopml and MLflow write exactly the same data.

Only the standard library here: this module is imported by the loopml worker (in
``.venv``) and by the MLflow worker (in ``.venv-bench-mlflow``).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Sequence
from typing import Any

# Benchmark (c): training-style metric logging.
N_POINTS = 100_000
BATCH_SIZE = 1_000  # MLflow's log_batch takes at most 1,000 metrics per call
KEYS = (
    "loss",
    "val_loss",
    "accuracy",
    "val_accuracy",
    "learning_rate",
    "grad_norm",
    "precision",
    "recall",
    "f1",
    "samples_per_second",
)
STEPS_PER_BATCH = BATCH_SIZE // len(KEYS)

# Benchmark (d): many small runs.
N_RUNS = 200
WARMUP_RUNS = 5

# Benchmark (e): the tracking API as a training script uses it.
N_CALLS = 10_000  # log_metric calls, one point each, from a training loop
TRACKED_RUNS = 100  # runs: start, 10 params, 1 metric, end
TRACKED_ROUNDS = 5  # loopml: rounds alternating the workspace given and found

Point = tuple[str, float, int]  # key, value, step


def metric_batches() -> list[list[Point]]:
    """100 batches of 1,000 points: 100 consecutive steps of each of the 10 keys."""
    batches: list[list[Point]] = []
    for number in range(N_POINTS // BATCH_SIZE):
        batch: list[Point] = []
        for offset in range(STEPS_PER_BATCH):
            step = number * STEPS_PER_BATCH + offset
            for index, key in enumerate(KEYS):
                value = math.exp(-step / 20_000) * (1 + index / 10) + 0.01 * math.sin(step + index)
                batch.append((key, value, step))
        batches.append(batch)
    assert sum(len(batch) for batch in batches) == N_POINTS
    return batches


def run_params(number: int) -> dict[str, Any]:
    """The 10 hyper-parameters of run ``number``."""
    return {
        "learning_rate": 0.001 * (1 + number % 7),
        "batch_size": 32,
        "epochs": 10,
        "optimizer": "adam",
        "dropout": 0.1,
        "weight_decay": 0.0001,
        "hidden_size": 256,
        "num_layers": 4,
        "seed": number,
        "model": "mlp",
    }


def run_accuracy(number: int) -> float:
    return 0.8 + (number % 100) / 1_000


def summarize_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = sorted(s * 1_000 for s in seconds)
    return {
        "mean_ms": statistics.fmean(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))],
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }


def emit(result: dict[str, Any]) -> None:
    """Workers print one JSON line last on stdout; the driver reads that line."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
