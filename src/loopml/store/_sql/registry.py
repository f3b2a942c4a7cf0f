"""Aliases in the SQL store, and their history: every change is written with the
alias, in one transaction, with who made it and why. A mixin of
:class:`~loopml.store._sql.store.SqlStore`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store._records import Alias, AliasEvent
from loopml.store._rows import alias_actor as _actor
from loopml.store._rows import alias_event_record as _alias_event
from loopml.store._rows import alias_reason as _reason
from loopml.store._rows import alias_record as _alias
from loopml.store._rows import check_alias, check_moves, lost_move, not_a_version
from loopml.store._sql import schema as t
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction

Row = Mapping[Any, Any]


class Aliases:
    """The alias methods of the metadata store contract."""

    _engine: sa.Engine

    def set_alias(
        self,
        alias: str,
        artifact_id: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Alias:
        check_alias(alias)
        who, why = _actor(actor), _reason(reason)

        def work() -> Alias:
            with transaction(self._engine, write=True) as c:
                target = c.execute(
                    sa.select(t.artifacts.c.kind, t.artifacts.c.name).where(
                        t.artifacts.c.id == artifact_id
                    )
                ).first()
                if target is None:
                    raise NotFound(f"no artifact with id {artifact_id!r} to alias {alias!r}")
                key = _key(target.kind, target.name, alias)
                # Locked, so that concurrent moves each record the target they replaced.
                current = c.execute(sa.select(t.aliases).where(*key).with_for_update())
                existing = current.mappings().first()
                if existing is not None and existing["artifact_id"] == artifact_id:
                    return _alias(existing)
                row = {
                    "kind": target.kind,
                    "name": target.name,
                    "alias": alias,
                    "artifact_id": artifact_id,
                    "updated_at": now_us(),
                }
                if existing is None:
                    c.execute(sa.insert(t.aliases), row)
                else:
                    c.execute(
                        sa.update(t.aliases)
                        .where(*key)
                        .values(artifact_id=artifact_id, updated_at=row["updated_at"])
                    )
                _record(
                    c,
                    row,
                    moved_from=None if existing is None else existing["artifact_id"],
                    moved_to=artifact_id,
                    actor=who,
                    reason=why,
                )
                count_change(c)
                return _alias(row)

        # Two first settings of one alias race on its key: the loser's retry moves it.
        return retrying(self._engine, work, retry_on_integrity=True)

    def get_alias(self, kind: str, name: str, alias: str) -> Alias:
        rows = self._alias_rows(sa.select(t.aliases).where(*_key(kind, name, alias)))
        if not rows:
            raise NotFound(f"{kind} {name!r} has no alias {alias!r}")
        return _alias(rows[0])

    def delete_alias(
        self,
        kind: str,
        name: str,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        who, why = _actor(actor), _reason(reason)

        def work() -> None:
            with transaction(self._engine, write=True) as c:
                key = _key(kind, name, alias)
                current = c.execute(sa.select(t.aliases).where(*key).with_for_update())
                existing = current.mappings().first()
                if existing is None:
                    raise NotFound(f"{kind} {name!r} has no alias {alias!r} to delete")
                c.execute(sa.delete(t.aliases).where(*key))
                _record(
                    c,
                    existing,
                    moved_from=existing["artifact_id"],
                    moved_to=None,
                    actor=who,
                    reason=why,
                )
                count_change(c)

        retrying(self._engine, work)

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
        planned, guards = check_moves(moves, expected)
        who, why = _actor(actor), _reason(reason)
        kind = str(kind)  # plain text, also when given an ArtifactKind

        def work() -> list[Alias]:
            with transaction(self._engine, write=True) as c:
                _require_versions(c, kind, name, {a for a in planned.values() if a is not None})
                # Locked (on SQLite the write lock is held already), so that no other
                # move can land between the check and the writes.
                current = c.execute(
                    sa.select(t.aliases)
                    .where(
                        t.aliases.c.kind == kind,
                        t.aliases.c.name == name,
                        t.aliases.c.alias.in_(sorted(guards)),
                    )
                    .order_by(t.aliases.c.alias)
                    .with_for_update()
                )
                found = {row["alias"]: row for row in current.mappings()}
                for alias, wanted in guards.items():
                    there = found[alias]["artifact_id"] if alias in found else None
                    if there != wanted:
                        raise _conflict(c, kind, name, alias, wanted, there)
                return _make_moves(c, kind, name, planned, found, actor=who, reason=why)

        # Two first settings of one alias race on its key: the loser's retry finds the
        # alias there, and so not as it expected.
        return retrying(self._engine, work, retry_on_integrity=True)

    def aliases(self, *, kind: str | None = None, name: str | None = None) -> list[Alias]:
        query = sa.select(t.aliases).order_by(t.aliases.c.kind, t.aliases.c.name, t.aliases.c.alias)
        if kind is not None:
            query = query.where(t.aliases.c.kind == kind)
        if name is not None:
            query = query.where(t.aliases.c.name == name)
        return [_alias(row) for row in self._alias_rows(query)]

    def alias_history(self, kind: str, name: str, alias: str | None = None) -> list[AliasEvent]:
        events = t.alias_events.c
        query = (
            sa.select(t.alias_events)
            .where(events.kind == kind, events.name == name)
            .order_by(events.id.desc())
        )
        if alias is not None:
            query = query.where(events.alias == alias)
        return [_alias_event(row) for row in self._alias_rows(query)]

    def _alias_rows(self, query: sa.Select[Any]) -> list[Row]:
        def work() -> list[Row]:
            with transaction(self._engine, write=False) as c:
                return list(c.execute(query).mappings().all())

        return retrying(self._engine, work)


def _require_versions(c: sa.Connection, kind: str, name: str, ids: set[str]) -> None:
    """Every id is an artifact of ``(kind, name)``, or NotFound / InvalidInput."""
    if not ids:
        return
    query = sa.select(t.artifacts.c.id, t.artifacts.c.kind, t.artifacts.c.name).where(
        t.artifacts.c.id.in_(sorted(ids))
    )
    found = {row.id: row for row in c.execute(query)}
    for artifact_id in sorted(ids):
        row = found.get(artifact_id)
        if row is None:
            raise NotFound(f"no artifact with id {artifact_id!r} to move an alias of {name!r} to")
        if (row.kind, row.name) != (kind, name):
            raise InvalidInput(not_a_version(artifact_id, row.kind, row.name, kind, name))


def _make_moves(
    c: sa.Connection,
    kind: str,
    name: str,
    planned: Mapping[str, str | None],
    found: Mapping[str, Row],
    *,
    actor: str,
    reason: str | None,
) -> list[Alias]:
    """Make the moves whose expectations held, each with its event, in their order."""
    moved: list[Alias] = []
    changed = False
    for alias, target in planned.items():
        existing = found.get(alias)
        before = None if existing is None else existing["artifact_id"]
        if target == before:
            if existing is not None:
                moved.append(_alias(existing))
            continue
        key = _key(kind, name, alias)
        row: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "alias": alias,
            "artifact_id": target,
            "updated_at": now_us(),
        }
        if target is None:
            c.execute(sa.delete(t.aliases).where(*key))
        elif existing is None:
            c.execute(sa.insert(t.aliases), row)
        else:
            c.execute(
                sa.update(t.aliases)
                .where(*key)
                .values(artifact_id=target, updated_at=row["updated_at"])
            )
        _record(c, row, moved_from=before, moved_to=target, actor=actor, reason=reason)
        if target is not None:
            moved.append(_alias(row))
        changed = True
    if changed:
        count_change(c)
    return moved


def _conflict(
    c: sa.Connection, kind: str, name: str, alias: str, wanted: str | None, there: str | None
) -> Conflict:
    def version_of(artifact_id: str) -> int | None:
        query = sa.select(t.artifacts.c.version).where(t.artifacts.c.id == artifact_id)
        return c.execute(query).scalar()

    return Conflict(lost_move(kind, name, alias, wanted, there, version_of))


def _key(kind: str, name: str, alias: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (t.aliases.c.kind == kind, t.aliases.c.name == name, t.aliases.c.alias == alias)


def _record(
    c: sa.Connection,
    alias: Row,
    *,
    moved_from: str | None,
    moved_to: str | None,
    actor: str,
    reason: str | None,
) -> None:
    c.execute(
        sa.insert(t.alias_events),
        {
            "kind": alias["kind"],
            "name": alias["name"],
            "alias": alias["alias"],
            "from_artifact_id": moved_from,
            "to_artifact_id": moved_to,
            "actor": actor,
            "reason": reason,
            "created_at": now_us(),
        },
    )
