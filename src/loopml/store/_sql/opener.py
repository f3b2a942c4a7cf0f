"""Opening a SQL store: the engine on its URL, and its schema made or brought up to date."""

from __future__ import annotations

from loopml.errors import InvalidURL
from loopml.store._sql.engine import create_engine, normalize_url, redact
from loopml.store._sql.migrate import ensure_schema
from loopml.store._sql.store import SqlStore


def open_sql_store(url: str, *, create: bool = False, migrate: bool = True) -> SqlStore:
    """The SQLite or PostgreSQL store at ``url``, as :func:`loopml.store.open_store` opens it."""
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
