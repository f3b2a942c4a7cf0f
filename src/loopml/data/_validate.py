"""Validation: a profile checked against a schema and compared with a reference.

Checks, each an anomaly kind (at least the ones TensorFlow Data Validation reports):
missing_column, unexpected_column, wrong_type, out_of_range, outside_domain,
missing_values, too_few_rows, duplicate_rows, duplicate_ids, drift (against the
previous version) or skew (between two datasets meant to match), label_shift /
label_skew for the label's class shares, and date_order / date_gap for timestamps.

The schema's limits are judged with evidence (:mod:`loopml.data._limits`), drift by
tests with the false-alarm rate held across columns and by effect size
(:mod:`loopml.data._drift`).

>>> import polars as pl
>>> from loopml.data._profile import profile
>>> before = profile(pl.DataFrame({"y": ["a"] * 500 + ["b"] * 500}), label="y")
>>> after = profile(pl.DataFrame({"y": ["a"] * 700 + ["b"] * 300}), label="y")
>>> [a.kind for a in validate_profile(after, reference=before).anomalies]
['label_shift']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.data._drift import compare
from loopml.data._infer import infer_schema
from loopml.data._limits import schema_anomalies
from loopml.data._records import Anomaly, ColumnDrift, Validation
from loopml.data._schema import DEFAULT_SEVERITY, Schema
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.data._profile import Profile

__all__ = ["Anomaly", "ColumnDrift", "Validation", "default_severity", "validate_profile"]


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
        raise InvalidInput(
            f"comparison is {comparison!r}; use 'drift' or 'skew'", field="comparison"
        )
    if schema is None and reference is not None:
        schema = infer_schema(reference)
    found: list[Anomaly] = []
    if schema is not None:
        found.extend(schema_anomalies(current, schema))
    drifts: list[ColumnDrift] = []
    if reference is not None:
        drifts, compared = compare(current, reference, schema, comparison)
        found.extend(compared)
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


def default_severity(kind: str) -> str:
    return DEFAULT_SEVERITY.get(kind, "error")
