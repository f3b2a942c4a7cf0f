"""A label's reward is what the monitor counts the label: 1 when its join reads the label
as the prediction, 0 when it reads it as another value, none when it cannot read it
(``"yes"`` for a model predicting numbers). Known answers, then every pair of a table of
labels and predictions checked against the join itself; then the same over HTTP, in
Python and from a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tests.serve.serving import call, logistic, register, start
from tests.serve.test_feedback import _body, answer

import loopml
from loopml.monitor._join import join_feedback
from loopml.serve import Arm, Policy, PredictionLog, import_feedback
from loopml.serve._json import encode_json
from loopml.serve._rewards import reward_of

KNOWN = [  # (predicted, label, reward)
    (0, "0", 1.0),
    (0, 0, 1.0),
    (0, 0.0, 1.0),
    (0, "0.0", 1.0),
    (0, "1", 0.0),
    (1, "1", 1.0),
    (1, 1.0, 1.0),
    (1, "0", 0.0),
    (1, "yes", None),  # no number: the monitor counts it unreadable
    (1, 1.5, None),  # no class
    (1, True, None),
    ("yes", "yes", 1.0),
    ("yes", "no", 0.0),
    ("1", 1, 1.0),  # a model predicting text: a number reads as its text
    (True, "true", 1.0),
    (True, 1, 1.0),
    (True, "0", 0.0),
    (True, "yes", None),
    (2.5, "2.5", 1.0),
    (2.5, 2, 0.0),
]
PREDICTED = [0, 1, 7, "yes", "no", "1", True, False, 2.5, 1.0]
LABELS = [
    "0", 0, 0.0, "0.0", "1", 1, 1.0, "1.0", "1e0", "+1", "7", 7, "yes", "no", "Yes", "",
    " 1", "1 ", "true", "false", True, False, 2.5, "2.5", 1.5, -0.0, "inf", "nan", "1_0",
    "0x1", "\u0661", 10**20, "1e400",
]  # fmt: skip


def monitor_counts(predicted: Any, label: Any) -> float | None:
    """What the monitor's join makes of ``label`` on a one-row prediction of
    ``predicted``: 1.0 right, 0.0 wrong, None unreadable (no label)."""
    answers = pl.DataFrame(
        {
            "prediction_id": ["p"], "request_id": [None], "time_us": [1], "ref": ["m@v1"],
            "arm": [0], "probability": [1.0], "latency_us": [300], "fallback": [False],
            "shadow": [False], "error": [None], "outputs": [{"predictions": [predicted]}],
        }
    )  # fmt: skip
    told = pl.DataFrame(
        {"prediction_id": ["p"], "time_us": [2], "reward": [None], "label": [encode_json(label)],
         "row": [None]},
        schema_overrides={"reward": pl.Float64, "row": pl.Int64},
    )  # fmt: skip
    row = join_feedback(answers, told).rows.row(0, named=True)
    return None if row["label"] is None else float(row["label"] == row["predicted"])


@pytest.mark.parametrize(("predicted", "label", "reward"), KNOWN)
def test_known_rewards_of_labels(predicted: Any, label: Any, reward: float | None) -> None:
    assert reward_of(None, label, [predicted]) == reward
    assert monitor_counts(predicted, label) == reward


def test_a_labels_reward_is_what_the_monitor_counts_it() -> None:
    differ = [
        (predicted, label, reward_of(None, label, [predicted]), monitor_counts(predicted, label))
        for predicted in PREDICTED
        for label in LABELS
        if reward_of(None, label, [predicted]) != monitor_counts(predicted, label)
    ]
    assert differ == []


def test_the_share_of_rows_a_text_label_matches() -> None:
    assert reward_of(None, "0", [0, 1, 0, 0]) == 0.75
    assert reward_of(None, "1", [0, 1, 0, 0], row=1) == 1.0
    assert reward_of(None, "yes", [0, 1, 0, 0]) is None


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


def test_a_text_label_rewards_an_arm_as_the_monitor_counts_it(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    """Labels "0" and "1" (as JSON text, a Python str, a Parquet column of text) on
    bandit predictions of 0: right and wrong, as the join says."""
    policy = Policy((Arm("pick@v1", 1.0), Arm("pick@v2", 1.0)), routing="thompson")
    ws.store.set_deployment("pick", policy.to_dict())
    made = [answer("pick", [0]) for _ in range(4)]
    with PredictionLog(ws) as log:
        for record in made:
            log.append(record)
    loopml.feedback(made[0].prediction_id, label="0", workspace=ws)
    loopml.feedback(made[1].prediction_id, label="1", workspace=ws)
    stats = ws.store.arm_stats("pick")["pick@v1"]
    assert (stats.rewards, stats.reward_sum) == (2, 1.0)
    path = tmp_path / "labels.parquet"
    ids = [record.prediction_id for record in made[2:]]
    pl.DataFrame({"id": ids, "label": ["0", "0"]}).write_parquet(path)
    assert import_feedback(path, workspace=ws).rewarded == 2
    stats = ws.store.arm_stats("pick")["pick@v1"]
    assert (stats.rewards, stats.reward_sum) == (4, 3.0)
    rows = loopml.monitor.labelled("pick", workspace=ws).rows.sort("time_us")
    assert rows.select("predicted", "label").rows() == [(0, 0), (0, 1), (0, 0), (0, 0)]


def test_a_server_rewards_a_text_label_as_the_monitor_counts_it(ws: loopml.Workspace) -> None:
    first = register(ws, logistic(1.0))
    second = register(ws, logistic(0.5), alias=None)
    loopml.deploy("bc", bandit="thompson", arms=[first, second], workspace=ws)
    with start(ws) as running:
        found = []
        for label in ("same", "other"):
            status, headers, body = call(f"{running.url}/v2/models/bc/infer", raw=_body(3))
            assert status == 200
            predicted = next(o for o in body["outputs"] if o["name"] == "predictions")["data"][0]
            text = str(predicted if label == "same" else 1 - predicted)
            sent = {"prediction_id": headers["x-loopml-prediction-id"], "label": text}
            status, _, answered = call(f"{running.url}/v2/feedback", sent)
            assert status == 200, answered
            found.append((answered["reward"], answered["rewarded"]))
    assert found == [(1.0, True), (0.0, True)]
