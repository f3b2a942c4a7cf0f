"""Hour summaries of prediction segments: what drift reads instead of the rows.

A prediction segment never changes once written, so its rows need summarizing once,
ever. For each hour and version that answered, a segment's summary holds the
mergeable summary (:mod:`loopml.data._parts`) of each input column of one value per
row and of the predictions: counts, mean and squared deviations, at most
:data:`HOUR_POINTS` order statistics, value counts; and, per hour, the answers left
out (failed, or of columns of different lengths). A drift window of whole hours is the
merge of its hours' summaries over every segment that holds rows of it, so a month's
drift reads the summaries (a few percent of the rows' bytes), not the rows; the merged
order statistics carry brackets whose width goes into every distance's bound.

A summary is found by its segment's digest, so it can describe no other rows: a
segment written late (a server that flushed late) has a summary of its own, which
joins the merge of its windows. It is kept as a Parquet blob, indexed as an artifact
of kind ``summary`` named after the deployment, the segment's digest in its metadata;
it is read back through the blob store, which checks its digest.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind

if TYPE_CHECKING:
    import polars as pl

    from loopml.data._parts import ColumnPart
    from loopml.store import Artifact
    from loopml.workspace import Workspace

HOUR_US = 3_600_000_000
HOUR_POINTS = 256  # order statistics kept per column of an hour
LAYOUT = "loopml.summary/1"
PAGE = 1_000


@dataclass
class Hours:
    """The summaries of some hours: per (hour, version that answered) its rows and
    each column's parts (one per segment holding rows of it), the answers left out
    per hour, the input columns' names as first seen, and how many segments' summaries
    were made now and read back."""

    rows: dict[tuple[int, str], int] = field(default_factory=dict)
    parts: dict[tuple[int, str], dict[str, list[ColumnPart]]] = field(default_factory=dict)
    left_out: dict[int, int] = field(default_factory=dict)
    inputs: dict[str, None] = field(default_factory=dict)
    made: int = 0
    read: int = 0


def hour_summaries(
    ws: Workspace, deployment: str, since_us: int, until_us: int, *, keep: bool
) -> Hours:
    """The summaries of the hours in ``[since_us, until_us)`` (whole hours) of every
    segment of ``deployment`` holding rows of them, each read back or made from its
    segment (and kept, with ``keep``)."""
    import polars as pl

    from loopml.serve._layouts import PREDICTIONS
    from loopml.serve._segments import find_segments

    segments = find_segments(ws, PREDICTIONS, deployment, since_us, until_us)
    kept = _kept(ws, deployment) if segments else {}
    found = Hours()
    first, last = since_us // HOUR_US, (until_us - 1) // HOUR_US
    for segment in segments:
        record = kept.get(segment.digest)
        if record is not None:
            what = f"summary of prediction segment {segment.ref}"
            table = pl.read_parquet(io.BytesIO(ws.artifacts.read_bytes(record.digest, what=what)))
            left_out = record.metadata.get("left_out", {})
            found.read += 1
        else:
            table, left_out = summarize(ws, segment)
            if keep:
                _keep(ws, deployment, segment, table, left_out)
            found.made += 1
        _add(found, table.filter(pl.col("hour").is_between(first, last)))
        for hour, count in left_out.items():
            if first <= int(hour) <= last:
                found.left_out[int(hour)] = found.left_out.get(int(hour), 0) + count
    return found


def summarize(ws: Workspace, segment: Artifact) -> tuple[pl.DataFrame, dict[str, int]]:
    """A segment's summary table (a row per hour, version and column; a version's
    hour with no column to summarize has one row without a column), and the answers
    left out per hour."""
    from loopml.data._parts import column_parts
    from loopml.monitor._drift_rows import flat_answers, segment_columns
    from loopml.serve._segments import read_segment

    answers = read_segment(ws, segment, columns=segment_columns(segment))
    flat = flat_answers(answers, HOUR_US)
    records: list[dict[str, Any]] = []
    if flat.rows.height:
        groups = flat.rows.partition_by(["window", "ref"], as_dict=True, include_key=False)
        for (hour, ref), rows in sorted(groups.items()):
            parts = column_parts(rows, HOUR_POINTS)
            key = {"hour": int(hour), "ref": str(ref), "group_rows": rows.height}
            records += [_record(key, part) for part in parts.values()] or [key]
    return _table(records), {str(hour): count for hour, count in flat.left_out.items()}


def _record(key: dict[str, Any], part: ColumnPart) -> dict[str, Any]:
    record: dict[str, Any] = {
        **key,
        "column": part.name,
        "type": part.type,
        "dtype": part.dtype,
        "rows": part.rows,
        "missing": part.missing,
        "distinct": part.distinct,
        "mean": part.mean,
        "m2": part.m2,
    }
    if part.order_stats is not None:
        record["ranks"] = part.order_stats.ranks.tolist()
        record["values"] = part.order_stats.low.tolist()
    if part.counts is not None:
        slot = {"string": "keys", "boolean": "flags"}.get(part.type, "numbers")
        record[slot] = list(part.counts)
        record["counts"] = list(part.counts.values())
    return record


def _table(records: list[dict[str, Any]]) -> pl.DataFrame:
    import polars as pl

    schema: dict[str, pl.DataType] = {
        "hour": pl.Int64(),
        "ref": pl.String(),
        "group_rows": pl.Int64(),
        "column": pl.String(),
        "type": pl.String(),
        "dtype": pl.String(),
        "rows": pl.Int64(),
        "missing": pl.Int64(),
        "distinct": pl.Int64(),
        "mean": pl.Float64(),
        "m2": pl.Float64(),
        "ranks": pl.List(pl.Int64()),
        "values": pl.List(pl.Float64()),
        "keys": pl.List(pl.String()),
        "flags": pl.List(pl.Boolean()),
        "numbers": pl.List(pl.Float64()),
        "counts": pl.List(pl.Int64()),
    }
    return (
        pl.DataFrame(records, schema=schema, orient="row")
        if records
        else pl.DataFrame(schema=schema)
    )


def _add(found: Hours, table: pl.DataFrame) -> None:
    """The parts of ``table``'s rows, added to ``found``: each row's lists sliced out
    of the column's one flat array, not made into a Python list each."""
    from loopml.data._orderstats import OrderStats
    from loopml.data._parts import ColumnPart
    from loopml.monitor._drift_rows import OUTPUT

    if not table.height:
        return
    ranks, values = _flat(table, "ranks"), _flat(table, "values")
    counts = _flat(table, "counts")
    keys, flags, numbers = (table.get_column(n).to_list() for n in ("keys", "flags", "numbers"))
    groups: set[tuple[int, str]] = set()
    for i, row in enumerate(table.drop("ranks", "values", "counts", *_LISTS).iter_rows()):
        hour, ref, group_rows, column, kind, dtype, rows, missing, distinct, mean, m2 = row
        group = (hour, ref)
        if group not in groups:  # a segment's rows of one hour and version, once
            groups.add(group)
            found.rows[group] = found.rows.get(group, 0) + group_rows
            found.parts.setdefault(group, {})
        if column is None:
            continue
        stats = None
        if ranks[i] is not None:
            stats = OrderStats(rows - missing, ranks[i], values[i])
        counted = None
        if counts[i] is not None:
            shown = keys[i] if kind == "string" else flags[i] if kind == "boolean" else numbers[i]
            if kind == "integer":
                shown = [int(v) for v in shown]
            counted = dict(zip(shown, counts[i].tolist(), strict=True))
        part = ColumnPart(column, dtype, kind, rows, missing, distinct, mean, m2, stats, counted)
        found.parts[group].setdefault(column, []).append(part)
        if column != OUTPUT:
            found.inputs.setdefault(column)


_LISTS = ("keys", "flags", "numbers")


def _flat(table: pl.DataFrame, name: str) -> list[Any]:
    """Each row's list of ``name`` as a NumPy array (None where null), sliced out of
    one flat array."""
    import numpy as np

    column = table.get_column(name)
    lengths = column.list.len().fill_null(0).to_numpy()
    values = column.explode().to_numpy()
    nulls = column.is_null().to_numpy()
    spans = np.maximum(lengths, 1)  # a null or empty list explodes to one null
    starts = np.cumsum(spans) - spans
    return [
        None if nulls[i] else values[starts[i] : starts[i] + lengths[i]]
        for i in range(len(lengths))
    ]


def _kept(ws: Workspace, deployment: str) -> dict[str, Artifact]:
    """The deployment's kept summaries, by their segment's digest (the latest one)."""
    found: dict[str, Artifact] = {}
    after: str | None = None
    while True:
        page = ws.store.find_artifacts(
            kind=ArtifactKind.SUMMARY, name=deployment, limit=PAGE, after=after
        )
        for record in page:
            segment = record.metadata.get("segment")
            if record.metadata.get("layout") == LAYOUT and isinstance(segment, str):
                found[segment] = record
        if len(page) < PAGE:
            return found
        after = page[-1].id


def _keep(
    ws: Workspace,
    deployment: str,
    segment: Artifact,
    table: pl.DataFrame,
    left_out: dict[str, int],
) -> Artifact:
    sink = io.BytesIO()
    table.write_parquet(sink, compression="zstd")
    blob = ws.artifacts.put_bytes(sink.getvalue())
    return ws.store.create_artifact(
        kind=ArtifactKind.SUMMARY,
        name=deployment,
        digest=blob.digest,
        size=blob.size,
        metadata={
            "format": "parquet",
            "layout": LAYOUT,
            "segment": segment.digest,
            "segment_version": segment.version,
            "points": HOUR_POINTS,
            "rows": table.height,
            "left_out": left_out,
        },
    )
