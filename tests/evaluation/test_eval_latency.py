"""Latency as served: every call made while the budget lasts, and a slow model measured
in a few calls rather than 220 — asserted on the calls the model received and the
figures' lower bounds, which a sleeping model sets by construction. How long the
measuring takes is timed in bench/evaluation/latency.py."""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from loopml.evaluation._latency import BATCHES, MIN_CALLS, ROW_CALLS, latency

ROWS = pl.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0)})


class Sleeper:
    """Predicts zeros after ``seconds``, counting its calls."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def predict(self, X: np.ndarray) -> np.ndarray:
        self.calls += 1
        time.sleep(self.seconds)
        return np.zeros(len(X))


def test_every_call_is_made_while_the_budget_lasts() -> None:
    model = Sleeper(0.0)
    figures, how = latency(model, ROWS, "numpy", budget_s=float("inf"))
    assert (how["row_calls"], how["batches"]) == (ROW_CALLS, BATCHES)
    assert model.calls == 1 + ROW_CALLS + 1 + BATCHES  # a warm-up of each kind first
    assert 0 <= figures["row_p50"] <= figures["row_p99"]
    assert 0 <= figures["batch_1000_p50"] <= figures["batch_1000_p99"]


def test_a_slow_model_gets_only_the_fewest_calls() -> None:
    model = Sleeper(0.15)  # 5 calls take 0.75 s: past the 0.5 s budget, whatever the load
    figures, how = latency(model, ROWS, "numpy")
    assert (how["row_calls"], how["batches"]) == (MIN_CALLS, MIN_CALLS)
    assert model.calls == 2 * (1 + MIN_CALLS)  # not 1 + 200 + 1 + 20
    assert figures["row_p50"] >= 150  # a call cannot take less than its sleep
    assert figures["batch_1000_p99"] >= 150
