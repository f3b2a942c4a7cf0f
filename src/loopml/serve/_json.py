"""JSON text of what the logs keep as text: a feedback's label, and a prediction's inputs
and outputs where they do not make typed columns (orjson when installed).

>>> encode_json({"x": [1, 2]}), _stdlib_json({"x": [1, 2]})
('{"x":[1,2]}', '{"x":[1,2]}')
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _plain(value: Any) -> Any:
    """What JSON keeps of a value it cannot hold: NumPy's as lists, anything else as text."""
    to_list = getattr(value, "tolist", None)
    return to_list() if callable(to_list) else str(value)


def _stdlib_json(value: Any) -> str:
    """JSON as orjson writes it (compact), from the standard library."""
    return json.dumps(value, default=_plain, ensure_ascii=False, separators=(",", ":"))


def _json_encoder() -> Callable[[Any], str]:
    try:
        import orjson
    except ImportError:
        return _stdlib_json
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS

    def encode(value: Any) -> str:
        return orjson.dumps(value, default=_plain, option=options).decode()

    return encode


_ENCODE = _json_encoder()


def encode_json(value: Any) -> str:
    """``value`` as JSON text; never raises (what JSON cannot hold is kept as text)."""
    try:
        return _ENCODE(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return _stdlib_json(value)
        except (TypeError, ValueError, OverflowError):
            return json.dumps(repr(value))


def why_not_json(error: ValueError, body: bytes | memoryview) -> str:
    """The parser's reason ``body`` is not JSON; where it stopped at a NaN or an
    Infinity (Python's ``json.dumps`` writes them), that JSON has none.

    >>> import orjson
    >>> try:
    ...     orjson.loads(b"[1.0, NaN]")
    ... except orjson.JSONDecodeError as error:
    ...     print(why_not_json(error, b"[1.0, NaN]"))  # doctest: +ELLIPSIS
    unexpected character...; NaN and Infinity are not JSON: send null for a missing value
    """
    reason = str(error)
    at = getattr(error, "pos", None)
    if isinstance(at, int):
        around = bytes(body[max(0, at - 1) : at + 9])
        if b"NaN" in around or b"Infinity" in around:
            reason += "; NaN and Infinity are not JSON: send null for a missing value"
    if "number is infinity" in reason:  # orjson: a literal such as 1e400
        reason += "; a number past 1.8e308, the largest a float holds, is taken by no model"
    return reason
