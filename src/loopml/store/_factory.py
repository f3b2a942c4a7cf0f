"""One factory that picks the backend from the store URL."""

from __future__ import annotations

from loopml.store._base import MetadataStore


def open_store(url: str, *, migrate: bool = True) -> MetadataStore:
    """Open (and create or upgrade, unless ``migrate=False``) the store at ``url``.

    ``sqlite:///path/loopml.db`` and ``postgresql://user@host/db`` are served by the
    SQLAlchemy backend. A PostgreSQL schema other than ``public`` is chosen with
    ``?options=-csearch_path%3Dmyschema``.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> store = open_store(f"sqlite:///{folder}/loopml.db")
    >>> run = store.create_run(kind="train", name="demo", params={"C": 1.0})
    >>> store.get_run(run.id).params
    {'C': 1.0}
    >>> store.close()
    """
    from loopml.store._sql.engine import create_engine, normalize_url
    from loopml.store._sql.migrate import ensure_schema
    from loopml.store._sql.store import SqlStore

    engine = create_engine(normalize_url(url))
    try:
        ensure_schema(engine, migrate=migrate)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine, url)
