"""Feedback that comes before its prediction is logged, in Python and over HTTP: a label
is recorded and says it is not matched yet, then joins its prediction once the log has
it (and no other deployment's); a reward waits for the prediction (it goes to an arm);
an id that cannot be a prediction's is a clear error; a server matches its own recent
answers from memory, and other answers from the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.serve.serving import call, logistic, register, rows, start

import loopml
from loopml._ids import new_id
from loopml.errors import InvalidInput, NotFound
from loopml.monitor import labelled
from loopml.serve import (
    Arm,
    Policy,
    PredictionLog,
    PredictionRecord,
    feedback_records,
)
from loopml.store import ArmStats


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


def _body(start: int) -> bytes:
    tensor = {
        "name": "input",
        "shape": [1, 30],
        "datatype": "FP64",
        "data": rows(1, start).tolist(),
    }
    return json.dumps({"inputs": [tensor]}).encode()


def answer(deployment: str, predicted: list[int], *, ref: str | None = None) -> PredictionRecord:
    """A prediction as a server makes it now: its id holds its time."""
    pid = new_id()
    return PredictionRecord(
        pid, None, int(pid[:12], 16) * 1000, deployment, ref or f"{deployment}@v1", 0, 1.0,
        {"x": [1.0] * len(predicted)}, {"predictions": predicted}, 300, None,
    )  # fmt: skip


def test_a_label_before_its_prediction_is_logged_joins_it_once_it_is(
    ws: loopml.Workspace,
) -> None:
    churn, other = answer("churn", [1, 0]), answer("fraud", [1])
    log = PredictionLog(ws)
    log.append(churn)
    log.append(other)
    # the server has not written its log yet: the label is recorded all the same
    early = loopml.feedback(churn.prediction_id, label=0, row=1, workspace=ws)
    assert (early.matched, early.deployment, early.label, early.row) == (False, None, 0, 1)
    assert feedback_records("(unknown)", workspace=ws)["prediction_id"].to_list() == [
        churn.prediction_id
    ]
    # until the prediction is logged, the label is reported, not dropped
    assert labelled("churn", workspace=ws).unmatched == (churn.prediction_id,)
    log.close()
    found = labelled("churn", workspace=ws)
    assert found.rows.select("row", "label").rows() == [(0, None), (1, 0)]
    assert (found.feedback, found.unmatched) == (1, ())
    # another deployment neither takes it nor reports it
    fraud = labelled("fraud", workspace=ws)
    assert (fraud.feedback, fraud.unmatched, fraud.rows["label"].to_list()) == (0, (), [None])


def test_a_reward_waits_for_its_prediction_and_then_rewards_its_arm(
    ws: loopml.Workspace,
) -> None:
    policy = Policy((Arm("pick@v1", 1.0), Arm("pick@v2", 1.0)), routing="thompson")
    ws.store.set_deployment("pick", policy.to_dict())
    made = answer("pick", [1], ref="pick@v2")
    log = PredictionLog(ws)
    log.append(made)
    with pytest.raises(NotFound, match="a reward goes to the bandit arm") as raised:
        loopml.feedback(made.prediction_id, 1.0, workspace=ws)
    assert raised.value.field == "prediction_id"
    assert ws.store.find_artifacts(kind="feedback") == []
    # a label, unlike a reward, is kept; it rewards no arm (the arm is not known yet)
    assert not loopml.feedback(made.prediction_id, label=1, workspace=ws).matched
    assert ws.store.arm_stats("pick") == {}
    log.close()
    told = loopml.feedback(made.prediction_id, 1.0, workspace=ws)
    assert (told.matched, told.deployment) == (True, "pick")
    assert ws.store.arm_stats("pick") == {"pick@v2": ArmStats(pulls=0, rewards=1, reward_sum=1.0)}


def test_an_id_that_cannot_be_a_prediction_is_refused(ws: loopml.Workspace) -> None:
    for given in ("42", "0123456789abcdef0123456789abcdeg", "0" * 31):
        with pytest.raises(InvalidInput, match="not an id loopml gives") as raised:
            loopml.feedback(given, label=1, workspace=ws)
        assert raised.value.field == "prediction_id"
    assert ws.store.find_artifacts(kind="feedback") == []


def test_a_null_label_is_refused_naming_the_label(ws: loopml.Workspace) -> None:
    register(ws, logistic(1.0))
    with start(ws, grpc_port=None) as running:
        status, _, body = call(
            f"{running.url}/v2/feedback", {"prediction_id": new_id(), "label": None}
        )
    assert status == 400, body
    assert body["field"] == "label"
    assert "feedback says nothing" in body["error"]
    assert "not null" in body["error"]


def test_a_server_matches_its_answers_and_records_labels_on_others_not_yet_logged(
    ws: loopml.Workspace,
) -> None:
    """Two servers on one workspace: one answers (and writes its log only on stop); the
    other is told about that answer first. It records the label (matched false), refuses
    the reward (404, to be sent again), and the join finds the label once the first
    server has written its log."""
    register(ws, logistic(1.0))
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws, flush_seconds=60) as answering, start(ws) as told:
        status, headers, _ = call(f"{answering.url}/v2/models/bc/infer", raw=_body(3))
        assert status == 200
        pid = headers["x-loopml-prediction-id"]
        status, _, found = call(f"{told.url}/v2/feedback", {"prediction_id": pid, "label": 1})
        assert status == 200, found
        assert found == {
            "prediction_id": pid,
            "matched": False,
            "deployment": None,
            "version": None,
            "reward": None,
            "rewarded": False,
        }
        status, _, found = call(f"{told.url}/v2/feedback", {"prediction_id": pid, "reward": 1})
        assert (status, found["field"]) == (404, "prediction_id")
        assert "send it again once the prediction is logged" in found["error"]
        # the server that answered knows its answer before writing it
        status, _, found = call(
            f"{answering.url}/v2/feedback", {"prediction_id": pid, "label": 0, "row": 0}
        )
        assert (status, found["matched"], found["deployment"]) == (200, True, "bc")
        status, _, found = call(
            f"{answering.url}/v2/feedback", {"prediction_id": pid, "label": 0, "row": 1}
        )
        assert (status, found["field"]) == (400, "row")
        assert "has 1" in found["error"]
        for bad in ("p-17", "0" * 31, 17):
            status, _, found = call(f"{told.url}/v2/feedback", {"prediction_id": bad, "label": 1})
            assert (status, found["field"]) == (400, "prediction_id"), found
    found = labelled("bc", workspace=ws)
    assert found.rows["label"].to_list() == [0]  # the row's own label wins over the whole's
    assert (found.feedback, found.unmatched) == (2, ())


def test_a_server_reads_other_answers_from_the_log_a_segment_at_a_time(
    ws: loopml.Workspace,
) -> None:
    """Feedback on answers a server did not give (here, logged before it started) is
    matched from the log: the first reads the segment holding it, the rest of that
    segment is then known without reading."""
    made = [answer("bc", [1]) for _ in range(50)]
    with PredictionLog(ws) as log:
        for record in made:
            log.append(record)
    register(ws, logistic(1.0))
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running:
        assert len(running.server.engine.recent) == 0
        for record in made:
            status, _, found = call(
                f"{running.url}/v2/feedback", {"prediction_id": record.prediction_id, "label": 1}
            )
            assert (status, found["matched"], found["version"]) == (200, True, "bc@v1")
            assert len(running.server.engine.recent) == 50  # all of them, on the first
    assert labelled("bc", workspace=ws).rows["label"].to_list() == [1] * 50


def test_a_reward_sent_again_teaches_its_arm_once(ws: loopml.Workspace) -> None:
    policy = Policy((Arm("pick@v1", 1.0), Arm("pick@v2", 1.0)), routing="thompson")
    ws.store.set_deployment("pick", policy.to_dict())
    made = answer("pick", [1], ref="pick@v1")
    with PredictionLog(ws) as log:
        log.append(made)
    for _ in range(3):  # a client that retries
        loopml.feedback(made.prediction_id, 1.0, workspace=ws)
    assert ws.store.arm_stats("pick") == {"pick@v1": ArmStats(pulls=0, rewards=1, reward_sum=1.0)}
    assert len(feedback_records("pick", workspace=ws)) == 3  # each is recorded: the last wins


def test_a_server_rewards_an_arm_once_a_prediction(ws: loopml.Workspace) -> None:
    first = register(ws, logistic(1.0))
    second = register(ws, logistic(0.5), alias=None)
    loopml.deploy("bc", bandit="thompson", arms=[first, second], workspace=ws)
    with start(ws) as running:
        status, headers, _ = call(f"{running.url}/v2/models/bc/infer", raw=_body(3))
        assert status == 200
        pid = headers["x-loopml-prediction-id"]
        sent = [
            call(f"{running.url}/v2/feedback", {"prediction_id": pid, "reward": 1})
            for _ in range(3)
        ]
    assert [status for status, _, _ in sent] == [200, 200, 200]
    assert [found["rewarded"] for _, _, found in sent] == [True, False, False]


def _rows_body(count: int, start: int) -> bytes:
    tensor = {"name": "input", "shape": [count, 30], "datatype": "FP64"}
    return json.dumps({"inputs": [{**tensor, "data": rows(count, start).tolist()}]}).encode()


def four_row_answers(ws: loopml.Workspace) -> list[PredictionRecord]:
    """Three answers of bandit deployment `pick`'s arm pick@v1, each predicting
    a, b, b, a for four rows, logged."""
    policy = Policy((Arm("pick@v1", 1.0), Arm("pick@v2", 1.0)), routing="thompson")
    ws.store.set_deployment("pick", policy.to_dict())
    made = [answer("pick", ["a", "b", "b", "a"]) for _ in range(3)]
    with PredictionLog(ws) as log:
        for each in made:
            log.append(each)
    return made


def test_a_label_on_one_row_is_scored_against_that_rows_prediction(
    ws: loopml.Workspace,
) -> None:
    """Known answer: feedback naming a row of a prediction of several rows rewards the
    arm by that row's prediction, not the first row's; a label on no row by the share
    of the rows it matches. In Python, over HTTP and from a file."""
    right, wrong, whole = four_row_answers(ws)
    loopml.feedback(right.prediction_id, label="b", row=1, workspace=ws)  # row 1 was "b"
    assert ws.store.arm_stats("pick")["pick@v1"].reward_sum == 1.0
    loopml.feedback(wrong.prediction_id, label="a", row=2, workspace=ws)  # row 2 was "b"
    assert ws.store.arm_stats("pick")["pick@v1"] == ArmStats(pulls=0, rewards=2, reward_sum=1.0)
    loopml.feedback(whole.prediction_id, label="a", workspace=ws)  # two rows of four
    assert ws.store.arm_stats("pick")["pick@v1"] == ArmStats(pulls=0, rewards=3, reward_sum=1.5)


def test_a_server_scores_a_label_on_one_row_against_that_rows_prediction(
    ws: loopml.Workspace,
) -> None:
    first = register(ws, logistic(1.0))
    second = register(ws, logistic(0.5), alias=None)
    loopml.deploy("bc", bandit="thompson", arms=[first, second], workspace=ws)
    with start(ws) as running:
        answers = []
        for _ in range(2):  # the same twelve rows twice: two predictions (kept known)
            infer = f"{running.url}/v2/models/bc/infer"
            status, headers, body = call(infer, raw=_rows_body(12, 10))
            assert status == 200
            predicted = next(o for o in body["outputs"] if o["name"] == "predictions")["data"]
            answers.append((headers["x-loopml-prediction-id"], predicted))
        (one, predicted), (other, _) = answers
        row = next(i for i, value in enumerate(predicted) if value != predicted[0])
        url = f"{running.url}/v2/feedback"
        sent = [  # row `row` was predicted[row], not predicted[0] (row 0's)
            call(url, {"prediction_id": one, "label": predicted[row], "row": row}),
            call(url, {"prediction_id": other, "label": predicted[0], "row": row}),
        ]
    assert [found["reward"] for _, _, found in sent] == [1.0, 0.0]


def test_an_imported_label_on_one_row_is_scored_against_that_rows_prediction(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    from loopml.serve import import_feedback

    right, wrong, whole = four_row_answers(ws)
    path = tmp_path / "labels.csv"
    path.write_text(
        "id,label,row\n"
        f"{right.prediction_id},b,1\n{wrong.prediction_id},a,2\n{whole.prediction_id},a,\n"
    )
    done = import_feedback(path, workspace=ws)
    assert done.rewarded == 3
    assert ws.store.arm_stats("pick") == {"pick@v1": ArmStats(pulls=0, rewards=3, reward_sum=1.5)}


def test_a_server_reads_a_large_predictions_values_from_the_log_to_score_a_label(
    ws: loopml.Workspace,
) -> None:
    """A prediction of more rows than a server keeps known (16): its values are read
    from the log once it is written, and the label scored against the row it names."""
    import time

    from loopml.serve import find_prediction

    first = register(ws, logistic(1.0))
    second = register(ws, logistic(0.5), alias=None)
    loopml.deploy("bc", bandit="thompson", arms=[first, second], workspace=ws)
    with start(ws) as running:
        status, headers, body = call(f"{running.url}/v2/models/bc/infer", raw=_rows_body(100, 0))
        assert status == 200
        pid = headers["x-loopml-prediction-id"]
        predicted = next(o for o in body["outputs"] if o["name"] == "predictions")["data"]
        row = next(i for i, value in enumerate(predicted) if value != predicted[0])
        deadline = time.monotonic() + 30
        while find_prediction(pid, ws) is None:  # written within the flush interval
            assert time.monotonic() < deadline, "the prediction was never logged"
            time.sleep(0.05)
        url = f"{running.url}/v2/feedback"
        _, _, found = call(url, {"prediction_id": pid, "label": predicted[row], "row": row})
    assert found["reward"] == 1.0
    assert found["rewarded"] is True


def test_a_label_that_is_not_one_value_is_refused_at_every_entry(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    """A list or an object is no label (the monitor could not read it): refused over
    HTTP (400 naming the field), in Python and from a file, and nothing is written."""
    import polars as pl

    from loopml.serve import import_feedback

    register(ws, logistic(1.0))
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running:
        status, headers, _ = call(f"{running.url}/v2/models/bc/infer", raw=_body(3))
        assert status == 200
        pid = headers["x-loopml-prediction-id"]
        for label, kind in (([0], "is a list"), ({"class": 0}, "is an object")):
            sent = {"prediction_id": pid, "label": label}
            status, _, found = call(f"{running.url}/v2/feedback", sent)
            assert (status, found["field"]) == (400, "label"), found
            assert kind in found["error"], found
            assert "one value" in found["error"], found
        for given in ([0], {"class": 0}, (0, 1), float("nan")):
            with pytest.raises(InvalidInput, match="label") as raised:
                loopml.feedback(pid, label=given, workspace=ws)
            assert raised.value.field == "label"
        with pytest.raises(InvalidInput, match=r"label \[0\] is a list"):
            loopml.feedback(pid, [0], workspace=ws)
    path = tmp_path / "labels.parquet"
    pl.DataFrame({"id": [pid, pid], "label": [None, [0]]}).write_parquet(path)
    with pytest.raises(InvalidInput, match=r"labels\.parquet, row 2: label \[0\] is a list"):
        import_feedback(path, workspace=ws)
    assert feedback_records("bc", workspace=ws).is_empty()


def test_feedback_with_both_a_reward_and_a_label_is_refused_in_python(
    ws: loopml.Workspace,
) -> None:
    made = answer("churn", [1])
    with PredictionLog(ws) as log:
        log.append(made)
    with pytest.raises(InvalidInput, match="gives both reward") as raised:
        loopml.feedback(made.prediction_id, reward=1.0, label=1, workspace=ws)
    assert raised.value.field == "reward"
    assert ws.store.find_artifacts(kind="feedback") == []


def test_a_reward_for_a_deployment_of_fixed_weights_is_recorded_and_rewards_no_arm(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    """What the server does with it (200, "rewarded": false), loopml.feedback and an
    import do too: any finite number is recorded, no arm learns from it."""
    from loopml.serve import import_feedback

    register(ws, logistic(1.0))
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running:
        ids = []
        for _ in range(3):
            status, headers, _ = call(f"{running.url}/v2/models/bc/infer", raw=_body(3))
            assert status == 200
            ids.append(headers["x-loopml-prediction-id"])
        sent = {"prediction_id": ids[0], "reward": 5}
        status, _, found = call(f"{running.url}/v2/feedback", sent)
        assert (status, found["reward"], found["rewarded"]) == (200, 5.0, False)
    assert loopml.feedback(ids[1], 5.0, workspace=ws).matched
    path = tmp_path / "rewards.csv"
    path.write_text(f"id,reward\n{ids[2]},5\n")
    assert (import_feedback(path, workspace=ws).rewarded, ws.store.arm_stats("bc")) == (0, {})
    assert sorted(feedback_records("bc", workspace=ws)["reward"].to_list()) == [5.0] * 3


def test_a_reward_after_a_label_keeps_the_label_in_python_and_from_a_file(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    from loopml.serve import import_feedback

    told, filed = answer("churn", [1]), answer("churn", [1])
    with PredictionLog(ws) as log:
        log.append(told)
        log.append(filed)
    loopml.feedback(told.prediction_id, label=1, workspace=ws)  # the true label
    loopml.feedback(told.prediction_id, 1.0, workspace=ws)  # later, a conversion
    path = tmp_path / "feedback.csv"
    path.write_text(f"id,label,reward\n{filed.prediction_id},1,\n{filed.prediction_id},,0.5\n")
    import_feedback(path, workspace=ws)
    rows = labelled("churn", workspace=ws).rows.sort("time_us")
    assert rows.select("label", "reward").rows() == [(1, 1.0), (1, 0.5)]


def test_labels_on_the_rows_of_a_large_answer_read_no_log_where_no_arm_learns(
    ws: loopml.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment of fixed weights credits no arm, so a label on a row of an answer of
    more rows than are kept known is recorded without reading the answer's values from
    the log: a read per label cost milliseconds, for each row of a batch's answer."""
    from loopml.serve import _read

    reads: list[str] = []
    real = _read.find_prediction

    def counted(prediction_id: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(prediction_id)
        return real(prediction_id, *args, **kwargs)

    monkeypatch.setattr(_read, "find_prediction", counted)
    loopml.deploy("bc", model=register(ws, logistic(1.0)), workspace=ws)
    with start(ws) as running:
        status, headers, _ = call(f"{running.url}/v2/models/bc/infer", raw=_rows_body(100, 0))
        assert status == 200
        pid = headers["x-loopml-prediction-id"]
        answers = [
            call(f"{running.url}/v2/feedback", {"prediction_id": pid, "label": 1, "row": row})
            for row in range(20)
        ]
    assert [status for status, _, _ in answers] == [200] * 20
    assert all(found["matched"] and not found["rewarded"] for _, _, found in answers)
    assert reads == []
    assert labelled("bc", workspace=ws).rows["label"].drop_nulls().len() == 20
