"""Why each column of a schema has the rules it has, in words: ``loopml data schema``
prints it above the YAML.

>>> import polars as pl
>>> from loopml.data._infer import infer_schema
>>> from loopml.data._profile import profile
>>> schema = infer_schema(profile(pl.DataFrame({"n": [0, 1, 2] * 100})))
>>> for part in why(schema.column("n"), schema.rows).split("; "):
...     print(part)
count: whole numbers, never negative in the reference
in [0, 4]: 0 as a bound, else one reference range beyond its own
missing: never in 300 rows, so up to 1.53% (the 99% bound)
drift tested
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.data._infer import inferred_limit

if TYPE_CHECKING:
    from loopml.data._schema import ColumnSchema, Schema

ROLE_WORDS = {
    "identifier": "distinct in every row: new batches bring new ids, so no range, domain "
    "or drift test; a repeated value is reported",
    "timestamp": "dates or times: checked for order, gaps and freshness, never given a "
    "range or domain",
    "calendar": "a part of a date by its name: the calendar's bounds, no drift test",
    "category": "few values, repeated: a domain",
    "text": "many values: no domain",
    "flag": "true or false",
    "count": "whole numbers, never negative in the reference",
    "measure": "numbers, never negative in the reference",
    "number": "numbers that may be negative",
    "constant": "one value in the reference",
    "empty": "no value in the reference",
}


def why(column: ColumnSchema, rows: int | None) -> str:
    """One line: the column's role and where each of its limits came from."""
    parts = [f"{column.role}: {ROLE_WORDS[column.role]}" if column.role else "no role"]
    if column.min is not None or column.max is not None:
        low = "-inf" if column.min is None else f"{column.min:g}"
        high = "inf" if column.max is None else f"{column.max:g}"
        how = (
            "the calendar's"
            if column.role == "calendar"
            else "0 as a bound, else one reference range beyond its own"
            if column.role in ("count", "measure") and column.min == 0
            else "one reference range beyond its own on each side"
        )
        parts.append(f"in [{low}, {high}]: {how}")
    parts.append(f"missing: {_basis(column, 'missing', column.max_missing, rows)}")
    if column.domain is not None:
        parts.append(
            f"new values: {_basis(column, 'outside_domain', column.max_outside_domain, rows)}"
        )
    parts.append("no drift test" if column.drift_off else "drift tested")
    return "; ".join(parts)


def schema_why(schema: Schema) -> dict[str, str]:
    return {column.name: why(column, schema.rows) for column in schema.columns}


def _basis(column: ColumnSchema, key: str, limit: float, rows: int | None) -> str:
    seen = column.seen.get(key)
    if seen is None or rows is None:
        return f"up to {limit:.2%} (set by hand)"
    base = rows if key == "missing" else rows - column.seen.get("missing", 0)
    if inferred_limit(seen, base) != limit:
        return f"up to {limit:.2%} (set by hand)"
    what = "never" if seen == 0 else f"{seen:,} times"
    if key == "outside_domain":
        what = "no value seen once" if seen == 0 else f"{seen:,} values seen once"
        return f"{what} in {base:,} rows, so up to {limit:.2%} (the 99% bound)"
    return f"{what} in {base:,} rows, so up to {limit:.2%} (the 99% bound)"
