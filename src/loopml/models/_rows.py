"""Rows handed to a model, in any form loopml takes, and the form a model takes them in.

Rows may be a pandas or Polars DataFrame, an Arrow table, a 2-D NumPy array (its
columns matched by position), a dict of column to values (or to one value: one row)
or a list of records (dicts of column to value; a key a record lacks is a missing
value). A model takes them in one of :data:`FORMS`.

>>> import numpy as np
>>> frame = as_frame({"age": [31, 45], "city": "Oslo"}, None)
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: column city has 1 value(s) where age has 2; ...
>>> as_frame([{"age": 31}, {"age": 45, "city": "Rome"}], None).rows()
[(31, None), (45, 'Rome')]
>>> as_form(as_frame(np.array([[1.5, 2.0]]), ["a", "b"]), "pandas").columns.tolist()
['a', 'b']
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.models._base import first_line

if TYPE_CHECKING:
    import polars as pl

#: the forms a model's ``predict`` takes rows in
FORMS = ("pandas", "polars", "arrow", "numpy")
ROWS = "rows"  # the field named by errors about the batch as a whole
_KINDS = (
    "a pandas or Polars DataFrame, an Arrow table, a 2-D NumPy array, a dict of columns "
    "or a list of records"
)


def form_of(rows: Any) -> str | None:
    """``pandas``, ``polars``, ``arrow`` or ``numpy`` for a table of one of
    :data:`FORMS`; ``columns`` (a dict of column to values), ``records`` (a list of
    dicts), else None."""
    module = type(rows).__module__.partition(".")[0]
    if module in ("pandas", "polars", "pyarrow") and hasattr(rows, "columns"):
        return "arrow" if module == "pyarrow" else module
    np = sys.modules.get("numpy")
    if np is not None and isinstance(rows, np.ndarray):
        return "numpy"
    if isinstance(rows, Mapping):
        return "columns"
    if isinstance(rows, list):
        return "records"
    return None


def check_form(rows: Any) -> str:
    """The form of ``rows``; InvalidInput (field ``rows``) for anything loopml cannot read
    as rows, or a NumPy array that is not 2-D."""
    form = form_of(rows)
    if form is None:
        raise InvalidInput(f"rows are a {type(rows).__qualname__}; give {_KINDS}", field=ROWS)
    if form == "numpy" and rows.ndim != 2:
        raise InvalidInput(
            f"rows are a {rows.ndim}-D array of shape {rows.shape}; give a 2-D array of rows "
            "by columns (reshape a single row with x.reshape(1, -1))",
            field=ROWS,
        )
    if form == "records":
        if not rows:
            raise InvalidInput("rows are an empty list; give at least one record", field=ROWS)
        _records(rows)
    return form


def count(X: Any) -> int:
    """The number of rows of a table in one of :data:`FORMS`."""
    found = getattr(X, "num_rows", None)  # an Arrow table
    return int(found) if isinstance(found, int) else len(X)


def as_frame(rows: Any, names: Sequence[str] | None) -> pl.DataFrame:
    """``rows`` (any form) as a Polars frame; a NumPy array's columns are named ``names``
    by position (``x0``, ``x1``, ... without them)."""
    import polars as pl

    form = check_form(rows)
    try:
        if form == "polars":
            return rows  # type: ignore[no-any-return]
        if form == "pandas":
            frame: pl.DataFrame = pl.from_pandas(rows)
            return frame
        if form == "arrow":
            return pl.DataFrame(pl.from_arrow(rows))
        if form == "numpy":
            return _from_array(rows, names)
        if form == "columns":
            return pl.DataFrame(_columns(rows), strict=False)
        return pl.from_dicts(_records(rows), infer_schema_length=None, strict=False)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
        raise InvalidInput(
            f"cannot read the rows as a table ({type(error).__name__}: {first_line(error)}); "
            f"give {_KINDS}, each column of one type",
            field=ROWS,
        ) from None


def as_form(frame: pl.DataFrame, form: str) -> Any:
    """Columns of a Polars frame in the form a model takes them."""
    if form == "pandas":
        return frame.to_pandas()
    if form == "numpy":
        return frame.to_numpy()
    if form == "arrow":
        return frame.to_arrow()
    return frame


def column_names(rows: Any, form: str) -> list[str]:
    """The column names of rows in any form but NumPy's (whose columns have none)."""
    if form == "columns":
        return [str(name) for name in rows]
    if form == "records":
        found: dict[str, None] = {}
        for record in _records(rows):
            found.update(dict.fromkeys(map(str, record)))
        return list(found)
    if form == "arrow":
        return [str(name) for name in rows.column_names]
    return [str(name) for name in rows.columns]


def select(rows: Any, form: str, names: Sequence[str]) -> Any:
    """The columns ``names`` of a table already in ``form``, in that order (a NumPy
    array, matched by position, as it is)."""
    if form == "numpy" or column_names(rows, form) == list(names):
        return rows
    if form == "pandas":
        return rows[list(names)]
    return rows.select(list(names))


def _from_array(array: Any, names: Sequence[str] | None) -> pl.DataFrame:
    import polars as pl

    width = array.shape[1]
    if names is None:
        names = [f"x{i}" for i in range(width)]
    if len(names) != width:
        raise InvalidInput(
            f"rows have {width} columns where the model takes {len(names)} "
            f"({', '.join(names[:12])}); send one value per column, in that order",
            field=ROWS,
        )
    return pl.from_numpy(array, schema=list(names), orient="row")


def _columns(rows: Mapping[Any, Any]) -> dict[str, Any]:
    """Each column as a sequence of values, one value standing for one row; all as long."""
    columns = {str(name): _values(values) for name, values in rows.items()}
    if not columns:
        raise InvalidInput("rows are an empty dict; give one value per column", field=ROWS)
    lengths = {name: len(values) for name, values in columns.items()}
    first, expected = next(iter(lengths.items()))
    for name, length in lengths.items():
        if length != expected:
            raise InvalidInput(
                f"column {name} has {length} value(s) where {first} has {expected}; give "
                "every column one value per row",
                field=name,
            )
    return columns


def _values(values: Any) -> Any:
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        return [values]  # one value: a single row
    return values


def _records(rows: list[Any]) -> list[Mapping[str, Any]]:
    for record in rows:
        if not isinstance(record, Mapping):
            raise InvalidInput(
                f"a list of rows must hold records (dicts of column to value), not "
                f"{type(record).__qualname__}; send [{{'column': value, ...}}, ...]",
                field=ROWS,
            )
    return rows
