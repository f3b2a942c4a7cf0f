"""The gate's known-answer cases, shared by its tests and ``bench/evaluation/gate_power.py``:
paired accuracy on simulated rows, an evaluation built around a paired comparison, and
rows with one segment where the challenger is ten points worse."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.evaluation import Evaluation
from loopml.evaluation._paired import compare
from loopml.evaluation._predict import Predictions
from loopml.evaluation._records import Paired

CLASSES = np.array(["no", "yes"])
ROWS = 1_000


def paired_accuracy(rng: np.random.Generator, drop: float, disagree: float) -> dict[str, Any]:
    """A challenger against a champion 85% accurate on ROWS rows: the two disagree on
    ``disagree`` of the rows, and the challenger is ``drop`` less accurate."""
    only_champion, only_challenger = (disagree + drop) / 2, (disagree - drop) / 2
    shares = [0.85 - only_champion, only_champion, only_challenger, 0.15 - only_challenger]
    cell = rng.choice(4, size=ROWS, p=shares)
    y = rng.integers(0, 2, ROWS)
    champion_right, challenger_right = np.isin(cell, (0, 1)), np.isin(cell, (0, 2))
    champion = Predictions("classification", y, np.where(champion_right, y, 1 - y), CLASSES)
    challenger = Predictions("classification", y, np.where(challenger_right, y, 1 - y), CLASSES)
    return compare(challenger, champion, only={"accuracy"})


def candidate(paired: Paired, metric: str, **fields: Any) -> Evaluation:
    """An evaluation holding only ``metric`` and its paired comparison (``fields`` add
    to it, e.g. a baseline or the model's ref)."""
    found = paired.metrics[metric]
    given: dict[str, Any] = {
        "task": "classification" if metric == "accuracy" else "regression",
        "primary": metric,
        "rows": found.rows,
        "metrics": {metric: found.value},
        "intervals": {},
        "baseline": {},
        "baseline_description": "",
        "slices": [],
        "perturbation": {},
        "calibration": None,
        "latency_ms": {},
        "size_bytes": {},
        "paired": paired,
    }
    return Evaluation(**{**given, **fields})


def segment_rows(rng: np.random.Generator) -> pd.DataFrame:
    """1,000 rows in three segments (300, 350, 350) and a numeric column; the champion
    is 85% right everywhere; the challenger disagrees with it on 15% of the rows and is
    ten points worse on segment "a" alone."""
    segment = np.array(["a"] * 300 + ["b"] * 350 + ["c"] * 350)
    y = rng.integers(0, 2, ROWS)
    in_a = segment == "a"
    only_champion = np.where(in_a, 0.125, 0.075)
    only_challenger = np.where(in_a, 0.025, 0.075)
    draw = rng.random(ROWS)
    champion_right = draw < 0.85
    flip = np.where(
        champion_right,
        draw < only_champion,
        draw > 1 - only_challenger,
    )
    challenger_right = champion_right ^ flip
    return pd.DataFrame(
        {
            "segment": segment,
            "x": rng.normal(size=ROWS),
            "champion": np.where(champion_right, y, 1 - y),
            "challenger": np.where(challenger_right, y, 1 - y),
            "y": y,
        }
    )
