"""One small vocabulary of column types for pandas, Polars, Arrow, NumPy and Python values.

``bool``, ``integer``, ``float``, ``string``, ``category``, ``datetime``, ``duration``,
``binary``, ``null`` (only missing values) and ``other``; a column of Python values of
several types is ``mixed (integer, string)``. :func:`fits` says whether a column of
one type may feed a model that was trained on another: an integer fits where a float
is expected, text does not. :func:`table` and :func:`columns` read the columns of
training data and of a batch to check, each with a callable giving its type: only an
``object`` column has its values looked at, and only when the type is asked for.

>>> import numpy as np
>>> numpy_type(np.dtype("int32")), values_type([1, 2.5, None]), values_type(["a", 1])
('integer', 'float', 'mixed (integer, string)')
>>> fits("float", "integer"), fits("float", "string"), fits("integer", "null")
(True, False, True)
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from loopml.errors import InvalidInput

ANY = "other"
NULL = "null"
# What each expected type accepts besides itself (missing values fit everything).
_ALSO_ACCEPTS = {
    "float": frozenset({"integer", "bool"}),
    "integer": frozenset({"bool"}),
    "string": frozenset({"category"}),
    "category": frozenset({"string"}),
}
_NUMPY = {
    "b": "bool",
    "i": "integer",
    "u": "integer",
    "f": "float",
    "M": "datetime",
    "m": "duration",
    "U": "string",
    "S": "binary",
}
_POLARS = {
    "Boolean": "bool",
    "Float16": "float",
    "Float32": "float",
    "Float64": "float",
    "Decimal": "float",
    "String": "string",
    "Utf8": "string",
    "Categorical": "category",
    "Enum": "category",
    "Date": "datetime",
    "Datetime": "datetime",
    "Duration": "duration",
    "Binary": "binary",
    "Null": "null",
}
# Python value types; subclasses and NumPy scalars are resolved once, then kept here.
_VALUES: dict[type, str] = {
    bool: "bool",
    int: "integer",
    float: "float",
    str: "string",
    bytes: "binary",
    type(None): "null",
    dt.datetime: "datetime",
    dt.date: "datetime",
    dt.timedelta: "duration",
    decimal.Decimal: "float",
}


def fits(expected: str, got: str) -> bool:
    """True when a column of type ``got`` may go where ``expected`` was trained."""
    if got in (expected, NULL) or expected in (ANY, NULL):
        return True
    return got in _ALSO_ACCEPTS.get(expected, ())


def numpy_type(dtype: Any) -> str | None:
    """The type of a NumPy dtype; None for ``object`` (its values decide)."""
    if dtype.kind == "O":
        return None
    return _NUMPY.get(dtype.kind, ANY)


def pandas_type(dtype: Any) -> str | None:
    """The type of a pandas dtype (NumPy or extension); None for ``object``."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(dtype, np.dtype):
        return numpy_type(dtype)
    name = type(dtype).__name__
    if name == "CategoricalDtype":
        return "category"
    if name == "StringDtype":
        return "string"
    if name == "ArrowDtype":
        return arrow_type(dtype.pyarrow_dtype)
    # nullable Int64, Float64, boolean and tz-aware datetimes by their kind; periods,
    # intervals and sparse columns are "other"
    return _NUMPY.get(getattr(dtype, "kind", "O"), ANY)


def polars_type(dtype: Any) -> str:
    name = type(dtype).__name__
    if name.startswith(("Int", "UInt")):
        return "integer"
    return _POLARS.get(name, ANY)


def arrow_type(kind: Any) -> str:
    import pyarrow.types as t

    checks = (
        ("bool", t.is_boolean),
        ("integer", t.is_integer),
        ("float", t.is_floating),
        ("float", t.is_decimal),
        ("string", t.is_string),
        ("string", t.is_large_string),
        ("category", t.is_dictionary),
        ("datetime", t.is_timestamp),
        ("datetime", t.is_date),
        ("duration", t.is_duration),
        ("binary", t.is_binary),
        ("binary", t.is_large_binary),
        ("null", t.is_null),
    )
    for name, check in checks:
        if check(kind):
            return name
    return "string" if str(kind) == "string_view" else ANY


def values_type(values: Collection[Any]) -> str:
    """The type of a column of Python (or NumPy scalar) values; NaN counts as missing."""
    found = {_value_type(kind) for kind in set(map(type, values))}
    if "float" in found and len(found - {NULL}) > 1 and _all_nan(values):
        found.discard("float")
    found.discard(NULL)
    if not found:
        return NULL
    if len(found) == 1:
        return found.pop()
    if found == {"integer", "float"}:
        return "float"
    return f"mixed ({', '.join(sorted(found))})"


def _value_type(kind: type) -> str:
    known = _VALUES.get(kind)
    if known is not None:
        return known
    found = ANY
    np = sys.modules.get("numpy")
    for base in kind.__mro__:
        if base in _VALUES:
            found = _VALUES[base]
            break
        if np is not None and base in (np.bool_, np.integer, np.floating, np.datetime64):
            found = {np.bool_: "bool", np.integer: "integer", np.floating: "float"}.get(
                base, "datetime"
            )
            break
    if kind.__name__ in ("NaTType", "NAType"):
        found = NULL
    _VALUES[kind] = found
    return found


def _all_nan(values: Collection[Any]) -> bool:
    return all(value != value for value in values if _value_type(type(value)) == "float")


# -- reading tables and batches --------------------------------------------------------

_Column = tuple[str, Any, Any]  # name, a callable giving its type, the dtype


def table(X: Any) -> tuple[str, list[_Column]]:
    module = type(X).__module__.partition(".")[0]
    if module == "pandas" and hasattr(X, "dtypes") and hasattr(X, "columns"):
        return "pandas", [
            (str(name), _pandas_getter(X, name, dtype), dtype)
            for name, dtype in zip(X.columns, X.dtypes, strict=True)
        ]
    if module == "polars" and hasattr(X, "schema"):
        return "polars", [
            (name, _const(polars_type(dtype)), dtype) for name, dtype in X.schema.items()
        ]
    if module == "pyarrow" and hasattr(X, "schema"):
        return "arrow", [(f.name, _const(arrow_type(f.type)), f.type) for f in X.schema]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise InvalidInput(
                f"X is a {X.ndim}-D array; give a 2-D array of rows by columns (reshape a "
                "single row with x.reshape(1, -1))"
            )
        return "numpy", [(f"x{i}", _array_getter(X, i), X.dtype) for i in range(X.shape[1])]
    raise InvalidInput(
        f"cannot read the columns of a {type(X).__qualname__}; give a pandas or Polars "
        "DataFrame, an Arrow table or a 2-D NumPy array"
    )


def columns(batch: Any, names: list[str]) -> Iterator[tuple[str, Any]]:
    """(name, callable giving its type) per column of a batch to check."""
    if isinstance(batch, Mapping):
        for name, values in batch.items():
            yield str(name), _values_getter(values)
        return
    if isinstance(batch, list):
        keys: dict[str, None] = {}
        for record in batch:
            if not isinstance(record, Mapping):
                raise InvalidInput(
                    f"a list batch must hold records (dicts of column to value), not "
                    f"{type(record).__qualname__}; send [{{'column': value, ...}}, ...]"
                )
            keys.update(dict.fromkeys(map(str, record)))
        for key in keys:
            yield key, _const(values_type([r.get(key) for r in batch]))
        return
    _, found = table(batch)
    np = sys.modules.get("numpy")
    by_position = np is not None and isinstance(batch, np.ndarray)
    for position, (name, get_type, _) in enumerate(found):
        if by_position:
            name = names[position] if position < len(names) else f"at position {position}"
        yield name, get_type


def _const(value: str) -> Any:
    return lambda: value


def _pandas_getter(df: Any, name: Any, dtype: Any) -> Any:
    found = pandas_type(dtype)
    if found is not None:
        return _const(found)
    return lambda: values_type(df[name].to_numpy())


def _array_getter(array: Any, position: int) -> Any:
    found = numpy_type(array.dtype)
    if found is not None:
        return _const(found)
    return lambda: values_type(array[:, position])


def _values_getter(values: Any) -> Any:
    module = type(values).__module__.partition(".")[0]
    dtype = getattr(values, "dtype", None)
    found: str | None = None
    if module == "numpy" and dtype is not None:
        found = numpy_type(dtype)
    elif module == "pandas" and dtype is not None:
        found = pandas_type(dtype)
    elif module == "polars" and dtype is not None:
        found = polars_type(dtype)
    if found is not None:
        return _const(found)
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        return lambda: values_type([values])  # one value: a single row
    return lambda: values_type(list(values))
