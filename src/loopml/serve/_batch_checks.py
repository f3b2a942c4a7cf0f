"""Batch scoring's checks of its arguments, made before a row is read: each an
InvalidInput naming the argument (or the column) at fault and the fix.

>>> checked_batch_rows(0)
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: batch_rows=0: give the number of rows scored at a time, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.serve._scoring import PREDICTION, probability_column

if TYPE_CHECKING:
    from loopml.data import DatasetVersion
    from loopml.models import Predictor
    from loopml.registry import ModelVersion


def checked_batch_rows(batch_rows: Any) -> int:
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInput(
            f"batch_rows={batch_rows!r}: give the number of rows scored at a time, a whole "
            f"number of at least 1 (default 65,536)",
            field="batch_rows",
        )
    return batch_rows


def checked_columns(columns: Any) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(name, str) for name in columns):
        raise InvalidInput(
            f"columns={columns!r}: give a list of column names, e.g. columns=['id'] "
            "(None keeps every column, [] none)",
            field="columns",
        )
    return list(dict.fromkeys(columns))


def table_columns(source: DatasetVersion) -> list[str]:
    if not source.tabular:
        raise InvalidInput(
            f"{source.what} is a folder of files, not a table: batch scoring reads a table "
            "(a Parquet or CSV version); add the rows as one with `loopml data add`",
            field="data",
        )
    return [str(column["name"]) for column in source.metadata.get("columns") or ()]


def kept(asked: list[str], names: list[str], source: DatasetVersion) -> list[str]:
    unknown = [name for name in asked if name not in names]
    if unknown:
        raise InvalidInput(
            f"columns: {source.what} has no column {unknown[0]!r}; keep some of {_listed(names)}",
            field="columns",
        )
    return asked


def refuse_missing(
    features: list[str] | None, names: list[str], source: DatasetVersion, version: ModelVersion
) -> None:
    missing = [name for name in features or () if name not in names]
    if missing:
        raise InvalidInput(
            f"{source.what} lacks column(s) {_listed([repr(n) for n in missing])} that model "
            f"{version.ref} takes ({_listed(features or [])}); add them to the data as a "
            "new version, or score it with a model trained without them (nothing was "
            "recorded)",
            field=missing[0],
        )


def refuse_clashes(kept: list[str], predictor: Predictor, source: DatasetVersion) -> None:
    classes = predictor.classes
    made = [PREDICTION, *(probability_column(c) for c in (() if classes is None else classes))]
    clash = [name for name in kept if name in made]
    if clash:
        raise InvalidInput(
            f"{source.what} has a column {clash[0]!r}, which the predictions would take; "
            "keep the other columns (columns=[...], --columns a,b) or rename it in a new "
            "version of the data",
            field="columns",
        )


def _listed(names: Sequence[str], shown: int = 12) -> str:
    text = ", ".join(names[:shown])
    return f"{text}, ... ({len(names)} in all)" if len(names) > shown else text
