"""Deployments in the in-memory store, and their history: every change is kept with
the policy before and after, who made it and why. A mixin of
:class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml._time import now_us
from loopml.errors import Conflict, NotFound
from loopml.store import _deployment_rows as rows
from loopml.store._memory.tables import LOCK, Row, Tables, fresh, lookup
from loopml.store._records import Deployment, DeploymentChange


class Deployments:
    """The deployment methods of the metadata store contract."""

    _tables: Tables

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
        tables = self._tables
        with LOCK:
            existing = tables.deployments.get(name)
            _check_expected(name, existing, expected)
            if existing is not None and rows.same_policy(existing["policy"], plain):
                return fresh(rows.deployment_record, existing)
            row = {
                "name": name,
                "policy": plain,
                "revision": _last_revision(tables, name) + 1,
                "updated_at": now_us(),
                "actor": who,
            }
            tables.deployments[name] = row
            _record(tables, row, before=existing, after=plain, reason=why)
            tables.changed()
            return fresh(rows.deployment_record, row)

    def get_deployment(self, name: str) -> Deployment:
        with LOCK:
            row = lookup(self._tables.deployments, name)
            if row is None:
                raise NotFound(f"no deployment named {name!r}")
            return fresh(rows.deployment_record, row)

    def deployments(self) -> list[Deployment]:
        with LOCK:
            return [
                fresh(rows.deployment_record, row)
                for _, row in sorted(self._tables.deployments.items())
            ]

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
        tables = self._tables
        with LOCK:
            existing = lookup(tables.deployments, name)
            if existing is None:
                raise NotFound(f"no deployment named {name!r} to delete")
            _check_expected(name, existing, expected)
            del tables.deployments[name]
            tables.arm_stats.pop(name, None)
            gone = {
                "name": name,
                "revision": existing["revision"] + 1,
                "updated_at": now_us(),
                "actor": who,
            }
            _record(tables, gone, before=existing, after=None, reason=why)
            tables.changed()

    def deployment_history(self, name: str) -> list[DeploymentChange]:
        with LOCK:
            return [
                fresh(rows.deployment_change_record, row)
                for row in reversed(self._tables.deployment_changes)
                if row["name"] == name
            ]


def _check_expected(name: str, existing: Row | None, expected: int | None) -> None:
    current = 0 if existing is None else int(existing["revision"])
    if expected is not None and expected != current:
        raise Conflict(rows.lost_revision(name, expected, current))


def _last_revision(tables: Tables, name: str) -> int:
    """The revision of the latest change of ``name``, also when it was a deletion."""
    for row in reversed(tables.deployment_changes):
        if row["name"] == name:
            return int(row["revision"])
    return 0


def _record(
    tables: Tables,
    row: Row,
    *,
    before: Row | None,
    after: dict[str, Any] | None,
    reason: str | None,
) -> None:
    tables.deployment_changes.append(
        {
            "name": row["name"],
            "revision": row["revision"],
            "previous_policy": None if before is None else before["policy"],
            "policy": after,
            "actor": row["actor"],
            "reason": reason,
            "created_at": row["updated_at"],
        }
    )
