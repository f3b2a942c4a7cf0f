"""A real workspace and real scikit-learn models trained on iris, for the registry tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import loopml


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def fit(iris: tuple[pd.DataFrame, pd.Series]) -> Callable[[float], LogisticRegression]:
    """A logistic regression on iris with regularization ``C``: each C gives other bytes."""

    def make(C: float) -> LogisticRegression:
        X, y = iris
        # One BLAS thread: with test workers on every core, more threads only wait.
        with threadpool_limits(1):
            return LogisticRegression(C=C, max_iter=1000).fit(X, y)

    return make
