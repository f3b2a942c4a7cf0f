"""Slices with known answers: a model broken on one segment lists it first, a model that
answers one class on a segment is flagged, and user slices in every form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from evaluation_zoo import SegmentFlipped, SegmentOneClass, ThresholdModel, churn_rows
from sklearn.pipeline import Pipeline

from loopml.errors import InvalidInput
from loopml.evaluation import evaluate
from loopml.workspace import Workspace


def test_the_slice_a_model_gets_wrong_comes_first_with_a_large_negative_gap(
    churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    broken = SegmentFlipped(churn_model, "plan", "team")
    result = evaluate(broken, test_rows, label="churn", record=False)
    worst = result.slices[0]
    team = test_rows[test_rows["plan"] == "team"]
    right = broken.predict(team) == team["churn"]
    assert (worst.name, worst.column, worst.rows) == ("plan=team", "plan", len(team))
    assert worst.metrics["accuracy"] == pytest.approx(right.mean())
    assert worst.gap == pytest.approx(right.mean() - result.metrics["accuracy"])
    assert worst.gap < -0.3
    gaps = [s.gap for s in result.slices]
    assert gaps == sorted(gaps)


def test_a_segment_answered_with_one_class_is_flagged(
    churn_model: Pipeline, test_rows: pd.DataFrame
) -> None:
    lazy = SegmentOneClass(churn_model, "region", "eu", "no")
    result = evaluate(lazy, test_rows, label="churn", record=False)
    by_name = {s.name: s for s in result.slices}
    assert by_name["region=eu"].one_class is True
    assert by_name["region=us"].one_class is False
    assert by_name["plan=basic"].one_class is False


def test_numeric_columns_are_cut_at_their_quartiles(test_rows: pd.DataFrame) -> None:
    result = evaluate(ThresholdModel("x0"), test_rows, label="churn", record=False)
    bins = sorted((s for s in result.slices if s.column == "x1"), key=lambda s: s.name)
    edges = np.quantile(test_rows["x1"], [0, 0.25, 0.5, 0.75, 1])
    assert len(bins) == 4
    assert sum(s.rows for s in bins) == len(test_rows)
    names = {s.name for s in bins}
    assert f"x1 in [{edges[0]:.4g}, {edges[1]:.4g})" in names
    assert f"x1 in [{edges[3]:.4g}, {edges[4]:.4g}]" in names


def test_user_slices_in_every_form(test_rows: pd.DataFrame) -> None:
    n = len(test_rows)
    result = evaluate(
        ThresholdModel("x0"),
        test_rows,
        label="churn",
        slice_columns=[],
        slices={
            "high x0": pl.col("x0") > 1,
            "pro with low x1": "x1 < 0 AND plan = 'pro'",
            "positive noise": lambda df: df["noise"] > 0,
            "first hundred": np.arange(n) < 100,
            "a polars mask": pl.Series([True, False] * (n // 2)),
        },
        record=False,
    )
    rows = {s.name: s.rows for s in result.slices}
    assert rows == {
        "high x0": int((test_rows["x0"] > 1).sum()),
        "pro with low x1": int(((test_rows["x1"] < 0) & (test_rows["plan"] == "pro")).sum()),
        "positive noise": int((test_rows["noise"] > 0).sum()),
        "first hundred": 100,
        "a polars mask": n // 2,
    }
    assert all(s.column is None for s in result.slices)


def test_small_slices_are_skipped_and_said_so(ws: Workspace, test_rows: pd.DataFrame) -> None:
    n = len(test_rows)
    result = evaluate(
        ThresholdModel("x0"),
        test_rows,
        label="churn",
        slice_columns=[],
        slices={"29 rows": np.arange(n) < 29, "30 rows": np.arange(n) < 30},
        workspace=ws,
    )
    details = result.details["slices"]
    assert details["min_rows"] == 30
    assert details["skipped"] == [{"name": "29 rows", "rows": 29, "reason": "too few rows"}]


def test_text_columns_with_many_values_are_not_sliced_unless_named() -> None:
    frame = churn_rows(600, seed=9).assign(customer=[f"c{i}" for i in range(600)])
    default = evaluate(ThresholdModel("x0"), frame, label="churn", record=False)
    assert not [s for s in default.slices if s.column == "customer"]
    assert {s.column for s in default.slices} >= {"plan", "region", "x0"}


def test_regression_slices_are_worse_where_the_error_is_larger() -> None:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"a": rng.normal(size=1_000), "group": rng.choice(["g1", "g2"], 1_000)})
    noise = np.where(frame["group"] == "g2", 3.0, 0.1) * rng.normal(size=1_000)
    frame["y"] = frame["a"] + noise
    from evaluation_zoo import Regressor

    result = evaluate(Regressor("a"), frame, label="y", slice_columns=["group"], record=False)
    assert [s.name for s in result.slices] == ["group=g2", "group=g1"]
    assert result.slices[0].gap < 0 < result.slices[1].gap


def test_bad_user_slices_name_the_slice(test_rows: pd.DataFrame) -> None:
    model = ThresholdModel("x0")
    with pytest.raises(InvalidInput, match=r"slice 'short' gives bool values of shape \(10,\)"):
        evaluate(model, test_rows, label="churn", slices={"short": np.ones(10, bool)}, record=False)
    with pytest.raises(InvalidInput, match="slice 'typo' cannot be computed"):
        evaluate(model, test_rows, label="churn", slices={"typo": pl.col("nope") > 1}, record=False)
    with pytest.raises(InvalidInput, match="slice_columns names 'nope', not in the data"):
        evaluate(model, test_rows, label="churn", slice_columns=["nope"], record=False)
