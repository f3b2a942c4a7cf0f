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

A prediction's inputs and outputs are typed struct columns (see
:mod:`loopml.serve._nested`; format ``loopml.predictions/2``); a feedback's label (one
value: see :mod:`loopml.serve._labels`) is JSON text. Segments of the first format,
whose inputs and outputs were JSON text, are read as the typed ones.

The columns of each kind of segment are in :mod:`loopml.serve._layouts`, which the
server's log imports without PyArrow. Records are turned into Arrow tables a few at a
time as they come (:func:`records_table`), and a write joins a deployment's tables into
one segment (:func:`joined_tables`; two when their columns cannot share types, so
nothing is forced into a wrong one).

>>> layout = PREDICTIONS
>>> layout.kind, layout.schema.field("time_us").type, layout.nested
('predictions', DataType(int64), ('inputs', 'outputs'))
>>> sorted(FEEDBACK.json_fields)
['label']
"""

from __future__ import annotations

import io
import operator
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from loopml.serve._json import encode_json
from loopml.serve._layouts import FEEDBACK, PREDICTIONS, Layout

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from loopml.store import Artifact
    from loopml.workspace import Workspace

PAGE = 1_000  # index records read per query of the store


def _table(records: Sequence[Any], layout: Layout) -> pa.Table:
    import pyarrow as pa

    from loopml.serve._nested import nested_column

    arrays: list[pa.Array] = []
    names: list[str] = []
    for field in layout.schema:
        values = list(map(operator.attrgetter(field.name), records))
        if field.name in layout.json_fields:
            values = [None if value is None else encode_json(value) for value in values]
        arrays.append(pa.array(values, field.type))
        names.append(field.name)
    for name in layout.nested:
        arrays.append(nested_column(list(map(operator.attrgetter(name), records))))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def records_table(records: Sequence[Any], layout: Layout) -> tuple[pa.Table | None, list[Any]]:
    """``records`` as an Arrow table (None when none fits), and the records left out: a
    record whose fields do not fit their columns (an ``arm`` that is text) is left out
    alone, so that it never holds back the others."""
    import pyarrow as pa

    unwritable = (pa.ArrowException, TypeError, ValueError, OverflowError)
    try:
        return _table(records, layout), []
    except unwritable:  # one at a time, to find those that do not fit
        kept, refused = [], []
        for record in records:
            try:
                _table([record], layout)
                kept.append(record)
            except unwritable:
                refused.append(record)
        return (_table(kept, layout) if kept else None), refused


def joined_tables(tables: Sequence[pa.Table]) -> list[pa.Table]:
    """``tables`` joined into as few as their types allow: struct fields are merged by
    name and numbers widened; a table with text where the others have numbers joins
    another that it fits, or starts one of its own. (Rows are read back in time order,
    whatever table they sit in.)"""
    import pyarrow as pa

    joined: list[pa.Table] = []
    for table in tables:
        for index, group in enumerate(joined):
            try:
                joined[index] = pa.concat_tables([group, table], promote_options="permissive")
                break
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                continue
        else:
            joined.append(table)
    return joined


def to_parquet(table: pa.Table, layout: Layout) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = table.replace_schema_metadata({"loopml.format": layout.format})
    sink = io.BytesIO()
    # dictionaries for the text columns (deployments, versions, errors repeat); the
    # inputs' and outputs' numbers rarely do, and trying them took 40% of the write
    text = [field.name for field in table.schema if pa.types.is_string(field.type)]
    # statistics (min and max) for the columns a read filters on; those of the inputs'
    # and outputs' values serve no read and took a tenth of the write
    flat = [field.name for field in table.schema if not pa.types.is_nested(field.type)]
    # LZ4, not zstd: the log is written all the time and read seldom. A thousand rows of
    # 30 inputs with two decimals took 0.61 ms to write against 1.29 ms (144 kB against
    # 103 kB); of full-precision numbers 0.39 against 0.76 ms, at the same size.
    pq.write_table(table, sink, compression="lz4", use_dictionary=text, write_statistics=flat)
    return sink.getvalue()


def write_segment(
    ws: Workspace, layout: Layout, name: str, table: pa.Table, worker: str
) -> Artifact:
    """Store ``table`` (of :func:`records_table`) as one segment named ``name``, blob
    first, then its index record."""
    import pyarrow.compute as pc

    blob = ws.artifacts.put_bytes(to_parquet(table, layout))
    times = pc.min_max(table["time_us"]).as_py()
    return ws.store.create_artifact(
        kind=layout.kind,
        name=name,
        digest=blob.digest,
        size=blob.size,
        metadata={
            "format": "parquet",
            "layout": layout.format,
            "worker": worker,
            "rows": table.num_rows,
            "first_us": times["min"],
            "last_us": times["max"],
        },
    )


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


def read_segment(
    ws: Workspace,
    artifact: Artifact,
    filters: Any = None,
    *,
    typed: bool = True,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """A segment's rows (those ``filters`` keeps: PyArrow's filter form), its bytes
    checked against their digest first: a damaged segment raises DigestMismatch (a
    missing one BlobMissing) naming it and ``loopml verify``."""
    import polars as pl

    what = f"{artifact.kind} segment {artifact.ref}"
    data = ws.artifacts.read_bytes(artifact.digest, what=what)
    names = None if columns is None else list(columns)
    if filters is None and not any("." in name for name in names or ()):
        # Polars' own reader: a third of PyArrow's CPU for the same columns
        frame = pl.read_parquet(io.BytesIO(data), columns=names, parallel="none")
    elif filters is None:  # a field of a struct ("outputs.predictions"): PyArrow's
        # ParquetFile, not read_table: that goes through pyarrow.dataset, whose import
        # loads pandas (0.6 s of CPU) and whose set-up costs more than a segment's read
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.ParquetFile(pa.BufferReader(data)).read(columns=names)
        frame = cast("pl.DataFrame", pl.from_arrow(table))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(data), filters=filters, columns=columns)
        frame = cast("pl.DataFrame", pl.from_arrow(table))
    return _typed(frame, layout_of(artifact)) if typed else frame


def layout_of(artifact: Artifact) -> Layout:
    return FEEDBACK if artifact.kind == FEEDBACK.kind else PREDICTIONS


def _typed(frame: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """``frame`` with its nested columns as structs: those kept as JSON text (a segment
    of the first format, or values that did not type) parsed by Polars, which makes a
    list that mixes numbers and text all text (the record itself, read by
    :func:`~loopml.serve.find_prediction`, is parsed exactly)."""
    import polars as pl

    text = [
        name for name in layout.nested if name in frame.columns and frame[name].dtype == pl.String
    ]
    if not text:
        return frame
    return frame.with_columns(
        frame[name].str.json_decode(infer_schema_length=None) for name in text
    )


def empty_frame(layout: Layout) -> pl.DataFrame:
    """No rows, with every column of ``layout`` typed as a segment's are read (made
    without PyArrow, which a reader of Polars frames need not import)."""
    import polars as pl

    types: dict[str, pl.DataType] = {
        "string": pl.String(),
        "int64": pl.Int64(),
        "int32": pl.Int32(),
        "float64": pl.Float64(),
        "bool_": pl.Boolean(),
    }
    schema = {name: types[type_name] for name, type_name in layout.columns}
    schema |= {name: pl.Struct([]) for name in layout.nested}
    return pl.DataFrame(schema=schema)


def concat(frames: Iterable[pl.DataFrame], layout: Layout) -> pl.DataFrame:
    """The frames as one, in time order (an empty one with every column when none)."""
    import polars as pl

    frames = list(frames)
    if not frames:
        return empty_frame(layout)  # every column, whatever was asked
    joined = pl.concat(frames, how="diagonal_relaxed", rechunk=True)
    if joined["time_us"].is_sorted():  # segments written one after another: no gather
        return joined
    return joined.sort("time_us", maintain_order=True)
