"""promote, rollback and history: the champion moves, the one it leaves is kept as
`previous`, every move is in the history with who made it and why, and what cannot be
done says so. A version whose gate failed, or that has none, is promoted only with
force and a reason."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from gated import judged
from sklearn.linear_model import LogisticRegression

import loopml
from loopml import registry
from loopml.errors import InvalidInput, NotFound, PromotionRefused

Fit = Callable[[float], LogisticRegression]


@pytest.fixture
def three(ws: loopml.Workspace, fit: Fit) -> list[str]:
    """Model `iris` with three versions, each registered with an evaluation whose gate
    passed, and no aliases."""
    return [
        registry.register(fit(C), "iris", evaluation=judged(ws, score), workspace=ws).ref
        for C, score in ((0.1, 0.9), (1.0, 0.93), (10.0, 0.96))
    ]


def moves(ws: loopml.Workspace) -> list[tuple[str, int | None, int | None, str, str | None]]:
    return [
        (m.alias, m.from_version, m.to_version, m.actor, m.reason)
        for m in registry.history("iris", workspace=ws)
    ]


def test_promote_twice_then_roll_back(
    ws: loopml.Workspace, three: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "ana")
    registry.promote("iris@v1", reason="first model", workspace=ws)
    promoted = registry.promote("iris@v3", reason="better on May data", workspace=ws)
    assert (promoted.ref, promoted.aliases) == ("iris@v3", ("champion",))
    monkeypatch.setenv("LOGNAME", "bob")
    champion = registry.rollback("iris", reason="p99 latency doubled", workspace=ws)
    assert (champion.ref, champion.aliases) == ("iris@v1", ("champion",))
    assert registry.get("iris@champion", workspace=ws).ref == "iris@v1"
    assert registry.get("iris@previous", workspace=ws).ref == "iris@v3"
    assert moves(ws) == [
        ("previous", 1, 3, "bob", "p99 latency doubled"),
        ("champion", 3, 1, "bob", "p99 latency doubled"),
        ("champion", 1, 3, "ana", "better on May data"),
        ("previous", None, 1, "ana", "better on May data"),
        ("champion", None, 1, "ana", "first model"),
    ]
    actions = [m.action for m in registry.history("iris", workspace=ws)]
    assert actions == ["moved", "moved", "moved", "set", "set"]


def test_a_second_rollback_undoes_the_first(ws: loopml.Workspace, three: list[str]) -> None:
    registry.promote("iris@v1", workspace=ws)
    registry.promote("iris@v2", workspace=ws)
    assert registry.rollback("iris", workspace=ws).ref == "iris@v1"
    assert registry.rollback("iris", workspace=ws).ref == "iris@v2"
    assert registry.get("iris@previous", workspace=ws).ref == "iris@v1"


def test_an_actor_may_be_named(ws: loopml.Workspace, three: list[str]) -> None:
    registry.promote("iris@v2", actor="loop-controller", reason="gate passed", workspace=ws)
    assert moves(ws) == [("champion", None, 2, "loop-controller", "gate passed")]


def test_promoting_the_champion_again_changes_nothing(
    ws: loopml.Workspace, three: list[str]
) -> None:
    registry.promote("iris@v2", workspace=ws)
    again = registry.promote("iris@champion", reason="again", workspace=ws)
    assert again.ref == "iris@v2"
    assert len(registry.history("iris", workspace=ws)) == 1
    with pytest.raises(NotFound):
        registry.get("iris@previous", workspace=ws)


def test_rollback_needs_a_champion_and_a_previous(ws: loopml.Workspace, three: list[str]) -> None:
    with pytest.raises(NotFound, match=r"'iris' has no champion to roll back from.*promote"):
        registry.rollback("iris", workspace=ws)
    registry.promote("iris@v1", workspace=ws)
    with pytest.raises(NotFound, match=r"no previous champion.*iris@v1 is the only one"):
        registry.rollback("iris", workspace=ws)
    assert registry.get("iris@champion", workspace=ws).ref == "iris@v1"
    assert len(registry.history("iris", workspace=ws)) == 1


def test_a_rollback_stopped_halfway_is_not_repeated(ws: loopml.Workspace, three: list[str]) -> None:
    registry.promote("iris@v1", workspace=ws)
    registry.promote("iris@v2", workspace=ws)
    # what a crash between the two moves of a rollback leaves: both on the target
    ws.store.set_alias("champion", registry.get("iris@v1", workspace=ws).artifact.id)
    with pytest.raises(NotFound, match=r"previous is the champion, iris@v1, too.*history iris"):
        registry.rollback("iris", workspace=ws)
    assert registry.get("iris@champion", workspace=ws).ref == "iris@v1"


def test_unknown_models_and_refs_say_what_to_do(ws: loopml.Workspace, three: list[str]) -> None:
    ws.store.create_artifact(kind="dataset", name="flowers", digest="ab" * 32, size=1)
    with pytest.raises(NotFound, match=r"no model named 'ghost'.*loopml models list"):
        registry.promote("ghost@v1", workspace=ws)
    with pytest.raises(InvalidInput, match=r"flowers@v1 is not a model: 'flowers' names a dataset"):
        registry.promote("flowers@v1", workspace=ws)
    with pytest.raises(NotFound, match=r"v9.*latest is v3.*loopml models list iris"):
        registry.promote("iris@v9", workspace=ws)
    with pytest.raises(NotFound, match=r"no alias 'best'"):
        registry.get("iris@best", workspace=ws)
    with pytest.raises(NotFound, match="ghost"):
        registry.rollback("ghost", workspace=ws)
    with pytest.raises(NotFound, match="ghost"):
        registry.history("ghost", workspace=ws)
    assert registry.history("iris", workspace=ws) == []


def test_champion_and_previous_move_only_by_promotion(
    ws: loopml.Workspace, three: list[str]
) -> None:
    for alias in ("champion", "previous"):
        with pytest.raises(InvalidInput, match="promotion and rollback"):
            registry.set_alias("iris@v1", alias, workspace=ws)
    staged = registry.set_alias("iris@v3", "staging", reason="load test", workspace=ws)
    assert staged.aliases == ("staging",)


def test_versions_and_models_show_the_aliases(
    ws: loopml.Workspace, three: list[str], fit: Fit
) -> None:
    registry.promote("iris@v1", workspace=ws)
    registry.promote("iris@v2", workspace=ws)
    registry.register(fit(0.5), "other", workspace=ws)
    assert [(v.ref, v.aliases) for v in registry.versions("iris", workspace=ws)] == [
        ("iris@v1", ("previous",)),
        ("iris@v2", ("champion",)),
        ("iris@v3", ()),
    ]
    listed = registry.models(workspace=ws)
    assert [(m.name, m.count, m.latest.ref, m.aliases) for m in listed] == [
        ("iris", 3, "iris@v3", {"champion": 2, "previous": 1}),
        ("other", 1, "other@v1", {}),
    ]


# -- the gate before promotion ------------------------------------------------------------


def test_a_version_whose_gate_failed_is_refused_naming_the_checks(
    ws: loopml.Workspace, fit: Fit
) -> None:
    worse = judged(ws, accuracy=0.2)  # below the baseline's 0.33: the gate fails
    version = registry.register(fit(1.0), "iris", evaluation=worse, workspace=ws)
    with pytest.raises(PromotionRefused) as refused:
        registry.promote(version.ref, workspace=ws)
    assert str(refused.value) == (
        "iris@v1 was not made the champion: its gate decision FAILED on baseline (gate 1 for "
        "iris (iris.gate@v1)); gate it and register it with that evaluation, or promote it "
        "anyway with --force --reason TEXT (in Python: force=True, reason=TEXT), which the "
        "alias history keeps"
    )
    assert registry.history("iris", workspace=ws) == []


def test_a_forced_promotion_is_recorded_with_its_reason(
    ws: loopml.Workspace, three: list[str], fit: Fit
) -> None:
    registry.promote("iris@v1", reason="first model", workspace=ws)
    failed = judged(ws, accuracy=0.2)
    registry.register(fit(0.5), "iris", evaluation=failed, workspace=ws)  # iris@v4
    with pytest.raises(InvalidInput, match=r"--force needs --reason to promote iris@v4.*FAILED"):
        registry.promote("iris@v4", force=True, workspace=ws)
    assert registry.get("iris@champion", workspace=ws).ref == "iris@v1"
    promoted = registry.promote(
        "iris@v4", force=True, reason="the old one leaks memory", actor="ana", workspace=ws
    )
    assert promoted.aliases == ("champion",)
    why = "forced past a failed gate (baseline, champion, slices): the old one leaks memory"
    assert moves(ws)[:2] == [("champion", 1, 4, "ana", why), ("previous", None, 1, "ana", why)]
    # Rolling back returns to a champion promoted before: it needs no gate of its own.
    assert registry.rollback("iris", reason="it leaks too", workspace=ws).ref == "iris@v1"


def test_an_ungated_version_is_refused_and_a_passed_one_promoted(
    ws: loopml.Workspace, fit: Fit
) -> None:
    ungated = registry.register(fit(0.1), "iris", workspace=ws)
    with pytest.raises(
        PromotionRefused, match=r"iris@v1 was not made the champion: it has no gate"
    ):
        registry.promote(ungated.ref, workspace=ws)
    unjudged = registry.register(fit(1.0), "iris", evaluation=_stored_only(ws), workspace=ws)
    with pytest.raises(PromotionRefused, match=r"no gate was run on its evaluation 1 for iris"):
        registry.promote(unjudged.ref, workspace=ws)
    passed = registry.register(fit(10.0), "iris", evaluation=judged(ws), workspace=ws)
    assert registry.promote(passed.ref, reason="gate passed", workspace=ws).aliases == ("champion",)
    forced = registry.promote(ungated.ref, force=True, reason="a test", workspace=ws)
    assert forced.ref == "iris@v1"
    assert moves(ws)[0][4] == "forced without a gate decision: a test"


def test_the_latest_gate_decision_counts(ws: loopml.Workspace, fit: Fit) -> None:
    evaluation = judged(ws)
    version = registry.register(fit(1.0), "iris", evaluation=evaluation, workspace=ws)
    loopml.gate(evaluation, {"baseline_margin": 5.0}, workspace=ws, stop=False)  # fails now
    with pytest.raises(PromotionRefused, match=r"FAILED on baseline \(gate 2 for iris"):
        registry.promote(version.ref, workspace=ws)


def test_registering_as_champion_needs_a_passed_gate_first(ws: loopml.Workspace, fit: Fit) -> None:
    with pytest.raises(PromotionRefused, match="the new version of iris was not made the champ"):
        registry.register(fit(0.1), "iris", alias="champion", workspace=ws)
    with pytest.raises(PromotionRefused, match="FAILED on baseline"):
        registry.register(
            fit(0.1), "iris", evaluation=judged(ws, 0.2), alias="champion", workspace=ws
        )
    assert ws.store.find_artifacts(kind="model") == []  # nothing registered
    forced = registry.register(
        fit(0.1), "iris", alias="champion", force=True, reason="a demo", workspace=ws
    )
    assert forced.aliases == ("champion",)


def test_a_gate_recorded_under_the_old_name_still_counts(ws: loopml.Workspace, fit: Fit) -> None:
    """A workspace written before records were named after their version: the gate
    decision of evaluation E was kind `gate`, named after the model."""
    evaluation = judged(ws)
    (new,) = ws.store.find_artifacts(kind="gate")
    decision = loopml.gate(evaluation, record=False, workspace=ws)
    blob = ws.artifacts.put_bytes(json.dumps(decision.to_dict()).encode())
    old = {"passed": True, "primary": "accuracy", "candidate": None}
    ws.store.create_artifact(
        kind="gate",
        name="iris",
        digest=blob.digest,
        size=blob.size,
        metadata={**old, "evaluation_id": evaluation.artifact_id},
    )
    version = registry.register(fit(1.0), "iris", evaluation=evaluation, workspace=ws)
    assert registry.promote(version.ref, workspace=ws).aliases == ("champion",)
    assert new.name == "iris.gate"


def _stored_only(ws: loopml.Workspace) -> object:
    """An evaluation stored with no gate run on it."""
    return judged(ws, 0.9, record=False)


def test_a_gate_against_a_champion_since_replaced_does_not_promote(
    ws: loopml.Workspace, fit: Fit
) -> None:
    """Known answer: v2 passed its gate against v1; v3 (much better) was promoted since;
    promoting v2 would replace v3 on a comparison with v1 alone, so it is refused,
    unless forced with a reason, which the history keeps."""
    import dataclasses

    v1 = registry.register(fit(0.1), "iris", evaluation=judged(ws, 0.60), workspace=ws).ref
    registry.promote(v1, workspace=ws)
    first = dataclasses.replace(judged(ws, 0.60), model="iris@v1")  # the champion's
    against_v1 = [judged(ws, score, champion=first) for score in (0.70, 0.99)]
    v2, v3 = (
        registry.register(fit(C), "iris", evaluation=gated, workspace=ws).ref
        for C, gated in zip((1.0, 10.0), against_v1, strict=True)
    )
    registry.promote(v3, workspace=ws)  # gated against v1, the champion it replaces
    with pytest.raises(
        PromotionRefused, match="weighed it against iris@v1, but the champion is now iris@v3"
    ):
        registry.promote(v2, workspace=ws)
    assert registry.get("iris@champion", workspace=ws).ref == "iris@v3"
    registry.promote(v2, force=True, reason="by hand", workspace=ws)
    assert moves(ws)[0][4] == "forced past a gate against another champion: by hand"


def test_registering_as_champion_on_a_gate_against_an_earlier_champion_stores_nothing(
    ws: loopml.Workspace, fit: Fit
) -> None:
    """As promote: a gate that weighed the new version against iris@v1, when iris@v2 is
    the champion now, is refused before anything is stored."""
    import dataclasses

    v1 = registry.register(fit(0.1), "iris", evaluation=judged(ws, 0.60), workspace=ws).ref
    registry.promote(v1, workspace=ws)
    first = dataclasses.replace(judged(ws, 0.60), model="iris@v1")
    against_v1 = judged(ws, 0.70, champion=first)
    v2 = registry.register(
        fit(1.0), "iris", evaluation=judged(ws, 0.99, champion=first), workspace=ws
    )
    registry.promote(v2.ref, workspace=ws)
    with pytest.raises(
        PromotionRefused, match="weighed it against iris@v1, but the champion is now iris@v2"
    ):
        registry.register(fit(10.0), "iris", evaluation=against_v1, alias="champion", workspace=ws)
    assert [v.ref for v in registry.versions("iris", workspace=ws)] == ["iris@v1", "iris@v2"]
