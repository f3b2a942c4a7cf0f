"""The in-memory backend of the metadata store: ``memory://NAME``, for tests and trying
things. The stores opened under one name in a process share their records; nothing is
kept when the process ends. Its modules load when the first such store is opened.
"""

from __future__ import annotations

from loopml.store._base import MetadataStore
from loopml.store._factory import register_backend


def _open(url: str, create: bool, migrate: bool) -> MetadataStore:
    from loopml.store._memory.store import open_memory_store

    return open_memory_store(url, create=create)


register_backend("memory", _open, example="memory://NAME")
