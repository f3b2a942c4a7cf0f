"""The loop controller on real weather served over HTTP: a decayed champion is found by
its triggers, retrained on the labelled traffic, gated on the traffic held back, sent out
as challenger, and promoted when the sequential test on live feedback says it is better;
every decision recorded before it is acted on."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.monitor.looping import (
    EARLY_DAYS,
    LATE_START,
    RECENT_START,
    pause,
    send_days,
    set_up,
    wait_until_logged,
    weather,
)
from tests.monitor.looping import serve as serving

import loopml
from loopml import registry, serve
from loopml.monitor import (
    Decay,
    Drift,
    Loop,
    Rollout,
    Triggers,
    define_loop,
    loop_decisions,
    run_loop,
    trace,
)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    workspace = set_up(tmp_path)
    yield workspace
    workspace.close()


def rain_loop(**changes: object) -> Loop:
    spec = Loop(
        name="rain",
        deployment="rain",
        model="rain",
        pipeline="train.py:rain",
        data="rainfall",
        label="rain",
        window=500,
        holdout=0.3,
        triggers=Triggers(
            decay=Decay(baseline=True, min_labelled=300),
            drift=Drift(share=0.2, every="1d", min_rows=300),
        ),
        rollout=Rollout(share=0.5, min_lift=0.05),
    )
    return Loop.from_dict("rain", {**spec.to_dict(), **changes})


def test_requests_sent_again_are_no_warning_of_a_pass(ws: loopml.Workspace) -> None:
    """Days the champion was trained on, asked about again, put the same rows in the new
    model's training rows and in the held-out ones: allowed (a request sent again is no
    leak), kept in the evaluation's record, and no warning printed by the controller."""
    import warnings

    from loopml.errors import OverlapWarning
    from loopml.evaluation import load_evaluation

    define_loop(rain_loop(triggers={"new_labels": 300}), workspace=ws)
    days = weather().head(600)  # days the champion's training rows hold: asked about again
    with serving(ws) as running:
        send_days(running, ws, days)
        wait_until_logged(ws, 600, 600)
        with warnings.catch_warnings():
            warnings.simplefilter("error", OverlapWarning)
            found = run_loop("rain", workspace=ws)
    assert [d.action for d in found.decisions][:1] == ["retrain"], found.note
    candidate = registry.get("rain@v2", workspace=ws)
    assert candidate.evaluation_id is not None
    overlap = load_evaluation(ws, candidate.evaluation_id).details["overlap"]
    assert overlap["rows"] > 0, overlap


def test_a_decayed_champion_is_retrained_tested_live_and_replaced(ws: loopml.Workspace) -> None:
    define_loop(rain_loop(), workspace=ws)
    days = weather().slice(LATE_START, 4000)
    with serving(ws) as running:
        first = days.head(2500)
        served = send_days(running, ws, first)
        assert served == {"rain@v1": 2500}
        wait_until_logged(ws, 2500, 2500)
        found = run_loop("rain", workspace=ws)
        actions = [d.action for d in found.decisions]
        assert actions == ["retrain", "deploy"], found.note
        retrain, deployed = found.decisions
        fired = {t["rule"]: t for t in retrain.evidence["triggers"] if t["fired"]}
        assert sorted(fired) == ["decay.baseline", "drift"]  # decay and drift detected
        assert fired["decay.baseline"]["gain_over_baseline"] < 0  # the 1949 model, 1990s
        moved = {d["column"] for d in fired["drift"]["drifted"]}
        assert {"dew_point", "sea_level_pressure"} <= moved  # NOAA's documented drift
        assert deployed.challenger == "rain@v2"
        assert deployed.evidence["candidate"] > deployed.evidence["champion"] + 0.1
        policy = serve.deployment("rain", workspace=ws).policy
        assert {(arm.model, arm.weight) for arm in policy.arms} == {
            ("rain@champion", 0.5),
            ("rain@v2", 0.5),
        }
        pause()
        sent = 0
        for chunk in range(6):  # looks after every 250 days, at most 1,500, a day a request
            part = days.slice(2500 + 250 * chunk, 250)
            served = send_days(running, ws, part, per_request=1)
            sent += part.height
            wait_until_logged(ws, 2500 + sent, 2500 + sent)
            found = run_loop("rain", workspace=ws)
            if found.state == "idle":
                break
        assert [d.action for d in found.decisions][-1:] == ["promote"], found.note
    assert registry.get("rain@champion", workspace=ws).ref == "rain@v2"
    policy = serve.deployment("rain", workspace=ws).policy
    assert [(arm.model, arm.weight) for arm in policy.arms] == [("rain@champion", 1.0)]
    history = [d.action for d in loop_decisions(ws, "rain")]
    assert history[:2] == ["retrain", "deploy"]
    assert history[-1] == "promote"
    assert set(history[2:-1]) <= {"watch"}
    answered = serve.predictions("rain", columns=["prediction_id", "ref"], workspace=ws)
    by_v2 = answered.filter(answered["ref"] == "rain@v2")["prediction_id"][0]
    chain = trace(by_v2, workspace=ws)
    assert chain.prediction["ref"] == "rain@v2"
    assert [(d.action, d.challenger) for d in chain.decisions] == [
        ("deploy", "rain@v2"),
        ("promote", "rain@v2"),
    ]
    assert chain.gate is not None
    assert chain.gate["passed"] is True
    assert chain.feedback[0]["label"] in ("true", "false")
    shown = chain.render()
    assert "read table: dataset rainfall@v2" in shown  # the version the loop made
    assert "read base: dataset rainfall@v1" in shown  # what it added the traffic to
    assert "segment(s) of the predictions log" in shown
    test = loop_decisions(ws, "rain")[-1].evidence["test"]
    assert test["verdict"] == "challenger_better"
    assert test["p_value"] <= 0.05
    # A person rolls the promotion back: their move stands (the loop's act was done).
    registry.rollback("rain", reason="a person says so", workspace=ws)
    define_loop(rain_loop(triggers={"new_labels": 1_000_000}), workspace=ws)
    quiet = run_loop("rain", workspace=ws)
    assert quiet.decisions == ()
    assert registry.get("rain@champion", workspace=ws).ref == "rain@v1"
    assert serve.deployment("rain", workspace=ws).policy == policy
    # Retrained again: on the dataset as it was added by hand, not on the version the
    # loop made (which holds traffic already), with every labelled row but the holdout.
    define_loop(rain_loop(triggers={"new_labels": 1}), workspace=ws)
    again = run_loop("rain", workspace=ws)
    assert [d.action for d in again.decisions][:1] == ["retrain"]
    made = again.decisions[-1].evidence
    assert made["base"] == "rainfall@v1"
    labelled = (2500 + sent) - math.ceil(0.3 * (2500 + sent))
    assert abs(made["labelled_rows"] - labelled) <= 1
    assert loopml.data.get(made["dataset"], workspace=ws).rows == EARLY_DAYS + made["labelled_rows"]


def test_decay_does_not_fire_on_a_champion_that_holds(ws: loopml.Workspace) -> None:
    # (1957's winds already drifted from 1949-1955's: a drift trigger would fire here)
    decay_only = {"decay": {"baseline": True, "min_labelled": 300}}
    define_loop(rain_loop(triggers=decay_only), workspace=ws)
    with serving(ws) as running:
        send_days(running, ws, weather().slice(2555 + 365, 600))  # the years it knows
        wait_until_logged(ws, 600, 600)
        found = run_loop("rain", workspace=ws)
    assert found.state == "idle"
    assert found.decisions == ()
    assert "decay.baseline not fired" in found.note
    assert loop_decisions(ws, "rain") == []


@pytest.fixture
def recent(tmp_path: Path) -> Iterator[loopml.Workspace]:
    """A champion trained on 1983-1988, right about 0.75 of the days of the 1990s."""
    workspace = set_up(tmp_path, first=RECENT_START, days=LATE_START - RECENT_START)
    yield workspace
    workspace.close()


def watch_until_decided(running, ws: loopml.Workspace, days, start: int) -> list[str]:
    """Send the days from ``start`` on in chunks of 250, a day a request (the test
    counts requests), a pass after each, until the loop is idle again; the actions of
    every pass."""
    actions: list[str] = []
    sent = start
    while sent < days.height:
        chunk = days.slice(sent, 250)
        send_days(running, ws, chunk, per_request=1)
        sent += chunk.height
        wait_until_logged(ws, sent, sent)
        found = run_loop("rain", workspace=ws)
        actions += [d.action for d in found.decisions]
        if found.state == "idle":
            break
    return actions


def test_a_model_trained_on_a_corrupted_batch_is_rolled_back(
    recent: loopml.Workspace,
) -> None:
    ws = recent
    define_loop(rain_loop(triggers={"new_labels": 2000}), workspace=ws)
    days = weather().slice(LATE_START, 3500)
    with serving(ws) as running:
        send_days(running, ws, days.head(2000), corrupt=True)  # every label wrong
        wait_until_logged(ws, 2000, 2000)
        found = run_loop("rain", workspace=ws)
        assert [d.action for d in found.decisions] == ["retrain", "deploy"], found.note
        pause()
        actions = watch_until_decided(running, ws, days, 2000)
    assert actions[-1] == "rollback", actions
    assert registry.get("rain@champion", workspace=ws).ref == "rain@v1"
    policy = serve.deployment("rain", workspace=ws).policy
    assert [(arm.model, arm.weight) for arm in policy.arms] == [("rain@champion", 1.0)]
    test = loop_decisions(ws, "rain")[-1].evidence["test"]
    assert test["verdict"] == "champion_better"
    answered = serve.predictions("rain", columns=["prediction_id", "ref"], workspace=ws)
    by_v2 = answered.filter(answered["ref"] == "rain@v2")["prediction_id"][0]
    chain = trace(by_v2, workspace=ws)  # the rolled-back model's answer, traced
    assert [d.action for d in chain.decisions] == ["deploy", "rollback"]


def test_drift_without_decay_retrains_but_promotes_nothing(
    recent: loopml.Workspace,
) -> None:
    ws = recent
    drift_only = {  # the 1990s drift from 1983-1988 (sea level pressure), no decay
        "drift": {"share": 0.1, "every": "1d", "min_rows": 300},
        "decay": {"baseline": True, "min_labelled": 300},
    }
    spec = rain_loop(triggers=drift_only, rollout={"min_lift": 0.05, "max_outcomes": 600})
    define_loop(spec, workspace=ws)
    days = weather().slice(LATE_START, 4000)
    with serving(ws) as running:
        send_days(running, ws, days.head(2000))
        wait_until_logged(ws, 2000, 2000)
        found = run_loop("rain", workspace=ws)
        first = [d.action for d in found.decisions]
        fired = {t["rule"] for t in found.decisions[0].evidence["triggers"] if t["fired"]}
        assert fired == {"drift"}  # drifted, and the champion holds
        actions = first
        if first == ["retrain", "deploy"]:
            pause()
            actions = first + watch_until_decided(running, ws, days, 2000)
    assert "promote" not in actions
    # The challenger, retrained on the drifted days, is held, refused, or loses its
    # test and is rolled back (which requests reach it depends on when the server
    # follows the deployment): never promoted.
    assert actions[-1] in ("keep", "refuse", "rollback"), actions
    assert registry.get("rain@champion", workspace=ws).ref == "rain@v1"


def test_the_continuous_mode_updates_the_champion_unless_it_forgets_too_much(
    ws: loopml.Workspace,
) -> None:
    """A scaler and SGD champion of 1949-1955 learns the 1990s' labelled days
    (partial_fit of its last step): held to forgetting at most 0.02 of its accuracy on
    the years it knew, it is refused (it forgets about 0.2); allowed 0.5, it goes out."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    early = weather().head(EARLY_DAYS).to_pandas()
    features = early.drop(columns="rain")
    sgd = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0))
    sgd.fit(features, early["rain"])
    registry.register(sgd, "rain", signature_from=features, workspace=ws)
    registry.promote("rain@v2", force=True, reason="the model that updates", workspace=ws)
    strict = rain_loop(training="update", pipeline=None, max_forgetting=0.02)
    define_loop(strict, workspace=ws)
    with serving(ws) as running:
        send_days(running, ws, weather().slice(LATE_START, 2500))
        wait_until_logged(ws, 2500, 2500)
    refused = run_loop("rain", workspace=ws)
    assert [d.action for d in refused.decisions] == ["retrain", "refuse"], refused.note
    learnt = refused.decisions[-1].evidence
    assert learnt["training"] == "update"
    assert learnt["forgetting"] > 0.02
    assert learnt["batch_rows"] == 2500 - math.ceil(0.3 * 2500)
    assert "forgot" in refused.decisions[-1].summary

    lenient = rain_loop(
        training="update",
        pipeline=None,
        max_forgetting=0.5,
        update_passes=5,
        triggers={"every": "1s"},
    )
    define_loop(lenient, workspace=ws)
    time.sleep(1.1)
    found = run_loop("rain", workspace=ws)
    assert [d.action for d in found.decisions] == ["retrain", "deploy"], found.note
    deployed = found.decisions[-1]
    assert deployed.evidence["forgetting"] <= 0.5
    assert deployed.evidence["candidate"] > deployed.evidence["champion"]
    version = registry.get(deployed.challenger, workspace=ws)
    made_by = registry.lineage(version.ref, workspace=ws).made_by
    assert made_by is not None
    assert "previous" in [read.role for read in made_by.inputs]  # the model it updated


def test_a_promotion_the_registry_refuses_is_kept_back_and_said(ws: loopml.Workspace) -> None:
    """The loop decided to promote a challenger, and the registry refuses it (here: it
    has no gate decision; in life: someone promoted another version since its gate, so
    it was not weighed against the champion it would replace). The champion stays, the
    refusal is a decision of its own (so the next pass does not try again), and the
    challenger is taken out of the deployment."""
    from sklearn.dummy import DummyClassifier

    from loopml.monitor._decisions import record_decision

    define_loop(rain_loop(), workspace=ws)
    rows = weather().slice(0, 500)
    model = DummyClassifier().fit(rows.drop("rain").to_pandas(), rows["rain"].to_pandas())
    challenger = registry.register(model, "rain", workspace=ws).ref  # gated by no one
    record_decision(ws, "rain", "promote", "the challenger won", champion="rain@v1",
                    challenger=challenger, evidence={}, run_id=None)  # fmt: skip
    found = run_loop("rain", workspace=ws)
    assert registry.get("rain@champion", workspace=ws).ref == "rain@v1"
    kept = loop_decisions(ws, "rain")[-1]
    assert (kept.action, kept.challenger) == ("keep", challenger)
    assert f"{challenger} was not promoted" in kept.summary
    assert "no gate decision" in kept.summary
    assert found.decisions == () or found.decisions[-1].action != "promote"
    again = run_loop("rain", workspace=ws)  # the refusal is not tried again
    assert [d.action for d in loop_decisions(ws, "rain")].count("keep") == 1
    assert again.decisions == ()
