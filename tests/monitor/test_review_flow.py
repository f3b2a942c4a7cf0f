"""Working through a review queue on a real workspace: items handed out with the
dataset's guidelines, labels read as the model's guesses are typed and written to the
feedback log once agreed (where the join and the live metrics see them), files
exported and imported whole or not at all, and a commit that makes a dataset version
of exactly the reviewed rows, whose lineage leads back to the predictions."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sklearn.dummy import DummyClassifier
from tests.monitor.reviewing import answers, breast_cancer, keys, planted, train

import loopml
from loopml import registry
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.monitor import (
    commit_review,
    export_review,
    import_review,
    label_review,
    labelled,
    live_metrics,
    next_review,
    queue_for_review,
    review_items,
)
from loopml.serve import feedback_records
from loopml.serve._segments import PREDICTIONS, find_segments, read_segment
from loopml.store import Direction, ReviewStatus

GUIDE = "# Breast cancer\n\nLabel 1 (benign) when the cells are regular; 0 otherwise.\n"


@pytest.fixture(scope="module")
def served_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int]]]:
    """A workspace where bc@v1 (trained on bc-train, whose guidelines are GUIDE)
    answered 120 rows of breast_cancer in 30 requests, 20 of its rows queued for
    review; and the keys of its answers. Made once for the module."""
    root = tmp_path_factory.mktemp("review-template") / "ws"
    root.mkdir()
    with loopml.init(root) as ws:
        train(ws)
        loopml.data.set_guidelines("bc-train", text=GUIDE, workspace=ws)
        X, _ = breast_cancer()
        records = answers(ws, "bc@v1", X.iloc[:120])
        queue_for_review("bc", audit=20, seed=0, workspace=ws)
    return root, keys(records)


@pytest.fixture
def ws(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[loopml.Workspace]:
    """A new workspace; for a test that asks for ``served`` too, a fresh copy of the
    workspace ``served_template`` made."""
    root = tmp_path / "ws"
    if "served" in request.fixturenames:
        template, _ = request.getfixturevalue("served_template")
        shutil.copytree(template, root, symlinks=True)
        with loopml.workspace(root) as workspace:
            yield workspace
        return
    root.mkdir()
    with loopml.init(root) as workspace:
        yield workspace


@pytest.fixture
def served(
    ws: loopml.Workspace, served_template: tuple[Path, list[tuple[str, int]]]
) -> list[tuple[str, int]]:
    """``ws`` holds bc@v1's 120 answers, 20 queued for review (see served_template);
    the keys of its answers."""
    return served_template[1]


def test_next_hands_out_items_with_the_guidelines_and_holds_them(
    ws: loopml.Workspace, served: list[tuple[str, int]]
) -> None:
    ann = next_review("bc", reviewer="ann", workspace=ws)
    assert ann is not None
    assert ann.guidelines is not None
    assert (ann.guidelines.dataset, ann.guidelines.version, ann.guidelines.text) == (
        "bc-train",
        1,
        GUIDE,
    )
    assert ann.to_dict()["guidelines"]["text"] == GUIDE
    again = next_review("bc", reviewer="ann", workspace=ws)
    assert again is not None
    assert again.item.id == ann.item.id
    bob = next_review("bc", reviewer="bob", workspace=ws)
    assert bob is not None
    assert bob.item.id != ann.item.id
    first = review_items("bc", workspace=ws)[0]
    assert first.id == ann.item.id  # the queue's order
    loopml.data.set_guidelines("bc-train", text=GUIDE + "\nA new rule.\n", workspace=ws)
    newer = next_review("bc", reviewer="ann", workspace=ws)
    assert newer is not None
    assert newer.guidelines is not None
    assert newer.guidelines.version == 2  # the guidelines in force when asked


def test_a_label_becomes_feedback_that_the_join_and_the_metrics_see(
    ws: loopml.Workspace, served: list[tuple[str, int]]
) -> None:
    items = review_items("bc", workspace=ws)
    truth = dict(zip(served, breast_cancer()[1].iloc[:120].tolist(), strict=True))
    for item in items[:5]:
        label_review(item.id[-12:], str(truth[(item.prediction_id, item.row)]), reviewer="ann",
                     workspace=ws)  # fmt: skip
    done = review_items("bc", status="labelled", workspace=ws)
    assert [d.id for d in done] == [i.id for i in items[:5]]
    assert all(isinstance(d.labels[0].label, int) for d in done)  # "1" read as the class 1
    rows = labelled("bc", workspace=ws).rows
    got = {
        (pid, row): label
        for pid, row, label in rows.select("prediction_id", "row", "label").iter_rows()
        if label is not None
    }
    assert got == {(i.prediction_id, i.row): truth[(i.prediction_id, i.row)] for i in items[:5]}
    metrics = live_metrics(rows, every="1d")
    assert metrics["labelled"].sum() == 5
    told = feedback_records("bc", workspace=ws)
    assert told.height == 5
    assert told["reward"].is_null().all()  # a label, not a bandit's reward


def test_feedback_waits_for_the_labels_an_item_wants_and_their_consensus(
    ws: loopml.Workspace,
) -> None:
    records = planted(ws, [0.55, 0.56])
    queue_for_review("bc", below=0.6, labels_wanted=2, workspace=ws)
    tied, agreed = review_items("bc", workspace=ws)
    label_review(tied.id, 1, reviewer="ann", workspace=ws)
    assert feedback_records("bc", workspace=ws).height == 0  # one of the two
    label_review(tied.id, 0, reviewer="bob", workspace=ws)
    assert feedback_records("bc", workspace=ws).height == 0  # a tie: no consensus
    label_review(agreed.id, 0, reviewer="ann", workspace=ws)
    label_review(agreed.id, 0, reviewer="bob", workspace=ws)
    label_review(tied.id, 0, reviewer="cy", workspace=ws)  # a third label settles it
    told = feedback_records("bc", workspace=ws).sort("prediction_id")
    assert told.select("prediction_id", "label").rows() == sorted(
        (r.prediction_id, "0") for r in records
    )


def test_labels_are_checked_against_the_guess_and_the_item(
    ws: loopml.Workspace, served: list[tuple[str, int]]
) -> None:
    item = review_items("bc", workspace=ws)[0]
    with pytest.raises(InvalidInput, match="'spam' is not a whole number"):
        label_review(item.id, "spam", reviewer="ann", workspace=ws)
    with pytest.raises(NotFound, match="no review item has an id ending in 'ffffffffffff'"):
        label_review("ffffffffffff", 1, reviewer="ann", workspace=ws)
    with pytest.raises(InvalidInput, match="12 characters"):
        label_review("ab", 1, reviewer="ann", workspace=ws)
    label_review(item.id, "1.0", reviewer="ann", workspace=ws)
    with pytest.raises(AlreadyExists, match="--replace"):
        label_review(item.id, 0, reviewer="ann", workspace=ws)
    changed = label_review(item.id, 0, reviewer="ann", replace=True, workspace=ws)
    assert [label.label for label in changed.labels] == [0]


def test_commit_makes_a_version_of_exactly_the_reviewed_rows_with_lineage(
    ws: loopml.Workspace, served: list[tuple[str, int]]
) -> None:
    X, y = breast_cancer()
    truth = dict(zip(served, y.iloc[:120].tolist(), strict=True))
    items = review_items("bc", workspace=ws)
    reviewed = items[:12]
    for item in reviewed:
        label_review(item.id, truth[(item.prediction_id, item.row)], reviewer="ann",
                     workspace=ws)  # fmt: skip
    done = commit_review("bc", workspace=ws)
    assert done.version.ref == "bc-train@v2"
    assert [i.id for i in done.items] == [i.id for i in reviewed]
    rows = done.version.to_polars()
    expected = pl.DataFrame(
        [
            {
                **X.iloc[served.index((i.prediction_id, i.row))].to_dict(),
                "target": truth[(i.prediction_id, i.row)],
            }
            for i in reviewed
        ]
    ).select(rows.columns)
    assert rows.equals(expected)  # the reviewed rows, in queue order, nothing else
    assert done.version.metadata["label"] == "target"
    assert done.version.metadata["review"]["items"] == 12
    # each row's prediction, from the store
    marked = ws.store.find_review_items(committed_to=done.version.artifact.id)
    assert [(m.prediction_id, m.row) for m in marked] == [
        (i.prediction_id, i.row) for i in reviewed
    ]
    assert all(m.status is ReviewStatus.COMMITTED for m in marked)
    # the run that made it read the prediction log's segments holding those predictions
    run = ws.store.get_run(done.run_id)
    assert (run.kind, run.status.value) == ("review", "succeeded")
    events = ws.store.events(run_id=run.id)
    read = [e.artifact_id for e in events if e.direction is Direction.INPUT]
    assert {e.role for e in events if e.direction is Direction.INPUT} == {"predictions"}
    segments = {s.id: s for s in find_segments(ws, PREDICTIONS, "bc")}
    held = set()
    for artifact_id in read:
        held |= set(read_segment(ws, segments[artifact_id])["prediction_id"].to_list())
    assert {i.prediction_id for i in reviewed} <= held
    [made] = [e for e in events if e.direction is Direction.OUTPUT]
    assert (made.artifact_id, made.role) == (done.version.artifact.id, "dataset")
    # a model trained on the new version leads back through it to the predictions
    with loopml.start_run("retrain", workspace=ws):
        loopml.data.get("bc-train@v2", workspace=ws)
        model = registry.register(
            DummyClassifier().fit(X.iloc[:12], y.iloc[:12]),
            "bc",
            signature_from=X,
            workspace=ws,
        )
    walked = registry.lineage(model.ref, workspace=ws)
    review_run = next(r for r in walked.runs() if r.kind == "review")
    assert {read.kind for read in review_run.inputs} == {"predictions"}
    # nothing is committed twice
    with pytest.raises(InvalidInput, match="no labelled item to commit"):
        commit_review("bc", workspace=ws)


def test_commit_appends_to_the_latest_version_when_asked(
    ws: loopml.Workspace, served: list[tuple[str, int]]
) -> None:
    for item in review_items("bc", workspace=ws)[:3]:
        label_review(item.id, 1, reviewer="ann", workspace=ws)
    done = commit_review("bc", append=True, workspace=ws)
    base = loopml.data.get("bc-train@v1", workspace=ws).to_polars()
    rows = done.version.to_polars()
    assert rows.height == base.height + 3
    assert rows.head(base.height).equals(base)
    assert rows["target"].tail(3).to_list() == [1, 1, 1]
    assert done.base == "bc-train@v1"
    roles = {e.role for e in ws.store.events(run_id=done.run_id)}
    assert roles == {"predictions", "base", "dataset"}


def test_commit_leaves_ties_out_and_asks_for_a_dataset_it_cannot_tell(
    ws: loopml.Workspace,
) -> None:
    planted(ws, [0.55, 0.56, 0.57])
    queue_for_review("bc", below=0.6, labels_wanted=2, workspace=ws)
    first, second, third = review_items("bc", workspace=ws)
    for item, labels in ((first, (1, 1)), (second, (1, 0)), (third, (0, 0))):
        label_review(item.id, labels[0], reviewer="ann", workspace=ws)
        label_review(item.id, labels[1], reviewer="bob", workspace=ws)
    with pytest.raises(InvalidInput, match="dataset="):
        commit_review("bc", workspace=ws)  # these items' model has no lineage
    done = commit_review("bc", dataset="bc-reviewed", workspace=ws)
    assert (done.version.ref, done.tied, [i.id for i in done.items]) == (
        "bc-reviewed@v1",
        1,
        [first.id, third.id],
    )
    assert done.version.to_polars().rows() == [(0.0, 1), (2.0, 0)]
    assert done.version.metadata["label"] == "label"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_export_and_import_round_trip(
    ws: loopml.Workspace, served: list[tuple[str, int]], tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"to-label{suffix}"
    exported = export_review("bc", path, workspace=ws)
    assert (exported.items, exported.written) == (20, True)
    frame = {
        ".csv": lambda: pl.read_csv(path),
        ".parquet": lambda: pl.read_parquet(path),
        ".jsonl": lambda: pl.read_ndjson(path),
    }[suffix]()
    assert frame.height == 20
    assert {"item_id", "guess", "confidence", "label", "reviewer", "note"} <= set(frame.columns)
    assert "input.mean radius" in frame.columns
    filled = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 15).then(pl.col("guess").cast(pl.String)).alias("label"),
        pl.lit("ann").alias("reviewer"),
    )
    write = {".csv": filled.write_csv, ".parquet": filled.write_parquet,
             ".jsonl": filled.write_ndjson}[suffix]  # fmt: skip
    write(path)
    done = import_review(path, workspace=ws)
    assert (len(done.labelled), done.skipped, done.feedback) == (15, 5, 15)
    assert len(review_items("bc", status="labelled", workspace=ws)) == 15
    assert feedback_records("bc", workspace=ws).height == 15
    with pytest.raises(InvalidInput, match="other content"):
        export_review("bc", path, workspace=ws)  # not over the filled-in file
    assert export_review("bc", path, force=True, workspace=ws).items == 5


def test_an_import_with_a_bad_row_writes_nothing(
    ws: loopml.Workspace, served: list[tuple[str, int]], tmp_path: Path
) -> None:
    path = tmp_path / "to-label.csv"
    export_review("bc", path, workspace=ws)
    frame = pl.read_csv(path, infer_schema=False)
    good = frame.with_columns(pl.col("guess").alias("label"), pl.lit("ann").alias("reviewer"))
    cases = [
        (good.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("maybe"))
                           .otherwise(pl.col("label")).alias("label")),
         InvalidInput, "row 8 of to-label.csv: label 'maybe' is not a whole number"),
        (good.with_columns(pl.lit(None, pl.String).alias("reviewer")),
         InvalidInput, "row 1 of to-label.csv has no reviewer"),
        (good.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("ffffffffffff"))
                           .otherwise(pl.col("item_id")).alias("item_id")),
         NotFound, "row 4 of to-label.csv"),
        (pl.concat([good, good.head(1)]), InvalidInput, "a second time"),
        (good.drop("label"), InvalidInput, "no column 'label'"),
    ]  # fmt: skip
    for bad, error, message in cases:
        bad.write_csv(path)
        with pytest.raises(error, match=message):
            import_review(path, workspace=ws)
        assert review_items("bc", status="open", workspace=ws)[0].labels == ()
        assert len(review_items("bc", status="open", workspace=ws)) == 20
    label_review(review_items("bc", workspace=ws)[2].id, 1, reviewer="ann", workspace=ws)
    good.write_csv(path)
    with pytest.raises(AlreadyExists, match=r"row 3 of to-label\.csv"):
        import_review(path, workspace=ws)
    assert len(import_review(path, replace=True, workspace=ws).labelled) == 20
    with pytest.raises(InvalidInput, match=r"\.csv, \.parquet or \.jsonl"):
        import_review(tmp_path / "labels.xlsx", workspace=ws)


def test_a_consensus_that_ties_later_is_withdrawn_from_the_feedback(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    """Known answer: one label wanted, ann's is the consensus and becomes feedback; bob
    disagrees, the labels tie, and the row is unlabelled again (as a commit leaves it
    out), by a label and by an import alike."""
    from loopml.monitor import labelled

    records = planted(ws, [0.55, 0.56])
    queue_for_review("bc", below=0.6, labels_wanted=1, workspace=ws)
    by_hand, by_file = review_items("bc", workspace=ws)
    for item in (by_hand, by_file):
        label_review(item.id, 1, reviewer="ann", workspace=ws)
    assert sorted(labelled("bc", workspace=ws).rows["label"].drop_nulls().to_list()) == [1, 1]
    label_review(by_hand.id, 0, reviewer="bob", workspace=ws)  # a tie
    path = tmp_path / "bob.csv"
    path.write_text(f"item_id,label,reviewer\n{by_file.id},0,bob\n")
    done = import_review(path, workspace=ws)
    assert done.feedback == 0  # no consensus label written
    rows = labelled("bc", workspace=ws).rows
    assert rows["label"].null_count() == rows.height == len(records)
