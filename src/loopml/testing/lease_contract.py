"""The lease rules of the metadata store contract, as tests: one holder at a time holds a
lease until it runs out unrenewed or is released; its fencing token grows each time the
lease is taken and never goes back; of callers taking a free or expired lease at once,
exactly one gets it.

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store``, ``store_url`` and
``shared_store_url`` fixtures.

Expiry is waited for with a short time to live and a sleep longer than it. The store's
clock may differ from the test's (a database server elsewhere), but both run at the
same pace, so the tests compare only the store's own times with each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput
from loopml.store import Lease, MetadataStore, open_store
from loopml.testing.processes import processes

__all__ = ["LeaseContract"]

LOOP = "loop"
LONG = 60.0  # a lease that outlives any test
SHORT = 0.2  # a lease a test waits out


def _outlive(seconds: float) -> None:
    """Sleep until a lease of ``seconds`` taken before the call has run out."""
    time.sleep(seconds * 1.5 + 0.05)


def _race(url: str, holder: str, ttl: float, barrier: Any, queue: Any) -> None:
    """A child process: take the lease once all children are ready, and say what it got."""
    store = open_store(url)
    barrier.wait()
    queue.put((holder, store.acquire_lease(LOOP, holder, ttl)))
    store.close()


def _race_processes(url: str, holders: list[str]) -> dict[str, Lease | None]:
    """What each of ``holders``, a process each, got when they took the lease at once."""
    context = processes()
    barrier = context.Barrier(len(holders))
    queue = context.Queue()
    children = [
        context.Process(target=_race, args=(url, holder, LONG, barrier, queue))
        for holder in holders
    ]
    for child in children:
        child.start()
    got = dict(queue.get(timeout=180) for _ in children)
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0] * len(children)
    return got


def _race_threads(store: MetadataStore, holders: list[str]) -> dict[str, Lease | None]:
    """What each of ``holders``, a thread each, got when they took the lease at once."""
    barrier = threading.Barrier(len(holders))
    got: dict[str, Lease | None] = {}
    errors: list[BaseException] = []

    def take(holder: str) -> None:
        try:
            barrier.wait()
            got[holder] = store.acquire_lease(LOOP, holder, LONG)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=take, args=(holder,)) for holder in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return got


def _one_winner(got: dict[str, Lease | None], token: int) -> Lease:
    """The one lease taken among ``got``, with ``token``; every other caller got None."""
    won = [lease for lease in got.values() if lease is not None]
    assert len(won) == 1, f"{len(won)} callers took the lease at once: {won}"
    assert won[0].token == token
    return won[0]


class LeaseContract:
    """The rules of leases: held by one at a time, fenced by a growing token."""

    def test_a_free_lease_is_taken_with_the_first_token(self, store: MetadataStore) -> None:
        assert store.lease(LOOP) is None
        taken = store.acquire_lease(LOOP, "host-a:12", 30)
        assert taken is not None
        assert (taken.name, taken.holder, taken.token) == (LOOP, "host-a:12", 1)
        assert taken.acquired_at == taken.renewed_at
        assert taken.acquired_at.tzinfo is UTC
        assert taken.expires_at - taken.acquired_at == timedelta(seconds=30)
        assert store.lease(LOOP) == taken
        assert store.lease("other") is None

    def test_another_holder_is_refused_while_the_lease_stands(self, store: MetadataStore) -> None:
        held = store.acquire_lease(LOOP, "a", LONG)
        counter = store.change_counter()
        assert store.acquire_lease(LOOP, "b", LONG) is None
        assert store.release_lease(LOOP, "b") is False
        with pytest.raises(Conflict, match=r"'loop' is not held by 'b': 'a' holds it") as lost:
            store.renew_lease(LOOP, "b", LONG)
        assert "acquire_lease" in str(lost.value)
        assert store.lease(LOOP) == held
        assert store.change_counter() == counter

    def test_the_holder_renews_keeping_its_token(self, store: MetadataStore) -> None:
        first = store.acquire_lease(LOOP, "a", LONG)
        assert first is not None
        counter = store.change_counter()
        again = store.acquire_lease(LOOP, "a", LONG)  # acquiring what one holds renews it
        renewed = store.renew_lease(LOOP, "a", 90)
        shorter = store.renew_lease(LOOP, "a", 5)  # a holder may shorten its lease
        for lease in (again, renewed, shorter):
            assert lease is not None
            assert (lease.holder, lease.token, lease.acquired_at) == ("a", 1, first.acquired_at)
        assert again is not None
        assert first.renewed_at <= again.renewed_at <= renewed.renewed_at <= shorter.renewed_at
        assert again.expires_at - again.renewed_at == timedelta(seconds=LONG)
        assert renewed.expires_at - renewed.renewed_at == timedelta(seconds=90)
        assert shorter.expires_at - shorter.renewed_at == timedelta(seconds=5)
        assert store.lease(LOOP) == shorter
        assert store.change_counter() == counter  # renewals are not counted

    def test_an_expired_lease_goes_to_the_next_taker_with_the_next_token(
        self, store: MetadataStore
    ) -> None:
        old = store.acquire_lease(LOOP, "a", SHORT)
        assert old is not None
        _outlive(SHORT)
        assert store.lease(LOOP) == old  # expired, and shown as it was
        counter = store.change_counter()
        new = store.acquire_lease(LOOP, "b", LONG)
        assert new is not None
        assert (new.holder, new.token) == ("b", 2)
        assert new.acquired_at >= old.expires_at
        assert store.change_counter() > counter
        with pytest.raises(Conflict, match="'b' holds it"):
            store.renew_lease(LOOP, "a", LONG)
        assert store.release_lease(LOOP, "a") is False
        assert store.acquire_lease(LOOP, "a", LONG) is None
        assert store.lease(LOOP) == new

    def test_the_holder_takes_its_expired_lease_anew_with_a_new_token(
        self, store: MetadataStore
    ) -> None:
        old = store.acquire_lease(LOOP, "a", SHORT)
        assert old is not None
        _outlive(SHORT)
        counter = store.change_counter()
        with pytest.raises(Conflict, match=r"its lease \(token 1\) expired"):
            store.renew_lease(LOOP, "a", LONG)
        assert store.release_lease(LOOP, "a") is False  # not held: expired
        assert store.lease(LOOP) == old  # the refused calls wrote nothing
        assert store.change_counter() == counter
        anew = store.acquire_lease(LOOP, "a", LONG)
        assert anew is not None
        assert (anew.holder, anew.token) == ("a", 2)
        assert anew.acquired_at >= old.expires_at
        assert store.change_counter() > counter

    def test_a_released_lease_is_free_at_once_and_keeps_its_token(
        self, store: MetadataStore
    ) -> None:
        store.acquire_lease(LOOP, "a", LONG)
        counter = store.change_counter()
        assert store.release_lease(LOOP, "a") is True
        assert store.change_counter() > counter
        assert store.lease(LOOP) is None
        counter = store.change_counter()
        assert store.release_lease(LOOP, "a") is False
        with pytest.raises(Conflict, match="it was released"):
            store.renew_lease(LOOP, "a", LONG)
        assert store.change_counter() == counter
        taken = store.acquire_lease(LOOP, "b", LONG)  # at once, long before a's expiry
        assert taken is not None
        assert (taken.holder, taken.token) == ("b", 2)

    def test_renewing_a_lease_never_taken_is_a_conflict(self, store: MetadataStore) -> None:
        with pytest.raises(Conflict, match="'loop' is not held by 'a': it was never taken"):
            store.renew_lease(LOOP, "a", LONG)
        assert store.release_lease(LOOP, "a") is False
        assert store.lease(LOOP) is None

    def test_tokens_only_grow_and_are_kept_by_the_store(
        self, store_url: str, store: MetadataStore
    ) -> None:
        tokens = []
        for turn in range(6):
            holder = f"holder-{turn % 2}"
            with open_store(store_url) as each:  # another store object on the same store
                taken = each.acquire_lease(LOOP, holder, LONG)
                assert taken is not None
                renewed = each.renew_lease(LOOP, holder, LONG)
                assert renewed.token == taken.token
                tokens.append(taken.token)
                assert each.release_lease(LOOP, holder) is True
        assert tokens == [1, 2, 3, 4, 5, 6]
        last = store.acquire_lease(LOOP, "last", LONG)
        assert last is not None
        assert last.token == 7

    def test_leases_of_other_names_are_apart(self, store: MetadataStore) -> None:
        loop = store.acquire_lease(LOOP, "a", LONG)
        other = store.acquire_lease("team/churn-loop", "b", LONG)
        assert loop is not None
        assert other is not None
        assert (other.holder, other.token) == ("b", 1)
        assert store.release_lease(LOOP, "a") is True
        assert store.lease("team/churn-loop") == other
        assert store.acquire_lease("team/churn-loop", "a", LONG) is None

    def test_bad_arguments_are_refused_before_anything_is_written(
        self, store: MetadataStore
    ) -> None:
        held = store.acquire_lease(LOOP, "a", LONG)
        counter = store.change_counter()
        calls: list[tuple[str, Callable[[str, str, Any], object]]] = [
            ("acquire_lease", store.acquire_lease),
            ("renew_lease", store.renew_lease),
            ("release_lease", lambda name, holder, _ttl: store.release_lease(name, holder)),
        ]
        bad_holders: list[Any] = ["", "x" * 256, "nul\x00", "\ud800", 7]
        bad_ttls: list[Any] = [0, -1, 0.0, float("nan"), float("inf"), 10**9, True, "30", None]
        for what, call in calls:
            for bad_name in ("", "../up", "-loop", "a b", "x" * 256, "nul\x00"):
                with pytest.raises(InvalidInput, match="lease name"):
                    call(bad_name, "a", LONG)
            for bad_holder in bad_holders:
                with pytest.raises(InvalidInput, match="lease holder"):
                    call(LOOP, bad_holder, LONG)
            if what != "release_lease":
                for ttl in bad_ttls:
                    with pytest.raises(InvalidInput, match="ttl_seconds") as refused:
                        call(LOOP, "a", ttl)
                    assert "e.g. 30" in str(refused.value)
        with pytest.raises(InvalidInput, match="lease name"):
            store.lease("../up")
        assert store.lease(LOOP) == held
        assert store.change_counter() == counter

    def test_a_time_to_live_is_kept_to_the_microsecond(self, store: MetadataStore) -> None:
        taken = store.acquire_lease(LOOP, "a", 1.5)
        assert taken is not None
        assert taken.expires_at - taken.acquired_at == timedelta(seconds=1.5)
        renewed = store.renew_lease(LOOP, "a", 2.000001)
        assert renewed.expires_at - renewed.renewed_at == timedelta(seconds=2, microseconds=1)

    def test_threads_taking_a_free_then_an_expired_lease_at_once_one_wins(
        self, store: MetadataStore
    ) -> None:
        holders = [f"thread-{i}" for i in range(8)]
        first = _one_winner(_race_threads(store, holders), token=1)
        assert store.lease(LOOP) == first
        ending = store.renew_lease(LOOP, first.holder, SHORT)  # as if its holder died
        _outlive(SHORT)
        second = _one_winner(_race_threads(store, holders), token=2)
        assert second.acquired_at >= ending.expires_at
        assert store.lease(LOOP) == second

    def test_processes_taking_a_free_then_an_expired_lease_at_once_one_wins(
        self, shared_store_url: str
    ) -> None:
        with open_store(shared_store_url, create=True) as store:
            first = _one_winner(_race_processes(shared_store_url, ["p0", "p1", "p2", "p3"]), 1)
            assert store.lease(LOOP) == first
            # Its holder is gone without releasing it (as if killed); it runs out.
            ending = store.renew_lease(LOOP, first.holder, SHORT)
            _outlive(SHORT)
            second = _one_winner(_race_processes(shared_store_url, ["q0", "q1", "q2", "q3"]), 2)
            assert second.holder.startswith("q")
            assert second.acquired_at >= ending.expires_at
            assert store.lease(LOOP) == second
            assert store.acquire_lease(LOOP, first.holder, LONG) is None
