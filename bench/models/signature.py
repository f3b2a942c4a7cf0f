"""How long checking one request row against a model's signature takes — what a model
server pays per request. Run with ``make bench-models``; prints the medians.

20 columns (iris, five times over), one row, 2,000 checks per batch form.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import pandas as pd
import polars as pl
from sklearn.datasets import load_iris

from loopml.models import Signature, infer_signature

CHECKS = 2_000


def median_microseconds(signature: Signature, batch: Any) -> float:
    times = []
    for _ in range(CHECKS):
        started = time.perf_counter()
        signature.check(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> int:
    X, _ = load_iris(return_X_y=True, as_frame=True)
    wide = pd.concat([X.add_suffix(f"_{i}") for i in range(5)], axis=1)
    signature = infer_signature(wide)
    row = wide.iloc[[0]]
    forms = {
        "pandas DataFrame": row,
        "Polars DataFrame": pl.from_pandas(row),
        "record (dict)": row.iloc[0].to_dict(),
        "NumPy row": row.to_numpy(),
    }
    print(f"Signature.check of one row of {wide.shape[1]} columns, median of {CHECKS:,}:")
    for name, batch in forms.items():
        print(f"  {name:<18} {median_microseconds(signature, batch):7.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
