"""How long batch scoring of 100,000 rows takes through ``loopml.serve.predict`` (the
``loopml predict`` command's work) next to calling the model directly. Run with
``make bench-models`` (or ``.venv/bin/python bench/serve/batch_scoring.py``); prints
the medians. Timings only: nothing here passes or fails.

The rows: breast-cancer's 30 columns, resampled to 100,000 rows with a little noise
(a Parquet dataset version). The model: a scaled logistic regression (a scikit-learn
Pipeline), registered with an ONNX copy. Compared, each the median of ``REPEATS``
runs in this process, one thread for BLAS:

- the model alone: ``predict`` and ``predict_proba`` on the frame already in memory;
- by hand: the Parquet file read with Polars, the same two calls, the result written
  to Parquet (what a script does without loopml);
- ``loopml.serve.predict``: the model loaded and its bytes checked, the rows read in
  batches, each checked against the signature, scored and appended to a Parquet file,
  then recorded as a new dataset version (hashed, profiled, schema pinned) by a run
  with its lineage; split into the scoring (until the file is written) and the
  recording. With the native model in batches of 65,536 and of 10,000 rows, and with
  the ONNX copy.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry
from loopml.serve._batch import score

ROWS = 100_000
REPEATS = 5


def rows() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    picked = rng.integers(0, len(X), ROWS)
    big = X.iloc[picked].reset_index(drop=True)
    big = big * rng.normal(1.0, 0.01, size=big.shape)
    return big, y.iloc[picked].reset_index(drop=True)


def median_seconds(run: Callable[[int], float | None]) -> tuple[float, float | None]:
    """The median of ``REPEATS`` timings of ``run(i)``, and of the part it reports."""
    whole, parts = [], []
    for i in range(REPEATS):
        started = time.perf_counter()
        part = run(i)
        whole.append(time.perf_counter() - started)
        if part is not None:
            parts.append(part)
    return statistics.median(whole), statistics.median(parts) if parts else None


def main() -> int:
    X, y = rows()
    with tempfile.TemporaryDirectory() as folder, threadpool_limits(1):
        root = Path(folder)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
        (root / "ws").mkdir()
        ws = loopml.init(root / "ws")
        source = loopml.data.add(pl.from_pandas(X), name="patients", workspace=ws)
        registry.register(model, "cancer", signature_from=X, onnx=X.iloc[:2_000], workspace=ws)
        parquet = source.path()

        def alone(_: int) -> None:
            model.predict(X)
            model.predict_proba(X)

        def by_hand(i: int) -> None:
            frame = pl.read_parquet(parquet)
            features = frame.to_pandas()
            classes = model.predict(features)
            probabilities = model.predict_proba(features)
            frame.with_columns(
                pl.Series("prediction", classes),
                *(pl.Series(f"probability_{c}", probabilities[:, k]) for k, c in enumerate([0, 1])),
            ).write_parquet(root / f"by-hand-{i}.parquet")

        def loopml_run(copy: str, batch_rows: int) -> Callable[[int], float]:
            def run(i: int) -> float:
                done = score(
                    "cancer@v1",
                    "patients@v1",
                    out=f"scored-{copy}-{batch_rows}-{i}",  # a first version each time
                    copy=copy,
                    batch_rows=batch_rows,
                    workspace=ws,
                )
                return done.seconds

            return run

        cases: list[tuple[str, Callable[[int], float | None]]] = [
            ("the model alone (in memory)", alone),
            ("by hand: read, predict, write", by_hand),
            ("loopml.serve.predict, native, 65,536", loopml_run("native", 65_536)),
            ("loopml.serve.predict, native, 10,000", loopml_run("native", 10_000)),
            ("loopml.serve.predict, onnx, 65,536", loopml_run("onnx", 65_536)),
        ]
        print(
            f"Batch scoring of {ROWS:,} rows x {X.shape[1]} columns, a scaled logistic "
            f"regression; median of {REPEATS} runs:"
        )
        print(f"  {'':<40} {'total':>8} {'scoring':>8} {'recording':>10}")
        for name, run in cases:
            total, scoring = median_seconds(run)
            if scoring is None:
                print(f"  {name:<40} {total:7.3f}s")
            else:
                print(f"  {name:<40} {total:7.3f}s {scoring:7.3f}s {total - scoring:9.3f}s")
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
