"""Sharing arm statistics through a real store: routers of two workers converge to the
same totals, a failing store is counted and retried without losing what was seen, and
nothing is raised to the caller."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from loopml.errors import InvalidInput
from loopml.serve import ArmSharing, Router
from loopml.store import ArmStats, MetadataStore, open_store

ARMS = ["churn@v1", "churn@v2"]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/loopml.db"
    with open_store(url, create=True) as store:
        store.set_deployment("churn", {"split": {"churn@v1": 0.5, "churn@v2": 0.5}})
    return url


def _traffic(router: Router, requests: int, reward: float) -> None:
    for _ in range(requests):
        arm, _ = router.choose()
        router.reward(arm, reward)


def _paced_traffic(router: Router, requests: int, reward: float, seconds: float) -> None:
    """``requests`` spread over at least ``seconds``, in twenty runs: traffic that flows
    while the sharing threads take several rounds (unpaced, 2,000 took a few rounds'
    time and the test counted two rounds where it asks for three)."""
    for _ in range(20):
        _traffic(router, requests // 20, reward)
        time.sleep(seconds / 20)


def _total(stats: dict[str, ArmStats]) -> ArmStats:
    summed = ArmStats()
    for each in stats.values():
        summed = summed + each
    return summed


def test_two_workers_converge_to_the_same_totals(store_url: str) -> None:
    first_store, second_store = open_store(store_url), open_store(store_url)
    first = Router(ARMS, [1, 1], routing="thompson", seed=1)
    second = Router(ARMS, [1, 1], routing="thompson", seed=2)
    first_sharing = ArmSharing(first_store, lambda: {"churn": first})
    second_sharing = ArmSharing(second_store, lambda: {"churn": second})
    _traffic(first, 300, 1.0)
    _traffic(second, 200, 0.5)
    first_sharing.share()
    second_sharing.share()
    first_sharing.share()  # the first worker now reads what the second added
    totals = first_store.arm_stats("churn")
    assert _total(totals) == ArmStats(pulls=500, rewards=500, reward_sum=400.0)
    assert first.stats() == second.stats() == totals
    assert (first_sharing.errors, second_sharing.errors) == (0, 0)
    first_store.close()
    second_store.close()


def test_background_threads_share_while_traffic_flows(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(3)]
    routers = [Router(ARMS, [1, 1], routing="ucb1", seed=seed) for seed in range(3)]
    sharings = [
        ArmSharing(store, lambda router=router: {"churn": router}, interval=0.02).start()
        for store, router in zip(stores, routers, strict=True)
    ]
    threads = [threading.Thread(target=_paced_traffic, args=(r, 2_000, 1.0, 0.2)) for r in routers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for sharing in sharings:
        sharing.stop()  # a last round each
    deadline = time.monotonic() + 30  # the others' last rounds, read back
    while time.monotonic() < deadline:
        for sharing in sharings:
            sharing.share()
        if all(router.stats() == routers[0].stats() for router in routers):
            break
    assert _total(stores[0].arm_stats("churn")) == ArmStats(6_000, 6_000, 6_000.0)
    assert all(router.stats() == stores[0].arm_stats("churn") for router in routers)
    assert all(sharing.rounds > 2 and sharing.errors == 0 for sharing in sharings)
    for store in stores:
        store.close()


def test_a_failing_store_is_counted_and_what_was_seen_is_added_later(
    store_url: str, tmp_path: Path
) -> None:
    store = open_store(store_url)
    router = Router(ARMS, [1, 1], seed=0)
    routers = {"churn": router}
    sharing = ArmSharing(store, lambda: routers)
    _traffic(router, 10, 1.0)
    sharing.share()
    # the table gone (a real failure of the real database), then back
    with sqlite3.connect(tmp_path / "loopml.db") as db:
        db.execute("ALTER TABLE arm_stats RENAME TO arm_stats_away")
    _traffic(router, 5, 0.0)
    sharing.share()  # does not raise
    assert sharing.errors == 1
    assert "arm_stats" in str(sharing.last_error)
    _traffic(router, 3, 0.0)
    sharing.share()
    assert sharing.errors == 2
    assert _total(router.stats()) == ArmStats(18, 18, 10.0)  # the router still counts all
    with sqlite3.connect(tmp_path / "loopml.db") as db:
        db.execute("ALTER TABLE arm_stats_away RENAME TO arm_stats")
    sharing.share()
    assert sharing.errors == 2
    assert _total(store.arm_stats("churn")) == ArmStats(18, 18, 10.0)  # nothing lost
    assert router.stats() == store.arm_stats("churn")
    # a router that is gone (its deployment reloaded) leaves what it saw to be added
    with sqlite3.connect(tmp_path / "loopml.db") as db:
        db.execute("ALTER TABLE arm_stats RENAME TO arm_stats_away")
    _traffic(router, 2, 1.0)
    sharing.share()
    routers.clear()
    with sqlite3.connect(tmp_path / "loopml.db") as db:
        db.execute("ALTER TABLE arm_stats_away RENAME TO arm_stats")
    sharing.share()
    assert _total(store.arm_stats("churn")) == ArmStats(20, 20, 12.0)
    store.close()


def test_a_deleted_deployment_and_a_broken_listing_are_counted_not_raised(
    store_url: str,
) -> None:
    store = open_store(store_url)
    router = Router(ARMS, [1, 1], seed=0)
    routers: dict[str, Any] = {"churn": router}
    sharing = ArmSharing(store, lambda: routers)
    store.delete_deployment("churn")
    _traffic(router, 4, 1.0)
    sharing.share()
    assert sharing.errors == 1
    store.set_deployment("churn", {"model": "churn@v1"})
    sharing.share()  # the deleted deployment's deltas went with it
    assert store.arm_stats("churn") == {}

    def broken() -> dict[str, Router]:
        raise RuntimeError("the server's table of routers is being rebuilt")

    failing = ArmSharing(store, broken)
    failing.share()
    assert failing.errors == 1
    assert isinstance(failing.last_error, RuntimeError)
    store.close()


def test_stop_shares_once_more(store_url: str) -> None:
    store = open_store(store_url)
    router = Router(ARMS, [1, 1], seed=0)
    with ArmSharing(store, lambda: {"churn": router}, interval=60):
        _traffic(router, 7, 1.0)
    assert _total(store.arm_stats("churn")).pulls == 7
    store.close()


@pytest.mark.parametrize("interval", [0, 0.001, 61, -1, float("nan"), True, "1"])
def test_an_interval_out_of_bounds_is_refused(interval: Any) -> None:
    store: MetadataStore = open_store("memory://arm-sharing-interval", create=True)
    with pytest.raises(InvalidInput, match="interval") as refused:
        ArmSharing(store, dict, interval=interval)
    assert refused.value.field == "interval"
