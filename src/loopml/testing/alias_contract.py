"""The alias rules of the metadata store contract, as tests: aliases move, and every
change is kept in their history with who made it and why.

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store`` fixture.
"""

from __future__ import annotations

import itertools
import random
import threading
from datetime import UTC

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.store import Artifact, MetadataStore

__all__ = ["AliasContract"]

DIGEST = "ab" * 32


def _versions(store: MetadataStore, count: int, name: str = "churn") -> list[Artifact]:
    return [
        store.create_artifact(kind="model", name=name, digest=f"{i:02x}" * 32, size=1)
        for i in range(count)
    ]


class AliasContract:
    """The rules of aliases and their history."""

    def test_aliases_move_and_delete(self, store: MetadataStore) -> None:
        v1, v2 = _versions(store, 2)
        store.set_alias("champion", v1.id)
        assert store.get_alias("model", "churn", "champion").artifact_id == v1.id
        store.set_alias("champion", v2.id)
        assert store.get_alias("model", "churn", "champion").artifact_id == v2.id
        assert [a.alias for a in store.aliases(kind="model", name="churn")] == ["champion"]
        store.delete_alias("model", "churn", "champion")
        with pytest.raises(NotFound, match="champion"):
            store.get_alias("model", "churn", "champion")
        with pytest.raises(NotFound, match="champion"):
            store.delete_alias("model", "churn", "champion")

    def test_aliases_belong_to_their_name(self, store: MetadataStore) -> None:
        a = store.create_artifact(kind="model", name="a", digest=DIGEST, size=1)
        b = store.create_artifact(kind="model", name="b", digest=DIGEST, size=1)
        store.set_alias("champion", a.id)
        store.set_alias("champion", b.id)
        assert store.get_alias("model", "a", "champion").artifact_id == a.id
        assert store.get_alias("model", "b", "champion").artifact_id == b.id
        assert [e.to_artifact_id for e in store.alias_history("model", "a")] == [a.id]
        assert store.alias_history("dataset", "a") == []

    def test_aliases_that_would_hide_versions_are_rejected(self, store: MetadataStore) -> None:
        a = store.create_artifact(kind="model", name="a", digest=DIGEST, size=1)
        for bad in ("latest", "v3"):
            with pytest.raises(InvalidInput, match=bad):
                store.set_alias(bad, a.id)
        with pytest.raises(NotFound, match="missing"):
            store.set_alias("champion", "missing")
        assert store.aliases() == []
        assert store.alias_history("model", "a") == []

    def test_every_change_is_kept_newest_first(self, store: MetadataStore) -> None:
        v1, v2 = _versions(store, 2)
        store.set_alias("champion", v1.id, actor="ana", reason="first model")
        store.set_alias("champion", v2.id, actor="ana", reason="better on the holdout")
        store.set_alias("challenger", v1.id, actor="loop")
        store.delete_alias("model", "churn", "champion", actor="bob", reason="retired")
        history = store.alias_history("model", "churn")
        assert [
            (e.alias, e.action, e.from_artifact_id, e.to_artifact_id, e.actor, e.reason)
            for e in history
        ] == [
            ("champion", "deleted", v2.id, None, "bob", "retired"),
            ("challenger", "set", None, v1.id, "loop", None),
            ("champion", "moved", v1.id, v2.id, "ana", "better on the holdout"),
            ("champion", "set", None, v1.id, "ana", "first model"),
        ]
        assert [e.id for e in history] == sorted((e.id for e in history), reverse=True)
        assert all(e.created_at.tzinfo is UTC for e in history)
        assert [e.created_at for e in history] == sorted(
            (e.created_at for e in history), reverse=True
        )
        assert [e.action for e in store.alias_history("model", "churn", "champion")] == [
            "deleted",
            "moved",
            "set",
        ]
        assert store.alias_history("model", "churn", "nobody") == []

    def test_the_actor_defaults_to_the_user_of_the_process(
        self, store: MetadataStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        [v1] = _versions(store, 1)
        monkeypatch.setenv("LOGNAME", "loopml-tester")
        store.set_alias("champion", v1.id)
        store.delete_alias("model", "churn", "champion")
        assert [e.actor for e in store.alias_history("model", "churn")] == ["loopml-tester"] * 2

    def test_setting_an_alias_where_it_points_records_nothing(self, store: MetadataStore) -> None:
        [v1] = _versions(store, 1)
        first = store.set_alias("champion", v1.id, reason="first")
        again = store.set_alias("champion", v1.id, reason="again")
        assert again == first
        assert [e.reason for e in store.alias_history("model", "churn")] == ["first"]

    def test_a_refused_change_records_nothing(self, store: MetadataStore) -> None:
        [v1] = _versions(store, 1)
        with pytest.raises(InvalidInput, match="actor"):
            store.set_alias("champion", v1.id, actor="")
        with pytest.raises(InvalidInput, match="actor"):
            store.set_alias("champion", v1.id, actor="x" * 256)
        with pytest.raises(InvalidInput, match="reason"):
            store.set_alias("champion", v1.id, reason=42)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            store.delete_alias("model", "churn", "champion", reason="nothing to delete")
        assert store.aliases() == []
        assert store.alias_history("model", "churn") == []
        store.set_alias("champion", v1.id)
        with pytest.raises(InvalidInput, match="reason"):
            store.delete_alias("model", "churn", "champion", reason="x" * 5000)
        assert store.get_alias("model", "churn", "champion").artifact_id == v1.id
        assert len(store.alias_history("model", "churn")) == 1

    def test_concurrent_moves_keep_an_unbroken_history(self, store: MetadataStore) -> None:
        versions = [v.id for v in _versions(store, 4)]
        errors: list[BaseException] = []

        def move(seed: int) -> None:
            rng = random.Random(seed)
            try:
                for _ in range(15):
                    store.set_alias("champion", rng.choice(versions), actor=f"thread-{seed}")
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=move, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        oldest_first = store.alias_history("model", "churn", "champion")[::-1]
        assert oldest_first[0].from_artifact_id is None
        for before, after in itertools.pairwise(oldest_first):
            # each event starts where the one before it ended, and really moves
            assert after.from_artifact_id == before.to_artifact_id != after.to_artifact_id
        current = store.get_alias("model", "churn", "champion")
        assert oldest_first[-1].to_artifact_id == current.artifact_id
