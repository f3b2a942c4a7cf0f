"""loopml on the monitoring benchmark's month of traffic; runs in loopml's venv.

Usage: ``python bench/monitor/worker_drift_loopml.py RESULTS_FOLDER WORKSPACE [--first]``

From the workspace's prediction and feedback logs: ``labelled`` (the month's
predictions joined with their feedback), ``live_metrics`` per day (accuracy against the
naive baseline, coverage, confidence, latency), and ``drift_windows`` per day (the 20
inputs and the predictions of every day compared with the training rows, read from
``reference.parquet``, and with the day before), computed afresh (``store=False``: a
stored window would be read back, not computed). Drift reads each prediction segment's
hour summaries, kept in the workspace; with ``--first`` the workspace has none yet,
and drift makes and keeps them (``store=True``), as the first report on a log does.
Prints one JSON line: the seconds of the imports and of each part, and the (day,
column) pairs that drifted against the training rows.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

began, began_cpu = time.perf_counter(), time.process_time()
import polars as pl  # noqa: E402

import loopml  # noqa: E402
from loopml.monitor import drift_windows, labelled, live_metrics  # noqa: E402

imported = time.perf_counter() - began
imported_cpu = time.process_time() - began_cpu
DEPLOYMENT = "churn"


def main(folder: Path, workspace: Path, first: bool) -> None:
    seconds: dict[str, float] = {}
    with loopml.workspace(workspace) as ws:
        started, started_cpu = time.perf_counter(), time.process_time()
        found = labelled(DEPLOYMENT, workspace=ws)
        seconds["join_s"] = time.perf_counter() - started
        seconds["join_cpu_s"] = time.process_time() - started_cpu
        mark, mark_cpu = time.perf_counter(), time.process_time()
        metrics = live_metrics(found.rows, every="1d", baseline=0)
        seconds["metrics_s"] = time.perf_counter() - mark
        seconds["metrics_cpu_s"] = time.process_time() - mark_cpu
        mark, mark_cpu = time.perf_counter(), time.process_time()
        reference = pl.read_parquet(folder / "reference.parquet").drop("timestamp")
        drift = drift_windows(
            DEPLOYMENT, every="1d", reference=reference, store=first, workspace=ws
        )
        seconds["drift_s"] = time.perf_counter() - mark
        seconds["drift_cpu_s"] = time.process_time() - mark_cpu
        seconds["work_s"] = time.perf_counter() - started
    table = drift.table.filter(pl.col("comparison") == "training")
    first = table["window"].min()
    alerts = [
        [int(window - first), column]
        for window, column in table.filter(pl.col("drifted")).select("window", "column").rows()
    ]
    print(
        json.dumps(
            {
                "import_s": imported,
                "import_cpu_s": imported_cpu,
                "work_cpu_s": time.process_time() - started_cpu,
                **seconds,
                "rows": found.rows.height,
                "labelled": int(metrics["labelled"].sum()),
                "windows": drift.computed,
                "segments_summarized": drift.segments_summarized,
                "hours_read_back": drift.hours_read_back,
                "alerts": alerts,
                "previous_alerts": int(
                    drift.table.filter(
                        (pl.col("comparison") == "previous") & pl.col("drifted")
                    ).height
                ),
                "version": loopml.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), "--first" in sys.argv[3:])
