"""Metrics per slice of the evaluation rows, worst first.

Slices come from columns and from the user:

- a text, categorical or boolean column: one slice per value (and one for its missing
  values), the 20 most frequent values at most; by default only columns with at most
  20 values are sliced (an id column says nothing per value);
- a numeric column: one slice per value when it has at most 10 values, else its
  quartiles, ``age in [18, 31)`` ... ``age in [52, 90]`` (bins whose edges tie are merged);
- ``slices={"name": ...}``: a Polars expression (``pl.col("age") > 60``), a SQL
  condition as text (``"age > 60 AND plan = 'basic'"``, read by ``pl.sql_expr``), a
  boolean array or Series with one value per row, or a function of the data (as it was
  given: pandas in, pandas out) returning one.

A slice with fewer than 30 rows is skipped (its metrics would be noise), as is one on
which the primary metric is undefined (ROC-AUC of rows of one class); both are listed
in the details. ``gap`` is the slice's primary metric minus the overall one, negated
when lower is better, so a negative gap is always worse. ``one_class`` marks a slice
where the model predicts one class for at least 95% of the rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput
from loopml.evaluation._predict import Predictions
from loopml.evaluation._records import SliceResult, higher_is_better
from loopml.evaluation._scores import scores

if TYPE_CHECKING:
    import polars as pl

MIN_ROWS = 30
MAX_VALUES = 20
FEW_NUMBERS = 10
QUANTILES = 4
ONE_CLASS_SHARE = 0.95

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Slice:
    name: str
    column: str | None
    mask: Mask


def default_columns(frame: pl.DataFrame, features: Sequence[str]) -> list[str]:
    """The feature columns sliced when ``slice_columns`` is not given."""
    chosen = []
    for name in features:
        dtype = frame.schema[name]
        if dtype.is_numeric() or (_is_text(dtype) and frame[name].n_unique() <= MAX_VALUES):
            chosen.append(name)
    return chosen


def column_slices(frame: pl.DataFrame, column: str) -> Iterator[Slice]:
    series = frame[column]
    dtype = series.dtype
    if dtype.is_numeric() and series.n_unique() > FEW_NUMBERS:
        yield from _quantile_slices(series)
    elif dtype.is_numeric() or _is_text(dtype):
        yield from _value_slices(series)


def _is_text(dtype: Any) -> bool:
    import polars as pl

    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum)


def _value_slices(series: pl.Series) -> Iterator[Slice]:
    for value in most_frequent(series)[:MAX_VALUES]:
        if value is None:
            yield Slice(f"{series.name} is null", series.name, series.is_null().to_numpy())
        else:
            mask = (series == value).fill_null(False).to_numpy()
            yield Slice(f"{series.name}={value}", series.name, mask)


def most_frequent(series: pl.Series) -> list[Any]:
    """The distinct values, the most frequent first (ties in value order: the same
    every time)."""
    counted = series.alias("value").value_counts(name="rows")
    return counted.sort(["rows", "value"], descending=[True, False]).to_series(0).to_list()


def _quantile_slices(series: pl.Series) -> Iterator[Slice]:
    values = series.cast(float).to_numpy()
    known = ~np.isnan(values)
    edges = np.unique(np.quantile(values[known], np.linspace(0, 1, QUANTILES + 1)))
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        last = i == len(edges) - 2
        inside = (values >= low) & ((values <= high) if last else (values < high))
        name = f"{series.name} in [{low:.4g}, {high:.4g}{']' if last else ')'}"
        yield Slice(name, series.name, inside)
    if not known.all():
        yield Slice(f"{series.name} is null", series.name, ~known)


def user_slices(slices: Mapping[str, Any], frame: pl.DataFrame, given: Any) -> Iterator[Slice]:
    import polars as pl

    for name, rule in slices.items():
        try:
            if isinstance(rule, str):
                rule = pl.sql_expr(rule)
            if isinstance(rule, pl.Expr):
                mask = frame.select(rule.alias("mask")).to_series()
            elif callable(rule):
                mask = rule(given)
            else:
                mask = rule
        except Exception as error:
            raise InvalidInput(
                f"slice {name!r} cannot be computed ({type(error).__name__}: {error}); give a "
                "Polars expression, a SQL condition, a boolean array, or a function of the data "
                "returning one"
            ) from error
        yield Slice(str(name), None, as_mask(mask, str(name), frame.height))


def as_mask(value: Any, name: str, rows: int) -> Mask:
    """A boolean array of ``rows`` values; a missing value is outside the slice."""
    module = type(value).__module__.partition(".")[0]
    if module == "polars":
        value = value.fill_null(False).to_numpy()
    elif module == "pandas":
        value = value.fillna(False).to_numpy()
    array = np.asarray(value)
    if array.dtype != np.bool_ or array.shape != (rows,):
        raise InvalidInput(
            f"slice {name!r} gives {array.dtype} values of shape {array.shape}; it must give "
            f"one boolean per evaluation row ({rows})"
        )
    return array


def slice_results(
    candidates: Iterator[Slice], p: Predictions, primary: str, overall: float
) -> tuple[list[SliceResult], list[dict[str, Any]]]:
    """The slices scored and sorted worst first, and those skipped, with why."""
    sign = 1.0 if higher_is_better(primary) else -1.0
    results, skipped = [], []
    for candidate in candidates:
        rows = np.flatnonzero(candidate.mask)
        if len(rows) < MIN_ROWS:
            skipped.append({"name": candidate.name, "rows": len(rows), "reason": "too few rows"})
            continue
        found = scores(p, rows, per_class="." in primary)
        if primary not in found:
            reason = f"{primary} is undefined on it"
            skipped.append({"name": candidate.name, "rows": len(rows), "reason": reason})
            continue
        gap = sign * (found[primary] - overall)
        result = SliceResult(
            candidate.name, candidate.column, len(rows), found, gap, _one_class(p, rows)
        )
        results.append(result)
    results.sort(key=lambda result: (result.gap, result.name))
    return results, skipped


def _one_class(p: Predictions, rows: npt.NDArray[np.intp]) -> bool:
    if p.task != "classification":
        return False
    top = np.bincount(p.pred[rows]).max()
    return bool(top >= ONE_CLASS_SHARE * len(rows))
