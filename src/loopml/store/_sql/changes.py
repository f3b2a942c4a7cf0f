"""The change counter of the SQL store: one row, which every writing transaction adds one
to as its last statement, so that the new value commits with the records it counts.
A mixin of :class:`~loopml.store._sql.store.SqlStore`.

Last, because on PostgreSQL the row stays locked until the transaction commits: a
writer that holds it waits for nothing more, so writers queue on it only for their
commit and never deadlock on it. Readers are never blocked by it."""

from __future__ import annotations

import sqlalchemy as sa

from loopml.errors import StoreError
from loopml.store._sql import schema as t
from loopml.store._sql.engine import retrying

# Plain SQL both databases take as it is: passed to the driver as written, it costs a
# writer 15 microseconds on SQLite where a SQLAlchemy statement costs 40, and the
# poller's read goes on the driver's own connection.
_BUMP = f"UPDATE {t.change_counter.name} SET value = value + 1 WHERE id = 1"
_READ = f"SELECT value FROM {t.change_counter.name} WHERE id = 1"


def count_change(c: sa.Connection) -> None:
    """Add one to the counter, in the transaction of ``c``, after its writes."""
    c.exec_driver_sql(_BUMP)


class Changes:
    """The ``change_counter`` method of the metadata store contract."""

    _engine: sa.Engine

    def change_counter(self) -> int:
        return retrying(self._engine, self._read_counter)

    def _read_counter(self) -> int:
        # A poller calls this all the time: on the pooled driver connection, one
        # statement costs about a tenth of what SQLAlchemy's transaction and statement
        # machinery adds around it (8 instead of 100 microseconds on SQLite). The
        # statement is its own transaction on SQLite (the driver does not begin one);
        # on PostgreSQL the pool rolls the read back when the connection returns.
        connection = self._engine.raw_connection()
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(_READ)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except dbapi_error as error:
            raise sa.exc.DBAPIError.instance(_READ, None, error, dbapi_error) from error
        finally:
            connection.close()  # back to the pool
        if row is None:  # only in a database changed by hand
            raise StoreError(
                "the store's change counter (table change_counter, row id 1) is missing: "
                "the database was changed outside loopml; restore it from a backup"
            )
        return int(row[0])
