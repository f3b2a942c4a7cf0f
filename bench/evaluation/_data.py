"""The evaluation benchmark's data and models, made once and read by every worker.

The driver (in ``.venv``) makes the training and evaluation rows, fits the two models
and writes them to a folder: ``train.parquet``, ``test.parquet`` and one pickle per
model. Each worker, whatever its venv, reads the same files: the same rows and the
same fitted models for every tool. Needs only pandas, pyarrow and scikit-learn.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

LABEL = "churn"
POSITIVE = "yes"
# The key each model is known by on the command line, and the name it is shown by.
MODELS = {
    "boosted": "gradient boosting (100 trees)",
    "logistic": "logistic regression",
}


def churn(rows: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(8)})
    frame["plan"] = rng.choice(["basic", "pro", "team"], size=rows)
    frame["region"] = rng.choice(["eu", "us", "apac", "latam"], size=rows)
    logit = 2 * frame["x0"] - frame["x1"] + np.where(frame["plan"] == "pro", 1.5, 0.0)
    frame[LABEL] = np.where(rng.uniform(size=rows) < 1 / (1 + np.exp(-logit)), POSITIVE, "no")
    return frame


def models(train: Any) -> dict[str, Any]:
    """Both models fitted on ``train``, by their key in ``MODELS``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = train.drop(columns=LABEL), train[LABEL]

    def encoded(rest: Any) -> Any:
        return ColumnTransformer([("cat", OneHotEncoder(), ["plan", "region"])], remainder=rest)

    boosted = make_pipeline(encoded("passthrough"), HistGradientBoostingClassifier(max_iter=100))
    logistic = make_pipeline(encoded(StandardScaler()), LogisticRegression())
    return {"boosted": boosted.fit(X, y), "logistic": logistic.fit(X, y)}


def write_inputs(folder: Path, rows: int) -> None:
    """Training rows (seed 1), evaluation rows (seed 2) and both models, into ``folder``."""
    train, test = churn(rows, seed=1), churn(rows, seed=2)
    train.to_parquet(folder / "train.parquet", index=False)
    test.to_parquet(folder / "test.parquet", index=False)
    for key, model in models(train).items():
        (folder / f"{key}.pkl").write_bytes(pickle.dumps(model))


def read_frame(folder: Path, part: str) -> Any:
    """``train`` or ``test``, as a pandas DataFrame."""
    import pandas as pd

    return pd.read_parquet(folder / f"{part}.parquet")


def read_model(folder: Path, key: str) -> Any:
    return pickle.loads((folder / f"{key}.pkl").read_bytes())
