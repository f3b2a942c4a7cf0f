"""The value rules of the store contract: every backend checks a value with these before it
writes, and so do callers that must refuse a value before they hold on to it (the
tracking buffer).

A value passes only if both backends hold it and give it back unchanged: integers in
the column's range (64-bit, or 32-bit for versions and process ids), text without NUL
characters or lone surrogates (PostgreSQL refuses the first, UTF-8 cannot encode the
second), names within their column's length, and JSON documents of plain values with
text keys, nested at most :data:`MAX_JSON_DEPTH` deep (deeper ones cannot be read back
everywhere).

>>> check_int("metric 'loss' step", 2**63, INT64)
Traceback (most recent call last):
...
loopml.errors.InvalidInput: metric 'loss' step 9223372036854775808 is out of range: ...
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from loopml._time import to_us
from loopml.errors import InvalidInput
from loopml.store._records import MetricPoint, RunStatus

__all__ = [
    "INT32",
    "INT64",
    "MAX_JSON_DEPTH",
    "MAX_KEY",
    "check_int",
    "check_length",
    "check_limit",
    "check_metric_key",
    "check_name",
    "check_text",
    "in_range",
    "json_object",
    "json_value",
    "merge_params",
    "metric_row",
    "metric_step",
    "metric_value",
    "optional_text",
    "run_status",
    "storable_text",
]

INT64 = (-(2**63), 2**63 - 1)  # BIGINT, on both backends
INT32 = (-(2**31), 2**31 - 1)  # INTEGER on PostgreSQL (versions, process ids)
MAX_JSON_DEPTH = 64
MAX_KEY = 255  # metric keys, names, roles

# Segments start with a letter or digit, so no name is absolute or climbs with "..".
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def run_status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        raise InvalidInput(
            f"run status {status!r} is not one of " + ", ".join(s.value for s in RunStatus)
        ) from None


def check_name(name: str, what: str = "name", *, field: str | None = None) -> str:
    """``name`` if loopml can use it as an artifact name, else InvalidInput saying why
    (``field``: the argument that holds it, when the caller knows)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 255:
        raise InvalidInput(
            f"{what} {name!r} cannot be used: use letters, digits, '.', '_' and '-', with "
            "'/' between parts (each part starting with a letter or digit), at most 255 "
            "characters; for example 'churn' or 'team/churn-2024'",
            field=field,
        )
    return name


def check_length(what: str, value: str, max_length: int) -> None:
    """A name: text of 1 to ``max_length`` characters that a store can hold."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidInput(
            f"{what} {_shown(value)} must be a string of 1 to {max_length} characters"
        )
    check_text(what, value)


def check_text(what: str, value: str) -> str:
    """``value`` if a store can hold it as text, else InvalidInput naming the character."""
    found = _UNSTORABLE_TEXT.search(value)
    if found is not None:
        char = found.group()
        why = (
            "a NUL character (\\x00), which PostgreSQL cannot store"
            if char == "\x00"
            else f"a lone surrogate ({char!r}), which is not valid Unicode"
        )
        raise InvalidInput(
            f"{what} {_shown(value)} contains {why}; remove it or escape it (e.g. with repr())"
        )
    return value


def optional_text(what: str, value: str | None, max_length: int | None = None) -> str | None:
    """Free text (a URI, an error, a message), None allowed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} {_shown(value)} must be text")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"{what} {_shown(value)} is longer than {max_length} characters")
    return check_text(what, value)


def storable_text(text: str) -> str:
    """Text loopml writes itself (an error message, a traceback) made storable: a NUL or
    a lone surrogate is written as its escape, so the record is kept, not refused."""
    return _UNSTORABLE_TEXT.sub(lambda found: repr(found.group())[1:-1], text)


def check_int(what: str, value: Any, bounds: tuple[int, int] = INT64) -> int:
    """A whole number within ``bounds`` (an int or NumPy integer; not a bool)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise InvalidInput(f"{what} {_shown(value)} must be a whole number") from None
    low, high = bounds
    if not low <= number <= high:
        raise InvalidInput(
            f"{what} {number} is out of range: a store holds whole numbers from {low} to {high}"
        )
    return number


def check_limit(limit: int | None) -> int | None:
    """A query's ``limit``: None, or a whole number from 0."""
    if limit is None:
        return None
    return check_int("limit", limit, (0, INT64[1]))


def in_range(value: Any, bounds: tuple[int, int]) -> bool:
    """Whether a lookup value could be stored at all (if not, nothing can match it)."""
    return isinstance(value, int) and bounds[0] <= value <= bounds[1]


def metric_value(key: str, value: Any) -> float:
    """A metric's value as a float; NaN and infinities are kept."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"metric {key!r} = {_shown(value)} is not a number; log numbers (accuracy, "
            "loss, ...), and text as a tag or parameter"
        ) from None
    except OverflowError:
        raise InvalidInput(
            f"metric {key!r} = {_shown(value)} is too large for a 64-bit float; log it "
            "scaled (its logarithm, or in larger units)"
        ) from None


def metric_step(key: str, step: Any) -> int:
    """A metric's step: a whole number (a float that is one is taken) in 64 bits."""
    if isinstance(step, float) and step.is_integer():
        step = int(step)
    return check_int(f"metric {key!r} step", step)


def check_metric_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise InvalidInput(
            f"metric key {_shown(key)} must be a string of 1 to {MAX_KEY} characters"
        )
    return check_text("metric key", key)


def metric_row(run_id: str, point: MetricPoint, now: int) -> dict[str, Any]:
    """A metric point as a row, or InvalidInput naming what is wrong with it."""
    key = check_metric_key(point.key)
    value = metric_value(key, point.value)
    step = metric_step(key, point.step)
    if point.at is not None and not isinstance(point.at, datetime):
        raise InvalidInput(f"metric {key!r} time {_shown(point.at)} must be a datetime")
    return {
        "run_id": run_id,
        "key": key,
        "step": step,
        "value": None if math.isnan(value) else value,
        "at": now if point.at is None else to_us(point.at),
    }


def json_object(what: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plain JSON object, or InvalidInput naming the key that cannot be stored."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping of names to values, got {_shown(value)}")
    whole = _whole_object(value)
    if whole is not None:
        return whole
    plain: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidInput(f"{what} key {_shown(key)} must be a string")
        check_text(f"{what} key", key)
        problem = _json_problem(item)
        if problem is None:
            try:
                text = json.dumps(item, allow_nan=False, ensure_ascii=False)
            except (TypeError, ValueError) as error:
                problem = str(error)
            else:
                if not _unstorable_json(text):
                    plain[key] = json.loads(text)
                    continue
                problem = "it holds text with a NUL character or a lone surrogate"
        raise InvalidInput(
            f"{what} {key!r} = {_shown(item)} cannot be stored as JSON ({problem}); pass "
            "numbers, strings, booleans, None, and lists or text-keyed dicts of those"
        )
    return plain


def json_value(what: str, value: Any) -> Any:
    """A plain JSON value (a number, text, a boolean, None, or a list or object of
    those), as it reads back, or InvalidInput saying what cannot be stored.

    >>> json_value("label", ("spam", 1))
    ['spam', 1]
    """
    try:
        return json_object(what, {"value": value})["value"]
    except InvalidInput as error:
        raise InvalidInput(str(error).replace(f"{what} 'value' = ", f"{what} ", 1)) from None


def _whole_object(value: Mapping[str, Any]) -> dict[str, Any] | None:
    """``value`` checked and copied as one JSON text, the quick way for the common case;
    None when anything may be wrong with it, for the key-by-key check to name what. It
    takes less than that check (the object is one level deeper than its values), never
    more."""
    if not isinstance(value, dict) or _json_problem(value) is not None:
        return None
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None
    if _unstorable_json(text):
        return None
    plain: dict[str, Any] = json.loads(text)
    return plain


# An escaped NUL in JSON text: an escape starts after an even run of backslashes.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _unstorable_json(text: str) -> bool:
    """Whether JSON text holds a NUL (escaped) or a lone surrogate (which
    ``json.dumps(ensure_ascii=False)`` leaves as it is); the plain searches first, as
    the pattern is slow on long text."""
    if "\\u0000" in text and _ESCAPED_NUL.search(text):
        return True
    return not text.isascii() and not _encodes(text)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_CONTAINERS = (dict, list, tuple)


def _json_problem(item: Any) -> str | None:
    """What JSON would silently change, or not read back everywhere, in ``item``: a key
    that is not text (JSON would make it one), too deep a nesting. The rest (types,
    NaN, text) is found in or by ``json.dumps``."""
    stack = [(item, 1)] if isinstance(item, _CONTAINERS) else []
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nested more than {MAX_JSON_DEPTH} levels deep"
        inner: Iterable[Any] = value
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    return f"the key {_shown(key)} is not text"
            inner = value.values()
        stack.extend((v, depth + 1) for v in inner if isinstance(v, _CONTAINERS))
    return None


def merge_params(run_id: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` with ``new`` added; InvalidInput if ``new`` changes a parameter's value."""
    added = json_object("run params", new)
    for key, value in added.items():
        if key in old and old[key] != value:
            raise InvalidInput(
                f"parameter {key!r} of run {run_id} is already {old[key]!r}, so it cannot "
                f"become {value!r}: a run's parameters do not change; log the new value in a "
                "new run, or as a metric or tag"
            )
    return {**old, **added}


def _shown(value: Any) -> str:
    """``repr`` of a value, cut to a readable length for an error message."""
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails is named by its type
        return f"<{type(value).__name__}>"
    return text if len(text) <= 80 else f"{text[:77]}..."
