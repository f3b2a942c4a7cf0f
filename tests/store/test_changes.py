"""The SQL backend's change counter beyond the kit: it is read on a connection of its own,
which a forked child does not share and which is made anew when the database drops it."""

from __future__ import annotations

import multiprocessing
import sys

import pytest
import sqlalchemy as sa

from loopml.store import open_store
from loopml.store._sql.engine import normalize_url


def _write_and_read(store: object, seen: object) -> None:
    """A forked child: write with the store it inherited and read the counter."""
    store.create_run(kind="train", name="in the child")  # type: ignore[attr-defined]
    seen.value = store.change_counter()  # type: ignore[attr-defined]


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
def test_a_forked_child_reads_the_counter_without_the_parents_connection(
    any_store_url: str,
) -> None:
    context = multiprocessing.get_context("fork")
    with open_store(any_store_url, create=True) as store:
        before = store.change_counter()  # the parent's reading connection is open now
        seen = context.Value("q", -1)
        child = context.Process(target=_write_and_read, args=(store, seen))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        assert seen.value > before
        # the parent's connection still answers, and sees the child's write
        assert store.change_counter() == seen.value
        assert [r.name for r in store.find_runs()] == ["in the child"]


@pytest.mark.postgres
def test_the_counter_is_read_again_after_the_server_drops_its_connection(
    postgres_url: str,
) -> None:
    with open_store(postgres_url, create=True) as store:
        before = store.change_counter()
        reading = store._counter._connection.dbapi_connection.info.backend_pid  # type: ignore[attr-defined]
        admin = sa.create_engine(normalize_url(postgres_url), poolclass=sa.NullPool)
        with admin.connect() as connection:
            dropped = connection.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": reading}
            ).scalar()
        admin.dispose()
        assert dropped  # the reading connection was there, and is gone
        store.create_run(kind="train", name="after")
        assert store.change_counter() > before
