"""Flips against another model, counted exactly, and the overlap with training rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from evaluation_zoo import ColumnPrediction, Regressor, ThresholdModel

import loopml
from loopml.errors import InvalidInput
from loopml.evaluation import OverlapWarning, evaluate
from loopml.workspace import Workspace


def answered(n: int = 200, seed: int = 12) -> pd.DataFrame:
    """Labels, and the answers of two models a and b, each right on known rows."""
    rng = np.random.default_rng(seed)
    y = rng.choice(["cat", "dog"], size=n)
    other = np.where(y == "cat", "dog", "cat")
    a = np.where(rng.uniform(size=n) < 0.8, y, other)
    b = np.where(rng.uniform(size=n) < 0.7, y, other)
    return pd.DataFrame({"a": a, "b": b, "y": y})


def test_flips_against_a_registered_champion_are_counted_exactly(ws: Workspace) -> None:
    rows = answered()
    loopml.models.save_model(ColumnPrediction("a"), "pets", workspace=ws)
    result = evaluate(
        ColumnPrediction("b"),
        rows,
        label="y",
        task="classification",
        against="pets@v1",
        workspace=ws,
        record=False,
    )
    a_right, b_right = rows["a"] == rows["y"], rows["b"] == rows["y"]
    negative = np.flatnonzero(a_right & ~b_right).tolist()
    positive = np.flatnonzero(~a_right & b_right).tolist()
    flips = result.flips
    assert flips is not None
    assert flips.against == "pets@v1"
    assert flips.rows == len(rows)
    assert (flips.negative, flips.negative_rows) == (len(negative), negative)
    assert (flips.positive, flips.positive_rows) == (len(positive), positive)
    assert flips.negative > 0
    assert flips.positive > 0


def test_a_model_against_itself_flips_nothing() -> None:
    rows = answered()
    result = evaluate(
        ColumnPrediction("a"),
        rows,
        label="y",
        task="classification",
        against=ColumnPrediction("a"),
        record=False,
    )
    assert result.flips is not None
    assert (result.flips.negative, result.flips.positive) == (0, 0)
    assert result.flips.against == "ColumnPrediction object"


def test_regression_flips_use_the_other_models_median_error() -> None:
    rng = np.random.default_rng(13)
    y = rng.normal(size=300)
    rows = pd.DataFrame(
        {"a": y + rng.normal(0, 0.5, 300), "b": y + rng.normal(0, 0.6, 300), "y": y}
    )
    result = evaluate(Regressor("b"), rows, label="y", against=Regressor("a"), record=False)
    tolerance = np.median(np.abs(rows["y"] - rows["a"]))
    a_right = np.abs(rows["y"] - rows["a"]) <= tolerance
    b_right = np.abs(rows["y"] - rows["b"]) <= tolerance
    assert result.flips is not None
    assert result.flips.negative_rows == np.flatnonzero(a_right & ~b_right).tolist()
    assert result.flips.positive_rows == np.flatnonzero(~a_right & b_right).tolist()


# -- overlap with the training rows ------------------------------------------------------


def test_planted_training_rows_are_found_and_counted(
    train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    leaked = pd.concat([test_rows, train.sample(37, random_state=0)], ignore_index=True)
    model = ThresholdModel("x0")
    with pytest.raises(InvalidInput, match=r"37 of 1537 evaluation rows also appear in the"):
        evaluate(model, leaked, label="churn", train=train, record=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(model, test_rows, label="churn", train=train, record=False)  # no overlap


def test_allowed_overlap_warns_and_is_recorded(
    ws: Workspace, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    leaked = pd.concat([test_rows, train.head(12)], ignore_index=True)
    validation = train.tail(500)
    with pytest.warns(OverlapWarning, match="12 of 1512 evaluation rows"):
        result = evaluate(
            ThresholdModel("x0"),
            leaked,
            label="churn",
            train=[train.head(1_500), validation],
            allow_overlap=True,
            workspace=ws,
        )
    overlap = result.details["overlap"]
    assert overlap["rows"] == 12
    assert overlap["allowed"] is True
    assert overlap["first_rows"] == list(range(1_500, 1_512))


def test_overlap_is_of_feature_and_label_values_whatever_their_types(
    ws: Workspace, train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    relabelled = train.head(5).assign(churn="maybe")
    as_floats = test_rows.head(300).assign(x0=test_rows["x0"].round(0))
    seen = as_floats.head(7).assign(x0=lambda df: df["x0"].astype("float32").astype(int))
    rows = pd.concat([as_floats, relabelled], ignore_index=True)
    loopml.data.add(seen, name="seen", workspace=ws)
    with pytest.raises(InvalidInput, match="7 of 305 evaluation rows"):
        evaluate(ThresholdModel("x0"), rows, label="churn", train=["seen@v1", train], workspace=ws)


def test_training_data_without_the_columns_is_refused(
    train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    model = ThresholdModel("x0")
    with pytest.raises(InvalidInput, match="train\\[0\\] lacks column\\(s\\) noise"):
        evaluate(model, test_rows, label="churn", train=train.drop(columns="noise"), record=False)
    with pytest.raises(InvalidInput, match="train\\[1\\] has no label column 'churn'"):
        evaluate(
            model,
            test_rows,
            label="churn",
            train=[train, train.drop(columns="churn")],
            record=False,
        )
