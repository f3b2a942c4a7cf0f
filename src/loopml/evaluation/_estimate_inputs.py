"""What a performance estimator is given, checked: predicted class probabilities (one
column per class, rows that sum to 1), true labels among the classes, and windows of
unlabelled probabilities, either a list of arrays or one array with a window id per row.

>>> import numpy as np
>>> proba, window, ids = windows_of(np.array([[.2, .8], [.6, .4], [.5, .5]]), ["a", "b", "a"], 2)
>>> window.tolist(), ids
([0, 1, 0], ['a', 'b'])
>>> checked_proba(np.array([[.2, .7]]), 2, "proba")
Traceback (most recent call last):
...
loopml.errors.InvalidInput: proba row 0 sums to 0.9, not 1: give the model's predict_proba ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

Probabilities = npt.NDArray[np.float64]
# Rows whose probabilities sum this far from 1 are refused: float32 softmax outputs of
# many classes are off by far less, decision scores or a missing column by far more.
SUM_TOLERANCE = 1e-4


def python_value(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (a class name for JSON and records)."""
    return value.item() if isinstance(value, np.generic) else value


def checked_classes(classes: Any, columns: int) -> list[Any]:
    """The class of each probability column, as Python values: distinct, at least two."""
    found = [python_value(each) for each in np.asarray(classes, dtype=object).ravel()]
    if len(found) != columns:
        raise InvalidInput(
            f"classes has {len(found)} entries but the probabilities have {columns} columns; "
            "give the model's classes_, one per column of predict_proba",
            field="classes",
        )
    if len(set(found)) != len(found):
        raise InvalidInput(
            f"classes {found!r:.120} repeat a class; give each class once", field="classes"
        )
    return found


def checked_proba(proba: Any, columns: int | None, field: str) -> Probabilities:
    """Probabilities as a float array of shape (rows, columns), each row renormalised
    after checking it sums to 1."""
    try:
        array = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"{field} must be an array of probabilities (rows by classes): {error}", field=field
        ) from None
    if array.ndim != 2:
        raise InvalidInput(
            f"{field} has shape {array.shape}; give a 2-D array with one column per class, "
            "as predict_proba returns (for one probability p of two classes: "
            "np.column_stack([1 - p, p]))",
            field=field,
        )
    if columns is not None and array.shape[1] != columns:
        raise InvalidInput(
            f"{field} has {array.shape[1]} columns but the reference has {columns} classes; "
            "give the probabilities of the same model, one column per class",
            field=field,
        )
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1) | (array < 0).any(axis=1))
    if len(bad):
        raise InvalidInput(
            f"{field} row {bad[0]} holds {array[bad[0]].tolist()!r:.80}: probabilities are "
            f"finite and not negative ({len(bad)} rows are not); give predict_proba's output",
            field=field,
        )
    sums = array.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1) > SUM_TOLERANCE)
    if len(off):
        raise InvalidInput(
            f"{field} row {off[0]} sums to {sums[off[0]]:.6g}, not 1: give the model's "
            f"predict_proba (class probabilities), not scores or a subset of the columns "
            f"({len(off)} rows are off)",
            field=field,
        )
    return np.asarray(array / sums[:, None], dtype=np.float64)


def label_codes(labels: Any, classes: list[Any], rows: int) -> npt.NDArray[np.intp]:
    """Each true label's column among ``classes``."""
    array = np.asarray(labels, dtype=object).ravel()
    if len(array) != rows:
        raise InvalidInput(
            f"labels has {len(array)} values but the probabilities have {rows} rows; give the "
            "true label of each row",
            field="labels",
        )
    column = {each: index for index, each in enumerate(classes)}
    codes = np.fromiter(
        (column.get(python_value(each), -1) for each in array), dtype=np.intp, count=rows
    )
    unknown = np.flatnonzero(codes < 0)
    if len(unknown):
        raise InvalidInput(
            f"label {array[unknown[0]]!r} (row {unknown[0]}) is not one of the classes "
            f"{classes!r:.120}; give classes= in the order of the probability columns",
            field="labels",
        )
    return codes


def windows_of(
    windows: Any, window_ids: Any, columns: int
) -> tuple[Probabilities, npt.NDArray[np.intp], list[Any]]:
    """All rows' probabilities, each row's window (0 to windows - 1) and each window's id.

    ``windows`` is one array (its rows split by ``window_ids``, one per row, windows in
    the order they first appear; one window ``0`` without them) or a list of arrays, one
    per window (named by ``window_ids``, one per window, or 0, 1, ...).
    """
    if isinstance(windows, Sequence) and not isinstance(windows, str):
        return _listed(windows, window_ids, columns)
    proba = checked_proba(windows, columns, "windows")
    if len(proba) == 0:
        raise InvalidInput(
            "windows has no rows; give at least one row of probabilities", field="windows"
        )
    if window_ids is None:
        return proba, np.zeros(len(proba), dtype=np.intp), [0]
    ids = np.asarray(window_ids, dtype=object).ravel()
    if len(ids) != len(proba):
        raise InvalidInput(
            f"window_ids has {len(ids)} values but windows has {len(proba)} rows; give one "
            "window id per row",
            field="window_ids",
        )
    first: dict[Any, int] = {}
    window = np.fromiter(
        (first.setdefault(python_value(each), len(first)) for each in ids),
        dtype=np.intp,
        count=len(ids),
    )
    return proba, window, list(first)


def _listed(
    windows: Sequence[Any], window_ids: Any, columns: int
) -> tuple[Probabilities, npt.NDArray[np.intp], list[Any]]:
    if not windows:
        raise InvalidInput("windows is an empty list; give at least one window", field="windows")
    ids = list(range(len(windows))) if window_ids is None else list(window_ids)
    ids = [python_value(each) for each in ids]
    if len(ids) != len(windows):
        raise InvalidInput(
            f"window_ids has {len(ids)} values for {len(windows)} windows; give one id per window",
            field="window_ids",
        )
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"window_ids {ids!r:.120} repeat an id", field="window_ids")
    arrays = []
    for position, (window, name) in enumerate(zip(windows, ids, strict=True)):
        array = checked_proba(window, columns, f"windows[{position}]")
        if len(array) == 0:
            raise InvalidInput(
                f"window {name!r} (windows[{position}]) has no rows; leave it out or give its "
                "predictions",
                field=f"windows[{position}]",
            )
        arrays.append(array)
    sizes = [len(array) for array in arrays]
    window = np.repeat(np.arange(len(arrays), dtype=np.intp), sizes)
    return np.concatenate(arrays), window, ids
