"""NannyML's univariate drift calculator on the monitoring benchmark's month of
traffic; runs in ``bench/.venvs/nannyml``.

Usage: ``python bench/monitor/worker_drift_nannyml.py RESULTS_FOLDER``

Reads ``reference.parquet`` (the training rows) and ``analysis.parquet`` (the month's
predictions) with pandas, then ``UnivariateDriftCalculator`` over the 20 inputs and the
predictions (as a category) with daily chunks, ``fit(reference)`` and
``calculate(analysis)``, every other setting at NannyML's defaults (Jensen-Shannon for
every column; a threshold from the reference's own chunks). Prints one JSON line: the
seconds of the imports and of the work, and the (day, column) pairs it alerts on.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from pathlib import Path

began, began_cpu = time.perf_counter(), time.process_time()
import nannyml  # noqa: E402
import pandas as pd  # noqa: E402

imported = time.perf_counter() - began
imported_cpu = time.process_time() - began_cpu


def main(folder: Path) -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    started, started_cpu = time.perf_counter(), time.process_time()
    reference = pd.read_parquet(folder / "reference.parquet")
    analysis = pd.read_parquet(folder / "analysis.parquet")
    columns = [c for c in analysis.columns if c != "timestamp"]
    calculator = nannyml.UnivariateDriftCalculator(
        column_names=columns,
        treat_as_categorical=["predictions"],
        timestamp_column_name="timestamp",
        chunk_period="D",
    )
    calculator.fit(reference)
    result = calculator.calculate(analysis).filter(period="analysis").to_df()
    work = time.perf_counter() - started
    alerts = [
        [int(day), column]
        for column in columns
        for day, alert in enumerate(result[(column, "jensen_shannon", "alert")])
        if bool(alert)
    ]
    print(
        json.dumps(
            {
                "import_s": imported,
                "import_cpu_s": imported_cpu,
                "work_cpu_s": time.process_time() - started_cpu,
                "work_s": work,
                "windows": len(result),
                "alerts": alerts,
                "version": nannyml.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
