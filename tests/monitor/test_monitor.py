"""Predictions joined with their feedback, and live metrics, on real logs in a real
workspace: known answers planted per window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import loopml
from loopml._ids import new_id
from loopml.errors import InvalidInput
from loopml.monitor import labelled, live_metrics
from loopml.serve import FeedbackLog, FeedbackRecord, PredictionLog, PredictionRecord

HOUR_US = 3_600_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    with loopml.init(tmp_path) as workspace:
        yield workspace


def answer(pid: str, time_us: int, predicted: list[int], **fields) -> PredictionRecord:
    values = {
        "prediction_id": pid,
        "request_id": None,
        "time_us": time_us,
        "deployment": "churn",
        "ref": "churn@v1",
        "arm": 0,
        "probability": 1.0,
        "inputs": {"x": np.arange(len(predicted), dtype=float)},
        "outputs": {
            "predictions": np.array(predicted),
            "probabilities": np.array([[0.2, 0.8] if p else [0.7, 0.3] for p in predicted]),
        },
        "latency_us": 500,
        "key": None,
    }
    return PredictionRecord(**{**values, **fields})


def told(pid: str, label, time_us: int, row: int | None = None) -> FeedbackRecord:
    return FeedbackRecord(pid, time_us, None, label, row, "churn")


def test_accuracy_per_hour_is_the_planted_one(ws: loopml.Workspace) -> None:
    rng = np.random.default_rng(0)
    planted = [0.9, 0.6, 0.75]  # the share of right predictions in each hour
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    for hour, rate in enumerate(planted):
        for n in range(200):
            pid = new_id()
            predicted = int(rng.integers(2))
            predictions.append(answer(pid, T0 + hour * HOUR_US + n * 1000, [predicted]))
            if n % 4:  # three in four labelled
                right = n % 200 < rate * 200
                label = predicted if right else 1 - predicted
                feedback.append(told(pid, label, T0 + 5 * HOUR_US + n))
    feedback.flush()  # the labels are written before their predictions: the join waits for both
    predictions.flush()
    found = labelled("churn", workspace=ws)
    assert (found.feedback, found.duplicates, found.unmatched) == (450, 0, ())
    metrics = live_metrics(found.rows, every="1h", baseline=1)
    assert metrics["rows"].to_list() == [200, 200, 200]
    assert metrics["labelled"].to_list() == [150, 150, 150]
    assert metrics["coverage"].to_list() == [0.75, 0.75, 0.75]
    expected = []
    for rate in planted:  # the labelled rows are those with n % 4 != 0
        labelled_n = [n for n in range(200) if n % 4]
        expected.append(sum(n < rate * 200 for n in labelled_n) / len(labelled_n))
    assert metrics["accuracy"].to_list() == pytest.approx(expected)
    assert metrics["window_start_us"].to_list() == [T0 + h * HOUR_US for h in range(3)]
    assert metrics["latency_p50_ms"].to_list() == [0.5, 0.5, 0.5]
    by_hundred = live_metrics(found.rows, every=100)
    assert by_hundred["predictions"].to_list() == [100] * 6


def test_the_last_feedback_wins_rows_apart_and_shadows_labelled_by_their_primary(
    ws: loopml.Workspace,
) -> None:
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    many, shadowed = new_id(), new_id()
    predictions.append(answer(many, T0, [1, 0, 1]))
    predictions.append(answer(shadowed, T0 + 1, [1]))
    predictions.append(
        answer(new_id(), T0 + 2, [0], ref="churn@v2", arm=None, probability=None,
               shadow=True, request_id=shadowed)
    )  # fmt: skip
    feedback.append(told(many, 0, T0 + 10))  # every row: 0 ...
    feedback.append(told(many, 1, T0 + 11))  # ... then 1: the later wins
    feedback.append(told(many, 0, T0 + 12, row=1))  # row 1 on its own: 0
    feedback.append(told(shadowed, 1, T0 + 13))
    predictions.flush()
    feedback.flush()
    found = labelled("churn", workspace=ws)
    assert found.duplicates == 1
    rows = found.rows.sort("time_us", "row")
    assert rows.select("ref", "row", "predicted", "label").rows() == [
        ("churn@v1", 0, 1, 1),
        ("churn@v1", 1, 0, 0),
        ("churn@v1", 2, 1, 1),
        ("churn@v1", 0, 1, 1),
        ("churn@v2", 0, 0, 1),  # the shadow, judged on its primary's label
    ]
    assert rows["confidence"].to_list() == [0.8, 0.7, 0.8, 0.8, 0.7]
    metrics = live_metrics(found.rows, every="1d")
    assert metrics.select("ref", "accuracy", "shadow").rows() == [
        ("churn@v1", 1.0, False),
        ("churn@v2", 0.0, True),
    ]


def test_feedback_on_a_prediction_the_log_never_held_is_reported(ws: loopml.Workspace) -> None:
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    known, lost = new_id(), new_id()
    predictions.append(answer(known, T0, [1]))
    feedback.append(told(known, 1, T0 + 5))
    feedback.append(told(lost, 0, T0 + 6))
    predictions.flush()
    feedback.flush()
    found = labelled("churn", workspace=ws)
    assert found.unmatched == (lost,)
    assert found.rows["label"].to_list() == [1]


def test_labels_are_read_as_the_predictions_type_and_the_unreadable_counted(
    ws: loopml.Workspace,
) -> None:
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    # 2.0 is class 2 and "2" too (a CSV's labels are text when some are); other text,
    # 2.5 and true are no class
    given = [1, 2.0, "yes", 2.5, True, "2"]
    ids = [new_id() for _ in given]
    for n, (pid, label) in enumerate(zip(ids, given, strict=True)):
        predictions.append(answer(pid, T0 + n, [1]))
        feedback.append(told(pid, label, T0 + 10 + n))
    predictions.flush()
    feedback.flush()
    found = labelled("churn", workspace=ws)
    assert found.rows.sort("time_us")["label"].to_list() == [1, 2, None, None, None, 2]
    assert found.unreadable == 3


def test_labels_of_a_model_that_predicts_booleans_are_read_as_booleans(
    ws: loopml.Workspace,
) -> None:
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    given = [True, False, 1, 0, "yes", 2]  # JSON true and false, or 1 and 0; no other
    ids = [new_id() for _ in given]
    for n, (pid, label) in enumerate(zip(ids, given, strict=True)):
        predictions.append(answer(pid, T0 + n, [True]))
        feedback.append(told(pid, label, T0 + 10 + n))
    predictions.flush()
    feedback.flush()
    found = labelled("churn", workspace=ws)
    assert found.rows.sort("time_us")["label"].to_list() == [True, False, True, False, None, None]
    assert found.unreadable == 2


def test_regression_metrics_and_bad_settings(ws: loopml.Workspace) -> None:
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    for n, (predicted, label) in enumerate([(1.0, 2.0), (3.0, 3.0), (5.0, 1.0)]):
        pid = new_id()
        record = answer(pid, T0 + n, [0], outputs={"predictions": np.array([predicted])})
        predictions.append(record)
        feedback.append(told(pid, label, T0 + 10 + n))
    predictions.flush()
    feedback.flush()
    rows = labelled("churn", workspace=ws).rows
    found = live_metrics(rows, every="1h", task="regression", baseline=2.0)
    assert found["mae"].item() == pytest.approx((1 + 0 + 4) / 3)
    assert found["rmse"].item() == pytest.approx(np.sqrt((1 + 0 + 16) / 3))
    assert found["baseline_mae"].item() == pytest.approx((0 + 1 + 1) / 3)
    for every in ("1x", "0h", "h", 0, True, 1.5):
        with pytest.raises(InvalidInput) as error:
            live_metrics(rows, every=every)
        assert error.value.field == "every"
    with pytest.raises(InvalidInput, match="task"):
        live_metrics(rows, task="ranking")


def test_answers_that_held_no_probabilities_join_as_answers_without_them(
    ws: loopml.Workspace,
) -> None:
    """A regressor's answers written with ``"probabilities": None`` (as a Predictor's
    prediction of a regressor holds it) leave a field of no type in the segment."""
    with PredictionLog(ws) as log:
        for n in range(3):
            log.append(
                answer(
                    new_id(), T0 + n, [0],
                    outputs={"predictions": np.array([2.5]), "probabilities": None},
                )
            )  # fmt: skip
    rows = labelled("churn", workspace=ws).rows
    assert rows["predicted"].to_list() == [2.5, 2.5, 2.5]
    assert "probabilities" not in rows.columns
    found = live_metrics(rows, task="regression")
    assert found["rows"].to_list() == [3]


@pytest.mark.parametrize("predicted", [[1], ["yes"]])
def test_a_label_no_version_should_have_written_is_counted_unreadable_not_a_crash(
    ws: loopml.Workspace, predicted: list
) -> None:
    """Lists and objects were once taken as labels; a segment is never rewritten, so the
    join reads them as no label, counted in unreadable, beside the labels it can read."""
    import polars as pl

    from loopml.monitor._join import join_feedback

    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    given = [[0], {"class": 1}, predicted[0], [predicted[0]]]
    ids = [new_id() for _ in given]
    for n, (pid, label) in enumerate(zip(ids, given, strict=True)):
        predictions.append(answer(pid, T0 + n, [0], outputs={"predictions": predicted}))
        feedback.append(told(pid, label, T0 + 10 + n))
    predictions.flush()
    feedback.flush()
    found = labelled("churn", workspace=ws)
    assert found.rows.sort("time_us")["label"].to_list() == [None, None, predicted[0], None]
    assert found.unreadable == 3
    assert live_metrics(found.rows, every="1d")["labelled"].to_list() == [1]
    # text a version of loopml never wrote (a log made by hand): no label either
    broken = pl.DataFrame(
        {"prediction_id": ids[:2], "time_us": [T0 + 20, T0 + 21], "reward": [None, None],
         "label": ['"unclosed', '"yes"'], "row": [None, None]},
        schema_overrides={"reward": pl.Float64, "row": pl.Int64},
    )  # fmt: skip
    answers = loopml.serve.predictions("churn", workspace=ws)
    rows = join_feedback(answers, broken).rows.sort("time_us")
    assert rows["label"].to_list()[:2] == [None, None if predicted == [1] else "yes"]


def test_a_label_and_a_reward_are_kept_apart_each_the_latest_of_its_kind(
    ws: loopml.Workspace,
) -> None:
    """A reward is not a label: a later reward keeps the label, a later label the
    reward. A record with neither (a review queue's tie) withdraws the label only."""
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    plan = {  # a prediction's feedback in time order: (reward, label)
        "label, reward": [(None, 1), (1.0, None)],
        "reward, label": [(0.5, None), (None, 0)],
        "label, withdrawn": [(None, 1), (None, None)],
        "label, reward, new label": [(None, 1), (0.25, None), (None, 0)],
        "reward, withdrawn": [(0.2, None), (None, None)],
    }
    ids = {name: new_id() for name in plan}
    for n, (name, records) in enumerate(plan.items()):
        predictions.append(answer(ids[name], T0 + n, [1]))
        for k, (reward, label) in enumerate(records):
            at = T0 + 100 * n + 10 + k
            feedback.append(FeedbackRecord(ids[name], at, reward, label, None, "churn"))
    predictions.flush()
    feedback.flush()
    found = labelled("churn", workspace=ws)
    rows = {r["prediction_id"]: r for r in found.rows.to_dicts()}
    joined = {name: (rows[pid]["label"], rows[pid]["reward"]) for name, pid in ids.items()}
    assert joined == {
        "label, reward": (1, 1.0),
        "reward, label": (0, 0.5),
        "label, withdrawn": (None, None),
        "label, reward, new label": (0, 0.25),
        "reward, withdrawn": (None, 0.2),
    }
    # when the label was given, not the reward after it
    assert rows[ids["label, reward"]]["labelled_us"] == T0 + 10
    assert rows[ids["reward, label"]]["labelled_us"] == T0 + 111
    # replaced: the label withdrawn, and the first of two labels
    assert (found.feedback, found.duplicates) == (11, 2)


def test_a_label_on_one_row_and_a_reward_on_the_whole_are_both_kept(
    ws: loopml.Workspace,
) -> None:
    predictions, feedback = PredictionLog(ws), FeedbackLog(ws)
    pid = new_id()
    predictions.append(answer(pid, T0, [1, 0]))
    feedback.append(FeedbackRecord(pid, T0 + 10, None, 0, 1, "churn"))
    feedback.append(FeedbackRecord(pid, T0 + 11, 0.5, None, None, "churn"))
    feedback.append(FeedbackRecord(pid, T0 + 12, None, None, 1, "churn"))  # row 1 withdrawn
    feedback.append(FeedbackRecord(pid, T0 + 13, None, 1, 0, "churn"))
    predictions.flush()
    feedback.flush()
    rows = labelled("churn", workspace=ws).rows.sort("row")
    assert rows.select("row", "label", "reward").rows() == [(0, 1, 0.5), (1, None, 0.5)]


def test_answers_of_many_rows_join_in_memory_that_grows_with_their_rows() -> None:
    """Each row's probabilities are its own, not its answer's whole list kept on every
    row: 20 answers of 2,000 rows with probabilities (what 1,000-row requests give)
    took over a gigabyte that way. Joined in a process of its own, its peak measured."""
    import subprocess
    import sys

    program = """
import resource, numpy as np, polars as pl
from loopml.monitor._join import join_feedback
n, rows = 20, 2000
rng = np.random.default_rng(0)
p = rng.random((n, rows))
answers = pl.DataFrame({
    "prediction_id": [f"p{i}" for i in range(n)], "request_id": [None] * n,
    "time_us": list(range(n)), "ref": ["m@v1"] * n, "arm": [0] * n,
    "probability": [1.0] * n, "latency_us": [1] * n, "fallback": [False] * n,
    "shadow": [False] * n, "error": [None] * n,
    "outputs": [{"predictions": (p[i] > 0.5).astype(int).tolist(),
                 "probabilities": np.stack([1 - p[i], p[i]], 1).tolist()} for i in range(n)],
})
told = pl.DataFrame({"prediction_id": ["p3"], "time_us": [99], "reward": [None],
                     "label": ["1"], "row": [5]},
                    schema_overrides={"reward": pl.Float64, "row": pl.Int64})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
found = join_feedback(answers, told).rows
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
one = found.filter(pl.col("prediction_id") == "p3").sort("row").row(5, named=True)
assert one["label"] == 1 and one["probabilities"] == [1 - p[3, 5], p[3, 5]], one
assert one["confidence"] == max(p[3, 5], 1 - p[3, 5]), one
assert found.height == n * rows, found.height
print((peak - before) // 1024)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) < 300  # MB more at the join's peak
