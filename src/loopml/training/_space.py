"""A tuning search space: each parameter a float or integer range or a set of choices.

>>> space = parse_space({"C": (0.01, 100.0, "log"), "kernel": ["rbf", "poly"], "depth": (2, 8)})
>>> [(name, type(p).__name__) for name, p in space.items()]
[('C', 'Float'), ('kernel', 'Choice'), ('depth', 'Int')]
>>> grid_of(parse_space({"depth": (2, 4), "kernel": ["rbf"]}))
{'depth': [2, 3, 4], 'kernel': ['rbf']}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInput

SPACE_HELP = (
    "give each parameter as (low, high) for a range — floats for a float range, ints for "
    "an integer range, with 'log' as a third item for a log scale — or as a list of "
    "choices; for example {'C': (0.01, 100.0, 'log'), 'depth': (2, 8), 'kernel': ['rbf', "
    "'poly']}"
)
GRID_LIMIT = 100_000


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False
    grid: tuple[float, ...] | None = None  # the values grid search tries

    def suggest(self, trial: Any, name: str) -> float:
        return float(trial.suggest_float(name, self.low, self.high, log=self.log))


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    log: bool = False

    def suggest(self, trial: Any, name: str) -> int:
        return int(trial.suggest_int(name, self.low, self.high, log=self.log))


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.values))


Parameter = Float | Int | Choice


def parse_space(space: Mapping[str, Any]) -> dict[str, Parameter]:
    """Each entry of ``space`` as a Float, Int or Choice, or InvalidInput naming it."""
    if not isinstance(space, Mapping) or not space:
        raise InvalidInput(f"the search space {space!r} is empty; {SPACE_HELP}")
    return {name: _parameter(name, spec) for name, spec in space.items()}


def _parameter(name: str, spec: Any) -> Parameter:
    if isinstance(spec, Float | Int | Choice):
        _check_range(name, spec)
        return spec
    if isinstance(spec, list):
        if not spec:
            raise InvalidInput(f"parameter {name!r} has an empty list of choices; {SPACE_HELP}")
        for value in spec:
            if not (value is None or isinstance(value, bool | int | float | str)):
                raise InvalidInput(
                    f"parameter {name!r}: choice {value!r} is not a number, text, bool or "
                    "None; give choices that can be stored and compared"
                )
        return Choice(tuple(spec))
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        low, high, *scale = spec
        log = scale == ["log"]
        if scale and not log:
            raise InvalidInput(f"parameter {name!r}: scale {scale[0]!r} is not 'log'")
        numbers = (int, float)
        if not all(isinstance(v, numbers) and not isinstance(v, bool) for v in (low, high)):
            raise InvalidInput(f"parameter {name!r}: range {spec!r} needs two numbers")
        made: Parameter
        if isinstance(low, int) and isinstance(high, int):
            made = Int(low, high, log)
        else:
            made = Float(float(low), float(high), log)
        _check_range(name, made)
        return made
    raise InvalidInput(f"parameter {name!r} = {spec!r} is not a range or a list; {SPACE_HELP}")


def _check_range(name: str, parameter: Parameter) -> None:
    if isinstance(parameter, Choice):
        if not parameter.values:
            raise InvalidInput(f"parameter {name!r} has no choices; give at least one")
        return
    low, high = parameter.low, parameter.high
    if isinstance(parameter, Float) and not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidInput(f"parameter {name!r}: range ({low}, {high}) must be finite")
    if low > high or (isinstance(parameter, Float) and low == high):
        raise InvalidInput(
            f"parameter {name!r} has an empty range ({low}, {high}): the low end must be "
            "below the high end; for a fixed value pass it to the objective yourself"
        )
    if parameter.log and low <= 0:
        raise InvalidInput(
            f"parameter {name!r}: a log-scale range must be above 0, got ({low}, {high})"
        )


def grid_of(space: Mapping[str, Parameter]) -> dict[str, list[Any]]:
    """The values grid search tries for each parameter."""
    grid: dict[str, list[Any]] = {}
    for name, parameter in space.items():
        if isinstance(parameter, Choice):
            grid[name] = list(parameter.values)
        elif isinstance(parameter, Int):
            grid[name] = list(range(parameter.low, parameter.high + 1))
        elif parameter.grid is not None:
            grid[name] = list(parameter.grid)
        else:
            raise InvalidInput(
                f"grid search cannot enumerate the float range {name!r} "
                f"({parameter.low}, {parameter.high}); give its values as a list, "
                f"e.g. {name!r}: [0.1, 1.0, 10.0], or use method='random' or 'tpe'"
            )
    size = math.prod(len(values) for values in grid.values())
    if size > GRID_LIMIT:
        raise InvalidInput(
            f"the grid has {size:,} points, more than {GRID_LIMIT:,}; narrow it, or use "
            "method='random' or 'tpe' with n_trials"
        )
    return grid


def describe(space: Mapping[str, Parameter]) -> dict[str, Any]:
    """The space as JSON, for the tuning run's parameters."""
    described: dict[str, Any] = {}
    for name, parameter in space.items():
        if isinstance(parameter, Choice):
            described[name] = {"choices": list(parameter.values)}
        else:
            kind = "int" if isinstance(parameter, Int) else "float"
            described[name] = {kind: [parameter.low, parameter.high], "log": parameter.log}
    return described
