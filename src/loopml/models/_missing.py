"""Rows with missing values, named for a model that does not take them.

A scikit-learn model refuses a NaN with "Input X contains NaN", which names no row;
its ONNX copy takes the NaN and answers NaN, silently. Whether a model takes missing
values is found once, when its copy is made (:func:`takes_missing`: the model itself
is run on a row of them); a copy of one that does not refuses such rows before it runs,
and a model that fails on them has its failure told with the rows and columns at fault.

>>> import numpy as np
>>> found = missing_in(np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, np.nan]]), "numpy", None)
>>> found.rows.tolist(), found.columns
([0, 2], ['column 1', 'column 2'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SHOWN = 10  # row numbers an error names


class MissingValues(InvalidInput):
    """Rows with missing values given to a model that does not take them: ``rows``
    (positions in the rows given, from 0) and ``columns``, for callers that number the
    rows their own way (a batch scored in chunks)."""

    def __init__(self, message: str, rows: Sequence[int], columns: Sequence[str]) -> None:
        super().__init__(message, field=columns[0] if columns else None)
        self.rows = tuple(rows)
        self.columns = tuple(columns)


@dataclass(frozen=True)
class Missing:
    rows: npt.NDArray[np.intp]
    columns: list[str]


def missing_in(X: Any, form: str, names: Sequence[str] | None) -> Missing:
    """The rows of ``X`` (in the model's ``form``) holding a missing value (None, NaN,
    null) and the columns that do (``names``, else "column N" from 1)."""
    import numpy as np

    if form == "numpy":
        array = np.asarray(X)
        if array.dtype.kind == "f":
            holes = np.isnan(array)
        elif array.dtype.kind == "O":
            holes = np.frompyfunc(_is_missing, 1, 1)(array).astype(bool)
        else:
            holes = np.zeros(array.shape, dtype=bool)
        holes = holes.reshape(len(array), -1)
        labels = list(names) if names else [f"column {i + 1}" for i in range(holes.shape[1])]
    elif form == "pandas":
        holes, labels = X.isna().to_numpy(), [str(c) for c in X.columns]
    else:
        import polars as pl

        frame = X if isinstance(X, pl.DataFrame) else pl.from_arrow(X)
        assert isinstance(frame, pl.DataFrame)
        checks = [
            (pl.col(c).is_null() | pl.col(c).is_nan()) if frame.schema[c].is_float()
            else pl.col(c).is_null()
            for c in frame.columns
        ]  # fmt: skip
        holes, labels = frame.select(checks).to_numpy().astype(bool), list(frame.columns)
    rows = np.flatnonzero(holes.any(axis=1))
    columns = [label for label, hit in zip(labels, holes.any(axis=0), strict=True) if hit]
    return Missing(rows, columns)


def refused(model: str, found: Missing, *, first: int = 1, failure: str = "") -> MissingValues:
    """The error for rows ``found`` (numbered from ``first``)."""
    shown = ", ".join(f"{row + first:,}" for row in found.rows[:SHOWN])
    if len(found.rows) > SHOWN:
        shown += f", ... ({len(found.rows):,} in all)"
    because = f" ({failure})" if failure else ""
    return MissingValues(
        f"row(s) {shown} have missing values (in {', '.join(found.columns)}), which "
        f"{model} does not take{because}: fill them in (an imputer in the model's "
        "pipeline) or leave those rows out",
        found.rows.tolist(),
        found.columns,
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
