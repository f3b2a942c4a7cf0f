"""NannyML's univariate drift calculator on the split files of
``bench/data/decisions.py``; runs in ``.venv-bench-nannyml``.

Usage: ``python bench/data/worker_decisions_nannyml.py MANIFEST.json OUT.jsonl [SPLITS]``

Per split, timed: ``UnivariateDriftCalculator(column_names=..., chunk_number=1)``,
``fit(reference)``, ``calculate(current)``: the reference half and the current half
each one chunk, every other setting at NannyML's defaults (Jensen-Shannon for every
column, with a threshold of the reference chunks' mean + 3 sd). Datetime columns are
left out (NannyML compares features, not timestamps). An alarm is a column NannyML
alerts on; its score is the Jensen-Shannon distance.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import sys
import time
import warnings
from typing import Any

import nannyml
import pandas as pd
from _splits import arguments, pandas_splits, write


def main(argv: list[str]) -> None:
    manifest, out_path, limit = arguments(argv)
    warnings.simplefilter("ignore")  # "too few chunks" on every split: one chunk each
    logging.disable(logging.WARNING)
    with out_path.open("w") as out:
        for cell in manifest["cells"]:
            trials: list[dict[str, Any]] = []
            thresholds: dict[str, int] = {"finite": 0, "missing": 0}
            for _, reference, current in pandas_splits(cell["file"], limit):
                columns = [
                    name
                    for name in reference.columns
                    if not pd.api.types.is_datetime64_any_dtype(reference[name])
                ]
                began = time.perf_counter()
                calculator = nannyml.UnivariateDriftCalculator(column_names=columns, chunk_number=1)
                calculator.fit(reference)
                result = calculator.calculate(current).filter(period="analysis").to_df()
                seconds = time.perf_counter() - began
                alarms: list[str] = []
                scores: dict[str, float] = {}
                for name in columns:
                    value = float(result[(name, "jensen_shannon", "value")].iloc[0])
                    upper = result[(name, "jensen_shannon", "upper_threshold")].iloc[0]
                    finite = upper is not None and not math.isnan(float(upper))
                    thresholds["finite" if finite else "missing"] += 1
                    scores[name] = value if not math.isnan(value) else 0.0
                    if bool(result[(name, "jensen_shannon", "alert")].iloc[0]):
                        alarms.append(name)
                trials.append({"alarms": alarms, "scores": scores, "seconds": seconds})
            write(out, cell, trials, thresholds=thresholds)
    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "nannyml": nannyml.__version__,
                "pandas": pd.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
