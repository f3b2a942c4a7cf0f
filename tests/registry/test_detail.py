"""model_detail: everything `loopml models show` prints of a version, from the library;
the gate decision found by the names gates give their records; list_models in pages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from gated import judged
from sklearn.linear_model import LogisticRegression

import loopml
from loopml import registry
from loopml.errors import InvalidInput
from loopml.evaluation import gate
from loopml.evaluation._record import store
from loopml.registry import ModelDetail, Page

Fit = Callable[[float], LogisticRegression]


def test_the_detail_of_a_version(ws: loopml.Workspace, fit: Fit) -> None:
    evaluation = judged(ws, 0.95)
    with loopml.start_run("train", workspace=ws) as run:
        loopml.log_metric("accuracy", 0.9)
        loopml.log_metric("accuracy", 0.97)
        registry.register(fit(1.0), "iris", evaluation=evaluation, workspace=ws)
    registry.promote("iris@v1", workspace=ws)
    detail = registry.model_detail("iris@champion", workspace=ws)
    assert isinstance(detail, ModelDetail)
    assert detail.version.ref == "iris@v1"
    assert detail.version.aliases == ("champion",)
    assert detail.made_by == {"id": run.id, "name": "train"}
    assert detail.metrics == {"accuracy": 0.97}  # the run's latest value
    assert detail.evaluation is not None
    assert detail.evaluation["ref"] == "iris.evaluation@v1"
    assert detail.evaluation["metrics"] == {"accuracy": 0.95}
    assert detail.gate is not None
    assert (detail.gate["passed"], detail.gate["ref"]) == (True, "iris.gate@v1")
    assert next(check["name"] for check in detail.gate["checks"]) == "baseline"
    shown = detail.to_dict()
    assert list(shown)[-7:] == [
        "aliases",
        "evaluation",
        "gate",
        "run",
        "metrics",
        "datasets",
        "lineage",
    ]
    assert shown["lineage"]["made_by"]["id"] == run.id


def test_a_version_without_evaluation_run_or_gate(ws: loopml.Workspace, fit: Fit) -> None:
    registry.register(fit(1.0), "iris", workspace=ws)
    detail = registry.model_detail("iris", workspace=ws)
    assert (detail.evaluation, detail.gate, detail.made_by, detail.metrics) == (
        None,
        None,
        None,
        {},
    )


def _evaluated_as(ws: loopml.Workspace, ref: str, accuracy: float) -> None:
    """An evaluation of the registered version ``ref``, stored and gated as one made by
    ``loopml.evaluate(ref, ...)``: its gate decision is named after the version."""
    name, _, version = ref.partition("@")
    found = dataclasses.replace(judged(ws, accuracy), model=ref, artifact_id=None)
    stored = store(ws, found, name=f"{name}.{version}.evaluation", inputs={})
    gate(stored, workspace=ws, stop=False)


def test_the_latest_gate_of_each_version_is_found(ws: loopml.Workspace, fit: Fit) -> None:
    for C in (0.1, 1.0):
        registry.register(fit(C), "iris", evaluation=judged(ws, 0.95), workspace=ws)
    registry.register(fit(2.0), "other", evaluation=judged(ws, 0.9), workspace=ws)
    _evaluated_as(ws, "iris@v2", 0.2)  # fails against the baseline, and is the latest
    gates = {ref: registry.model_detail(ref, workspace=ws).gate for ref in ("iris@v1", "iris@v2")}
    assert gates["iris@v1"] is not None
    assert gates["iris@v1"]["passed"]
    assert gates["iris@v2"] is not None
    assert not gates["iris@v2"]["passed"]
    assert gates["iris@v2"]["ref"] == "iris.v2.gate@v1"
    with pytest.raises(loopml.errors.PromotionRefused, match=r"FAILED on baseline"):
        registry.promote("iris@v2", workspace=ws)
    assert registry.promote("iris@v1", workspace=ws).ref == "iris@v1"


def test_a_gate_kept_under_another_models_name_is_not_this_versions(
    ws: loopml.Workspace, fit: Fit
) -> None:
    evaluation = judged(ws, 0.95)
    registry.register(fit(1.0), "iris", evaluation=evaluation, workspace=ws)
    blob = ws.artifacts.put_bytes(b'{"passed": false, "checks": []}')
    ws.store.create_artifact(  # later, but not named for iris: not read for it
        kind="gate",
        name="elsewhere.gate",
        digest=blob.digest,
        size=blob.size,
        metadata={"passed": False, "evaluation_id": evaluation.artifact_id},
    )
    found = registry.model_detail("iris@v1", workspace=ws).gate
    assert found is not None
    assert (found["ref"], found["passed"]) == ("iris.gate@v1", True)


def test_models_in_pages(ws: loopml.Workspace, fit: Fit) -> None:
    model = fit(1.0)
    for name in ("c", "a", "b"):
        registry.register(model, name, workspace=ws)
    first = registry.list_models(limit=2, workspace=ws)
    assert isinstance(first, Page)
    assert [found.name for found in first.items] == ["a", "b"]
    registry.register(model, "aa", workspace=ws)  # before the cursor: not listed after it
    registry.register(fit(2.0), "c", workspace=ws)
    second = registry.list_models(limit=2, cursor=first.next_cursor, workspace=ws)
    assert [(found.name, found.count) for found in second.items] == [("c", 2)]
    assert second.next_cursor is None
    everything = registry.list_models(workspace=ws)
    assert [found.name for found in everything.items] == ["a", "aa", "b", "c"]
    assert everything.next_cursor is None
    # each entry as models() gives it, aliases to older versions included
    ws.store.set_alias("champion", ws.store.get_artifact_version("model", "c", 1).id)
    ws.store.set_alias("latest-good", ws.store.latest_artifact("model", "a").id)
    listed = registry.list_models(workspace=ws).items
    assert listed == sorted(registry.models(workspace=ws), key=lambda found: found.name)
    assert listed[-1].aliases == {"champion": 1}


def test_a_cursor_of_another_listing_is_refused(ws: loopml.Workspace, fit: Fit) -> None:
    for name in ("a", "b"):
        registry.register(fit(1.0), name, workspace=ws)
        ws.store.create_run(kind="training", name=name)
    runs = loopml.tracking.search_runs(limit=1, workspace=ws)
    assert runs.next_cursor is not None
    for cursor in (runs.next_cursor, "not-a-cursor"):
        with pytest.raises(InvalidInput) as error:
            registry.list_models(limit=1, cursor=cursor, workspace=ws)
        assert error.value.field == "cursor"
    with pytest.raises(InvalidInput) as error:
        registry.list_models(limit=0, workspace=ws)
    assert error.value.field == "limit"
