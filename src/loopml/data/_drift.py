"""Drift (a later version) or skew (two datasets meant to match): every column compared
with the reference, judged the same way at every size.

A column drifts when two things agree:

- **evidence**: its two-sample test (KS and Cramér-von Mises for numbers, chi-square or
  its permutation version for categories and numbers with few values) gives a p-value
  that stays below ``drift_alpha`` (5%) after Holm's adjustment over every column
  compared, the label included; so a batch of 50 unchanged columns raises a false
  alarm in at most 5% of batches, not in 92%;
- **effect**: the change is large enough to matter: the Wasserstein distance divided by
  the reference's standard deviation reaches 0.1 for numbers, the Jensen-Shannon
  distance 0.1 for categories, a class share moving by ``label_tolerance`` (5 points)
  for the label. On a million rows a 0.01-sd shift is significant and is not drift.

The label is one column of the family, reported once, as ``label_shift`` (``label_skew``).
Identifiers and timestamps are not tested for drift (new batches bring new ids and later
dates); timestamps are checked for order, gaps and freshness instead.

>>> import polars as pl
>>> from loopml.data._profile import profile
>>> before = profile(pl.DataFrame({"y": ["a"] * 150 + ["b"] * 150}), label="y")
>>> after = profile(pl.DataFrame({"y": ["a"] * 210 + ["b"] * 90}), label="y")
>>> drifts, found = compare(after, before, None, "drift")
>>> [(a.kind, a.column) for a in found], drifts[0].summary
([('label_shift', 'y')], 'a 50.0% -> 70.0%, b 50.0% -> 30.0%')
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.data import _evidence
from loopml.data._infer import column_role
from loopml.data._measures import categorical_measures, numeric_measures
from loopml.data._records import Anomaly, ColumnDrift, anomaly
from loopml.data._schema import DriftRule

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile, Profile, TimeSpan
    from loopml.data._schema import ColumnSchema, Schema

EFFECT = {"numeric": DriftRule("wasserstein", 0.1), "categorical": DriftRule("jensenshannon", 0.1)}
P_VALUE_METHODS = ("ks", "chisquare")
NOT_TESTED = ("identifier", "timestamp", "calendar", "empty")


@dataclass
class _Measured:
    ref: ColumnProfile
    kind: str  # "drift" or "label_shift"
    rule: DriftRule
    measures: dict[str, float]
    reference: dict[str, Any]
    current: dict[str, Any]
    test: Callable[..., dict[str, float]]  # called with strictest=, see run_test
    summary: str
    p: float | None = None  # None: not tested, its effect being below its threshold

    def needs_test(self) -> bool:
        if self.rule.method in P_VALUE_METHODS:
            return True
        return self.measures[self.rule.method] >= self.rule.threshold

    def run_test(self, strictest: float) -> None:
        tests = self.test(strictest=strictest)
        self.measures.update({k: v for k, v in tests.items() if k != "p"})
        self.p = tests["p"]


def compare(
    current: Profile,
    reference: Profile,
    schema: Schema | None,
    comparison: str,
    *,
    brief: bool = False,
) -> tuple[list[ColumnDrift], list[Anomaly]]:
    """Every column of ``reference`` that ``current`` has, judged (see the module's
    text). ``brief`` measures a numeric column by what the judgement and its words
    need (Wasserstein, KS, the mean's shift and the deviation's ratio), without the
    binned distances and the shares a report draws: for many comparisons read as a
    table, such as a deployment's windows."""
    label = (schema.label if schema is not None else None) or reference.label
    tolerance = schema.label_tolerance if schema is not None else 0.05
    alpha = schema.drift_alpha if schema is not None else _evidence.DRIFT_ALPHA
    measured: list[_Measured] = []
    found: list[Anomaly] = []
    for ref in reference.columns:
        if not current.has_column(ref.name):
            continue
        cur = current.column(ref.name)
        spec = _spec(schema, ref.name)
        role = spec.role if spec is not None and spec.role else column_role(ref)
        if role == "timestamp" and comparison == "drift":
            found.extend(_time_anomalies(ref, cur))
        if (spec is not None and spec.drift_off) or (role in NOT_TESTED and ref.name != label):
            continue
        kind = "label_shift" if ref.name == label else "drift"
        one = _measure(ref, cur, reference, current, spec, kind, tolerance, brief)
        if one is not None:
            measured.append(one)
    # A column whose effect is below its threshold does not drift whatever its test
    # says: only the others are tested, and Holm's adjustment counts the whole family,
    # as if the untested had the larger p-values (conservative; exact when they do).
    tested = [one for one in measured if one.needs_test()]
    for one in tested:
        one.run_test(alpha / len(measured))
    adjusted = _evidence.holm_partial([one.p for one in tested], len(measured))
    p_of = {id(one): p for one, p in zip(tested, adjusted, strict=True)}
    drifts: list[ColumnDrift] = []
    for one in measured:
        drift = _judged(one, p_of.get(id(one)), alpha, comparison)
        drifts.append(drift)
        if drift.drifted:
            found.append(_anomaly(drift, comparison, alpha, len(measured)))
    return drifts, found


def _spec(schema: Schema | None, name: str) -> ColumnSchema | None:
    if schema is None or not schema.has_column(name):
        return None
    return schema.column(name)


def _measure(
    ref: ColumnProfile,
    cur: ColumnProfile,
    reference: Profile,
    current: Profile,
    spec: ColumnSchema | None,
    kind: str,
    tolerance: float,
    brief: bool = False,
) -> _Measured | None:
    if not ref.count or not cur.count:
        return None
    test: Callable[..., dict[str, float]]
    if ref.values is not None and cur.values is not None and (ref.categorical or ref.numeric):
        measures, ref_shares, cur_shares, (r, c) = categorical_measures(ref, cur)
        test = functools.partial(_evidence.categorical_test, r, c)
        tested_by = "chisquare"
        default = DriftRule("linf", tolerance) if kind == "label_shift" else EFFECT["categorical"]
        summary = (
            _label_words(ref_shares, cur_shares)
            if kind == "label_shift"
            else _category_words(ref_shares, cur_shares)
        )
    elif ref.numeric and cur.numeric and ref.quantiles and cur.quantiles:
        measures, ref_shares, cur_shares = numeric_measures(
            ref, cur, reference, current, brief=brief
        )
        test = functools.partial(_numeric_test, reference, current, ref.name)
        tested_by = "ks"
        default = EFFECT["numeric"]
        summary = _number_words(measures)
    else:
        return None
    rule = spec.drift if spec is not None and spec.drift is not None else default
    # A rule this column's kind cannot give (chi-square of a continuous column, a
    # distance measured only for the other kind): the default for its kind.
    if rule.method not in measures and rule.method != tested_by:
        rule = default
    return _Measured(ref, kind, rule, measures, ref_shares, cur_shares, test, summary)


def _numeric_test(
    reference: Profile, current: Profile, name: str, *, strictest: float
) -> dict[str, float]:
    """The tests on both sides' sampled values (a table within the sample: every
    value); for a side without a sample (a profile merged from parts, see
    :mod:`loopml.data._parts`), its every value when they are kept and few, else the
    KS test on both sides' order statistics. Without either, no test. (Their p-values
    come from distributions, not draws: the ``strictest`` level does not change them.)"""
    ref_sample = _test_values(reference, name)
    cur_sample = _test_values(current, name)
    if ref_sample is not None and cur_sample is not None:
        tests = _evidence.numeric_tests(ref_sample, cur_sample)
        tests["test_rows"] = float(min(len(ref_sample), len(cur_sample)))
        return tests
    if reference.sample is not None and current.sample is not None:
        return {"p": math.nan}
    from loopml.data._distances import kept_order_stats

    ref_stats = kept_order_stats(reference.column(name), reference)
    cur_stats = kept_order_stats(current.column(name), current)
    if ref_stats is None or cur_stats is None:
        return {"p": math.nan}
    tests = _evidence.ks_test_bracketed(ref_stats, cur_stats)
    tests["test_rows"] = float(min(ref_stats.count, cur_stats.count))
    return tests


def _test_values(table: Profile, name: str) -> Any:
    """The values the tests take: the sample's, or every value of a column of a table
    with no sample whose values are all kept and no more than a sample's."""
    from loopml.data._profile import SAMPLE_ROWS

    if table.sample is not None:
        return table.sample_values(name)
    kept = table.column(name).order_stats
    if kept is not None and kept.complete and kept.count <= SAMPLE_ROWS:
        return kept.low
    return None


def _judged(one: _Measured, p_adjusted: float | None, alpha: float, comparison: str) -> ColumnDrift:
    rule = one.rule
    if rule.method in P_VALUE_METHODS:
        statistic = one.measures.get(f"{rule.method}_p", math.nan)
        drifted = statistic < rule.threshold
    elif p_adjusted is None or one.p is None:
        statistic = one.measures[rule.method]
        drifted = False
    else:
        statistic = one.measures[rule.method]
        # Without raw values to test (a profile stored without its sample), the effect
        # alone decides, as it did before tests were kept.
        evident = p_adjusted < alpha or math.isnan(one.p)
        drifted = evident and statistic >= rule.threshold
    kind = one.kind
    if comparison == "skew":
        kind = "label_skew" if kind == "label_shift" else "skew"
    return ColumnDrift(
        column=one.ref.name,
        method=rule.method,
        statistic=statistic,
        threshold=rule.threshold,
        drifted=bool(drifted),
        measures=one.measures,
        reference=one.reference,
        current=one.current,
        p_value=one.p,
        p_adjusted=p_adjusted,
        kind=kind,
        summary=one.summary,
    )


def _anomaly(drift: ColumnDrift, comparison: str, alpha: float, tested: int) -> Anomaly:
    if drift.method in P_VALUE_METHODS:
        verdict = f"{drift.method} p={_evidence.fmt_p(drift.statistic)} < {drift.threshold:g}"
    else:
        verdict = (
            f"{drift.method} {drift.statistic:.3g} >= {drift.threshold:g}; "
            f"{_tests_words(drift.measures, drift.p_value)}, "
            f"{_evidence.fmt_p(drift.p_adjusted or 0.0)} after "
            f"Holm over {tested} column{'s' if tested != 1 else ''} (< {alpha:g})"
        )
    if drift.kind in ("label_shift", "label_skew"):
        moved = "moved" if comparison == "drift" else "differ between the two"
        what = f"label {drift.column!r}: class shares {moved}"
    else:
        moved = "drifted from the reference" if comparison == "drift" else "differs between the two"
        what = f"{drift.column!r} {moved}"
    return anomaly(
        drift.kind,
        drift.column,
        f"{what}: {drift.summary}; {verdict}",
        method=drift.method,
        statistic=drift.statistic,
        threshold=drift.threshold,
        p_value=drift.p_value,
        p_adjusted=drift.p_adjusted,
        alpha=alpha,
        **drift.measures,
    )


def _tests_words(measures: dict[str, float], p: float | None) -> str:
    if "cvm_p" in measures:
        return (
            f"KS p={_evidence.fmt_p(measures['ks_p'])}, "
            f"Cramér-von Mises p={_evidence.fmt_p(measures['cvm_p'])}"
        )
    if "new_values_p" in measures:  # the p-value judged is the two tests' together
        together = _evidence.fmt_p(p if p is not None else math.nan)
        return (
            f"chi-square p={_evidence.fmt_p(measures['chisquare_p'])} and rows of values never "
            f"seen before p={_evidence.fmt_p(measures['new_values_p'])}: together "
            f"p={together} over {measures['permutations']:,.0f} permutations"
        )
    if "chisquare_p" in measures:
        how = "permutation " if "permutations" in measures else ""
        return f"chi-square {how}p={_evidence.fmt_p(measures['chisquare_p'])}"
    return "no test (no raw values stored)"


def _number_words(measures: dict[str, float]) -> str:
    """ "mean +0.26 sd, sd x1.02": the direction and size of a numeric change."""
    return f"mean {measures['mean_shift']:+.2f} sd, sd x{measures['std_ratio']:.2f}"


def _label_words(ref_shares: dict[str, Any], cur_shares: dict[str, Any]) -> str:
    """Each class's share before and after: "a 50.0% -> 70.0%, b 50.0% -> 30.0%"."""
    pairs = zip(ref_shares["values"], ref_shares["shares"], cur_shares["shares"], strict=True)
    shown = [f"{value} {before:.1%} -> {after:.1%}" for value, before, after in pairs]
    return ", ".join(shown[:6]) + (", ..." if len(shown) > 6 else "")


def _category_words(ref_shares: dict[str, Any], cur_shares: dict[str, Any]) -> str:
    """The value whose share moved most, and the share of values the reference never had."""
    values = ref_shares["values"]
    before, after = ref_shares["shares"], cur_shares["shares"]
    moved = max(range(len(values)), key=lambda i: abs(after[i] - before[i]), default=None)
    words = []
    if moved is not None:
        words.append(f"{values[moved]!r} {before[moved]:.1%} -> {after[moved]:.1%}")
    new = sum(a for v, a, b in zip(values, after, before, strict=True) if b == 0 and a > 0)
    if new > 0 and (moved is None or before[moved] != 0):
        words.append(f"values never seen before: {new:.1%}")
    return ", ".join(words) or "no change in shares"


# -- timestamps ----------------------------------------------------------------------


def _time_anomalies(ref: ColumnProfile, cur: ColumnProfile) -> list[Anomaly]:
    """A batch's dates against its reference's: newer, in order, without long gaps."""
    if ref.span is None or cur.span is None:
        return []
    old, new = ref.span, cur.span
    found: list[Anomaly] = []
    if new.first <= old.last:
        found.append(
            anomaly(
                "date_order",
                ref.name,
                f"{ref.name!r} starts at {_when(new.first)}, not after the reference ends "
                f"({_when(old.last)}): the batch is not newer than its reference",
                first=new.first,
                reference_last=old.last,
            )
        )
    elif old.ascending and not new.ascending:
        found.append(
            anomaly(
                "date_order",
                ref.name,
                f"the rows of {ref.name!r} are not in time order, as the reference's were",
            )
        )
    allowed = _allowed_gap(old)
    if allowed is not None:
        gap = max(new.largest_gap, new.first - old.last)
        if gap > allowed:
            found.append(
                anomaly(
                    "date_gap",
                    ref.name,
                    f"{ref.name!r} has a gap of {_duration(gap)}; the reference's step is "
                    f"{_duration(old.step)} and its largest gap {_duration(old.largest_gap)}",
                    gap=gap,
                    allowed=allowed,
                )
            )
    return found


def _allowed_gap(span: TimeSpan) -> float | None:
    if span.step <= 0:
        return None
    return max(2 * span.largest_gap, 3 * span.step)


def _when(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    if moment.time() == dt.time(0):
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.4g} {unit}"
    return f"{seconds:.4g} seconds"
