"""From evaluation to release, with known answers: real models are evaluated, the gate
catches the one worse on a slice, the one worse than the majority baseline and the
slow one, and only a model that passes is registered and promoted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_zoo import FEATURES, SegmentFlipped, SlowModel
from sklearn.pipeline import Pipeline

import loopml
from loopml.errors import GateFailed
from loopml.evaluation import evaluate, gate
from loopml.registry import promote, register
from loopml.workspace import Workspace


class Always:
    """Predicts one class for every row."""

    classes_ = np.array(["no", "yes"])

    def __init__(self, label: str) -> None:
        self.label = label

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), self.label)


# No latency budget here: how fast a real model answers depends on the machine's load.
# The latency check is tested with a model slow by construction (below), and in
# test_gate.py with given figures; the models' latencies are timed in bench/evaluation.
POLICY = {"baseline_margin": 0.05, "slice_tolerance": 0.1}


def test_a_good_model_passes_and_is_promoted(
    ws: Workspace, churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    with loopml.start_run("release", workspace=ws):
        result = evaluate(churn_model, test_rows, label="churn", train=train, workspace=ws)
        decision = gate(result, POLICY, workspace=ws)
        version = register(
            churn_model, "churn", evaluation=result, workspace=ws, signature_from=train[FEATURES]
        )
        promote(version.ref, reason=decision.summary().splitlines()[0], workspace=ws)
    assert decision.passed, decision.summary()
    assert ws.store.get_alias("model", "churn", "champion").artifact_id == version.artifact.id


def test_a_model_worse_on_one_slice_is_caught_by_the_slice_check(
    ws: Workspace, churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    champion = evaluate(churn_model, test_rows, label="churn", train=train, record=False)
    broken = SegmentFlipped(churn_model, "plan", "pro")  # answers reversed for plan=pro
    result = evaluate(
        broken, test_rows, label="churn", train=train, against=churn_model, workspace=ws
    )
    assert result.slices[0].name == "plan=pro"
    with pytest.raises(GateFailed) as raised:
        gate(result, POLICY, champion=champion, workspace=ws)
    failed = {c.name: c.message for c in raised.value.decision.checks if not c.passed}
    assert "slices" in failed  # (its overall accuracy fell too: the champion check says so)
    assert "the most lost first: plan=pro" in failed["slices"]
    (alert,) = ws.store.find_alerts(kind="gate")
    assert "plan=pro" in alert.message


def test_a_model_worse_than_the_majority_baseline_fails(
    ws: Workspace, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    majority = train["churn"].mode()[0]
    minority = "yes" if majority == "no" else "no"
    contrarian = Always(minority)
    result = evaluate(contrarian, test_rows, label="churn", train=train, record=False)
    decision = gate(result, POLICY, record=False, stop=False)
    assert not decision.passed
    assert decision.checks[0].name == "baseline"
    assert not decision.checks[0].passed
    assert "behind by" in decision.checks[0].message


def test_a_slow_model_fails_the_latency_budget(
    ws: Workspace, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    # At least 5 ms a call (a sleep is never shorter): accurate enough, and over a 2 ms
    # budget however fast or busy the machine.
    slow = SlowModel(0.005)
    result = evaluate(slow, test_rows, label="churn", train=train, record=False)
    assert result.latency_ms["row_p99"] >= 5
    budget = {"max_latency_p99_ms": 2, "slice_tolerance": None}  # only latency is asked
    decision = gate(result, budget, record=False, stop=False)
    assert [c.name for c in decision.checks if not c.passed] == ["latency"]
