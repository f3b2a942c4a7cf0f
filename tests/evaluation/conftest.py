"""A workspace and a fitted churn classifier, shared by the evaluation tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from evaluation_zoo import FEATURES, churn_rows

import loopml
from loopml.workspace import Workspace

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = loopml.init(tmp_path)
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def train() -> pd.DataFrame:
    return churn_rows(2_000, seed=1)


@pytest.fixture(scope="session")
def test_rows() -> pd.DataFrame:
    return churn_rows(1_500, seed=2)


@pytest.fixture(scope="session")
def churn_model(train: pd.DataFrame) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("cat", OneHotEncoder(), ["plan", "region"])], remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression()).fit(train[FEATURES], train["churn"])
