"""The deployment rules of the metadata store contract, as tests: a deployment's policy
changes, every change is kept in its history with the policy before and after, who
made it and why, each change is the next revision, and a change made with an expected
revision happens only if the deployment is still at it (a compare-and-set).

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store`` fixture.
"""

from __future__ import annotations

import itertools
import random
import threading
from datetime import UTC
from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store import DeploymentChange, MetadataStore

__all__ = ["DeploymentContract"]

CHAMPION = {"model": "churn@champion"}
SPLIT = {
    "split": [{"model": "churn@champion", "weight": 0.9}, {"model": "churn@v3", "weight": 0.1}]
}


def _replayed(history: list[DeploymentChange]) -> dict[str, Any] | None:
    """The policy the history (newest first, as given) ends at, checking that each
    change starts where the one before it ended and is the next revision."""
    policy: dict[str, Any] | None = None
    revision = 0
    for change in history[::-1]:
        assert change.previous_policy == policy
        assert change.revision == revision + 1
        policy, revision = change.policy, change.revision
    return policy


class DeploymentContract:
    """The rules of deployments and their history."""

    def test_a_deployment_is_created_read_and_listed(self, store: MetadataStore) -> None:
        made = store.set_deployment("churn", CHAMPION, actor="ana", reason="first")
        assert (made.name, made.policy, made.revision, made.actor) == ("churn", CHAMPION, 1, "ana")
        assert made.updated_at.tzinfo is UTC
        assert store.get_deployment("churn") == made
        other = store.set_deployment("a/fraud", {"model": "fraud@v1"}, actor="bob")
        assert store.deployments() == [other, made]  # by name

    def test_an_update_is_the_next_revision_and_kept_in_history(self, store: MetadataStore) -> None:
        store.set_deployment("churn", CHAMPION, actor="ana", reason="first")
        updated = store.set_deployment("churn", SPLIT, actor="bob", reason="try v3")
        assert (updated.policy, updated.revision, updated.actor) == (SPLIT, 2, "bob")
        assert store.get_deployment("churn") == updated
        history = store.deployment_history("churn")
        assert [
            (c.revision, c.action, c.previous_policy, c.policy, c.actor, c.reason) for c in history
        ] == [
            (2, "updated", CHAMPION, SPLIT, "bob", "try v3"),
            (1, "created", None, CHAMPION, "ana", "first"),
        ]
        assert all(c.created_at.tzinfo is UTC for c in history)
        assert history[0].created_at == updated.updated_at
        assert store.deployment_history("nobody") == []

    def test_the_history_replays_to_the_current_policy(self, store: MetadataStore) -> None:
        policies: list[dict[str, Any]] = [CHAMPION, SPLIT, {"model": "churn@v2"}, CHAMPION]
        for policy in policies:
            store.set_deployment("churn", policy)
        assert _replayed(store.deployment_history("churn")) == store.get_deployment("churn").policy
        store.delete_deployment("churn", actor="bob", reason="retired")
        history = store.deployment_history("churn")
        assert (history[0].action, history[0].actor, history[0].reason) == (
            "deleted",
            "bob",
            "retired",
        )
        assert _replayed(history) is None
        with pytest.raises(NotFound, match="churn"):
            store.get_deployment("churn")
        assert store.deployments() == []
        # made anew, it goes on from the revision of its deletion
        again = store.set_deployment("churn", CHAMPION, expected_revision=0)
        assert again.revision == len(policies) + 2
        assert _replayed(store.deployment_history("churn")) == CHAMPION

    def test_setting_the_same_policy_changes_and_records_nothing(
        self, store: MetadataStore
    ) -> None:
        first = store.set_deployment("churn", {"model": "churn@champion", "weight": 1})
        counter = store.change_counter()
        # the same JSON, its keys in another order
        again = store.set_deployment(
            "churn", {"weight": 1, "model": "churn@champion"}, actor="other", reason="again"
        )
        assert again == first
        assert store.change_counter() == counter
        assert len(store.deployment_history("churn")) == 1
        # 1.0 and true are other JSON than 1: a change
        changed = store.set_deployment("churn", {"model": "churn@champion", "weight": 1.0})
        assert changed.revision == 2
        assert store.change_counter() > counter

    def test_every_change_moves_the_change_counter(self, store: MetadataStore) -> None:
        seen = [store.change_counter()]
        store.set_deployment("churn", CHAMPION)
        seen.append(store.change_counter())
        store.set_deployment("churn", SPLIT)
        seen.append(store.change_counter())
        store.delete_deployment("churn")
        seen.append(store.change_counter())
        assert seen == sorted(set(seen))
        with pytest.raises(NotFound):
            store.get_deployment("churn")
        store.deployments()
        store.deployment_history("churn")
        assert store.change_counter() == seen[-1]

    def test_a_stale_expected_revision_raises_conflict_and_writes_nothing(
        self, store: MetadataStore
    ) -> None:
        with pytest.raises(Conflict, match=r"'churn'.*absent"):
            store.set_deployment("churn", CHAMPION, expected_revision=1)
        assert store.deployments() == []
        store.set_deployment("churn", CHAMPION, expected_revision=0)
        store.set_deployment("churn", SPLIT, expected_revision=1)
        before = (store.get_deployment("churn"), store.deployment_history("churn"))
        counter = store.change_counter()
        for stale in (0, 1, 3):
            with pytest.raises(Conflict, match=r"'churn' is at revision 2") as lost:
                store.set_deployment("churn", {"model": "churn@v9"}, expected_revision=stale)
            assert "read it again" in str(lost.value)
        with pytest.raises(Conflict, match="revision 2"):  # also when it would change nothing
            store.set_deployment("churn", SPLIT, expected_revision=1)
        with pytest.raises(Conflict, match="revision 2"):
            store.delete_deployment("churn", expected_revision=1)
        assert (store.get_deployment("churn"), store.deployment_history("churn")) == before
        assert store.change_counter() == counter
        store.delete_deployment("churn", expected_revision=2)
        assert store.deployments() == []

    def test_unknown_deployments_raise_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound, match="'nobody'"):
            store.get_deployment("nobody")
        with pytest.raises(NotFound, match="'nobody'"):
            store.delete_deployment("nobody", reason="nothing to delete")
        assert store.deployment_history("nobody") == []

    def test_bad_names_and_policies_are_refused_before_anything_is_written(
        self, store: MetadataStore
    ) -> None:
        counter = store.change_counter()
        for bad_name in ("", "../up", "-churn", "a b", "x" * 256, "nul\x00"):
            with pytest.raises(InvalidInput, match="deployment name"):
                store.set_deployment(bad_name, CHAMPION)
        not_a_policy: Any = ["churn@champion"]
        bad_policies: list[tuple[Any, str]] = [
            (not_a_policy, "mapping"),
            (None, "mapping"),
            ({"weight": float("nan")}, "weight"),
            ({"model": object()}, "model"),
            ({"model": "nul\x00"}, "model"),
            ({"split": {1: "churn@v1"}}, "split"),
            ({"deep": _nested(100)}, "deep"),
        ]
        for policy, named in bad_policies:
            with pytest.raises(InvalidInput, match=named):
                store.set_deployment("churn", policy)
        with pytest.raises(InvalidInput, match="actor"):
            store.set_deployment("churn", CHAMPION, actor="")
        with pytest.raises(InvalidInput, match="reason"):
            store.set_deployment("churn", CHAMPION, reason="x" * 5000)
        bad_revisions: list[Any] = [-1, 2**40, "1", True]
        for revision in bad_revisions:
            with pytest.raises(InvalidInput, match="expected_revision"):
                store.set_deployment("churn", CHAMPION, expected_revision=revision)
        assert store.deployments() == []
        assert store.deployment_history("churn") == []
        assert store.change_counter() == counter

    def test_the_policy_comes_back_unchanged(self, store: MetadataStore) -> None:
        policy = {
            "arms": [{"model": "churn@v1", "weight": 0.25}, {"model": "churn@v2", "weight": 0.75}],
            "sticky": {"header": "X-Loopml-Key"},
            "shadow": None,
            "canary": True,
            "budget_ms": 12,
            "text": "ünïcode ✓",
            "big": 2**62,
        }
        made = store.set_deployment("churn", policy)
        assert made.policy == policy
        assert store.get_deployment("churn").policy == policy
        assert store.deployment_history("churn")[0].policy == policy
        made.policy["arms"].clear()  # a returned record shares nothing with the store
        assert store.get_deployment("churn").policy == policy

    def test_concurrent_compare_and_set_updates_keep_an_unbroken_chain(
        self, store: MetadataStore
    ) -> None:
        """Threads each read the deployment, then set a policy of their own with the
        revision they read, retrying when they lose: every win is one revision."""
        store.set_deployment("churn", {"writer": None, "step": 0})
        errors: list[BaseException] = []
        wins: list[int] = []

        def update(seed: int) -> None:
            rng = random.Random(seed)
            won = 0
            try:
                for step in range(8):
                    for _attempt in range(400):
                        read = store.get_deployment("churn")
                        policy = {"writer": seed, "step": step, "weight": rng.random()}
                        try:
                            store.set_deployment(
                                "churn",
                                policy,
                                actor=f"thread-{seed}",
                                expected_revision=read.revision,
                            )
                        except Conflict:
                            continue
                        won += 1
                        break
                    else:  # pragma: no cover - reported below
                        raise AssertionError("a caller lost 400 times in a row")
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
            wins.append(won)

        threads = [threading.Thread(target=update, args=(seed,)) for seed in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        history = store.deployment_history("churn")
        assert len(history) == 1 + sum(wins) == 1 + 5 * 8
        assert [c.revision for c in history] == list(range(len(history), 0, -1))
        for before, after in itertools.pairwise(history[::-1]):
            assert after.previous_policy == before.policy
        current = store.get_deployment("churn")
        assert current.revision == len(history)
        assert _replayed(history) == current.policy


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value
