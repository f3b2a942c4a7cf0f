"""A prediction's inputs and outputs as typed Arrow columns, not text.

A record's ``inputs`` (column name -> that request's values, one per row) and
``outputs`` (``{"predictions": [...], "probabilities": [[...], ...]}``) become one
struct column each, with a field per name holding the record's values as a list of
their own type (a list of lists for a 2-D value such as the probabilities). Reading a
window of predictions back is then a typed Parquet read, not the parse of a JSON text
per record (Polars parses about 200,000 records of 20 inputs a second; a typed read of
the same takes milliseconds), and writing costs about what the JSON did.

Records whose values do not make one typed column (a name whose values are numbers in
one record and text in another, a 3-D value, an object Arrow cannot type, anything but
a mapping) are kept as JSON text instead, the whole column of that batch: never lost,
and read back as the same mapping.

>>> column = nested_column([{"x": [1.5, 2.0], "plan": ["a", "b"]}, None, {"x": [3.0]}])
>>> column.type
StructType(struct<x: list<item: double>, plan: list<item: string>>)
>>> column.to_pylist()[2]
{'x': [3.0], 'plan': None}
>>> nested_column([{"x": [1]}, {"x": ["text"]}]).type  # no one type: JSON text
DataType(string)
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from loopml.serve._columns import MatrixColumns
from loopml.serve._json import encode_json

_NUMBERS = frozenset("biuf")  # kinds that may mix in one column (NumPy promotes them)
_KINDS = _NUMBERS | frozenset("USMm")  # what a typed column holds: numbers, text, times


class _NotTyped(Exception):
    """The values cannot make one typed column: the batch keeps them as JSON text."""


def nested_column(values: Sequence[Any]) -> pa.Array:
    """One record's mapping (or None) per element, as a struct column of lists; as
    JSON text when they do not type (see the module's text)."""
    try:
        return _struct(values)
    except (_NotTyped, pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([None if v is None else encode_json(v) for v in values], pa.string())


def _struct(values: Sequence[Any]) -> pa.StructArray:
    present = [value for value in values if value is not None]
    if not all(isinstance(value, dict | Mapping) for value in present):
        raise _NotTyped
    keys = [tuple(value) for value in present]
    first = keys[0] if keys else ()
    same = keys.count(first) == len(keys)  # every record the same names, in one order
    names = list(first) if same else list(dict.fromkeys(n for each in keys for n in each))
    if not names or not all(keys) or not all(isinstance(name, str) for name in names):
        raise _NotTyped
    children = _alike(values, names) if same and len(present) == len(values) else None
    if children is None:
        children = [_lists([None if v is None else v.get(name) for v in values]) for name in names]
    missing = pa.array([v is None for v in values], pa.bool_())
    return pa.StructArray.from_arrays(children, names=names, mask=missing)


_DTYPE = operator.attrgetter("dtype")
_NDIM = operator.attrgetter("ndim")


def _alike(values: Sequence[Any], names: list[str]) -> list[pa.Array] | None:
    """The columns of records that are all alike, or None: every record (none missing)
    with ``names`` in that order, each value a 1-D array of one length, at least one
    row, the first record's of one dtype (what the server logs for requests of one
    form; numbers of later records that NumPy joins into the first's dtype are widened
    to it, as the general way widens them). Then every value of every record is joined
    in one call and each column is a slice of one array: a few microseconds a record
    instead of a step per name and record."""
    if set(map(type, values)) == {MatrixColumns}:
        return _from_matrices(values, len(names))
    given = list(values[0].values())
    if not all(type(a) is np.ndarray for a in given):
        return None
    rows, dtype = len(given[0]) if given[0].ndim == 1 else 0, given[0].dtype
    if not rows or dtype.kind not in _KINDS or any(a.dtype != dtype for a in given):
        return None  # one dtype for every name, or the general way types each name
    arrays = [array for value in values for array in value.values()]
    if (
        set(map(type, arrays)) != {np.ndarray}
        or set(map(_NDIM, arrays)) != {1}
        or set(map(len, arrays)) != {rows}
    ):
        return None
    try:
        if set(map(_DTYPE, arrays)) == {dtype}:
            joined = np.concatenate(arrays)
        else:  # several dtypes: each record's values must join into the first's dtype
            blocks = [np.concatenate(list(value.values())) for value in values]
            if not all(_same_type(block.dtype, dtype) for block in blocks):
                return None
            joined = np.concatenate(blocks)
    except (ValueError, TypeError):
        return None
    # records x names x rows -> names x (records, rows): each name's values contiguous
    by_name = np.ascontiguousarray(
        joined.reshape(len(values), len(names), rows).transpose(1, 0, 2)
    ).reshape(len(names), -1)
    offsets = pa.array(np.arange(0, len(values) * rows + 1, rows, dtype=np.int32))
    return [pa.ListArray.from_arrays(offsets, pa.array(column)) for column in by_name]


def _from_matrices(values: Sequence[Any], width: int) -> list[pa.Array] | None:
    """The columns of requests that each came as one matrix of the same columns: their
    matrices side by side, one list of values per column, as many rows each as its
    request had (None: of several dtypes, or a request of no rows, which the general
    way types)."""
    matrices = [value.rows for value in values]
    dtype = matrices[0].dtype
    if (
        dtype.kind not in _KINDS
        or any(matrix.dtype != dtype for matrix in matrices)
        or any(matrix.shape[1] != width for matrix in matrices)
    ):
        return None
    lengths = np.fromiter((matrix.shape[0] for matrix in matrices), np.int64, len(matrices))
    if not lengths.all():
        return None
    offsets = np.zeros(len(matrices) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    # columns x every request's rows: the one copy from rows to columns, a request at
    # a time (the whole batch turned at once leaves the cache: 8 times slower)
    joined = np.empty((width, int(offsets[-1])), dtype=dtype)
    for matrix, start, end in zip(matrices, offsets[:-1], offsets[1:], strict=True):
        joined[:, start:end] = matrix.T
    starts = pa.array(offsets)
    return [pa.ListArray.from_arrays(starts, pa.array(column)) for column in joined]


def _same_type(a: np.dtype[Any], b: np.dtype[Any]) -> bool:
    """Whether two dtypes make one Arrow type (text of any width is text)."""
    return a == b or (a.kind == b.kind and a.kind in "US")


def _lists(parts: Sequence[Any]) -> pa.ListArray:
    """One list per record: its values (None: the record has none under this name)."""
    arrays: list[np.ndarray[Any, Any]] = []
    lengths = np.zeros(len(parts), dtype=np.int64)
    missing = np.zeros(len(parts), dtype=bool)
    for index, part in enumerate(parts):
        if part is None:
            missing[index] = True
            continue
        array = np.asarray(part)
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim > 2 or array.dtype.kind not in _KINDS:
            raise _NotTyped
        arrays.append(array)
        lengths[index] = len(array)
    offsets = np.zeros(len(parts) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    items = _items(arrays)
    return pa.ListArray.from_arrays(pa.array(offsets), items, mask=pa.array(missing))


def _items(arrays: list[np.ndarray[Any, Any]]) -> pa.Array:
    """The values of every record, one after the other: rows of a 2-D value as lists."""
    if not arrays:
        return pa.array([], pa.null())
    kinds = {array.dtype.kind for array in arrays}
    if len(kinds) > 1 and not kinds <= _NUMBERS:
        raise _NotTyped
    if {array.ndim for array in arrays} != {arrays[0].ndim}:
        raise _NotTyped
    flat = np.concatenate(arrays)
    if flat.ndim == 1:
        return pa.array(flat)
    width = flat.shape[1]
    inner = np.arange(0, flat.shape[0] * width + 1, width, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(inner), pa.array(flat.reshape(-1)))
