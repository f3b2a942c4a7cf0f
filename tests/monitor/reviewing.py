"""What the review queue's tests share: a real workspace holding a real model trained
on scikit-learn's breast_cancer (in a run that read it as dataset ``bc-train``, so the
model's lineage names it), and predictions of it logged as the server logs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry
from loopml._ids import new_id
from loopml.models import Predictor
from loopml.serve import FeedbackLog, FeedbackRecord, PredictionLog, PredictionRecord

T0 = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC


def breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


def train(ws: loopml.Workspace, C: float = 1.0, *, alias: str | None = "champion") -> str:
    """A logistic regression trained in a run on ``bc-train@latest``, registered as the
    next version of ``bc``; its ref."""
    X, y = breast_cancer()
    if ws.latest("dataset", "bc-train") is None:
        loopml.data.add(
            pl.from_pandas(X.assign(target=y)), name="bc-train", label="target", workspace=ws
        )
    with loopml.start_run("train", workspace=ws), threadpool_limits(1):
        rows = loopml.data.get("bc-train@latest", workspace=ws).to_pandas()
        model = LogisticRegression(C=C, max_iter=5000).fit(
            rows.drop(columns="target"), rows["target"]
        )
        version = registry.register(
            model,
            "bc",
            signature_from=X,
            alias=alias,
            force=alias is not None,
            reason="a test model" if alias is not None else None,
            workspace=ws,
        )
    return str(version.ref)


def answers(
    ws: loopml.Workspace, ref: str, rows: pd.DataFrame, *, per_request: int = 4, start: int = T0
) -> list[PredictionRecord]:
    """The model ``ref``'s answers to ``rows``, ``per_request`` rows a request, logged
    as the server logs them (inputs by column, predictions and probabilities)."""
    predictor = Predictor.load(ref, workspace=ws)
    log = PredictionLog(ws)
    made = []
    for n, first in enumerate(range(0, len(rows), per_request)):
        part = rows.iloc[first : first + per_request]
        found = predictor.predict(part)
        record = PredictionRecord(
            prediction_id=new_id(),
            request_id=None,
            time_us=start + n * 1_000_000,
            deployment="bc",
            ref=ref,
            arm=0,
            probability=1.0,
            inputs={name: part[name].to_numpy() for name in part.columns},
            outputs={
                "predictions": found.predictions,
                "probabilities": found.probabilities,
            },
            latency_us=400,
            key=None,
        )
        log.append(record)
        made.append(record)
    log.flush()
    log.close()
    return made


def planted(
    ws: loopml.Workspace, confidences: Sequence[float], *, shadow_of: str | None = None
) -> list[PredictionRecord]:
    """One-row answers of ``bc@v1`` with the given top-class probabilities (class 1 the
    guess), a shadow's when ``shadow_of`` names the prediction it shadowed."""
    log = PredictionLog(ws)
    made = []
    for n, confidence in enumerate(confidences):
        record = PredictionRecord(
            prediction_id=new_id(),
            request_id=shadow_of,
            time_us=T0 + n * 1000,
            deployment="bc",
            ref="bc@v1",
            arm=None if shadow_of else 0,
            probability=None if shadow_of else 1.0,
            inputs={"x": np.array([float(n)])},
            outputs={
                "predictions": np.array([1]),
                "probabilities": np.array([[1 - confidence, confidence]]),
            },
            latency_us=300,
            key=None,
            shadow=shadow_of is not None,
        )
        log.append(record)
        made.append(record)
    log.flush()
    log.close()
    return made


def tell(ws: loopml.Workspace, prediction_id: str, label: Any, row: int | None = None) -> None:
    log = FeedbackLog(ws)
    log.append(FeedbackRecord(prediction_id, T0 + 10**9, None, label, row, "bc"))
    log.flush()
    log.close()


def keys(records: Sequence[PredictionRecord]) -> list[tuple[str, int]]:
    """The (prediction id, row) of every row of the records, in order."""
    return [
        (record.prediction_id, row)
        for record in records
        for row in range(len(record.outputs["predictions"]))
    ]
