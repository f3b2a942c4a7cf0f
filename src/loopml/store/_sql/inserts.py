"""Writes that more than one part of the SQL store makes inside its own transaction: a
new artifact version (with its output event), and the checks that the run it names
exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us
from loopml.errors import NotFound
from loopml.store import _rows
from loopml.store._records import Direction
from loopml.store._sql import schema as t

Row = Mapping[Any, Any]


def require_run(c: sa.Connection, run_id: str, *, what: str = "run") -> Row:
    """The run's row, or NotFound naming it as ``what``."""
    row = c.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
    if row is None:
        raise NotFound(f"no {what} with id {run_id!r}")
    return row


def insert_artifact(
    c: sa.Connection,
    row: Mapping[str, Any],
    *,
    run_id: str | None,
    role: str,
    after: int | None = None,
) -> dict[str, Any]:
    """Insert an artifact row (of :func:`loopml.store._rows.artifact_row`) as the next
    version of its name, with the output event of ``run_id`` when given; returns the
    row as written. Two writers numbering one name at once collide on its unique key:
    the caller retries (``retry_on_integrity``)."""
    if run_id is not None:
        require_run(c, run_id)
    latest = c.execute(
        sa.select(sa.func.max(t.artifacts.c.version)).where(
            t.artifacts.c.kind == row["kind"], t.artifacts.c.name == row["name"]
        )
    ).scalar()
    if after is not None and (latest or 0) != after:
        raise _rows.not_after(row["kind"], row["name"], after, latest or 0)
    created = now_us()
    values = {**row, "version": (latest or 0) + 1, "created_at": created}
    c.execute(sa.insert(t.artifacts), values)
    if run_id is not None:
        c.execute(
            sa.insert(t.events),
            {
                "run_id": run_id,
                "artifact_id": row["id"],
                "direction": Direction.OUTPUT.value,
                "role": role,
                "created_at": created,
            },
        )
    return values
