"""NannyML's univariate drift calculator on the monitoring benchmark's month of
traffic; runs in ``bench/.venvs/nannyml``.

Usage: ``python bench/monitor/worker_drift_nannyml.py RESULTS_FOLDER [--all-measures]``

Reads ``reference.parquet`` (the training rows) and ``analysis.parquet`` (the month's
predictions) with pandas, then ``UnivariateDriftCalculator`` over the 20 inputs and the
predictions (as a category) with daily chunks, ``fit(reference)`` and
``calculate(analysis)``, every other setting at NannyML's defaults (Jensen-Shannon for
every column; a threshold from the reference's own chunks). With ``--all-measures``,
the measures loopml reports for each column instead: Kolmogorov-Smirnov, Wasserstein
and Jensen-Shannon for the inputs, chi-square, L-infinity and Jensen-Shannon for the
predictions (an alarm: any of them). Prints one JSON line: the seconds of the imports
and of the work, and the (day, column) pairs it alerts on.
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


CONTINUOUS = ["kolmogorov_smirnov", "wasserstein", "jensen_shannon"]
CATEGORICAL = ["chi2", "l_infinity", "jensen_shannon"]


def main(folder: Path, every_measure: bool) -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    started, started_cpu = time.perf_counter(), time.process_time()
    reference = pd.read_parquet(folder / "reference.parquet")
    analysis = pd.read_parquet(folder / "analysis.parquet")
    columns = [c for c in analysis.columns if c != "timestamp"]
    measures = (
        {"continuous_methods": CONTINUOUS, "categorical_methods": CATEGORICAL}
        if every_measure
        else {}
    )
    calculator = nannyml.UnivariateDriftCalculator(
        column_names=columns,
        treat_as_categorical=["predictions"],
        timestamp_column_name="timestamp",
        chunk_period="D",
        **measures,
    )
    calculator.fit(reference)
    result = calculator.calculate(analysis).filter(period="analysis").to_df()
    work = time.perf_counter() - started
    alerted: set[tuple[int, str]] = set()
    for column in columns:
        names = CATEGORICAL if column == "predictions" else CONTINUOUS
        for method in names if every_measure else ["jensen_shannon"]:
            for day, alert in enumerate(result[(column, method, "alert")]):
                if bool(alert):
                    alerted.add((day, column))
    alerts = [list(pair) for pair in sorted(alerted)]
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
    main(Path(sys.argv[1]), "--all-measures" in sys.argv[2:])
