"""Where a baseline is recorded, as docs/baselines.md says: on the run of every
evaluation, scored on the same rows as the model; not on the run of a step that only
trains a model."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

import loopml
from loopml.pipeline import load_pipeline
from loopml.training import baseline

PIPELINE = """
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import loopml


@loopml.step
def rows(part: str) -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True).frame
    return data.iloc[::2] if part == "train" else data.iloc[1::2]


@loopml.step
def fit(train: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression(max_iter=5000).fit(train.drop(columns="target"), train["target"])


@loopml.step
def judge(model: LogisticRegression, holdout: pd.DataFrame, train: pd.DataFrame) -> dict:
    result = loopml.evaluate(model, holdout, label="target", train=train)
    return {"model": result.metrics["accuracy"], "baseline": result.baseline["accuracy"]}


@loopml.pipeline
def cancer():
    train = rows("train")
    return judge(fit(train), rows("holdout"), train)
"""


@pytest.fixture
def cancer(tmp_path: Path):
    (tmp_path / "cancer.py").write_text(textwrap.dedent(PIPELINE))
    yield load_pipeline(f"{tmp_path / 'cancer.py'}:cancer")
    sys.modules.pop("loopml_user_cancer", None)


def test_an_evaluation_records_the_baseline_on_its_run_and_training_does_not(
    cancer, tmp_path: Path
) -> None:
    data = load_breast_cancer(as_frame=True).frame
    train, holdout = data.iloc[::2], data.iloc[1::2]
    expected = baseline("classification", train["target"], strategy="prior")
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as ws:
        result = cancer.run(workspace=ws, echo=False)
        logged = {
            step.name: ws.store.latest_metrics([step.run_id]).get(step.run_id, {})
            for step in result.steps
        }
    judged = logged["judge"]
    assert judged["baseline.accuracy"] == pytest.approx(
        expected.metrics(holdout["target"])["accuracy"]
    )
    assert judged["baseline.accuracy"] == pytest.approx(
        float((holdout["target"] == 1).mean())  # the majority class of the training rows
    )
    assert judged["eval.accuracy"] > judged["baseline.accuracy"]
    assert result.value == {
        "model": judged["eval.accuracy"],
        "baseline": judged["baseline.accuracy"],
    }
    assert not [key for key in logged["fit"] if key.startswith("baseline.")]


def test_the_docs_claim_what_the_test_above_shows() -> None:
    """docs/baselines.md once said every training step scores and logs a baseline, which
    nothing did: it must say where baselines are recorded, as the test above checks."""
    docs = (Path(__file__).parents[2] / "docs" / "baselines.md").read_text(encoding="utf-8")
    assert "Every training step scores" not in docs
    assert "records no baseline by itself" in docs
    assert "**Every evaluation.**" in docs
