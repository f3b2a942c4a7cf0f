"""Fixed routing: traffic splits by the weights, a key always gets the same arm, the
probability returned is the arm's share; the statistics a router keeps, takes and
merges; bad arguments are refused naming the field."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections import Counter
from typing import Any

import numpy as np
import pytest

from loopml.errors import InvalidInput
from loopml.serve import Router
from loopml.store import ArmStats

ARMS = ["churn@v3", "churn@v4"]
REQUESTS = 10_000


def _keys(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


@pytest.mark.parametrize(
    ("arms", "weights"),
    [
        (ARMS, [0.9, 0.1]),
        (["churn@v1", "churn@v2", "churn@v3"], [5, 3, 2]),
        (ARMS, [0.5, 0.5]),
    ],
)
@pytest.mark.parametrize("keyed", [True, False], ids=["random keys", "no keys"])
def test_traffic_splits_by_the_weights(arms: list[str], weights: list[float], keyed: bool) -> None:
    router = Router(arms, weights, salt="experiment-1", seed=7)
    shares = [w / sum(weights) for w in weights]
    keys: list[str | None] = list(_keys(REQUESTS)) if keyed else [None] * REQUESTS
    counts: Counter[int] = Counter()
    for key in keys:
        arm, probability = router.choose(key)
        assert probability == pytest.approx(shares[arm])
        counts[arm] += 1
    for arm, share in enumerate(shares):
        assert abs(counts[arm] / REQUESTS - share) < 0.02, (arm, counts)
    assert [router.stats()[a].pulls for a in arms] == [counts[i] for i in range(len(arms))]


def test_every_key_always_gets_the_same_arm() -> None:
    keys = [*_keys(2_000, seed=1), "", "ünïcode ✓", "\ud800 lone surrogate", "x" * 10_000]
    router = Router(ARMS, [0.7, 0.3], salt="exp")
    first = {key: router.choose(key)[0] for key in keys}
    for _ in range(5):
        assert {key: router.choose(key)[0] for key in reversed(keys)} == first
    # another router with the salt (another worker, a restart), bandit draws in between
    again = Router(ARMS, [0.7, 0.3], salt="exp", seed=123)
    assert {key: again.choose(key)[0] for key in keys} == first
    assert set(first.values()) == {0, 1}


def test_the_salt_reshuffles_keys_and_the_hash_is_blake2b_of_salt_and_key() -> None:
    keys = _keys(4_000, seed=2)
    one = Router(ARMS, [0.5, 0.5], salt="a")
    other = Router(ARMS, [0.5, 0.5], salt="b")
    moved = sum(one.choose(key)[0] != other.choose(key)[0] for key in keys) / len(keys)
    assert 0.45 < moved < 0.55  # independent halves: half the keys change arm
    # a known answer, computed apart from the router: stable across Python processes,
    # versions and restarts, unlike hash()
    for key in keys[:200]:
        digest = hashlib.blake2b(b"a\x00" + key.encode(), digest_size=8).digest()
        point = (int.from_bytes(digest, "big") >> 11) / 2**53
        assert one.choose(key)[0] == (0 if point < 0.5 else 1)
    assert Router(ARMS, [0.5, 0.5], salt="exp").choose("user-42")[0] == 1


def test_raising_the_last_arms_weight_keeps_its_keys_on_it() -> None:
    """A canary listed last keeps every key it had when its weight grows."""
    keys = _keys(5_000, seed=3)
    before = Router(["churn@v3", "churn@v4"], [0.95, 0.05], salt="canary")
    after = Router(["churn@v3", "churn@v4"], [0.8, 0.2], salt="canary")
    on_canary = {key for key in keys if before.choose(key)[0] == 1}
    assert on_canary
    assert all(after.choose(key)[0] == 1 for key in on_canary)


def test_an_arm_of_weight_zero_is_never_chosen() -> None:
    router = Router(["a@v1", "a@v2", "a@v3"], [0.0, 1.0, 0.0], seed=0)
    assert {router.choose(key) for key in [*_keys(2_000), *[None] * 2_000]} == {(1, 1.0)}


def test_statistics_are_taken_once_and_merged_under_what_was_not_taken() -> None:
    router = Router(ARMS, [1, 1], seed=0, stats={"churn@v3": ArmStats(10, 8, 4.0)})
    assert router.stats() == {"churn@v3": ArmStats(10, 8, 4.0), "churn@v4": ArmStats()}
    picks = [router.choose()[0] for _ in range(20)]
    router.reward(0, 1.0)
    router.reward(0, 0.25)
    seen = {
        "churn@v3": ArmStats(picks.count(0), 2, 1.25),
        "churn@v4": ArmStats(picks.count(1), 0, 0.0),
    }
    delta = router.take_delta()
    assert delta == {arm: stats for arm, stats in seen.items() if stats != ArmStats()}
    assert router.take_delta() == {}  # taken once
    # what was taken still counts until the store's totals replace it
    assert router.stats()["churn@v3"] == ArmStats(10, 8, 4.0) + seen["churn@v3"]
    router.choose()
    router.reward(1, 0.5)
    totals = {
        "churn@v3": ArmStats(100, 50, 25.0),
        "churn@v4": ArmStats(7, 1, 1.0),
        "x@v1": ArmStats(1),
    }
    router.merge(totals)
    untaken = router.take_delta()
    assert untaken["churn@v4"].rewards == 1
    stats = router.stats()
    assert stats == {arm: totals[arm] + untaken.get(arm, ArmStats()) for arm in ARMS}


def test_threads_choosing_and_rewarding_at_once_lose_nothing() -> None:
    """Four threads choose and reward while one of them also shares, as ArmSharing
    does: take what was seen, add it to the totals, merge the totals back."""
    routers = [Router(ARMS, [0.5, 0.5], seed=1), Router(ARMS, [1, 1], routing="thompson", seed=1)]
    errors: list[BaseException] = []

    def add(totals: dict[str, ArmStats], delta: dict[str, ArmStats]) -> None:
        for arm, stats in delta.items():
            totals[arm] = totals.get(arm, ArmStats()) + stats

    def work(router: Router, seed: int, totals: dict[str, ArmStats]) -> None:
        try:
            for i, key in enumerate(_keys(2_000, seed=seed)):
                arm, _ = router.choose(key)
                router.reward(arm, 1.0)
                if seed == 0 and i % 50 == 0:
                    add(totals, router.take_delta())
                    router.merge(totals)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    for router in routers:
        totals: dict[str, ArmStats] = {}
        threads = [threading.Thread(target=work, args=(router, seed, totals)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        seen = router.stats()
        assert sum(s.pulls for s in seen.values()) == sum(s.rewards for s in seen.values()) == 8_000
        add(totals, router.take_delta())
        router.merge(totals)
        assert router.stats() == totals
        assert sum(s.pulls for s in totals.values()) == 8_000


def test_bad_arguments_are_refused_naming_the_field() -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"arms": []}, "arms", "non-empty"),
        ({"arms": "churn@v3"}, "arms", "list"),
        ({"arms": ["a@v1", "a@v1"], "weights": [1, 1]}, "arms", "more than once"),
        ({"arms": ["a@v1", 3], "weights": [1, 1]}, "arms", "version ref"),
        ({"weights": [1.0]}, "weights", "2 numbers"),
        ({"weights": [1.0, -0.5]}, "weights", "at least 0"),
        ({"weights": [1.0, float("nan")]}, "weights", "finite"),
        ({"weights": [1.0, float("inf")]}, "weights", "finite"),
        ({"weights": [0, 0]}, "weights", "all 0"),
        ({"weights": [True, 1]}, "weights", "number"),
        ({"routing": "softmax"}, "routing", "thompson"),
        ({"routing": "ucb1", "epsilon": 1.5}, "epsilon", "from 0 to 1"),
        ({"salt": 3}, "salt", "text"),
    ]
    for changes, field, says in cases:
        arguments: dict[str, Any] = {"arms": ARMS, "weights": [1, 1], **changes}
        with pytest.raises(InvalidInput, match=says) as refused:
            Router(arguments.pop("arms"), arguments.pop("weights"), **arguments)
        assert refused.value.field == field, changes
    assert Router(ARMS, [0, 0], routing="thompson").weights == (0.0, 0.0)  # bandits ignore them
    router = Router(ARMS, [1, 1])
    not_text: Any = 42
    with pytest.raises(InvalidInput, match="text") as refused:
        router.choose(not_text)
    assert refused.value.field == "key"
    bad_rewards: list[tuple[Any, Any, str]] = [
        (2, 1.0, "arm"),
        (-1, 1.0, "arm"),
        (True, 1.0, "arm"),
        (0, 1.5, "reward"),
        (0, -0.1, "reward"),
        (0, float("nan"), "reward"),
        (0, "good", "reward"),
    ]
    for arm, value, field in bad_rewards:
        with pytest.raises(InvalidInput) as refused:
            router.reward(arm, value)
        assert refused.value.field == field
    assert router.stats() == {arm: ArmStats() for arm in ARMS}
    router.reward(np.int64(1), np.float32(0.5))  # NumPy's numbers are numbers
    assert router.stats()["churn@v4"] == ArmStats(0, 1, 0.5)
