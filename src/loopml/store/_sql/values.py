"""Checks of the values a store call is given, shared by the store's modules."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from loopml._time import to_us
from loopml.errors import InvalidInput
from loopml.store._records import MetricPoint, RunStatus


def run_status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        raise InvalidInput(
            f"run status {status!r} is not one of " + ", ".join(s.value for s in RunStatus)
        ) from None


# The largest integer both backends store (a signed 64-bit column).
MAX_INT = 2**63 - 1


def row_limit(what: str, limit: int | None) -> int | None:
    """A query's row limit: negative is refused; one above any row count a table can
    have is the same as none."""
    if limit is None:
        return None
    if limit < 0:
        raise InvalidInput(f"{what} limit {limit} must not be negative")
    return min(limit, MAX_INT)


def check_length(what: str, value: str, max_length: int) -> None:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidInput(f"{what} {value!r} must be a string of 1 to {max_length} characters")


def json_object(what: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plain JSON object, or InvalidInput naming the key that cannot be stored."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping of names to values, got {value!r}")
    plain: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidInput(f"{what} key {key!r} must be a string")
        try:
            plain[key] = json.loads(json.dumps(item, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise InvalidInput(
                f"{what} {key!r} = {item!r} cannot be stored as JSON ({error}); "
                "pass numbers, strings, booleans, None, lists or dicts of those"
            ) from None
    return plain


def metric_row(run_id: str, point: MetricPoint, now: int) -> dict[str, Any]:
    """A metric point as a row, or InvalidInput naming what is wrong with it."""
    try:
        value = float(point.value)
        step = int(point.step)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"metric {point.key!r} needs a number value and an integer step, got "
            f"value={point.value!r} step={point.step!r}"
        ) from None
    if not isinstance(point.key, str) or not point.key or len(point.key) > 255:
        raise InvalidInput(f"metric key {point.key!r} must be a string of 1 to 255 characters")
    return {
        "run_id": run_id,
        "key": point.key,
        "step": step,
        "value": None if math.isnan(value) else value,
        "at": now if point.at is None else to_us(point.at),
    }


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
