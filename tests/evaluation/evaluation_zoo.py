"""Models with known behaviour, defined in a module so they can be saved and loaded, and
the data they are evaluated on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["x0", "x1", "noise", "plan", "region"]  # the columns of churn_rows but the label


def churn_rows(n: int, seed: int) -> pd.DataFrame:
    """Two informative numbers, one noise column, a plan and a region; ``churn`` is
    "yes" or "no" from a logistic model of x0, x1 and the plan."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "x1": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "plan": rng.choice(["basic", "pro", "team"], size=n),
            "region": rng.choice(["eu", "us"], size=n),
        }
    )
    logit = 2 * frame["x0"] - frame["x1"] + np.where(frame["plan"] == "pro", 1.0, 0.0)
    frame["churn"] = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame


class ThresholdModel:
    """Predicts "yes" when ``column`` is above 0; uses no other column."""

    classes_ = np.array(["no", "yes"])

    def __init__(self, column: str = "x0") -> None:
        self.column = column

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-4 * X[self.column].to_numpy(dtype=float)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]


class SegmentFlipped:
    """A classifier with its answers reversed on the rows where ``column == value``."""

    def __init__(self, inner: Any, column: str, value: Any) -> None:
        self.inner, self.column, self.value = inner, column, value
        self.classes_ = inner.classes_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = np.array(self.inner.predict_proba(X), dtype=float)
        hit = (X[self.column] == self.value).to_numpy()
        proba[hit] = proba[hit][:, ::-1]
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class SegmentOneClass:
    """A classifier that says ``label`` for every row where ``column == value``."""

    def __init__(self, inner: Any, column: str, value: Any, label: str) -> None:
        self.inner, self.column, self.value, self.label = inner, column, value, label
        self.classes_ = inner.classes_

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        predicted = np.array(self.inner.predict(X), dtype=object)
        predicted[(X[self.column] == self.value).to_numpy()] = self.label
        return predicted


class ColumnProbability:
    """Gives the probability of class 1 read from column ``p``, sharpened by ``power``
    (1: as it is; above 1: over-confident)."""

    classes_ = np.array([0, 1])

    def __init__(self, power: float = 1.0) -> None:
        self.power = power

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = X["p"].to_numpy(dtype=float)
        sharp = p**self.power / (p**self.power + (1 - p) ** self.power)
        return np.column_stack([1 - sharp, sharp])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


class ColumnPrediction:
    """Predicts the value of a column: a model whose every answer is known in advance."""

    def __init__(self, column: str) -> None:
        self.column = column

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.column].to_numpy()


class Regressor(ColumnPrediction):
    """ColumnPrediction that says it is a regressor, as scikit-learn's do."""

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type="regressor", target_tags=TargetTags(required=True))


class ValueModel:
    """Says "yes" where ``column == value``, else "no"."""

    classes_ = np.array(["no", "yes"])

    def __init__(self, column: str, value: Any) -> None:
        self.column, self.value = column, value

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.where(X[self.column] == self.value, "yes", "no")


class SlowModel(ThresholdModel):
    """ThresholdModel taking at least ``seconds`` per call."""

    def __init__(self, seconds: float) -> None:
        super().__init__("x0")
        self.seconds = seconds

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        import time

        time.sleep(self.seconds)
        return super().predict(X)


class Unpicklable(ThresholdModel):
    """ThresholdModel holding a lambda: neither pickled nor stored by any flavor."""

    def __init__(self) -> None:
        super().__init__("x0")
        self.hook = lambda: None
