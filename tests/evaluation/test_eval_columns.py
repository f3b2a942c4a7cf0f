"""Models with different inputs compared on one table, and training overlap judged by
row identity: known answers for both."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from evaluation_zoo import FEATURES, churn_rows

from loopml.errors import InvalidInput
from loopml.evaluation import OverlapWarning, evaluate


def fitted(train: pd.DataFrame, columns: list[str]) -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    text = [c for c in columns if c in ("plan", "region")]
    encode = ColumnTransformer([("cat", OneHotEncoder(), text)], remainder="passthrough")
    return make_pipeline(encode, LogisticRegression()).fit(train[columns], train["churn"])


def test_two_models_with_different_inputs_are_compared_on_one_table(
    train: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    everything = fitted(train, FEATURES)
    selected = fitted(train, ["x0", "plan"])  # feature selection dropped x1: worse
    table = test_rows.assign(customer=np.arange(len(test_rows)))
    found = evaluate(selected, table, label="churn", against=everything, record=False)
    assert found.details["ignored_columns"] == ["x1", "noise", "region", "customer"]
    assert found.paired is not None
    accuracy = found.paired.metrics["accuracy"]
    alone = evaluate(everything, test_rows, label="churn", record=False)
    assert accuracy.other == alone.metrics["accuracy"]  # the other model, on its columns
    assert accuracy.lead < 0
    assert accuracy.worse > accuracy.better
    # The bootstrapped metrics are compared on the same resamples.
    auc = found.paired.metrics["roc_auc"]
    assert auc.test == "bootstrap"
    assert auc.high < 0  # x1 carries signal: the rows show the loss
    # A column a model needs is still required, naming it.
    with pytest.raises(InvalidInput, match=r"lacks column\(s\) x1 that"):
        evaluate(selected, test_rows.drop(columns="x1"), label="churn", against=everything,
                 record=False)  # fmt: skip


def test_rows_alike_in_features_are_not_leaked_rows() -> None:
    rng = np.random.default_rng(4)

    # Coarse features: many customers share every feature value and the label.
    def rows(ids: np.ndarray) -> pd.DataFrame:
        n = len(ids)
        return pd.DataFrame(
            {
                "customer": ids,
                "plan": rng.choice(["basic", "pro"], n),
                "seats": rng.integers(1, 4, n),
                "churn": rng.choice(["no", "yes"], n),
            }
        )

    train, held_out = rows(np.arange(0, 2_000)), rows(np.arange(2_000, 2_300))
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit(train[["plan", "seats"]], train["churn"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverlapWarning)
        found = evaluate(model, held_out, label="churn", train=train, record=False)
    overlap = found.details["overlap"]
    assert overlap["rows"] == 0  # no customer is in both
    assert overlap["duplicate_features"] == 300  # every row looks like a training row
    assert overlap["identity"] == ["customer", "plan", "seats", "churn"]
    # Ten training customers planted in the held-out rows are leaked rows.
    leaked = pd.concat([held_out, train.head(10)], ignore_index=True)
    with pytest.raises(
        InvalidInput,
        match=r"10 of 310 evaluation rows also appear in the "
        r"training data \(train\[0\] \(a DataFrame\)\), with the same values",
    ):
        evaluate(model, leaked, label="churn", train=train, record=False)
    # With a declared key, a row is its key: a customer evaluated again on new values
    # is still a training customer.
    moved = leaked.assign(seats=leaked["seats"] + 10)
    with pytest.raises(InvalidInput, match=r"10 of 310 .* with the same key \(customer\)"):
        evaluate(model, moved, label="churn", train=train, key="customer", record=False)
    with pytest.raises(InvalidInput, match="key='id' names column"):
        evaluate(model, held_out, label="churn", train=train, key="id", record=False)


def test_regression_models_are_compared_by_the_paired_bootstrap() -> None:
    from sklearn.linear_model import LinearRegression

    frame = churn_rows(1_200, seed=6)
    frame["spend"] = 3 * frame["x0"] + frame["x1"] + np.random.default_rng(6).normal(size=1_200)
    train, held_out = frame.iloc[:600], frame.iloc[600:].drop(columns="churn")
    full = LinearRegression().fit(train[["x0", "x1"]], train["spend"])
    partial = LinearRegression().fit(train[["x0"]], train["spend"])
    found = evaluate(partial, held_out, label="spend", against=full, record=False)
    assert found.paired is not None
    rmse = found.paired.metrics["rmse"]
    assert (rmse.test, rmse.value > rmse.other, rmse.lead < 0, rmse.high < 0) == (
        "bootstrap",
        True,
        True,
        True,
    )
    # Against the mean (the naive baseline) it is far ahead, with evidence.
    assert found.paired_baseline["rmse"].low > 0
