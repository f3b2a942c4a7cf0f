"""The arm statistics rules of the metadata store contract, as tests: workers add what
their routers saw to a deployment's totals, field by field, without losing an
increment however many add at once; the totals leave the change counter alone and go
with their deployment.

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store`` and
``shared_store_url`` fixtures.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.store import ArmStats, MetadataStore, open_store
from loopml.testing.processes import processes

__all__ = ["ArmStatsContract"]

CHAMPION = {"model": "churn@champion"}
V1, V2 = "churn@v1", "churn@v2"


def _add_many(url: str, count: int, barrier: Any) -> None:
    """A child process: add ``count`` deltas to two arms once all children are ready."""
    store = open_store(url)
    barrier.wait()
    for _ in range(count):
        store.add_arm_stats("churn", {V2: ArmStats(1, 1, 0.25), V1: ArmStats(2, 0, 0.0)})
    store.close()


class ArmStatsContract:
    """The rules of ``add_arm_stats`` and ``arm_stats``."""

    def test_deltas_add_up_field_by_field(self, store: MetadataStore) -> None:
        store.set_deployment("churn", CHAMPION)
        assert store.arm_stats("churn") == {}
        store.add_arm_stats("churn", {V2: ArmStats(pulls=3, rewards=2, reward_sum=1.5)})
        store.add_arm_stats("churn", {V1: ArmStats(pulls=1), V2: ArmStats(1, 1, 0.25)})
        store.add_arm_stats("churn", {V2: ArmStats(rewards=1, reward_sum=1.0)})
        totals = store.arm_stats("churn")
        assert totals == {V1: ArmStats(1, 0, 0.0), V2: ArmStats(4, 4, 2.75)}
        assert list(totals) == [V1, V2]  # in arm order, whatever order they came in
        assert all(
            isinstance(s.pulls, int) and isinstance(s.reward_sum, float) for s in totals.values()
        )

    def test_values_come_back_unchanged(self, store: MetadataStore) -> None:
        store.set_deployment("churn", CHAMPION)
        arms = {"ünïcode@v1 ✓": ArmStats(2**62, 2**62 - 1, 0.1), "a" * 255: ArmStats(1, 1, 1e-300)}
        store.add_arm_stats("churn", arms)
        assert store.arm_stats("churn") == dict(sorted(arms.items()))

    def test_each_deployment_has_its_own_statistics(self, store: MetadataStore) -> None:
        store.set_deployment("churn", CHAMPION)
        store.set_deployment("fraud", {"model": "fraud@v1"})
        store.add_arm_stats("churn", {V1: ArmStats(5, 5, 5.0)})
        store.add_arm_stats("fraud", {V1: ArmStats(1, 0, 0.0)})
        assert store.arm_stats("churn") == {V1: ArmStats(5, 5, 5.0)}
        assert store.arm_stats("fraud") == {V1: ArmStats(1, 0, 0.0)}

    def test_adding_statistics_leaves_the_change_counter_alone(self, store: MetadataStore) -> None:
        store.set_deployment("churn", CHAMPION)
        counter = store.change_counter()
        for _ in range(3):
            store.add_arm_stats("churn", {V1: ArmStats(1, 1, 1.0)})
        store.add_arm_stats("churn", {})
        store.add_arm_stats("churn", {V2: ArmStats()})  # zeros: nothing to add
        assert store.change_counter() == counter
        assert store.arm_stats("churn") == {V1: ArmStats(3, 3, 3.0)}

    def test_statistics_outlive_policy_changes_and_go_with_their_deployment(
        self, store: MetadataStore
    ) -> None:
        store.set_deployment("churn", CHAMPION)
        store.set_deployment("fraud", {"model": "fraud@v1"})
        store.add_arm_stats("churn", {V1: ArmStats(2, 1, 1.0)})
        store.add_arm_stats("fraud", {V1: ArmStats(7, 0, 0.0)})
        store.set_deployment("churn", {"split": {V1: 0.5, V2: 0.5}})
        assert store.arm_stats("churn") == {V1: ArmStats(2, 1, 1.0)}
        counter = store.change_counter()
        store.delete_deployment("churn")
        assert store.change_counter() > counter
        with pytest.raises(NotFound, match="'churn'"):
            store.arm_stats("churn")
        store.set_deployment("churn", CHAMPION)  # made anew, it starts from nothing
        assert store.arm_stats("churn") == {}
        assert store.arm_stats("fraud") == {V1: ArmStats(7, 0, 0.0)}

    def test_a_deployment_that_is_not_there_raises_not_found(self, store: MetadataStore) -> None:
        counter = store.change_counter()
        with pytest.raises(NotFound, match="'nobody'"):
            store.add_arm_stats("nobody", {V1: ArmStats(1)})
        with pytest.raises(NotFound, match="'nobody'"):
            store.arm_stats("nobody")
        store.set_deployment("nobody", CHAMPION)
        assert store.arm_stats("nobody") == {}  # the refused addition wrote nothing
        assert store.change_counter() > counter

    def test_bad_deltas_are_refused_before_anything_is_written(self, store: MetadataStore) -> None:
        store.set_deployment("churn", CHAMPION)
        store.add_arm_stats("churn", {V1: ArmStats(1, 1, 0.5)})
        not_stats: Any = {V1: (1, 1, 0.5)}
        not_a_mapping: Any = [(V1, ArmStats(1))]
        not_text: Any = {1: ArmStats(1)}
        cases: list[tuple[str, Any, str]] = [
            ("churn", not_stats, "ArmStats"),
            ("churn", not_text, "arm"),
            ("churn", {"": ArmStats(1)}, "arm"),
            ("churn", {"nul\x00": ArmStats(1)}, "NUL"),
            ("churn", {"x" * 256: ArmStats(1)}, "arm"),
            ("churn", {V2: ArmStats(pulls=-1)}, "pulls"),
            ("churn", {V2: ArmStats(pulls=2**63)}, "pulls"),
            ("churn", {V2: ArmStats(rewards=True)}, "rewards"),
            ("churn", {V2: ArmStats(1, 1, float("nan"))}, "reward_sum"),
            ("churn", {V2: ArmStats(1, 1, float("inf"))}, "reward_sum"),
            ("../up", {V1: ArmStats(1)}, "deployment name"),
        ]
        for deployment, deltas, named in cases:
            # a good delta with the bad one: the whole call is refused
            with pytest.raises(InvalidInput, match=named):
                store.add_arm_stats(deployment, {"churn@v0": ArmStats(1), **deltas})
        with pytest.raises(InvalidInput, match="mapping"):
            store.add_arm_stats("churn", not_a_mapping)
        assert store.arm_stats("churn") == {V1: ArmStats(1, 1, 0.5)}

    def test_threads_adding_at_once_lose_no_increment(self, store: MetadataStore) -> None:
        store.set_deployment("churn", CHAMPION)
        errors: list[BaseException] = []

        def add() -> None:
            try:
                for _ in range(25):
                    store.add_arm_stats(
                        "churn", {V1: ArmStats(1, 1, 0.5), V2: ArmStats(2, 1, 0.25)}
                    )
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=add) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert store.arm_stats("churn") == {
            V1: ArmStats(200, 200, 100.0),
            V2: ArmStats(400, 200, 50.0),
        }

    def test_processes_adding_at_once_lose_no_increment(self, shared_store_url: str) -> None:
        with open_store(shared_store_url, create=True) as store:
            store.set_deployment("churn", CHAMPION)
        context = processes()
        barrier = context.Barrier(4)
        children = [
            context.Process(target=_add_many, args=(shared_store_url, 30, barrier))
            for _ in range(4)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=180)
        assert [child.exitcode for child in children] == [0, 0, 0, 0]
        with open_store(shared_store_url) as store:
            assert store.arm_stats("churn") == {
                V1: ArmStats(240, 0, 0.0),
                V2: ArmStats(120, 120, 30.0),
            }
