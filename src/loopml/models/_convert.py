"""``to_onnx``: a scikit-learn model converted with skl2onnx, kept only if it agrees.

The converted model runs (onnxruntime, one thread) on the evaluation rows next to the
original; it is refused unless every predicted class is the same, except a *tie* (the
original's own probabilities for the two classes within ``tolerance``, which float32
rounding may break either way), and every probability or regression value is within
``tolerance`` (relative, for values above 1). Both are then timed predicting one row,
each on one thread, so the caller can keep the faster.

ONNX computes in float32, as skl2onnx converts; decision trees split on float32 in
scikit-learn too, linear models agree to about 1e-6.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInput
from loopml.models._base import first_line, need
from loopml.models._missing import takes_missing
from loopml.models._onnx import session
from loopml.models._pickled import SklearnFlavor
from loopml.models._signature import head

_TIMING_SECONDS = 0.2  # per model, after a warm-up
_MIN_CALLS, _MAX_CALLS = 20, 2000


@dataclass(frozen=True)
class OnnxConversion:
    """The converted ``model`` (an ``onnx.ModelProto``), how it agreed with the original
    on ``rows`` evaluation rows, and the median time each takes to predict one row."""

    model: Any
    rows: int
    label_agreement: float | None  # share of rows with the same class (classifiers)
    ties: int  # rows whose class differs on a tie of the original's probabilities
    max_abs_diff: float  # largest difference of a probability or a predicted value
    sklearn_latency_ms: float
    onnx_latency_ms: float
    # whether the original predicts rows with missing values (the copy answers NaN for
    # them, so a copy of one that does not refuses them: see loopml.models._missing)
    allow_nan: bool = False

    @property
    def faster(self) -> str:
        """``"onnx"`` or ``"sklearn"``, whichever predicts one row sooner."""
        return "onnx" if self.onnx_latency_ms < self.sklearn_latency_ms else "sklearn"


def to_onnx(model: Any, X_sample: Any, *, check_on: Any, tolerance: float = 1e-4) -> OnnxConversion:
    """Convert a fitted scikit-learn model (an estimator or a Pipeline) to ONNX, check it
    against the original on ``check_on`` and time both; InvalidInput when it cannot be
    converted or does not agree (the message has the figures)."""
    if not SklearnFlavor().matches(model):
        raise InvalidInput(
            f"to_onnx converts scikit-learn models, not a {type(model).__qualname__}; "
            "XGBoost, LightGBM and torch have their own ONNX exporters"
        )
    skl2onnx = need("skl2onnx", "onnx", "onnx")
    base = need("sklearn.base", "sklearn", "train")
    classifier = bool(base.is_classifier(model))
    sample = _float32(X_sample, "X_sample")
    try:
        converted = skl2onnx.to_onnx(
            model, sample[:1], options={"zipmap": False} if classifier else None
        )
    except Exception as error:
        raise InvalidInput(
            f"skl2onnx cannot convert the {type(model).__qualname__} ({type(error).__name__}: "
            f"{first_line(error)}); keep the scikit-learn model"
        ) from None
    runner = session(converted)
    feed = runner.get_inputs()[0].name
    rows = _float32(check_on, "check_on")
    outputs = runner.run(None, {feed: rows})
    if classifier:
        label_agreement, ties, diff = _compare_classes(model, check_on, outputs, tolerance)
    else:
        label_agreement, ties = None, 0
        diff = _compare_values(model.predict(check_on), outputs[0])
    if diff > tolerance:
        raise InvalidInput(
            f"the ONNX conversion of the {type(model).__qualname__} does not agree with it on "
            f"check_on: predictions differ by up to {diff:.3g} (tolerance {tolerance:g}); "
            "keep the scikit-learn model"
        )
    one_row, one_onnx = head(check_on, 1), rows[:1]
    threadpoolctl = need("threadpoolctl", "sklearn", "train")
    with threadpoolctl.threadpool_limits(1):
        sklearn_ms = _median_ms(lambda: model.predict(one_row))
    onnx_ms = _median_ms(lambda: runner.run(None, {feed: one_onnx}))
    allow_nan = takes_missing(model, one_row)
    return OnnxConversion(
        converted, len(rows), label_agreement, ties, diff, sklearn_ms, onnx_ms, allow_nan
    )


def _compare_classes(
    model: Any, check_on: Any, outputs: list[Any], tolerance: float
) -> tuple[float, int, float]:
    """(share of equal classes, ties, largest probability difference); InvalidInput
    when a class differs outside a tie."""
    import numpy as np

    expected = np.asarray(model.predict(check_on))
    got = np.asarray(outputs[0]).reshape(expected.shape)
    differ = np.flatnonzero(expected != got)
    diff = 0.0
    ties = 0
    if hasattr(model, "predict_proba") and len(outputs) > 1:
        proba = np.asarray(model.predict_proba(check_on), dtype=np.float64)
        diff = float(np.max(np.abs(proba - np.asarray(outputs[1], dtype=np.float64))))
        index = {label: i for i, label in enumerate(np.asarray(model.classes_).tolist())}
        tied = [
            row
            for row in differ
            if abs(proba[row, index[expected[row].item()]] - proba[row, index[got[row].item()]])
            <= tolerance
        ]
        ties = len(tied)
        differ = np.setdiff1d(differ, tied)
    if len(differ):
        shown = ", ".join(str(row) for row in differ[:5])
        raise InvalidInput(
            f"the ONNX conversion of the {type(model).__qualname__} predicts other classes "
            f"than it on {len(differ)} of {len(expected)} check_on rows (rows {shown}); "
            "keep the scikit-learn model"
        )
    return float(np.mean(expected == got)), ties, diff


def _compare_values(expected: Any, got: Any) -> float:
    """The largest difference, relative where the value is above 1 in size."""
    import numpy as np

    want = np.asarray(expected, dtype=np.float64)
    have = np.asarray(got, dtype=np.float64).reshape(want.shape)
    scale = np.maximum(np.abs(want), 1.0)
    return float(np.max(np.abs(have - want) / scale)) if want.size else 0.0


def _float32(X: Any, what: str) -> Any:
    import numpy as np

    try:
        array = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"{what} must hold numbers only for ONNX ({first_line(error)}); encode text "
            "and categories inside the scikit-learn Pipeline and pass the raw numeric columns"
        ) from None
    if array.ndim != 2 or not len(array):
        raise InvalidInput(f"{what} must be a table of rows by columns with at least one row")
    return array


def _median_ms(call: Callable[[], Any]) -> float:
    for _ in range(3):
        call()
    times: list[float] = []
    deadline = time.perf_counter() + _TIMING_SECONDS
    while len(times) < _MAX_CALLS and (len(times) < _MIN_CALLS or time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
