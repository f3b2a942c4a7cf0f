"""Leases in the SQL store: each call reads the lease's row under the lock its write
takes (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock, held from the
transaction's start), reads the clock, and writes what
:mod:`loopml.store._lease_rows` decides, in one transaction. Two first takings of a
name race on its key: the loser's retry finds the winner's lease.
A mixin of :class:`~loopml.store._sql.store.SqlStore`.

The clock is read once the row is locked, so a caller that waited for the lock judges
expiry at the moment it decides, not when it began waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us
from loopml.errors import Conflict
from loopml.store import _lease_rows as rows
from loopml.store._records import Lease
from loopml.store._sql import schema as t
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction

Row = Mapping[Any, Any]

# The database server's clock, in microseconds since the epoch: callers on several
# hosts judge expiry on this one clock. clock_timestamp(), not now(): now() is when the
# transaction began, which may be long before the lock was granted.
_SERVER_NOW = "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000) AS BIGINT)"


class Leases:
    """The lease methods of the metadata store contract."""

    _engine: sa.Engine

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> Lease | None:
        rows.check_lease_name(name)
        rows.check_holder(holder)
        ttl = rows.ttl_us(ttl_seconds)

        def work() -> Lease | None:
            with transaction(self._engine, write=True) as c:
                existing = _locked(c, name)
                now = _now(c)
                row = rows.taken(existing, name, holder, now=now, ttl=ttl)
                if row is None:
                    return None
                _write(c, existing, row)
                if existing is None or existing["token"] != row["token"]:
                    count_change(c)  # taken: the holder changed (a renewal is not counted)
                return rows.lease_record(row)

        return retrying(self._engine, work, retry_on_integrity=True)

    def renew_lease(self, name: str, holder: str, ttl_seconds: float) -> Lease:
        rows.check_lease_name(name)
        rows.check_holder(holder)
        ttl = rows.ttl_us(ttl_seconds)

        def work() -> Lease:
            with transaction(self._engine, write=True) as c:
                existing = _locked(c, name)
                now = _now(c)
                if existing is None or not rows.held_by(existing, holder, now):
                    raise Conflict(rows.not_held(name, holder, existing, now))
                row = rows.renewed(existing, now=now, ttl=ttl)
                _write(c, existing, row)
                lease = rows.lease_record(row)
                assert lease is not None
                return lease

        return retrying(self._engine, work)

    def release_lease(self, name: str, holder: str) -> bool:
        rows.check_lease_name(name)
        rows.check_holder(holder)

        def work() -> bool:
            with transaction(self._engine, write=True) as c:
                existing = _locked(c, name)
                now = _now(c)
                if existing is None or not rows.held_by(existing, holder, now):
                    return False
                _write(c, existing, rows.released(existing, now=now))
                count_change(c)
                return True

        return retrying(self._engine, work)

    def lease(self, name: str) -> Lease | None:
        rows.check_lease_name(name)

        def work() -> Lease | None:
            with transaction(self._engine, write=False) as c:
                query = sa.select(t.leases).where(t.leases.c.name == name)
                return rows.lease_record(c.execute(query).mappings().first())

        return retrying(self._engine, work)


def _locked(c: sa.Connection, name: str) -> Row | None:
    """The lease's row, locked until the transaction ends (on SQLite the write lock is
    held already), so that no other call lands between read and write."""
    query = sa.select(t.leases).where(t.leases.c.name == name).with_for_update()
    return c.execute(query).mappings().first()


def _now(c: sa.Connection) -> int:
    """The store's clock: the server's on PostgreSQL. SQLite has no clock of its own
    (its ``'now'`` is the system clock of the process that asks, to the millisecond):
    every process that opens the file is on its host, so the store reads that clock,
    to the microsecond."""
    if c.dialect.name == "postgresql":
        return int(c.exec_driver_sql(_SERVER_NOW).scalar_one())
    return now_us()


def _write(c: sa.Connection, existing: Row | None, row: Mapping[str, Any]) -> None:
    if existing is None:
        c.execute(sa.insert(t.leases), dict(row))
    else:
        values = {key: value for key, value in row.items() if key != "name"}
        c.execute(sa.update(t.leases).where(t.leases.c.name == row["name"]).values(values))
