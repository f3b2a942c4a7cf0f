"""loopml's verdicts on the split files of ``bench/data/decisions.py``; runs in ``.venv``.

Usage: ``python bench/data/worker_decisions_loopml.py MANIFEST.json OUT.jsonl [SPLITS]``

Per split, timed: ``profile`` of both halves (with the cell's label), then
``validate_profile(current, reference=reference)``, at loopml's defaults. Writes one
JSON line per cell: per split the anomalies as (kind, severity, column), whether the
validation failed, each compared column's score (1.0 at loopml's own threshold), and
the seconds.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from typing import Any

import polars as pl
from _splits import SIDE, TRIAL, arguments, exceedance, write

import loopml
from loopml.data import profile, validate_profile


def scores(validation: Any) -> dict[str, float]:
    """Each compared column's score, read from the validation's drift records when it
    has them (their shape may change: a column without them has no score)."""
    found: dict[str, float] = {}
    for drift in getattr(validation, "drift", ()):
        try:
            p_value = drift.method in ("ks", "chisquare")
            found[drift.column] = exceedance(drift.statistic, drift.threshold, p_value)
        except (AttributeError, TypeError):
            continue
    return found


def main(argv: list[str]) -> None:
    manifest, out_path, limit = arguments(argv)
    importlib.import_module("scipy.stats")  # loopml's lazy import, kept out of the timing
    with out_path.open("w") as out:
        for cell in manifest["cells"]:
            frame = pl.read_parquet(cell["file"])
            trials: list[dict[str, Any]] = []
            for (trial,), rows in frame.group_by(TRIAL, maintain_order=True):
                if limit is not None and int(trial) >= limit:  # type: ignore[call-overload]
                    break
                reference = rows.filter(pl.col(SIDE) == "reference").drop(TRIAL, SIDE)
                current = rows.filter(pl.col(SIDE) == "current").drop(TRIAL, SIDE)
                began = time.perf_counter()
                validation = validate_profile(
                    profile(current, label=cell["label"]),
                    reference=profile(reference, label=cell["label"]),
                )
                seconds = time.perf_counter() - began
                trials.append(
                    {
                        "failed": not validation.passed,
                        "anomalies": [[a.kind, a.severity, a.column] for a in validation.anomalies],
                        "alarms": sorted(
                            {
                                a.column or ""
                                for a in validation.anomalies
                                if a.kind in ("drift", "label_shift")
                            }
                        ),
                        "scores": scores(validation),
                        "seconds": seconds,
                    }
                )
            write(out, cell, trials)
    versions = {"python": platform.python_version(), "loopml": loopml.__version__}
    print(json.dumps(versions | {"polars": pl.__version__}))


if __name__ == "__main__":
    main(sys.argv[1:])
