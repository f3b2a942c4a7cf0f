"""Evidently's DataDriftPreset on the split files of ``bench/data/decisions.py``; runs
in ``.venv-bench-evidently``.

Usage: ``python bench/data/worker_decisions_evidently.py MANIFEST.json OUT.jsonl [SPLITS]``

Per split, timed: ``Report([DataDriftPreset()]).run(current_data=cur,
reference_data=ref)`` on the two halves as pandas DataFrames, at Evidently's defaults:
it infers the column types and picks each column's test (KS or chi-square/Z up to
1,000 rows, Wasserstein or Jensen-Shannon above). An alarm is a column Evidently calls
drifted; its score is 1.0 at Evidently's threshold for that column's method.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from typing import Any

import evidently
import pandas as pd
from _splits import arguments, exceedance, pandas_splits, write
from evidently import Report
from evidently.presets import DataDriftPreset


def verdicts(snapshot: Any) -> tuple[list[str], dict[str, float], bool]:
    """The drifted columns, each column's score, and Evidently's dataset-drift flag."""
    alarms: list[str] = []
    scores: dict[str, float] = {}
    dataset_drift = False
    for metric in snapshot.dict().get("metrics", []):
        name = str(metric.get("metric_name", ""))
        config = metric.get("config", {})
        value = metric.get("value")
        if name.startswith("DriftedColumnsCount") and isinstance(value, dict):
            dataset_drift = float(value.get("share", 0.0)) >= float(config.get("drift_share", 0.5))
        elif name.startswith("ValueDrift"):
            column, method = config.get("column"), str(config.get("method"))
            threshold = config.get("threshold")
            if not isinstance(value, int | float) or threshold is None:
                continue
            p_value = "p_value" in method
            drifted = value < threshold if p_value else value >= threshold
            scores[column] = exceedance(float(value), float(threshold), p_value)
            if drifted:
                alarms.append(column)
    return alarms, scores, dataset_drift


def main(argv: list[str]) -> None:
    manifest, out_path, limit = arguments(argv)
    with out_path.open("w") as out:
        for cell in manifest["cells"]:
            trials: list[dict[str, Any]] = []
            for _, reference, current in pandas_splits(cell["file"], limit):
                began = time.perf_counter()
                snapshot = Report([DataDriftPreset()]).run(
                    current_data=current, reference_data=reference
                )
                seconds = time.perf_counter() - began
                alarms, scores, dataset_drift = verdicts(snapshot)
                trials.append(
                    {
                        "alarms": alarms,
                        "scores": scores,
                        "dataset_drift": dataset_drift,
                        "seconds": seconds,
                    }
                )
            write(out, cell, trials)
    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "evidently": evidently.__version__,
                "pandas": pd.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
