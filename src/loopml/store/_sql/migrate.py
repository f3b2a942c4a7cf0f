"""Bring a store's schema to the one this loopml writes, safely across processes.

Opening a store reads its revision without importing Alembic (which is slow to
import); Alembic runs only when a schema must be made or upgraded, under a lock so
that processes opening one new store at once do not race.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from loopml._version import __version__
from loopml.errors import SchemaOutdated, SchemaTooNew
from loopml.store._sql.engine import missing_store, redact, retrying, transaction
from loopml.store._sql.schema import HEAD, REVISIONS

MIGRATIONS = Path(__file__).parent / "migrations"
_VERSION_TABLE = "alembic_version"
# Any fixed number: the key of the PostgreSQL advisory lock that serializes migrations.
_PG_LOCK_KEY = 0x6C6F6F706D6C


def current_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table(_VERSION_TABLE):
        return None
    return connection.exec_driver_sql(f"SELECT version_num FROM {_VERSION_TABLE}").scalar()


def ensure_schema(engine: sa.Engine, *, create: bool = False, migrate: bool = True) -> None:
    """Check the schema; create it (only with ``create``) or upgrade it (unless not
    ``migrate``), or say why the store cannot be opened."""

    def read() -> str | None:
        with transaction(engine, write=False) as c:
            return current_revision(c)

    revision = retrying(engine, read)
    if revision == HEAD:
        return
    _check_known(engine, revision)
    if revision is None and not create:
        raise missing_store(engine.url, "no loopml tables in the database")
    if revision is not None and not migrate:
        raise SchemaOutdated(
            f"store {redact(engine.url)} has schema revision {revision}, older than "
            f"{HEAD}; run `loopml migrate` to upgrade it (back it up first)"
        )
    if revision is None and engine.dialect.name == "sqlite":
        retrying(engine, lambda: _use_wal(engine))
    retrying(engine, lambda: _upgrade(engine))


def _use_wal(engine: sa.Engine) -> None:
    """WAL mode, a persistent setting of the file. It must be set outside a
    transaction, so on the driver's own connection; another process making the same
    new store may hold the lock it needs, so a busy database is retried like any other
    contention."""
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA journal_mode=WAL")
    except Exception as error:
        raise sa.exc.OperationalError("PRAGMA journal_mode=WAL", None, error) from error
    finally:
        raw.close()


def _check_known(engine: sa.Engine, revision: str | None) -> None:
    if revision is not None and revision not in REVISIONS:
        raise SchemaTooNew(
            f"store {redact(engine.url)} has schema revision {revision!r}, which this "
            f"loopml {__version__} does not know (it knows up to {HEAD}): it was written "
            "by a newer loopml; upgrade with `pip install -U loopml` to open it"
        )


def _upgrade(engine: sa.Engine) -> None:
    with transaction(engine, write=True) as c:
        if engine.dialect.name == "postgresql":
            c.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        revision = current_revision(c)
        if revision == HEAD:
            return
        _check_known(engine, revision)
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = c
        command.upgrade(config, HEAD)
