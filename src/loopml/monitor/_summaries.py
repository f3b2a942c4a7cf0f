"""Hour summaries of a deployment's predictions: what drift reads instead of the rows.

A prediction segment never changes once written, so the rows it holds of an hour need
summarizing once, ever. Such a summary (a *part*) holds, for one segment, hour and
version that answered, the mergeable summary (:mod:`loopml.data._parts`) of each input
column of one value per row and of the predictions: counts, mean and squared
deviations, at most :data:`HOUR_POINTS` order statistics, value counts; and the
answers of that hour left out (failed, or of columns of different lengths). A drift
window of whole hours is the merge of its hours' parts, so a month's drift reads
summaries, not rows (a seventh of the rows' bytes at 1,400 predictions of 20 inputs
an hour, less the busier the log); the merged order statistics
carry brackets whose width goes into every distance's bound.

**Kept per hour, not per segment.** A server writes a segment a second or so, and a
summary per segment would double the store's records; so the parts of closed hours
are kept together: one Parquet blob per computation that summarized something new,
indexed as an artifact of kind ``summary`` named after the deployment, whose metadata
names the hours it holds and ``segments_version``, the highest version of the
deployment's segments when it was made. It holds, for each of its hours, the parts of
every segment of that hour up to that version; a segment of the hour with a higher
version (written late, or after the hour was kept) is summarized from its rows when
read, and joins the hour's parts when the hour is kept again. An hour is read from
the latest record holding it; a record is read through the blob store, which checks
its digest. Hours not yet over are summarized on each computation and never kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.monitor._kept import keep_frame, read_frame, records

if TYPE_CHECKING:
    import polars as pl

    from loopml.data._parts import ColumnPart
    from loopml.store import Artifact
    from loopml.workspace import Workspace

HOUR_US = 3_600_000_000
HOUR_POINTS = 256  # order statistics kept per column of an hour
LAYOUT = "loopml.hours/2"


@dataclass
class Hours:
    """The summaries of some hours: per (hour, version that answered) its rows and
    each column's parts (one per segment holding rows of it), the answers left out
    per hour, the input columns' names as first seen, and how many segments were
    summarized from their rows and how many hours read back."""

    rows: dict[tuple[int, str], int] = field(default_factory=dict)
    parts: dict[tuple[int, str], dict[str, list[ColumnPart]]] = field(default_factory=dict)
    left_out: dict[int, int] = field(default_factory=dict)
    inputs: dict[str, None] = field(default_factory=dict)
    made: int = 0
    read: int = 0


def hour_summaries(
    ws: Workspace,
    deployment: str,
    segments: list[Artifact],
    since_us: int,
    until_us: int,
    *,
    keep: bool,
) -> Hours:
    """The parts of the hours in ``[since_us, until_us)`` (whole hours) of the
    ``segments`` of ``deployment`` (every one that may hold rows of them), read back
    or made from the segments' rows; with ``keep``, the hours over whose parts were
    made now are kept (see the module's text)."""
    import polars as pl

    from loopml._time import now_us

    found = Hours()
    if not segments:
        return found
    first, last = since_us // HOUR_US, (until_us - 1) // HOUR_US
    touching: dict[int, list[Artifact]] = {}
    for segment in segments:
        low, high = _hours_of(segment, first, last)
        for hour in range(low, high + 1):
            touching.setdefault(hour, []).append(segment)
    kept = _latest_kept(ws, deployment)
    records: dict[str, tuple[Artifact, list[int]]] = {}  # the kept hours read, by record
    wanted: dict[int, tuple[Artifact, set[int]]] = {}  # segments to read, for these hours
    for hour, held in touching.items():
        record = kept.get(hour)
        seen = 0
        if record is not None:
            records.setdefault(record.id, (record, []))[1].append(hour)
            seen = record.metadata["segments_version"]
            found.read += 1
        for segment in held:
            if segment.version > seen:
                wanted.setdefault(segment.version, (segment, set()))[1].add(hour)
    old = [  # the kept parts of the hours read
        read_frame(ws, record, f"hour summaries {record.ref} of the prediction log").filter(
            pl.col("hour").is_in(hours)
        )
        for record, hours in records.values()
    ]
    new: list[pl.DataFrame] = []
    for segment, hours in wanted.values():
        new.append(summarize(ws, segment).filter(pl.col("hour").is_in(sorted(hours))))
        found.made += 1
    every = pl.concat([*old, *new], how="vertical") if old or new else _table([])
    _add(found, every)
    if keep and new:
        over = now_us() // HOUR_US  # the hours before this one are over
        # every hour a segment was read for: those it holds no rows of too (a segment
        # spans hours of no traffic), so that they are not read for again
        changed = sorted({h for _, hours in wanted.values() for h in hours if h < over})
        if changed:
            version = max(segment.version for segment in segments)
            _keep(ws, deployment, every.filter(pl.col("hour").is_in(changed)), changed, version)
    return found


def _hours_of(segment: Artifact, first: int, last: int) -> tuple[int, int]:
    """The hours in ``[first, last]`` the segment may hold rows of (all, when its
    times are not recorded)."""
    low, high = segment.metadata.get("first_us"), segment.metadata.get("last_us")
    low_hour = low // HOUR_US if isinstance(low, int) else first
    high_hour = high // HOUR_US if isinstance(high, int) else last
    return max(low_hour, first), min(high_hour, last)


def summarize(ws: Workspace, segment: Artifact) -> pl.DataFrame:
    """A segment's parts, hour by hour: a row per hour, version that answered and
    column (``part`` the segment's version); a row without a column for a version's
    hour with no column to summarize, and one without a version that answered
    (``ref``) for the answers of an hour left out."""
    from loopml.data._parts import column_parts
    from loopml.monitor._drift_rows import flat_answers, segment_columns
    from loopml.serve._segments import read_segment

    answers = read_segment(ws, segment, columns=segment_columns(segment))
    flat = flat_answers(answers, HOUR_US)
    part = {"part": segment.version}
    records: list[dict[str, Any]] = [
        {**part, "hour": hour, "left_out": count} for hour, count in flat.left_out.items()
    ]
    if flat.rows.height:
        groups = flat.rows.partition_by(["window", "ref"], as_dict=True, include_key=False)
        for (hour, ref), rows in sorted(groups.items()):
            parts = column_parts(rows, HOUR_POINTS)
            key = {**part, "hour": int(hour), "ref": str(ref), "group_rows": rows.height}
            records += [_record(key, one) for one in parts.values()] or [key]
    return _table(records)


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
    if part.order_stats is not None:  # arrays: see _table
        record["ranks"] = part.order_stats.ranks
        record["values"] = part.order_stats.low
    if part.counts is not None:
        slot = {"string": "keys", "boolean": "flags"}.get(part.type, "numbers")
        record[slot] = list(part.counts)
        record["counts"] = list(part.counts.values())
    if part.span is not None:
        record["parsed"] = part.parsed
        record["span"] = [
            part.span.first,
            part.span.last,
            part.span.step,
            part.span.largest_gap,
            float(part.span.ascending),
        ]
    return record


def _table(records: list[dict[str, Any]]) -> pl.DataFrame:
    import numpy as np
    import polars as pl

    schema: dict[str, pl.DataType] = {
        "part": pl.Int64(),
        "hour": pl.Int64(),
        "left_out": pl.Int64(),
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
        "parsed": pl.String(),
        "span": pl.List(pl.Float64()),  # first, last, step, largest gap, ascending (1/0)
    }
    if not records:
        return pl.DataFrame(schema=schema)
    # column by column (a frame of dicts costs four times as much); the order
    # statistics, NumPy arrays, become list columns without a Python list each
    columns = []
    for name, dtype in schema.items():
        values = [record.get(name) for record in records]
        if name not in _ARRAYS:
            columns.append(pl.Series(name, values, dtype=dtype))
            continue
        held = [value is not None for value in values]
        empty = np.zeros(0, dtype=_ARRAYS[name])
        series = pl.Series(name, [empty if v is None else v for v in values], dtype=dtype)
        if series.dtype != dtype:  # arrays all of one length make a fixed-size Array
            series = series.cast(dtype)
        if not all(held):
            series = pl.select(pl.when(pl.Series(held)).then(series).alias(name)).to_series()
        columns.append(series)
    return pl.DataFrame(columns)


_ARRAYS = {"ranks": "int64", "values": "float64"}  # columns of NumPy arrays, their dtype


def _add(found: Hours, table: pl.DataFrame) -> None:
    """The parts of ``table``'s rows, added to ``found``: each row's lists sliced out
    of the column's one flat array, not made into a Python list each."""
    from loopml.data._orderstats import OrderStats
    from loopml.data._parts import ColumnPart
    from loopml.data._profile import TimeSpan
    from loopml.monitor._drift_rows import OUTPUT

    if not table.height:
        return
    ranks, values = _flat(table, "ranks"), _flat(table, "values")
    counts, spans = _flat(table, "counts"), _flat(table, "span")
    keys, flags, numbers = (table.get_column(n).to_list() for n in _LISTS)
    groups: set[tuple[int, int, str]] = set()
    lists = ("ranks", "values", "counts", "span", *_LISTS)
    for i, row in enumerate(table.drop(*lists).iter_rows()):
        part, hour, left_out, ref, group_rows, column, kind, dtype = row[:8]
        rows, missing, distinct, mean, m2, parsed = row[8:]
        if ref is None:  # answers of the hour left out
            found.left_out[hour] = found.left_out.get(hour, 0) + (left_out or 0)
            continue
        group = (hour, ref)
        if (part, *group) not in groups:  # a segment's rows of one hour and version
            groups.add((part, *group))
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
        span = None
        if spans[i] is not None:
            first, last, step, gap, ascending = spans[i].tolist()
            span = TimeSpan(first, last, step, gap, bool(ascending))
        one = ColumnPart(
            column, dtype, kind, rows, missing, distinct, mean, m2, stats, counted, parsed, span
        )
        found.parts[group].setdefault(column, []).append(one)
        if column != OUTPUT:
            found.inputs.setdefault(column)


_LISTS = ("keys", "flags", "numbers")  # a part's counted values, by their type


def _flat(table: pl.DataFrame, name: str) -> list[Any]:
    """Each row's list of ``name`` as a NumPy array (None where null), sliced out of
    one array of every value. Only the lists with values are exploded: what an empty
    or null list explodes to has changed between Polars versions."""
    import numpy as np

    column = table.get_column(name)
    lengths = column.list.len().fill_null(0).to_numpy()
    nulls = column.is_null().to_numpy()
    values = column.filter(column.list.len() > 0).explode().to_numpy()
    ends = np.cumsum(lengths)
    return [
        None if nulls[i] else values[ends[i] - lengths[i] : ends[i]] for i in range(len(lengths))
    ]


def _latest_kept(ws: Workspace, deployment: str) -> dict[int, Artifact]:
    """For each hour kept, the record holding it that saw the most segments."""
    found: dict[int, Artifact] = {}
    for record in records(ws, ArtifactKind.SUMMARY, deployment):
        meta = record.metadata
        if meta.get("layout") != LAYOUT or not isinstance(meta.get("segments_version"), int):
            continue
        for hour in meta.get("hours", ()):
            held = found.get(hour)
            if held is None or meta["segments_version"] >= held.metadata["segments_version"]:
                found[hour] = record
    return found


def _keep(
    ws: Workspace, deployment: str, table: pl.DataFrame, hours: list[int], version: int
) -> Artifact:
    metadata = {
        "layout": LAYOUT,
        "hours": hours,
        "segments_version": version,
        "points": HOUR_POINTS,
    }
    return keep_frame(ws, ArtifactKind.SUMMARY, deployment, table, metadata)
