"""Which PostgreSQL server the tests run on: the one LOOPML_TEST_POSTGRES_URL names, else
one answering on 127.0.0.1:5432, else none (and why)."""

from __future__ import annotations

import functools
import os

POSTGRES_ENV = "LOOPML_TEST_POSTGRES_URL"
# The server the PostgreSQL tests use when the variable is unset and one answers here.
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@functools.cache
def postgres_server() -> tuple[str | None, str]:
    """The PostgreSQL server the tests run on and how it was chosen, or None and why not.

    ``LOOPML_TEST_POSTGRES_URL`` names the server; without it, a server answering on
    127.0.0.1:5432 is used (probed with a short timeout)."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url, f"{_redacted(url)}, from {POSTGRES_ENV}"
    try:
        import psycopg
    except ImportError:
        return None, f"psycopg is not installed; install loopml[postgres] or set {POSTGRES_ENV}"
    try:
        with psycopg.connect(LOCAL_POSTGRES_URL, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return None, (
            f"{POSTGRES_ENV} is unset and no server answered at {LOCAL_POSTGRES_URL} ({first}); "
            f"set {POSTGRES_ENV}=postgresql://user@host/db to run them"
        )
    return LOCAL_POSTGRES_URL, f"{LOCAL_POSTGRES_URL}, the local server ({POSTGRES_ENV} unset)"


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an unparsable URL)"
