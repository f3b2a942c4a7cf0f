"""The demo's pipeline: validated data, a split, a model, its evaluation against a baseline.

Run it with ``loopml run examples/diabetes_pipeline.py:diabetes`` in a workspace that
has a ``diabetes`` dataset (``make demo`` makes one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import SGDRegressor
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.training import log_baseline, regression_metrics

TARGET = "target"


@loopml.step
def split(table: pd.DataFrame, validation_share: float = 0.25, seed: int = 7) -> pd.DataFrame:
    """Mark each row for training or validation."""
    rng = np.random.default_rng(seed)
    return table.assign(fold=np.where(rng.random(len(table)) < validation_share, "val", "train"))


@loopml.step
def train(rows: pd.DataFrame, alpha: float = 1e-4, epochs: int = 30, seed: int = 7) -> Pipeline:
    """A scaled linear model, fitted epoch by epoch with SGD."""
    fit = rows[rows.fold == "train"]
    model = make_pipeline(StandardScaler(), SGDRegressor(alpha=alpha, random_state=seed))
    features = fit.drop(columns=[TARGET, "fold"])
    model[0].fit(features)
    scaled = model[0].transform(features)
    for epoch in range(epochs):
        model[1].partial_fit(scaled, fit[TARGET])
        mse = mean_squared_error(fit[TARGET], model[1].predict(scaled))
        loopml.log_metric("training_mse", mse)  # one point per epoch, on the step's run
        if epoch in (0, epochs - 1):
            print(f"epoch {epoch + 1}: training MSE {mse:,.0f}")
    return model


@loopml.step
def evaluate(rows: pd.DataFrame, model: Pipeline) -> dict:
    """Validation error of the model, and of the naive baseline (predicting the training
    mean) on the same rows; both are logged as metrics of this step's run."""
    fit, held = rows[rows.fold == "train"], rows[rows.fold == "val"]
    predicted = model.predict(held.drop(columns=[TARGET, "fold"]))
    mean = loopml.baseline("regression", fit[TARGET])
    log_baseline(mean, held[TARGET])  # baseline.mae, baseline.rmse, baseline.r2
    scores = regression_metrics(held[TARGET], predicted)
    loopml.log_metrics(scores)  # mae, rmse, r2
    return {
        "validation_mse": scores["rmse"] ** 2,
        "baseline_mse": mean.metrics(held[TARGET])["rmse"] ** 2,
        "validation_rows": len(held),
    }


@loopml.pipeline
def diabetes(data: str = "diabetes@latest", alpha: float = 1e-4):
    rows = split(loopml.validated(loopml.data.get(data)))
    return evaluate(rows, train(rows, alpha=alpha))
