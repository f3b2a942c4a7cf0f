"""Filling the review queue, with known answers: planted low-confidence rows are queued
and confident ones are not; the rows a shadow, the previous champion or a named
version answer otherwise are exactly those where the two models' predictions differ
(computed here in-process); an audit sample has its size and is uniform; flagged rows
are queued, and the ones the window does not hold are counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats
from tests.monitor.reviewing import T0, answers, breast_cancer, keys, planted, tell, train

import loopml
from loopml import registry
from loopml.errors import InvalidInput
from loopml.models import Predictor
from loopml.monitor import queue_for_review
from loopml.monitor._review_rules import audit_sample
from loopml.serve import PredictionLog, PredictionRecord


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    with loopml.init(tmp_path) as workspace:
        yield workspace


def test_planted_low_confidence_rows_are_queued_and_confident_ones_are_not(
    ws: loopml.Workspace,
) -> None:
    confidences = [0.97, 0.55, 0.92, 0.59, 0.51, 0.999, 0.6, 0.58, 0.99, 0.52]
    records = planted(ws, confidences)
    low = [r for r, c in zip(records, confidences, strict=True) if c < 0.6]
    told = low[0]  # feedback says what it is already: no need to ask a person
    tell(ws, told.prediction_id, 1)
    planted(ws, [0.5], shadow_of=records[0].prediction_id)  # a shadow's answer: not queued
    queued = queue_for_review("bc", below=0.6, workspace=ws)
    wanted = sorted(
        (c, r.prediction_id)
        for r, c in zip(records, confidences, strict=True)
        if c < 0.6 and r is not told
    )
    assert [item.prediction_id for item in queued.added] == [pid for _, pid in wanted]
    assert [item.confidence for item in queued.added] == [c for c, _ in wanted]  # least sure first
    assert queued.considered == len(records) - 1
    assert queued.picked == {"low-confidence": 4}
    first = queued.added[0]
    assert (first.guess, first.reasons, first.evidence) == (
        1,
        ("low-confidence",),
        {"confidence_below": 0.6},
    )
    assert (first.queue, first.deployment, first.ref, first.row) == ("bc", "bc", "bc@v1", 0)
    assert first.inputs == {"x": float(confidences.index(first.confidence))}
    again = queue_for_review("bc", below=0.6, workspace=ws)  # the same window again
    assert (again.added, again.queued_before) == ((), 4)
    other = queue_for_review("bc", below=0.6, queue="bc-second-look", workspace=ws)
    assert len(other.added) == 4


def test_each_row_of_a_prediction_is_judged_on_its_own(ws: loopml.Workspace) -> None:
    train(ws)
    X, _ = breast_cancer()
    records = answers(ws, "bc@v1", X.iloc[:120], per_request=6)
    queued = queue_for_review("bc", below=0.9, workspace=ws)
    predictor = Predictor.load("bc@v1", workspace=ws)
    found = predictor.predict(X.iloc[:120])
    confidence = found.probabilities.max(axis=1)
    every = keys(records)
    expected = {every[i] for i in range(120) if confidence[i] < 0.9}
    assert 5 < len(expected) < 60  # a real mix of sure and unsure rows
    assert {(i.prediction_id, i.row) for i in queued.added} == expected
    for item in queued.added:
        n = every.index((item.prediction_id, item.row))
        assert item.guess == found.predictions[n]
        assert item.confidence == pytest.approx(confidence[n])
        assert item.inputs == pytest.approx(X.iloc[n].to_dict())
        assert item.dataset == "bc-train"  # from the model's lineage


@pytest.mark.parametrize("other", ["shadow", "previous", "bc@v1"])
def test_disagreement_picks_exactly_the_rows_the_other_model_answers_otherwise(
    ws: loopml.Workspace, other: str
) -> None:
    weak = train(ws, C=0.0001)
    strong = train(ws, C=1.0, alias=None)
    registry.promote(strong, force=True, reason="the better one", workspace=ws)
    X, _ = breast_cancer()
    served = answers(ws, strong, X.iloc[:200])
    if other == "shadow":  # the weak model shadows every request, as the server logs it
        log = PredictionLog(ws)
        predictor = Predictor.load(weak, workspace=ws)
        for n, record in enumerate(served):
            part = X.iloc[4 * n : 4 * n + 4]
            log.append(
                PredictionRecord(
                    "s" + record.prediction_id[1:], record.prediction_id, record.time_us + 5,
                    "bc", weak, None, None, record.inputs,
                    {"predictions": predictor.predict(part).predictions}, 900, None,
                    shadow=True,
                )
            )  # fmt: skip
        log.flush()
        log.close()
    queued = queue_for_review("bc", disagree_with=[other], workspace=ws)
    mine = Predictor.load(strong, workspace=ws).predict(X.iloc[:200]).predictions
    theirs = Predictor.load(weak, workspace=ws).predict(X.iloc[:200]).predictions
    every = keys(served)
    expected = {every[i] for i in np.flatnonzero(mine != theirs)}
    assert len(expected) >= 5
    assert {(i.prediction_id, i.row) for i in queued.added} == expected
    for item in queued.added:
        n = every.index((item.prediction_id, item.row))
        assert item.reasons == ("disagreement",)
        assert item.evidence == {"disagreeing": [{"ref": weak, "guess": int(theirs[n])}]}


def test_flagged_rows_are_queued_and_unknown_ones_counted(ws: loopml.Workspace) -> None:
    train(ws)
    X, _ = breast_cancer()
    records = answers(ws, "bc@v1", X.iloc[:40])
    flagged = [records[0].prediction_id, (records[3].prediction_id, 2), "not-logged", ("x", 1)]
    queued = queue_for_review("bc", flagged=flagged, workspace=ws)
    assert sorted((i.prediction_id, i.row) for i in queued.added) == sorted(
        [(records[0].prediction_id, r) for r in range(4)] + [(records[3].prediction_id, 2)]
    )
    assert {i.reasons for i in queued.added} == {("drift",)}
    assert queued.flagged_missing == 2
    with pytest.raises(InvalidInput, match="prediction id, or a"):
        queue_for_review("bc", flagged=[3], workspace=ws)


def test_a_row_picked_by_several_rules_is_queued_once_with_every_reason(
    ws: loopml.Workspace,
) -> None:
    records = planted(ws, [0.55, 0.95, 0.58])
    queued = queue_for_review(
        "bc", below=0.6, flagged=[records[0].prediction_id], audit=3, seed=0, workspace=ws
    )
    by_id = {item.prediction_id: item for item in queued.added}
    assert by_id[records[0].prediction_id].reasons == ("low-confidence", "drift", "audit")
    assert by_id[records[1].prediction_id].reasons == ("audit",)
    assert by_id[records[1].prediction_id].evidence == {"audit_of": 3}
    assert queued.picked == {"low-confidence": 2, "drift": 1, "audit": 3}


def test_an_audit_sample_has_its_size_and_every_row_the_same_chance() -> None:
    rows = pl.DataFrame(
        {
            "prediction_id": [f"p{n:03d}" for n in range(200)],
            "row": [0] * 200,
            "time_us": list(range(200)),
        }
    )
    draws = 2000
    counts: Counter[str] = Counter()
    for seed in range(draws):
        picked = audit_sample(rows, 20, seed=seed)
        assert len(picked) == 20
        counts.update(pid for pid, _ in picked)
    assert audit_sample(rows, 20, seed=7) == audit_sample(rows, 20, seed=7)
    assert audit_sample(rows, 20, seed=7) != audit_sample(rows, 20, seed=8)
    assert len(audit_sample(rows, 500, seed=1)) == 200  # all of them, not more
    assert audit_sample(rows, 0, seed=1) == {}
    # Each row is drawn with probability 20/200: the counts are uniform (chi-square)
    observed = [counts[f"p{n:03d}"] for n in range(200)]
    assert sum(observed) == 20 * draws
    assert stats.chisquare(observed).pvalue > 0.001


def test_an_audit_through_the_queue_takes_the_number_asked(ws: loopml.Workspace) -> None:
    planted(ws, [0.9] * 50)
    first = queue_for_review("bc", audit=10, seed=3, workspace=ws)
    assert len(first.added) == 10
    second = queue_for_review("bc", audit=10, seed=3, queue="again", workspace=ws)
    assert [i.prediction_id for i in second.added] == [i.prediction_id for i in first.added]


def test_a_rule_that_cannot_apply_is_refused_naming_it(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)  # a regressor's answers: no probabilities
    log.append(
        PredictionRecord("r1", None, T0, "bc", "bc@v1", 0, 1.0, {"x": [1.0]},
                         {"predictions": [2.5]}, 300, None)
    )  # fmt: skip
    log.flush()
    log.close()
    cases = [
        ({}, "no rule to pick rows with"),
        ({"below": 0.6}, "needs a classifier.s probabilities"),
        ({"below": 1.5}, "below 1.5"),
        ({"disagree_with": "shadow"}, "must be a list"),
        ({"disagree_with": ["shadow"]}, "no shadow answered"),
        ({"disagree_with": ["previous"]}, "previous champion"),
        ({"audit": -1}, "audit -1"),
        ({"audit": 2, "queue": "no good"}, "review queue name"),
        ({"audit": 2, "labels_wanted": 0}, "labels_wanted 0"),
        ({"audit": 2, "dataset": "../up"}, "dataset name"),
    ]
    for given, message in cases:
        with pytest.raises(InvalidInput, match=message):
            queue_for_review("bc", workspace=ws, **given)  # type: ignore[arg-type]
    assert ws.store.find_review_items() == []


def test_a_shadow_served_over_http_is_matched_to_the_answer_it_shadowed(
    ws: loopml.Workspace,
) -> None:
    from tests.serve.serving import call, start

    weak = train(ws, C=0.0001)
    strong = train(ws, C=1.0, alias=None)
    registry.promote(strong, force=True, reason="the better one", workspace=ws)
    loopml.deploy("bc", model="bc@champion", shadow=[weak], workspace=ws)
    X, _ = breast_cancer()
    sent = X.iloc[:120]
    ids = []
    with start(ws) as running:
        for first in range(0, len(sent), 6):
            part = sent.iloc[first : first + 6]
            tensors = [
                {"name": c, "shape": [len(part)], "datatype": "FP64", "data": part[c].tolist()}
                for c in part.columns
            ]
            status, headers, found = call(f"{running.url}/v2/models/bc/infer", {"inputs": tensors})
            assert status == 200, found
            ids.append(headers["x-loopml-prediction-id"])
        running.stop()  # writes what the log holds
    queued = queue_for_review("bc", disagree_with=["shadow"], workspace=ws)
    mine = Predictor.load(strong, workspace=ws).predict(sent).predictions
    theirs = Predictor.load(weak, workspace=ws).predict(sent).predictions
    expected = {(ids[i // 6], i % 6) for i in np.flatnonzero(mine != theirs)}
    assert len(expected) >= 3
    assert {(i.prediction_id, i.row) for i in queued.added} == expected
    for item in queued.added:
        assert item.inputs == pytest.approx(
            sent.iloc[ids.index(item.prediction_id) * 6 + item.row].to_dict()
        )


def test_inputs_sent_as_one_tensor_are_named_by_the_signature(ws: loopml.Workspace) -> None:
    from tests.serve.serving import call, start

    train(ws)
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    X, _ = breast_cancer()
    sent = X.iloc[:12].to_numpy()
    tensor = {"name": "input", "shape": list(sent.shape), "datatype": "FP64",
              "data": sent.tolist()}  # fmt: skip
    with start(ws) as running:
        status, headers, found = call(f"{running.url}/v2/models/bc/infer", {"inputs": [tensor]})
        assert status == 200, found
        running.stop()
    queued = queue_for_review("bc", audit=12, seed=0, workspace=ws)
    assert len(queued.added) == 12
    for item in queued.added:
        assert item.prediction_id == headers["x-loopml-prediction-id"]
        assert item.inputs == pytest.approx(X.iloc[item.row].to_dict())  # named, in order
