"""Deployments in the SQL store, and their history: every change is written with the
deployment, in one transaction, with the policy before and after, who made it and why.
A mixin of :class:`~loopml.store._sql.store.SqlStore`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us
from loopml.errors import Conflict, NotFound
from loopml.store import _deployment_rows as rows
from loopml.store._records import Deployment, DeploymentChange
from loopml.store._sql import schema as t
from loopml.store._sql.arms import delete_arm_stats
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction

Row = Mapping[Any, Any]


class Deployments:
    """The deployment methods of the metadata store contract."""

    _engine: sa.Engine

    def set_deployment(
        self,
        name: str,
        policy: Mapping[str, Any],
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_revision: int | None = None,
    ) -> Deployment:
        rows.check_deployment_name(name)
        plain = rows.check_policy(name, policy)
        who, why = rows.change_actor(actor), rows.change_reason(reason)
        expected = rows.check_expected_revision(expected_revision)

        def work() -> Deployment:
            with transaction(self._engine, write=True) as c:
                existing = _locked(c, name)
                _check_expected(name, existing, expected)
                if existing is not None and rows.same_policy(existing["policy"], plain):
                    return rows.deployment_record(existing)
                row = {
                    "name": name,
                    "policy": plain,
                    "revision": _last_revision(c, name, existing) + 1,
                    "updated_at": now_us(),
                    "actor": who,
                }
                if existing is None:
                    c.execute(sa.insert(t.deployments), row)
                else:
                    c.execute(
                        sa.update(t.deployments)
                        .where(t.deployments.c.name == name)
                        .values({k: v for k, v in row.items() if k != "name"})
                    )
                _record(c, row, before=existing, after=plain, reason=why)
                count_change(c)
                return rows.deployment_record(row)

        # Two creations of one name race on its key (or on its next revision): the
        # loser's retry finds the winner's deployment.
        return retrying(self._engine, work, retry_on_integrity=True)

    def get_deployment(self, name: str) -> Deployment:
        found = self._deployment_rows(sa.select(t.deployments).where(t.deployments.c.name == name))
        if not found:
            raise NotFound(f"no deployment named {name!r}")
        return rows.deployment_record(found[0])

    def deployments(self) -> list[Deployment]:
        name = t.deployments.c.name
        if self._engine.dialect.name == "postgresql":  # code point order, as Python's
            name = sa.collate(name, "C")  # type: ignore[assignment]
        found = self._deployment_rows(sa.select(t.deployments).order_by(name))
        return [rows.deployment_record(row) for row in found]

    def delete_deployment(
        self,
        name: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_revision: int | None = None,
    ) -> None:
        who, why = rows.change_actor(actor), rows.change_reason(reason)
        expected = rows.check_expected_revision(expected_revision)

        def work() -> None:
            with transaction(self._engine, write=True) as c:
                existing = _locked(c, name)
                if existing is None:
                    raise NotFound(f"no deployment named {name!r} to delete")
                _check_expected(name, existing, expected)
                delete_arm_stats(c, name)
                c.execute(sa.delete(t.deployments).where(t.deployments.c.name == name))
                gone = {
                    "name": name,
                    "revision": existing["revision"] + 1,
                    "updated_at": now_us(),
                    "actor": who,
                }
                _record(c, gone, before=existing, after=None, reason=why)
                count_change(c)

        retrying(self._engine, work)

    def deployment_history(self, name: str) -> list[DeploymentChange]:
        changes = t.deployment_changes.c
        query = (
            sa.select(t.deployment_changes)
            .where(changes.name == name)
            .order_by(changes.revision.desc())
        )
        return [rows.deployment_change_record(row) for row in self._deployment_rows(query)]

    def _deployment_rows(self, query: sa.Select[Any]) -> list[Row]:
        def work() -> list[Row]:
            with transaction(self._engine, write=False) as c:
                return list(c.execute(query).mappings().all())

        return retrying(self._engine, work)


def _locked(c: sa.Connection, name: str) -> Row | None:
    """The deployment's row, locked until the transaction ends (on SQLite the write
    lock is held already), so that no other change lands between read and write."""
    query = sa.select(t.deployments).where(t.deployments.c.name == name).with_for_update()
    return c.execute(query).mappings().first()


def _check_expected(name: str, existing: Row | None, expected: int | None) -> None:
    current = 0 if existing is None else int(existing["revision"])
    if expected is not None and expected != current:
        raise Conflict(rows.lost_revision(name, expected, current))


def _last_revision(c: sa.Connection, name: str, existing: Row | None) -> int:
    """The revision of the latest change of ``name``, also when it was a deletion."""
    if existing is not None:
        return int(existing["revision"])
    query = sa.select(sa.func.max(t.deployment_changes.c.revision)).where(
        t.deployment_changes.c.name == name
    )
    return int(c.execute(query).scalar() or 0)


def _record(
    c: sa.Connection,
    row: Row,
    *,
    before: Row | None,
    after: dict[str, Any] | None,
    reason: str | None,
) -> None:
    c.execute(
        sa.insert(t.deployment_changes).values(
            name=row["name"],
            revision=row["revision"],
            previous_policy=sa.null() if before is None else before["policy"],
            policy=sa.null() if after is None else after,
            actor=row["actor"],
            reason=reason,
            created_at=row["updated_at"],
        )
    )
