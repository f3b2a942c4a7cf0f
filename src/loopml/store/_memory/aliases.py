"""Aliases in the in-memory store, and their history: every change is kept with who
made it and why. A mixin of :class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from collections.abc import Mapping

from loopml._time import now_us
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store import _rows
from loopml.store._memory.tables import LOCK, Row, Tables, fresh, lookup
from loopml.store._records import Alias, AliasEvent


class Aliases:
    """The alias methods of the metadata store contract."""

    _tables: Tables

    def set_alias(
        self,
        alias: str,
        artifact_id: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Alias:
        _rows.check_alias(alias)
        who, why = _rows.alias_actor(actor), _rows.alias_reason(reason)
        tables = self._tables
        with LOCK:
            target = lookup(tables.artifacts, artifact_id)
            if target is None:
                raise NotFound(f"no artifact with id {artifact_id!r} to alias {alias!r}")
            key = (target["kind"], target["name"], alias)
            existing = tables.aliases.get(key)
            if existing is not None and existing["artifact_id"] == artifact_id:
                return fresh(_rows.alias_record, existing)
            row = {
                "kind": target["kind"],
                "name": target["name"],
                "alias": alias,
                "artifact_id": artifact_id,
                "updated_at": now_us(),
            }
            tables.aliases[key] = row
            moved_from = None if existing is None else existing["artifact_id"]
            _record(tables, row, moved_from=moved_from, moved_to=artifact_id, actor=who, reason=why)
            tables.changed()
            return fresh(_rows.alias_record, row)

    def move_aliases(
        self,
        kind: str,
        name: str,
        moves: Mapping[str, str | None],
        *,
        expected: Mapping[str, str | None],
        actor: str | None = None,
        reason: str | None = None,
    ) -> list[Alias]:
        planned, guards = _rows.check_moves(moves, expected)
        who, why = _rows.alias_actor(actor), _rows.alias_reason(reason)
        kind = str(kind)  # plain text, also when given an ArtifactKind
        tables = self._tables
        with LOCK:
            for artifact_id in sorted({t for t in planned.values() if t is not None}):
                _require_version(tables, kind, name, artifact_id)
            for alias, wanted in guards.items():
                found = _alias_row(tables, kind, name, alias)
                there = None if found is None else found["artifact_id"]
                if there != wanted:
                    raise Conflict(_lost(tables, kind, name, alias, wanted, there))
            moved = []
            for alias, target in planned.items():
                existing = _alias_row(tables, kind, name, alias)
                before = None if existing is None else existing["artifact_id"]
                if target != before:
                    row: Row = {"kind": kind, "name": name, "alias": alias, "artifact_id": target}
                    if target is None:
                        del tables.aliases[(kind, name, alias)]
                    else:
                        row["updated_at"] = now_us()
                        tables.aliases[(kind, name, alias)] = row
                    _record(tables, row, moved_from=before, moved_to=target, actor=who, reason=why)
                    tables.changed()
                    existing = None if target is None else row
                if existing is not None:
                    moved.append(fresh(_rows.alias_record, existing))
            return moved

    def get_alias(self, kind: str, name: str, alias: str) -> Alias:
        with LOCK:
            row = _alias_row(self._tables, kind, name, alias)
            if row is None:
                raise NotFound(f"{kind} {name!r} has no alias {alias!r}")
            return fresh(_rows.alias_record, row)

    def delete_alias(
        self,
        kind: str,
        name: str,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        who, why = _rows.alias_actor(actor), _rows.alias_reason(reason)
        tables = self._tables
        with LOCK:
            existing = _alias_row(tables, kind, name, alias)
            if existing is None:
                raise NotFound(f"{kind} {name!r} has no alias {alias!r} to delete")
            del tables.aliases[(kind, name, alias)]
            moved_from = existing["artifact_id"]
            _record(tables, existing, moved_from=moved_from, moved_to=None, actor=who, reason=why)
            tables.changed()

    def aliases(self, *, kind: str | None = None, name: str | None = None) -> list[Alias]:
        with LOCK:
            found = [
                row
                for key, row in sorted(self._tables.aliases.items())
                if (kind is None or key[0] == kind) and (name is None or key[1] == name)
            ]
            return [fresh(_rows.alias_record, row) for row in found]

    def alias_history(self, kind: str, name: str, alias: str | None = None) -> list[AliasEvent]:
        with LOCK:
            return [
                fresh(_rows.alias_event_record, row)
                for row in reversed(self._tables.alias_events)
                if (row["kind"], row["name"]) == (kind, name)
                and (alias is None or row["alias"] == alias)
            ]


def _lost(
    tables: Tables, kind: str, name: str, alias: str, wanted: str | None, there: str | None
) -> str:
    def version_of(artifact_id: str) -> int | None:
        row = lookup(tables.artifacts, artifact_id)
        return None if row is None else int(row["version"])

    return _rows.lost_move(kind, name, alias, wanted, there, version_of)


def _require_version(tables: Tables, kind: str, name: str, artifact_id: str) -> None:
    """``artifact_id`` is a version of ``(kind, name)``, or NotFound / InvalidInput."""
    row = lookup(tables.artifacts, artifact_id)
    if row is None:
        raise NotFound(f"no artifact with id {artifact_id!r} to move an alias of {name!r} to")
    if (row["kind"], row["name"]) != (kind, name):
        raise InvalidInput(_rows.not_a_version(artifact_id, row["kind"], row["name"], kind, name))


def _alias_row(tables: Tables, kind: str, name: str, alias: str) -> Row | None:
    key = (kind, name, alias)
    return tables.aliases.get(key) if all(isinstance(part, str) for part in key) else None


def _record(
    tables: Tables,
    alias: Row,
    *,
    moved_from: str | None,
    moved_to: str | None,
    actor: str,
    reason: str | None,
) -> None:
    tables.alias_events.append(
        {
            "id": next(tables.row_ids),
            "kind": alias["kind"],
            "name": alias["name"],
            "alias": alias["alias"],
            "from_artifact_id": moved_from,
            "to_artifact_id": moved_to,
            "actor": actor,
            "reason": reason,
            "created_at": now_us(),
        }
    )
