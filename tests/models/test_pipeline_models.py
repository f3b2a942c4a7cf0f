"""A pipeline step that returns a model: stored through its flavor (format ``model``),
not the pickle fallback, and loaded back through it for the next step and on demand;
a model its flavor refuses still falls back to the named pickle, saying why."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

import loopml
from loopml._serialize import FORMATS, load, save
from loopml.artifacts import ArtifactStore
from loopml.pipeline import load_pipeline

PIPELINE = """
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import loopml

@loopml.step
def train(C: float = 1.0) -> LogisticRegression:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(C=C, max_iter=500).fit(X, y)

@loopml.step
def score(model: LogisticRegression) -> float:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return float(model.score(X, y))

@loopml.pipeline
def iris(C: float = 1.0):
    return score(train(C=C))
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    yield folder
    sys.modules.pop("loopml_user_pipelines", None)
    sys.path[:] = [p for p in sys.path if p != str(folder)]


def test_a_step_returning_a_sklearn_model_is_stored_through_its_flavor(
    tmp_path: Path, project: Path
) -> None:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as ws:
        pipeline = load_pipeline(f"{project / 'pipelines.py'}:iris")
        result = pipeline.run(workspace=ws, echo=False)
        assert result.value > 0.9
        artifact = result.step("train").output
        assert artifact is not None
        meta = artifact.metadata
        assert (meta["format"], meta["flavor"], meta["serialization"]) == (
            "model",
            "sklearn",
            "pickle",
        )
        assert "fallback" not in meta
        assert meta["python_type"] == "sklearn.linear_model._logistic.LogisticRegression"
        assert meta["libraries"]["sklearn"] == sys.modules["sklearn"].__version__

        model = result.output("train")
        X, y = load_iris(return_X_y=True, as_frame=True)
        assert model.score(X, y) == result.value
        # a cached re-run loads nothing and reuses the stored model
        again = pipeline.run(workspace=ws, echo=False)
        assert [step.status for step in again.steps] == ["cached", "cached"]


def test_a_model_its_flavor_refuses_falls_back_to_the_named_pickle(tmp_path: Path) -> None:
    from torch_zoo import OpaqueNet, TinyNet

    store = ArtifactStore(tmp_path / "a")
    saved = save(OpaqueNet(3), store)
    assert saved.format == "pickle"
    assert saved.metadata["why"].startswith("the torch flavor cannot store it: torch module ")
    assert "width" in saved.metadata["why"]

    net = TinyNet(n_features=4)
    stored = save(net, store)
    assert (stored.format, stored.metadata["flavor"]) == ("model", "torch")
    assert stored.format in FORMATS
    back = load(stored.format, stored.digest, store, stored.metadata)
    assert type(back) is TinyNet
    assert back.state_dict().keys() == net.state_dict().keys()
