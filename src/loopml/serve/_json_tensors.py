"""A large V2 JSON request read with its numeric tensors straight into arrays.

orjson turns a 1,000-row request's ``data`` into 31,000 Python objects that NumPy then
reads one by one and Python frees: two thirds of the server's CPU for that request.
simdjson (``pysimdjson``, with the ``serve`` extra) parses the body into its own tape,
from which each tensor's numbers are copied into an array in one call, never becoming
Python objects.

:func:`loads_with_arrays` gives what ``orjson.loads`` gives, except that each input's
``data`` is a flat NumPy array of the values in order (float64 for a float datatype,
int64 for an integer one), to be shaped and checked as any other. It answers only where
that is exactly what the slow way would accept, and None otherwise (the caller then
reads the body with orjson, which gives the error or the unusual case its usual
handling): simdjson missing or the body small, a datatype it does not read (BOOL,
BYTES, UINT64), a value of another type (text, null, true, a decimal in an integer
tensor), a nesting NumPy would not make one array of (rows of different lengths, a
list inside a row), or anything simdjson reads otherwise than orjson.

The nesting is checked without visiting the values: the rows' lengths are read (the
data's own list, and each row), and the number of ``[`` in the body must be exactly the
lists the request holds: those outside the data (counted in the small rest, which must
hold no ``[`` in its text), plus one for a flat ``data`` or one and one per row for a
nested one. A list hidden inside a row, or a value that simdjson kept and orjson would
have dropped (a key given twice), adds a ``[`` or changes the count, and the body is
read the slow way.

>>> body = b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32",'
>>> body += b' "data": [[1.5, 2], [3, 4]]}]}'
>>> found = loads_with_arrays(body, smallest=0)
>>> found["inputs"][0]["data"]
array([1.5, 2. , 3. , 4. ])
>>> loads_with_arrays(body.replace(b"[3, 4]", b"[3, [4]]"), smallest=0) is None
True
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import numpy as np

# Below this many bytes orjson is as quick (simdjson's set-up costs a few
# microseconds; measured: 7 against 10 us for one row of 30 numbers, even at five rows,
# 19 against 15 us at ten): a one-row request stays on it.
SMALLEST = 2_048

# The simdjson buffer type each datatype is read with (d: float64, i: int64); the
# others are read the slow way.
_KINDS = {"FP16": "d", "FP32": "d", "FP64": "d", "INT8": "i", "INT16": "i", "INT32": "i",
          "INT64": "i", "UINT8": "i", "UINT16": "i", "UINT32": "i"}  # fmt: skip
_DTYPES: dict[str, np.dtype[Any]] = {"d": np.dtype(np.float64), "i": np.dtype(np.int64)}


@functools.cache
def _simdjson() -> Any:
    """The module, imported with the first large request (2 MB a server of one-row
    requests does without), or None without the ``serve`` extra's pysimdjson."""
    try:
        return importlib.import_module("simdjson")
    except ImportError:
        return None


_BOM = b"\xef\xbb\xbf"


class _Slow(Exception):
    """The body is to be read the slow way."""


def loads_with_arrays(body: bytes, *, smallest: int = SMALLEST) -> dict[str, Any] | None:
    """The JSON object of ``body`` with each input's numeric ``data`` as an array, or
    None when it is to be read with orjson (see the module's text)."""
    simdjson = _simdjson() if len(body) >= smallest else None
    if simdjson is None or body.startswith(_BOM):  # simdjson skips a BOM, orjson refuses it
        return None
    try:
        document = simdjson.Parser().parse(body)
        if not isinstance(document, simdjson.Object):
            return None
        found, lists = _request(document, simdjson)
    except (_Slow, ValueError, TypeError, RuntimeError):
        return None
    if body.count(b"[") != lists:
        return None
    return found


def _request(document: Any, simdjson: Any) -> tuple[dict[str, Any], int]:
    found, lists = _fields(document, simdjson, but="inputs")
    given = document.get("inputs")
    if not isinstance(given, simdjson.Array):
        raise _Slow
    inputs = [_input(item, simdjson) for item in given]
    found["inputs"] = [each for each, _ in inputs]
    lists += 1 + sum(count for _, count in inputs)
    if len(found) != len(document):  # a key given twice: orjson keeps the last
        raise _Slow
    return found, lists


def _input(item: Any, simdjson: Any) -> tuple[dict[str, Any], int]:
    if not isinstance(item, simdjson.Object):
        raise _Slow
    found, lists = _fields(item, simdjson, but="data")
    datatype = found.get("datatype")
    kind = _KINDS.get(datatype) if isinstance(datatype, str) else None
    data = item.get("data")
    if kind is None or not isinstance(data, simdjson.Array) or not len(data):
        raise _Slow
    found["data"], data_lists = _values(data, kind, simdjson)
    if len(found) != len(item):
        raise _Slow
    return found, lists + data_lists


def _fields(item: Any, simdjson: Any, *, but: str) -> tuple[dict[str, Any], int]:
    """An object's fields as Python objects, all ``but`` one, and the lists they hold."""
    found: dict[str, Any] = {}
    lists = 0
    for key in item.keys():  # noqa: SIM118 (items() would make Python objects of all)
        if key != but:
            found[key] = _plain(item[key], simdjson)
            lists += _lists(key) + _lists(found[key])
    return found, lists


def _values(data: Any, kind: str, simdjson: Any) -> tuple[np.ndarray[Any, Any], int]:
    """The values of ``data`` in order, and the lists it holds if it is as regular as it
    looks: flat, or rows of one length."""
    lists = 1
    if isinstance(data[0], simdjson.Array):
        if len(set(map(len, data))) != 1:  # a number among the rows: len() raises
            raise _Slow
        lists += len(data)
    return np.frombuffer(data.as_buffer(of_type=kind), dtype=_DTYPES[kind]), lists


def _plain(value: Any, simdjson: Any) -> Any:
    """A value outside the data as Python objects (orjson's)."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _lists(value: Any) -> int:
    """The lists in a small value; :class:`_Slow` when a text in it holds a ``[``."""
    if isinstance(value, str):
        if "[" in value:
            raise _Slow
        return 0
    if isinstance(value, list):
        return 1 + sum(map(_lists, value))
    if isinstance(value, dict):
        return sum(_lists(key) + _lists(item) for key, item in value.items())
    return 0
