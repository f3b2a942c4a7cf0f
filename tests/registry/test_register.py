"""register: a model saved as the next version of a name, with its signature, its run,
its evaluation and an alias; bad input refused before anything is recorded."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from gated import judged
from sklearn.linear_model import LogisticRegression

import loopml
from loopml import registry
from loopml.errors import InvalidInput, NotFound
from loopml.models import load_model
from loopml.store import Artifact
from loopml.workspace import record_version

Fit = Callable[[float], LogisticRegression]
Iris = tuple[pd.DataFrame, pd.Series]


def evaluation_of(ws: loopml.Workspace, name: str = "iris") -> Artifact:
    """An evaluation artifact as loopml.evaluation records one: JSON bytes, kind evaluation."""
    blob = ws.artifacts.put_bytes(b'{"task": "classification", "metrics": {"accuracy": 0.97}}')
    return record_version(ws, blob.digest, blob.size, kind="evaluation", name=name)


def test_a_registered_model_keeps_signature_evaluation_and_libraries(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    model = fit(1.0)
    evaluation = evaluation_of(ws)
    version = registry.register(
        model, "iris", evaluation=evaluation, signature_from=X, workspace=ws
    )
    assert (version.ref, version.name, version.version) == ("iris@v1", "iris", 1)
    assert version.flavor == "sklearn"
    assert version.evaluation_id == evaluation.id
    assert version.signature is not None
    assert version.signature.names == list(X.columns)
    assert "sklearn" in version.libraries
    assert version.aliases == ()
    assert version.to_dict()["evaluation_id"] == evaluation.id
    back = load_model(version.ref, workspace=ws)
    assert (back.predict(X) == model.predict(X)).all()
    assert registry.get("iris@latest", workspace=ws) == version


def test_the_evaluation_may_be_given_by_id(ws: loopml.Workspace, fit: Fit) -> None:
    evaluation = evaluation_of(ws)
    version = registry.register(fit(1.0), "iris", evaluation=evaluation.id, workspace=ws)
    assert version.evaluation_id == evaluation.id


def test_a_bad_evaluation_registers_nothing(ws: loopml.Workspace, fit: Fit) -> None:
    dataset = ws.store.create_artifact(kind="dataset", name="flowers", digest="ab" * 32, size=1)
    with pytest.raises(InvalidInput, match=r"dataset flowers@v1 is not an evaluation"):
        registry.register(fit(1.0), "iris", evaluation=dataset, workspace=ws)
    with pytest.raises(NotFound, match=r"no evaluation with id 'gone'"):
        registry.register(fit(1.0), "iris", evaluation="gone", workspace=ws)
    with pytest.raises(InvalidInput, match="neither an evaluation artifact nor its id"):
        registry.register(fit(1.0), "iris", evaluation=42, workspace=ws)  # type: ignore[arg-type]
    assert ws.store.find_artifacts(kind="model") == []


@pytest.mark.parametrize("alias", ["previous", "v3", "latest", "", "two words"])
def test_a_bad_alias_registers_nothing(ws: loopml.Workspace, fit: Fit, alias: str) -> None:
    with pytest.raises(InvalidInput, match="alias"):
        registry.register(fit(1.0), "iris", alias=alias, workspace=ws)
    assert ws.store.find_artifacts(kind="model") == []


def test_registering_as_champion_promotes(ws: loopml.Workspace, fit: Fit) -> None:
    judged_first = judged(ws, 0.9)
    first = registry.register(
        fit(0.1), "iris", evaluation=judged_first, alias="champion", reason="first", workspace=ws
    )
    assert first.aliases == ("champion",)
    # Against the champion now: the gate is given its evaluation.
    better = judged(ws, 0.95, champion=judged_first)
    second = registry.register(fit(1.0), "iris", evaluation=better, alias="champion", workspace=ws)
    assert second.aliases == ("champion",)
    assert [(v.ref, v.aliases) for v in registry.versions("iris", workspace=ws)] == [
        ("iris@v1", ("previous",)),
        ("iris@v2", ("champion",)),
    ]


def test_registering_with_another_alias_just_moves_it(ws: loopml.Workspace, fit: Fit) -> None:
    registry.register(fit(0.1), "iris", evaluation=judged(ws), alias="champion", workspace=ws)
    challenger = registry.register(
        fit(1.0), "iris", alias="challenger", reason="retrained on May data", workspace=ws
    )
    assert challenger.aliases == ("challenger",)
    [move] = [m for m in registry.history("iris", workspace=ws) if m.alias == "challenger"]
    assert (move.action, move.to_version, move.reason) == ("set", 2, "retrained on May data")
    assert registry.get("iris@champion", workspace=ws).version == 1


def test_the_same_bytes_again_give_the_same_version(ws: loopml.Workspace, fit: Fit) -> None:
    model = fit(1.0)
    first = registry.register(model, "iris", workspace=ws)
    again = registry.register(model, "iris", workspace=ws)
    assert again.ref == first.ref == "iris@v1"


def test_a_model_registered_in_a_run_is_linked_to_it(ws: loopml.Workspace, fit: Fit) -> None:
    with loopml.start_run("fit-iris", workspace=ws, params={"C": 0.5}) as run:
        loopml.log_metric("accuracy", 0.97)
        version = registry.register(fit(0.5), "iris", workspace=ws)
    made_by = registry.lineage(version.ref, workspace=ws).made_by
    assert made_by is not None
    assert (made_by.id, made_by.name, made_by.params) == (run.id, "fit-iris", {"C": 0.5})


def test_an_artifact_that_is_not_a_model_is_refused(ws: loopml.Workspace) -> None:
    blob = ws.artifacts.put_bytes(b"a,b\n1,2\n")
    table = record_version(
        ws, blob.digest, blob.size, kind="output", name="t", metadata={"format": "csv"}
    )
    with pytest.raises(InvalidInput, match=r"output t@v1 does not hold a model"):
        registry.register(table, "iris", workspace=ws)
    assert ws.store.find_artifacts(kind="model") == []


def test_a_bad_model_name_is_refused(ws: loopml.Workspace, fit: Fit) -> None:
    with pytest.raises(InvalidInput, match=r"model name '\.\./x'"):
        registry.register(fit(1.0), "../x", workspace=ws)


def test_bad_input_names_the_argument_that_holds_it(ws: loopml.Workspace, fit: Fit) -> None:
    model = fit(1.0)
    registry.register(model, "iris", workspace=ws)
    ws.store.create_artifact(kind="dataset", name="flowers", digest="ab" * 32, size=1)
    blob = ws.artifacts.put_bytes(b"a,b\n1,2\n")
    table = record_version(
        ws, blob.digest, blob.size, kind="output", name="t", metadata={"format": "csv"}
    )
    calls: dict[str, Callable[[], object]] = {
        "name": lambda: registry.register(model, "../x", workspace=ws),
        "alias": lambda: registry.register(model, "iris", alias="previous", workspace=ws),
        "evaluation": lambda: registry.register(model, "iris", evaluation=4, workspace=ws),  # type: ignore[arg-type]
        "serve": lambda: registry.register(model, "iris", serve="gpu", workspace=ws),
        "model": lambda: registry.register(table, "iris", workspace=ws),
        "ref": lambda: registry.get("flowers", workspace=ws),  # a dataset, not a model
        "after": lambda: registry.diff("iris@v1", "iris@", workspace=ws),
        "reason": lambda: registry.promote("iris@v1", force=True, workspace=ws),
        "metadata": lambda: loopml.models.save_model(
            model, "other", metadata={"flavor": "x"}, workspace=ws
        ),
    }
    for field, call in calls.items():
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field, caught.value
    with pytest.raises(InvalidInput, match="moves only by promotion") as caught:
        registry.set_alias("iris@v1", "champion", workspace=ws)
    assert caught.value.to_dict()["field"] == "alias"
    with pytest.raises(InvalidInput, match="ends with '@'") as caught:
        load_model("iris@", workspace=ws)
    assert caught.value.field == "ref"
    with pytest.raises(InvalidInput, match="reference None is not text") as caught:
        load_model(None, workspace=ws)  # type: ignore[arg-type]
    assert caught.value.field == "ref"
    assert [v.version for v in registry.versions("iris", workspace=ws)] == [1]
