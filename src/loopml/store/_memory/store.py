"""The in-memory metadata store: ``memory://NAME``, the records of the stores of one
name in this process's memory, for tests and trying things."""

from __future__ import annotations

from loopml.store._base import MetadataStore
from loopml.store._memory.alerts import Alerts
from loopml.store._memory.aliases import Aliases
from loopml.store._memory.arms import ArmStatistics
from loopml.store._memory.artifacts import Artifacts
from loopml.store._memory.deployments import Deployments
from loopml.store._memory.leases import Leases
from loopml.store._memory.lineage import Lineage
from loopml.store._memory.reviews import Reviews
from loopml.store._memory.runs import Runs
from loopml.store._memory.schedules import Schedules
from loopml.store._memory.tables import LOCK, Tables, tables_of
from loopml.store._records import StoreInfo

# What ``info`` gives as the schema revision: the tables are made by the code that
# reads them, so they have no revision of their own to migrate from.
REVISION = "memory"


class MemoryStore(
    Artifacts,
    Runs,
    Lineage,
    Aliases,
    Alerts,
    Schedules,
    Deployments,
    ArmStatistics,
    Leases,
    Reviews,
    MetadataStore,
):
    """A :class:`MetadataStore` whose records live in this process's memory.

    Every store opened under one name shares its tables, as connections to one
    database do; closing one leaves the records to the others and to the next open.

    >>> from loopml.store import open_store
    >>> with open_store("memory://doctest-shared", create=True) as first:
    ...     run = first.create_run(kind="train", name="fit")
    >>> with open_store("memory://doctest-shared") as second:
    ...     second.get_run(run.id).name
    'fit'
    """

    def __init__(self, url: str, tables: Tables) -> None:
        self.url = url
        self._tables = tables

    def __repr__(self) -> str:
        return f"MemoryStore({self.url!r})"

    def info(self) -> StoreInfo:
        with LOCK:
            counts = self._tables.counts()
        return StoreInfo(url=self.url, backend="memory", schema_revision=REVISION, counts=counts)

    def change_counter(self) -> int:
        with LOCK:
            return self._tables.changes

    def close(self) -> None:
        """Nothing to release: the records stay for the other stores of the name."""


def open_memory_store(url: str, *, create: bool = False) -> MemoryStore:
    """The in-memory store ``url`` names, as :func:`loopml.store.open_store` opens it."""
    return MemoryStore(url, tables_of(url, create=create))
