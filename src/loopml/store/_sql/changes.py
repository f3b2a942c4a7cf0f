"""The change counter of the SQL store: one row, which every writing transaction adds one
to as its last statement, so that the new value commits with the records it counts.
A mixin of :class:`~loopml.store._sql.store.SqlStore`.

Last, because on PostgreSQL the row stays locked until the transaction commits: a
writer that holds it waits for nothing more, so writers queue on it only for their
commit and never deadlock on it. Readers are never blocked by it."""

from __future__ import annotations

import sqlalchemy as sa

from loopml.store._sql import schema as t
from loopml.store._sql.engine import retrying, transaction

_ROW = t.change_counter.c.id == 1
_BUMP = sa.update(t.change_counter).where(_ROW).values(value=t.change_counter.c.value + 1)
_READ = sa.select(t.change_counter.c.value).where(_ROW)


def count_change(c: sa.Connection) -> None:
    """Add one to the counter, in the transaction of ``c``, after its writes."""
    c.execute(_BUMP)


class Changes:
    """The ``change_counter`` method of the metadata store contract."""

    _engine: sa.Engine

    def change_counter(self) -> int:
        def work() -> int:
            with transaction(self._engine, write=False) as c:
                return int(c.execute(_READ).scalar_one())

        return retrying(self._engine, work)
