"""Evidently's data-drift preset on the same tables; runs in ``.venv-bench-evidently``.

Usage: ``python bench/data/worker_evidently.py REFERENCE.parquet CURRENT.parquet``

Timed: read both Parquet files into pandas DataFrames (pyarrow), then
``Report([DataDriftPreset()]).run(current_data=..., reference_data=...)``, Evidently
0.7's documented use: the DataFrames are handed over as they are, and Evidently infers
the column types and picks each column's drift test itself. Prints one JSON line.

Evidently's usage telemetry is off: the driver sets ``DO_NOT_TRACK`` (and
``ITERATIVE_DO_NOT_TRACK``) for this process.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

import evidently
import numpy as np
import pandas as pd
import pyarrow
from _measure import Meter, emit, paths
from evidently import Report
from evidently.presets import DataDriftPreset


def drift_summary(snapshot: Any) -> dict[str, Any]:
    """The drifted-column count and each column's method, from the snapshot's dict."""
    found: dict[str, Any] = {"methods": {}, "drifted_columns": []}
    for metric in snapshot.dict().get("metrics", []):
        name = str(metric.get("metric_name", ""))
        config = metric.get("config", {})
        value = metric.get("value")
        if name.startswith("DriftedColumnsCount"):
            found["drifted"] = value.get("count") if isinstance(value, dict) else value
        elif name.startswith("ValueDrift"):
            column = config.get("column")
            method = config.get("method")
            threshold = config.get("threshold")
            found["methods"][column] = method
            if isinstance(value, int | float) and threshold is not None:
                # Distances drift above the threshold, p-values below it.
                drifted = value < threshold if "p_value" in str(method) else value >= threshold
                if drifted:
                    found["drifted_columns"].append(column)
    return found


def main(argv: list[str]) -> None:
    ref_path, cur_path = paths(argv)
    with Meter() as meter:
        ref = pd.read_parquet(ref_path)
        cur = pd.read_parquet(cur_path)
        meter.stage("read")
        report = Report([DataDriftPreset()])
        snapshot = report.run(current_data=cur, reference_data=ref)
        meter.stage("report.run")
    emit(
        {
            **meter.result,
            "sanity": drift_summary(snapshot),
            "versions": {
                "python": platform.python_version(),
                "evidently": evidently.__version__,
                "pandas": pd.__version__,
                "numpy": np.__version__,
                "pyarrow": pyarrow.__version__,
            },
        }
    )


if __name__ == "__main__":
    main(sys.argv[1:])
