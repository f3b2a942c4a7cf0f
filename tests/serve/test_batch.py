"""Batch scoring (loopml.serve.predict): real scikit-learn models registered in a real
SQLite workspace score real dataset versions; the new version holds, on every row, what
the model gives in-process; its lineage names the model and the data; bad data records
nothing; a version of ``out`` is never replaced; batches change nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry, serve
from loopml.data import DatasetVersion
from loopml.errors import InvalidInput
from loopml.store import Direction


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace, threadpool_limits(1):
        yield workspace


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


def fit_iris(iris: tuple[pd.DataFrame, pd.Series], C: float = 1.0) -> LogisticRegression:
    X, y = iris
    with threadpool_limits(1):
        return LogisticRegression(C=C, max_iter=1000).fit(X, y)


def rows_of(version: DatasetVersion, columns: Sequence[str]) -> pd.DataFrame:
    """The rows of a dataset version as an in-process caller reads them for a model.
    (Read from Parquet, a frame's columns lie apart in memory: a model fed them sums
    in another order than one fed the frame scikit-learn made, which differs in the
    last bits.)"""
    return version.to_polars().select(columns).to_pandas()


def records(ws: loopml.Workspace) -> tuple[int, int]:
    """How many artifacts and runs the store holds."""
    return len(ws.store.find_artifacts()), len(ws.store.find_runs())


def test_every_prediction_and_probability_is_the_models_own(ws, iris) -> None:
    X, y = iris
    model = fit_iris(iris)
    registry.register(model, "iris", signature_from=X, workspace=ws)
    flowers = loopml.data.add(X.assign(species=y), name="flowers", label="species", workspace=ws)
    scored = serve.predict("iris@latest", "flowers@v1", out="flowers-scored", workspace=ws)
    rows = rows_of(flowers, X.columns)
    table = scored.to_pandas()
    assert scored.ref == "flowers-scored@v1"
    assert list(table.columns) == [
        *X.columns,
        "species",
        "prediction",
        "probability_0",
        "probability_1",
        "probability_2",
    ]
    np.testing.assert_array_equal(table["prediction"], model.predict(rows))
    probabilities = table[["probability_0", "probability_1", "probability_2"]].to_numpy()
    np.testing.assert_array_equal(probabilities, model.predict_proba(rows))
    np.testing.assert_array_equal(table["prediction"], model.predict(X))
    pd.testing.assert_frame_equal(table[list(X.columns)], X)  # the input, row for row
    assert scored.metadata["label"] == "species"  # kept, so still the label
    assert "iris@v1" in scored.metadata["description"]


def test_the_new_version_s_lineage_is_the_model_and_the_data(ws, iris) -> None:
    X, y = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    flowers = loopml.data.add(X.assign(species=y), name="flowers", workspace=ws)
    model = registry.get("iris@v1", workspace=ws)
    scored = serve.predict("iris@v1", "flowers@latest", out="teacher", workspace=ws)

    (made,) = list(ws.store.events(artifact_id=scored.artifact.id))
    assert made.direction is Direction.OUTPUT
    assert made.role == "predictions"
    run = ws.store.get_run(made.run_id)
    assert (run.kind, run.name, run.status.value) == ("predict", "teacher", "succeeded")
    assert run.params["model"] == "iris@v1"
    assert run.params["data"] == "flowers@v1"
    read = {
        e.role: e.artifact_id
        for e in ws.store.events(run_id=run.id)
        if e.direction is Direction.INPUT
    }
    assert read == {"model": model.artifact.id, "data": flowers.artifact.id}

    # A student trained on the teacher's predictions: the registry's lineage of the
    # student walks back through the scored version to the teacher and its data.
    teacher = scored.to_pandas()
    with loopml.start_run("distil", workspace=ws):
        rows = loopml.data.get("teacher@v1", workspace=ws).to_pandas()
        student = LogisticRegression(max_iter=1000).fit(rows[X.columns], rows["prediction"])
        registry.register(student, "student", signature_from=X)
    lineage = registry.lineage("student@v1", workspace=ws)
    assert lineage.datasets() == ["teacher@v1", "flowers@v1"]
    predict_run = next(origin for origin in lineage.runs() if origin.kind == "predict")
    assert {(i.role, i.kind, i.ref) for i in predict_run.inputs} == {
        ("model", "model", "iris@v1"),
        ("data", "dataset", "flowers@v1"),
    }
    assert "read model iris@v1" in lineage.render()
    assert len(teacher) == len(X)


def test_a_pipeline_model_scores_as_in_process(ws, cancer) -> None:
    X, y = cancer
    with threadpool_limits(1):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    registry.register(model, "cancer", signature_from=X, workspace=ws)
    patients = loopml.data.add(X.assign(label=y), name="patients", workspace=ws)
    table = serve.predict("cancer@v1", "patients@v1", out="scored", workspace=ws).to_pandas()
    rows = rows_of(patients, X.columns)
    np.testing.assert_array_equal(table["prediction"], model.predict(rows))
    np.testing.assert_array_equal(
        table[["probability_0", "probability_1"]].to_numpy(), model.predict_proba(rows)
    )
    np.testing.assert_array_equal(table["prediction"], model.predict(X))


def test_the_onnx_copy_scores_when_asked(ws, cancer) -> None:
    X, y = cancer
    with threadpool_limits(1):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    version = registry.register(
        model, "cancer", signature_from=X, onnx=X, serve="native", workspace=ws
    )
    loopml.data.add(X, name="patients", workspace=ws)
    scored = serve.predict("cancer@v1", "patients@v1", out="scored", copy="onnx", workspace=ws)
    table = scored.to_pandas()
    np.testing.assert_array_equal(table["prediction"], model.predict(X))
    probabilities = table[["probability_0", "probability_1"]].to_numpy()
    assert np.abs(probabilities - model.predict_proba(X)).max() < 1e-4
    (made,) = ws.store.events(artifact_id=scored.artifact.id)
    run = ws.store.get_run(made.run_id)
    assert run.params["copy"] == "onnx"
    read = {
        e.role: e.artifact_id for e in ws.store.events(run_id=run.id) if e.role != "predictions"
    }
    assert read["model onnx copy"] == version.copies["onnx"]["artifact_id"]
    native = serve.predict("cancer@v1", "patients@v1", out="native", workspace=ws)
    assert ws.store.get_run(ws.store.events(artifact_id=native.artifact.id)[0].run_id).params[
        "copy"
    ] == ("native")


def test_classes_named_by_text_name_their_probability_columns(ws, iris) -> None:
    X, y = iris
    species = y.map({0: "setosa", 1: "versicolor", 2: "virginica"})
    model = LogisticRegression(max_iter=1000).fit(X, species)
    registry.register(model, "iris", signature_from=X, workspace=ws)
    flowers = loopml.data.add(X, name="flowers", workspace=ws)
    table = serve.predict("iris@v1", "flowers@v1", out="s", columns=[], workspace=ws)
    frame = table.to_pandas()
    assert list(frame.columns) == [
        "prediction",
        "probability_setosa",
        "probability_versicolor",
        "probability_virginica",
    ]
    rows = rows_of(flowers, X.columns)
    assert frame["prediction"].tolist() == model.predict(rows).tolist()
    np.testing.assert_array_equal(frame.iloc[:, 1:].to_numpy(), model.predict_proba(rows))


def test_a_regressor_gets_predictions_alone(ws) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge().fit(X, y)
    registry.register(model, "sugar", signature_from=X, workspace=ws)
    people = loopml.data.add(X, name="people", workspace=ws)
    table = serve.predict("sugar@v1", "people@v1", out="s", columns=[], workspace=ws).to_pandas()
    assert list(table.columns) == ["prediction"]
    np.testing.assert_array_equal(table["prediction"], model.predict(rows_of(people, X.columns)))
    np.testing.assert_allclose(table["prediction"], model.predict(X), rtol=1e-12)


def test_small_batches_give_what_one_batch_gives(ws, iris) -> None:
    X, y = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    loopml.data.add(X.assign(species=y), name="flowers", workspace=ws)
    whole = serve.predict("iris@v1", "flowers@v1", out="whole", workspace=ws)
    parts = serve.predict("iris@v1", "flowers@v1", out="parts", batch_rows=7, workspace=ws)
    assert parts.to_polars().equals(whole.to_polars())
    run_id = ws.store.events(artifact_id=parts.artifact.id)[0].run_id
    assert ws.store.get_run(run_id).params["batch_rows"] == 7


def test_a_csv_version_is_scored_too(ws, iris, tmp_path: Path) -> None:
    X, y = iris
    model = fit_iris(iris)
    registry.register(model, "iris", signature_from=X, workspace=ws)
    X.assign(species=y).to_csv(tmp_path / "flowers.csv", index=False)
    loopml.data.add(tmp_path / "flowers.csv", name="flowers", workspace=ws)
    scored = serve.predict(
        "iris@v1", "flowers@v1", out="s", columns=["species"], batch_rows=40, workspace=ws
    )
    table = scored.to_pandas()
    assert list(table.columns)[:2] == ["species", "prediction"]
    np.testing.assert_array_equal(table["prediction"], model.predict(X))
    assert scored.format == "parquet"


def test_out_existing_gets_the_next_version_and_the_first_is_untouched(ws, iris) -> None:
    X, _y = iris
    registry.register(fit_iris(iris, C=1.0), "iris", signature_from=X, workspace=ws)
    registry.register(fit_iris(iris, C=0.01), "iris", signature_from=X, workspace=ws)
    loopml.data.add(X, name="flowers", workspace=ws)
    first = serve.predict("iris@v1", "flowers@v1", out="scores", workspace=ws)
    before = first.to_polars()
    second = serve.predict("iris@v2", "flowers@v1", out="scores", workspace=ws)
    assert (first.ref, second.ref) == ("scores@v1", "scores@v2")
    again = loopml.data.get("scores@v1", workspace=ws)
    assert again.digest == first.digest
    ws.artifacts.verify(again.digest)
    assert again.to_polars().equals(before)
    assert not second.to_polars().equals(before)  # another model: other probabilities
    # The same model on the same data: equal content, so no third version (as
    # `loopml data add` of the same bytes); the run that found it is recorded.
    third = serve.predict("iris@v2", "flowers@v1", out="scores", workspace=ws)
    assert third.ref == "scores@v2"
    assert [v.ref for v in loopml.data.versions("scores", workspace=ws)] == [
        "scores@v1",
        "scores@v2",
    ]


def test_a_missing_column_names_it_and_records_nothing(ws, iris) -> None:
    X, _y = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    loopml.data.add(X.drop(columns="petal width (cm)"), name="partial", workspace=ws)
    counts = records(ws)
    with pytest.raises(InvalidInput, match=r"lacks column\(s\) 'petal width \(cm\)'") as caught:
        serve.predict("iris@v1", "partial@v1", out="scores", workspace=ws)
    assert caught.value.field == "petal width (cm)"
    assert "add them to the data as a new version" in str(caught.value)
    assert records(ws) == counts


def test_a_column_of_the_wrong_type_names_it_and_records_nothing(ws, iris) -> None:
    X, _y = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    loopml.data.add(X.assign(**{"sepal width (cm)": "wide"}), name="odd", workspace=ws)
    counts = records(ws)
    with pytest.raises(InvalidInput) as caught:
        serve.predict("iris@v1", "odd@v1", out="scores", workspace=ws)
    message = str(caught.value)
    assert caught.value.field == "sepal width (cm)"
    assert "sepal width (cm) is string where float is expected" in message
    assert "fix the data" in message
    assert "nothing was recorded" in message
    assert records(ws) == counts


def test_rows_that_fail_in_a_later_batch_record_nothing(ws, iris) -> None:
    """Missing values fit the signature, but the model cannot take them: the batch that
    holds them fails after earlier batches were scored, and nothing is recorded."""
    X, _y = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    holed = X.copy()
    holed.loc[120, "petal length (cm)"] = np.nan
    loopml.data.add(holed, name="holed", workspace=ws)
    counts = records(ws)
    with pytest.raises(InvalidInput, match=r"row\(s\) 121 have missing values") as caught:
        serve.predict("iris@v1", "holed@v1", out="scores", batch_rows=50, workspace=ws)
    assert "dataset holed@v1 cannot be scored by model iris@v1" in str(caught.value)
    assert caught.value.field == "petal length (cm)"
    assert records(ws) == counts


def test_columns_keep_what_is_asked_and_a_clash_is_refused(ws, iris) -> None:
    X, y = iris
    model = fit_iris(iris)
    registry.register(model, "iris", signature_from=X, workspace=ws)
    loopml.data.add(X.assign(prediction=y, id=range(len(X))), name="flowers", workspace=ws)
    counts = records(ws)
    with pytest.raises(InvalidInput, match="has a column 'prediction'") as caught:
        serve.predict("iris@v1", "flowers@v1", out="s", workspace=ws)
    assert caught.value.field == "columns"
    with pytest.raises(InvalidInput, match="has no column 'nope'") as caught:
        serve.predict("iris@v1", "flowers@v1", out="s", columns=["id", "nope"], workspace=ws)
    assert caught.value.field == "columns"
    assert records(ws) == counts
    table = serve.predict("iris@v1", "flowers@v1", out="s", columns=["id"], workspace=ws)
    assert table.to_polars().columns[:2] == ["id", "prediction"]
    assert table.to_polars()["id"].to_list() == list(range(len(X)))


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"batch_rows": 0}, "batch_rows"),
        ({"batch_rows": True}, "batch_rows"),
        ({"columns": "id"}, "columns"),
        ({"out": "bad name!"}, "out"),
        ({"copy": "tflite"}, "copy"),
        ({"copy": "onnx"}, "copy"),  # none was made
        ({"data": "nowhere@v1"}, None),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_read(ws, iris, arguments, field) -> None:
    X, _y = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    loopml.data.add(X, name="flowers", workspace=ws)
    counts = records(ws)
    given = {"data": "flowers@v1", "out": "s", **arguments}
    with pytest.raises(loopml.LoopmlError) as caught:
        serve.predict("iris@v1", workspace=ws, **given)
    assert caught.value.field == field
    assert records(ws) == counts


def test_a_folder_version_is_not_a_table(ws, iris, tmp_path: Path) -> None:
    X, _ = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("a")
    loopml.data.add(tmp_path / "files", name="files", workspace=ws)
    with pytest.raises(InvalidInput, match="folder of files, not a table") as caught:
        serve.predict("iris@v1", "files@v1", out="s", workspace=ws)
    assert caught.value.field == "data"


def test_inside_a_run_the_scoring_run_is_its_child(ws, iris) -> None:
    X, _y = iris
    registry.register(fit_iris(iris), "iris", signature_from=X, workspace=ws)
    loopml.data.add(X, name="flowers", workspace=ws)
    with loopml.start_run("nightly", workspace=ws) as outer:
        scored = serve.predict("iris@v1", "flowers@latest", out="s")
    run = ws.store.get_run(ws.store.events(artifact_id=scored.artifact.id)[0].run_id)
    assert run.parent_id == outer.id
    outer_reads = {e.role for e in ws.store.events(run_id=outer.id)}
    # as loopml.data.get and loopml.models.load_model record them
    assert outer_reads == {"dataset flowers@latest", "model iris@v1"}


def test_a_big_table_is_scored_batch_by_batch(ws) -> None:
    """200,000 rows in batches of 65,536: the last batch is short and every row is there."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200_000, 3)), columns=["a", "b", "c"])
    model = Ridge().fit(X, X["a"] * 2 - X["c"])
    registry.register(model, "line", signature_from=X, workspace=ws)
    loopml.data.add(pl.from_pandas(X), name="big", workspace=ws)
    scored = serve.predict("line@v1", "big@v1", out="s", columns=[], workspace=ws)
    assert scored.rows == 200_000
    expected = model.predict(rows_of(loopml.data.get("big@v1", workspace=ws), X.columns))
    np.testing.assert_array_equal(scored.to_polars()["prediction"].to_numpy(), expected)


SCORE_AND_MEASURE = """
import sys
import pyarrow as pa
import loopml
from loopml import serve

with loopml.workspace(sys.argv[1]) as ws:
    serve.predict("line@v1", "big@v1", out="s", columns=[], batch_rows=50_000, workspace=ws)
print(pa.default_memory_pool().max_memory())
"""


def test_a_parquet_version_is_read_a_row_group_at_a_time(ws, tmp_path: Path) -> None:
    """Arrow's peak while scoring 2,000,000 rows (64 MB of floats, in 8 row groups)
    stays under a third of the table: what is read is let go batch by batch (read
    ahead, Arrow would keep every column chunk, the whole table by the end)."""
    rng = np.random.default_rng(0)
    X = pl.DataFrame({name: rng.normal(size=2_000_000) for name in "abcd"})
    model = Ridge().fit(X.head(1_000).to_pandas(), X["a"].head(1_000).to_numpy())
    registry.register(model, "line", signature_from=X.head(10).to_pandas(), workspace=ws)
    loopml.data.add(X, name="big", workspace=ws)
    script = tmp_path / "measure.py"
    script.write_text(SCORE_AND_MEASURE)
    done = subprocess.run(
        [sys.executable, str(script), str(ws.root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    peak = int(done.stdout.strip().splitlines()[-1])
    assert 0 < peak < X.estimated_size() / 3
