"""The gate's checks that weigh evidence: the candidate against its naive baseline,
against the champion, and slice by slice against the champion, each from the
row-by-row comparisons stored with the candidate's evaluation (:mod:`._paired`).

Each is a one-sided test at the policy's ``alpha``. Against the champion and on
slices, the candidate is blocked when the rows show it worse by more than the
tolerance (a drop within noise is not one); against the baseline it passes only when
the rows show it ahead by more than the margin (a tie with the baseline is not a
win). Across slices, Holm's procedure keeps the chance of any false alarm at
``alpha`` however many slices there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml.errors import InvalidInput
from loopml.evaluation._paired import holm, p_ahead, p_worse
from loopml.evaluation._records import Evaluation, PairedMetric, higher_is_better

SHOWN = 5  # slices named in a message


@dataclass(frozen=True)
class Check:
    name: str  # baseline, champion, slices, flips, latency, size, one_class
    passed: bool
    message: str
    # The numbers it was decided on: the test, its p-value, the lead and its interval.
    evidence: dict[str, Any] = field(default_factory=dict)


def _better(metric: str, a: float, b: float) -> float:
    """How much better ``a`` is than ``b`` (negative: worse)."""
    return a - b if higher_is_better(metric) else b - a


def _how(paired: PairedMetric, other: str) -> str:
    interval = f"95% interval {paired.low:+.4g} to {paired.high:+.4g}"
    if paired.test == "mcnemar":
        return (
            f"{interval}; McNemar's exact test: {paired.better} rows only the candidate gets "
            f"right, {paired.worse} only {other}"
        )
    return f"{interval}; paired bootstrap of the difference"


def _evidence(paired: PairedMetric, p: float, alpha: float, limit: float) -> dict[str, Any]:
    return {
        "test": paired.test,
        "p_value": p,
        "alpha": alpha,
        "lead": paired.lead,
        "low": paired.low,
        "high": paired.high,
        "limit": limit,
        "rows": paired.rows,
        "worse": paired.worse,
        "better": paired.better,
    }


def baseline(candidate: Evaluation, primary: str, margin: float, alpha: float) -> Check:
    base = candidate.baseline.get(primary)
    value = candidate.metrics[primary]
    if base is None:
        return Check("baseline", False, f"the baseline has no {primary}, so it cannot be beaten")
    paired = candidate.paired_baseline.get(primary)
    if paired is not None:
        value, base = paired.value, paired.other
    lead = _better(primary, value, base)
    needed = margin * abs(base)
    words = f"{primary} {value:.4g} against the baseline's {base:.4g} "
    words += f"({candidate.baseline_description}), {'ahead' if lead > 0 else 'behind'} by "
    words += f"{abs(lead):.4g}"
    if paired is None:  # an evaluation stored before the paired test was recorded
        ok = lead > 0 and lead >= needed
        words += (
            "; no row-by-row comparison with the baseline was recorded with this evaluation, "
            "so it is judged on the values alone (evaluate the model again to test it)"
        )
        if not ok:
            words += f"; it must beat it by more than {needed:.4g} ({margin:.0%})"
        return Check("baseline", ok, words)
    p = p_ahead(paired, needed)
    ok = p < alpha
    words += f" ({_how(paired, 'the baseline')})"
    if ok:
        words += f"; ahead by more than the margin of {needed:.4g}: p = {p:.2g}"
    else:
        words += (
            f"; not shown to beat it by more than {needed:.4g} ({margin:.0%}): p = {p:.2g}, "
            f"not below alpha = {alpha:g}"
        )
    return Check("baseline", ok, words, _evidence(paired, p, alpha, needed))


def same_rows(candidate: Evaluation, champion: Evaluation) -> None:
    """InvalidInput when the two evaluations were made on different rows."""
    digests = (candidate.rows_digest, champion.rows_digest)
    if None not in digests:
        if digests[0] == digests[1]:
            return
    elif candidate.rows == champion.rows and candidate.data == champion.data:
        return  # an old evaluation without a digest: the counts and versions agree
    fewer = candidate.rows - champion.rows
    count = (
        "the same number of rows, but not the same rows"
        if fewer == 0
        else f"{abs(fewer):,} rows {'more' if fewer > 0 else 'fewer'} for the candidate"
    )
    raise InvalidInput(
        f"the candidate was evaluated on {candidate.rows:,} rows of "
        f"{candidate.data or 'a DataFrame'} and the champion on {champion.rows:,} rows of "
        f"{champion.data or 'a DataFrame'} ({count}): their numbers cannot be compared; "
        "evaluate the candidate with against= the champion (both models predict the same "
        "rows), and give champion= an evaluation on those same rows, or leave it out"
    )


def cannot_pair(called: str) -> str:
    how = f"against={called!r}" if "@" in called else "against= the champion"
    return (
        f"cannot judge: the candidate's evaluation holds no row-by-row comparison with "
        f"{called} (it was made without against=, or before loopml recorded one); "
        f"evaluate the candidate again with {how}, on the same rows"
    )


def champion(
    candidate: Evaluation, called: str, primary: str, tolerance: float, alpha: float
) -> Check:
    paired = candidate.paired
    assert paired is not None
    found = paired.metrics.get(primary)
    if found is None:
        return Check(
            "champion",
            False,
            f"the row-by-row comparison with {paired.against} has no {primary}; evaluate "
            f"the candidate again with primary={primary!r}",
        )
    allowed = tolerance * abs(found.other)
    p = p_worse(found, allowed)
    words = (
        f"{primary} {found.value:.4g} against {called}'s {found.other:.4g} on the same "
        f"{found.rows:,} rows, {found.lead:+.4g} ({_how(found, 'the champion')})"
    )
    evidence = _evidence(found, p, alpha, allowed)
    if p < alpha:
        return Check(
            "champion",
            False,
            words + f": worse by more than the tolerance of {allowed:.4g} "
            f"({tolerance:.0%}), p = {p:.2g} below alpha = {alpha:g}",
            evidence,
        )
    return Check(
        "champion",
        True,
        words + f": not shown worse by more than {allowed:.4g} ({tolerance:.0%}), p = {p:.2g}",
        evidence,
    )


def slices(candidate: Evaluation, primary: str, tolerance: float, alpha: float) -> Check:
    paired = candidate.paired
    assert paired is not None
    tested = {name: m for name, m in paired.slices.items() if m.metric == primary}
    if not tested:
        return _no_slices(candidate, primary, paired.slices)
    names = list(tested)
    p_values = [p_worse(tested[n], tolerance * abs(tested[n].other)) for n in names]
    rejected = holm(p_values, alpha)
    # The most lost first: by the loss the rows show at the least (the interval's end
    # nearer zero), so that a small slice's noise does not push a real loss down.
    by_loss = sorted(
        range(len(names)), key=lambda i: (tested[names[i]].high, tested[names[i]].lead, names[i])
    )
    worse = [i for i in by_loss if rejected[i]]

    def said(i: int) -> str:
        m = tested[names[i]]
        return (
            f"{names[i]} ({m.rows} rows) {m.value:.4g} against {m.other:.4g}, "
            f"{m.lead:+.4g}, p = {p_values[i]:.2g}"
        )

    evidence = {
        "test": "holm",
        "alpha": alpha,
        "slices": {
            names[i]: {"lead": tested[names[i]].lead, "p_value": p_values[i], "worse": rejected[i]}
            for i in by_loss
        },
    }
    if worse:
        shown = ", ".join(said(i) for i in worse[:SHOWN])
        return Check(
            "slices",
            False,
            f"{len(worse)} of {len(names)} slice(s) are shown worse than the champion's same "
            f"slice by more than {tolerance:.0%} (Holm over the slices, alpha = {alpha:g}), "
            f"the most lost first: {shown}" + (" ..." if len(worse) > SHOWN else ""),
            evidence,
        )
    return Check(
        "slices",
        True,
        f"no slice of {len(names)} is shown worse than the champion's same slice by more "
        f"than {tolerance:.0%} (Holm over the slices, alpha = {alpha:g}); the most lost: "
        + said(by_loss[0]),
        evidence,
    )


def _no_slices(candidate: Evaluation, primary: str, others: dict[str, PairedMetric]) -> Check:
    if others:
        measured = next(iter(others.values())).metric
        return Check(
            "slices",
            False,
            f"the slices were compared with the champion on {measured}, not {primary}; "
            f"evaluate the candidate again with primary={primary!r}",
        )
    skipped = candidate.details.get("slices", {}).get("skipped", [])
    small = [s for s in skipped if s.get("reason") == "too few rows"]
    if small:
        least = candidate.details.get("slices", {}).get("min_rows", 30)
        return Check(
            "slices",
            True,
            f"cannot judge: every slice is too small ({len(small)} slice(s) under {least} "
            "rows), so no slice regression can be shown or ruled out",
        )
    return Check("slices", True, "no slices to judge")
