"""Evidently's data-drift preset on the monitoring benchmark's month of traffic, one
report per day; runs in ``bench/.venvs/evidently``.

Usage: ``python bench/monitor/worker_drift_evidently.py RESULTS_FOLDER``

Reads ``reference.parquet`` and ``analysis.parquet`` with pandas, cuts the month into
days, and runs ``Report([DataDriftPreset()]).run(current_data=day,
reference_data=reference)`` on each, over the 20 inputs and the predictions, at
Evidently's defaults (above 1,000 rows: Wasserstein distance for numbers,
Jensen-Shannon for categories). Prints one JSON line: the seconds of the imports and
of the work, and the (day, column) pairs it calls drifted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

began, began_cpu = time.perf_counter(), time.process_time()
import evidently  # noqa: E402
import pandas as pd  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

imported = time.perf_counter() - began
imported_cpu = time.process_time() - began_cpu


def drifted(snapshot: Any) -> list[str]:
    found = []
    for metric in snapshot.dict().get("metrics", []):
        config, value = metric.get("config", {}), metric.get("value")
        if not str(metric.get("metric_name", "")).startswith("ValueDrift"):
            continue
        threshold = config.get("threshold")
        if not isinstance(value, int | float) or threshold is None:
            continue
        p_value = "p_value" in str(config.get("method"))
        if (value < threshold) if p_value else (value >= threshold):
            found.append(str(config.get("column")))
    return found


def main(folder: Path) -> None:
    started, started_cpu = time.perf_counter(), time.process_time()
    reference = pd.read_parquet(folder / "reference.parquet").drop(columns="timestamp")
    analysis = pd.read_parquet(folder / "analysis.parquet")
    days = analysis["timestamp"].dt.floor("D")
    alerts: list[list[Any]] = []
    windows = 0
    for day, (_, current) in enumerate(analysis.groupby(days, sort=True)):
        snapshot = Report([DataDriftPreset()]).run(
            current_data=current.drop(columns="timestamp"), reference_data=reference
        )
        alerts += [[day, column] for column in drifted(snapshot)]
        windows += 1
    work = time.perf_counter() - started
    print(
        json.dumps(
            {
                "import_s": imported,
                "import_cpu_s": imported_cpu,
                "work_cpu_s": time.process_time() - started_cpu,
                "work_s": work,
                "windows": windows,
                "alerts": alerts,
                "version": evidently.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
