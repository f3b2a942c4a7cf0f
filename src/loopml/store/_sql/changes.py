"""The change counter of the SQL store: one row, which every writing transaction adds one
to as its last statement, so that the new value commits with the records it counts.
A mixin of :class:`~loopml.store._sql.store.SqlStore`.

Last, because on PostgreSQL the row stays locked until the transaction commits: a
writer that holds it waits for nothing more, so writers queue on it only for their
commit and never deadlock on it. Readers are never blocked by it."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import sqlalchemy as sa

from loopml.errors import StoreError
from loopml.store._sql import schema as t
from loopml.store._sql.engine import retrying

# Plain SQL both databases take as it is: passed to the driver as written, it costs a
# writer 15 microseconds on SQLite where a SQLAlchemy statement costs 40.
_BUMP = f"UPDATE {t.change_counter.name} SET value = value + 1 WHERE id = 1"
_READ = f"SELECT value FROM {t.change_counter.name} WHERE id = 1"


def count_change(c: sa.Connection) -> None:
    """Add one to the counter, in the transaction of ``c``, after its writes."""
    c.exec_driver_sql(_BUMP)


class CounterReader:
    """Reads the counter on a driver connection of its own, in autocommit: one round
    trip to the database, where a pooled connection costs three on PostgreSQL (the
    pool's liveness ping, the read, the rollback) and SQLAlchemy's statement machinery
    ten times the read itself on SQLite. A poller calls it all the time.

    A connection that fails is dropped and made anew once; one inherited by a forked
    child is left to the parent, like the engine's pool."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._connection: Any = None
        self._pid = 0

    def read(self) -> int:
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        with self._lock:
            for last in (False, True):
                try:
                    cursor = self._connect().cursor()
                    try:
                        cursor.execute(_READ)
                        row = cursor.fetchone()
                    finally:
                        cursor.close()
                except dbapi_error as error:
                    self._drop()
                    if last:
                        raise sa.exc.DBAPIError.instance(_READ, None, error, dbapi_error) from error
                    continue
                if row is None:  # only in a database changed by hand
                    raise StoreError(
                        "the store's change counter (table change_counter, row id 1) is "
                        "missing: the database was changed outside loopml; restore it from "
                        "a backup"
                    )
                return int(row[0])
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _connect(self) -> Any:
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        self._connection = None  # a forked child's: the parent's to close
        pooled = self._engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()  # its own from now on, never handed to a writer
        if self._engine.dialect.name == "postgresql":
            # each read its own transaction, with nothing to roll back
            connection.autocommit = True  # type: ignore[union-attr]
        self._connection, self._pid = pooled, os.getpid()
        return pooled

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                connection.close()


class Changes:
    """The ``change_counter`` method of the metadata store contract."""

    _engine: sa.Engine
    _counter: CounterReader

    def change_counter(self) -> int:
        return retrying(self._engine, self._counter.read)
