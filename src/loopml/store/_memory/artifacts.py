"""Artifacts in the in-memory store. A mixin of
:class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml._time import now_us
from loopml.errors import NotFound
from loopml.store import _rows
from loopml.store._memory.tables import (
    LOCK,
    Row,
    Tables,
    fresh,
    require_artifact,
    require_run,
)
from loopml.store._records import Artifact, Direction
from loopml.store.values import INT32, check_limit, in_range


class Artifacts:
    """The artifact methods of the metadata store contract."""

    _tables: Tables

    def create_artifact(
        self,
        *,
        kind: str,
        name: str,
        digest: str,
        size: int,
        uri: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        role: str = "output",
        after: int | None = None,
    ) -> Artifact:
        row = _rows.artifact_row(
            kind=kind, name=name, digest=digest, size=size, uri=uri, metadata=metadata, role=role
        )
        tables = self._tables
        with LOCK:
            insert_artifact(tables, row, run_id=run_id, role=role, after=after)
            tables.changed()
            return fresh(_rows.artifact_record, row)

    def get_artifact(self, artifact_id: str) -> Artifact:
        with LOCK:
            return fresh(_rows.artifact_record, require_artifact(self._tables, artifact_id))

    def get_artifact_version(self, kind: str, name: str, version: int) -> Artifact:
        with LOCK:
            versions = self._ids_of(kind, name)
            if not (in_range(version, INT32) and 1 <= version <= len(versions)):
                raise NotFound(_rows.no_version(kind, name, version, len(versions)))
            return fresh(_rows.artifact_record, self._tables.artifacts[versions[version - 1]])

    def latest_artifact(self, kind: str, name: str) -> Artifact:
        with LOCK:
            versions = self._ids_of(kind, name)
            if not versions:
                raise NotFound(f"no {kind} named {name!r} in this workspace")
            return fresh(_rows.artifact_record, self._tables.artifacts[versions[-1]])

    def find_artifacts(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[Artifact]:
        limit = check_limit(limit)
        wanted = {"kind": kind, "name": name, "digest": digest}
        filters = {column: value for column, value in wanted.items() if value is not None}
        with LOCK:
            start = None if after is None else _order(require_artifact(self._tables, after))
            found = [
                row
                for row in self._tables.artifacts.values()
                if all(row[column] == value for column, value in filters.items())
                and (start is None or _order(row) > start)
            ]
            found.sort(key=_order)
            return [fresh(_rows.artifact_record, row) for row in found[:limit]]

    def latest_artifacts(
        self, kind: str, *, after_name: str | None = None, limit: int | None = None
    ) -> list[Artifact]:
        after_name = _rows.page_name(after_name)
        limit = check_limit(limit)
        with LOCK:
            names = sorted(
                name
                for (of_kind, name) in self._tables.versions
                if of_kind == kind and (after_name is None or name > after_name)
            )[:limit]
            return [
                fresh(_rows.artifact_record, self._tables.artifacts[ids[-1]])
                for ids in (self._tables.versions[(kind, name)] for name in names)
            ]

    def _ids_of(self, kind: str, name: str) -> list[str]:
        """The ids of the versions of ``(kind, name)``, v1 first."""
        if not isinstance(kind, str) or not isinstance(name, str):
            return []
        return self._tables.versions.get((kind, name), [])


def insert_artifact(
    tables: Tables, row: Row, *, run_id: str | None, role: str, after: int | None = None
) -> None:
    """Add an artifact row (of :func:`loopml.store._rows.artifact_row`) as the next
    version of its name, with the output event of ``run_id`` when given; called under
    the lock, it numbers the version and times the row in place."""
    if run_id is not None:
        require_run(tables, run_id)
    versions = tables.versions.setdefault((row["kind"], row["name"]), [])
    if after is not None and len(versions) != after:
        raise _rows.not_after(row["kind"], row["name"], after, len(versions))
    created = now_us()
    row.update(version=len(versions) + 1, created_at=created)
    tables.artifacts[row["id"]] = row
    versions.append(row["id"])
    if run_id is not None:
        key = (run_id, row["id"], Direction.OUTPUT.value, role)
        event = dict(zip(_rows.EVENT_KEYS, key, strict=True))
        tables.events[key] = {**event, "created_at": created}


def _order(row: Row) -> tuple[str, str, int]:
    """Where an artifact comes in a listing: by kind, name and version."""
    return row["kind"], row["name"], row["version"]
