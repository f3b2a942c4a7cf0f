"""Processes that the kits start to act on one store at once.

Each is forked from multiprocessing's fork server, which imports the stores' code
once, instead of being a new Python that imports it again (``spawn``: about a second
each, most of a kit's time with several processes per test). A child still has no
state of its caller: the fork server is a process of its own that has only imported
modules, and each child opens its own store from the URL it is given. Where there is
no fork server (Windows), children are spawned.

    >>> context = processes()
    >>> context.get_start_method() in ("forkserver", "spawn")
    True
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext, SpawnContext

# What a kit's child imports: the kits, and the stores they open.
PRELOADED = [
    "loopml.testing.arm_stats_contract",
    "loopml.testing.lease_contract",
    "loopml.testing.review_contract",
    "loopml.testing.schedule_contract",
    "loopml.testing.store_contract",
    "loopml.store._sql.opener",
    "alembic.command",
    "alembic.runtime.migration",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
]


def processes(*also: str) -> ForkServerContext | SpawnContext:
    """A multiprocessing context whose children fork from a server that has imported
    :data:`PRELOADED` and ``also`` (modules a caller's children import: they are
    imported by the server only when it is not running yet, and by each child
    otherwise, as a module is that the server does not hold)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOADED, *also])
    return context
