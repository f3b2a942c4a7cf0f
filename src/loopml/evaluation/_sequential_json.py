"""Checking a sequential test's settings and reading a stored test back
(:meth:`loopml.evaluation.SequentialState.from_dict`): every key known and present,
every value of its type and range, else :class:`~loopml.errors.InvalidInput` whose
``field`` is the key.

>>> checked_design(kind="bernoulli", alpha=0.05, min_lift=0.02, mixing_variance=0.0004,
...                higher_is_better=True, min_samples=100)["alpha"]
0.05
>>> checked_design(kind="bernoulli", alpha=0.6, min_lift=0.02, mixing_variance=0.0004,
...                higher_is_better=True, min_samples=100)
Traceback (most recent call last):
...
loopml.errors.InvalidInput: sequential test alpha 0.6 must be in (0, 0.5]: the chance ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from loopml._formats import check_format
from loopml.errors import InvalidInput
from loopml.evaluation._sequential import FORMAT, KINDS, ArmTotals, Verdict

_DESIGN_KEYS = ("kind", "alpha", "min_lift", "mixing_variance", "higher_is_better", "min_samples")
_RUNNING_KEYS = ("champion", "challenger", "looks", "p_value", "low", "high", "verdict")
_KEYS = ("format", *_DESIGN_KEYS, *_RUNNING_KEYS, "decided_at")
_TOTALS_KEYS = ("n", "total", "squares")


def checked_design(
    *,
    kind: Any,
    alpha: Any,
    min_lift: Any,
    mixing_variance: Any,
    higher_is_better: Any,
    min_samples: Any,
) -> dict[str, Any]:
    """The settings of a test, each checked, as :class:`SequentialState`'s fields."""
    if kind not in KINDS:
        raise InvalidInput(
            f"sequential test kind {kind!r:.40} is not one of {', '.join(KINDS)}; use "
            "'bernoulli' for 0/1 or [0, 1] outcomes, 'continuous' for any other number",
            field="kind",
        )
    alpha = _number(alpha, "alpha")
    if not 0 < alpha <= 0.5:
        raise InvalidInput(
            f"sequential test alpha {alpha!r} must be in (0, 0.5]: the chance of declaring "
            "a winner between equal arms, e.g. 0.05",
            field="alpha",
        )
    min_lift = _positive(min_lift, "min_lift", "the smallest difference worth detecting")
    if kind == "bernoulli" and min_lift >= 1:
        raise InvalidInput(
            f"sequential test min_lift {min_lift!r} must be below 1 for bernoulli outcomes "
            "(a share): 0.02 is two points",
            field="min_lift",
        )
    mixing_variance = _positive(
        mixing_variance, "mixing_variance", "the mixing normal's variance, min_lift**2 by rule"
    )
    if not isinstance(higher_is_better, bool):
        raise InvalidInput(
            f"sequential test higher_is_better {higher_is_better!r:.40} must be True or False",
            field="higher_is_better",
        )
    return {
        "kind": kind,
        "alpha": alpha,
        "min_lift": min_lift,
        "mixing_variance": mixing_variance,
        "higher_is_better": higher_is_better,
        "min_samples": _count(min_samples, "min_samples", least=2),
    }


def state_fields(data: Any) -> dict[str, Any]:
    """The fields of the :class:`SequentialState` a stored record holds."""
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"a sequential test is stored as a JSON object, not {type(data).__name__}; give "
            "what SequentialState.to_dict() returned",
            field="state",
        )
    unknown = sorted(set(data) - set(_KEYS))
    missing = [key for key in _KEYS if key not in data]
    if unknown or missing:
        raise InvalidInput(
            f"stored sequential test has unknown key(s) {unknown} and lacks {missing}; give "
            "what SequentialState.to_dict() returned",
            field=(unknown or missing)[0],
        )
    found = data["format"]
    check_format(found, FORMAT, "sequential test")
    fields = checked_design(**{key: data[key] for key in _DESIGN_KEYS})
    kind = fields["kind"]
    fields["champion"] = _totals(data["champion"], "champion", kind)
    fields["challenger"] = _totals(data["challenger"], "challenger", kind)
    fields["looks"] = _count(data["looks"], "looks", least=0)
    p_value = _number(data["p_value"], "p_value")
    if not 0 <= p_value <= 1:
        raise InvalidInput(f"stored p_value {p_value!r} is not in [0, 1]", field="p_value")
    fields["p_value"] = p_value
    fields["low"] = -math.inf if data["low"] is None else _number(data["low"], "low")
    fields["high"] = math.inf if data["high"] is None else _number(data["high"], "high")
    try:
        verdict = Verdict(data["verdict"])
    except ValueError:
        raise InvalidInput(
            f"stored verdict {data['verdict']!r:.40} is not one of "
            f"{', '.join(v.value for v in Verdict)}",
            field="verdict",
        ) from None
    fields["verdict"] = verdict
    decided_at = data["decided_at"]
    if (verdict == Verdict.UNDECIDED) != (decided_at is None):
        raise InvalidInput(
            f"stored decided_at {decided_at!r:.20} does not fit verdict {verdict.value}: it "
            "is None exactly while undecided",
            field="decided_at",
        )
    if decided_at is not None:
        decided_at = _count(decided_at, "decided_at", least=1)
        if decided_at > fields["looks"]:
            raise InvalidInput(
                f"stored decided_at {decided_at} is after the last look {fields['looks']}",
                field="decided_at",
            )
    fields["decided_at"] = decided_at
    return fields


def _totals(data: Any, arm: str, kind: str) -> ArmTotals:
    if not isinstance(data, Mapping) or sorted(data) != sorted(_TOTALS_KEYS):
        raise InvalidInput(
            f"stored {arm} totals {data!r:.80} must be an object with exactly the keys "
            f"{', '.join(_TOTALS_KEYS)}",
            field=arm,
        )
    n = _count(data["n"], f"{arm}.n", least=0)
    total = _number(data["total"], f"{arm}.total")
    squares = _number(data["squares"], f"{arm}.squares")
    fits = squares >= 0 and (n > 0 or (total == 0 and squares == 0))
    if kind == "bernoulli":  # outcomes in [0, 1]: squares <= total <= n
        fits = fits and 0 <= total <= n and squares <= total * (1 + 1e-12)
    if not fits:
        raise InvalidInput(
            f"stored {arm} totals n={n}, total={total}, squares={squares} cannot come from "
            f"{kind} outcomes; the record is damaged",
            field=arm,
        )
    return ArmTotals(n, total, squares)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(
            f"sequential test {name} {value!r:.40} must be a finite number", field=name
        )
    return float(value)


def _positive(value: Any, name: str, meaning: str) -> float:
    found = _number(value, name)
    if not found > 0:
        raise InvalidInput(
            f"sequential test {name} {found!r} must be above 0: {meaning}", field=name
        )
    return found


def _count(value: Any, name: str, least: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON from elsewhere may write 64 as 64.0
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidInput(
            f"sequential test {name} {value!r:.40} must be a whole number of {least} or more",
            field=name,
        )
    return value
