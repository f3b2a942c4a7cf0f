"""Judging a challenger on live traffic: its budgets (errors, latency) first, then the
always-valid sequential test of its outcomes against the champion's.

The test is replayed from the records on every look: the requests labelled since the
challenger went out are cut at the times of the earlier looks (kept in each ``watch``
decision) and folded batch by batch, then the ones labelled since the last look. Each
request counts once (its first labelled row, with its last label), and a restarted
controller reaches the verdict it would have reached without the restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from loopml.evaluation import SequentialResult
    from loopml.monitor._loop import Loop
    from loopml.workspace import Workspace

MIN_ANSWERS = 100  # answers a budget is judged on


@dataclass(frozen=True)
class Judgement:
    action: str  # "watch", "promote", "rollback" or "keep"
    summary: str
    evidence: dict[str, Any]
    new_outcomes: bool


def judge_challenger(
    ws: Workspace,
    spec: Loop,
    challenger: str,
    champion: str,
    *,
    since: datetime,
    looks: list[int],
) -> Judgement:
    """What the challenger's traffic since ``since`` says: see the module."""
    import polars as pl

    from loopml.monitor._join import labelled

    rows = labelled(spec.deployment, since=since, workspace=ws).rows
    theirs = rows.filter(pl.col("ref") == challenger)
    if spec.rollout.mode == "split":
        theirs = theirs.filter(~pl.col("shadow"))
    ours = rows.filter((pl.col("ref") == champion) & ~pl.col("shadow"))
    broken = _budgets(spec, theirs)
    if broken is not None:
        return broken
    result, looked = _replay(spec, ours, theirs, looks)
    evidence = {"looks": looked, "test": result.to_dict() if result is not None else None}
    new_outcomes = len(looked) > len(looks)
    if result is None:
        return Judgement("watch", "no labelled outcomes yet", evidence, False)
    line = _line(result)
    if result.verdict == "challenger_better":
        return Judgement("promote", f"promote {challenger}: {line}", evidence, True)
    if result.verdict == "champion_better":
        return Judgement("rollback", f"rollback {challenger}: {line}", evidence, True)
    if result.verdict == "equivalent":
        return Judgement(
            "keep",
            f"keep {champion}: {challenger} is no better by a lift worth having: {line}",
            evidence,
            True,
        )
    most = spec.rollout.max_outcomes
    if min(result.champion_n, result.challenger_n) >= most:
        return Judgement(
            "keep",
            f"keep {champion}: no verdict after {most:,} outcomes per arm: {line}",
            evidence,
            True,
        )
    return Judgement("watch", f"watch {challenger}: {line}", evidence, new_outcomes)


def _budgets(spec: Loop, theirs: pl.DataFrame) -> Judgement | None:
    """A rollback when the challenger's error rate or p99 latency breaks the rollout's
    budget: errors judged by the exact (Clopper-Pearson) lower bound (95 %) of their
    rate: Wilson's, near the small rates budgets allow, passes its level."""
    import polars as pl

    from loopml.monitor._decay_bounds import exact_upper

    answers = theirs.filter(pl.col("row") == 0)
    n = answers.height
    if n < MIN_ANSWERS:
        return None
    errors = int(answers["error"].is_not_null().sum())
    low = 1 - exact_upper(n - errors, n, 0.95)
    if low > spec.rollout.max_error_rate:
        evidence = {
            "answers": n,
            "errors": errors,
            "error_rate_bound": low,
            "max_error_rate": spec.rollout.max_error_rate,
        }
        return Judgement(
            "rollback",
            f"rollback: {errors} of {n} answers failed, more than the "
            f"{spec.rollout.max_error_rate:.1%} allowed",
            evidence,
            True,
        )
    budget = spec.rollout.max_latency_p99_ms
    if budget is not None:
        p99 = float(answers["latency_us"].quantile(0.99) or 0) / 1000
        if p99 > budget:
            evidence = {"answers": n, "latency_p99_ms": p99, "max_latency_p99_ms": budget}
            return Judgement(
                "rollback",
                f"rollback: p99 latency {p99:.1f} ms over the {budget} ms budget",
                evidence,
                True,
            )
    return None


def _replay(
    spec: Loop, ours: pl.DataFrame, theirs: pl.DataFrame, looks: list[int]
) -> tuple[SequentialResult | None, list[int]]:
    """The sequential test folded look by look; the looks, with this one when it
    found new outcomes."""
    from loopml.evaluation import fold_outcomes, sequential_test

    classifier = spec.task == "classification"
    state = sequential_test(
        "bernoulli" if classifier else "continuous",
        min_lift=spec.rollout.min_lift,
        alpha=spec.rollout.alpha,
        higher_is_better=classifier,
        min_samples=spec.rollout.min_outcomes,
    )
    a, b = _outcomes(ours, classifier), _outcomes(theirs, classifier)
    latest = max([int(x.max()) for x in (a[0], b[0]) if len(x)], default=None)
    cuts = list(looks)
    if latest is not None and (not cuts or latest > cuts[-1]):
        cuts.append(latest)
    before = -1
    folded = False
    for cut in cuts:
        champion = a[1][(a[0] > before) & (a[0] <= cut)]
        challenger = b[1][(b[0] > before) & (b[0] <= cut)]
        before = cut
        if len(champion) or len(challenger):
            state = fold_outcomes(state, champion=champion, challenger=challenger)
            folded = True
    return (state.look() if folded else None), cuts


def _outcomes(rows: pl.DataFrame, classifier: bool) -> tuple[Any, Any]:
    """When each request's outcome came, and the outcome (see
    :func:`~loopml.monitor._triggers.outcomes`): one per request, its first labelled
    row's. The rows of one request go together (one user, one moment), so counted as
    many outcomes they would give the test evidence it does not have and its false
    alarms would pass ``alpha``; a request's other rows are left out of the test."""
    import polars as pl

    from loopml.monitor._triggers import outcomes

    told = rows.filter(pl.col("label").is_not_null() & pl.col("error").is_null())
    told = told.sort("labelled_us", "row").unique("prediction_id", keep="first")
    predicted, truth = told["predicted"].to_numpy(), told["label"].to_numpy()
    return told["labelled_us"].to_numpy(), outcomes(predicted, truth, classifier)


def _line(result: SequentialResult) -> str:
    def mean(value: float | None) -> str:
        return "-" if value is None else f"{value:.4g}"

    return (
        f"champion {mean(result.champion_mean)} (n={result.champion_n:,}), challenger "
        f"{mean(result.challenger_mean)} (n={result.challenger_n:,}), always-valid "
        f"p={result.p_value:.3g}, difference in [{result.low:.3g}, {result.high:.3g}]"
    )
