"""The checks a :class:`~loopml.serve.Policy` passes when it is made: each failure is
:class:`~loopml.errors.InvalidInput` whose ``field`` is the policy's key
(``arms[1].weight``, ``routing``), saying the value and what to give instead.

>>> from loopml.errors import InvalidInput
>>> from loopml.serve import Arm, Policy
>>> try:
...     Policy(arms=(Arm("churn@v1", 0.5), Arm("churn@v2", 0.4)))
... except InvalidInput as error:
...     print(error.field, "|", str(error).split("; ")[1])
arms | give weights that sum to 1, such as churn@v1=0.9,churn@v2=0.1
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.refs import Ref, parse

if TYPE_CHECKING:
    from loopml.serve._policy import Arm, KeySource, Policy

# The characters of an HTTP header name (RFC 9110's token).
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,255}")
MAX_FIELD = 255


def check_key(key: KeySource) -> None:
    if key.header is not None and (
        not isinstance(key.header, str) or not _HEADER.fullmatch(key.header)
    ):
        raise InvalidInput(
            f"policy key.header {key.header!r:.80} is not an HTTP header name; give one such "
            "as 'X-Loopml-Key' (letters, digits and '-')",
            field="key.header",
        )
    if key.field is not None and (
        not isinstance(key.field, str) or not key.field or len(key.field) > MAX_FIELD
    ):
        raise InvalidInput(
            f"policy key.field {key.field!r:.80} is not an input field name; give the name "
            f"of a column of the model's input (1 to {MAX_FIELD} characters)",
            field="key.field",
        )


def check_policy(policy: Policy) -> None:
    from loopml.serve._policy import COPIES, MAX_BATCH_ROWS, MAX_WAIT_US, ROUTINGS

    _check_arms(policy.arms)
    if policy.routing not in ROUTINGS:
        raise InvalidInput(
            f"policy routing {policy.routing!r:.80} is not one loopml has; give one of "
            f"{', '.join(ROUTINGS)}",
            field="routing",
        )
    if policy.routing != "fixed":
        check_bandit(policy.routing, [arm.model for arm in policy.arms], field="arms")
    else:
        _check_weights(policy.arms)
    # epsilon: the share of requests epsilon-greedy sends to a random arm
    _number(policy, "epsilon", low=0.0, high=1.0, open_low=True, open_high=True)
    _check_canary(policy)
    _check_shadows(policy)
    if policy.fallback is not None:
        parse(policy.fallback, field="fallback")
    if not isinstance(policy.key, _key_class()):
        raise InvalidInput(
            f"policy key {policy.key!r:.80} is not a KeySource; give "
            "KeySource(header='X-Loopml-Key') or KeySource.of_field('user_id')",
            field="key",
        )
    if policy.copy is not None and policy.copy not in COPIES:
        raise InvalidInput(
            f"policy copy {policy.copy!r:.80} names no copy of a model; give 'native' (the "
            "model itself), 'onnx' (its checked ONNX copy) or None (each version's default)",
            field="copy",
        )
    if policy.timeout_ms is not None:
        _number(policy, "timeout_ms", low=0.0, high=math.inf, open_low=True)
    _integer(policy, "max_batch_rows", 1, MAX_BATCH_ROWS, "1 turns batching off")
    _integer(policy, "max_wait_us", 0, MAX_WAIT_US, "0 never waits for others")


def check_split(weights: Mapping[str, float], field: str = "split") -> None:
    """Weights of a split: a mapping of refs to numbers in (0, 1] summing to 1."""
    if not isinstance(weights, Mapping) or not weights:
        raise InvalidInput(
            f"split {weights!r:.80} is not a mapping of refs to weights; give e.g. "
            "{'churn@champion': 0.9, 'churn@challenger': 0.1}",
            field=field,
        )
    for ref, weight in weights.items():
        if not _real(weight) or not 0.0 < weight <= 1.0:
            raise InvalidInput(
                f"split weight of {ref!r} is {weight!r:.40}; each weight is a share of "
                "traffic above 0 and at most 1, and they sum to 1",
                field=field,
            )
    _check_sum(list(weights.items()), field)


def check_bandit(
    routing: str, refs: Sequence[str], *, routing_field: str = "routing", field: str = "arms"
) -> None:
    from loopml.serve._policy import BANDITS

    if routing not in BANDITS:
        raise InvalidInput(
            f"bandit {routing!r:.80} is not one loopml has; give one of {', '.join(BANDITS)}",
            field=routing_field,
        )
    if isinstance(refs, str) or len(refs) < 2:
        raise InvalidInput(
            f"a {routing} bandit chooses among at least two model versions; got "
            f"{list(refs) if not isinstance(refs, str) else refs!r:.80}: give arms such as "
            "churn@champion,churn@challenger",
            field=field,
        )


def reweighted(policy: Policy, chosen: Arm, weight: float) -> tuple[Arm, ...]:
    """The arms of ``policy`` with ``chosen`` at ``weight`` and the others sharing the
    rest in proportion to their weights (equally when they have none)."""
    from loopml.serve._policy import Arm

    if policy.routing != "fixed":
        raise InvalidInput(
            f"a {policy.routing} bandit ignores weights (it learns them from feedback); "
            "deploy a fixed split to set weights",
            field="routing",
        )
    if not _real(weight) or not 0.0 <= weight <= 1.0:
        raise InvalidInput(
            f"weight {weight!r:.40} of {chosen.model} is not a share of traffic; give a "
            "number from 0 to 1",
            field="weight",
        )
    others = [arm for arm in policy.arms if arm is not chosen]
    if not others and weight != 1.0:
        raise InvalidInput(
            f"{chosen.model} is the only arm, so it takes all traffic; add another arm "
            "(loopml deploy NAME --model REF --canary REF=W) before giving it less",
            field="weight",
        )
    rest = 1.0 - float(weight)
    total = sum(arm.weight for arm in others)
    new = {
        id(arm): rest * arm.weight / total if total > 0 else rest / len(others) for arm in others
    }
    return tuple(
        Arm(arm.model, float(weight) if arm is chosen else new[id(arm)]) for arm in policy.arms
    )


def _check_arms(arms: Any) -> None:
    from loopml.serve._policy import Arm

    if not isinstance(arms, tuple) or not arms:
        raise InvalidInput(
            f"policy arms {arms!r:.80} must be a non-empty tuple of Arm(model, weight); "
            "give e.g. (Arm('churn@champion', 1.0),)",
            field="arms",
        )
    seen: dict[Ref, str] = {}
    for index, arm in enumerate(arms):
        if not isinstance(arm, Arm):
            raise InvalidInput(
                f"policy arms[{index}] {arm!r:.80} is not an Arm; give Arm(model, weight)",
                field=f"arms[{index}]",
            )
        ref = parse(arm.model, field=f"arms[{index}].model")
        if ref in seen:
            raise InvalidInput(
                f"policy arms name {seen[ref]!r} and {arm.model!r}, the same model version; "
                "give each version once",
                field=f"arms[{index}].model",
            )
        seen[ref] = arm.model
        if not _real(arm.weight) or not 0.0 <= arm.weight <= 1.0:
            raise InvalidInput(
                f"policy arms[{index}].weight {arm.weight!r:.40} of {arm.model} is not a "
                "share of traffic; give a number from 0 to 1",
                field=f"arms[{index}].weight",
            )


def _check_weights(arms: tuple[Arm, ...]) -> None:
    _check_sum([(arm.model, arm.weight) for arm in arms], "arms")


def _check_sum(weights: list[tuple[str, float]], field: str) -> None:
    from loopml.serve._policy import WEIGHT_TOLERANCE

    total = math.fsum(weight for _, weight in weights)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        listed = ", ".join(f"{ref}={weight:g}" for ref, weight in weights)
        example = ",".join(
            f"{ref}={w}"
            for (ref, _), w in zip(weights, _example_weights(len(weights)), strict=True)
        )
        raise InvalidInput(
            f"the weights of the {'policy arms' if field == 'arms' else field} sum to "
            f"{total:g}, not 1 ({listed}); give weights that sum to 1, such as {example}",
            field=field,
        )


def _example_weights(count: int) -> list[float]:
    if count == 1:
        return [1.0]
    return [0.9, *([round(0.1 / (count - 1), 4)] * (count - 1))]


def _check_canary(policy: Policy) -> None:
    if policy.canary is None:
        return
    arms = [arm.model for arm in policy.arms]
    if not any(_same(arm, policy.canary) for arm in arms):
        raise InvalidInput(
            f"policy canary {policy.canary!r:.80} is not one of the arms "
            f"({', '.join(arms)}); name the arm whose weight is stepped",
            field="canary",
        )
    if policy.routing != "fixed" or len(arms) < 2:
        raise InvalidInput(
            f"policy canary {policy.canary!r} needs fixed routing over at least two arms "
            f"(here {policy.routing} over {len(arms)}); give a split with the canary's "
            "weight, e.g. churn@champion=0.95,churn@challenger=0.05",
            field="canary",
        )


def _check_shadows(policy: Policy) -> None:
    if not isinstance(policy.shadows, tuple):
        raise InvalidInput(
            f"policy shadows {policy.shadows!r:.80} must be a tuple of refs",
            field="shadows",
        )
    seen: list[str] = []
    for index, shadow in enumerate(policy.shadows):
        parse(shadow, field=f"shadows[{index}]")
        if any(_same(arm.model, shadow) for arm in policy.arms):
            raise InvalidInput(
                f"policy shadow {shadow!r} is also an arm: it answers already; give a "
                "version that is not an arm",
                field=f"shadows[{index}]",
            )
        if any(_same(other, shadow) for other in seen):
            raise InvalidInput(
                f"policy shadow {shadow!r} is given twice; give each version once",
                field=f"shadows[{index}]",
            )
        seen.append(shadow)


def _number(
    policy: Policy,
    name: str,
    *,
    low: float,
    high: float,
    open_low: bool = False,
    open_high: bool = False,
) -> None:
    value = getattr(policy, name)
    inside = (
        _real(value)
        and (value > low if open_low else value >= low)
        and (value < high if open_high else value <= high)
    )
    if not inside:
        bounds = f"{'above' if open_low else 'at least'} {low:g}"
        if math.isfinite(high):
            bounds += f" and {'below' if open_high else 'at most'} {high:g}"
        raise InvalidInput(f"policy {name} {value!r:.40} must be a number {bounds}", field=name)


def _integer(policy: Policy, name: str, low: int, high: int, hint: str) -> None:
    value = getattr(policy, name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"policy {name} {value!r:.40} must be a whole number from {low} to {high:,} ({hint})",
            field=name,
        )


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _same(a: str, b: str) -> bool:
    try:
        return parse(a) == parse(b)
    except InvalidInput:
        return False


def _key_class() -> type:
    from loopml.serve._policy import KeySource

    return KeySource


def as_float(record: object, name: str) -> None:
    """A whole number given where a float is kept, made a float: stored as ``1.0``
    either way, so deploying the same policy again is no change."""
    value = getattr(record, name)
    if _real(value) and isinstance(value, int):
        object.__setattr__(record, name, float(value))
