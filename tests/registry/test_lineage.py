"""lineage: from a model version back through the pipeline steps that made it to the
dataset version they read, with each run's parameters, code and environment."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import loopml
from loopml import registry
from loopml.pipeline import Pipeline, load_pipeline

PIPELINE = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
import loopml
from loopml import registry

@loopml.step
def split(table: pd.DataFrame, share: float = 0.25) -> pd.DataFrame:
    held = table.sample(frac=share, random_state=0).index
    return table.assign(fold=["val" if i in held else "train" for i in table.index])

@loopml.step
def train(rows: pd.DataFrame, C: float = 1.0) -> LogisticRegression:
    fit = rows[rows.fold == "train"]
    X = fit.drop(columns=["target", "fold"])
    model = LogisticRegression(C=C, max_iter=1000).fit(X, fit["target"])
    loopml.log_metric("train_accuracy", model.score(X, fit["target"]))
    registry.register(model, "iris", signature_from=X, alias="challenger", reason="trained")
    return model

@loopml.pipeline
def iris(data: str = "flowers@latest", C: float = 1.0):
    return train(split(loopml.data.get(data)), C=C)
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    yield load_pipeline(f"{folder / 'pipelines.py'}:iris")
    sys.modules.pop("loopml_user_pipelines", None)
    sys.path[:] = [p for p in sys.path if p != str(folder)]


@pytest.fixture
def flowers(ws: loopml.Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> str:
    """Dataset `flowers`: iris with its target, as v1."""
    X, y = iris
    return loopml.data.add(X.assign(target=y), name="flowers", workspace=ws).ref


def test_a_model_made_by_a_step_leads_back_to_its_dataset_version(
    ws: loopml.Workspace, pipeline: Pipeline, flowers: str
) -> None:
    result = pipeline.run(workspace=ws, echo=False, C=0.5)
    trail = registry.lineage("iris@challenger", workspace=ws)
    assert trail.ref == "iris@v1"
    assert trail.datasets() == [flowers] == ["flowers@v1"]
    train = trail.made_by
    assert train is not None
    assert (train.id, train.name, train.kind, train.status) == (
        result.step("train").run_id,
        "iris/train",
        "step",
        "succeeded",
    )
    assert train.params == {"C": 0.5}
    assert train.fingerprint is not None
    assert len(train.fingerprint) == 64
    assert train.python == f"{sys.version_info.major}.{sys.version_info.minor}." + str(
        sys.version_info.micro
    )
    assert train.packages > 10
    [rows] = train.inputs
    assert (rows.role, rows.kind) == ("rows", "output")
    split = rows.made_by
    assert split is not None
    assert (split.name, split.params) == ("iris/split", {"share": 0.25})
    [table] = split.inputs
    assert (table.role, table.kind, table.ref, table.made_by) == ("table", "dataset", flowers, None)
    assert [run.name for run in trail.runs()] == ["iris/train", "iris/split"]


def test_lineage_renders_and_serializes(
    ws: loopml.Workspace, pipeline: Pipeline, flowers: str
) -> None:
    pipeline.run(workspace=ws, echo=False)
    trail = registry.lineage("iris@v1", workspace=ws)
    text = trail.render()
    assert text.splitlines()[0] == "model iris@v1"
    assert "made by run" in text
    assert "iris/train (step, succeeded)" in text
    assert "params: C=1.0" in text
    assert "read table: dataset flowers@v1" in text
    assert "environment: python" in text
    plain = trail.to_dict()
    split = plain["made_by"]["inputs"][0]["made_by"]
    assert split["inputs"][0] == {
        "role": "table",
        "kind": "dataset",
        "ref": "flowers@v1",
        "artifact_id": ws.store.latest_artifact("dataset", "flowers").id,
        "made_by": None,
    }


def test_a_step_output_registered_afterwards_keeps_its_lineage(
    ws: loopml.Workspace, pipeline: Pipeline, flowers: str
) -> None:
    result = pipeline.run(workspace=ws, echo=False)
    output = result.step("train").output
    assert output is not None
    version = registry.register(output, "iris-from-output", workspace=ws)
    assert (version.ref, version.flavor) == ("iris-from-output@v1", "sklearn")
    assert version.artifact.digest == output.digest
    trail = registry.lineage(version.ref, workspace=ws)
    assert trail.made_by is not None
    assert trail.made_by.id == result.step("train").run_id
    assert trail.datasets() == ["flowers@v1"]
    model = loopml.models.load_model(version.ref, workspace=ws)
    assert isinstance(model, LogisticRegression)


def test_a_model_saved_outside_any_run_has_no_lineage(
    ws: loopml.Workspace, fit: Callable[[float], LogisticRegression]
) -> None:
    registry.register(fit(1.0), "loose", workspace=ws)
    trail = registry.lineage("loose", workspace=ws)
    assert trail.made_by is None
    assert trail.datasets() == []
    assert "saved outside any run" in trail.render()


def test_a_run_in_a_start_run_block_that_read_a_dataset(
    ws: loopml.Workspace, fit: Callable[[float], LogisticRegression], flowers: str
) -> None:
    with loopml.start_run("notebook-fit", workspace=ws, params={"C": 2.0}):
        loopml.data.get("flowers", workspace=ws)  # reading it makes it an input of the run
        registry.register(fit(2.0), "iris", workspace=ws)
    trail = registry.lineage("iris", workspace=ws)
    assert trail.made_by is not None
    assert (trail.made_by.name, trail.made_by.params) == ("notebook-fit", {"C": 2.0})
    assert trail.datasets() == ["flowers@v1"]


def test_a_dataset_version_added_in_a_run_is_that_runs_output(
    ws: loopml.Workspace, iris: tuple[pd.DataFrame, pd.Series], flowers: str
) -> None:
    from loopml.store import Direction

    X, y = iris
    with loopml.start_run("clean", workspace=ws) as run:
        loopml.data.get(flowers, workspace=ws)
        cleaned = loopml.data.add(X.assign(target=y).head(100), name="clean", workspace=ws)
    made = [(e.artifact_id, e.direction, e.role) for e in ws.store.events(run_id=run.id)]
    assert (cleaned.artifact.id, Direction.OUTPUT, "dataset") in made
    read = loopml.data.get(flowers, workspace=ws).artifact.id
    assert (read, Direction.INPUT, "dataset") in [(a, d, r[: len("dataset")]) for a, d, r in made]
    assert [e.direction for e in ws.store.events(artifact_id=read)] == [Direction.INPUT]
