"""`loopml predict` in real processes: a registered model scores a dataset version into
the next version of --out, printing the version written, the rows and the model
version; bad input is one line naming the thing and the fix (exit 2), recording
nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import loopml
from cli_checks import assert_user_error
from loopml import registry


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dataset `flowers` (iris with its species and an id), `partial` (iris without
    petal width); model `iris`: v1 a scaled logistic regression with an ONNX copy,
    the champion; v2 another C."""
    root = tmp_path_factory.mktemp("predict-template")
    X, y = load_iris(return_X_y=True, as_frame=True)
    with loopml.init(root) as ws, threadpool_limits(1):
        loopml.data.add(X.assign(species=y, id=range(len(X))), name="flowers", workspace=ws)
        loopml.data.add(X.drop(columns="petal width (cm)"), name="partial", workspace=ws)
        for C in (1.0, 0.01):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
            registry.register(
                model.fit(X, y), "iris", signature_from=X, onnx=X, serve="native", workspace=ws
            )
        registry.promote("iris@v1", force=True, reason="the first", workspace=ws)
    return root


@pytest.fixture
def project(cli, template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template, where the commands run."""
    shutil.copytree(template, tmp_path, symlinks=True, dirs_exist_ok=True)
    return tmp_path


def expected(root: Path, ref: str) -> np.ndarray:
    with loopml.workspace(root) as ws:
        model = registry.load_served(ref, copy="native", workspace=ws)[1].model
        rows = loopml.data.get("flowers@v1", workspace=ws).to_polars()
        X = rows.drop("species", "id").to_pandas()
        return np.asarray(model.predict(X))


def versions(root: Path, name: str) -> list[str]:
    with loopml.workspace(root) as ws:
        found = ws.store.find_artifacts(kind="dataset", name=name)
        return sorted(artifact.ref for artifact in found)


def test_predict_prints_the_version_the_rows_and_the_model(cli, project: Path) -> None:
    result = cli("predict", "iris@champion", "flowers@latest", "--out", "scores", check=True)
    line = result.out.strip()
    assert line.startswith("dataset scores@v1  150 rows scored by model iris@v1 (native)")
    assert "on flowers@v1" in line
    with loopml.workspace(project) as ws:
        table = loopml.data.get("scores@v1", workspace=ws).to_polars()
    assert table.columns[-4:] == ["prediction", "probability_0", "probability_1", "probability_2"]
    np.testing.assert_array_equal(table["prediction"].to_numpy(), expected(project, "iris@v1"))
    shown = cli("data", "show", "scores@v1", check=True).out  # what made it, not a temp file
    assert "from predictions of model iris@v1 (native) on flowers@v1" in shown
    assert "loopml-predict-" not in shown


def test_json_and_the_run_that_records_it(cli, project: Path) -> None:
    result = cli("predict", "iris@v2", "flowers@v1", "--out", "scores", "--columns", "id", "--json")
    printed = json.loads(result.out)
    assert result.code == 0, result
    assert {k: printed[k] for k in ("ref", "new", "rows", "model", "copy", "data")} == {
        "ref": "scores@v1",
        "new": True,
        "rows": 150,
        "model": "iris@v2",
        "copy": "native",
        "data": "flowers@v1",
    }
    run = json.loads(cli("runs", "show", printed["run_id"][-12:], "--json", check=True).out)
    assert (run["kind"], run["status"]) == ("predict", "succeeded")
    assert {(e["direction"], e["role"], e["artifact"]) for e in run["events"]} == {
        ("input", "model", "iris@v2"),
        ("input", "data", "flowers@v1"),
        ("output", "predictions", "scores@v1"),
    }
    with loopml.workspace(project) as ws:
        columns = loopml.data.get("scores@v1", workspace=ws).to_polars().columns
    assert columns[:2] == ["id", "prediction"]


def test_the_onnx_copy_when_asked(cli, project: Path) -> None:
    result = cli("predict", "iris@v1", "flowers@v1", "--out", "s", "--copy", "onnx", check=True)
    assert "by model iris@v1 (onnx)" in result.out
    with loopml.workspace(project) as ws:
        table = loopml.data.get("s@v1", workspace=ws).to_polars()
    np.testing.assert_array_equal(table["prediction"].to_numpy(), expected(project, "iris@v1"))


def test_out_existing_gets_v2_and_v1_is_untouched(cli, project: Path) -> None:
    cli("predict", "iris@v1", "flowers@v1", "--out", "scores", check=True)
    with loopml.workspace(project) as ws:
        first = loopml.data.get("scores@v1", workspace=ws)
        digest, before = first.digest, first.to_polars()
    result = cli("predict", "iris@v2", "flowers@v1", "--out", "scores", "--batch-rows", "16")
    assert result.code == 0, result
    assert result.out.startswith("dataset scores@v2  150 rows scored by model iris@v2")
    with loopml.workspace(project) as ws:
        again = loopml.data.get("scores@v1", workspace=ws)
        assert again.digest == digest
        assert again.to_polars().equals(before)
    same = cli("predict", "iris@v2", "flowers@v1", "--out", "scores", "--batch-rows", "16")
    assert "(unchanged: equal to the latest version, nothing new recorded)" in same.out
    assert versions(project, "scores") == ["scores@v1", "scores@v2"]


BAD_OPTIONS = [
    (["--columns", "id,nope"], ["no column 'nope'", "keep some of"]),
    (["--copy", "tflite"], ["copy='tflite'", "'onnx'"]),
    (["--batch-rows", "0"], ["batch_rows=0", "at least 1"]),
]


def test_a_missing_column_or_a_bad_option_is_exit_2_and_writes_nothing(cli, project: Path) -> None:
    result = cli("predict", "iris@v1", "partial@v1", "--out", "scores")
    assert_user_error(result, "partial@v1", "'petal width (cm)'", "add them to the data")
    for args, fragments in BAD_OPTIONS:  # one workspace: nothing any of them wrote
        result = cli("predict", "iris@v1", "flowers@v1", "--out", "scores", *args)
        assert_user_error(result, *fragments)
    assert versions(project, "scores") == []


def test_unknown_references_are_exit_2(cli, project: Path) -> None:
    assert_user_error(cli("predict", "nothing@v1", "flowers@v1", "--out", "s"), "nothing")
    assert_user_error(
        cli("predict", "iris@v1", "flowers@v9", "--out", "s"), "no version v9 of dataset 'flowers'"
    )
    assert versions(project, "s") == []
