"""Checks of the values a store call is given, shared by the store's modules."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInput
from loopml.store._records import RunStatus


def run_status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        raise InvalidInput(
            f"run status {status!r} is not one of " + ", ".join(s.value for s in RunStatus)
        ) from None


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
