"""Reading the prediction and feedback logs as Polars DataFrames.

Only the segments whose time range (kept in their index records) overlaps the range
asked for are opened, and each is checked against its digest before it is read: a
damaged segment is an error naming it, never rows of wrong values.

>>> import tempfile, loopml, polars as pl
>>> from loopml.serve import PredictionLog, PredictionRecord
>>> ws = loopml.init(tempfile.mkdtemp())
>>> with PredictionLog(ws) as log:
...     for n in range(3):
...         log.append(PredictionRecord(f"p{n}", None, 1_000_000 * n, "churn", "churn@v1",
...             0, 1.0, {"x": [n]}, {"predictions": [n % 2]}, 300, None))
>>> frame = predictions("churn", workspace=ws)
>>> frame["prediction_id"].to_list(), frame["outputs"][2]
(['p0', 'p1', 'p2'], {'predictions': [0]})
>>> frame.select(pl.col("inputs").struct.unnest()).explode("x")["x"].to_list()
[0, 1, 2]
>>> find_prediction("p1", ws).outputs
{'predictions': [1]}
>>> ws.close()
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loopml._ids import made_us
from loopml._time import to_us
from loopml.errors import InvalidInput
from loopml.serve._layouts import FEEDBACK, PREDICTIONS, Layout
from loopml.serve._log import PredictionRecord
from loopml.serve._segments import concat, find_segments, read_segment

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import Artifact
    from loopml.workspace import Workspace

# A loopml id (loopml._ids.new_id) starts with its time in milliseconds: the segments
# around that time are searched first.
_NEAR_US = 600_000_000  # how far around an id's time the first search looks


def predictions(
    deployment: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    columns: Sequence[str] | None = None,
    workspace: Workspace | None = None,
) -> pl.DataFrame:
    """The predictions of ``deployment`` (of every deployment when None) timed from
    ``since`` (included) to ``until`` (excluded), in time order: one row per logged
    answer, with the columns of :class:`~loopml.serve.PredictionRecord`; ``inputs`` and
    ``outputs`` are struct columns with a list of the request's values per name
    (``pl.col("inputs").struct.unnest()`` gives one column per input, and ``explode``
    one row per row of a request).
    A naive datetime is taken as UTC. ``columns`` names the columns to read (every one
    by default; leaving ``inputs`` out reads a small part of the bytes). Records still
    in a server's buffer are not there yet (see :class:`~loopml.serve.PredictionLog`)."""
    return _read(PREDICTIONS, deployment, since, until, workspace, columns)


def feedback_records(
    deployment: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    workspace: Workspace | None = None,
) -> pl.DataFrame:
    """The feedback logged for ``deployment``'s predictions (every deployment's when
    None), as :func:`predictions` reads predictions: one row per
    :class:`~loopml.serve.FeedbackRecord`, ``label`` as JSON text. Join it to the
    predictions on ``prediction_id``."""
    return _read(FEEDBACK, deployment, since, until, workspace)


def find_prediction(
    prediction_id: str, workspace: Workspace, *, since: datetime | None = None
) -> PredictionRecord | None:
    """The logged prediction with this id, or None when the log has none (yet).

    The segments around the time a loopml id holds are searched first, newest first,
    then the others: a recent prediction is found quickly, but an unknown id reads
    the whole log, or the part of it from ``since`` on (what a server answering
    feedback from anyone should give, to bound the work an unknown id costs)."""
    if not isinstance(prediction_id, str) or not prediction_id:
        raise InvalidInput(
            f"prediction id {prediction_id!r} must be non-empty text: the prediction_id "
            "of the server's answer",
            field="prediction_id",
        )
    since_us = _moment("since", since)
    segments = find_segments(workspace, PREDICTIONS, None, since_us)
    segments.sort(key=_last_us, reverse=True)
    near = _near(prediction_id, segments)
    first = {segment.id for segment in near}
    for segment in [*near, *(s for s in segments if s.id not in first)]:
        wanted: list[tuple[str, str, Any]] = [("prediction_id", "==", prediction_id)]
        if since_us is not None:
            wanted.append(("time_us", ">=", since_us))
        frame = read_segment(workspace, segment, filters=wanted, typed=False)
        if frame.height:
            return _record(frame.row(0, named=True))
    return None


def _near(prediction_id: str, segments: list[Artifact]) -> list[Artifact]:
    made = made_us(prediction_id)
    if made is None:
        return []
    since, until = made - _NEAR_US, made + _NEAR_US
    return [
        segment
        for segment in segments
        if isinstance(first := segment.metadata.get("first_us"), int)
        and isinstance(last := segment.metadata.get("last_us"), int)
        and last >= since
        and first < until
    ]


def _last_us(segment: Artifact) -> int:
    last = segment.metadata.get("last_us")
    return last if isinstance(last, int) else 0


def _record(row: dict[str, Any]) -> PredictionRecord:
    values = {field.name: row[field.name] for field in dataclasses.fields(PredictionRecord)}
    for name in ("inputs", "outputs"):
        given = values[name]
        if isinstance(given, str):  # kept as JSON text (see loopml.serve._nested)
            values[name] = json.loads(given)
        elif isinstance(given, dict):  # a struct has every name of its segment: the record's
            values[name] = {key: value for key, value in given.items() if value is not None}
    return PredictionRecord(**values)


def _read(
    layout: Layout,
    deployment: str | None,
    since: datetime | None,
    until: datetime | None,
    workspace: Workspace | None,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    import polars as pl

    from loopml._context import workspace_in_use

    if deployment is not None and (not isinstance(deployment, str) or not deployment):
        raise InvalidInput(
            f"deployment {deployment!r} must be a deployment's name, or None for every one",
            field="deployment",
        )
    since_us = _moment("since", since)
    until_us = _moment("until", until)
    if since_us is not None and until_us is not None and since_us > until_us:
        raise InvalidInput(
            f"since= (--since: {_minute(since_us)} UTC) is after until= (--until: "
            f"{_minute(until_us)} UTC): swap them",
            field="since",
        )
    if columns is not None:
        known = [*layout.names, *layout.nested]
        unknown = [c for c in columns if c not in known]
        if unknown or isinstance(columns, str):
            raise InvalidInput(
                f"columns {columns!r}: {unknown or columns!r} not among {', '.join(known)}",
                field="columns",
            )
        columns = list(dict.fromkeys(["time_us", *columns]))
    ws = workspace_in_use(workspace)
    frames = []
    for segment in find_segments(ws, layout, deployment, since_us, until_us):
        frame = read_segment(ws, segment, columns=columns)
        if since_us is not None:
            frame = frame.filter(pl.col("time_us") >= since_us)
        if until_us is not None:
            frame = frame.filter(pl.col("time_us") < until_us)
        frames.append(frame)
    return concat(frames, layout)


def _moment(field: str, value: datetime | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"{field} {value!r} must be a datetime (a naive one is taken as UTC), or None",
            field=field,
        )
    return to_us(value)


def _minute(us: int) -> str:
    from loopml._time import from_us

    return from_us(us).strftime("%Y-%m-%d %H:%M:%S")
