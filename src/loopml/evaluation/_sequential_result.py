"""What one look of a sequential A/B test shows (:meth:`SequentialState.look`): the
verdict with the numbers it rests on, kept as the decision's evidence.

>>> from loopml.evaluation import sequential_test, fold_outcomes
>>> state = sequential_test("bernoulli", min_lift=0.02)
>>> found = fold_outcomes(state, champion=[1, 0, 1, 1], challenger=[1, 1]).look()
>>> found.verdict, found.champion_mean, found.difference, found.p_value, found.low
(<Verdict.UNDECIDED: 'undecided'>, 0.75, 0.25, 1.0, -inf)
>>> found.to_dict()["low"] is None     # no bound yet: fewer than min_samples per arm
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from loopml.evaluation import _mixture as mixture
from loopml.evaluation._sequential import SequentialState, Verdict

METHOD = "mSPRT, normal mixture (Johari, Pekelis & Walsh 2022)"


@dataclass(frozen=True)
class SequentialResult:
    """A look at a test. ``difference`` is the challenger's mean minus the champion's;
    ``p_value`` the always-valid p-value of "no difference"; ``low`` to ``high`` the
    always-valid confidence sequence of the difference at ``level`` (it covers the
    true difference at every look at once, with chance ``level``); ``variance`` the
    estimated variance of ``difference`` at this look. Means and the difference are
    None while an arm has no outcomes."""

    verdict: Verdict
    kind: str
    champion_n: int
    challenger_n: int
    champion_mean: float | None
    challenger_mean: float | None
    difference: float | None
    p_value: float
    low: float
    high: float
    level: float
    variance: float | None
    alpha: float
    min_lift: float
    mixing_variance: float
    higher_is_better: bool
    min_samples: int
    looks: int
    decided_at: int | None
    method: str = METHOD

    @property
    def decided(self) -> bool:
        return self.verdict != Verdict.UNDECIDED

    @property
    def message(self) -> str:
        """The verdict in plain words, with its numbers."""
        words = {
            Verdict.CHALLENGER_BETTER: "challenger better",
            Verdict.CHAMPION_BETTER: "champion better",
            Verdict.EQUIVALENT: f"no difference of {self.min_lift:g} or more either way",
            Verdict.UNDECIDED: "no decision yet",
        }[self.verdict]
        counts = f"{self.champion_n:,} champion and {self.challenger_n:,} challenger outcomes"
        if self.difference is None:
            return f"{words}: {counts}"
        return (
            f"{words}: mean {self.challenger_mean:.4g} against {self.champion_mean:.4g}, "
            f"difference {self.difference:+.4g} ({self.level:.0%} always-valid interval "
            f"{self.low:+.4g} to {self.high:+.4g}), p = {self.p_value:.3g} after {counts}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The evidence, JSON-able: an unbounded end of the interval is None."""
        found = asdict(self)
        found["verdict"] = self.verdict.value
        for key in ("low", "high"):
            if math.isinf(found[key]):
                found[key] = None
        return found


def result_of(state: SequentialState) -> SequentialResult:
    champion, challenger = state.champion, state.challenger
    difference = variance = None
    if champion.n and challenger.n:
        difference = challenger.total / challenger.n - champion.total / champion.n
        found = sum(
            mixture.arm_variance(
                state.kind, np.array(float(arm.n)), np.array(arm.total), np.array(arm.squares)
            )
            / arm.n
            for arm in (champion, challenger)
        )
        variance = None if np.isnan(found) else float(found)
    return SequentialResult(
        verdict=state.verdict,
        kind=state.kind,
        champion_n=champion.n,
        challenger_n=challenger.n,
        champion_mean=champion.mean,
        challenger_mean=challenger.mean,
        difference=difference,
        p_value=state.p_value,
        low=state.low,
        high=state.high,
        level=1 - state.alpha,
        variance=variance,
        alpha=state.alpha,
        min_lift=state.min_lift,
        mixing_variance=state.mixing_variance,
        higher_is_better=state.higher_is_better,
        min_samples=state.min_samples,
        looks=state.looks,
        decided_at=state.decided_at,
    )
