"""Reading a policy's JSON object back (:meth:`loopml.serve.Policy.from_dict`): every
key known, every value of its type, else :class:`~loopml.errors.InvalidInput` whose
``field`` is the key.

>>> policy_options({"arms": [{"model": "churn@v3", "weight": 1}], "copy": "onnx"})["copy"]
'onnx'
>>> policy_options({"arms": [{"model": "churn@v3", "weight": "1"}]})
Traceback (most recent call last):
...
loopml.errors.InvalidInput: policy arms[0].weight '1' must be a number, not str
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from loopml._formats import check_format
from loopml.errors import InvalidInput

_KEYS = (
    "format",
    "arms",
    "routing",
    "epsilon",
    "canary",
    "shadows",
    "fallback",
    "key",
    "copy",
    "timeout_ms",
    "max_batch_rows",
    "max_wait_us",
)
_ARM_KEYS = ("model", "weight")
_KEY_KEYS = ("header", "field")


def policy_options(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :class:`~loopml.serve.Policy` a stored object holds,
    each of its type (the ranges are the policy's own checks)."""
    from loopml.serve._policy import FORMAT, KeySource

    if not isinstance(stored, Mapping):
        raise InvalidInput(
            f"a policy is a JSON object, not {type(stored).__name__} ({stored!r:.80}); give "
            "what Policy.to_dict() returns",
            field="policy",
        )
    _known_keys("policy key", stored, _KEYS, "")
    found = stored.get("format", FORMAT)
    check_format(found, FORMAT, "policy")
    if "arms" not in stored:
        raise InvalidInput(
            "policy has no arms: give 'arms': [{'model': 'churn@champion', 'weight': 1.0}]",
            field="arms",
        )
    options: dict[str, Any] = {"arms": _arms(stored["arms"])}
    for name in ("routing", "canary", "fallback", "copy"):
        if name in stored:
            options[name] = _text(stored[name], name, optional=name != "routing")
    for name in ("epsilon", "timeout_ms"):
        if name in stored:
            options[name] = _number(stored[name], name, optional=name == "timeout_ms")
    for name in ("max_batch_rows", "max_wait_us"):
        if name in stored:
            options[name] = _whole(stored[name], name)
    if "shadows" in stored:
        shadows = _list(stored["shadows"], "shadows")
        options["shadows"] = tuple(
            _text(shadow, f"shadows[{index}]") for index, shadow in enumerate(shadows)
        )
    if "key" in stored:
        key = stored["key"]
        if not isinstance(key, Mapping):
            raise InvalidInput(
                f"policy key {key!r:.80} must be an object such as "
                "{'header': 'X-Loopml-Key', 'field': null}",
                field="key",
            )
        _known_keys("policy key", key, _KEY_KEYS, "key.")
        header = _text(key.get("header"), "key.header", optional=True)
        options["key"] = KeySource(header=header, field=_text(key.get("field"), "key.field", True))
    return options


def _arms(arms: Any) -> tuple[Any, ...]:
    from loopml.serve._policy import Arm

    found = _list(arms, "arms")
    made = []
    for index, arm in enumerate(found):
        where = f"arms[{index}]"
        if not isinstance(arm, Mapping):
            raise InvalidInput(
                f"policy {where} {arm!r:.80} must be an object such as "
                "{'model': 'churn@champion', 'weight': 1.0}",
                field=where,
            )
        _known_keys("policy arm key", arm, _ARM_KEYS, f"{where}.")
        for name in _ARM_KEYS:
            if name not in arm:
                raise InvalidInput(
                    f"policy {where} has no {name!r}; every arm has 'model' (a ref) and "
                    "'weight' (its share of traffic)",
                    field=f"{where}.{name}",
                )
        model = _text(arm["model"], f"{where}.model")
        made.append(Arm(model, _number(arm["weight"], f"{where}.weight")))
    return tuple(made)


def _known_keys(what: str, found: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in found:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidInput(
            f"{what} {key!r:.60} is not one loopml knows; {hint}The keys are: "
            f"{', '.join(sorted(known))}",
            field=f"{prefix}{key}",
        )


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidInput(
            f"policy {name} {value!r:.80} must be a list, not {type(value).__name__}",
            field=name,
        )
    return list(value)


def _text(value: Any, name: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        kind = "text or null" if optional else "text"
        raise InvalidInput(
            f"policy {name} {value!r:.80} must be {kind}, not {type(value).__name__}",
            field=name,
        )
    return value


def _number(value: Any, name: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(
            f"policy {name} {value!r:.80} must be a number, not {type(value).__name__}",
            field=name,
        )
    return float(value)


def _whole(value: Any, name: str) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON from elsewhere may write 64 as 64.0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"policy {name} {value!r:.80} must be a whole number, not {type(value).__name__}",
            field=name,
        )
    return value
