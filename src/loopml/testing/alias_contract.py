"""The alias rules of the metadata store contract, as tests: aliases move, every
change is kept in their history with who made it and why, and several move at once
only if they are where their mover read them (a compare-and-set).

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
from loopml.store import Alias, AliasEvent, Artifact, MetadataStore

__all__ = ["AliasContract"]

DIGEST = "ab" * 32


def _versions(store: MetadataStore, count: int, name: str = "churn") -> list[Artifact]:
    return [
        store.create_artifact(kind="model", name=name, digest=f"{i:02x}" * 32, size=1)
        for i in range(count)
    ]


def _chain_holds(history: list[AliasEvent]) -> None:
    """Each event of one alias (newest first, as given) starts where the one before it
    ended and really moves it."""
    oldest_first = history[::-1]
    assert oldest_first[0].from_artifact_id is None
    for before, after in itertools.pairwise(oldest_first):
        assert after.from_artifact_id == before.to_artifact_id != after.to_artifact_id


def _targets(store: MetadataStore, name: str = "churn") -> dict[str, str]:
    return {a.alias: a.artifact_id for a in store.aliases(kind="model", name=name)}


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

    # -- several aliases at once, compare-and-set ------------------------------------

    def test_several_aliases_move_in_one_call_each_recorded(self, store: MetadataStore) -> None:
        v1, v2 = _versions(store, 2)
        first = store.move_aliases(
            "model", "churn", {"champion": v1.id}, expected={"champion": None}, actor="ana"
        )
        assert [(a.alias, a.artifact_id) for a in first] == [("champion", v1.id)]
        moved = store.move_aliases(
            "model",
            "churn",
            {"previous": v1.id, "champion": v2.id},
            expected={"champion": v1.id, "previous": None},
            actor="ana",
            reason="better on the holdout",
        )
        assert [(a.kind, a.name, a.alias, a.artifact_id) for a in moved] == [
            ("model", "churn", "previous", v1.id),
            ("model", "churn", "champion", v2.id),
        ]
        assert moved[1] == store.get_alias("model", "churn", "champion")
        assert _targets(store) == {"champion": v2.id, "previous": v1.id}
        history = store.alias_history("model", "churn")
        assert [
            (e.alias, e.action, e.from_artifact_id, e.to_artifact_id, e.actor, e.reason)
            for e in history
        ] == [  # newest first: written in the order of the moves
            ("champion", "moved", v1.id, v2.id, "ana", "better on the holdout"),
            ("previous", "set", None, v1.id, "ana", "better on the holdout"),
            ("champion", "set", None, v1.id, "ana", None),
        ]

    def test_a_move_to_none_deletes_and_one_to_the_same_target_records_nothing(
        self, store: MetadataStore
    ) -> None:
        v1, v2 = _versions(store, 2)
        store.set_alias("champion", v1.id, actor="ana")
        store.set_alias("challenger", v2.id, actor="ana")
        moved = store.move_aliases(
            "model",
            "churn",
            {"challenger": None, "champion": v1.id, "staging": None},
            expected={"challenger": v2.id, "champion": v1.id, "staging": None},
            actor="bob",
            reason="challenger lost",
        )
        assert [(a.alias, a.artifact_id) for a in moved] == [("champion", v1.id)]
        assert _targets(store) == {"champion": v1.id}
        assert [
            (e.alias, e.action, e.from_artifact_id, e.actor)
            for e in store.alias_history("model", "churn")
        ] == [
            ("challenger", "deleted", v2.id, "bob"),
            ("challenger", "set", None, "ana"),
            ("champion", "set", None, "ana"),
        ]

    def test_a_stale_expectation_moves_nothing_and_raises_conflict(
        self, store: MetadataStore
    ) -> None:
        v1, v2, v3 = _versions(store, 3)
        store.set_alias("champion", v1.id)
        store.set_alias("previous", v2.id)
        before = store.alias_history("model", "churn")
        stale: list[tuple[dict[str, str | None], str]] = [
            ({"champion": v2.id, "previous": v2.id}, "champion"),  # it is elsewhere
            ({"champion": v1.id, "previous": None}, "previous"),  # it is there
            ({"champion": v1.id, "previous": v2.id, "challenger": v3.id}, "challenger"),
            ({"champion": None, "previous": v2.id}, "champion"),  # must be absent, is there
        ]
        for expected, named in stale:
            with pytest.raises(Conflict, match=named) as lost:
                store.move_aliases(
                    "model",
                    "churn",
                    {"previous": v1.id, "champion": v3.id},
                    expected=expected,
                )
            assert "churn" in str(lost.value)
        assert _targets(store) == {"champion": v1.id, "previous": v2.id}
        assert store.alias_history("model", "churn") == before
        with pytest.raises(Conflict, match="challenger"):
            store.move_aliases(
                "model", "churn", {"challenger": None}, expected={"challenger": v3.id}
            )
        assert _targets(store) == {"champion": v1.id, "previous": v2.id}

    def test_bad_moves_are_refused_before_anything_moves(self, store: MetadataStore) -> None:
        v1, v2 = _versions(store, 2)
        [other] = _versions(store, 1, name="other")
        store.set_alias("champion", v1.id)
        before = store.alias_history("model", "churn")

        def move(moves: dict[str, str | None], expected: dict[str, str | None]) -> list[Alias]:
            return store.move_aliases("model", "churn", moves, expected=expected)

        with pytest.raises(InvalidInput, match=r"'previous'.*expected"):
            move({"champion": v2.id, "previous": v1.id}, {"champion": v1.id})
        with pytest.raises(InvalidInput, match="at least one alias"):
            move({}, {})
        with pytest.raises(InvalidInput, match="latest"):
            move({"latest": v2.id}, {"latest": None})
        with pytest.raises(InvalidInput, match=r"'other'"):
            move({"champion": other.id}, {"champion": v1.id})
        with pytest.raises(NotFound, match="missing"):
            move({"champion": "missing"}, {"champion": v1.id})
        not_text: Any = 7
        with pytest.raises(InvalidInput, match="reason"):
            store.move_aliases(
                "model", "churn", {"champion": v2.id}, expected={"champion": v1.id}, reason=not_text
            )
        assert _targets(store) == {"champion": v1.id}
        assert store.alias_history("model", "churn") == before

    def test_concurrent_read_decide_and_move_callers_keep_both_chains(
        self, store: MetadataStore
    ) -> None:
        """Threads each read champion and previous, then make another version the
        champion and the one it replaces previous, retrying when they lose: the two
        histories are unbroken chains and previous is always the champion before."""
        versions = [v.id for v in _versions(store, 5)]
        errors: list[BaseException] = []
        promotions: list[int] = []

        def promote(seed: int) -> None:
            rng = random.Random(seed)
            done = 0
            try:
                for _ in range(10):
                    chosen = rng.choice(versions)
                    for _attempt in range(200):
                        read = _targets(store)
                        current = read.get("champion")
                        if current == chosen:
                            break
                        moves: dict[str, str | None] = {"champion": chosen}
                        if current is not None:
                            moves = {"previous": current, "champion": chosen}
                        expected = {"champion": current, "previous": read.get("previous")}
                        try:
                            store.move_aliases("model", "churn", moves, expected=expected)
                        except Conflict:
                            continue
                        done += 1
                        break
                    else:  # pragma: no cover - reported below
                        raise AssertionError("a caller lost 200 times in a row")
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
            promotions.append(done)

        threads = [threading.Thread(target=promote, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        champions = store.alias_history("model", "churn", "champion")
        previous = store.alias_history("model", "churn", "previous")
        assert len(champions) == sum(promotions)
        _chain_holds(champions)
        _chain_holds(previous)
        # every promotion but the first moved previous onto the champion it replaced
        oldest_first = store.alias_history("model", "churn")[::-1]
        for event in oldest_first:
            if event.alias == "champion" and event.from_artifact_id is not None:
                index = oldest_first.index(event)
                assert oldest_first[index - 1].alias == "previous"
                assert oldest_first[index - 1].to_artifact_id == event.from_artifact_id
        final = _targets(store)
        assert final["champion"] == champions[0].to_artifact_id
        assert final["previous"] == previous[0].to_artifact_id
