"""A deployment's routing policy: which model versions answer (the arms), how a request
is routed among them, and what else happens to it (shadows, fallback, batching).

The policy is what a deployment record stores, as the JSON object of
:meth:`Policy.to_dict` (with ``"format": 1``); :meth:`Policy.from_dict` reads it back
and checks every key, so a typo in a stored policy is an error naming the key, never a
default silently taken.

>>> policy = Policy.split({"churn@champion": 0.9, "churn@challenger": 0.1},
...                       canary="churn@challenger")
>>> [(arm.model, arm.weight) for arm in policy.arms]
[('churn@champion', 0.9), ('churn@challenger', 0.1)]
>>> Policy.from_dict(policy.to_dict()) == policy
True
>>> policy.with_weight("churn@challenger", 0.25).arms[0].weight
0.75
>>> from loopml.errors import InvalidInput
>>> try:
...     Policy.from_dict({"arms": [{"model": "churn@v3", "weight": 1}], "routng": "ucb1"})
... except InvalidInput as error:
...     print(error.field, "|", str(error).split("; ")[1].split("?")[0])
routng | did you mean 'routing'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from loopml.errors import InvalidInput
from loopml.refs import Ref, parse
from loopml.serve import _policy_checks as checks

FORMAT = 1
ROUTINGS = ("fixed", "epsilon-greedy", "ucb1", "thompson")
BANDITS = ROUTINGS[1:]
COPIES = ("native", "onnx")
DEFAULT_HEADER = "X-Loopml-Key"
WEIGHT_TOLERANCE = 1e-9  # how far from 1 the weights of the arms may sum
MAX_BATCH_ROWS = 1_000_000
MAX_WAIT_US = 1_000_000  # a second: longer, and batching is not what slows a request


@dataclass(frozen=True)
class Arm:
    """A model version traffic is routed to: ``model`` is a ref as given
    (``churn@champion`` follows the alias, ``churn@v3`` stays), ``weight`` its share of
    traffic under fixed routing (the weights of all arms sum to 1)."""

    model: str
    weight: float

    def __post_init__(self) -> None:
        checks.as_float(self, "weight")


@dataclass(frozen=True)
class KeySource:
    """Where the sticky routing key of a request is read: a ``header`` (by default
    ``X-Loopml-Key``), or a named input ``field`` (column) instead: when ``field`` is
    set the header is not read (:meth:`of_field` sets no header, so the stored form
    says so too). Neither, and each request is routed on its own; a request without
    its key is routed on its own too."""

    header: str | None = DEFAULT_HEADER
    field: str | None = None

    @classmethod
    def of_field(cls, name: str) -> KeySource:
        """The key read from the input field (column) ``name``, no header."""
        return cls(header=None, field=name)

    def __post_init__(self) -> None:
        checks.check_key(self)


@dataclass(frozen=True)
class Policy:
    """How a deployment routes its requests; every field is checked when it is made.

    ``routing`` is ``fixed`` (by the arms' weights, sticky per key) or a bandit
    (``epsilon-greedy``, ``ucb1``, ``thompson``), which ignores the weights and learns
    from feedback. ``canary`` names the arm whose weight a controller steps
    (:func:`loopml.serve.set_weight`). ``shadows`` get a copy of each request: their
    answer is logged, never returned. ``fallback`` answers when the chosen arm fails or
    exceeds ``timeout_ms``; None means ``<model>@previous`` of the first arm, when
    that alias exists at serve time. ``copy`` chooses each version's ``native`` model
    or its ``onnx`` copy (None: the copy the version serves by default).
    ``max_batch_rows`` bounds adaptive micro-batching (1 turns it off) and
    ``max_wait_us`` is the most a request waits for others to batch with.
    """

    arms: tuple[Arm, ...]
    routing: str = "fixed"
    epsilon: float = 0.1
    canary: str | None = None
    shadows: tuple[str, ...] = ()
    fallback: str | None = None
    key: KeySource = field(default_factory=KeySource)
    copy: str | None = None
    timeout_ms: float | None = None
    max_batch_rows: int = 64
    max_wait_us: int = 1000

    def __post_init__(self) -> None:
        checks.as_float(self, "epsilon")
        checks.as_float(self, "timeout_ms")
        checks.check_policy(self)

    @classmethod
    def single(cls, ref: str, **options: Any) -> Policy:
        """Every request to the one version ``ref`` names (an alias is followed)."""
        return cls(arms=(Arm(ref, 1.0),), **options)

    @classmethod
    def split(cls, weights: Mapping[str, float], **options: Any) -> Policy:
        """Requests split among refs by weight (each in (0, 1], summing to 1), sticky
        per key; ``canary=REF`` makes it a canary whose weight a controller steps."""
        checks.check_split(weights)
        return cls(arms=tuple(Arm(ref, float(w)) for ref, w in weights.items()), **options)

    @classmethod
    def bandit(cls, routing: str, refs: tuple[str, ...] | list[str], **options: Any) -> Policy:
        """A bandit (``epsilon-greedy``, ``ucb1``, ``thompson``) over ``refs``, learning
        from feedback which one to send traffic to (at least two refs)."""
        checks.check_bandit(routing, refs)
        share = 1.0 / len(refs)
        return cls(arms=tuple(Arm(ref, share) for ref in refs), routing=routing, **options)

    @property
    def refs(self) -> tuple[str, ...]:
        """Every model ref the policy names (arms, shadows, fallback), each once, in
        that order."""
        named = [arm.model for arm in self.arms] + list(self.shadows)
        if self.fallback is not None:
            named.append(self.fallback)
        return tuple(dict.fromkeys(named))

    def arm(self, ref: str) -> Arm:
        """The arm ``ref`` names (``churn`` and ``churn@latest`` name the same one)."""
        wanted = parse(ref, field="ref")
        for arm in self.arms:
            if same_ref(arm.model, wanted):
                return arm
        raise InvalidInput(
            f"{ref!r} is not an arm of this deployment; its arms are "
            f"{', '.join(arm.model for arm in self.arms)}",
            field="ref",
        )

    def with_weight(self, ref: str, weight: float) -> Policy:
        """This policy with arm ``ref`` at ``weight`` (in [0, 1]) and the other arms
        sharing the rest in proportion to their weights now (equally, when they all
        have none): the step a canary controller makes."""
        return replace(self, arms=checks.reweighted(self, self.arm(ref), weight))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object a deployment stores: every key, with ``"format": 1``."""
        return {
            "format": FORMAT,
            "arms": [{"model": arm.model, "weight": arm.weight} for arm in self.arms],
            "routing": self.routing,
            "epsilon": self.epsilon,
            "canary": self.canary,
            "shadows": list(self.shadows),
            "fallback": self.fallback,
            "key": {"header": self.key.header, "field": self.key.field},
            "copy": self.copy,
            "timeout_ms": self.timeout_ms,
            "max_batch_rows": self.max_batch_rows,
            "max_wait_us": self.max_wait_us,
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Policy:
        """The policy a stored JSON object holds. Every key is checked: a missing one
        takes its default (but ``arms``, which is required), an unknown one is
        :class:`~loopml.errors.InvalidInput` naming it, as is a value of the wrong
        type or out of range (``field`` is the key, ``arms[1].weight``)."""
        from loopml.serve._policy_json import policy_options

        return cls(**policy_options(stored))


def same_ref(given: str, other: str | Ref) -> bool:
    """Whether two refs name the same thing: ``churn`` is ``churn@latest``."""
    return parse(given) == (other if isinstance(other, Ref) else parse(other))
