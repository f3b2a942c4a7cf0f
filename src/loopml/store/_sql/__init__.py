"""The SQLAlchemy backend of the metadata store: SQLite and PostgreSQL.

It serves the ``sqlite`` and ``postgresql`` URL schemes (with any driver after a
``+``: loopml picks its own); its modules, and SQLAlchemy, load when the first such
store is opened.
"""

from __future__ import annotations

from loopml.store._base import MetadataStore
from loopml.store._factory import register_backend


def _open(url: str, create: bool, migrate: bool) -> MetadataStore:
    from loopml.store._sql.opener import open_sql_store

    return open_sql_store(url, create=create, migrate=migrate)


register_backend("sqlite", _open, example="sqlite:///path/to/loopml.db")
register_backend("postgresql", _open, example="postgresql://user@host:5432/dbname")
