"""Tables the monitor keeps (drift windows, hour summaries): a Polars frame as one
Parquet blob, then its index record; read back through the blob store, which checks
the digest; and the records of one kind and name, listed a page at a time."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import Artifact
    from loopml.workspace import Workspace

PAGE = 1_000


def keep_frame(
    ws: Workspace, kind: str, name: str, frame: pl.DataFrame, metadata: dict[str, Any]
) -> Artifact:
    """``frame`` as a zstd Parquet blob, blob first, then its record (``format`` and
    ``rows`` added to ``metadata``)."""
    sink = io.BytesIO()
    frame.write_parquet(sink, compression="zstd")
    blob = ws.artifacts.put_bytes(sink.getvalue())
    return ws.store.create_artifact(
        kind=kind,
        name=name,
        digest=blob.digest,
        size=blob.size,
        metadata={"format": "parquet", "rows": frame.height, **metadata},
    )


def read_frame(ws: Workspace, record: Artifact, what: str) -> pl.DataFrame:
    """The frame a record of :func:`keep_frame` holds, its bytes checked (``what``
    names it in the error)."""
    import polars as pl

    return pl.read_parquet(io.BytesIO(ws.artifacts.read_bytes(record.digest, what=what)))


def records(ws: Workspace, kind: str, name: str) -> list[Artifact]:
    """Every record of ``kind`` named ``name``, oldest first."""
    found: list[Artifact] = []
    after: str | None = None
    while True:
        page = ws.store.find_artifacts(kind=kind, name=name, limit=PAGE, after=after)
        found.extend(page)
        if len(page) < PAGE:
            return found
        after = page[-1].id
