"""Validation: a profile checked against a schema and compared with a reference.

Checks, each an anomaly kind (at least the ones TensorFlow Data Validation reports):
missing_column, unexpected_column, wrong_type, out_of_range, outside_domain,
missing_values, too_few_rows, duplicate_rows, drift (against the previous version) or
skew (between two datasets meant to match), and label_shift / label_skew for the
label's class shares.

Drift is judged by effect size on large tables, where every p-value is tiny: a column
of at least 1,000 rows on both sides drifts when the Wasserstein distance divided by
the reference's standard deviation reaches 0.1 (numeric) or the Jensen-Shannon
distance reaches 0.1 (categorical). Smaller tables use tests: KS p < 0.05 (numeric),
chi-square p < 0.05 (categorical). Every other measure is reported as evidence. A
schema can set the method and threshold per column.

>>> import polars as pl
>>> from loopml.data._profile import profile
>>> before = profile(pl.DataFrame({"y": ["a"] * 500 + ["b"] * 500}), label="y")
>>> after = profile(pl.DataFrame({"y": ["a"] * 700 + ["b"] * 300}), label="y")
>>> [a.kind for a in validate_profile(after, reference=before).anomalies]
['drift', 'label_shift']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.data import _stats
from loopml.data._schema import DEFAULT_SEVERITY, DriftRule, Schema, infer_schema

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile, Profile, Value

LARGE = 1000  # rows on both sides from which drift is judged by effect size
DEFAULT_RULES = {
    ("numeric", True): DriftRule("wasserstein", 0.1),
    ("numeric", False): DriftRule("ks", 0.05),
    ("categorical", True): DriftRule("jensenshannon", 0.1),
    ("categorical", False): DriftRule("chisquare", 0.05),
}
P_VALUE_METHODS = ("ks", "chisquare")


@dataclass(frozen=True)
class Anomaly:
    """One finding: its kind, column (None for the table), severity, a sentence with
    the numbers, and the evidence those numbers came from."""

    kind: str
    column: str | None
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnDrift:
    """One column compared with the reference: the judging method and every measure."""

    column: str
    method: str
    statistic: float
    threshold: float
    drifted: bool
    measures: dict[str, float]
    reference: dict[str, Any]  # what the report draws: shares per bin or per value
    current: dict[str, Any]


@dataclass(frozen=True)
class Validation:
    rows: int
    reference_rows: int | None
    comparison: str  # "drift" or "skew"
    anomalies: tuple[Anomaly, ...]
    drift: tuple[ColumnDrift, ...]

    @property
    def errors(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.severity == "error"]

    @property
    def passed(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "loopml.validation/1",
            "passed": self.passed,
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "comparison": self.comparison,
            "anomalies": [vars(a) for a in self.anomalies],
            "drift": [vars(d) for d in self.drift],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Validation:
        return cls(
            rows=data["rows"],
            reference_rows=data["reference_rows"],
            comparison=data["comparison"],
            anomalies=tuple(Anomaly(**a) for a in data["anomalies"]),
            drift=tuple(ColumnDrift(**d) for d in data["drift"]),
        )


def validate_profile(
    current: Profile,
    *,
    schema: Schema | None = None,
    reference: Profile | None = None,
    comparison: str = "drift",
) -> Validation:
    """Check ``current`` against ``schema`` (inferred from ``reference`` when not given)
    and, with a reference, compare the two: ``comparison`` is "drift" (a later version
    of the same data) or "skew" (two datasets meant to match, e.g. train and eval)."""
    if comparison not in ("drift", "skew"):
        raise ValueError(f"comparison is {comparison!r}; use 'drift' or 'skew'")
    if schema is None and reference is not None:
        schema = infer_schema(reference)
    found: list[Anomaly] = []
    if schema is not None:
        found.extend(_schema_anomalies(current, schema))
    drifts: list[ColumnDrift] = []
    if reference is not None:
        drifts, drift_anomalies = _compare(current, reference, schema, comparison)
        found.extend(drift_anomalies)
    severity = schema.severity_of if schema is not None else default_severity
    found = [
        Anomaly(a.kind, a.column, severity(a.kind), a.message, a.evidence)
        for a in found
        if severity(a.kind) != "ignore"
    ]
    order = {"error": 0, "warning": 1}
    found.sort(key=lambda a: (order.get(a.severity, 2), a.column or ""))
    return Validation(
        rows=current.rows,
        reference_rows=reference.rows if reference is not None else None,
        comparison=comparison,
        anomalies=tuple(found),
        drift=tuple(drifts),
    )


# -- the schema's checks -----------------------------------------------------------


def _schema_anomalies(current: Profile, schema: Schema) -> list[Anomaly]:
    found: list[Anomaly] = []
    if current.rows < schema.min_rows:
        found.append(
            _anomaly(
                "too_few_rows",
                None,
                f"{current.rows:,} rows, fewer than the schema's min_rows {schema.min_rows:,}",
                rows=current.rows,
                min_rows=schema.min_rows,
            )
        )
    share = current.duplicate_rows / current.rows if current.rows else 0.0
    if share > schema.max_duplicate_fraction:
        found.append(
            _anomaly(
                "duplicate_rows",
                None,
                f"{current.duplicate_rows:,} duplicate rows ({share:.2%}), more than the "
                f"allowed {schema.max_duplicate_fraction:.2%}",
                duplicate_rows=current.duplicate_rows,
                share=share,
                limit=schema.max_duplicate_fraction,
            )
        )
    for column in schema.columns:
        if not current.has_column(column.name):
            if column.required:
                found.append(
                    _anomaly(
                        "missing_column",
                        column.name,
                        f"column {column.name!r} ({column.type}) is missing",
                        expected_type=column.type,
                    )
                )
            continue
        found.extend(_column_anomalies(current.column(column.name), column))
    for name in current.names:
        if not schema.has_column(name):
            found.append(
                _anomaly(
                    "unexpected_column",
                    name,
                    f"column {name!r} ({current.column(name).type}) is not in the schema",
                    type=current.column(name).type,
                )
            )
    return found


def _column_anomalies(profile: ColumnProfile, column: Any) -> list[Anomaly]:
    found: list[Anomaly] = []
    if profile.type != column.type and (profile.type, column.type) != ("integer", "float"):
        found.append(
            _anomaly(
                "wrong_type",
                column.name,
                f"column {column.name!r} is {profile.type} ({profile.dtype}), the schema "
                f"says {column.type}",
                type=profile.type,
                dtype=profile.dtype,
                expected=column.type,
            )
        )
        return found
    if profile.missing_fraction > column.max_missing:
        found.append(
            _anomaly(
                "missing_values",
                column.name,
                f"{profile.missing_fraction:.2%} of {column.name!r} is missing, more than the "
                f"allowed {column.max_missing:.2%}",
                missing=profile.missing,
                share=profile.missing_fraction,
                limit=column.max_missing,
            )
        )
    if profile.numeric and profile.count and (column.min is not None or column.max is not None):
        below, above = _shares_outside(profile, column.min, column.max)
        if below + above > column.max_outside_range:
            found.append(
                _anomaly(
                    "out_of_range",
                    column.name,
                    f"{below + above:.2%} of {column.name!r} lies outside "
                    f"[{column.min}, {column.max}] ({below:.2%} below, {above:.2%} above; "
                    f"observed {profile.min:.6g} to {profile.max:.6g}), more than the "
                    f"allowed {column.max_outside_range:.2%}",
                    below=below,
                    above=above,
                    min=column.min,
                    max=column.max,
                    observed_min=profile.min,
                    observed_max=profile.max,
                    limit=column.max_outside_range,
                )
            )
    if column.domain is not None and profile.values is not None and profile.count:
        allowed = {_key(v) for v in column.domain}
        unknown = [(v, n) for v, n in profile.values if _key(v) not in allowed]
        outside = sum(n for _, n in unknown) + profile.other
        share = outside / profile.count
        if share > column.max_outside_domain:
            shown = ", ".join(f"{v!r} ({n:,})" for v, n in unknown[:5])
            found.append(
                _anomaly(
                    "outside_domain",
                    column.name,
                    f"{share:.2%} of {column.name!r} is outside its domain: {shown}"
                    + (" and others" if len(unknown) > 5 or profile.other else "")
                    + f"; allowed {column.max_outside_domain:.2%}",
                    share=share,
                    values={str(v): n for v, n in unknown[:20]},
                    limit=column.max_outside_domain,
                )
            )
    return found


def _shares_outside(
    profile: ColumnProfile, low: float | None, high: float | None
) -> tuple[float, float]:
    """Shares of non-missing values below ``low`` and above ``high``."""
    if profile.values is not None:  # exact counts
        count = profile.count
        below = sum(n for v, n in profile.values if low is not None and float(v) < low)
        above = sum(n for v, n in profile.values if high is not None and float(v) > high)
        return below / count, above / count
    import numpy as np

    assert profile.quantiles is not None
    q = np.asarray(profile.quantiles)
    below_share = above_share = 0.0
    if low is not None and low > q[0]:
        point = np.array([np.nextafter(low, -np.inf)])
        below_share = float(_stats.cdf_from_quantiles(q, point)[0])
    if high is not None and high < q[-1]:
        above_share = 1.0 - float(_stats.cdf_from_quantiles(q, np.array([high]))[0])
    return below_share, above_share


# -- comparing with a reference ------------------------------------------------------


def _compare(
    current: Profile, reference: Profile, schema: Schema | None, comparison: str
) -> tuple[list[ColumnDrift], list[Anomaly]]:
    drifts: list[ColumnDrift] = []
    found: list[Anomaly] = []
    known: dict[tuple[int, int, float], tuple[float, float]] = {}  # KS tests run
    for ref in reference.columns:
        if not current.has_column(ref.name):
            continue
        cur = current.column(ref.name)
        spec = _spec(schema, ref.name)
        if spec is not None and spec.drift_off:
            continue
        rule = spec.drift if spec is not None and spec.drift is not None else None
        drift = column_drift(ref, cur, rule, reference, current, known)
        if drift is None:
            continue
        drifts.append(drift)
        if drift.drifted:
            found.append(_drift_anomaly(drift, comparison))
    label = (schema.label if schema is not None else None) or reference.label
    if label and reference.has_column(label) and current.has_column(label):
        tolerance = schema.label_tolerance if schema is not None else 0.05
        shift = _label_shift(reference.column(label), current.column(label), tolerance, comparison)
        if shift is not None:
            found.append(shift)
    return drifts, found


def _spec(schema: Schema | None, name: str) -> Any:
    if schema is None or not schema.has_column(name):
        return None
    return schema.column(name)


def column_drift(
    ref: ColumnProfile,
    cur: ColumnProfile,
    rule: DriftRule | None,
    reference: Profile,
    current: Profile,
    known: dict[tuple[int, int, float], tuple[float, float]] | None = None,
) -> ColumnDrift | None:
    """Every measure between two profiles of one column, judged by ``rule`` (or the
    default for its type and size); None when the column cannot be compared."""
    if not ref.count or not cur.count:
        return None
    large = min(ref.count, cur.count) >= LARGE
    if ref.values is not None and cur.values is not None and (ref.categorical or ref.numeric):
        kind = "categorical"
        measures, ref_shares, cur_shares = _categorical_measures(ref, cur)
    elif ref.numeric and cur.numeric and ref.quantiles and cur.quantiles:
        kind = "numeric"
        measures, ref_shares, cur_shares = _numeric_measures(ref, cur, reference, current, known)
    else:
        return None
    chosen = rule or DEFAULT_RULES[(kind, large)]
    if chosen.method not in measures:
        chosen = DEFAULT_RULES[(kind, large)]
    statistic = measures[chosen.method]
    if chosen.method in P_VALUE_METHODS:
        statistic = measures[f"{chosen.method}_p"]
        drifted = statistic < chosen.threshold
    else:
        drifted = statistic >= chosen.threshold
    return ColumnDrift(
        column=ref.name,
        method=chosen.method,
        statistic=statistic,
        threshold=chosen.threshold,
        drifted=bool(drifted),
        measures=measures,
        reference=ref_shares,
        current=cur_shares,
    )


def _categorical_measures(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
    from loopml.data._distances import categorical_distances

    # Exact over every value when both profiles count them all, else with a bound.
    measures, keys, r, c = categorical_distances(ref, cur)
    ref_p = [n / ref.count for n in r]
    cur_p = [n / cur.count for n in c]
    shown = {"values": keys[:50], "shares": ref_p[:50]}
    return measures, shown, {"values": keys[:50], "shares": cur_p[:50]}


def _numeric_measures(
    ref: ColumnProfile,
    cur: ColumnProfile,
    reference: Profile,
    current: Profile,
    known: dict[tuple[int, int, float], tuple[float, float]] | None = None,
) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
    from loopml.data._distances import numeric_distances

    assert ref.quantiles is not None
    assert cur.quantiles is not None
    # Wasserstein and KS: exact, or with their bounds (``*_bound``); see _distances.
    measures = numeric_distances(ref, cur, reference, current)
    gap = measures.pop("ks_gap", None)
    scale = ref.std or 0.0
    ref_bins, cur_bins = _stats.numeric_bins(ref.quantiles, cur.quantiles)
    measures |= {
        "psi": _stats.psi(ref_bins, cur_bins),
        "jensenshannon": _stats.js_distance(ref_bins, cur_bins),
        "mean_shift": ((cur.mean or 0.0) - (ref.mean or 0.0)) / scale if scale > 0 else 0.0,
        "std_ratio": (cur.std or 0.0) / scale if scale > 0 else 1.0,
    }
    ref_sample = reference.sample_values(ref.name)
    cur_sample = current.sample_values(cur.name)
    if ref_sample is not None and cur_sample is not None:
        _, p_value = _stats.ks_test(ref_sample, cur_sample, known, gap=gap)
        measures["ks_p"] = p_value
        measures["ks_p_sample_rows"] = float(min(len(ref_sample), len(cur_sample)))
    else:
        measures["ks_p"] = math.nan
    return measures, _curve(ref, cur, ref), _curve(ref, cur, cur)


def _curve(ref: ColumnProfile, cur: ColumnProfile, which: ColumnProfile) -> dict[str, Any]:
    """Shares in 30 common bins over both columns' central range, for the report."""
    import numpy as np

    assert ref.quantiles
    assert cur.quantiles
    assert which.quantiles
    steps = len(ref.quantiles) - 1
    low = min(ref.quantiles[steps // 200], cur.quantiles[steps // 200])
    high = max(ref.quantiles[steps - steps // 200], cur.quantiles[steps - steps // 200])
    if not high > low:
        low, high = min(ref.quantiles[0], cur.quantiles[0]), max(ref.quantiles[-1], high)
    edges = np.linspace(low, high, 31) if high > low else np.array([low, low])
    cdf = _stats.cdf_from_quantiles(np.asarray(which.quantiles), edges)
    return {"edges": [float(e) for e in edges], "shares": [float(s) for s in np.diff(cdf)]}


def _drift_anomaly(drift: ColumnDrift, comparison: str) -> Anomaly:
    if drift.method in P_VALUE_METHODS:
        verdict = f"{drift.method} p-value {drift.statistic:.3g} < {drift.threshold:g}"
    else:
        verdict = f"{drift.method} {drift.statistic:.3g} >= {drift.threshold:g}"
    what = "drifted from the reference" if comparison == "drift" else "differs between the two"
    return _anomaly(
        comparison,
        drift.column,
        f"{drift.column!r} {what}: {verdict}",
        method=drift.method,
        statistic=drift.statistic,
        threshold=drift.threshold,
        **drift.measures,
    )


def _label_shift(
    ref: ColumnProfile, cur: ColumnProfile, tolerance: float, comparison: str
) -> Anomaly | None:
    if ref.values is None or cur.values is None or not ref.count or not cur.count:
        return None
    ref_p = {_key(v): s for v, s in ref.proportions().items()}
    cur_p = {_key(v): s for v, s in cur.proportions().items()}
    keys = sorted(set(ref_p) | set(cur_p))
    changes = {k: cur_p.get(k, 0.0) - ref_p.get(k, 0.0) for k in keys}
    worst = max(keys, key=lambda k: abs(changes[k]))
    if abs(changes[worst]) <= tolerance:
        return None
    kind = "label_shift" if comparison == "drift" else "label_skew"
    shares = ", ".join(f"{k}: {ref_p.get(k, 0):.1%} -> {cur_p.get(k, 0):.1%}" for k in keys[:6])
    return _anomaly(
        kind,
        ref.name,
        f"label {ref.name!r} class shares moved by up to {abs(changes[worst]):.1%} (class "
        f"{worst}), more than the tolerance {tolerance:.1%}: {shares}",
        reference={k: ref_p.get(k, 0.0) for k in keys},
        current={k: cur_p.get(k, 0.0) for k in keys},
        linf=abs(changes[worst]),
        tolerance=tolerance,
    )


def _key(value: Value) -> str:
    """Values compared across profiles and schema files by their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def default_severity(kind: str) -> str:
    return DEFAULT_SEVERITY.get(kind, "error")


def _anomaly(kind: str, column: str | None, message: str, **evidence: Any) -> Anomaly:
    return Anomaly(kind, column, "error", message, evidence)
