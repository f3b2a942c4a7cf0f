"""Tensors of the Open Inference Protocol (KServe V2), and their three wire forms.

A :class:`Tensor` is a name, a V2 datatype, a shape and a NumPy array of that shape
(``BYTES``: an ``object`` array of ``bytes``). It comes from, and goes to:

- JSON ``data``: a flat or nested list of values in row-major order;
- raw bytes: the elements flattened, row-major, little-endian, no padding; ``BYTES``
  elements each as a 4-byte little-endian length and the bytes (Triton's binary-tensor
  extension over REST, and ``raw_input_contents`` / ``raw_output_contents`` over gRPC);
- gRPC typed contents (see :mod:`loopml.serve._v2`).

Every check names the tensor's ``field`` (``inputs[0]``, say) and says what was given and
what is expected. Nothing is allocated from a declared shape: sizes are checked against
the bytes or values actually received first.

>>> import numpy as np
>>> t = from_raw("x", "INT32", (2, 2), np.arange(4, dtype="<i4").tobytes(), "inputs[0]")
>>> t.data.tolist(), raw_bytes(t) == np.arange(4, dtype="<i4").tobytes()
([[0, 1], [2, 3]], True)
>>> from_data("x", "UINT8", (2,), [1, 300], "inputs[0]")
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: inputs[0] (x): a value is out of the range of UINT8 (0 to 255)
>>> from_data("s", "BYTES", (1, 2), [["a", "b"]], "inputs[1]").data.tolist()
[[b'a', b'b']]
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

#: V2 datatype -> the little-endian NumPy dtype of its elements (BYTES: object)
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("?"),
    "UINT8": np.dtype("u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
DATATYPES = tuple(DTYPES)
_KINDS_ACCEPTED = {"b": "b", "u": "iu", "i": "iu", "f": "iuf"}  # JSON value kinds per kind
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True)
class Tensor:
    """A named V2 tensor: ``data`` is shaped as ``shape`` (``BYTES``: dtype object,
    each element ``bytes``)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: npt.NDArray[Any]


def tensor_of(name: str, array: npt.ArrayLike) -> Tensor:
    """A tensor holding ``array``, its datatype read from its dtype: strings (and other
    objects) become ``BYTES`` (UTF-8 text).

    >>> tensor_of("p", np.array(["yes", "no"])).datatype
    'BYTES'
    """
    data = np.asarray(array)
    datatype = datatype_of(data.dtype)
    if datatype == "BYTES":
        data = _as_bytes_array(data)
    return Tensor(name, datatype, tuple(int(d) for d in data.shape), data)


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The V2 datatype of a NumPy dtype; ``BYTES`` for text, bytes and objects."""
    if dtype.kind in "biuf":
        found = {"b": "BOOL", "i": "INT", "u": "UINT", "f": "FP"}[dtype.kind]
        if dtype.kind in "iuf":
            found += str(dtype.itemsize * 8)
        if found in DTYPES:
            return found
        if dtype.kind == "f":  # float128 and the like: as FP64
            return "FP64"
    return "BYTES"


def check_datatype(datatype: Any, field: str) -> str:
    if not isinstance(datatype, str) or datatype not in DTYPES:
        raise InvalidInput(
            f"{field}.datatype is {datatype!r}; give one of {', '.join(DATATYPES)}",
            field=f"{field}.datatype",
        )
    return datatype


def check_shape(shape: Any, field: str) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints, or InvalidInput naming ``field``."""
    if not isinstance(shape, list | tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InvalidInput(
            f"{field}.shape is {shape!r}; give a list of sizes, each an integer >= 0 "
            "(for example [1, 30])",
            field=f"{field}.shape",
        )
    return tuple(shape)


def element_count(shape: Sequence[int]) -> int:
    """The elements a shape holds (a Python int: no overflow, nothing allocated)."""
    return math.prod(shape)


# -- JSON data ------------------------------------------------------------------------------


def from_data(
    name: str,
    datatype: str,
    shape: tuple[int, ...],
    data: Any,
    field: str,
    *,
    booleans: bool = True,
) -> Tensor:
    """A tensor from JSON ``data`` (a flat or nested list, row-major); ``booleans``:
    whether the JSON text holds a ``true`` or ``false`` at all (when it holds none, the
    values need not be looked through for one)."""
    count = element_count(shape)
    label = f"{field} ({name})"
    if not isinstance(data, list):
        raise InvalidInput(
            f"{label}: data is {_json_kind(data)}, not a list; give a list of "
            f"{_values_of(datatype, count)}",
            field=f"{field}.data",
        )
    if datatype == "BYTES":
        return Tensor(name, datatype, shape, _bytes_from_data(data, shape, count, label, field))
    dtype = DTYPES[datatype]
    try:
        given = np.asarray(data)
    except (ValueError, TypeError):
        given = None
    if given is not None and datatype == "UINT64" and given.dtype.kind in "fO":
        given = _uint64(data, given, label, field)  # values past INT64 make NumPy guess floats
    if given is None or (given.dtype.kind not in _KINDS_ACCEPTED[dtype.kind] and given.size):
        if given is not None and dtype.kind in "iu" and given.dtype.kind in "fO":
            _check_whole_numbers(given, data, dtype, datatype, label, field)
        expected = "true/false values" if datatype == "BOOL" else f"{datatype} numbers"
        raise InvalidInput(
            f"{label}: data holds {_kind_of(given, data)} where {expected} are expected; "
            f"give a flat or nested list of {_values_of(datatype, count)}",
            field=f"{field}.data",
        )
    if booleans and dtype.kind != "b" and given.dtype.kind != "b" and _holds_booleans(data):
        # NumPy reads true and false among numbers as 1 and 0
        raise InvalidInput(
            f"{label}: data holds true/false among the numbers where {datatype} numbers are "
            f"expected; give {_values_of(datatype, count)} (true/false go in a BOOL tensor)",
            field=f"{field}.data",
        )
    return from_array(name, datatype, shape, given, field)


def _check_whole_numbers(
    given: npt.NDArray[Any],
    data: list[Any],
    dtype: np.dtype[Any],
    datatype: str,
    label: str,
    field: str,
) -> None:
    """Whole numbers that NumPy (or the JSON reader, past 64 bits) made floats or
    objects of because one is past INT64's range: out of ``datatype``'s range, not
    decimals."""
    if given.dtype.kind == "f":
        if np.isfinite(given).all() and (given == np.trunc(given)).all():
            # as Python's integers: 2**63 as a float is not above INT64's largest as one
            lowest, highest = int(given.min()), int(given.max())
            _check_range(np.array([lowest, highest], object), dtype, datatype, label, field)
        return
    _whole_in_range(data, dtype, datatype, label, field)


def _holds_booleans(data: list[Any]) -> bool:
    return bool in set(map(type, _flatten(data)))


def from_array(
    name: str, datatype: str, shape: tuple[int, ...], given: npt.NDArray[Any], field: str
) -> Tensor:
    """A numeric tensor from an array of values of a kind that fits ``datatype`` (any
    shape holding as many elements), its values checked against the datatype's range."""
    count = element_count(shape)
    label = f"{field} ({name})"
    if given.size != count:
        raise InvalidInput(
            f"{label}: data holds {given.size} value(s) where shape {list(shape)} takes "
            f"{count}; send as many values as the shape holds",
            field=f"{field}.data",
        )
    dtype = DTYPES[datatype]
    if given.size and dtype.kind in "iu" and given.dtype != dtype:
        _check_range(given, dtype, datatype, label, field)
    if given.size and dtype.kind == "f" and given.dtype != dtype:
        narrowed = _narrowed(given, dtype, datatype, label, field)
        return Tensor(name, datatype, shape, narrowed.reshape(shape))
    return Tensor(name, datatype, shape, given.astype(dtype, copy=False).reshape(shape))


def json_data(tensor: Tensor) -> Any:
    """The flat ``data`` of a tensor for JSON: a NumPy array (orjson writes those with
    ``OPT_SERIALIZE_NUMPY``) or, for BYTES, a list of text."""
    if tensor.datatype == "BYTES":
        return [_text(item) for item in tensor.data.ravel()]
    dtype = DTYPES[tensor.datatype].newbyteorder("=")  # orjson writes native numbers only
    return np.ascontiguousarray(tensor.data, dtype=dtype).reshape(-1)


def _bytes_from_data(
    data: list[Any], shape: tuple[int, ...], count: int, label: str, field: str
) -> npt.NDArray[Any]:
    flat = _flatten(data)
    if len(flat) != count:
        raise InvalidInput(
            f"{label}: data holds {len(flat)} value(s) where shape {list(shape)} takes "
            f"{count}; send as many strings as the shape holds",
            field=f"{field}.data",
        )
    out = np.empty(count, dtype=object)
    for i, item in enumerate(flat):
        if not isinstance(item, str):
            raise InvalidInput(
                f"{label}: BYTES data holds {_json_kind(item)}; give strings",
                field=f"{field}.data",
            )
        out[i] = item.encode()
    return out.reshape(shape)


def _flatten(data: list[Any]) -> list[Any]:
    if not any(isinstance(item, list) for item in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _uint64(data: list[Any], given: npt.NDArray[Any], label: str, field: str) -> Any:
    if not _whole_in_range(data, DTYPES["UINT64"], "UINT64", label, field):
        return given
    return np.asarray(data, dtype=np.uint64)


def _whole_in_range(
    data: list[Any], dtype: np.dtype[Any], datatype: str, label: str, field: str
) -> bool:
    """Whether ``data`` holds Python integers only; raised when one is out of the
    range of ``datatype``."""
    values = np.asarray(data, dtype=object).reshape(-1)
    if not all(type(value) is int for value in values):
        return False
    if values.size:
        _check_range(values, dtype, datatype, label, field)
    return True


def _check_range(
    given: npt.NDArray[Any], dtype: np.dtype[Any], datatype: str, label: str, field: str
) -> None:
    info = np.iinfo(dtype)
    low, high = given.min(), given.max()
    if low < info.min or high > info.max:
        raise InvalidInput(
            f"{label}: a value is out of the range of {datatype} ({info.min} to {info.max})",
            field=f"{field}.data",
        )


def _narrowed(
    given: npt.NDArray[Any], dtype: np.dtype[Any], datatype: str, label: str, field: str
) -> npt.NDArray[Any]:
    """``given`` as ``dtype`` (FP32, FP16): a finite number past its largest would turn
    into infinity, and the model's refusal of it would be blamed on the model."""
    with np.errstate(over="ignore"):
        found = given.astype(dtype)
    finite = np.isfinite(found)
    if not finite.all() and finite.sum() < np.isfinite(given).sum():
        largest = float(np.finfo(dtype).max)
        raise InvalidInput(
            f"{label}: a value is out of the range of {datatype} (its largest is "
            f"{largest:.6g}); send smaller numbers or the tensor as FP64",
            field=f"{field}.data",
        )
    return found


def _kind_of(given: npt.NDArray[Any] | None, data: list[Any]) -> str:
    if given is None:
        return _uneven(data)
    return {"b": "booleans", "i": "integers", "u": "integers", "f": "decimals", "U": "strings"}.get(
        given.dtype.kind, "mixed values (or null)"
    )


def _uneven(data: list[Any]) -> str:
    """What keeps nested ``data`` from being one array: lists of different lengths on one
    level, or a list beside a value (nested deeper in some places than in others)."""
    level: list[Any] = data
    while level:
        lists = [item for item in level if isinstance(item, list)]
        if lists and len(lists) < len(level):
            return "a list beside values (lists nested deeper in some places than others)"
        if len({len(item) for item in lists}) > 1:
            return "lists of different lengths"
        level = [value for item in lists for value in item]
    return "lists of different lengths"


def _json_kind(value: Any) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"a number ({value!r:.40})"
    if isinstance(value, str):
        return f"text ({value!r:.40})"
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"


def _values_of(datatype: str, count: int) -> str:
    """``count`` values of ``datatype``, in words."""
    if datatype == "BOOL":
        words = "true/false values"
    else:
        words = "integers" if datatype.startswith(("INT", "UINT")) else "numbers"
    return f"{count:,} {words[:-1] if count == 1 else words}"


# -- raw bytes ------------------------------------------------------------------------------


def from_raw(
    name: str, datatype: str, shape: tuple[int, ...], raw: bytes | memoryview, field: str
) -> Tensor:
    """A tensor from raw bytes; the array is a view of them (no copy) for numbers."""
    count = element_count(shape)
    label = f"{field} ({name})"
    if datatype == "BYTES":
        data = _bytes_from_raw(raw, count, label, field)
        return Tensor(name, datatype, shape, data.reshape(shape))
    dtype = DTYPES[datatype]
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise InvalidInput(
            f"{label}: {len(raw)} byte(s) of data where shape {list(shape)} of {datatype} "
            f"takes {expected} ({count} x {dtype.itemsize}); send the tensor's elements "
            "flattened, row-major, little-endian",
            field=f"{field}.binary_data_size",
        )
    array = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL" and count and np.frombuffer(raw, dtype=np.uint8).max() > 1:
        raise InvalidInput(
            f"{label}: BOOL data has bytes other than 0 and 1; send one byte per element",
            field=f"{field}.data",
        )
    return Tensor(name, datatype, shape, array.reshape(shape))


def raw_bytes(tensor: Tensor) -> bytes:
    """A tensor's elements as raw bytes (row-major, little-endian)."""
    if tensor.datatype == "BYTES":
        items = tensor.data.ravel()
        return b"".join(_LENGTH.pack(len(b)) + b for b in map(_as_bytes, items))
    dtype = DTYPES[tensor.datatype]
    return np.ascontiguousarray(tensor.data, dtype=dtype).tobytes()


def _bytes_from_raw(raw: bytes | memoryview, count: int, label: str, field: str) -> Any:
    size = len(raw)
    if count * _LENGTH.size > size:  # before allocating anything for `count` elements
        raise InvalidInput(
            f"{label}: {size} byte(s) of BYTES data cannot hold {count} element(s) (each "
            "takes a 4-byte little-endian length and its bytes)",
            field=f"{field}.binary_data_size",
        )
    out = np.empty(count, dtype=object)
    view = memoryview(raw)
    offset = 0
    for i in range(count):
        if offset + _LENGTH.size > size:
            break
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        if offset + length > size:
            offset = size + 1
            break
        out[i] = bytes(view[offset : offset + length])
        offset += length
    if offset != size:
        raise InvalidInput(
            f"{label}: the BYTES data does not hold exactly {count} element(s) of a 4-byte "
            f"little-endian length and that many bytes ({size} byte(s) given)",
            field=f"{field}.binary_data_size",
        )
    return out


# -- text -----------------------------------------------------------------------------------


def _as_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    return str(item).encode()


def _as_bytes_array(data: npt.NDArray[Any]) -> npt.NDArray[Any]:
    out = np.empty(data.shape, dtype=object)
    flat = out.reshape(-1)
    for i, item in enumerate(data.reshape(-1).tolist()):
        flat[i] = _as_bytes(item)
    return out


def _text(item: Any) -> str:
    if isinstance(item, bytes):
        return item.decode("utf-8", errors="replace")
    return str(item)
