"""The rows drift compares: a prediction segment's answers, one row per predicted row.

An answer holds its request's columns and its outputs as lists, one value per row
(see :mod:`loopml.serve._layouts`). Of them, drift takes the input columns of one
value per row (numbers, text, flags) and the outputs' ``predictions``, which are named
:data:`OUTPUT` here until every input's name is known (an input may be called
``predictions``). Answers that failed, or whose columns hold different numbers of
rows, are counted per window and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import Artifact

PREDICTIONS = "predictions"  # the outputs' field, and the column the windows give it
OUTPUT = "\x00predictions"  # its name while the input columns are not all known


@dataclass(frozen=True)
class Flat:
    """``rows``: window, ref, the input columns and :data:`OUTPUT`; ``inputs``: the
    input columns' names; ``left_out``: answers left out, per window."""

    rows: pl.DataFrame
    inputs: list[str]
    left_out: dict[int, int]


def segment_columns(segment: Artifact) -> list[str]:
    """The columns of a prediction segment that drift reads: of the outputs only the
    predictions (the probabilities are as many bytes again), where the layout is
    typed enough to read one field."""
    from loopml.serve._layouts import PREDICTIONS as LOG

    typed = segment.metadata.get("layout") == LOG.format
    outputs = f"outputs.{PREDICTIONS}" if typed else "outputs"
    return ["time_us", "ref", "error", "inputs", outputs]


def flat_answers(answers: pl.DataFrame, every_us: int) -> Flat:
    """One row per predicted row of ``answers`` (one segment's, read with
    :func:`segment_columns`), in windows of ``every_us``."""
    import polars as pl

    inputs = _scalar_fields(answers.schema.get("inputs"))
    outputs = answers.schema.get("outputs")
    has_predictions = isinstance(outputs, pl.Struct) and any(
        f.name == PREDICTIONS and _is_scalar_list(f.dtype) for f in outputs.fields
    )
    lists = [pl.col("inputs").struct.field(n).alias(n) for n in inputs]
    if has_predictions:
        lists.append(pl.col("outputs").struct.field(PREDICTIONS).alias(OUTPUT))
    window = (pl.col("time_us") // every_us).alias("window")
    chosen = answers.select(window, "ref", "error", *lists)
    names = [*inputs, *([OUTPUT] if has_predictions else [])]
    lengths = [pl.col(n).list.len() for n in names]
    same = pl.all_horizontal(
        [length == lengths[0] for length in lengths[1:]] or [pl.lit(True)]
    ).fill_null(False)
    readable = pl.col("error").is_null() & same
    chosen = chosen.with_columns(readable.alias("_readable"))
    dropped = chosen.filter(~pl.col("_readable")).group_by("window").len()
    left_out = {int(number): int(count) for number, count in dropped.rows()}
    kept = chosen.filter(pl.col("_readable")).drop("_readable", "error")
    if not names:
        return Flat(kept, inputs, left_out)
    counts = kept[names[0]].list.len()
    if kept.height and counts.min() == counts.max() == 1:  # one row per request
        return Flat(kept.with_columns(pl.col(n).list.first() for n in names), inputs, left_out)
    return Flat(kept.explode(names), inputs, left_out)


def _scalar_fields(dtype: Any) -> list[str]:
    """The input fields holding one value per row (lists of numbers, text, flags)."""
    import polars as pl

    if not isinstance(dtype, pl.Struct):
        return []
    return [f.name for f in dtype.fields if _is_scalar_list(f.dtype)]


def _is_scalar_list(dtype: Any) -> bool:
    import polars as pl

    if not isinstance(dtype, pl.List):
        return False
    inner = dtype.inner
    return bool(inner is not None and (inner.is_numeric() or inner in (pl.String, pl.Boolean)))
