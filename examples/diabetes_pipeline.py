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
        if epoch in (0, epochs - 1):
            mse = mean_squared_error(fit[TARGET], model[1].predict(scaled))
            print(f"epoch {epoch + 1}: training MSE {mse:,.0f}")
    return model


@loopml.step
def evaluate(rows: pd.DataFrame, model: Pipeline) -> dict:
    """Validation error of the model, and of predicting the training mean (the baseline)."""
    fit, held = rows[rows.fold == "train"], rows[rows.fold == "val"]
    predicted = model.predict(held.drop(columns=[TARGET, "fold"]))
    baseline = np.full(len(held), fit[TARGET].mean())
    return {
        "validation_mse": float(mean_squared_error(held[TARGET], predicted)),
        "baseline_mse": float(mean_squared_error(held[TARGET], baseline)),
        "validation_rows": len(held),
    }


@loopml.pipeline
def diabetes(data: str = "diabetes@latest", alpha: float = 1e-4):
    rows = split(loopml.data.validated(loopml.data.get(data)))
    return evaluate(rows, train(rows, alpha=alpha))
