"""The review item rules of the metadata store contract, as tests: predicted rows queued
once per queue, handed out by claims that never give an item to more reviewers than
it wants labels (however many claim at once, in threads or processes), labelled once
per reviewer, and committed as a dataset version in one transaction, once.

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store`` and
``shared_store_url`` fixtures.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.store import (
    Direction,
    MetadataStore,
    NewReviewItem,
    ReviewItem,
    ReviewStatus,
    open_store,
)
from loopml.testing.processes import processes

__all__ = ["ReviewContract"]

DIGEST = "ab" * 32
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _item(n: int, *, queue: str = "churn", row: int = 0, **fields: Any) -> NewReviewItem:
    values: dict[str, Any] = {
        "queue": queue,
        "prediction_id": f"p{n}",
        "row": row,
        "deployment": "churn",
        "ref": "churn@v3",
        "guess": n % 2,
        "reasons": ("low-confidence",),
        "confidence": 0.5 + n / 1000,
        "inputs": {"x": float(n), "plan": "basic"},
        "evidence": {"threshold": 0.6},
        "dataset": "churn",
    }
    return NewReviewItem(**{**values, **fields})


def _claim_all(url: str, reviewer: str, barrier: Any, results: Any) -> None:
    """A child process: claim and label items of ``churn`` until none is left."""
    store = open_store(url)
    barrier.wait()
    got = []
    while (found := store.claim_review_item("churn", reviewer, now=T0)) is not None:
        got.append(found.id)
        store.label_review_item(found.id, reviewer, 1)
    results.put((reviewer, got))
    store.close()


class ReviewContract:
    """The rules of ``add_review_items``, ``find_review_items``, ``claim_review_item``,
    ``label_review_item`` and ``commit_review_items``."""

    # -- queueing --------------------------------------------------------------------

    def test_items_come_back_as_they_were_queued(self, store: MetadataStore) -> None:
        odd = _item(
            1,
            guess={"class": "späm ✓", "scores": [0.25, None]},
            confidence=None,
            inputs={"text": "ünïcode ✓", "n": 2**62, "nested": {"a": [1, 2.5, True]}},
            evidence={"shadow": "churn@v4", "shadow_guess": 0},
            reasons=("disagreement", "audit"),
            dataset=None,
            labels_wanted=3,
            row=7,
        )
        plain = _item(2, guess=None)
        whole = _item(3, guess=151.0)  # a number that is whole: a float still
        added = store.add_review_items([odd, plain, whole])
        assert [a.prediction_id for a in added] == ["p1", "p2", "p3"]
        first = added[0]
        assert (first.queue, first.row, first.deployment, first.ref) == (
            "churn",
            7,
            "churn",
            "churn@v3",
        )
        assert first.guess == {"class": "späm ✓", "scores": [0.25, None]}
        assert first.confidence is None
        assert first.inputs == {"text": "ünïcode ✓", "n": 2**62, "nested": {"a": [1, 2.5, True]}}
        assert first.evidence == {"shadow": "churn@v4", "shadow_guess": 0}
        assert first.reasons == ("disagreement", "audit")
        assert (first.dataset, first.labels_wanted) == (None, 3)
        assert (first.labels, first.claims, first.committed_to) == ((), (), None)
        assert first.status is ReviewStatus.OPEN
        assert first.created_at.tzinfo is UTC
        assert added[1].guess is None
        assert added[1].confidence == pytest.approx(0.502)
        assert store.get_review_item(first.id) == first
        assert store.find_review_items("churn") == added
        assert type(store.get_review_item(added[2].id).guess) is float

    def test_a_queue_holds_a_predicted_row_once(self, store: MetadataStore) -> None:
        [first] = store.add_review_items([_item(1)])
        store.label_review_item(first.id, "ann", 1)
        counter = store.change_counter()
        again = store.add_review_items([_item(1, guess=0, reasons=("audit",)), _item(1, row=1)])
        assert [(a.prediction_id, a.row) for a in again] == [("p1", 1)]  # row 0 is queued
        kept = store.get_review_item(first.id)
        assert (kept.guess, kept.reasons, len(kept.labels)) == (1, ("low-confidence",), 1)
        assert store.add_review_items([_item(1)]) == []
        assert store.add_review_items([]) == []
        elsewhere = store.add_review_items([_item(1, queue="churn-audit")])
        assert [e.queue for e in elsewhere] == ["churn-audit"]
        assert store.change_counter() > counter
        assert len(store.find_review_items()) == 3

    def test_bad_items_are_refused_before_anything_is_written(self, store: MetadataStore) -> None:
        not_an_item: Any = {"queue": "churn"}
        cases: list[tuple[Any, str]] = [
            (_item(9, queue="../up"), "queue"),
            (_item(9, prediction_id=""), "prediction id"),
            (_item(9, row=-1), "row"),
            (_item(9, row=2**63), "row"),
            (_item(9, deployment="a b"), "deployment"),
            (_item(9, ref="x" * 256), "model version"),
            (_item(9, guess=float("nan")), "guess"),
            (_item(9, guess={1: "a"}), "guess"),
            (_item(9, confidence=float("inf")), "confidence"),
            (_item(9, confidence="high"), "confidence"),
            (_item(9, reasons=()), "reasons"),
            (_item(9, reasons="audit"), "reasons"),
            (_item(9, reasons=("audit", "audit")), "reasons"),
            (_item(9, reasons=("x" * 65,)), "reason"),
            (_item(9, inputs={"x": object()}), "inputs"),
            (_item(9, inputs={"t": "nul\x00"}), "inputs"),
            (_item(9, evidence=[1]), "evidence"),
            (_item(9, dataset="no such/../name"), "dataset"),
            (_item(9, labels_wanted=0), "labels_wanted"),
            (_item(9, labels_wanted=True), "labels_wanted"),
            (not_an_item, "NewReviewItem"),
        ]
        counter = store.change_counter()
        for bad, named in cases:
            with pytest.raises(InvalidInput, match=named):
                store.add_review_items([_item(1), bad])  # a good item with it: refused too
        with pytest.raises(InvalidInput, match="twice"):
            store.add_review_items([_item(1), _item(1, guess=0)])
        with pytest.raises(InvalidInput, match="list"):
            store.add_review_items(_item(1))  # type: ignore[arg-type]
        assert store.find_review_items() == []
        assert store.change_counter() == counter

    def test_items_are_found_by_each_filter_and_read_a_page_at_a_time(
        self, store: MetadataStore
    ) -> None:
        added = store.add_review_items([_item(n) for n in range(7)])
        store.add_review_items([_item(0, queue="other")])
        store.label_review_item(added[2].id, "ann", 0)
        store.label_review_item(added[4].id, "ann", 0)
        version, _ = store.commit_review_items([added[4].id], name="churn", digest=DIGEST, size=1)
        ids = [a.id for a in added]
        assert [i.id for i in store.find_review_items("churn")] == ids
        assert [i.id for i in store.find_review_items("churn", status="open")] == [
            ids[n] for n in (0, 1, 3, 5, 6)
        ]
        assert [i.id for i in store.find_review_items(status=ReviewStatus.LABELLED)] == [ids[2]]
        assert [i.id for i in store.find_review_items(committed_to=version.id)] == [ids[4]]
        assert [i.id for i in store.find_review_items(status="committed")] == [ids[4]]
        assert [i.queue for i in store.find_review_items(prediction_id="p0")] == [
            "churn",
            "other",
        ]
        assert [i.id for i in store.find_review_items(id_suffix=ids[3][-12:])] == [ids[3]]
        assert [i.id for i in store.find_review_items(id_suffix=ids[3].upper())] == [ids[3]]
        assert store.find_review_items(id_suffix="zzzzzzzz") == []
        pages, after = [], None
        while page := store.find_review_items("churn", limit=3, after=after):
            pages.append([i.id for i in page])
            after = page[-1].id
        assert pages == [ids[:3], ids[3:6], ids[6:]]
        assert store.find_review_items("nobody") == []
        with pytest.raises(NotFound, match="'gone'"):
            store.find_review_items(after="gone")
        with pytest.raises(InvalidInput, match="status 'done'"):
            store.find_review_items(status="done")
        with pytest.raises(InvalidInput, match="12 characters"):
            store.find_review_items(id_suffix="ab")
        with pytest.raises(InvalidInput, match="out of range"):
            store.find_review_items(limit=-1)
        with pytest.raises(NotFound, match="'gone'"):
            store.get_review_item("gone")

    # -- claims ----------------------------------------------------------------------

    def test_claims_hand_out_items_in_queue_order_one_reviewer_each(
        self, store: MetadataStore
    ) -> None:
        first, second = store.add_review_items([_item(1), _item(2)])
        ann = store.claim_review_item("churn", "ann", now=T0)
        assert ann is not None
        assert ann.id == first.id
        assert [(c.reviewer, c.expires_at) for c in ann.claims] == [
            ("ann", T0 + timedelta(seconds=1800))
        ]
        bob = store.claim_review_item("churn", "bob", now=T0, lease_seconds=60)
        assert bob is not None
        assert bob.id == second.id
        assert store.claim_review_item("churn", "cy", now=T0) is None  # both are held
        # asking again gives the item held, its lease renewed
        again = store.claim_review_item("churn", "ann", now=T0 + timedelta(seconds=10))
        assert again is not None
        assert again.id == first.id
        assert [c.expires_at for c in again.claims] == [T0 + timedelta(seconds=1810)]
        # bob's lease ends: his item goes to the next reviewer who asks
        later = T0 + timedelta(seconds=61)
        cy = store.claim_review_item("churn", "cy", now=later)
        assert cy is not None
        assert cy.id == second.id
        assert [c.reviewer for c in cy.claims] == ["cy"]
        assert store.claim_review_item("churn", "nobody-else", now=later) is None
        assert store.claim_review_item("other-queue", "ann", now=T0) is None

    def test_labelled_items_are_not_handed_out_again(self, store: MetadataStore) -> None:
        first, second = store.add_review_items([_item(1), _item(2)])
        store.label_review_item(first.id, "ann", 1)  # labelled without a claim
        bob = store.claim_review_item("churn", "bob", now=T0)
        assert bob is not None
        assert bob.id == second.id
        labelled = store.label_review_item(bob.id, "bob", 0)
        assert labelled.claims == ()  # the label ended the claim
        assert store.claim_review_item("churn", "bob", now=T0) is None
        assert store.claim_review_item("churn", "cy", now=T0) is None

    def test_an_item_wanting_n_labels_goes_to_n_reviewers(self, store: MetadataStore) -> None:
        many, next_one = store.add_review_items([_item(1, labels_wanted=3), _item(2)])
        given = {
            who: store.claim_review_item("churn", who, now=T0)
            for who in ("ann", "bob", "cy", "dee")
        }
        assert {who: found.id for who, found in given.items() if found} == {
            "ann": many.id,
            "bob": many.id,
            "cy": many.id,
            "dee": next_one.id,
        }
        held = store.get_review_item(many.id)
        assert sorted(c.reviewer for c in held.claims) == ["ann", "bob", "cy"]
        store.label_review_item(many.id, "ann", 1)
        store.label_review_item(many.id, "bob", 0)
        # ann labelled it: she is not given it again, and it still waits on cy
        assert store.claim_review_item("churn", "ann", now=T0) is None
        store.label_review_item(many.id, "cy", 1)
        done = store.get_review_item(many.id)
        assert done.status is ReviewStatus.LABELLED
        assert [(lab.reviewer, lab.label) for lab in done.labels] == [
            ("ann", 1),
            ("bob", 0),
            ("cy", 1),
        ]

    def test_bad_claims_are_refused(self, store: MetadataStore) -> None:
        store.add_review_items([_item(1)])
        counter = store.change_counter()
        for lease in (0, -1, float("nan"), 8 * 24 * 3600, True, "1h"):
            with pytest.raises(InvalidInput, match="lease_seconds"):
                store.claim_review_item("churn", "ann", lease_seconds=lease)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="reviewer"):
            store.claim_review_item("churn", "")
        with pytest.raises(InvalidInput, match="queue"):
            store.claim_review_item("../x", "ann")
        with pytest.raises(InvalidInput, match="now"):
            store.claim_review_item("churn", "ann", now="2030-01-01")  # type: ignore[arg-type]
        assert store.change_counter() == counter
        assert store.find_review_items()[0].claims == ()

    def test_threads_claiming_at_once_never_share_an_item(self, store: MetadataStore) -> None:
        store.add_review_items([_item(n) for n in range(24)])
        store.add_review_items([_item(n, queue="pairs", labels_wanted=2) for n in range(10)])
        errors: list[BaseException] = []
        got: dict[str, list[str]] = {}

        def claim(reviewer: str, queue: str) -> None:
            try:
                mine = got.setdefault(f"{queue}/{reviewer}", [])
                while (found := store.claim_review_item(queue, reviewer, now=T0)) is not None:
                    mine.append(found.id)
                    store.label_review_item(found.id, reviewer, 1)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [
            threading.Thread(target=claim, args=(f"r{n}", queue))
            for n in range(6)
            for queue in ("churn", "pairs")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        singles = Counter(i for key, ids in got.items() if key.startswith("churn/") for i in ids)
        assert len(singles) == 24
        assert set(singles.values()) == {1}
        pairs = Counter(i for key, ids in got.items() if key.startswith("pairs/") for i in ids)
        assert len(pairs) == 10
        assert set(pairs.values()) == {2}
        for key, ids in got.items():
            assert len(ids) == len(set(ids)), key  # never twice to one reviewer
        assert {i.status for i in store.find_review_items()} == {ReviewStatus.LABELLED}

    def test_processes_claiming_at_once_never_share_an_item(self, shared_store_url: str) -> None:
        with open_store(shared_store_url, create=True) as store:
            added = store.add_review_items([_item(n) for n in range(40)])
        context = processes()
        barrier = context.Barrier(4)
        results = context.Queue()
        children = [
            context.Process(target=_claim_all, args=(shared_store_url, f"r{n}", barrier, results))
            for n in range(4)
        ]
        for child in children:
            child.start()
        got = dict(results.get(timeout=180) for _ in children)
        for child in children:
            child.join(timeout=60)
        assert [child.exitcode for child in children] == [0, 0, 0, 0]
        claimed = [i for ids in got.values() for i in ids]
        assert sorted(claimed) == sorted(a.id for a in added)  # each once, none lost

    # -- labels ----------------------------------------------------------------------

    def test_a_reviewer_labels_an_item_once_unless_replacing(self, store: MetadataStore) -> None:
        [one] = store.add_review_items([_item(1, labels_wanted=2)])
        store.label_review_item(one.id, "ann", "spam", note="the link")
        store.label_review_item(one.id, "bob", "ham")
        counter = store.change_counter()
        with pytest.raises(AlreadyExists, match="replace"):
            store.label_review_item(one.id, "ann", "ham")
        assert store.change_counter() == counter
        replaced = store.label_review_item(one.id, "ann", "ham", replace=True)
        assert [(lab.reviewer, lab.label, lab.note) for lab in replaced.labels] == [
            ("ann", "ham", None),  # replaced in its place, note and all
            ("bob", "ham", None),
        ]
        assert replaced.status is ReviewStatus.LABELLED
        assert store.change_counter() > counter

    def test_labels_of_any_json_value_come_back(self, store: MetadataStore) -> None:
        added = store.add_review_items([_item(n) for n in range(5)])
        values: list[Any] = [0, 2.0, "späm ✓", ["a", "b"], {"box": [1, 2, 3, 4]}]
        for each, value in zip(added, values, strict=True):
            store.label_review_item(each.id, "ann", value)
        read = [i.labels[0].label for i in store.find_review_items()]
        assert read == values
        assert [type(value) for value in read] == [type(value) for value in values]  # 2.0 too

    def test_bad_labels_are_refused(self, store: MetadataStore) -> None:
        [one] = store.add_review_items([_item(1)])
        counter = store.change_counter()
        with pytest.raises(NotFound, match="'gone'"):
            store.label_review_item("gone", "ann", 1)
        with pytest.raises(InvalidInput, match="None"):
            store.label_review_item(one.id, "ann", None)
        with pytest.raises(InvalidInput, match="label"):
            store.label_review_item(one.id, "ann", float("nan"))
        with pytest.raises(InvalidInput, match="reviewer"):
            store.label_review_item(one.id, "x" * 256, 1)
        with pytest.raises(InvalidInput, match="note"):
            store.label_review_item(one.id, "ann", 1, note="n" * 5000)
        assert store.change_counter() == counter
        assert store.get_review_item(one.id).labels == ()

    # -- commits ---------------------------------------------------------------------

    def test_a_commit_records_the_version_and_marks_its_items_at_once(
        self, store: MetadataStore
    ) -> None:
        store.create_artifact(kind="dataset", name="churn", digest=DIGEST, size=1)
        added = store.add_review_items([_item(n) for n in range(3)])
        for each in added:
            store.label_review_item(each.id, "ann", 1)
        run = store.create_run(kind="review", name="commit churn")
        order = [added[2].id, added[0].id]
        version, committed = store.commit_review_items(
            order,
            name="churn",
            digest=DIGEST,
            size=10,
            metadata={"rows": 2},
            run_id=run.id,
            role="dataset",
        )
        assert (version.kind, version.ref, version.metadata) == ("dataset", "churn@v2", {"rows": 2})
        assert [c.id for c in committed] == order
        assert {c.committed_to for c in committed} == {version.id}
        assert {c.status for c in committed} == {ReviewStatus.COMMITTED}
        [event] = store.events(run_id=run.id)
        assert (event.artifact_id, event.direction, event.role) == (
            version.id,
            Direction.OUTPUT,
            "dataset",
        )
        with pytest.raises(InvalidInput, match="committed"):
            store.label_review_item(added[0].id, "bob", 0)
        assert store.claim_review_item("churn", "bob", now=T0) is None  # nothing open

    def test_a_commit_that_cannot_be_made_writes_nothing(self, store: MetadataStore) -> None:
        added = store.add_review_items([_item(n, labels_wanted=2) for n in range(3)])
        for each in added[:2]:
            store.label_review_item(each.id, "ann", 1)
            store.label_review_item(each.id, "bob", 1)
        store.label_review_item(added[2].id, "ann", 1)
        store.commit_review_items([added[0].id], name="churn", digest=DIGEST, size=1)
        counter = store.change_counter()

        def commit(ids: list[str], **given: Any) -> Any:
            fields: dict[str, Any] = {"name": "churn", "digest": DIGEST, "size": 1}
            return store.commit_review_items(ids, **{**fields, **given})

        with pytest.raises(Conflict, match="committed already"):
            commit([added[1].id, added[0].id])
        with pytest.raises(InvalidInput, match="1 of the 2 labels"):
            commit([added[1].id, added[2].id])
        with pytest.raises(NotFound, match="'gone'"):
            commit([added[1].id, "gone"])
        with pytest.raises(NotFound, match="no run"):
            commit([added[1].id], run_id="gone")
        with pytest.raises(InvalidInput, match="more than once"):
            commit([added[1].id, added[1].id])
        with pytest.raises(InvalidInput, match="non-empty"):
            commit([])
        with pytest.raises(InvalidInput, match="artifact name"):
            commit([added[1].id], name="")
        assert store.change_counter() == counter
        assert [a.ref for a in store.find_artifacts()] == ["churn@v1"]
        assert store.get_review_item(added[1].id).status is ReviewStatus.LABELLED

    def test_commits_at_once_commit_an_item_once(self, store: MetadataStore) -> None:
        added = store.add_review_items([_item(n) for n in range(4)])
        for each in added:
            store.label_review_item(each.id, "ann", 1)
        ids = [a.id for a in added]
        outcomes: list[Any] = []

        def commit() -> None:
            try:
                version, _ = store.commit_review_items(ids, name="c", digest=DIGEST, size=1)
                outcomes.append(version.ref)
            except Conflict as lost:
                outcomes.append(lost)

        threads = [threading.Thread(target=commit) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert [o for o in outcomes if isinstance(o, str)] == ["c@v1"]
        assert sum(isinstance(o, Conflict) for o in outcomes) == 5
        assert [a.ref for a in store.find_artifacts(name="c")] == ["c@v1"]

    # -- the rest of the contract ----------------------------------------------------

    def test_every_review_write_moves_the_change_counter(self, store: MetadataStore) -> None:
        seen = [store.change_counter()]

        def moves(what: str, write: Callable[[], Any]) -> Any:
            result = write()
            assert store.change_counter() > seen[-1], f"{what} did not move the counter"
            seen.append(store.change_counter())
            return result

        [one] = moves("add_review_items", lambda: store.add_review_items([_item(1)]))
        moves("claim_review_item", lambda: store.claim_review_item("churn", "ann", now=T0))
        moves("renewing a claim", lambda: store.claim_review_item("churn", "ann", now=T0))
        moves("label_review_item", lambda: store.label_review_item(one.id, "ann", 1))
        moves(
            "commit_review_items",
            lambda: store.commit_review_items([one.id], name="c", digest=DIGEST, size=1),
        )
        before = store.change_counter()
        store.find_review_items()
        store.get_review_item(one.id)
        assert store.claim_review_item("churn", "bob", now=T0) is None  # nothing to claim
        assert store.change_counter() == before

    def test_review_records_are_frozen_snapshots(self, store: MetadataStore) -> None:
        [one] = store.add_review_items([_item(1, inputs={"tags": ["a"]})])
        with pytest.raises(dataclasses.FrozenInstanceError):
            one.guess = 0  # type: ignore[misc]
        one.inputs["tags"].append("b")
        one.evidence["threshold"] = 0.9
        labelled: ReviewItem = store.label_review_item(one.id, "ann", ["x"])
        labelled.labels[0].label.append("y")
        read = store.get_review_item(one.id)
        assert (read.inputs, read.evidence, read.labels[0].label) == (
            {"tags": ["a"]},
            {"threshold": 0.6},
            ["x"],
        )
        assert one.labels == ()  # the record read before the label does not change
