"""Segments: how the prediction and feedback logs sit in a workspace.

A segment is one Parquet file of records, stored in the artifact store under its
blake3 digest and then indexed in the metadata store as a version of an artifact of
kind ``predictions`` (or ``feedback``), named after the deployment. Its metadata
holds what reading needs without opening the file: the ``worker`` that wrote it, its
number of ``rows`` and the ``first_us`` and ``last_us`` of its records' times (unix
microseconds). Every writer appends versions of its own, so several workers and
several processes write at once without touching each other's files.

The blob is written (durably) before the record that indexes it: a process killed
between the two leaves an unreferenced blob, never an index pointing at half a file.

Inputs, outputs and labels differ from model to model, so they are kept as JSON text
columns (orjson when installed); a value JSON cannot hold is kept as its text.

>>> layout = PREDICTIONS
>>> layout.kind, layout.schema.field("time_us").type
('predictions', DataType(int64))
>>> sorted(layout.json_fields)
['inputs', 'outputs']
>>> encode_json({"x": [1, 2]}), _stdlib_json({"x": [1, 2]})
('{"x":[1,2]}', '{"x":[1,2]}')
"""

from __future__ import annotations

import io
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

from loopml._kinds import ArtifactKind

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import Artifact
    from loopml.workspace import Workspace

PAGE = 1_000  # index records read per query of the store
# The name of feedback segments whose deployment the writer did not know: not a name a
# deployment can take, so it cannot be mistaken for one.
NO_DEPLOYMENT = "(unknown)"


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of one kind of segment; ``json_fields`` hold JSON text."""

    kind: str
    schema: pa.Schema
    json_fields: frozenset[str]

    @property
    def format(self) -> str:
        return f"loopml.{self.kind}/1"


PREDICTIONS = Layout(
    ArtifactKind.PREDICTIONS.value,
    pa.schema(
        [
            ("prediction_id", pa.string()),
            ("request_id", pa.string()),
            ("time_us", pa.int64()),
            ("deployment", pa.string()),
            ("ref", pa.string()),
            ("arm", pa.int32()),
            ("probability", pa.float64()),
            ("inputs", pa.string()),
            ("outputs", pa.string()),
            ("latency_us", pa.int64()),
            ("key", pa.string()),
            ("fallback", pa.bool_()),
            ("shadow", pa.bool_()),
            ("error", pa.string()),
        ]
    ),
    frozenset({"inputs", "outputs"}),
)

FEEDBACK = Layout(
    ArtifactKind.FEEDBACK.value,
    pa.schema(
        [
            ("prediction_id", pa.string()),
            ("time_us", pa.int64()),
            ("reward", pa.float64()),
            ("label", pa.string()),
            ("row", pa.int64()),
            ("deployment", pa.string()),
        ]
    ),
    frozenset({"label"}),
)


def _plain(value: Any) -> Any:
    """What JSON keeps of a value it cannot hold: NumPy's as lists, anything else as text."""
    to_list = getattr(value, "tolist", None)
    return to_list() if callable(to_list) else str(value)


def _stdlib_json(value: Any) -> str:
    """JSON as orjson writes it (compact), from the standard library."""
    return json.dumps(value, default=_plain, ensure_ascii=False, separators=(",", ":"))


def _json_encoder() -> Callable[[Any], str]:
    try:
        import orjson
    except ImportError:
        return _stdlib_json
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS

    def encode(value: Any) -> str:
        return orjson.dumps(value, default=_plain, option=options).decode()

    return encode


_ENCODE = _json_encoder()


def encode_json(value: Any) -> str:
    """``value`` as JSON text; never raises (what JSON cannot hold is kept as text)."""
    try:
        return _ENCODE(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return _stdlib_json(value)
        except (TypeError, ValueError, OverflowError):
            return json.dumps(repr(value))


class JsonText(str):
    """A field's value turned into JSON text already (by the log's flusher, ahead of
    the write): written as it is."""

    __slots__ = ()


def decode_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _table(records: Sequence[Any], layout: Layout) -> pa.Table:
    columns: dict[str, list[Any]] = {}
    for field in layout.schema:
        values = list(map(operator.attrgetter(field.name), records))
        if field.name in layout.json_fields:
            values = [
                value if value is None or type(value) is JsonText else encode_json(value)
                for value in values
            ]
        columns[field.name] = values
    return pa.Table.from_pydict(columns, schema=layout.schema)


_UNWRITABLE = (pa.ArrowException, TypeError, ValueError, OverflowError)


def to_parquet(records: Sequence[Any], layout: Layout) -> tuple[bytes, list[Any], list[Any]]:
    """The Parquet bytes of ``records``, the records they hold and those left out: a
    record whose fields do not fit their columns (an ``arm`` that is text) is left out
    alone, so that it never holds back the others."""
    kept: list[Any] = list(records)
    refused: list[Any] = []
    try:
        table = _table(records, layout)
    except _UNWRITABLE:  # one at a time, to find those that do not fit
        kept = []
        for record in records:
            try:
                _table([record], layout)
                kept.append(record)
            except _UNWRITABLE:
                refused.append(record)
        table = _table(kept, layout)
    table = table.replace_schema_metadata({"loopml.format": layout.format})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue(), kept, refused


def write_segment(
    ws: Workspace, layout: Layout, name: str, records: Sequence[Any], worker: str
) -> tuple[Artifact | None, list[Any]]:
    """Store ``records`` as one segment named ``name``, blob first, then its index
    record; the records left out (see :func:`to_parquet`)."""
    data, kept, refused = to_parquet(records, layout)
    if not kept:
        return None, refused
    times = [record.time_us for record in kept]
    blob = ws.artifacts.put_bytes(data)
    artifact = ws.store.create_artifact(
        kind=layout.kind,
        name=name,
        digest=blob.digest,
        size=blob.size,
        metadata={
            "format": "parquet",
            "layout": layout.format,
            "worker": worker,
            "rows": len(kept),
            "first_us": min(times),
            "last_us": max(times),
        },
    )
    return artifact, refused


def overlaps(artifact: Artifact, since_us: int | None, until_us: int | None) -> bool:
    """Whether a segment may hold records timed in ``[since_us, until_us)``, by its
    index record alone (one whose times are not recorded is read, to be sure)."""
    first, last = artifact.metadata.get("first_us"), artifact.metadata.get("last_us")
    if not isinstance(first, int) or not isinstance(last, int):
        return True
    return (since_us is None or last >= since_us) and (until_us is None or first < until_us)


def find_segments(
    ws: Workspace,
    layout: Layout,
    name: str | None,
    since_us: int | None = None,
    until_us: int | None = None,
) -> list[Artifact]:
    """The index records of the segments of ``name`` (every name when None) that may
    hold records in ``[since_us, until_us)``, read from the metadata store a page at a
    time; no file is listed or opened. A segment indexed twice (a write retried after
    its index record was made but not acknowledged) is given once."""
    found: dict[tuple[str, str], Artifact] = {}
    after: str | None = None
    while True:
        page = ws.store.find_artifacts(kind=layout.kind, name=name, limit=PAGE, after=after)
        for artifact in page:
            if overlaps(artifact, since_us, until_us):
                found.setdefault((artifact.name, artifact.digest), artifact)
        if len(page) < PAGE:
            return list(found.values())
        after = page[-1].id


def read_segment(ws: Workspace, artifact: Artifact, filters: Any = None) -> pl.DataFrame:
    """A segment's rows (those ``filters`` keeps: PyArrow's filter form), its bytes
    checked against their digest first: a damaged segment raises DigestMismatch (a
    missing one BlobMissing) naming it and ``loopml verify``."""
    import polars as pl

    what = f"{artifact.kind} segment {artifact.ref}"
    data = ws.artifacts.read_bytes(artifact.digest, what=what)
    table = pq.read_table(pa.BufferReader(data), filters=filters)
    return cast("pl.DataFrame", pl.from_arrow(table))


def empty_frame(layout: Layout) -> pl.DataFrame:
    import polars as pl

    return cast("pl.DataFrame", pl.from_arrow(layout.schema.empty_table()))


def concat(frames: Iterable[pl.DataFrame], layout: Layout) -> pl.DataFrame:
    """The frames as one, in time order (an empty one with every column when none)."""
    import polars as pl

    frames = list(frames)
    if not frames:
        return empty_frame(layout)
    return pl.concat(frames, how="vertical").sort("time_us", maintain_order=True)
