"""The always-valid sequential A/B test that promotes a challenger over the champion,
or rolls it back, from live feedback, however often it is looked at.

A test is a small frozen record, :class:`SequentialState`: per arm the count, sum and
sum of squares of its outcomes, and where the test stands — the always-valid p-value,
the confidence sequence of the difference so far, the verdict. A long-running
controller folds each new batch of outcomes into it (:func:`fold_outcomes`), looks
(:meth:`SequentialState.look`) and stores it (:meth:`SequentialState.to_dict`); after
a restart it reloads it (:meth:`SequentialState.from_dict`) and goes on as if never
stopped: the same batches give the same verdict at the same look.

The test is the mixture sequential probability ratio test (mSPRT) of Johari, Pekelis
and Walsh with a normal mixing distribution (:mod:`._mixture`), two-sided, on the
difference challenger minus champion of the arms' means. Outcomes are ``bernoulli``
(a prediction right or wrong, a click; any value in [0, 1], e.g. a reward, whose
variance p(1 - p) is then an upper bound) or ``continuous`` (a squared error, a
revenue) with the variance estimated from the data. The chance that a test of two
equal arms ever declares a winner is at most ``alpha``, whenever and however often it
is looked at (in the normal approximation, from ``min_samples`` outcomes per arm; the
tests measure it on real outcomes, under even and 90/10 splits). The difference is
weighed with the larger of the arms' own variances and that of their outcomes
together, which "no difference" implies: a small arm whose outcomes happen to agree
has a variance near 0 of its own.

The mixing variance follows one rule: ``min_lift**2`` — the mixing normal's standard
deviation is the smallest lift worth detecting, near which the test is most powerful
(the mixture's ratio at an observed difference ``d`` is largest for ``tau2 = d**2 -
v``, and ``v`` is small against ``d**2`` when ``d`` is found). The verdicts:
``challenger_better`` or ``champion_better`` when the p-value reaches ``alpha``,
``equivalent`` when the whole confidence sequence lies within ``min_lift`` either way
(the challenger, if better, is not better by a lift worth having), else ``undecided``.

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> state = sequential_test("bernoulli", min_lift=0.05)
>>> for _ in range(40):
...     state = fold_outcomes(state, champion=rng.random(200) < 0.70,
...                           challenger=rng.random(200) < 0.80)
...     if state.verdict != "undecided":
...         break
>>> found = state.look()
>>> found.verdict, found.challenger_n, found.p_value <= 0.05, found.low > 0
(<Verdict.CHALLENGER_BETTER: 'challenger_better'>, 600, True, True)
>>> SequentialState.from_dict(state.to_dict()) == state
True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.evaluation import _mixture as mixture

if TYPE_CHECKING:
    from loopml.evaluation._sequential_result import SequentialResult

FORMAT = 1
KINDS = ("bernoulli", "continuous")
MIN_SAMPLES = 100


class Verdict(enum.StrEnum):
    """What a look of the test decides."""

    CHALLENGER_BETTER = "challenger_better"  # promote the challenger
    CHAMPION_BETTER = "champion_better"  # roll the challenger back
    EQUIVALENT = "equivalent"  # within min_lift either way: not worth a switch
    UNDECIDED = "undecided"  # keep the test running


VERDICT_OF_CODE = {
    mixture.UNDECIDED: Verdict.UNDECIDED,
    mixture.CHALLENGER_BETTER: Verdict.CHALLENGER_BETTER,
    mixture.CHAMPION_BETTER: Verdict.CHAMPION_BETTER,
    mixture.EQUIVALENT: Verdict.EQUIVALENT,
}
CODE_OF_VERDICT = {verdict: code for code, verdict in VERDICT_OF_CODE.items()}


@dataclass(frozen=True)
class ArmTotals:
    """The sufficient statistics of one arm's outcomes: how many, their sum and the sum
    of their squares."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def __add__(self, other: ArmTotals) -> ArmTotals:
        return ArmTotals(self.n + other.n, self.total + other.total, self.squares + other.squares)


@dataclass(frozen=True)
class SequentialState:
    """Where one test stands; make one with :func:`sequential_test`, advance it with
    :func:`fold_outcomes`. ``p_value`` is the always-valid p-value, ``low`` to ``high``
    the always-valid confidence sequence of the difference (challenger minus
    champion) at level ``1 - alpha`` (unbounded before ``min_samples`` per arm),
    ``looks`` how many batches were folded and ``decided_at`` the look that reached
    the verdict (None while undecided)."""

    kind: str
    alpha: float
    min_lift: float
    mixing_variance: float
    higher_is_better: bool
    min_samples: int
    champion: ArmTotals = ArmTotals()
    challenger: ArmTotals = ArmTotals()
    looks: int = 0
    p_value: float = 1.0
    low: float = -np.inf
    high: float = np.inf
    verdict: Verdict = Verdict.UNDECIDED
    decided_at: int | None = None

    @property
    def design(self) -> mixture.Design:
        return mixture.Design(
            self.kind,
            self.alpha,
            self.min_lift,
            self.mixing_variance,
            self.higher_is_better,
            self.min_samples,
        )

    def look(self) -> SequentialResult:
        """What the test shows now, with the numbers its verdict rests on."""
        from loopml.evaluation._sequential_result import result_of

        return result_of(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record (``"format": 1``); an unbounded end of the interval is
        None."""
        return {
            "format": FORMAT,
            "kind": self.kind,
            "alpha": self.alpha,
            "min_lift": self.min_lift,
            "mixing_variance": self.mixing_variance,
            "higher_is_better": self.higher_is_better,
            "min_samples": self.min_samples,
            "champion": _totals_dict(self.champion),
            "challenger": _totals_dict(self.challenger),
            "looks": self.looks,
            "p_value": self.p_value,
            "low": None if np.isinf(self.low) else self.low,
            "high": None if np.isinf(self.high) else self.high,
            "verdict": self.verdict.value,
            "decided_at": self.decided_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SequentialState:
        """The state :meth:`to_dict` wrote, every key and value checked:
        :class:`~loopml.errors.InvalidInput` naming the key otherwise."""
        from loopml.evaluation._sequential_json import state_fields

        return cls(**state_fields(data))


def _totals_dict(totals: ArmTotals) -> dict[str, Any]:
    return {"n": totals.n, "total": totals.total, "squares": totals.squares}


def sequential_test(
    kind: str = "bernoulli",
    *,
    min_lift: float,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    min_samples: int = MIN_SAMPLES,
    mixing_variance: float | None = None,
) -> SequentialState:
    """A new test of a challenger against the champion, with no outcomes yet.

    ``min_lift`` is the smallest difference of the means worth detecting, in the
    outcome's units (0.02: two points of accuracy); ``alpha`` the chance of declaring a
    winner between equal arms, in (0, 0.5]; ``higher_is_better`` False for an outcome
    like an error; ``min_samples`` the outcomes each arm needs before a look may
    decide; ``mixing_variance`` overrides the rule ``min_lift**2``."""
    from loopml.evaluation._sequential_json import checked_design

    if mixing_variance is None and _is_number(min_lift) and min_lift > 0:
        mixing_variance = float(min_lift) ** 2
    design = checked_design(
        kind=kind,
        alpha=alpha,
        min_lift=min_lift,
        mixing_variance=mixing_variance,
        higher_is_better=higher_is_better,
        min_samples=min_samples,
    )
    return SequentialState(**design)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fold_outcomes(state: SequentialState, champion: Any, challenger: Any) -> SequentialState:
    """``state`` with a new batch of each arm's outcomes (sequences of numbers, either
    may be empty, not both) folded in, and looked at once: a new state, the old one
    unchanged."""
    if not isinstance(state, SequentialState):
        raise InvalidInput(
            f"state {state!r:.60} is not a SequentialState; start one with "
            "sequential_test() or load one with SequentialState.from_dict()",
            field="state",
        )
    champion_batch = totals_of(champion, "champion", state.kind)
    challenger_batch = totals_of(challenger, "challenger", state.kind)
    if champion_batch.n == 0 and challenger_batch.n == 0:
        raise InvalidInput(
            "both arms' batches are empty: there is nothing to fold; fold when at "
            "least one arm has new outcomes",
            field="champion",
        )
    champion_totals = state.champion + champion_batch
    challenger_totals = state.challenger + challenger_batch
    look = state.looks + 1
    before = mixture.Running(
        np.array([state.p_value]),
        np.array([state.low]),
        np.array([state.high]),
        np.array([CODE_OF_VERDICT[state.verdict]], dtype=np.int8),
        np.array([state.decided_at or 0], dtype=np.int64),
    )
    after, _, _ = mixture.advance(
        state.design, _arrays(champion_totals), _arrays(challenger_totals), before, look
    )
    verdict = VERDICT_OF_CODE[int(after.verdict[0])]
    return replace(
        state,
        champion=champion_totals,
        challenger=challenger_totals,
        looks=look,
        p_value=float(after.p_value[0]),
        low=float(after.low[0]),
        high=float(after.high[0]),
        verdict=verdict,
        decided_at=int(after.decided_at[0]) if verdict != Verdict.UNDECIDED else None,
    )


def _arrays(totals: ArmTotals) -> tuple[mixture.Values, mixture.Values, mixture.Values]:
    return (
        np.array([float(totals.n)]),
        np.array([totals.total]),
        np.array([totals.squares]),
    )


def totals_of(values: Any, arm: str, kind: str) -> ArmTotals:
    """The totals of a batch of one arm's outcomes, each checked: a number, finite, and
    in [0, 1] for the Bernoulli kind."""
    try:
        found = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{arm} outcomes {values!r:.80} are not numbers; give a sequence of numbers "
            "(or True/False)",
            field=arm,
        ) from None
    if found.ndim != 1:
        raise InvalidInput(
            f"{arm} outcomes have shape {found.shape}; give a flat sequence of numbers, "
            "one per outcome",
            field=arm,
        )
    bad = np.flatnonzero(~np.isfinite(found))
    if len(bad):
        raise InvalidInput(
            f"{arm} outcome {int(bad[0])} is {found[bad[0]]} ({len(bad)} not finite in all); "
            "drop the outcomes that have no value before folding them in",
            field=arm,
        )
    if kind == "bernoulli":
        outside = np.flatnonzero((found < 0) | (found > 1))
        if len(outside):
            raise InvalidInput(
                f"{arm} outcome {int(outside[0])} is {found[outside[0]]}, outside [0, 1] "
                f"({len(outside)} in all); a bernoulli test takes 0/1 or a reward in "
                "[0, 1]; use kind='continuous' for other outcomes",
                field=arm,
            )
    return ArmTotals(len(found), float(np.sum(found)), float(np.sum(found * found)))
