"""Aliases in the in-memory store, and their history: every change is kept with who
made it and why. A mixin of :class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from loopml._time import now_us
from loopml.errors import NotFound
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
            return fresh(_rows.alias_record, row)

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
