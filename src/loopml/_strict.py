"""A record given as a mapping (a TOML table, a stored JSON object) read strictly into a
frozen dataclass: every key must name a field (a typo is an error naming it and the
closest field, never a default silently taken), every value must be of the field's
type, and a field without a default must be given.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Budget:
...     rows: int
...     share: float = 0.5
...     note: str | None = None
>>> read_record(Budget, {"rows": 10}, "budget")
Budget(rows=10, share=0.5, note=None)
>>> read_record(Budget, {"rows": 10, "shares": 0.2}, "budget")
Traceback (most recent call last):
...
loopml.errors.InvalidInput: budget has no setting 'shares'; did you mean 'share'? ...
>>> read_record(Budget, {"rows": "ten"}, "budget")
Traceback (most recent call last):
...
loopml.errors.InvalidInput: budget rows must be a whole number, not 'ten' (text)
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from loopml.errors import InvalidInput

T = TypeVar("T")

_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def read_record(cls: type[T], data: Any, what: str, prefix: str = "") -> T:
    """``data`` as a ``cls``; ``what`` names the record in errors, ``prefix`` is the
    path of the field that holds it (for an error's ``field``)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"{what} must be a table of settings ({', '.join(fields)}), not {_shown(data)}",
            field=prefix.rstrip(".") or None,
        )
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InvalidInput(
                f"{what} has no setting {key!r:.60}; {hint}its settings are: {', '.join(fields)}",
                field=f"{prefix}{key}",
            )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _value(hints[name], data[name], f"{what} {name}", f"{prefix}{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise InvalidInput(f"{what} has no {name!r}: give it", field=f"{prefix}{name}")
    return cls(**values)


def record_dict(record: Any) -> dict[str, Any]:
    """A record read by :func:`read_record` as the mapping it reads back from (tuples as
    lists, None values left out so that TOML can hold it too)."""
    found: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = record_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        found[field.name] = value
    return found


def _value(hint: Any, value: Any, what: str, field: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        kinds = [arg for arg in args if arg is not type(None)]
        for kind in kinds:
            if _fits(kind, value):
                return _value(kind, value, what, field)
        wanted = " or ".join(
            _NAMES.get(kind, getattr(kind, "__name__", str(kind))) for kind in kinds
        )
        raise InvalidInput(f"{what} must be {wanted}, not {_shown(value)}", field=field)
    if dataclasses.is_dataclass(hint):
        return read_record(hint, value, what, f"{field}.")  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise InvalidInput(f"{what} must be a list, not {_shown(value)}", field=field)
        return tuple(_value(args[0], item, what, field) for item in value)
    if origin is dict or hint is Any:
        if origin is dict and not isinstance(value, Mapping):
            raise InvalidInput(f"{what} must be a table, not {_shown(value)}", field=field)
        return dict(value) if origin is dict else value
    if not _fits(hint, value):
        raise InvalidInput(f"{what} must be {_NAMES[hint]}, not {_shown(value)}", field=field)
    return float(value) if hint is float else value


def _fits(kind: Any, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(kind):
        return isinstance(value, Mapping)
    return True


def _shown(value: Any) -> str:
    kind = "text" if isinstance(value, str) else type(value).__name__
    return f"{value!r:.60} ({kind})"
