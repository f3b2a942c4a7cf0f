"""Latency as served: every call for a fast model, and a slow model measured in about a
second per kind of call rather than in minutes — with the calls made recorded."""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from loopml.evaluation._latency import BUDGET_S, MIN_CALLS, ROW_CALLS, latency

ROWS = pl.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0)})


class Sleeper:
    """Predicts zeros after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict(self, X: np.ndarray) -> np.ndarray:
        time.sleep(self.seconds)
        return np.zeros(len(X))


def test_a_fast_model_gets_every_call() -> None:
    figures, how = latency(Sleeper(0.0), ROWS, "numpy")
    assert how["row_calls"] == ROW_CALLS
    assert how["batches"] == 20
    assert figures["row_p50"] < 5


def test_a_slow_model_is_measured_within_the_budget() -> None:
    started = time.perf_counter()
    figures, how = latency(Sleeper(0.15), ROWS, "numpy")
    took = time.perf_counter() - started
    assert how["row_calls"] == MIN_CALLS  # 0.15 s a call: the budget is spent by then
    assert how["batches"] == MIN_CALLS
    assert figures["row_p50"] >= 150
    assert figures["row_p99"] >= 150
    # Two kinds of call, each a warm-up and MIN_CALLS calls: not 220 calls of 0.15 s.
    assert took < 2 * (MIN_CALLS + 1) * 0.15 + 2 * BUDGET_S
