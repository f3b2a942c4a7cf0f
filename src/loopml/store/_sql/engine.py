"""Engines for SQLite and PostgreSQL, and the one place driver errors become loopml errors."""

from __future__ import annotations

import os
import random
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc

from loopml.errors import (
    InvalidInput,
    InvalidURL,
    LoopmlError,
    NotWritable,
    StoreError,
    StoreMissing,
    StoreUnavailable,
)
from loopml.store._urls import redact_text

T = TypeVar("T")

# Contention is waited out inside the store for up to this long before it is an error.
RETRY_SECONDS = 120.0
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

_WRITE = "loopml_write"
_FIX = "give whole numbers within 64 bits, and text without NUL characters or lone surrogates"


def normalize_url(url: str) -> sa.URL:
    """Parse a store URL, choosing the driver loopml ships for each database."""
    try:
        if "\x00" in url:
            raise ValueError("it holds a NUL character")
        parsed = sa.make_url(url)
    except (exc.ArgumentError, ValueError) as error:
        cause = "" if isinstance(error, exc.ArgumentError) else f" ({error})"
        raise InvalidURL(
            f"store URL {redact(url)!r} is not a database URL{cause}; use "
            "sqlite:///path/to/loopml.db or postgresql://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise InvalidURL(
                f"store URL {url!r} names no database file; use sqlite:///path/to/loopml.db "
                "(an in-memory SQLite store cannot be shared between processes)"
            )
        if parsed.query:
            raise InvalidURL(
                f"store URL {url!r} has options ({', '.join(parsed.query)}) that a SQLite "
                "store does not take; use sqlite:///path/to/loopml.db"
            )
        return parsed.set(drivername="sqlite+pysqlite")
    if backend == "postgresql":
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise InvalidURL(
                f"store URL {redact(url)!r} has port {parsed.port}, which is not a TCP port "
                "(1 to 65535); use postgresql://user@host:5432/dbname"
            )
        return parsed.set(drivername="postgresql+psycopg")
    raise InvalidURL(
        f"store URL {redact(url)!r} uses {backend!r}, which loopml cannot store into; "
        "use sqlite:///path/to/loopml.db or postgresql://user@host:5432/dbname"
    )


def redact(url: str | sa.URL) -> str:
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except (exc.ArgumentError, ValueError):
        return redact_text(str(url))
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)


def missing_store(url: sa.URL, why: str) -> StoreMissing:
    store = redact(url)
    return StoreMissing(
        f"store {store} does not exist ({why}); loopml makes a store only when asked: fix "
        "the URL or restore the database, or make one with open_store(url, create=True)",
        store=store,
        why=why,
    )


def create_engine(url: sa.URL, *, create: bool = False) -> sa.Engine:
    """An engine on ``url``; without ``create``, a SQLite file that is not there is
    :class:`StoreMissing` (connecting would make an empty one)."""
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, create=create)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8)
    _dispose_in_forked_children(engine)
    return engine


def _sqlite_engine(url: sa.URL, *, create: bool) -> sa.Engine:
    database = Path(str(url.database))
    if not create and not database.exists():
        raise missing_store(url, f"no file {database}")
    if not create and not database.is_file():
        raise InvalidURL(
            f"store URL {redact(url)} names {database}, which is not a file; use "
            "sqlite:///path/to/loopml.db"
        )
    if not database.parent.is_dir():
        raise StoreUnavailable(
            f"SQLite store {database} cannot be opened: folder {database.parent} does not "
            "exist; run `loopml init` to make a workspace, or fix the store URL"
        )
    if not os.access(database.parent, os.W_OK):
        raise NotWritable(
            f"SQLite store {database} cannot be opened: its folder {database.parent} is "
            "read-only, and SQLite writes its -wal and -shm files there; make the folder "
            "writable, or copy the workspace to a writable place"
        )
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, start transactions, so that
        # writers can take the write lock up front (BEGIN IMMEDIATE) and wait for it
        # in the busy handler instead of failing on a lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _dispose_in_forked_children(engine: sa.Engine) -> None:
    ref = weakref.ref(engine)

    def _after_fork() -> None:
        forked = ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=_after_fork)


@contextmanager
def transaction(engine: sa.Engine, *, write: bool) -> Iterator[sa.Connection]:
    """One transaction; on SQLite a writing one holds the write lock from its start."""
    with (
        engine.connect().execution_options(**{_WRITE: write}) as connection,
        connection.begin(),
    ):
        yield connection


def retrying(engine: sa.Engine, work: Callable[[], T], *, retry_on_integrity: bool = False) -> T:
    """Run ``work`` (one whole transaction), retrying contention; translate driver errors.

    ``retry_on_integrity`` also retries unique-key races, such as two processes
    numbering a new version of the same name at once.
    """
    deadline = time.monotonic() + RETRY_SECONDS
    delay = 0.005
    while True:
        try:
            return work()
        except exc.DBAPIError as error:
            retry = _is_contention(error) or (retry_on_integrity and _is_unique_race(error))
            if not retry or time.monotonic() > deadline:
                raise translate(error, engine.url) from error
        except (OverflowError, UnicodeEncodeError) as error:
            # The driver's own refusal of a value, before the database saw it; the
            # store's checks refuse these first, this is the net under them.
            raise InvalidInput(
                f"store {redact(engine.url)} refused a value it was given ({error}); {_FIX}"
            ) from error
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.25)


def _is_contention(error: exc.DBAPIError) -> bool:
    message = str(error.orig).lower()
    if "database is locked" in message or "database is busy" in message:
        return True
    code = getattr(error.orig, "sqlstate", None)
    # serialization_failure, deadlock_detected
    return code in ("40001", "40P01")


def _is_unique_race(error: exc.DBAPIError) -> bool:
    if not isinstance(error, exc.IntegrityError):
        return False
    code = getattr(error.orig, "sqlstate", None)
    return code == "23505" or "unique constraint failed" in str(error.orig).lower()


def translate(error: exc.DBAPIError, url: sa.URL) -> LoopmlError:
    """The loopml error for a driver error, naming the store and the fix."""
    where = redact(url)
    message = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    lowered = message.lower()
    if isinstance(error, exc.DataError):  # a value the database refused: the caller's
        return InvalidInput(f"store {where} refused a value it was given ({message}); {_FIX}")
    if "readonly database" in lowered or "read-only" in lowered:
        return NotWritable(
            f"store {where} is read-only ({message}); make the database file and its "
            "folder writable, or point LOOPML_STORE_URL at a writable store"
        )
    if "file is not a database" in lowered:
        return StoreError(
            f"store {where} is not a SQLite database ({message}); fix the store URL, or "
            "restore the database from a backup"
        )
    if isinstance(error, exc.OperationalError) and (
        "unable to open database file" in lowered
        or "connection" in lowered
        or "could not" in lowered
        or "does not exist" in lowered
    ):
        return StoreUnavailable(
            f"cannot connect to store {where}: {message}; check that the database server "
            "is running and the URL is right"
        )
    return StoreError(
        f"store {where} failed: {message}; check the store URL, and the database server's "
        "log if it has one"
    )
