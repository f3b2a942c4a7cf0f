"""The gate, with known answers: a model worse than its baseline, a slice that
regressed, a slow model, a drop beyond the champion's tolerance and too many flips
each fail, with the numbers in the reasons; a failure is recorded with an alert and
stops a pipeline."""

from __future__ import annotations

import dataclasses
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import loopml
from loopml.errors import GateFailed, InvalidInput, StepFailed
from loopml.evaluation._gate import Decision, Policy, gate
from loopml.evaluation._paired import compare
from loopml.evaluation._predict import Predictions
from loopml.evaluation._records import (
    Evaluation,
    Flips,
    Interval,
    Paired,
    PairedMetric,
    SliceResult,
)
from loopml.store import RunStatus


def evaluation(**changes) -> Evaluation:
    """A good classifier's evaluation: 0.90 accuracy against a 0.60 majority baseline."""
    base = Evaluation(
        task="classification",
        primary="accuracy",
        rows=1_000,
        metrics={"accuracy": 0.90, "f1_macro": 0.88},
        intervals={"accuracy": Interval(0.88, 0.92)},
        baseline={"accuracy": 0.60, "f1_macro": 0.38},
        baseline_description="majority class 'no'",
        slices=[
            SliceResult("plan=pro", "plan", 300, {"accuracy": 0.89}, gap=-0.01),
            SliceResult("plan=basic", "plan", 700, {"accuracy": 0.905}, gap=0.005),
        ],
        perturbation={"age": 0.02},
        calibration=None,
        latency_ms={"row_p50": 0.4, "row_p99": 0.9},
        size_bytes={"disk": 50_000.0, "memory": 80_000.0},
        model="churn@v4",
    )
    return dataclasses.replace(base, **changes)


def versus(rows: int, both: int, only_champion: int, only_candidate: int) -> PairedMetric:
    """Accuracy of a candidate against the champion on ``rows`` rows, compared by the
    real comparison: ``both`` right for both, and the rows only one of them gets right."""
    right = np.zeros((2, rows), dtype=bool)
    right[:, :both] = True
    right[0, both : both + only_champion] = True
    right[1, both + only_champion : both + only_champion + only_candidate] = True
    y = np.zeros(rows, dtype=int)
    champion, candidate = (
        Predictions("classification", y, np.where(r, 0, 1), np.array(["no", "yes"])) for r in right
    )
    return compare(candidate, champion, only={"accuracy"})["accuracy"]


def test_a_good_model_passes_and_says_why() -> None:
    decision = gate(evaluation(), record=False)
    assert decision.passed
    assert decision.reasons == []
    assert "accuracy 0.9 against the baseline's 0.6 (majority class 'no'), ahead by 0.3" in (
        decision.checks[0].message
    )


def test_a_model_worse_than_the_majority_baseline_fails() -> None:
    worse = evaluation(metrics={"accuracy": 0.55, "f1_macro": 0.5})
    decision = gate(worse, record=False, stop=False)
    assert not decision.passed
    # An evaluation without the row-by-row comparison with the baseline (one stored
    # before it was recorded) is judged on the values, and says so.
    assert decision.reasons == [
        "accuracy 0.55 against the baseline's 0.6 (majority class 'no'), behind by 0.05; "
        "no row-by-row comparison with the baseline was recorded with this evaluation, so "
        "it is judged on the values alone (evaluate the model again to test it); it must "
        "beat it by more than 0 (0%)"
    ]
    margin = gate(evaluation(), {"baseline_margin": 0.6}, record=False, stop=False)
    assert not margin.passed  # 0.30 ahead is not the 0.36 (60% of 0.6) asked for
    assert "more than 0.36 (60%)" in margin.reasons[0]


def test_the_baseline_margin_must_be_met_with_evidence() -> None:
    # 0.90 against the baseline's 0.60 on 1,000 rows: 350 rows only the model gets
    # right, 50 only the baseline. A margin of 5% of 0.6 (0.03) is met with evidence;
    # one of 50% (0.3) is not: the lead is 0.30 itself, no more.
    ahead = {"accuracy": versus(1_000, 550, 50, 350)}
    met = gate(evaluation(paired_baseline=ahead), {"baseline_margin": 0.05}, record=False)
    assert met.checks[0].message.endswith("ahead by more than the margin of 0.03: p = 1.6e-47")
    assert met.checks[0].evidence["test"] == "mcnemar"
    unmet = gate(
        evaluation(paired_baseline=ahead), {"baseline_margin": 0.5}, record=False, stop=False
    )
    assert unmet.reasons[0].endswith(
        "not shown to beat it by more than 0.3 (50%): p = 0.54, not below alpha = 0.05"
    )


def test_a_slice_that_regressed_against_the_champion_is_caught() -> None:
    paired = Paired(
        "churn@v3",
        1_000,
        {"accuracy": versus(1_000, 850, 50, 40)},
        slices={
            "plan=pro": versus(300, 210, 50, 10),  # 40 of 300 rows lost: 13 points
            "plan=basic": versus(700, 640, 0, 30),  # better
        },
    )
    champion = evaluation(model="churn@v3")
    against = gate(evaluation(paired=paired), champion=champion, record=False, stop=False)
    [reason] = against.reasons
    assert reason.startswith(
        "1 of 2 slice(s) are shown worse than the champion's same slice by more than 5% "
        "(Holm over the slices, alpha = 0.05), the most lost first: plan=pro (300 rows) "
        "0.7333 against 0.8667, -0.1333, p = "
    )
    loose = gate(
        evaluation(paired=paired), {"slice_tolerance": 0.25}, champion=champion, record=False
    )
    assert loose.passed  # 0.73 is 15% below 0.87
    # Without a champion nothing regressed: the worst slice is named, and it passes.
    bad_slice = [
        SliceResult("plan=pro", "plan", 300, {"accuracy": 0.70}, gap=-0.20),
        SliceResult("plan=basic", "plan", 700, {"accuracy": 0.985}, gap=0.085),
    ]
    alone = gate(evaluation(slices=bad_slice), record=False)
    assert alone.checks[2].message == (
        "no champion: not applicable, as none was given and no workspace holds model "
        "'churn'; the worst slice is plan=pro (-0.2)"
    )


def test_a_slow_or_large_model_fails_its_budget() -> None:
    slow = evaluation(latency_ms={"row_p50": 9_000.0, "row_p99": 10_000.0})
    decision = gate(slow, {"max_latency_p99_ms": 50}, record=False, stop=False)
    assert decision.reasons == ["p99 per row 1e+04 ms, budget 50 ms: too slow"]
    big = gate(evaluation(), {"max_size_bytes": 10_000}, record=False, stop=False)
    assert big.reasons == ["50,000 bytes on disk, budget 10,000: too large"]


def test_the_champion_is_compared_row_by_row() -> None:
    champion = evaluation(metrics={"accuracy": 0.91, "f1_macro": 0.9}, model="churn@v3")
    # 0.90 against 0.91: 45 rows lost, 35 won; within the noise of 80 disagreements.
    close = Paired("churn@v3", 1_000, {"accuracy": versus(1_000, 865, 45, 35)})
    assert gate(evaluation(paired=close), champion=champion, record=False).passed
    # 0.88 against 0.91: 60 rows lost, 30 won.
    worse = Paired("churn@v3", 1_000, {"accuracy": versus(1_000, 850, 60, 30)})
    decision = gate(
        evaluation(metrics={"accuracy": 0.88}, paired=worse),
        champion=champion,
        record=False,
        stop=False,
    )
    assert decision.reasons[0].startswith(
        "accuracy 0.88 against churn@v3's 0.91 on the same 1,000 rows, -0.03 (95% interval "
    )
    assert (
        "McNemar's exact test: 30 rows only the candidate gets right, 60 only the "
        in (decision.reasons[0])
    )
    assert (
        "worse by more than the tolerance of 0 (0%), p = 0.001 below alpha = 0.05"
        in (decision.reasons[0])
    )
    tolerant = gate(
        evaluation(metrics={"accuracy": 0.88}, paired=worse),
        {"champion_tolerance": 0.02},
        champion=champion,
        record=False,
    )
    assert tolerant.passed  # a 0.03 drop is not shown to exceed 0.0182 (2% of 0.91)
    # Compared with another model than the champion: not judged.
    stale = Paired("churn@v2", 1_000, close.metrics)
    wrong = gate(evaluation(paired=stale), champion=champion, record=False, stop=False)
    assert "compared row by row with churn@v2, but the champion is churn@v3" in (wrong.reasons[0])
    with pytest.raises(InvalidInput, match=r"alpha = 1\.5; give the false-alarm rate"):
        Policy.from_any({"alpha": 1.5})


def test_too_many_negative_flips_fail() -> None:
    flips = Flips(against="churn@v3", negative=50, positive=40, rows=1_000)
    decision = gate(evaluation(flips=flips), {"max_negative_flips": 0.02}, record=False, stop=False)
    assert decision.reasons == [
        "50 of 1000 rows (5.00%) that churn@v3 got right are now wrong (40 the other way); "
        "at most 2.00% may be"
    ]


DOCS_POLICY = {  # docs/gate.md's policy, its budgets wide enough for this evaluation
    "baseline_margin": 0.05,
    "champion_tolerance": 0.01,
    "slice_tolerance": 0.05,
    "max_negative_flips": 0.02,
}


def test_a_first_model_passes_the_checks_against_the_champion(tmp_path: Path) -> None:
    with loopml.init(tmp_path) as ws:
        first = gate(evaluation(model=None), DOCS_POLICY, name="churn", workspace=ws)
    assert first.passed, first.summary()
    said = {c.name: c.message for c in first.checks}
    for check in ("champion", "flips"):
        assert said[check] == "no champion: not applicable, as model 'churn' has no champion yet"
    assert said["slices"].startswith("no champion: not applicable, as model 'churn' has")
    # Without a workspace or a model name, the reason says so.
    unnamed = gate(evaluation(model=None), DOCS_POLICY, record=False)
    assert unnamed.passed
    assert {c.name: c.message for c in unnamed.checks}["flips"] == (
        "no champion: not applicable, as none was given and the candidate is not a "
        "registered model (give name= to look up its model's champion)"
    )


def test_a_model_without_flips_fails_when_a_champion_exists(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    with loopml.init(tmp_path) as ws:
        served = loopml.register(DummyClassifier().fit([[0]], [0]), "churn", workspace=ws)
        ws.store.set_alias("champion", served.artifact.id, reason="set by hand for the test")
        # The champion's evaluation was given, the flips against it not measured.
        champion = evaluation(model="churn@v1")
        paired = Paired(
            "churn@v1",
            1_000,
            {"accuracy": versus(1_000, 880, 10, 20)},
            {"plan=pro": versus(300, 260, 5, 5), "plan=basic": versus(700, 620, 5, 15)},
        )
        given = gate(
            evaluation(paired=paired), DOCS_POLICY, champion=champion, workspace=ws, stop=False
        )
        assert not given.passed
        assert given.reasons == [
            "churn@v1 is the champion, but no flips against it were measured; evaluate the "
            "candidate with against='churn@v1'"
        ]
        # Nothing given: the registry's champion is found, and every check against it fails.
        alone = gate(evaluation(model=None), DOCS_POLICY, name="churn", workspace=ws, stop=False)
        failed = {c.name: c.message for c in alone.checks if not c.passed}
        assert set(failed) == {"champion", "slices", "flips"}
        assert failed["champion"] == (
            "churn@v1 is the champion, but its evaluation was not given (champion=) and the "
            "candidate was not compared with it row by row (evaluate with "
            "against='churn@v1'); the candidate cannot be passed unmeasured against it"
        )
        assert "against='churn@v1'" in failed["flips"]
        # A pipeline step's model evaluated under the name it will be registered as: the
        # champion of that name is found, not one of the step's output.
        from loopml.evaluation._record import store

        stepped = store(ws, evaluation(model="churn/train@v3"), name="churn.evaluation", inputs={})
        named = gate(stepped, DOCS_POLICY, workspace=ws, stop=False)
        assert {c.name for c in named.checks if not c.passed} == {"champion", "slices", "flips"}
        # Measured flips are judged as before.
        flips = Flips(against="churn@v1", negative=1, positive=3, rows=1_000)
        measured = gate(
            evaluation(flips=flips, paired=paired),
            DOCS_POLICY,
            champion=champion,
            workspace=ws,
            stop=False,
        )
        assert measured.passed, measured.summary()


def test_regression_metrics_are_better_when_lower() -> None:
    regression = evaluation(
        task="regression",
        primary="rmse",
        metrics={"rmse": 40.0},
        intervals={"rmse": Interval(38.0, 42.0)},
        baseline={"rmse": 75.0},
        baseline_description="mean 152",
        slices=[],
    )
    assert gate(regression, record=False).passed
    worse = dataclasses.replace(regression, metrics={"rmse": 80.0}, intervals={})
    assert "behind by 5" in gate(worse, record=False, stop=False).reasons[0]


def test_policies_come_from_files_and_are_checked(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("baseline_margin: 0.1\nmax_latency_p99_ms: 5\nslice_tolerance: null\n")
    decision = gate(evaluation(), policy, record=False)
    assert decision.policy["baseline_margin"] == 0.1
    assert [c.name for c in decision.checks] == ["baseline", "champion", "one_class", "latency"]
    with pytest.raises(InvalidInput, match="unknown setting\\(s\\) max_latency; the settings"):
        Policy.from_any({"max_latency": 5})
    with pytest.raises(InvalidInput, match="baseline_margin = -1; give a number of 0 or more"):
        Policy.from_any({"baseline_margin": -1})
    with pytest.raises(InvalidInput, match="does not exist"):
        Policy.from_any(tmp_path / "missing.yaml")
    with pytest.raises(InvalidInput, match="primary metric 'auc' is not in the evaluation"):
        gate(evaluation(), {"primary": "auc"}, record=False)
    # YAML's quoted "false" is text, and text is true: refused, not taken as on
    policy.write_text("fail_on_one_class_slices: 'false'\n")
    with pytest.raises(InvalidInput, match="fail_on_one_class_slices = 'false'; give true or"):
        Policy.from_any(policy)
    with pytest.raises(InvalidInput, match="max_negative_flips = 2; give the share of the rows"):
        Policy.from_any({"max_negative_flips": 2})
    with pytest.raises(InvalidInput, match="primary = 3; give the name of a metric"):
        Policy.from_any({"primary": 3})


def test_a_decision_is_recorded_and_a_failure_raises_with_an_alert(tmp_path: Path) -> None:
    with loopml.init(tmp_path) as ws:
        with loopml.start_run("release", workspace=ws) as run:
            passed = gate(evaluation(), {"baseline_margin": 0.1}, workspace=ws)
        stored = ws.store.get_artifact(passed.artifact_id)
        assert (stored.kind, stored.ref, stored.metadata["passed"]) == (
            "gate",
            "churn.v4.gate@v1",
            True,
        )
        assert [e.artifact_id for e in ws.store.events(run_id=run.id)] == [stored.id]
        assert ws.store.find_alerts() == []
        with pytest.raises(GateFailed, match="the gate refused churn@v4: p99 per row") as raised:
            gate(evaluation(), {"max_latency_p99_ms": 0.5}, workspace=ws)
        assert isinstance(raised.value.decision, Decision)
        (alert,) = ws.store.find_alerts(kind="gate")
        assert alert.evidence["policy"]["max_latency_p99_ms"] == 0.5
        assert alert.artifact_id == raised.value.decision.artifact_id


GATED = """
import dataclasses, sys
import loopml
from loopml.evaluation._gate import gate
sys.path.insert(0, {tests!r})
from test_gate import evaluation

@loopml.step
def check(threshold: float) -> str:
    gate(evaluation(), {{"max_latency_p99_ms": threshold}})
    return "released"

@loopml.step
def release(decision: str) -> str:
    return decision

@loopml.pipeline
def ship(threshold: float = 0.5):
    return release(check(threshold))
"""


def test_a_failed_gate_stops_the_pipeline(tmp_path: Path) -> None:
    from loopml.pipeline import load_pipeline

    tests = str(Path(__file__).parent)
    (tmp_path / "ship.py").write_text(textwrap.dedent(GATED.format(tests=tests)))
    pipeline = load_pipeline(f"{tmp_path / 'ship.py'}:ship")
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as ws:
        with pytest.raises(StepFailed, match="GateFailed") as raised:
            pipeline.run(workspace=ws, echo=False)
        pipeline_run = ws.store.get_run(ws.store.get_run(raised.value.run_id).parent_id)
        assert pipeline_run.status is RunStatus.FAILED
        names = [r.name for r in ws.store.find_runs(parent_id=pipeline_run.id)]
        assert names == ["ship/check"]  # release never ran
        assert len(ws.store.find_alerts(kind="gate")) == 1
        assert pipeline.run(workspace=ws, echo=False, threshold=5.0).value == "released"
    sys.modules.pop("loopml_user_ship", None)
