"""The monitoring benchmark's workload, written once and reused by every run.

A month of a classifier's traffic: ``PREDICTIONS`` one-row predictions of ``FEATURES``
numeric inputs (standard normal), a prediction from a fixed logistic score, and its
probabilities, logged through the real prediction log (``loopml.serve.PredictionLog``)
of a workspace; feedback on four in five of them through the real feedback log. From
day 20 on, five inputs move by 0.25 standard deviations, and from day 25 one more
spreads 1.3 times wider: drift to find. The training rows (``REFERENCE_ROWS``, drawn
as the first days are) and the same traffic as one table are written as Parquet for
the rival tools, which read them instead of loopml's log.

Everything lives under ``bench/results/monitor/`` (git-ignored); a stamp file holds
the settings it was made with, so a change of them makes it anew.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results" / "monitor"
WORKSPACE = RESULTS / "workspace"
ANALYSIS = RESULTS / "analysis.parquet"
REFERENCE = RESULTS / "reference.parquet"
STAMP = RESULTS / "workload.json"

PREDICTIONS = 1_000_000
FEATURES = 20
REFERENCE_ROWS = 100_000
DAYS = 30
T0 = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC, in microseconds
DAY_US = 86_400_000_000
DEPLOYMENT = "churn"
SHIFTED = 5  # inputs whose mean moves from SHIFT_DAY on
SHIFT_DAY, SHIFT_SD = 20, 0.25
SPREAD_DAY, SPREAD = 25, 1.3  # and one more spreads wider from this day
SEED = 0


def settings() -> dict[str, object]:
    return {
        "predictions": PREDICTIONS,
        "features": FEATURES,
        "reference_rows": REFERENCE_ROWS,
        "days": DAYS,
        "shift": [SHIFTED, SHIFT_DAY, SHIFT_SD],
        "spread": [SPREAD_DAY, SPREAD],
        "seed": SEED,
        "format": 1,
    }


def names() -> list[str]:
    return [f"f{j}" for j in range(FEATURES)]


def traffic(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The inputs of ``rows`` predictions spread evenly over the month, with drift
    planted, and their times (microseconds)."""
    times = T0 + np.arange(rows, dtype=np.int64) * (DAYS * DAY_US // rows)
    X = rng.normal(size=(rows, FEATURES))
    day = (times - T0) // DAY_US
    X[day >= SHIFT_DAY, :SHIFTED] += SHIFT_SD
    X[day >= SPREAD_DAY, SHIFTED] *= SPREAD
    return X, times


def scores(X: np.ndarray) -> np.ndarray:
    """The model: a fixed logistic score of the inputs."""
    weights = np.linspace(1.0, -1.0, FEATURES)
    return 1.0 / (1.0 + np.exp(-(X @ weights) / 2.0))


def ready() -> bool:
    return (
        STAMP.exists()
        and json.loads(STAMP.read_text()) == settings()
        and ANALYSIS.exists()
        and REFERENCE.exists()
    )


def make(say: Callable[[str], None] = print) -> None:
    """Write the workload (a few minutes: a million records go through the logs)."""
    import polars as pl

    import loopml
    from loopml._ids import new_id
    from loopml.serve import FeedbackLog, FeedbackRecord, PredictionLog, PredictionRecord

    if RESULTS.exists():
        shutil.rmtree(RESULTS)
    WORKSPACE.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    X, times = traffic(PREDICTIONS, rng)
    score = scores(X)
    predicted = (score > 0.5).astype(np.int64)
    truth = np.where(rng.random(PREDICTIONS) < 0.85, predicted, 1 - predicted)
    columns = names()
    started = time.perf_counter()
    with loopml.init(WORKSPACE) as ws:
        answers = PredictionLog(ws, max_buffered=100_001)
        told = FeedbackLog(ws, max_buffered=100_001)
        for n in range(PREDICTIONS):
            pid = new_id()
            answers.append(
                PredictionRecord(
                    pid,
                    None,
                    int(times[n]),
                    DEPLOYMENT,
                    f"{DEPLOYMENT}@v1",
                    0,
                    1.0,
                    {name: X[n : n + 1, j] for j, name in enumerate(columns)},
                    {
                        "predictions": predicted[n : n + 1],
                        "probabilities": np.array([[1 - score[n], score[n]]]),
                    },
                    400,
                    None,
                )
            )
            if n % 5:
                told.append(
                    FeedbackRecord(pid, int(times[n]) + 1, None, int(truth[n]), None, DEPLOYMENT)
                )
            if n % 100_000 == 99_999:
                answers.flush()
                told.flush()
                say(f"  {n + 1:,} predictions logged ({time.perf_counter() - started:.0f} s)")
        answers.close()
        told.close()
    frame = pl.DataFrame({name: X[:, j] for j, name in enumerate(columns)})
    frame = frame.with_columns(
        pl.Series("predictions", predicted),
        pl.Series("timestamp", times).cast(pl.Datetime("us")),
    )
    frame.write_parquet(ANALYSIS)
    rng = np.random.default_rng(SEED + 1)
    R = rng.normal(size=(REFERENCE_ROWS, FEATURES))
    reference = pl.DataFrame({name: R[:, j] for j, name in enumerate(columns)})
    before = (
        T0
        - DAYS * DAY_US
        + np.arange(REFERENCE_ROWS, dtype=np.int64) * (DAYS * DAY_US // REFERENCE_ROWS)
    )
    reference = reference.with_columns(
        pl.Series("predictions", (scores(R) > 0.5).astype(np.int64)),
        pl.Series("timestamp", before).cast(pl.Datetime("us")),
    )
    reference.write_parquet(REFERENCE)
    STAMP.write_text(json.dumps(settings()))
