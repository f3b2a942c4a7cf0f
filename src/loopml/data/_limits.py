"""The schema's checks of one batch: types, missing values, impossible values, domains,
duplicates, identifiers.

Every limit is a share of the population, and a batch breaks it only when its counts
make that certain (the one-sided binomial test at the schema's ``check_alpha``): 5
missing values in 100 rows do not break a 1% limit, 30 in 1,000 do. The message gives
the counts, the limit, where the limit came from and the p-value.

>>> import polars as pl
>>> from loopml.data._infer import infer_schema
>>> from loopml.data._profile import profile
>>> schema = infer_schema(profile(pl.DataFrame({"n": [k % 50 for k in range(1000)]})))
>>> batch = profile(pl.DataFrame({"n": [-1] * 50 + [k % 50 for k in range(950)]}))
>>> [(a.kind, a.column) for a in schema_anomalies(batch, schema)]
[('out_of_range', 'n')]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.data import _evidence, _stats
from loopml.data._infer import inferred_limit
from loopml.data._records import Anomaly, anomaly, value_key

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile, Profile
    from loopml.data._schema import ColumnSchema, Schema


def schema_anomalies(current: Profile, schema: Schema) -> list[Anomaly]:
    """Every check of the schema on one batch's profile."""
    found: list[Anomaly] = []
    alpha = schema.check_alpha
    if current.rows < schema.min_rows:
        found.append(
            anomaly(
                "too_few_rows",
                None,
                f"{current.rows:,} rows, fewer than the schema's min_rows {schema.min_rows:,}",
                rows=current.rows,
                min_rows=schema.min_rows,
            )
        )
    over = _over(current.duplicate_rows, current.rows, schema.max_duplicate_fraction, alpha)
    if over is not None:
        found.append(
            anomaly(
                "duplicate_rows",
                None,
                f"{current.duplicate_rows:,} of {current.rows:,} rows are duplicates "
                f"({over['share']:.2%}), more than the {over['limit']:.2%} allowed "
                f"(p={_evidence.fmt_p(over['p'])})",
                duplicate_rows=current.duplicate_rows,
                **over,
            )
        )
    for column in schema.columns:
        if not current.has_column(column.name):
            if column.required:
                found.append(
                    anomaly(
                        "missing_column",
                        column.name,
                        f"column {column.name!r} ({column.type}) is missing",
                        expected_type=column.type,
                    )
                )
            continue
        found.extend(column_anomalies(current.column(column.name), column, alpha, schema.rows))
    for name in current.names:
        if not schema.has_column(name):
            found.append(
                anomaly(
                    "unexpected_column",
                    name,
                    f"column {name!r} ({current.column(name).type}) is not in the schema",
                    type=current.column(name).type,
                )
            )
    return found


def column_anomalies(
    profile: ColumnProfile, column: ColumnSchema, alpha: float, reference_rows: int | None = None
) -> list[Anomaly]:
    if profile.type != column.type and (profile.type, column.type) != ("integer", "float"):
        return [
            anomaly(
                "wrong_type",
                column.name,
                f"column {column.name!r} is {profile.type} ({profile.dtype}), the schema "
                f"says {column.type}",
                type=profile.type,
                dtype=profile.dtype,
                expected=column.type,
            )
        ]
    found: list[Anomaly] = []
    seen = _seen(column, "missing", reference_rows, column.max_missing)
    over = _over(profile.missing, profile.rows, column.max_missing, alpha, seen)
    if over is not None:
        found.append(
            anomaly(
                "missing_values",
                column.name,
                f"{over['share']:.2%} of {column.name!r} is missing ({profile.missing:,} of "
                f"{profile.rows:,} rows), more than the {over['limit']:.2%} allowed"
                f"{_basis(column, 'missing')} (p={_evidence.fmt_p(over['p'])})",
                missing=profile.missing,
                **over,
            )
        )
    if profile.numeric and profile.count and (column.min is not None or column.max is not None):
        found.extend(_range(profile, column, alpha, reference_rows))
    if column.domain is not None and profile.values is not None and profile.count:
        found.extend(_domain(profile, column, alpha))
    if column.role == "identifier" and profile.distinct < profile.count:
        repeated = profile.count - profile.distinct
        found.append(
            anomaly(
                "duplicate_ids",
                column.name,
                f"{repeated:,} values of the identifier {column.name!r} repeat one before "
                f"({profile.distinct:,} distinct in {profile.count:,} rows)",
                repeated=repeated,
            )
        )
    return found


def _range(
    profile: ColumnProfile, column: ColumnSchema, alpha: float, reference_rows: int | None
) -> list[Anomaly]:
    below, above = _counts_outside(profile, column.min, column.max)
    seen = _seen(column, "outside_range", reference_rows, column.max_outside_range)
    over = _over(below + above, profile.count, column.max_outside_range, alpha, seen)
    if over is None:
        return []
    bounds = f"[{_bound(column.min)}, {_bound(column.max)}]"
    return [
        anomaly(
            "out_of_range",
            column.name,
            f"{over['share']:.2%} of {column.name!r} lies outside {bounds} ({below:,} below, "
            f"{above:,} above; observed {profile.min:.6g} to {profile.max:.6g}), more than "
            f"the {over['limit']:.2%} allowed{_basis(column, 'outside_range')} "
            f"(p={_evidence.fmt_p(over['p'])})",
            below=below,
            above=above,
            min=column.min,
            max=column.max,
            observed_min=profile.min,
            observed_max=profile.max,
            **over,
        )
    ]


def _domain(profile: ColumnProfile, column: ColumnSchema, alpha: float) -> list[Anomaly]:
    assert column.domain is not None
    allowed = {value_key(v) for v in column.domain}
    unknown = [(v, n) for v, n in profile.values or () if value_key(v) not in allowed]
    outside = sum(n for _, n in unknown) + profile.other
    over = _over(outside, profile.count, column.max_outside_domain, alpha)
    if over is None:
        return []
    shown = ", ".join(f"{v!r} ({n:,})" for v, n in unknown[:5])
    more = " and others" if len(unknown) > 5 or profile.other else ""
    return [
        anomaly(
            "outside_domain",
            column.name,
            f"{over['share']:.2%} of {column.name!r} is outside its domain: {shown}{more}; "
            f"the limit is {over['limit']:.2%}{_basis(column, 'outside_domain')} "
            f"(p={_evidence.fmt_p(over['p'])})",
            values={str(v): n for v, n in unknown[:20]},
            **over,
        )
    ]


def _over(
    count: int, rows: int, limit: float, alpha: float, seen: tuple[int, int] | None = None
) -> dict[str, Any] | None:
    """The evidence that ``count`` of ``rows`` breaks ``limit``; None when it does not.

    With ``seen`` (the reference's count and rows the limit was inferred from), the
    batch is compared with the reference itself: the exact test of two counts, which
    is surer than a test against the limit, a bound that already allows for the
    reference's noise. Without it (a limit set by hand), against the limit."""
    if not rows or count <= limit * rows:
        return None
    if seen is not None:
        p = _evidence.more_than_before(count, rows, *seen)
    else:
        p = _evidence.above_limit(count, rows, limit)
    if p >= alpha:
        return None
    return {"share": count / rows, "limit": limit, "p": p, "alpha": alpha}


def _seen(
    column: ColumnSchema, key: str, reference_rows: int | None, limit: float
) -> tuple[int, int] | None:
    """The reference's (count, rows) behind an inferred limit, when the schema has them
    and the limit is still the one inferred from them (not one set by hand)."""
    if key not in column.seen or reference_rows is None:
        return None
    rows = reference_rows
    if key != "missing":  # counted among the values present
        rows -= column.seen.get("missing", 0)
    if inferred_limit(column.seen[key], rows) != limit:
        return None
    return column.seen[key], rows


def _basis(column: ColumnSchema, key: str) -> str:
    """Where an inferred limit came from, e.g. " (0 in the reference's 300 rows)"."""
    if key not in column.seen:
        return ""
    return f" ({column.seen[key]:,} seen in the reference)"


def _bound(value: float | None) -> str:
    return "-inf" if value is None else f"{value:g}"


def _counts_outside(
    profile: ColumnProfile, low: float | None, high: float | None
) -> tuple[int, int]:
    """How many non-missing values lie below ``low`` and above ``high``: exact from value
    counts; else read off the quantiles, and at least one when the extreme is outside."""
    if profile.values is not None:
        below = sum(n for v, n in profile.values if low is not None and float(v) < low)
        above = sum(n for v, n in profile.values if high is not None and float(v) > high)
        return below, above
    import numpy as np

    assert profile.quantiles is not None
    q = np.asarray(profile.quantiles)
    below = above = 0
    if low is not None and profile.min is not None and profile.min < low:
        point = np.array([np.nextafter(low, -np.inf)])
        share = float(_stats.cdf_from_quantiles(q, point)[0])
        below = max(1, round(share * profile.count))
    if high is not None and profile.max is not None and profile.max > high:
        share = 1.0 - float(_stats.cdf_from_quantiles(q, np.array([high]))[0])
        above = max(1, round(share * profile.count))
    return below, above
