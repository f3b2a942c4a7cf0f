"""``diff``: two versions of a model compared, with known answers — the data version
and the parameter that changed, the code of the step that changed, the metrics moving
the right way, and flips counted as a hand computation counts them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from test_reproduce import _project

import loopml
from loopml import registry
from loopml.pipeline import load_pipeline

HELD = 380  # rows from here on are never trained on: both versions are evaluated there


@pytest.fixture
def versions(ws: loopml.Workspace, tmp_path: Path) -> pd.DataFrame:
    """sugar@v1: alpha 1 on sugar@v1 (300 rows); sugar@v2: alpha 50 on sugar@v2 (380
    rows); both evaluated on the same held-out rows. The held-out rows are returned."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    table = X.assign(target=y)
    held = table.iloc[HELD:]
    project = _project(tmp_path)
    for rows, alpha in ((300, 1.0), (HELD, 50.0)):
        loopml.data.add(table.iloc[:rows], name="sugar", workspace=ws)
        pipeline = load_pipeline(f"{project / 'flow.py'}:flow")
        result = pipeline.run(workspace=ws, echo=False, alpha=alpha)
        trained = result.step("train").output
        with loopml.start_run("release", workspace=ws):
            evaluation = loopml.evaluate(trained, held, label="target", workspace=ws)
            registry.register(trained, "sugar", evaluation=evaluation, workspace=ws)
    return held


def test_what_changed_is_named(ws: loopml.Workspace, versions: pd.DataFrame) -> None:
    found = registry.diff("sugar@v1", "sugar@v2", workspace=ws)
    assert found.data == ["sugar@v1 -> sugar@v2"]
    assert found.params == ["flow/train: alpha: 1.0 -> 50.0"]
    assert found.code == []  # the same code made both
    assert found.environment == []
    assert found.metrics_from == "evaluations on the same rows"
    rmse = next(m for m in found.metrics if m.name == "rmse")
    assert rmse.before != rmse.after
    assert rmse.better is (rmse.after < rmse.before)  # lower is better for an error
    r2 = next(m for m in found.metrics if m.name == "r2")
    assert r2.better is (r2.after > r2.before)
    assert found.slices  # the same slices in both evaluations, worst change first
    drops = [m.after - m.before for m in found.slices]  # rmse: a rise is worse
    assert drops == sorted(drops, reverse=True)
    for change in found.slices:
        assert change.better is (
            None if change.after == change.before else change.after < change.before
        )


def test_flips_match_a_hand_count(ws: loopml.Workspace, versions: pd.DataFrame) -> None:
    found = registry.diff("sugar@v1", "sugar@v2", workspace=ws)
    old = loopml.models.load_model("sugar@v1", workspace=ws)
    new = loopml.models.load_model("sugar@v2", workspace=ws)
    X, y = versions.drop(columns="target"), versions["target"].to_numpy()
    old_error, new_error = np.abs(y - old.predict(X)), np.abs(y - new.predict(X))
    yardstick = np.median(old_error)  # "right": within the old model's median error
    negative = np.flatnonzero((old_error <= yardstick) & (new_error > yardstick))
    positive = np.flatnonzero((old_error > yardstick) & (new_error <= yardstick))
    assert found.flips is not None
    assert found.flips.rows == len(versions)
    assert found.flips.negative_rows == negative.tolist()
    assert found.flips.positive_rows == positive.tolist()
    assert len(negative) + len(positive) > 0


def test_a_changed_step_is_named_in_the_code(
    ws: loopml.Workspace, versions: pd.DataFrame, tmp_path: Path
) -> None:
    flow = tmp_path / "project" / "flow.py"
    flow.write_text(flow.read_text().replace("ALPHA_SCALE = 1.0", "ALPHA_SCALE = 2.0"))
    result = load_pipeline(f"{flow}:flow").run(workspace=ws, echo=False, alpha=50.0)
    registry.register(result.step("train").output, "sugar", workspace=ws)

    found = registry.diff("sugar@v2", "sugar@v3", workspace=ws)
    assert [line.split(":")[0] for line in found.code] == ["flow/train"]
    assert found.params == []
    assert found.data == []
    assert found.metrics_from == "the runs that made them: not both were evaluated"
    assert found.notes == []
    assert found.flips is not None  # on the rows sugar@v2 was evaluated on


def test_the_cli_prints_and_exits(cli, ws: loopml.Workspace, versions: pd.DataFrame) -> None:
    cli.cwd = ws.root
    shown = cli("models", "diff", "sugar@v1", "sugar@v2", check=True).out
    assert "sugar@v1 -> sugar@v2" in shown
    assert "flow/train: alpha: 1.0 -> 50.0" in shown
    assert "flips on 62 rows" in shown
    wrong = cli("models", "diff", "sugar@v1", "sugar@v9")
    assert wrong.code == 2
    assert "sugar@v9" in wrong.err


def test_changed_input_columns_are_named(ws: loopml.Workspace) -> None:
    from sklearn.linear_model import LinearRegression

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    before = X[["age", "sex", "bmi"]]
    after = X[["age", "bmi", "bp"]].assign(age=(X["age"] * 100).round().astype("int64"))
    for columns in (before, after):
        model = LinearRegression().fit(columns, y)
        registry.register(model, "sugar", signature_from=columns, workspace=ws)
    found = registry.diff("sugar@v1", "sugar@v2", workspace=ws)
    assert found.inputs == [
        "added column bp (float)",
        "removed column sex (float)",
        "column age: type float -> integer",
    ]
    assert "inputs:\n  added column bp (float)" in found.render()
    registry.register(LinearRegression().fit(before, y), "sugar", workspace=ws)
    unsigned = registry.diff("sugar@v2", "sugar@v3", workspace=ws)
    assert unsigned.inputs == []
    assert "input columns not compared: sugar@v3 has no signature" in unsigned.render()
    registry.register(LinearRegression().fit(before, 2 * y), "sugar", workspace=ws)
    neither = registry.diff("sugar@v3", "sugar@v4", workspace=ws)
    assert neither.inputs is None
    assert "inputs: not compared (neither version has a signature)" in neither.render()
