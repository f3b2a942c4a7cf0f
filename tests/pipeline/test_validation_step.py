"""A validation step that fails stops the pipeline before training and raises an alert."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import loopml
from loopml.errors import ValidationFailed
from loopml.pipeline import load_pipeline
from loopml.store import RunStatus, Severity

PIPELINE = """
import polars as pl
import loopml

@loopml.step
def train(table: pl.DataFrame) -> dict:
    return {"rows": table.height, "mean": float(table["x"].mean())}

@loopml.pipeline
def guarded(data: str = "sales@latest"):
    return train(loopml.validated(loopml.data.get(data)))
"""


def table(rows: int, missing: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = pl.Series("x", rng.normal(0, 1, rows))
    gaps = pl.Series(rng.random(rows) < missing)
    return pl.DataFrame({"id": range(rows), "x": x.set(gaps, None)})


@pytest.fixture
def setup(tmp_path: Path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "guarded.py").write_text(textwrap.dedent(PIPELINE))
    with loopml.init(tmp_path / "ws") as ws:
        yield ws, load_pipeline(f"{tmp_path / 'guarded.py'}:guarded")
    sys.modules.pop("loopml_user_guarded", None)


def test_good_data_passes_through_and_is_cached(setup) -> None:
    ws, pipeline = setup
    loopml.data.add(table(5000, 0.0, 1), name="sales", workspace=ws)
    loopml.data.add(table(5000, 0.0, 2), name="sales", workspace=ws)
    first = pipeline.run(workspace=ws, echo=False)
    assert [s.status for s in first.steps] == ["ran", "ran"]
    assert first.value["rows"] == 5000
    assert [s.status for s in pipeline.run(workspace=ws, echo=False).steps] == ["cached"] * 2
    assert ws.store.find_alerts() == []


def test_bad_data_stops_before_training_with_an_alert(setup) -> None:
    ws, pipeline = setup
    loopml.data.add(table(5000, 0.0, 1), name="sales", workspace=ws)
    loopml.data.add(table(5000, 0.2, 2), name="sales", workspace=ws)  # 20% of x missing
    with pytest.raises(ValidationFailed, match="sales@v2 failed validation") as raised:
        pipeline.run(workspace=ws, echo=False)
    failure = raised.value
    step_run = ws.store.get_run(failure.run_id)
    assert step_run.status == RunStatus.FAILED_VALIDATION
    assert "missing_values x" in step_run.error
    assert ws.store.get_run(step_run.parent_id).status == RunStatus.FAILED_VALIDATION
    steps = ws.store.find_runs(parent_id=step_run.parent_id)
    assert [r.name for r in steps] == ["guarded/validate"]  # train never started
    alert = ws.store.get_alert(failure.alert_id)
    assert (alert.kind, alert.severity, alert.run_id) == ("validation", Severity.ERROR, step_run.id)
    assert alert.evidence["dataset"] == "sales@v2"
    kinds = [(a["kind"], a["column"]) for a in alert.evidence["anomalies"]]
    assert ("missing_values", "x") in kinds
    validation = ws.store.get_artifact(alert.artifact_id)
    assert validation.kind == "validation"
    assert validation.metadata["passed"] is False


def test_editing_the_schema_revalidates(setup, tmp_path: Path) -> None:
    ws, pipeline = setup
    loopml.data.add(table(5000, 0.0, 1), name="sales", workspace=ws)
    loopml.data.add(table(5000, 0.05, 2), name="sales", workspace=ws)
    with pytest.raises(ValidationFailed):
        pipeline.run(workspace=ws, echo=False)
    schema = loopml.data.schema("sales", workspace=ws)
    data = schema.to_data()
    data["columns"]["x"]["max_missing"] = 0.1  # 5% missing is acceptable after all
    (tmp_path / "schema.yaml").write_text(loopml.data.Schema.from_data(data).to_yaml())
    loopml.data.set_schema("sales", tmp_path / "schema.yaml", workspace=ws)
    result = pipeline.run(workspace=ws, echo=False)
    assert [s.status for s in result.steps] == ["ran", "ran"]
