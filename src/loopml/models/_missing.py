"""Rows with missing or infinite values, named for a model that does not take them.

A scikit-learn model refuses a NaN with "Input X contains NaN", which names no row;
its ONNX copy takes the NaN and answers NaN, silently. Whether a model takes missing
values is found once, when its copy is made (:func:`takes_missing`: the model itself
is run on a row of them); a copy of one that does not refuses such rows before it runs,
and a model that fails on them has its failure told with the rows and columns at fault.
An infinity (which a binary tensor or a CSV can carry, JSON cannot) is told the same
way when the model fails on rows holding one (:func:`at_fault`): the rows are at fault,
not the model, so a server answers 400 rather than count a failure against the version.

>>> import numpy as np
>>> found = missing_in(np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, np.nan]]), "numpy", None)
>>> found.rows.tolist(), found.columns
([0, 2], ['column 1', 'column 2'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

SHOWN = 10  # row numbers an error names


class RefusedValues(InvalidInput):
    """Rows with missing or infinite values given to a model that does not take them:
    ``rows`` (positions in the rows given, from 0), ``columns`` and ``what`` (see
    :class:`Missing`), for callers that number the rows their own way (a batch scored in
    chunks)."""

    def __init__(
        self, message: str, rows: Sequence[int], columns: Sequence[str], what: str
    ) -> None:
        super().__init__(message, field=columns[0] if columns else None)
        self.rows = tuple(rows)
        self.columns = tuple(columns)
        self.what = what


@dataclass(frozen=True)
class Missing:
    """The rows holding values of a kind (``what``: ``missing values`` or ``infinite
    values``) and the columns that do."""

    rows: npt.NDArray[np.intp]
    columns: list[str]
    what: str = "missing values"


# How each kind of value is to be fixed, told in the error.
_FIXES = {
    "missing values": "fill them in (an imputer in the model's pipeline) or leave those rows out",
    "infinite values": "send finite numbers (clip them to a range the model was trained on) "
    "or leave those rows out",
    "values not seen in training": "send values the model was trained on (its signature "
    "lists them: loopml models show NAME@VERSION), or retrain it on data that holds these",
}


def missing_in(X: Any, form: str, names: Sequence[str] | None) -> Missing:
    """The rows of ``X`` (in the model's ``form``) holding a missing value (None, NaN,
    null) and the columns that do (``names``, else "column N" from 1)."""
    return _holding(X, form, names, "missing values")


def infinite_in(X: Any, form: str, names: Sequence[str] | None) -> Missing:
    """The rows of ``X`` holding an infinity, and the columns that do (as
    :func:`missing_in`)."""
    return _holding(X, form, names, "infinite values")


def _holding(X: Any, form: str, names: Sequence[str] | None, what: str) -> Missing:
    import numpy as np

    missing = what == "missing values"
    if not _any(X, form, missing):  # the usual case, told in microseconds (the cells
        # one by one took a millisecond for one row of 30 in a Polars frame)
        return Missing(np.empty(0, dtype=np.intp), [], what)
    if form == "numpy":
        array = np.asarray(X)
        if array.dtype.kind == "f":
            hits = np.isnan(array) if missing else np.isinf(array)
        else:  # objects: the only other kind _any finds anything in
            hits = np.frompyfunc(_is_missing if missing else _is_infinite, 1, 1)(array)
            hits = hits.astype(bool)
        hits = hits.reshape(len(array), -1)
        labels = list(names) if names else [f"column {i + 1}" for i in range(hits.shape[1])]
    elif form == "pandas":
        hits, labels = (X.isna() if missing else _infinite_cells(X)).to_numpy(), list(X.columns)
        labels = [str(c) for c in labels]
    else:
        frame = _polars(X)
        checks = [_polars_hits(c, frame.schema[c].is_float(), missing) for c in frame.columns]
        hits, labels = frame.select(checks).to_numpy().astype(bool), list(frame.columns)
    return _found(hits, labels, what)


def _any(X: Any, form: str, missing: bool) -> bool:
    """Whether ``X`` holds a missing value (``missing``) or an infinity at all."""
    import numpy as np

    test = np.isnan if missing else np.isinf
    if form == "numpy":
        array = np.asarray(X)
        if array.dtype.kind == "f":
            return bool(test(array).any())
        single = _is_missing if missing else _is_infinite
        return array.dtype.kind == "O" and any(single(v) for v in array.flat)
    if form == "pandas":
        if missing:
            return bool(X.isna().to_numpy().any())
        kinds = {kind.kind for kind in X.dtypes}
        floats = X if kinds == {"f"} else X.select_dtypes("floating")
        return "f" in kinds and bool(test(floats.to_numpy()).any())
    frame = _polars(X)
    if missing and any(frame.null_count().row(0)):
        return True
    floats = [name for name, kind in frame.schema.items() if kind.is_float()]
    chosen = frame if len(floats) == frame.width else frame.select(floats)
    return bool(floats) and bool(test(chosen.to_numpy()).any())


def _polars(X: Any) -> pl.DataFrame:
    """A Polars frame or an Arrow table, as a Polars frame."""
    import polars as pl

    frame = X if isinstance(X, pl.DataFrame) else pl.from_arrow(X)
    assert isinstance(frame, pl.DataFrame)
    return frame


def unseen_in(
    X: Any, form: str, names: Sequence[str] | None, known: Mapping[str, frozenset[str]]
) -> Missing:
    """The rows of ``X`` holding, in a column of ``known`` (name to the values the
    model was trained on, as text), a value not among them; and those columns."""
    import numpy as np

    if form == "numpy":
        array = np.asarray(X).reshape(len(X), -1)
        labels = list(names) if names else [f"x{i}" for i in range(array.shape[1])]
        columns = {label: array[:, at] for at, label in enumerate(labels)}
    elif form == "pandas":
        labels = [str(c) for c in X.columns]
        columns = {label: X.iloc[:, at].to_numpy() for at, label in enumerate(labels)}
    else:
        frame = _polars(X)
        labels = list(frame.columns)
        columns = {label: frame[label].to_numpy() for label in labels}
    hits = np.zeros((len(X), len(labels)), dtype=bool)
    for at, label in enumerate(labels):
        values = known.get(label)
        if values is not None:
            hits[:, at] = np.frompyfunc(lambda v, seen=values: _unseen(v, seen), 1, 1)(
                columns[label]
            ).astype(bool)
    return _found(hits, labels, "values not seen in training")


def _found(hits: Any, labels: list[str], what: str) -> Missing:
    import numpy as np

    rows = np.flatnonzero(hits.any(axis=1))
    columns = [label for label, hit in zip(labels, hits.any(axis=0), strict=True) if hit]
    return Missing(rows, columns, what)


def _infinite_cells(frame: Any) -> Any:
    """A pandas frame's cells holding an infinity (False outside numeric columns)."""
    import numpy as np

    numbers = frame.select_dtypes("number").columns
    return frame.apply(
        lambda column: (
            np.isinf(column.to_numpy(dtype=float, na_value=np.nan))
            if column.name in numbers
            else np.zeros(len(column), dtype=bool)
        )
    )


def _polars_hits(name: str, is_float: bool, missing: bool) -> pl.Expr:
    import polars as pl

    column = pl.col(name)
    if missing:
        return (column.is_null() | column.is_nan()) if is_float else column.is_null()
    if is_float:
        return column.is_infinite().fill_null(False)
    return pl.repeat(False, pl.len()).alias(name)


def at_fault(
    X: Any,
    form: str,
    names: Sequence[str] | None,
    known: Mapping[str, frozenset[str]] | None = None,
) -> Missing | None:
    """The rows of ``X`` a model that failed on it may have failed for: those with
    missing values, else those with infinite ones, else those with a value of a text
    column it was not trained on (``known``: see :func:`unseen_in`); None when it holds
    none of them."""
    found = missing_in(X, form, names)
    if not len(found.rows):
        found = infinite_in(X, form, names)
    if not len(found.rows) and known:
        found = unseen_in(X, form, names, known)
    return found if len(found.rows) else None


def refused(model: str, found: Missing, *, first: int = 1, failure: str = "") -> RefusedValues:
    """The error for rows ``found`` (numbered from ``first``)."""
    shown = ", ".join(f"{row + first:,}" for row in found.rows[:SHOWN])
    if len(found.rows) > SHOWN:
        shown += f", ... ({len(found.rows):,} in all)"
    because = f" ({failure})" if failure else ""
    return RefusedValues(
        f"row(s) {shown} have {found.what} (in {', '.join(found.columns)}), which "
        f"{model} does not take{because}: {_FIXES[found.what]}",
        found.rows.tolist(),
        found.columns,
        found.what,
    )


def takes_missing(model: Any, row: Any) -> bool:
    """Whether ``model`` predicts ``row`` (one row of a pandas or Polars frame, or a
    2-D array) with its numeric values missing, rather than raising."""
    import numpy as np

    try:
        if hasattr(row, "to_pandas") and not hasattr(row, "iloc"):
            row = row.to_pandas()
        if hasattr(row, "iloc"):
            holed = row.copy()
            numeric = holed.select_dtypes("number").columns
            holed[numeric] = holed[numeric].astype(float)
            holed.loc[:, numeric] = np.nan
        else:
            holed = np.full(np.shape(row), np.nan)
        model.predict(holed)
    except Exception:  # any refusal: the copy refuses such rows too
        return False
    return True


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _unseen(value: Any, seen: frozenset[str]) -> bool:
    return not _is_missing(value) and str(value) not in seen


def _is_infinite(value: Any) -> bool:
    return isinstance(value, float) and value in (math.inf, -math.inf)
