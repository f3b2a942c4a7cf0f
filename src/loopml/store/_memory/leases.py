"""Leases in the in-memory store: read, decided and written under the one lock, on this
process's clock. A mixin of :class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from loopml._time import now_us
from loopml.errors import Conflict
from loopml.store import _lease_rows as rows
from loopml.store._memory.tables import LOCK, Tables
from loopml.store._records import Lease


class Leases:
    """The lease methods of the metadata store contract."""

    _tables: Tables

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> Lease | None:
        rows.check_lease_name(name)
        rows.check_holder(holder)
        ttl = rows.ttl_us(ttl_seconds)
        with LOCK:
            existing = self._tables.leases.get(name)
            row = rows.taken(existing, name, holder, now=now_us(), ttl=ttl)
            if row is None:
                return None
            self._tables.leases[name] = row
            if existing is None or existing["token"] != row["token"]:
                self._tables.changed()  # taken: the holder changed (a renewal is not counted)
            return rows.lease_record(row)

    def renew_lease(self, name: str, holder: str, ttl_seconds: float) -> Lease:
        rows.check_lease_name(name)
        rows.check_holder(holder)
        ttl = rows.ttl_us(ttl_seconds)
        with LOCK:
            existing, now = self._tables.leases.get(name), now_us()
            if existing is None or not rows.held_by(existing, holder, now):
                raise Conflict(rows.not_held(name, holder, existing, now))
            row = self._tables.leases[name] = rows.renewed(existing, now=now, ttl=ttl)
            lease = rows.lease_record(row)
            assert lease is not None
            return lease

    def release_lease(self, name: str, holder: str) -> bool:
        rows.check_lease_name(name)
        rows.check_holder(holder)
        with LOCK:
            existing, now = self._tables.leases.get(name), now_us()
            if existing is None or not rows.held_by(existing, holder, now):
                return False
            self._tables.leases[name] = rows.released(existing, now=now)
            self._tables.changed()
            return True

    def lease(self, name: str) -> Lease | None:
        rows.check_lease_name(name)
        with LOCK:
            return rows.lease_record(self._tables.leases.get(name))
