"""loopml's profile + validate + drift on the same tables; runs in ``.venv``.

Usage: ``python bench/data/worker_loopml.py [--lazy-imports | --add] REF.parquet CUR.parquet``

Timed: read both tables with Polars, ``profile`` both, ``infer_schema`` from the
reference's profile, ``validate_profile`` of the current one against that schema and
the reference (drift). Prints one JSON line with the measures and a few sanity values.

loopml imports SciPy's statistics lazily, inside ``validate_profile``. Like the other
two workers, this one imports everything before the timer starts, so that no import
is timed; ``--lazy-imports`` leaves that import to loopml, to show what a fresh
process pays on its first validation.

``--add`` times what loopml really does per version instead: ``loopml.data.add`` of
the reference file into a fresh workspace (read, hash and store the file, profile it,
infer and pin the schema), with one table in memory at a time.
"""

from __future__ import annotations

import importlib
import platform
import sys
from collections import Counter

import numpy as np
import polars as pl
import scipy
from _measure import Meter, emit, paths

import loopml
import loopml.data
from loopml.data import infer_schema, profile, validate_profile


def add_one(ref_path: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="loopml-bench-add-") as folder:
        ws = loopml.init(folder)
        ws.store.info()  # the store is opened (and made) before the timer
        with Meter() as meter:
            version = loopml.data.add(ref_path, name="bench", workspace=ws)
        ws.close()
    emit({**meter.result, "sanity": {"ref": version.ref, "rows": version.rows}})


def main(argv: list[str]) -> None:
    if "--add" in argv:
        importlib.import_module("scipy.stats")
        add_one(paths([arg for arg in argv if arg != "--add"])[0])
        return
    lazy = "--lazy-imports" in argv
    ref_path, cur_path = paths([arg for arg in argv if arg != "--lazy-imports"])
    if not lazy:
        importlib.import_module("scipy.stats")  # what loopml.data imports on first use
    with Meter() as meter:
        ref = pl.read_parquet(ref_path)
        cur = pl.read_parquet(cur_path)
        meter.stage("read")
        p_ref = profile(ref)
        meter.stage("profile reference")
        p_cur = profile(cur)
        meter.stage("profile current")
        schema = infer_schema(p_ref)
        meter.stage("infer_schema")
        result = validate_profile(p_cur, schema=schema, reference=p_ref)
        meter.stage("validate_profile")
    drifted = [d.column for d in result.drift if d.drifted]
    emit(
        {
            **meter.result,
            "sanity": {
                "anomalies": len(result.anomalies),
                "anomaly_kinds": dict(Counter(a.kind for a in result.anomalies)),
                "passed": result.passed,
                "drifted_columns": drifted,
                "drifted": len(drifted),
                "methods": {d.column: d.method for d in result.drift},
                "duplicates_current": p_cur.duplicate_rows,
                "nulls_current": {c.name: c.missing for c in p_cur.columns if c.missing},
            },
            "lazy_imports": lazy,
            "versions": {
                "loopml": loopml.__version__,
                "python": platform.python_version(),
                "polars": pl.__version__,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
            },
        }
    )


if __name__ == "__main__":
    main(sys.argv[1:])
