"""One factory that picks the backend from the store URL."""

from __future__ import annotations

from loopml.store._base import MetadataStore


def open_store(url: str, *, create: bool = False, migrate: bool = True) -> MetadataStore:
    """Open the store at ``url``; with ``create=True``, make it first if it is not there.

    Without ``create``, a store that does not exist (no SQLite file, or a database
    without loopml's tables) is :class:`~loopml.errors.StoreMissing`, and nothing is
    written: a mistyped URL or a lost file is an error, never a new empty store. An
    older schema is upgraded unless ``migrate=False``.

    ``sqlite:///path/loopml.db`` and ``postgresql://user@host/db`` are served by the
    SQLAlchemy backend. A PostgreSQL schema other than ``public`` is chosen with
    ``?options=-csearch_path%3Dmyschema``.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> store = open_store(f"sqlite:///{folder}/loopml.db", create=True)
    >>> run = store.create_run(kind="train", name="demo", params={"C": 1.0})
    >>> store.get_run(run.id).params
    {'C': 1.0}
    >>> store.close()
    >>> open_store(f"sqlite:///{folder}/other.db")
    Traceback (most recent call last):
    ...
    loopml.errors.StoreMissing: store sqlite:///.../other.db does not exist ...
    """
    from loopml.errors import InvalidURL
    from loopml.store._sql.engine import create_engine, normalize_url, redact
    from loopml.store._sql.migrate import ensure_schema
    from loopml.store._sql.store import SqlStore

    engine = create_engine(normalize_url(url), create=create)
    try:
        ensure_schema(engine, create=create, migrate=migrate)
    except ValueError as error:
        # The driver's own refusal of a host or option it cannot use (a host name
        # IDNA cannot encode, say), raised while connecting rather than as a DBAPIError.
        engine.dispose()
        reason = " ".join(str(error).split())[:200]
        raise InvalidURL(
            f"store URL {redact(url)} cannot be used ({type(error).__name__}: {reason}); use "
            "sqlite:///path/to/loopml.db or postgresql://user@host:5432/dbname"
        ) from None
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine, url)
