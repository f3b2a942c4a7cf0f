"""The challenger's error budget holds its level, and its sequential test counts
requests, not rows: the rows of one request
go together, and counted as outcomes of their own they make the test see lifts that are
not there. A/A tests (two identical arms) with ten rows per request whose outcomes are
one: the false-alarm rate stays under alpha counted per request, and is far over it
counted per row."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import binom

from loopml.evaluation._sequential import Verdict
from loopml.monitor._challenger import _budgets, _replay
from loopml.monitor._loop import Loop

EXPERIMENTS = 200
REQUESTS = 300  # per arm
ROWS = 10  # per request, all right or all wrong together
LOOKS = 5
ALPHA = 0.05
DECIDED = (Verdict.CHALLENGER_BETTER, Verdict.CHAMPION_BETTER)


def arm(rng: np.random.Generator, name: str, rows_are_requests: bool) -> pl.DataFrame:
    right = np.repeat(rng.random(REQUESTS) < 0.8, ROWS)
    request = np.repeat(np.arange(REQUESTS), ROWS)
    labelled_us = np.repeat(rng.integers(1, LOOKS * 1000, REQUESTS), ROWS)
    ids = np.arange(REQUESTS * ROWS) if rows_are_requests else request
    return pl.DataFrame(
        {
            "prediction_id": [f"{name}{i}" for i in ids],
            "row": np.tile(np.arange(ROWS), REQUESTS),
            "predicted": np.ones(REQUESTS * ROWS, dtype=np.int64),
            "label": right.astype(np.int64),
            "error": pl.Series([None] * (REQUESTS * ROWS), dtype=pl.String),
            "labelled_us": labelled_us,
        }
    )


def false_alarms(rows_are_requests: bool) -> int:
    spec = Loop.from_dict(
        "aa",
        {
            "deployment": "aa", "model": "aa", "pipeline": "train.py:aa", "data": "aa",
            "label": "y", "rollout": {"alpha": ALPHA, "min_lift": 0.02, "min_outcomes": 50},
        },
    )  # fmt: skip
    rng = np.random.default_rng(7)
    looks = [k * 1000 for k in range(1, LOOKS + 1)]
    alarms = 0
    for _ in range(EXPERIMENTS):
        ours = arm(rng, "a", rows_are_requests)
        theirs = arm(rng, "b", rows_are_requests)
        verdicts = [_replay(spec, ours, theirs, looks[:k])[0] for k in range(1, LOOKS + 1)]
        alarms += any(v is not None and v.verdict in DECIDED for v in verdicts)
    return alarms


def test_requests_of_many_rows_keep_the_false_alarm_rate_under_alpha() -> None:
    # under alpha, allowing for the experiments' own chance: at most the count that 200
    # draws at rate alpha exceed only once in a thousand
    assert false_alarms(rows_are_requests=False) <= binom.ppf(0.999, EXPERIMENTS, ALPHA)


def test_the_same_rows_counted_one_by_one_would_alarm_far_more_often() -> None:
    assert false_alarms(rows_are_requests=True) > 3 * ALPHA * EXPERIMENTS


@pytest.mark.parametrize("answers", [100, 300, 1000])
def test_the_error_budget_rolls_back_a_challenger_at_its_budget_at_most_five_percent(
    answers: int,
) -> None:
    """Summed exactly over the binomial: a challenger whose answers fail at exactly the
    budget (2%) is rolled back with chance at most 5%; one failing at four times it,
    almost always."""
    spec = Loop.from_dict(
        "aa",
        {
            "deployment": "aa", "model": "aa", "pipeline": "train.py:aa", "data": "aa",
            "label": "y", "rollout": {"max_error_rate": 0.02},
        },
    )  # fmt: skip

    def rolled_back(errors: int) -> bool:
        theirs = pl.DataFrame(
            {
                "row": [0] * answers,
                "error": ["boom"] * errors + [None] * (answers - errors),
                "latency_us": [1000] * answers,
            }
        )
        found = _budgets(spec, theirs)
        return found is not None and found.action == "rollback"

    fires = [k for k in range(answers + 1) if rolled_back(k)]
    first = min(fires)
    assert fires == list(range(first, answers + 1))  # more errors never roll back less
    assert binom.sf(first - 1, answers, 0.02) <= 0.05
    assert binom.sf(first - 1, answers, 0.08) > (0.8 if answers >= 300 else 0.5)
