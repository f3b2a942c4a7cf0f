"""A fitted :class:`~loopml.evaluation.PerformanceEstimator` as a JSON object and back:
every key known and present, every value of its type and range, else
:class:`~loopml.errors.InvalidInput` whose ``field`` is the key. Floats are written as
Python writes them, so a loaded estimator gives the very same estimates; an undefined
metric of the reference (NaN) is written as null.

>>> read_json({"format": 2})
Traceback (most recent call last):
...
loopml.errors.InvalidInput: performance estimator format 2 is not one this loopml reads (1); ...
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml._formats import check_format
from loopml.errors import InvalidInput
from loopml.evaluation._estimate_calibrate import CHOICES, METHODS, ClassMap
from loopml.evaluation._estimate_metrics import BINARY, MULTICLASS

if TYPE_CHECKING:
    from loopml.evaluation._estimate import PerformanceEstimator

FORMAT = 1
_KEYS = (
    "format",
    "calibration",
    "folds",
    "level",
    "seed",
    "classes",
    "positive",
    "method",
    "maps",
    "reference",
)
_REFERENCE_KEYS = ("rows", "brier", "estimated", "realised")
_WHAT = "performance estimator"


def to_json(estimator: PerformanceEstimator) -> dict[str, Any]:
    reference = estimator.reference_
    return {
        "format": FORMAT,
        "calibration": estimator.calibration,
        "folds": estimator.folds,
        "level": estimator.level,
        "seed": estimator.seed,
        "classes": list(estimator.classes_),
        "positive": estimator.positive_,
        "method": estimator.method_,
        "maps": [
            {"x": list(m.x), "y": list(m.y)}
            if m.x
            else {"slope": m.slope, "intercept": m.intercept}
            for m in estimator.calibration_.maps
        ],
        "reference": {
            "rows": reference["rows"],
            **{key: _nulls(reference[key]) for key in ("brier", "estimated", "realised")},
        },
    }


def _nulls(values: dict[str, float]) -> dict[str, float | None]:
    return {name: value if math.isfinite(value) else None for name, value in values.items()}


def read_json(data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The estimator's options and its fitted state, checked."""
    if not isinstance(data, Mapping):
        _object(data, "estimator", _KEYS)  # raises: not an object
    found = data.get("format")
    check_format(found, FORMAT, _WHAT)
    stored = _object(data, "estimator", _KEYS)
    options = {
        "calibration": _choice(stored["calibration"], "calibration", CHOICES),
        "folds": _whole(stored["folds"], "folds"),
        "level": _number(stored["level"], "level"),
        "seed": _whole(stored["seed"], "seed"),
    }
    classes = stored["classes"]
    if not isinstance(classes, list) or len(classes) < 2:
        raise InvalidInput(f"{_WHAT} classes {classes!r:.80} must be a list of 2 or more")
    for index, each in enumerate(classes):
        if not isinstance(each, str | int | float | bool):
            raise InvalidInput(
                f"{_WHAT} classes[{index}] {each!r:.40} must be a string or a number",
                field=f"classes[{index}]",
            )
    positive = stored["positive"]
    binary = len(classes) == 2
    if (positive not in classes) if binary else (positive is not None):
        need = f"one of {classes!r:.80}" if binary else "null for more than two classes"
        raise InvalidInput(f"{_WHAT} positive {positive!r:.40} must be {need}", field="positive")
    method = _choice(stored["method"], "method", METHODS)
    fitted = {
        "classes": classes,
        "positive": positive,
        "calibration_method": method,
        "maps": _maps(stored["maps"], method, len(classes)),
        "reference": _reference(stored["reference"], BINARY if binary else MULTICLASS),
    }
    return options, fitted


def _maps(maps: Any, method: str, classes: int) -> tuple[ClassMap, ...]:
    if not isinstance(maps, list):
        raise InvalidInput(f"{_WHAT} maps {maps!r:.80} must be a list", field="maps")
    count = 0 if method == "none" else 1 if classes == 2 else classes
    if len(maps) != count:
        raise InvalidInput(
            f"{_WHAT} has {len(maps)} maps; method {method!r} of {classes} classes has {count}",
            field="maps",
        )
    found = []
    for index, each in enumerate(maps):
        where = f"maps[{index}]"
        if method == "sigmoid":
            stored = _object(each, where, ("slope", "intercept"))
            found.append(
                ClassMap(
                    slope=_number(stored["slope"], f"{where}.slope"),
                    intercept=_number(stored["intercept"], f"{where}.intercept"),
                )
            )
            continue
        stored = _object(each, where, ("x", "y"))
        x, y = (_numbers(stored[key], f"{where}.{key}") for key in ("x", "y"))
        ordered = all(a <= b for a, b in itertools.pairwise(x))
        ordered = ordered and all(a <= b for a, b in itertools.pairwise(y))
        if len(x) != len(y) or not x or not ordered or not all(0 <= v <= 1 for v in y):
            raise InvalidInput(
                f"{_WHAT} {where} must hold knots x and y of one length, both non-decreasing, "
                "y between 0 and 1",
                field=where,
            )
        found.append(ClassMap(x=tuple(x), y=tuple(y)))
    return tuple(found)


def _reference(reference: Any, metrics: tuple[str, ...]) -> dict[str, Any]:
    stored = _object(reference, "reference", _REFERENCE_KEYS)
    found: dict[str, Any] = {"rows": _whole(stored["rows"], "reference.rows")}
    for key in ("brier", "estimated", "realised"):
        values = stored[key]
        names = tuple(values) if key == "brier" and isinstance(values, Mapping) else metrics
        if key == "brier" and not set(names) <= set(METHODS):
            raise InvalidInput(f"{_WHAT} reference.brier names unknown methods {names!r:.80}")
        values = _object(values, f"reference.{key}", names)
        found[key] = {
            name: math.nan if value is None else _number(value, f"reference.{key}.{name}")
            for name, value in values.items()
        }
    return found


def _object(value: Any, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{_WHAT} {where} must be a JSON object, not {type(value).__name__}; give what "
            "PerformanceEstimator.to_dict() returns",
            field=where,
        )
    unknown = [key for key in value if key not in keys]
    missing = [key for key in keys if key not in value]
    if unknown or missing:
        wrong = f"unknown key {unknown[0]!r}" if unknown else f"no key {missing[0]!r}"
        raise InvalidInput(
            f"{_WHAT} {where} has {wrong}; its keys are {', '.join(keys)}",
            field=f"{where}.{(unknown or missing)[0]}",
        )
    return value


def _choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed or not isinstance(value, str):
        raise InvalidInput(
            f"{_WHAT} {where} {value!r:.40} must be one of {', '.join(allowed)}", field=where
        )
    return str(value)


def _whole(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(
            f"{_WHAT} {where} {value!r:.40} must be a whole number, 0 or more", field=where
        )
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{_WHAT} {where} {value!r:.40} must be a finite number", field=where)
    return float(value)


def _numbers(values: Any, where: str) -> list[float]:
    if not isinstance(values, list):
        raise InvalidInput(f"{_WHAT} {where} must be a list of numbers", field=where)
    return [_number(value, f"{where}[{index}]") for index, value in enumerate(values)]
