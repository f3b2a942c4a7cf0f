"""Leases on the SQL backends beyond the kit: a holder killed with SIGKILL keeps its lease
until it runs out, and then the next taker gets the next token; and expiry is judged on
the database server's clock on PostgreSQL, whatever the clock of the caller's host."""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopml.store import Lease, open_store
from loopml.testing.processes import processes

HOUR_NS = 3600 * 10**9


def _hold_and_renew(url: str, ready: Any) -> None:
    """A child process: take the lease, then renew it every tenth of a second until killed."""
    store = open_store(url)
    if store.acquire_lease("loop", "child", 5) is None:
        raise SystemExit("the lease was taken")
    ready.set()
    while True:
        store.renew_lease("loop", "child", 5)
        time.sleep(0.1)


def _wait_for(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s")


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGKILL")
def test_a_killed_holder_keeps_its_lease_until_it_runs_out(any_store_url: str) -> None:
    context = processes()
    with open_store(any_store_url, create=True) as store:
        ready = context.Event()
        child = context.Process(target=_hold_and_renew, args=(any_store_url, ready))
        child.start()
        try:
            assert ready.wait(timeout=120)
            first = store.lease("loop")
            assert first is not None
            # the child renews it: its renewals move on, and nobody else may take it
            _wait_for(
                lambda: (store.lease("loop") or first).renewed_at > first.renewed_at,
                "the holder renewed its lease",
            )
            assert store.acquire_lease("loop", "parent", 60) is None
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.join(timeout=60)
        assert child.exitcode == -signal.SIGKILL
        last = store.lease("loop")  # as the killed holder left it
        assert last is not None
        assert (last.holder, last.token) == ("child", 1)
        taken: Lease = _wait_for(
            lambda: store.acquire_lease("loop", "parent", 60), "the lease ran out"
        )
        assert (taken.holder, taken.token) == ("parent", 2)
        assert taken.acquired_at >= last.expires_at


def _take_with_a_clock_an_hour_ahead(url: str, queue: Any) -> None:
    """A child process whose host clock (as loopml reads it) runs an hour ahead, like a
    caller on another host with a wrong clock."""
    real = time.time_ns
    time.time_ns = lambda: real() + HOUR_NS
    with open_store(url) as store:
        queue.put((store.acquire_lease("loop", "skewed", 60), store.acquire_lease("own", "x", 60)))


def _skewed_caller(url: str) -> tuple[Lease | None, Lease | None]:
    context = processes()
    queue = context.Queue()
    child = context.Process(target=_take_with_a_clock_an_hour_ahead, args=(url, queue))
    child.start()
    got: tuple[Lease | None, Lease | None] = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    return got


@pytest.mark.postgres
def test_postgresql_judges_expiry_on_the_servers_clock(postgres_url: str) -> None:
    with open_store(postgres_url, create=True) as store:
        held = store.acquire_lease("loop", "a", 60)
        assert held is not None
        taken, own = _skewed_caller(postgres_url)
        # an hour ahead, its own clock says a's lease expired long ago: the server's does not
        assert taken is None
        assert store.lease("loop") == held
        assert own is not None
        assert abs(own.acquired_at - datetime.now(UTC)) < timedelta(minutes=10)


def test_sqlite_judges_expiry_on_the_hosts_clock(sqlite_url: str) -> None:
    """The counterpart: a SQLite file has no clock but its host's, which every process
    opening it shares; a process whose clock is wrong is wrong for the store too."""
    with open_store(sqlite_url, create=True) as store:
        store.acquire_lease("loop", "a", 60)
        taken, own = _skewed_caller(sqlite_url)
        assert taken is not None
        assert (taken.holder, taken.token) == ("skewed", 2)
        assert own is not None
        assert own.acquired_at - datetime.now(UTC) > timedelta(minutes=50)
