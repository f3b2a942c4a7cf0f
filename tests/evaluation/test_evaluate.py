"""evaluate() end to end: metrics equal scikit-learn's, baselines, refs and the stored
record, and the errors that name the bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from evaluation_zoo import FEATURES, ColumnPrediction, Regressor
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline

import loopml
from loopml.errors import InvalidInput
from loopml.evaluation import Evaluation, evaluate
from loopml.evaluation._record import canonical_json
from loopml.refs import describe_record
from loopml.store import Direction
from loopml.workspace import Workspace


def test_classification_metrics_equal_scikit_learn(
    churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    result = evaluate(churn_model, test_rows, label="churn", train=train, record=False)
    y, X = test_rows["churn"], test_rows[FEATURES]
    predicted, proba = churn_model.predict(X), churn_model.predict_proba(X)
    got = result.metrics
    assert result.task == "classification"
    assert result.primary == "accuracy"
    assert result.rows == len(test_rows)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert got["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, predicted))
    assert got["f1_macro"] == pytest.approx(sk.f1_score(y, predicted, average="macro"))
    for label in ("no", "yes"):
        kwargs = {"pos_label": label}
        assert got[f"precision.{label}"] == pytest.approx(
            sk.precision_score(y, predicted, **kwargs)
        )
        assert got[f"recall.{label}"] == pytest.approx(sk.recall_score(y, predicted, **kwargs))
        assert got[f"f1.{label}"] == pytest.approx(sk.f1_score(y, predicted, **kwargs))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y == "yes", proba[:, 1]))
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, proba))
    assert 0 <= got["ece"] < 0.1
    assert set(result.intervals) == set(got)


def test_multiclass_roc_auc_is_one_vs_rest_macro() -> None:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=900), "b": rng.normal(size=900)})
    y = np.select([X["a"] > 0.5, X["b"] > 0], ["high", "mid"], "low")
    model = LogisticRegression().fit(X[:600], y[:600])
    held_out = X[600:].assign(y=y[600:])
    result = evaluate(model, held_out, label="y", record=False)
    want = sk.roc_auc_score(y[600:], model.predict_proba(X[600:]), multi_class="ovr")
    assert result.metrics["roc_auc"] == pytest.approx(want)
    assert result.calibration is not None
    assert result.calibration["of"] == "top-label confidence"


def test_the_baseline_comes_from_the_training_labels_when_given(
    churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    with_train = evaluate(churn_model, test_rows, label="churn", train=train, record=False)
    majority = train["churn"].value_counts().idxmax()
    assert with_train.baseline["accuracy"] == pytest.approx((test_rows["churn"] == majority).mean())
    assert with_train.baseline["roc_auc"] == 0.5
    assert "from the training labels" in with_train.baseline_description
    alone = evaluate(churn_model, test_rows, label="churn", record=False)
    assert "from the evaluation labels" in alone.baseline_description
    assert with_train.metrics["accuracy"] > with_train.baseline["accuracy"]


def test_regression_metrics_and_mean_baseline() -> None:
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=800), "b": rng.normal(size=800)})
    y = 3 * X["a"] - X["b"] + rng.normal(0, 0.5, size=800)
    model = LinearRegression().fit(X[:500], y[:500])
    held_out, trained = X[500:].assign(y=y[500:]), X[:500].assign(y=y[:500])
    result = evaluate(model, held_out, label="y", train=trained, record=False)
    predicted = model.predict(X[500:])
    assert result.task == "regression"
    assert result.primary == "rmse"
    assert result.metrics["mae"] == pytest.approx(sk.mean_absolute_error(y[500:], predicted))
    assert result.metrics["rmse"] == pytest.approx(sk.mean_squared_error(y[500:], predicted) ** 0.5)
    assert result.metrics["r2"] == pytest.approx(sk.r2_score(y[500:], predicted))
    assert result.baseline["mae"] == pytest.approx(np.mean(np.abs(y[500:] - y[:500].mean())))
    assert result.baseline_description.startswith("mean ")
    assert result.calibration is None
    assert result.slices[0].one_class is False


def test_time_series_mase_against_the_naive_forecast() -> None:
    rng = np.random.default_rng(5)
    series = np.cumsum(rng.normal(size=700)) + 0.5 * np.sin(np.arange(700))
    frame = pd.DataFrame({"last": series[:-1], "y": series[1:]})
    model = Regressor("last")  # predicts the previous value: the naive forecast itself
    trained, held_out = frame[:500], frame[500:]
    result = evaluate(model, held_out, label="y", task="timeseries", train=trained, record=False)
    scale = np.mean(np.abs(np.diff(trained["y"].to_numpy())))
    mae = np.mean(np.abs(held_out["y"] - held_out["last"]))
    assert result.primary == "mase"
    assert result.metrics["mase"] == pytest.approx(mae / scale)
    assert result.baseline["mae"] == pytest.approx(mae)  # the naive forecast, row by row
    assert "naive one-step forecast" in result.baseline_description
    interval = result.intervals["mase"]
    assert interval.low < result.metrics["mase"] < interval.high


def test_polars_and_pandas_data_give_the_same_metrics(
    churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    from_pandas = evaluate(churn_model, test_rows, label="churn", record=False)
    from_polars = evaluate(churn_model, pl.from_pandas(test_rows), label="churn", record=False)
    assert from_polars.metrics == from_pandas.metrics
    assert from_polars.intervals == from_pandas.intervals


def test_a_registered_model_on_a_dataset_version_is_recorded_with_its_run(
    ws: Workspace, churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    saved = loopml.models.save_model(
        churn_model, "churn", signature_from=train[FEATURES], workspace=ws
    )
    data = loopml.data.add(test_rows, name="churn-test", label="churn", workspace=ws)
    with loopml.start_run("evaluate", workspace=ws) as run:
        result = evaluate("churn@v1", "churn-test@v1", label="churn", workspace=ws)
    assert (result.model, result.data) == ("churn@v1", "churn-test@v1")
    assert result.size_bytes["disk"] == saved.size
    stored = ws.latest("evaluation", "churn.v1.evaluation")  # churn@v1's first evaluation
    assert stored is not None
    assert describe_record(stored) == "evaluation 1 of churn@v1 (churn.v1.evaluation@v1)"
    assert stored.metadata["primary"] == "accuracy"
    body = ws.artifacts.read_bytes(stored.digest)
    assert body == canonical_json(result)
    assert Evaluation.from_dict(json.loads(body)) == result
    events = {(e.artifact_id, e.direction): e.role for e in ws.store.events(run_id=run.id)}
    assert events[(stored.id, Direction.OUTPUT)]
    assert events[(saved.id, Direction.INPUT)] == "model"
    assert events[(data.artifact.id, Direction.INPUT)] == "data"
    logged = ws.store.latest_metrics([run.id])[run.id]
    assert logged["eval.accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert logged["baseline.accuracy"] == pytest.approx(result.baseline["accuracy"])
    assert result.details["confusion"]["classes"] == ["no", "yes"]
    assert Evaluation.from_dict(json.loads(ws.artifacts.read_bytes(stored.digest))) == result


def test_an_unregistered_model_is_stored_under_the_name_given(
    ws: Workspace, churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    evaluate(churn_model, test_rows, label="churn", workspace=ws)
    evaluate(churn_model, test_rows, label="churn", workspace=ws, name="churn")
    unnamed = ws.latest("evaluation", "evaluation")
    assert unnamed is not None
    assert describe_record(unnamed) == "evaluation 1 (evaluation@v1)"
    named = ws.latest("evaluation", "churn.evaluation")  # not churn@v1, the model's ref
    assert named is not None
    assert describe_record(named) == "evaluation 1 for churn (churn.evaluation@v1)"
    assert named.metadata["model"] is None


def test_rows_given_as_a_table_are_stored_to_compare_on_later(
    ws: Workspace, churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    from loopml.evaluation import load_evaluation
    from loopml.evaluation._record import evaluation_rows

    with loopml.start_run("evaluate", workspace=ws) as run:
        result = evaluate(churn_model, test_rows, label="churn", name="churn", workspace=ws)
    stored = ws.latest("evaluation", "churn.evaluation")
    assert stored is not None
    assert result.artifact_id == stored.id
    assert stored.metadata["label"] == "churn"
    rows = ws.store.get_artifact(stored.metadata["data_id"])
    assert (rows.kind, rows.name) == ("evaluation-rows", "churn.evaluation")
    pd.testing.assert_frame_equal(evaluation_rows(ws, stored), test_rows)
    reads = {
        e.artifact_id: e.role for e in ws.store.events(run_id=run.id) if e.direction == "input"
    }
    assert reads[rows.id] == "data"
    assert load_evaluation(ws, stored.id) == result
    again = evaluate(churn_model, test_rows, label="churn", name="churn", workspace=ws)
    assert ws.store.get_artifact(again.artifact_id).metadata["data_id"] == rows.id  # stored once


def test_record_false_needs_no_workspace(
    churn_model: Pipeline,
    test_rows: pd.DataFrame,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(str(tmp_path))  # no loopml.toml here or above
    assert evaluate(churn_model, test_rows, label="churn", record=False).rows == len(test_rows)


# -- bad input ------------------------------------------------------------------------------


def test_data_without_the_label_column(churn_model: Pipeline, test_rows: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"no label column 'target'.*pass label="):
        evaluate(churn_model, test_rows, label="target", record=False)


def test_a_label_with_missing_values(churn_model: Pipeline, test_rows: pd.DataFrame) -> None:
    holed = test_rows.assign(churn=test_rows["churn"].where(test_rows.index % 100 != 0))
    with pytest.raises(InvalidInput, match="label column 'churn' of data has 15 missing"):
        evaluate(churn_model, holed, label="churn", record=False)


def test_a_column_the_signature_does_not_know_is_ignored(
    ws: Workspace, churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    loopml.models.save_model(churn_model, "churn", signature_from=train[FEATURES], workspace=ws)
    extra = test_rows.assign(zip=np.where(test_rows.index % 2 == 0, "0150", "2000"))
    plain = evaluate("churn@v1", test_rows, label="churn", workspace=ws, record=False)
    ignored = evaluate("churn@v1", extra, label="churn", workspace=ws, record=False)
    assert ignored.details["ignored_columns"] == ["zip"]
    assert ignored.metrics == plain.metrics  # the model never saw it
    kept = evaluate(
        "churn@v1", extra, label="churn", slice_columns=["zip"], workspace=ws, record=False
    )
    assert {s.name for s in kept.slices} == {"zip=0150", "zip=2000"}


def test_a_column_a_fitted_model_was_not_trained_on_is_ignored_a_missing_one_refused(
    churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    found = evaluate(churn_model, test_rows.assign(age=40), label="churn", record=False)
    assert found.details["ignored_columns"] == ["age"]
    with pytest.raises(InvalidInput, match=r"lacks column\(s\) x1 that"):
        evaluate(churn_model, test_rows.drop(columns="x1"), label="churn", record=False)


def test_a_column_of_the_wrong_type_for_the_signature(
    ws: Workspace, churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    loopml.models.save_model(churn_model, "churn", signature_from=train[FEATURES], workspace=ws)
    wrong = test_rows.assign(x0="high")
    with pytest.raises(InvalidInput, match=r"does not fit churn@v1.*x0 is string"):
        evaluate("churn@v1", wrong, label="churn", workspace=ws, record=False)


def test_a_task_that_does_not_match_the_model(
    churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    numbers = pd.DataFrame({"a": np.linspace(0, 1, 100), "y": np.linspace(0, 2, 100)})
    regressor = LinearRegression().fit(numbers[["a"]], numbers["y"])
    with pytest.raises(InvalidInput, match=r"task='classification' but .* is a regressor"):
        evaluate(regressor, numbers, label="y", task="classification", record=False)
    with pytest.raises(InvalidInput, match=r"task='regression' but .* is a classifier"):
        evaluate(churn_model, test_rows, label="churn", task="regression", record=False)
    with pytest.raises(InvalidInput, match="predicts continuous values"):
        evaluate(ColumnPrediction("a"), numbers, label="y", task="classification", record=False)
    with pytest.raises(InvalidInput, match="task='forecast' is unknown"):
        evaluate(regressor, numbers, label="y", task="forecast", record=False)


def test_a_primary_metric_that_is_not_measured(
    churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    with pytest.raises(InvalidInput, match=r"primary='mape' is not a metric.*accuracy"):
        evaluate(churn_model, test_rows, label="churn", primary="mape", record=False)
    chosen = evaluate(churn_model, test_rows, label="churn", primary="log_loss", record=False)
    worst = chosen.slices[0]
    assert worst.metrics["log_loss"] > chosen.metrics["log_loss"]
    assert worst.gap < 0


def test_bad_input_names_the_argument_that_holds_it(
    ws: Workspace, churn_model: Pipeline, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    given = {"label": "churn", "record": False}
    calls = {
        "label": lambda: evaluate(churn_model, test_rows, label="target", record=False),
        "task": lambda: evaluate(churn_model, test_rows, task="forecast", **given),
        "primary": lambda: evaluate(churn_model, test_rows, primary="mape", **given),
        "key": lambda: evaluate(churn_model, test_rows, key="id", **given),
        "slice_columns": lambda: evaluate(churn_model, test_rows, slice_columns=["z"], **given),
        "train": lambda: evaluate(churn_model, test_rows, train=[], **given),
        "train[1]": lambda: evaluate(churn_model, test_rows, train=[train, 3], **given),
        "data": lambda: evaluate(churn_model, "rows@", workspace=ws, **given),
        "model": lambda: evaluate("churn@", test_rows, workspace=ws, **given),
        "name": lambda: evaluate(churn_model, test_rows, name="../x", **given),
    }
    for field, call in calls.items():
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field, caught.value


def test_data_and_models_of_the_wrong_kind(churn_model: Pipeline) -> None:
    with pytest.raises(InvalidInput, match="data is a list; give a dataset ref"):
        evaluate(churn_model, [1, 2, 3], label="y", record=False)
    with pytest.raises(InvalidInput, match="model dict has no predict method"):
        evaluate({}, pd.DataFrame({"y": [1]}), label="y", record=False)
